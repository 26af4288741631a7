// `labbook serve`: runs the team server until SIGTERM or SIGINT, then stops gracefully: no new
// connections, the requests in flight answered, the stores closed. `labbook ui`: the same server
// over the local store, for one person, without keys, on loopback.
#include <pthread.h>
#include <signal.h>

#include <stdlib.h>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "commands.hpp"
#include "server/server.hpp"
#include "track/store.hpp"

namespace labbook::cli {
namespace {

struct ServeOptions {
  server::ServerOptions server;
  bool init_admin = false;
  std::string admin_name = "admin";
  bool quiet = false;
  bool ui = false;  // `labbook ui`: print the address, remove the scratch --data at the end
};

// "2026-12-07T03:04:05Z <line>" on stderr, whole lines even from several threads.
void LogLine(const std::string& line) {
  static std::mutex mutex;
  char stamp[32];
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &utc);
  std::lock_guard<std::mutex> lock(mutex);
  std::fprintf(stderr, "%s %s\n", stamp, line.c_str());
  std::fflush(stderr);
}

Status Serve(ServeOptions options) {
  // Every thread the server starts inherits this mask, so SIGTERM and SIGINT reach only the
  // thread that waits for them below.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  options.server.log = [quiet = options.quiet](const std::string& line) {
    if (!quiet) LogLine(line);
  };
  Result<std::unique_ptr<server::Server>> created = server::Server::Create(options.server);
  if (!created.ok()) return created.status();
  server::Server& server = **created;

  if (options.ui) {
    std::fprintf(stdout, "dashboard of %s: %s/\n", server.store().uri().c_str(),
                 server.base_url().c_str());
    std::fflush(stdout);
  }
  if (options.init_admin) {
    Result<std::string> secret = server::InitAdmin(server.auth(), options.admin_name);
    if (!secret.ok()) return secret.status();
    LogLine("created the server admin '" + options.admin_name +
            "'; its API key is the line on stdout, shown this once");
    std::fprintf(stdout, "%s\n", secret->c_str());
    std::fflush(stdout);
  }

  std::thread stopper([&server, signals] {
    int signal_number = 0;
    sigwait(&signals, &signal_number);
    if (signal_number == 0) return;
    LogLine(std::string("received ") + (signal_number == SIGTERM ? "SIGTERM" : "SIGINT") +
            "; finishing the requests in flight");
    server.Stop();
  });
  const Status status = server.Run();
  if (!status.ok()) {
    // The stopper still waits for a signal; wake it so the process can end.
    pthread_kill(stopper.native_handle(), SIGTERM);
  }
  stopper.join();
  if (status.ok()) LogLine("stopped");
  return status;
}

// `labbook ui`: the dashboard's users and keys live in a scratch directory for the life of the
// process; the runs are the local store's.
Status ServeLocalStore(ServeOptions options, const std::string& store_option) {
  const std::string uri = store_option.empty() ? track::DefaultStoreUri() : store_option;
  if (track::IsServerUri(uri)) {
    return InvalidArgument("--store " + uri +
                           ": that is a labbook server, which serves the dashboard itself; "
                           "open " +
                           uri + "/ in a browser");
  }
  if (std::optional<std::string> missing = track::MissingStoreFile(uri)) {
    return NotFound("no run store at " + *missing +
                    " yet: record a run first (labbook train ...), or name one with --store");
  }
  options.server.store_uri = uri;
  std::string scratch = (std::filesystem::temp_directory_path() / "labbook-ui-XXXXXX").string();
  if (mkdtemp(scratch.data()) == nullptr) {
    return Internal("cannot create a scratch directory in " +
                    std::filesystem::temp_directory_path().string());
  }
  options.server.data_dir = scratch;
  options.server.local_admin = "local";
  options.ui = true;
  const Status status = Serve(options);
  std::error_code ignored;
  std::filesystem::remove_all(scratch, ignored);
  return status;
}

}  // namespace

void AddServeCommand(CLI::App& app, Action& action) {
  auto options = std::make_shared<ServeOptions>();
  CLI::App* serve = app.add_subcommand(
      "serve", "Run the team server: the REST API (docs/api.md) and the W&B-compatible ingest");
  serve->add_option("--host", options->server.host, "Address to listen on")->capture_default_str();
  serve->add_option("--port", options->server.port, "Port to listen on (0: any free port)")
      ->capture_default_str();
  serve->add_option("--store", options->server.store_uri,
                    "The run store (default: sqlite://DATA/labbook.db)");
  serve
      ->add_option("--data", options->server.data_dir,
                   "The server's directory: auth.db (users, keys), uploads/, wandb/")
      ->capture_default_str();
  serve->add_flag("--init-admin", options->init_admin,
                  "Create the first server admin and print its API key once, alone on a line");
  serve->add_option("--admin-name", options->admin_name, "The name of the admin --init-admin makes")
      ->capture_default_str();
  serve->add_option("--tls-cert", options->server.tls_cert, "PEM certificate: serve HTTPS");
  serve->add_option("--tls-key", options->server.tls_key, "PEM private key of --tls-cert");
  serve->add_option("--threads", options->server.threads, "Requests answered at once")
      ->capture_default_str();
  serve->add_flag("-q,--quiet", options->quiet, "No access log on stderr");
  serve->add_option("--web-dir", options->server.web_dir,
                    "Serve the dashboard from this directory (node web/build.mjs DIR) instead of "
                    "the one built in");
  serve->footer(
      "Stops gracefully on SIGTERM or SIGINT. The access log names method, path (without the "
      "query), status, time and user; never a key. Behind a reverse proxy, listen on 127.0.0.1 "
      "and let the proxy terminate TLS (docs/server.md).");
  serve->callback([options, &action] { action = [options] { return Serve(*options); }; });
}

void AddUiCommand(CLI::App& app, Action& action) {
  auto options = std::make_shared<ServeOptions>();
  auto store = std::make_shared<std::string>();
  // An idle keep-alive connection holds a worker for seconds: room for a few browser tabs.
  options->server.threads = 32;
  CLI::App* ui = app.add_subcommand(
      "ui", "The web dashboard of the local run store, on this machine only, without keys");
  ui->add_option("--port", options->server.port, "Port to listen on (0: any free port)")
      ->capture_default_str();
  ui->add_option("--host", options->server.host, "Loopback address to listen on")
      ->capture_default_str();
  ui->add_option("--store", *store,
                 "The run store (default: LABBOOK_STORE, else sqlite://.labbook/labbook.db)");
  ui->add_option("--web-dir", options->server.web_dir,
                 "Serve the dashboard from this directory instead of the one built in");
  ui->add_flag("-q,--quiet", options->quiet, "No access log on stderr");
  ui->footer(
      "Prints the address on stdout and serves until Ctrl-C. Anyone on this machine who can reach "
      "the port sees the store's runs; use `labbook serve` to share them.");
  ui->callback([options, store, &action] {
    action = [options, store] { return ServeLocalStore(*options, *store); };
  });
}

}  // namespace labbook::cli
