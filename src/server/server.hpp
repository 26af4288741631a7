// `labbook serve`: the team server. One process holds the run store (any RunStore, chosen by
// URI), the auth store (DATA/auth.db) and the blobs being uploaded (DATA/uploads/), and answers
// the native REST API under /api/v1/ (docs/api.md) and the W&B-compatible ingest
// (docs/wandb.md) on a pool of worker threads.
//
// Lifecycle: Create binds the port (so port() is known at once, also for port 0), Run serves
// until Stop. Stop stops accepting connections and returns once the requests in flight have
// been answered; everything acknowledged is in the store by then. Stop may be called from any
// thread (the signal thread of `labbook serve`, a test).
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "labbook/status.hpp"
#include "server/auth/auth_store.hpp"
#include "track/store.hpp"

namespace labbook::server {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;  // 0: a free port, see Server::port()
  // The run store; empty: sqlite://<data_dir>/labbook.db.
  std::string store_uri;
  // auth.db, uploads/, wandb/. Created when missing.
  std::filesystem::path data_dir = ".labbook-server";
  // Both or neither: HTTPS with this PEM certificate (chain) and private key.
  std::filesystem::path tls_cert;
  std::filesystem::path tls_key;
  size_t threads = 64;  // requests answered at once
  // The dashboard: empty serves the bundle compiled into the binary; a directory (the output of
  // `node web/build.mjs DIR`) serves its files instead, read at each request.
  std::filesystem::path web_dir;
  // `labbook ui`: when set, a request without a key acts as this server admin (created when
  // missing), so one person browses their own store without keys. Only on a loopback --host.
  std::string local_admin;
  // The access log and notices, one line each; never a credential. Unset: silent.
  std::function<void(const std::string& line)> log;
};

class Server {
 public:
  // Opens the stores, binds host:port. kInvalidArgument for a bad option (naming it),
  // kUnavailable when the port is taken, kInvalidArgument naming the file for a TLS certificate
  // or key that does not load.
  [[nodiscard]] static Result<std::unique_ptr<Server>> Create(ServerOptions options);
  ~Server();

  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  int port() const;
  // "http://127.0.0.1:PORT" (https with TLS).
  std::string base_url() const;
  AuthStore& auth();
  track::RunStore& store();

  // Serves until Stop. kUnavailable when listening fails.
  [[nodiscard]] Status Run();
  // Serves on a background thread; Stop (or the destructor) ends it.
  void Start();
  // Stops accepting, waits for the requests in flight. Idempotent.
  void Stop();

 private:
  struct Impl;
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Creates the first server administrator when the auth store has no user yet, and returns its
// new key's secret (shown once). kFailedPrecondition when users exist already.
[[nodiscard]] Result<std::string> InitAdmin(AuthStore& auth, const std::string& name);

}  // namespace labbook::server
