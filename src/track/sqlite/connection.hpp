// One SQLite connection of the store: prepared statements cached by SQL text, transactions that
// roll back unless committed, and the one mapping of SQLite's result codes to labbook's ErrorCode.
// A Connection and its statements are used by one thread at a time (SqliteRunStore serialises
// its calls with a mutex).
#pragma once

#include <sqlite3.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

#include "labbook/status.hpp"

namespace labbook::track::sqlite {

// The Status for SQLite result code `rc` (extended or primary), with a message
// "<path>: cannot <action>: <SQLite's message>". Read-only → kPermissionDenied, full disk →
// kResourceExhausted, a lock held too long → kUnavailable, a corrupt file or not a database →
// kDataLoss; CANTOPEN and IOERR consult the system's errno. `db` may be null.
Status SqliteStatus(sqlite3* db, int rc, std::string_view path, std::string_view action);

class Connection;

// A cached prepared statement in use. Bind errors are reported by the next Step or Run.
// Destroying it resets the statement, which releases what it holds for the next use.
class Statement {
 public:
  Statement(Connection* connection, sqlite3_stmt* stmt) : connection_(connection), stmt_(stmt) {}
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&&) = delete;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  // Parameters are 1-based, as in SQLite.
  Statement& BindInt(int index, int64_t value);
  Statement& BindDouble(int index, double value);  // NaN is stored as NULL
  Statement& BindText(int index, std::string_view text);
  Statement& BindBlob(int index, std::span<const std::byte> blob);
  Statement& BindNull(int index);

  // Steps once: true when a row is available, false when the statement is done.
  Result<bool> Step();
  // Steps to the end of a statement that returns no rows.
  Status Run();

  // Columns are 0-based.
  bool IsNull(int column) const;
  int64_t Int(int column) const;
  double Double(int column) const;  // NULL reads as NaN
  std::string Text(int column) const;
  // Valid until the next Step or the statement's destruction.
  std::span<const std::byte> Blob(int column) const;

 private:
  Statement& Check(int rc);

  Connection* connection_;
  sqlite3_stmt* stmt_;
  int bind_rc_ = SQLITE_OK;
};

class Connection {
 public:
  // Opens `path` read-write (creating it) or read-only. A file the system lets us read but not
  // write opens read-only too (read_only() tells). Errors name the path.
  static Result<std::unique_ptr<Connection>> Open(const std::string& path, bool read_only,
                                                  int busy_timeout_ms);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  Result<Statement> Prepare(std::string_view sql);
  // Runs one or more statements that return no rows (schema scripts, pragmas).
  Status Exec(const std::string& sql);
  // The value of a pragma that returns one integer, e.g. "user_version".
  Result<int64_t> PragmaInt(std::string_view name);
  // Switches the database to WAL mode, waiting up to the busy timeout for other connections that
  // are opening or switching the same file. Returns the journal mode now in effect.
  Result<std::string> SwitchToWal();

  sqlite3* handle() const { return db_; }
  int64_t LastInsertRowid() const { return sqlite3_last_insert_rowid(db_); }
  bool read_only() const { return sqlite3_db_readonly(db_, "main") == 1; }
  const std::string& path() const { return path_; }

  // What the store is doing, for error messages ("log history of run 3kx9a0bq").
  void set_action(std::string action) { action_ = std::move(action); }
  // SqliteStatus for this connection and its current action.
  Status Error(int rc) const;

 private:
  Connection(sqlite3* db, std::string path, int busy_timeout_ms)
      : db_(db), path_(std::move(path)), busy_timeout_ms_(busy_timeout_ms) {}

  sqlite3* db_;
  std::string path_;
  int busy_timeout_ms_;
  std::string action_ = "open the store";
  std::unordered_map<std::string, sqlite3_stmt*> statements_;
};

// BEGIN IMMEDIATE (Write: takes the write lock at once, waiting up to the busy timeout) or BEGIN
// (Read: one consistent snapshot). Destroying an uncommitted transaction rolls it back.
class Transaction {
 public:
  [[nodiscard]] static Result<Transaction> Write(Connection& connection);
  [[nodiscard]] static Result<Transaction> Read(Connection& connection);
  Transaction(Transaction&& other) noexcept : connection_(other.connection_) {
    other.connection_ = nullptr;
  }
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();

  Status Commit();

 private:
  explicit Transaction(Connection* connection) : connection_(connection) {}
  Connection* connection_;
};

}  // namespace labbook::track::sqlite
