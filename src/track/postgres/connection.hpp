// PostgreSQL connections of the store over libpq: the URI and what may be shown of it, one
// connection with parameterised statements, the pool the store's threads share, and the one
// mapping of PostgreSQL's SQLSTATEs to labbook's ErrorCode.
//
// A libpq connection serves one thread at a time, so the store keeps a ConnectionPool: a call
// takes a connection for one transaction and gives it back. Results always come in libpq's binary
// format (integers big-endian, bytea as raw bytes, text as its bytes); parameters go as text,
// except bytes, which go binary.
#pragma once

#include <libpq-fe.h>

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "labbook/status.hpp"

namespace labbook::track::postgres {

// What the store knows of where it connects. Only `conninfo` holds the password.
struct ServerAddress {
  std::string conninfo;     // the URI as given, for libpq
  std::string display_uri;  // the URI without its password: uri(), and every message
  std::string host;         // as libpq will use them (its defaults filled in)
  std::string port;
  std::string database;
  std::string password;  // empty: none; scrubbed from any message libpq gives
};

// Parses "postgresql://[user[:password]@][host][:port][/database][?param=value...]" (also
// "postgres://"). kInvalidArgument naming the problem (and the URI without its password).
[[nodiscard]] Result<ServerAddress> ParseServerAddress(const std::string& uri);

// Statement parameters ($1, $2, ...), in order.
class Params {
 public:
  Params& Text(std::string_view text);
  Params& Int(int64_t value);
  Params& Double(double value);  // NaN and infinities as PostgreSQL spells them
  Params& Bytes(std::span<const std::byte> bytes);
  Params& Null();
  // A bigint[] literal, for "= ANY($n::bigint[])".
  Params& IntArray(std::span<const int64_t> values);

  int size() const { return static_cast<int>(values_.size()); }
  const char* const* values() const { return pointers_.data(); }
  const int* lengths() const { return lengths_.data(); }
  const int* formats() const { return formats_.data(); }
  // Fixes the pointers once every parameter is in (values_ may move while it grows).
  void Seal();
  // The index of the first text parameter holding a NUL byte (which PostgreSQL's text cannot
  // store and libpq would silently cut), or -1.
  int FirstTextWithNul() const;

 private:
  Params& Add(std::string bytes, bool binary, bool null);

  std::vector<std::string> values_;
  std::vector<bool> nulls_;
  std::vector<const char*> pointers_;
  std::vector<int> lengths_;
  std::vector<int> formats_;
};

// The rows of one statement, in binary format. Columns are 0-based.
class Rows {
 public:
  explicit Rows(PGresult* result) : result_(result, &PQclear) {}

  int size() const { return PQntuples(result_.get()); }
  bool empty() const { return size() == 0; }
  bool IsNull(int row, int column) const { return PQgetisnull(result_.get(), row, column) == 1; }
  // smallint, integer or bigint.
  int64_t Int(int row, int column) const;
  double Double(int row, int column) const;  // double precision
  std::string Text(int row, int column) const;
  // Valid while this Rows lives.
  std::span<const std::byte> Bytes(int row, int column) const;
  // The number of rows an INSERT, UPDATE or DELETE touched.
  int64_t Affected() const;

 private:
  std::unique_ptr<PGresult, void (*)(PGresult*)> result_;
};

class Connection {
 public:
  // Connects; kUnavailable naming host, port and database when the server cannot be reached,
  // kNotFound when it has no such database, kUnauthenticated when it refuses the user or the
  // credentials.
  [[nodiscard]] static Result<std::unique_ptr<Connection>> Open(const ServerAddress& address);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  // Runs one statement; its rows (none for most writes).
  [[nodiscard]] Result<Rows> Query(const std::string& sql, Params params = {});
  // Runs statements that take no parameters and return no rows (a migration script).
  [[nodiscard]] Status Exec(const std::string& sql);

  // Whether the last failure may go away by running the transaction again: a deadlock, a
  // serialisation failure, or a connection lost before COMMIT was sent.
  bool retryable() const { return retryable_; }
  void clear_retryable() { retryable_ = false; }
  bool broken() const { return PQstatus(conn_) != CONNECTION_OK; }

  // What the store is doing, for error messages ("log history of run '3kx9a0bq'").
  void set_action(std::string action) { action_ = std::move(action); }

 private:
  Connection(PGconn* conn, const ServerAddress* address) : conn_(conn), address_(address) {}
  // The Status of a failed statement (or of a lost connection when `result` is null).
  Status Error(const PGresult* result);

  PGconn* conn_;
  const ServerAddress* address_;  // owned by the pool, which outlives its connections
  std::string action_ = "open the store";
  bool retryable_ = false;
};

// Up to `max_connections` connections to one server, opened when first needed. Any thread may
// Acquire; it waits while all are in use.
class ConnectionPool {
 public:
  ConnectionPool(ServerAddress address, int max_connections)
      : address_(std::move(address)), max_connections_(max_connections) {}

  // A connection taken from the pool; it goes back on destruction (closed when broken).
  class Lease {
   public:
    Lease(ConnectionPool* pool, std::unique_ptr<Connection> connection)
        : pool_(pool), connection_(std::move(connection)) {}
    Lease(Lease&&) = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    Connection& operator*() const { return *connection_; }
    Connection* operator->() const { return connection_.get(); }

   private:
    ConnectionPool* pool_;
    std::unique_ptr<Connection> connection_;
  };

  [[nodiscard]] Result<Lease> Acquire();
  const ServerAddress& address() const { return address_; }

 private:
  void Release(std::unique_ptr<Connection> connection);

  const ServerAddress address_;
  const int max_connections_;
  std::mutex mutex_;
  std::condition_variable returned_;
  std::vector<std::unique_ptr<Connection>> idle_;
  int open_ = 0;  // idle, lent, or being opened
};

// "message" with every occurrence of `password` replaced by "***".
std::string Scrubbed(std::string message, const std::string& password);

}  // namespace labbook::track::postgres
