#include "pg_cluster.hpp"

#include <fcntl.h>
#include <glob.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <thread>
#include <vector>

namespace labbook::test {
namespace {

namespace fs = std::filesystem;

constexpr char kRootRunsAs[] = "postgres";
constexpr auto kReadyTimeout = std::chrono::seconds(20);
constexpr int kStartAttempts = 3;

// The bin directory of the newest PostgreSQL under /usr/lib/postgresql, or "" when none.
fs::path FindBinDir() {
  glob_t found{};
  fs::path best;
  int best_version = -1;
  if (::glob("/usr/lib/postgresql/*/bin/initdb", 0, nullptr, &found) == 0) {
    for (size_t i = 0; i < found.gl_pathc; ++i) {
      const fs::path bin = fs::path(found.gl_pathv[i]).parent_path();
      const int version = std::atoi(bin.parent_path().filename().c_str());
      if (version > best_version && fs::exists(bin / "postgres") && fs::exists(bin / "pg_ctl")) {
        best_version = version;
        best = bin;
      }
    }
  }
  ::globfree(&found);
  return best;
}

// A loopback port nobody listened on a moment ago.
int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof address;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    port = ntohs(address.sin_port);
  }
  ::close(fd);
  return port;
}

// Runs `argv` (through runuser as the postgres user when `as_postgres`), its output appended to
// `log`. Returns the exit status (-1 when it could not run).
int RunProgram(std::vector<std::string> argv, bool as_postgres, const fs::path& log) {
  if (as_postgres) argv.insert(argv.begin(), {"runuser", "-u", kRootRunsAs, "--"});
  const pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (out >= 0) {
      ::dup2(out, 1);
      ::dup2(out, 2);
    }
    // The server must not hold the test's descriptors (ctest's pipes) open after it exits.
    for (int fd = 3; fd < 1024; ++fd) ::close(fd);
    std::vector<char*> args;
    for (std::string& arg : argv) args.push_back(arg.data());
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string Tail(const fs::path& log) {
  std::ifstream in(log);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return text.size() > 2000 ? text.substr(text.size() - 2000) : text;
}

std::string CurrentUser() {
  const passwd* entry = ::getpwuid(::geteuid());
  return entry != nullptr ? entry->pw_name : "postgres";
}

// A libpq connection closed on destruction.
struct Conn {
  explicit Conn(const std::string& uri) : conn(PQconnectdb(uri.c_str())) {}
  ~Conn() { PQfinish(conn); }
  bool ok() const { return PQstatus(conn) == CONNECTION_OK; }
  std::string error() const { return PQerrorMessage(conn); }
  PGconn* conn;
};

std::unique_ptr<PgCluster>& SharedSlot() {
  static auto* cluster = new std::unique_ptr<PgCluster>;
  return *cluster;
}

std::string& SharedError() {
  static auto* error = new std::string("the PostgreSQL test cluster was not started");
  return *error;
}

}  // namespace

Result<std::unique_ptr<PgCluster>> PgCluster::Start() {
  std::unique_ptr<PgCluster> cluster(new PgCluster);
  cluster->bin_dir_ = FindBinDir();
  if (cluster->bin_dir_.empty()) {
    return FailedPrecondition(
        "no PostgreSQL server programs (initdb, postgres, pg_ctl) under "
        "/usr/lib/postgresql/*/bin/: install the postgresql package (scripts/install-deps)");
  }
  uid_t owner_uid = ::geteuid();
  gid_t owner_gid = ::getegid();
  cluster->user_ = CurrentUser();
  if (::geteuid() == 0) {
    // PostgreSQL refuses to run as root.
    const passwd* entry = ::getpwnam(kRootRunsAs);
    if (entry == nullptr) {
      return FailedPrecondition(
          "running as root, the tests start PostgreSQL as the 'postgres' user, which does not "
          "exist: install the postgresql package (scripts/install-deps), which creates it");
    }
    owner_uid = entry->pw_uid;
    owner_gid = entry->pw_gid;
    cluster->user_ = kRootRunsAs;
    cluster->as_postgres_user_ = true;
  }
  // Under /tmp: the socket's path (in this directory) must stay under 108 bytes.
  char pattern[] = "/tmp/labbook-pg-XXXXXX";
  if (::mkdtemp(pattern) == nullptr) {
    return FailedPrecondition(std::string("cannot create a directory like ") + pattern);
  }
  cluster->dir_ = pattern;
  if (::chown(pattern, owner_uid, owner_gid) != 0) {
    return FailedPrecondition(cluster->dir_.string() + ": cannot give it to the postgres user");
  }
  const fs::path data = cluster->dir_ / "data";
  const fs::path log = cluster->dir_ / "setup.log";
  if (RunProgram({(cluster->bin_dir_ / "initdb").string(), "-D", data.string(), "--auth=trust",
                  "--username=" + cluster->user_, "--encoding=UTF8", "--locale=C", "--no-sync"},
                 cluster->as_postgres_user_, log) != 0) {
    return FailedPrecondition("initdb failed: " + Tail(log));
  }
  for (int attempt = 1; attempt <= kStartAttempts; ++attempt) {
    cluster->port_ = FreePort();
    const std::string options = "-c listen_addresses=127.0.0.1 -p " +
                                std::to_string(cluster->port_) + " -k " + cluster->dir_.string() +
                                " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
                                " -c max_connections=300";
    const int rc = RunProgram({(cluster->bin_dir_ / "pg_ctl").string(), "-D", data.string(), "-l",
                               (cluster->dir_ / "server.log").string(), "-o", options, "-w", "-t",
                               std::to_string(kReadyTimeout.count()), "start"},
                              cluster->as_postgres_user_, log);
    if (rc == 0) break;
    // Someone took the port between the probe and the start: stop what may be half up, retry.
    cluster->running_ = true;
    cluster->Stop().IgnoreError();
    if (attempt == kStartAttempts) {
      return Status(ErrorCode::kUnavailable,
                    "pg_ctl start failed: " + Tail(log) +
                        "\nserver log: " + Tail(cluster->dir_ / "server.log"));
    }
  }
  cluster->running_ = true;
  cluster->StartWatchdog();
  const auto deadline = std::chrono::steady_clock::now() + kReadyTimeout;
  for (;;) {
    Conn probe(cluster->Uri("postgres"));
    if (probe.ok()) break;
    if (std::chrono::steady_clock::now() > deadline) {
      return Status(ErrorCode::kUnavailable, "the test cluster did not accept connections within " +
                                                 std::to_string(kReadyTimeout.count()) +
                                                 " s: " + probe.error());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return cluster;
}

PgCluster::~PgCluster() {
  Stop().IgnoreError();
  std::error_code ignored;
  if (!dir_.empty()) fs::remove_all(dir_, ignored);
  if (watchdog_pipe_ >= 0) ::close(watchdog_pipe_);  // the watchdog finds nothing left to do
}

void PgCluster::StartWatchdog() {
  int fds[2];
  if (::pipe(fds) != 0) return;
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return;
  }
  if (pid == 0) {
    // The watchdog: wait until every write end is closed (the test process ended, however),
    // then stop a server still running and remove the directory. It holds no other descriptor,
    // so ctest's pipes close when the test process exits.
    const int null = ::open("/dev/null", O_RDWR);
    for (int fd = 0; fd < 1024; ++fd) {
      if (fd != fds[0] && fd != null) ::close(fd);
    }
    ::dup2(null, 0);
    ::dup2(null, 1);
    ::dup2(null, 2);
    ::setsid();  // out of the test's process group: a ^C of the test does not skip the cleanup
    for (;;) {
      char byte;
      const ssize_t got = ::read(fds[0], &byte, 1);
      if (got == 0 || (got < 0 && errno != EINTR)) break;
    }
    if (fs::exists(dir_ / "data" / "postmaster.pid")) {
      RunProgram({(bin_dir_ / "pg_ctl").string(), "-D", (dir_ / "data").string(), "-m", "immediate",
                  "-w", "-t", "30", "stop"},
                 as_postgres_user_, "/dev/null");
    }
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
    ::_exit(0);
  }
  ::close(fds[0]);
  watchdog_pipe_ = fds[1];
  ::fcntl(watchdog_pipe_, F_SETFD, FD_CLOEXEC);
}

Status PgCluster::Stop() {
  if (!running_) return Status::Ok();
  running_ = false;
  const fs::path data = dir_ / "data";
  if (RunProgram({(bin_dir_ / "pg_ctl").string(), "-D", data.string(), "-m", "fast", "-w", "-t",
                  "30", "stop"},
                 as_postgres_user_, dir_ / "setup.log") == 0) {
    return Status::Ok();
  }
  // The postmaster's pid is the first line of postmaster.pid; SIGQUIT is the immediate shutdown.
  std::ifstream pid_file(data / "postmaster.pid");
  long pid = 0;
  if (pid_file >> pid && pid > 0) {
    ::kill(static_cast<pid_t>(pid), SIGQUIT);
    return Status::Ok();
  }
  return Status(ErrorCode::kInternal, "cannot stop the test cluster in " + dir_.string());
}

std::string PgCluster::Uri(const std::string& database) const {
  return "postgresql://" + user_ + "@127.0.0.1:" + std::to_string(port_) + "/" + database;
}

Status PgCluster::Execute(const std::string& database, const std::string& sql) {
  return QueryValue(database, sql).status();
}

Result<std::string> PgCluster::QueryValue(const std::string& database, const std::string& sql) {
  Conn conn(Uri(database));
  if (!conn.ok()) return Status(ErrorCode::kUnavailable, conn.error());
  PGresult* result = PQexec(conn.conn, sql.c_str());
  const ExecStatusType status = PQresultStatus(result);
  std::string value;
  if (status == PGRES_TUPLES_OK && PQntuples(result) > 0) value = PQgetvalue(result, 0, 0);
  const std::string error = PQresultErrorMessage(result);
  PQclear(result);
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
    return Internal(sql + ": " + error);
  }
  return value;
}

Status PgCluster::CreateDatabase(const std::string& name) {
  Result<std::string> exists =
      QueryValue("postgres", "SELECT 1 FROM pg_database WHERE datname = '" + name + "'");
  if (!exists.ok()) return exists.status();
  if (*exists == "1") return Status::Ok();
  return Execute("postgres", "CREATE DATABASE " + name);
}

Result<std::string> PgCluster::FreshDatabase() {
  const std::string name = "fresh_" + std::to_string(next_database_++);
  Status created = CreateDatabase(name);
  if (!created.ok()) return created;
  return name;
}

PgCluster* SharedPgCluster() { return SharedSlot().get(); }

const std::string& SharedPgClusterError() { return SharedError(); }

void PgClusterEnvironment::SetUp() {
  Result<std::unique_ptr<PgCluster>> started = PgCluster::Start();
  if (!started.ok()) {
    SharedError() = started.status().ToString();
    FAIL() << "cannot start the PostgreSQL test cluster: " << SharedError();
  }
  SharedSlot() = std::move(started).value();
}

void PgClusterEnvironment::TearDown() { SharedSlot().reset(); }

}  // namespace labbook::test
