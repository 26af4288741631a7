#include "track/http/credentials.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <system_error>
#include <vector>

#include "core/errno_status.hpp"
#include "core/status_macros.hpp"

namespace labbook::track::http {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool IsVariableName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool letter = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
    const bool digit = c >= '0' && c <= '9';
    if (!letter && !(digit && i > 0)) return false;
  }
  return true;
}

std::string_view TrimLeft(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  return text;
}

std::string_view TrimRight(std::string_view text) {
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) {
    text.remove_suffix(1);
  }
  return text;
}

// Whatever follows a closing quote may only be blanks or a comment.
bool OnlyCommentLeft(std::string_view rest) {
  rest = TrimLeft(TrimRight(rest));
  return rest.empty() || rest.front() == '#';
}

std::optional<std::string> Variable(const CredentialContext& context, const std::string& name) {
  std::optional<std::string> value = context.getenv(name);
  if (value.has_value() && value->empty()) return std::nullopt;
  return value;
}

// ./.env of the context, parsed; empty when there is none.
Result<std::map<std::string, std::string>> ReadDotEnv(const CredentialContext& context,
                                                      fs::path* path_out) {
  const fs::path path = context.working_directory / ".env";
  if (path_out != nullptr) *path_out = path;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::error_code error;
    if (!fs::exists(path, error)) return std::map<std::string, std::string>{};
    return StatusFromErrno(path.string(), "read", errno);
  }
  std::ostringstream text;
  text << in.rdbuf();
  return ParseDotEnv(text.str(), path.string());
}

Result<json> ReadCredentialsFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::error_code error;
    if (!fs::exists(path, error)) return json{{"servers", json::object()}};
    return StatusFromErrno(path.string(), "read", errno);
  }
  std::ostringstream text;
  text << in.rdbuf();
  json document = json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  // The parser's message would quote the text around the error, which may be a key.
  if (document.is_discarded() || !document.is_object() ||
      (document.contains("servers") && !document["servers"].is_object())) {
    return InvalidArgument(path.string() +
                           ": not a labbook credentials file (expected a JSON object "
                           "{\"servers\": {URL: {\"key\", \"user\"}}}); run `labbook login` to "
                           "write it again");
  }
  if (!document.contains("servers")) document["servers"] = json::object();
  return document;
}

}  // namespace

CredentialContext CredentialContext::FromProcess() {
  CredentialContext context;
  context.getenv = [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
  std::error_code error;
  context.working_directory = fs::current_path(error);
  if (error) context.working_directory = ".";
  return context;
}

std::string BaseUrl::ToString() const {
  const bool default_port = (scheme == "http" && port == 80) || (scheme == "https" && port == 443);
  std::string out = scheme;
  out += "://";
  out += host;
  if (!default_port) {
    out += ':';
    out += std::to_string(port);
  }
  out += path;
  return out;
}

Result<BaseUrl> ParseBaseUrl(std::string_view url) {
  BaseUrl out;
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) {
    return InvalidArgument("server URL '" + std::string(url) +
                           "' must start with http:// or https://");
  }
  out.scheme = Lower(url.substr(0, scheme_end));
  if (out.scheme != "http" && out.scheme != "https") {
    return InvalidArgument("server URL '" + std::string(url) + "' has the scheme '" + out.scheme +
                           "'; expected http or https");
  }
  std::string_view rest = url.substr(scheme_end + 3);
  const size_t authority_end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, authority_end);
  std::string_view tail = authority_end == std::string_view::npos ? "" : rest.substr(authority_end);
  if (authority.find('@') != std::string_view::npos) {
    return InvalidArgument(
        "a server URL must not hold credentials (user:key@host); give the key with "
        "LABBOOK_API_KEY or `labbook login`");
  }
  if (tail.find_first_of("?#") != std::string_view::npos) {
    return InvalidArgument("server URL '" + std::string(url) +
                           "' must not have a query or fragment");
  }
  std::string_view host = authority;
  std::string_view port;
  if (!host.empty() && host.front() == '[') {
    const size_t close = host.find(']');
    if (close == std::string_view::npos) {
      return InvalidArgument("server URL '" + std::string(url) + "' has an unclosed '['");
    }
    if (close + 1 < host.size()) {
      if (host[close + 1] != ':') {
        return InvalidArgument("server URL '" + std::string(url) + "': expected ':' after ']'");
      }
      port = host.substr(close + 2);
    }
    host = host.substr(0, close + 1);
  } else if (const size_t colon = host.rfind(':'); colon != std::string_view::npos) {
    port = host.substr(colon + 1);
    host = host.substr(0, colon);
  }
  if (host.empty()) return InvalidArgument("server URL '" + std::string(url) + "' names no host");
  out.host = Lower(host);
  out.port = out.scheme == "https" ? 443 : 80;
  if (!port.empty()) {
    int value = 0;
    for (char c : port) {
      if (c < '0' || c > '9' || value > 65535) {
        value = -1;
        break;
      }
      value = value * 10 + (c - '0');
    }
    if (value <= 0 || value > 65535) {
      return InvalidArgument("server URL '" + std::string(url) + "' has the port '" +
                             std::string(port) + "'; expected 1 to 65535");
    }
    out.port = value;
  }
  while (!tail.empty() && tail.back() == '/') tail.remove_suffix(1);
  out.path = std::string(tail);
  return out;
}

Result<std::map<std::string, std::string>> ParseDotEnv(std::string_view text,
                                                       const std::string& where) {
  std::vector<std::string_view> lines;
  for (size_t start = 0; start <= text.size();) {
    const size_t end = text.find('\n', start);
    if (end == std::string_view::npos) {
      if (start < text.size()) lines.push_back(text.substr(start));
      break;
    }
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  std::map<std::string, std::string> values;
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string at = where + ":" + std::to_string(i + 1) + ": ";
    std::string_view line = TrimLeft(TrimRight(lines[i]));
    if (line.empty() || line.front() == '#') continue;
    if (line.substr(0, 7) == "export " || line.substr(0, 7) == "export\t") {
      line = TrimLeft(line.substr(7));
    }
    const size_t equals = line.find('=');
    if (equals == std::string_view::npos) {
      return InvalidArgument(at + "expected NAME=VALUE");
    }
    const std::string_view name = TrimRight(line.substr(0, equals));
    if (!IsVariableName(name)) {
      return InvalidArgument(at +
                             "the name before '=' is not a variable name "
                             "(letters, digits and '_', not starting with a digit)");
    }
    std::string_view raw = TrimLeft(line.substr(equals + 1));
    std::string value;
    if (!raw.empty() && (raw.front() == '"' || raw.front() == '\'')) {
      const char quote = raw.front();
      raw.remove_prefix(1);
      // A quoted value may go on over the following lines until its closing quote.
      const size_t first_line = i;
      bool closed = false;
      while (true) {
        size_t j = 0;
        for (; j < raw.size(); ++j) {
          const char c = raw[j];
          if (c == quote) {
            closed = true;
            break;
          }
          if (quote == '"' && c == '\\' && j + 1 < raw.size()) {
            const char next = raw[++j];
            value.push_back(next == 'n' ? '\n' : next == 't' ? '\t' : next);
            continue;
          }
          value.push_back(c);
        }
        if (closed) {
          if (!OnlyCommentLeft(raw.substr(j + 1))) {
            return InvalidArgument(where + ":" + std::to_string(i + 1) +
                                   ": unexpected text after the closing quote");
          }
          break;
        }
        if (++i >= lines.size()) {
          return InvalidArgument(where + ":" + std::to_string(first_line + 1) +
                                 ": the quoted value has no closing quote");
        }
        value.push_back('\n');
        raw = TrimRight(lines[i]);
      }
    } else {
      size_t end = raw.size();
      for (size_t j = 1; j < raw.size(); ++j) {
        if (raw[j] == '#' && (raw[j - 1] == ' ' || raw[j - 1] == '\t')) {
          end = j;
          break;
        }
      }
      if (!raw.empty() && raw.front() == '#') end = 0;
      value = std::string(TrimRight(raw.substr(0, end)));
    }
    values[std::string(name)] = std::move(value);
  }
  return values;
}

Result<std::optional<std::string>> ResolveBaseUrl(const CredentialContext& context) {
  if (std::optional<std::string> url = Variable(context, "LABBOOK_BASE_URL")) return url;
  LABBOOK_ASSIGN_OR_RETURN(auto dot_env, ReadDotEnv(context, nullptr));
  if (auto it = dot_env.find("LABBOOK_BASE_URL"); it != dot_env.end() && !it->second.empty()) {
    return std::optional<std::string>(it->second);
  }
  return std::optional<std::string>();
}

Result<ApiKey> ResolveApiKey(const BaseUrl& base_url, const CredentialContext& context) {
  for (const char* name : {"LABBOOK_API_KEY", "WANDB_API_KEY"}) {
    if (std::optional<std::string> key = Variable(context, name)) return ApiKey{*key, name};
  }
  fs::path dot_env_path;
  LABBOOK_ASSIGN_OR_RETURN(auto dot_env, ReadDotEnv(context, &dot_env_path));
  for (const char* name : {"LABBOOK_API_KEY", "WANDB_API_KEY"}) {
    if (auto it = dot_env.find(name); it != dot_env.end() && !it->second.empty()) {
      return ApiKey{it->second, dot_env_path.string() + " (" + name + ")"};
    }
  }
  Result<fs::path> file = CredentialsFilePath(context);
  if (!file.ok()) return ApiKey{};
  LABBOOK_ASSIGN_OR_RETURN(json document, ReadCredentialsFile(*file));
  const json& servers = document["servers"];
  auto it = servers.find(base_url.ToString());
  if (it == servers.end() || !it->is_object() || !it->contains("key") ||
      !(*it)["key"].is_string()) {
    return ApiKey{};
  }
  return ApiKey{(*it)["key"].get<std::string>(), file->string()};
}

Result<fs::path> CredentialsFilePath(const CredentialContext& context) {
  if (std::optional<std::string> config = Variable(context, "XDG_CONFIG_HOME")) {
    return fs::path(*config) / "labbook" / "credentials";
  }
  if (std::optional<std::string> home = Variable(context, "HOME")) {
    return fs::path(*home) / ".config" / "labbook" / "credentials";
  }
  return FailedPrecondition(
      "neither XDG_CONFIG_HOME nor HOME is set: there is no place for the credentials file");
}

Status StoreApiKey(const BaseUrl& base_url, const std::string& secret, const std::string& user,
                   const CredentialContext& context) {
  LABBOOK_ASSIGN_OR_RETURN(const fs::path path, CredentialsFilePath(context));
  const fs::path directory = path.parent_path();
  std::error_code error;
  if (!fs::is_directory(directory, error)) {
    fs::create_directories(directory.parent_path(), error);
    if (::mkdir(directory.c_str(), 0700) != 0 && errno != EEXIST) {
      return StatusFromErrno(directory.string(), "create the directory", errno);
    }
  }
  LABBOOK_ASSIGN_OR_RETURN(json document, ReadCredentialsFile(path));
  document["servers"][base_url.ToString()] = json{{"key", secret}, {"user", user}};
  const std::string text = document.dump(2) + "\n";

  const fs::path temporary = path.string() + ".tmp-" + std::to_string(::getpid());
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return StatusFromErrno(temporary.string(), "create", errno);
  // The mode given to open() is masked by the umask and ignored for a file left over: set it.
  bool written = ::fchmod(fd, 0600) == 0;
  size_t offset = 0;
  while (written && offset < text.size()) {
    const ssize_t n = ::write(fd, text.data() + offset, text.size() - offset);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      written = false;
      break;
    }
    offset += static_cast<size_t>(n);
  }
  written = written && ::fsync(fd) == 0;
  const int saved_errno = errno;
  ::close(fd);
  if (!written) {
    fs::remove(temporary, error);
    return StatusFromErrno(temporary.string(), "write", saved_errno);
  }
  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    const int rename_errno = errno;
    fs::remove(temporary, error);
    return StatusFromErrno(path.string(), "replace", rename_errno);
  }
  return Status::Ok();
}

}  // namespace labbook::track::http
