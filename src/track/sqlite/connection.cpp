#include "track/sqlite/connection.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <thread>

namespace labbook::track::sqlite {

Status SqliteStatus(sqlite3* db, int rc, std::string_view path, std::string_view action) {
  const int system_errno = db != nullptr ? sqlite3_system_errno(db) : 0;
  std::string message = std::string(path) + ": cannot " + std::string(action) + ": " +
                        (db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  const std::string system_error =
      system_errno != 0 ? std::string(" (") + std::strerror(system_errno) + ")" : std::string();
  switch (rc & 0xff) {
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH:
      return PermissionDenied(message + "; the store is read-only here");
    case SQLITE_FULL:
    case SQLITE_NOMEM:
      return ResourceExhausted(message);
    case SQLITE_IOERR:
      if (system_errno == ENOSPC || system_errno == EDQUOT) {
        return ResourceExhausted(message + system_error);
      }
      return {ErrorCode::kUnavailable, message + system_error};
    case SQLITE_CANTOPEN:
      if (system_errno == ENOENT || system_errno == ENOTDIR) {
        return NotFound(message + system_error);
      }
      return PermissionDenied(message + system_error);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return {ErrorCode::kUnavailable,
              message +
                  "; another connection held the store's lock for longer than the busy "
                  "timeout"};
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_FORMAT:
      return DataLoss(message);
    case SQLITE_TOOBIG:
      return InvalidArgument(message);
    default:
      return Internal(message);
  }
}

// --- Statement ---

Statement::Statement(Statement&& other) noexcept
    : connection_(other.connection_), stmt_(other.stmt_), bind_rc_(other.bind_rc_) {
  other.stmt_ = nullptr;
}

Statement::~Statement() {
  if (stmt_ == nullptr) return;
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

Statement& Statement::Check(int rc) {
  if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  return *this;
}

Statement& Statement::BindInt(int index, int64_t value) {
  return Check(sqlite3_bind_int64(stmt_, index, value));
}

Statement& Statement::BindDouble(int index, double value) {
  return Check(sqlite3_bind_double(stmt_, index, value));
}

Statement& Statement::BindText(int index, std::string_view text) {
  return Check(
      sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
}

Statement& Statement::BindBlob(int index, std::span<const std::byte> blob) {
  // SQLITE_STATIC: the caller's bytes outlive the statement's next Step.
  return Check(sqlite3_bind_blob64(stmt_, index, blob.data(), blob.size(), SQLITE_STATIC));
}

Statement& Statement::BindNull(int index) { return Check(sqlite3_bind_null(stmt_, index)); }

Result<bool> Statement::Step() {
  if (bind_rc_ != SQLITE_OK) return connection_->Error(bind_rc_);
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return connection_->Error(rc);
}

Status Statement::Run() {
  for (;;) {
    Result<bool> row = Step();
    if (!row.ok()) return row.status();
    if (!*row) return Status::Ok();
  }
}

bool Statement::IsNull(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

int64_t Statement::Int(int column) const { return sqlite3_column_int64(stmt_, column); }

double Statement::Double(int column) const {
  return IsNull(column) ? std::nan("") : sqlite3_column_double(stmt_, column);
}

std::string Statement::Text(int column) const {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
  return text == nullptr
             ? std::string()
             : std::string(text, static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
}

std::span<const std::byte> Statement::Blob(int column) const {
  const auto* data = static_cast<const std::byte*>(sqlite3_column_blob(stmt_, column));
  return {data, data == nullptr ? 0 : static_cast<size_t>(sqlite3_column_bytes(stmt_, column))};
}

// --- Connection ---

Result<std::unique_ptr<Connection>> Connection::Open(const std::string& path, bool read_only,
                                                     int busy_timeout_ms) {
  // The store serialises calls itself, so the connection needs no mutex of its own.
  const int flags =
      (read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
      SQLITE_OPEN_NOMUTEX;
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    Status status = SqliteStatus(db, rc, path, "open the store");
    sqlite3_close_v2(db);
    return status;
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, busy_timeout_ms);
  return std::unique_ptr<Connection>(new Connection(db, path, busy_timeout_ms));
}

Status Connection::Error(int rc) const {
  Status status = SqliteStatus(db_, rc, path_, action_);
  if ((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED) return status;
  return {status.code(), status.message() + " (" + std::to_string(busy_timeout_ms_) + " ms)"};
}

Connection::~Connection() {
  for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
  sqlite3_close_v2(db_);
}

Result<Statement> Connection::Prepare(std::string_view sql) {
  auto it = statements_.find(std::string(sql));
  if (it == statements_.end()) {
    sqlite3_stmt* stmt = nullptr;
    const int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                      SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) return Error(rc);
    it = statements_.emplace(std::string(sql), stmt).first;
  } else if (sqlite3_stmt_busy(it->second)) {
    return Internal(path_ + ": statement used twice at once: " + std::string(sql));
  }
  return Statement(this, it->second);
}

Status Connection::Exec(const std::string& sql) {
  const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr);
  return rc == SQLITE_OK ? Status::Ok() : Error(rc);
}

Result<int64_t> Connection::PragmaInt(std::string_view name) {
  Result<Statement> stmt = Prepare("PRAGMA " + std::string(name));
  if (!stmt.ok()) return stmt.status();
  Result<bool> row = stmt->Step();
  if (!row.ok()) return row.status();
  if (!*row) return Internal(path_ + ": PRAGMA " + std::string(name) + " returned no value");
  return stmt->Int(0);
}

Result<std::string> Connection::SwitchToWal() {
  // Changing the journal mode upgrades the pragma's own read lock to an exclusive one, and SQLite
  // never calls the busy handler for an upgrade (two upgraders would deadlock). So connections
  // that open a new file at once get SQLITE_BUSY immediately; they wait here instead.
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(busy_timeout_ms_);
  auto pause = std::chrono::milliseconds(1);
  for (;;) {
    Result<Statement> stmt = Prepare("PRAGMA journal_mode = WAL");
    if (!stmt.ok()) return stmt.status();
    Result<bool> row = stmt->Step();
    if (row.ok()) return *row ? stmt->Text(0) : std::string();
    const int rc = sqlite3_errcode(db_) & 0xff;
    if ((rc != SQLITE_BUSY && rc != SQLITE_LOCKED) ||
        std::chrono::steady_clock::now() >= deadline) {
      return row.status();
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(20));
  }
}

// --- Transaction ---

Result<Transaction> Transaction::Write(Connection& connection) {
  Status begun = connection.Exec("BEGIN IMMEDIATE");
  if (!begun.ok()) return begun;
  return Transaction(&connection);
}

Result<Transaction> Transaction::Read(Connection& connection) {
  Status begun = connection.Exec("BEGIN");
  if (!begun.ok()) return begun;
  return Transaction(&connection);
}

Transaction::~Transaction() {
  // SQLite may already have rolled back after an error (a full disk); then there is nothing to do.
  if (connection_ != nullptr && sqlite3_get_autocommit(connection_->handle()) == 0) {
    sqlite3_exec(connection_->handle(), "ROLLBACK", nullptr, nullptr, nullptr);
  }
}

Status Transaction::Commit() {
  Status committed = connection_->Exec("COMMIT");
  if (committed.ok()) connection_ = nullptr;
  return committed;
}

}  // namespace labbook::track::sqlite
