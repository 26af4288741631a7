// A throwaway PostgreSQL cluster for tests: initdb into a fresh directory under /tmp, a postmaster
// on a free loopback port (trust authentication, loopback only, fsync off), databases created on
// demand, and the server stopped and the directory removed at the end. As root, every PostgreSQL
// program runs as the unprivileged `postgres` user (runuser), which owns the directory.
//
// A test binary starts one cluster for all its tests through PgClusterEnvironment:
//
//   ::testing::Environment* const kCluster =
//       ::testing::AddGlobalTestEnvironment(new labbook::test::PgClusterEnvironment);
//
// and each test makes a fresh database with SharedPgCluster()->FreshDatabase(). When initdb or
// the `postgres` user is missing, the environment fails the binary naming what to install.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>

#include "labbook/status.hpp"

namespace labbook::test {

class PgCluster {
 public:
  // initdb, start, wait until a connection succeeds (at most about 20 s). Errors say what is
  // missing or where the server's log is.
  [[nodiscard]] static Result<std::unique_ptr<PgCluster>> Start();
  PgCluster(const PgCluster&) = delete;
  PgCluster& operator=(const PgCluster&) = delete;
  // Stops the server (if still running) and removes the directory.
  ~PgCluster();

  int port() const { return port_; }
  const std::string& user() const { return user_; }
  // "postgresql://<user>@127.0.0.1:<port>/<database>".
  std::string Uri(const std::string& database) const;

  // Creates the database unless it exists. `name`: [a-z0-9_]+.
  [[nodiscard]] Status CreateDatabase(const std::string& name);
  // A database no other test of this cluster has used, created.
  [[nodiscard]] Result<std::string> FreshDatabase();
  // Runs SQL that returns no rows (or whose rows are ignored) in `database`.
  [[nodiscard]] Status Execute(const std::string& database, const std::string& sql);
  // The first column of the first row of a query, as text ("" when there is no row).
  [[nodiscard]] Result<std::string> QueryValue(const std::string& database, const std::string& sql);

  // Stops the server: pg_ctl stop -m fast, or SIGQUIT to the postmaster when that fails.
  Status Stop();

 private:
  PgCluster() = default;
  // Forks a process that stops the server and removes the directory once this process is gone,
  // so that a test that crashes leaves no server running.
  void StartWatchdog();

  std::filesystem::path dir_;
  std::filesystem::path bin_dir_;
  std::string user_;
  bool as_postgres_user_ = false;  // running as root: programs run through runuser
  int port_ = 0;
  bool running_ = false;
  int next_database_ = 0;
  int watchdog_pipe_ = -1;  // the write end; the watchdog acts when it closes
};

// The cluster of this test binary; null (with the reason in SharedPgClusterError()) when it did
// not start.
PgCluster* SharedPgCluster();
const std::string& SharedPgClusterError();

// Starts the shared cluster before the first test and stops it after the last. A cluster that
// does not start fails the binary.
class PgClusterEnvironment : public ::testing::Environment {
 public:
  void SetUp() override;
  void TearDown() override;
};

}  // namespace labbook::test
