// labbook login: checks an API key with the server and stores it for later commands
// (track/http/credentials.hpp). The key is read from standard input, never taken from the
// command line by default, where other users of the machine would see it in `ps`.
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <memory>
#include <string>

#include "commands.hpp"
#include "core/status_macros.hpp"
#include "track/http/credentials.hpp"
#include "track/http/http_store.hpp"

namespace labbook::cli {
namespace {

namespace http = track::http;

struct LoginOptions {
  std::string host;
  bool key_stdin = false;
  std::string key;  // --key: discouraged, see the warning
};

std::string Trimmed(std::string text) {
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return "";
  const size_t last = text.find_last_not_of(" \t\r\n");
  return text.substr(first, last - first + 1);
}

// One line of standard input; on a terminal, asked for without echo.
std::string ReadKey(const std::string& host) {
  const bool terminal = ::isatty(STDIN_FILENO) == 1;
  termios saved{};
  if (terminal) {
    std::fprintf(stderr, "API key for %s: ", host.c_str());
    std::fflush(stderr);
    if (::tcgetattr(STDIN_FILENO, &saved) == 0) {
      termios quiet = saved;
      quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
      ::tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    }
  }
  std::string line;
  std::getline(std::cin, line);
  if (terminal) {
    ::tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    std::fprintf(stderr, "\n");
  }
  return Trimmed(line);
}

Status Login(const LoginOptions& options) {
  const http::CredentialContext context = http::CredentialContext::FromProcess();
  std::string host = options.host;
  if (host.empty()) {
    LABBOOK_ASSIGN_OR_RETURN(std::optional<std::string> from_environment,
                             http::ResolveBaseUrl(context));
    if (!from_environment) {
      return InvalidArgument(
          "no server to log in to: give --host http://host:port or set LABBOOK_BASE_URL");
    }
    host = *from_environment;
  }
  LABBOOK_ASSIGN_OR_RETURN(http::BaseUrl base_url, http::ParseBaseUrl(host));
  std::string key;
  if (!options.key.empty()) {
    std::fprintf(stderr,
                 "labbook: warning: a key given with --key can be read by other users of this "
                 "machine (ps, shell history); prefer piping it to `labbook login --key-stdin`\n");
    key = Trimmed(options.key);
  } else {
    key = ReadKey(base_url.ToString());
  }
  if (key.empty()) {
    return InvalidArgument(
        "no API key on standard input (pipe it in, e.g. `labbook login "
        "--key-stdin < keyfile`)");
  }
  http::HttpStoreOptions store_options;
  store_options.base_url = base_url.ToString();
  store_options.api_key = key;
  store_options.retry.max_attempts = 3;
  LABBOOK_ASSIGN_OR_RETURN(std::unique_ptr<http::HttpRunStore> server,
                           http::HttpRunStore::Open(store_options));
  Result<http::Viewer> viewer = server->GetViewer();
  if (!viewer.ok()) {
    if (viewer.status().code() == ErrorCode::kUnauthenticated) {
      return Status(ErrorCode::kUnauthenticated,
                    "the server " + base_url.ToString() +
                        " does not accept this key: " + viewer.status().message());
    }
    return viewer.status();
  }
  LABBOOK_RETURN_IF_ERROR(http::StoreApiKey(base_url, key, viewer->user, context));
  std::printf("logged in to %s as %s\n", base_url.ToString().c_str(), viewer->user.c_str());
  return Status::Ok();
}

}  // namespace

void AddLoginCommand(CLI::App& app, Action& action) {
  auto options = std::make_shared<LoginOptions>();
  CLI::App* login = app.add_subcommand(
      "login",
      "Check an API key with a labbook server and store it (mode 0600) in "
      "$XDG_CONFIG_HOME/labbook/credentials (else ~/.config/labbook/credentials). The key is "
      "read from standard input.");
  login->add_option("--host", options->host,
                    "The server, http(s)://host:port (default: LABBOOK_BASE_URL or ./.env)");
  login->add_flag("--key-stdin", options->key_stdin,
                  "Read the key from standard input (what login does anyway; for scripts)");
  login->add_option("--key", options->key,
                    "The key itself (visible to other users in `ps`: prefer --key-stdin)");
  login->callback([options, &action] { action = [options] { return Login(*options); }; });
}

}  // namespace labbook::cli
