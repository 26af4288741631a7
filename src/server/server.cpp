#include "server/server.hpp"

#include <httplib.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <system_error>
#include <thread>

#include "core/status_macros.hpp"
#include "server/analysis_routes.hpp"
#include "server/blob_uploads.hpp"
#include "server/context.hpp"
#include "server/rest_routes.hpp"
#include "server/router.hpp"
#include "server/sweep_routes.hpp"
#include "server/web/web_routes.hpp"
#include "sweep/sweep_store.hpp"
#ifdef LABBOOK_SERVER_WANDB
#include "server/wandb/wandb_routes.hpp"
#endif

#ifndef LABBOOK_SERVER_VERSION
#define LABBOOK_SERVER_VERSION "0.0.0"
#endif

namespace labbook::server {
namespace fs = std::filesystem;

struct Server::Impl {
  ServerOptions options;
  std::unique_ptr<track::RunStore> store;
  std::unique_ptr<sweep::SweepStore> sweeps;  // null unless the run store is SQLite
  std::unique_ptr<AuthStore> auth;
  std::unique_ptr<httplib::Server> http;
  Router router;
  ServerContext context;
  int port = 0;
  bool tls = false;

  std::mutex mutex;  // guards thread, stopped and the start of serving
  std::thread thread;
  bool stopped = false;
  std::atomic<bool> serving{false};  // Run is inside listen_after_bind
  int listen_fd = -1;                // the listening socket, as the HTTP library opened it
};

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() { Stop(); }

Result<std::unique_ptr<Server>> Server::Create(ServerOptions options) {
  if (options.port < 0 || options.port > 65535) {
    return InvalidArgument("--port: expected 0 to 65535, got " + std::to_string(options.port));
  }
  if (options.tls_cert.empty() != options.tls_key.empty()) {
    return InvalidArgument("--tls-cert and --tls-key go together; only one was given");
  }
  if (options.threads == 0) return InvalidArgument("threads: expected at least 1");
  std::error_code error;
  fs::create_directories(options.data_dir, error);
  if (error) {
    return PermissionDenied("--data " + options.data_dir.string() +
                            ": cannot create the directory: " + error.message());
  }
  auto impl = std::make_unique<Impl>();
  if (options.store_uri.empty()) {
    options.store_uri = "sqlite://" + fs::absolute(options.data_dir / "labbook.db").string();
  }
  Result<std::unique_ptr<track::RunStore>> store = track::OpenStore(options.store_uri);
  if (!store.ok()) return store.status().WithContext("--store");
  impl->store = std::move(*store);
  if (!track::IsServerUri(options.store_uri)) {
    // Sweeps have no PostgreSQL store yet: with one, they are kept in SQLite in the data dir.
    const bool postgres = options.store_uri.rfind("postgresql://", 0) == 0 ||
                          options.store_uri.rfind("postgres://", 0) == 0;
    const std::string sweep_uri =
        postgres ? "sqlite://" + fs::absolute(options.data_dir / "sweeps.db").string()
                 : options.store_uri;
    Result<std::unique_ptr<sweep::SweepStore>> sweeps = sweep::OpenSweepStore(sweep_uri);
    if (!sweeps.ok()) return sweeps.status().WithContext("--store");
    impl->sweeps = std::move(*sweeps);
  }
  Result<std::unique_ptr<AuthStore>> auth = OpenSqliteAuthStore(options.data_dir / "auth.db");
  if (!auth.ok()) return auth.status().WithContext("--data " + options.data_dir.string());
  impl->auth = std::move(*auth);
  if (!options.local_admin.empty()) {
    const std::string& host = options.host;
    if (host != "localhost" && host != "::1" && host.rfind("127.", 0) != 0) {
      return InvalidArgument("--host " + host +
                             ": the local store's dashboard answers without keys, so it listens "
                             "on a loopback address only (127.0.0.1, ::1, localhost)");
    }
    Result<User> user = impl->auth->GetUser(options.local_admin);
    if (!user.ok() && user.status().code() == ErrorCode::kNotFound) {
      user = impl->auth->CreateUser(options.local_admin, true);
    }
    if (!user.ok()) return user.status();
    if (!user->is_admin) {
      return FailedPrecondition("user " + options.local_admin + " of " +
                                options.data_dir.string() + " is not a server admin");
    }
    impl->router.SetAnonymous(Principal{user->name, true, ""});
  }
  LABBOOK_RETURN_IF_ERROR(BlobUploads(options.data_dir / "uploads").Prepare());

  if (!options.tls_cert.empty()) {
    auto https =
        std::make_unique<httplib::SSLServer>(options.tls_cert.c_str(), options.tls_key.c_str());
    if (!https->is_valid()) {
      return InvalidArgument("--tls-cert " + options.tls_cert.string() + " / --tls-key " +
                             options.tls_key.string() +
                             ": cannot load them; expected a PEM certificate and its PEM private "
                             "key, readable by this user");
    }
    impl->http = std::move(https);
    impl->tls = true;
  } else {
    impl->http = std::make_unique<httplib::Server>();
  }
  httplib::Server& http = *impl->http;
  const size_t threads = options.threads;
  http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  // Routes enforce their own limits (router.hpp); this is only the hard ceiling.
  http.set_payload_max_length(size_t{16} << 30);
  http.set_tcp_nodelay(true);
  http.set_keep_alive_max_count(1000);
  http.set_keep_alive_timeout(5);
  http.set_read_timeout(60);
  http.set_write_timeout(60);

  // The library listens with a backlog of 5, too few for a burst of clients connecting at once;
  // listen() again on the bound socket raises it. The socket is caught as the library opens it.
  Impl* raw = impl.get();
  // SO_REUSEADDR only: the library's default adds SO_REUSEPORT, with which a second server on a
  // taken port would start without an error and share the port.
  http.set_socket_options([raw](socket_t fd) {
    int yes = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    raw->listen_fd = fd;
  });
  if (options.port == 0) {
    impl->port = http.bind_to_any_port(options.host);
    if (impl->port <= 0) {
      return Status(ErrorCode::kUnavailable, "cannot listen on " + options.host + " (any port)");
    }
  } else {
    if (!http.bind_to_port(options.host, options.port)) {
      return Status(ErrorCode::kUnavailable,
                    "cannot listen on " + options.host + ":" + std::to_string(options.port) +
                        "; is the port taken or the address not local? (--host, --port)");
    }
    impl->port = options.port;
  }

  if (impl->listen_fd >= 0) ::listen(impl->listen_fd, 1024);
  http.set_socket_options(httplib::default_socket_options);
  impl->options = std::move(options);
  Impl& self = *impl;
  const std::string host = self.options.host.find(':') != std::string::npos
                               ? "[" + self.options.host + "]"
                               : self.options.host;
  self.context = ServerContext{
      self.store.get(), self.auth.get(), self.options.data_dir,
      std::string(self.tls ? "https://" : "http://") + host + ":" + std::to_string(self.port),
      self.sweeps.get()};
  AddRestRoutes(self.router, self.context, LABBOOK_SERVER_VERSION);
  AddAnalysisRoutes(self.router, self.context);
  AddSweepRoutes(self.router, self.context);
  AddWebRoutes(self.router, self.options.web_dir);
#ifdef LABBOOK_SERVER_WANDB
  AddWandbRoutes(self.router, self.context);
#endif
  if (self.options.log) self.router.SetLog(self.options.log);
  self.router.Install(http, *self.auth);
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

int Server::port() const { return impl_->port; }
std::string Server::base_url() const { return impl_->context.base_url; }
AuthStore& Server::auth() { return *impl_->auth; }
track::RunStore& Server::store() { return *impl_->store; }

Status Server::Run() {
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    if (impl_->stopped) return Status::Ok();
    impl_->serving = true;
  }
  if (impl_->options.log) {
    impl_->options.log("listening on " + base_url() + " (store " + impl_->store->uri() + ", data " +
                       impl_->options.data_dir.string() + ")");
  }
  const bool listened = impl_->http->listen_after_bind();
  impl_->serving = false;
  if (!listened) {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    if (!impl_->stopped) {
      return Status(ErrorCode::kUnavailable, "the server stopped listening on " + base_url());
    }
  }
  return Status::Ok();
}

void Server::Start() {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  if (impl_->thread.joinable() || impl_->stopped) return;
  impl_->thread = std::thread([this] { Run().IgnoreError(); });
}

void Server::Stop() {
  std::thread thread;
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    if (impl_->stopped) return;
    impl_->stopped = true;
    thread = std::move(impl_->thread);
  }
  // stop() closes the listening socket; listen_after_bind then shuts the worker pool down,
  // which waits for every request in flight to be answered. Until the library has begun to
  // listen, stop() has nothing to close, so it is repeated until Run has returned.
  if (!impl_->serving && impl_->listen_fd >= 0) {
    // Never served: refuse the connections waiting in the backlog instead of leaving them hang.
    ::shutdown(impl_->listen_fd, SHUT_RDWR);
  }
  while (impl_->serving) {
    impl_->http->stop();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (thread.joinable()) thread.join();
}

Result<std::string> InitAdmin(AuthStore& auth, const std::string& name) {
  LABBOOK_ASSIGN_OR_RETURN(int64_t users, auth.CountUsers());
  if (users > 0) {
    return FailedPrecondition(
        "--init-admin: the server has users already; create more keys with "
        "`labbook keys create`");
  }
  LABBOOK_ASSIGN_OR_RETURN(User admin, auth.CreateUser(name, true));
  LABBOOK_ASSIGN_OR_RETURN(NewApiKey key, auth.CreateKey(admin.name, "init-admin"));
  return key.secret;
}

}  // namespace labbook::server
