// Where a client finds the server and its API key.
//
// The base URL: LABBOOK_BASE_URL, else LABBOOK_BASE_URL in ./.env. The key, first found wins:
// LABBOOK_API_KEY, WANDB_API_KEY, the same two names in ./.env, then the credentials file that
// `labbook login` writes ($XDG_CONFIG_HOME/labbook/credentials, else
// ~/.config/labbook/credentials; mode 0600; one key per server). No key at all is not an error:
// the client is then anonymous and may read public projects.
//
// A key never appears in a message of this file, not even in part: errors name the file and line
// and what was wrong with it, never the text of the line.
//
// Thread safety: the functions read the environment and files given by a CredentialContext and
// share no state; StoreApiKey replaces the credentials file atomically (write and rename), so a
// concurrent reader sees the old file or the new one.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "labbook/status.hpp"

namespace labbook::track::http {

// What credential lookups read: the environment and the working directory. Tests give their own.
struct CredentialContext {
  // The value of an environment variable; nullopt when unset.
  std::function<std::optional<std::string>(const std::string& name)> getenv;
  std::filesystem::path working_directory;

  // The process's environment and working directory.
  static CredentialContext FromProcess();
};

// A server's base URL taken apart. `path` is a prefix such as "/labbook" ("" for none), never
// ending in '/'.
struct BaseUrl {
  std::string scheme;  // "http" or "https"
  std::string host;    // lower-case; an IPv6 address keeps its brackets
  int port = 0;
  std::string path;

  // "scheme://host:port/path" with the default port (80, 443) left out: the one spelling of a
  // server, used as the key of the credentials file and in messages.
  std::string ToString() const;
};

// kInvalidArgument for anything but http(s)://host[:port][/path]. A URL holding credentials
// (user:key@host) is refused without repeating it, since the part before '@' may be a key.
[[nodiscard]] Result<BaseUrl> ParseBaseUrl(std::string_view url);

// KEY=VALUE lines of a .env file: blank lines and lines starting with '#' are skipped, an
// `export ` prefix is allowed, values may be single- or double-quoted (double quotes understand
// \n, \" and \\), and an unquoted value ends at " #". Errors are kInvalidArgument
// "<where>:<line>: <problem>".
[[nodiscard]] Result<std::map<std::string, std::string>> ParseDotEnv(std::string_view text,
                                                                     const std::string& where);

// The server named by LABBOOK_BASE_URL or ./.env; nullopt when neither names one.
[[nodiscard]] Result<std::optional<std::string>> ResolveBaseUrl(const CredentialContext& context);

struct ApiKey {
  std::string secret;  // empty: none found
  std::string source;  // where it came from, for messages: "LABBOOK_API_KEY", "/path/.env", ...
};

// The key for the server `base_url` (see the order above). Errors: a malformed .env or
// credentials file (named).
[[nodiscard]] Result<ApiKey> ResolveApiKey(const BaseUrl& base_url,
                                           const CredentialContext& context);

// $XDG_CONFIG_HOME/labbook/credentials, else $HOME/.config/labbook/credentials;
// kFailedPrecondition when neither variable is set.
[[nodiscard]] Result<std::filesystem::path> CredentialsFilePath(const CredentialContext& context);

// Records `secret` (and the user it belongs to) as the key for `base_url` in the credentials
// file, keeping the other servers' keys. The file is created with mode 0600 and its directory
// with 0700; an existing file is rewritten with mode 0600 whatever it had.
[[nodiscard]] Status StoreApiKey(const BaseUrl& base_url, const std::string& secret,
                                 const std::string& user, const CredentialContext& context);

}  // namespace labbook::track::http
