#include "track/postgres/connection.hpp"

#include <endian.h>

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstring>

#include "track/postgres/postgres_store.hpp"

namespace labbook::track::postgres {
namespace {

// How long opening a connection may take unless the URI says otherwise (connect_timeout).
constexpr char kDefaultConnectTimeoutSeconds[] = "10";

// Whether `sqlstate` (five characters) is of class `cls` (two).
bool OfClass(std::string_view sqlstate, std::string_view cls) {
  return sqlstate.substr(0, 2) == cls;
}

std::string Trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

// The value of `keyword` in libpq's parsed options, or `fallback`.
std::string OptionValue(PQconninfoOption* options, std::string_view keyword,
                        const std::string& fallback) {
  for (PQconninfoOption* option = options; option->keyword != nullptr; ++option) {
    if (keyword == option->keyword && option->val != nullptr && *option->val != '\0') {
      return option->val;
    }
  }
  return fallback;
}

}  // namespace

std::string Scrubbed(std::string message, const std::string& password) {
  if (password.empty()) return message;
  for (size_t at = message.find(password); at != std::string::npos;
       at = message.find(password, at + 3)) {
    message.replace(at, password.size(), "***");
  }
  return message;
}

std::string WithoutPassword(const std::string& uri) {
  const size_t scheme_end = uri.find("://");
  if (scheme_end == std::string::npos) return uri;
  const size_t authority = scheme_end + 3;
  const size_t authority_end = std::min(uri.find_first_of("/?#", authority), uri.size());
  std::string result = uri;
  const size_t at = uri.rfind('@', authority_end - 1);
  if (at != std::string::npos && at >= authority) {
    const size_t colon = uri.find(':', authority);
    if (colon != std::string::npos && colon < at) {
      result = uri.substr(0, colon) + uri.substr(at);
    }
  }
  // A password may also come as a query parameter.
  const size_t query = result.find('?');
  if (query == std::string::npos) return result;
  std::string kept;
  size_t start = query + 1;
  while (start <= result.size()) {
    const size_t end = std::min(result.find('&', start), result.size());
    const std::string param = result.substr(start, end - start);
    if (!param.starts_with("password=") && !param.empty()) {
      kept += (kept.empty() ? "" : "&") + param;
    }
    start = end + 1;
  }
  return result.substr(0, query) + (kept.empty() ? "" : "?" + kept);
}

Result<ServerAddress> ParseServerAddress(const std::string& uri) {
  ServerAddress address;
  address.conninfo = uri;
  address.display_uri = WithoutPassword(uri);
  if (!uri.starts_with("postgresql://") && !uri.starts_with("postgres://")) {
    return InvalidArgument("store URI '" + address.display_uri +
                           "' must start with postgresql:// or postgres://");
  }
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(uri.c_str(), &error);
  if (options == nullptr) {
    std::string why = error != nullptr ? Trimmed(error) : "out of memory";
    PQfreemem(error);
    return InvalidArgument("store URI '" + address.display_uri +
                           "' is not a PostgreSQL URI: " + Scrubbed(why, uri));
  }
  address.password = OptionValue(options, "password", "");
  address.host = OptionValue(options, "host", OptionValue(options, "hostaddr", "localhost"));
  address.port = OptionValue(options, "port", "5432");
  address.database = OptionValue(options, "dbname", OptionValue(options, "user", ""));
  PQconninfoFree(options);
  // libpq checks the port only when connecting, and would call it unreachable.
  if (address.port.empty() || address.port.find_first_not_of("0123456789,") != std::string::npos) {
    return InvalidArgument("store URI '" + address.display_uri + "': port '" + address.port +
                           "' must be a number");
  }
  return address;
}

// --- Params ---

Params& Params::Add(std::string bytes, bool binary, bool null) {
  values_.push_back(std::move(bytes));
  nulls_.push_back(null);
  formats_.push_back(binary ? 1 : 0);
  return *this;
}

Params& Params::Text(std::string_view text) { return Add(std::string(text), false, false); }

Params& Params::Int(int64_t value) { return Add(std::to_string(value), false, false); }

Params& Params::Double(double value) {
  if (std::isnan(value)) return Add("NaN", false, false);
  if (std::isinf(value)) return Add(value > 0 ? "Infinity" : "-Infinity", false, false);
  char text[64];
  // The shortest text that reads back as the same double.
  const auto [end, ec] = std::to_chars(text, text + sizeof text, value);
  return Add(std::string(text, end), false, false);
}

Params& Params::Bytes(std::span<const std::byte> bytes) {
  return Add(std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size()), true, false);
}

Params& Params::Null() { return Add("", false, true); }

Params& Params::IntArray(std::span<const int64_t> values) {
  std::string literal = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) literal += ',';
    literal += std::to_string(values[i]);
  }
  return Add(literal + "}", false, false);
}

void Params::Seal() {
  pointers_.clear();
  lengths_.clear();
  for (size_t i = 0; i < values_.size(); ++i) {
    pointers_.push_back(nulls_[i] ? nullptr : values_[i].data());
    lengths_.push_back(static_cast<int>(values_[i].size()));
  }
}

int Params::FirstTextWithNul() const {
  for (size_t i = 0; i < values_.size(); ++i) {
    if (formats_[i] == 0 && values_[i].find('\0') != std::string::npos) return static_cast<int>(i);
  }
  return -1;
}

// --- Rows ---

int64_t Rows::Int(int row, int column) const {
  const char* bytes = PQgetvalue(result_.get(), row, column);
  switch (PQgetlength(result_.get(), row, column)) {
    case 2: {
      uint16_t v;
      std::memcpy(&v, bytes, 2);
      return static_cast<int16_t>(be16toh(v));
    }
    case 4: {
      uint32_t v;
      std::memcpy(&v, bytes, 4);
      return static_cast<int32_t>(be32toh(v));
    }
    case 8: {
      uint64_t v;
      std::memcpy(&v, bytes, 8);
      return static_cast<int64_t>(be64toh(v));
    }
    default:
      return 0;  // NULL
  }
}

double Rows::Double(int row, int column) const {
  if (IsNull(row, column)) return std::nan("");
  uint64_t v;
  std::memcpy(&v, PQgetvalue(result_.get(), row, column), 8);
  return std::bit_cast<double>(be64toh(v));
}

std::string Rows::Text(int row, int column) const {
  return std::string(PQgetvalue(result_.get(), row, column),
                     static_cast<size_t>(PQgetlength(result_.get(), row, column)));
}

std::span<const std::byte> Rows::Bytes(int row, int column) const {
  return {reinterpret_cast<const std::byte*>(PQgetvalue(result_.get(), row, column)),
          static_cast<size_t>(PQgetlength(result_.get(), row, column))};
}

int64_t Rows::Affected() const {
  const char* tuples = PQcmdTuples(result_.get());
  return tuples != nullptr && *tuples != '\0' ? std::strtoll(tuples, nullptr, 10) : 0;
}

// --- Connection ---

Result<std::unique_ptr<Connection>> Connection::Open(const ServerAddress& address) {
  // Earlier keywords are defaults that the URI (expanded from dbname) may override.
  const char* keywords[] = {"connect_timeout", "application_name", "dbname", nullptr};
  const char* values[] = {kDefaultConnectTimeoutSeconds, "labbook", address.conninfo.c_str(),
                          nullptr};
  PGconn* conn = PQconnectdbParams(keywords, values, /*expand_dbname=*/1);
  if (conn == nullptr) return ResourceExhausted("cannot allocate a PostgreSQL connection");
  if (PQstatus(conn) != CONNECTION_OK) {
    const std::string why = Scrubbed(Trimmed(PQerrorMessage(conn)), address.password);
    PQfinish(conn);
    const std::string message = "cannot connect to PostgreSQL at " + address.host + ":" +
                                address.port + ", database '" + address.database + "' (" +
                                address.display_uri + "): " + why;
    if (why.find("password authentication failed") != std::string::npos ||
        why.find("no password supplied") != std::string::npos ||
        (why.find("role \"") != std::string::npos &&
         why.find("does not exist") != std::string::npos)) {
      return Status(ErrorCode::kUnauthenticated, message);
    }
    if (why.find("database \"") != std::string::npos &&
        why.find("does not exist") != std::string::npos) {
      return NotFound(message);
    }
    return Status(ErrorCode::kUnavailable, message);
  }
  // Messages of the server stay out of the client's stderr; errors carry them.
  PQsetNoticeProcessor(
      conn, [](void*, const char*) {}, nullptr);
  auto connection = std::unique_ptr<Connection>(new Connection(conn, &address));
  return connection;
}

Connection::~Connection() { PQfinish(conn_); }

Status Connection::Error(const PGresult* result) {
  const char* state = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  const std::string sqlstate = state != nullptr ? state : "";
  const char* primary =
      result != nullptr ? PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  const std::string why = Scrubbed(
      Trimmed(primary != nullptr ? std::string(primary) : std::string(PQerrorMessage(conn_))),
      address_->password);
  const std::string message = address_->display_uri + ": cannot " + action_ + ": " + why;
  if (sqlstate.empty() || broken()) {
    // No SQLSTATE: the connection failed; the transaction did not commit.
    retryable_ = true;
    return Status(ErrorCode::kUnavailable, message + " (the connection to " + address_->host + ":" +
                                               address_->port + " was lost)");
  }
  if (sqlstate == "40001" || sqlstate == "40P01") {
    retryable_ = true;
    return Status(ErrorCode::kUnavailable,
                  message + "; concurrent transactions kept conflicting with this one");
  }
  if (sqlstate == "23505") return Status(ErrorCode::kAlreadyExists, message);
  if (sqlstate == "23503") return NotFound(message);
  if (sqlstate == "25006" || sqlstate == "42501") {
    return PermissionDenied(message + "; the store is read-only for this user");
  }
  if (OfClass(sqlstate, "53")) {
    return sqlstate == "53300" ? Status(ErrorCode::kUnavailable, message)
                               : ResourceExhausted(message);
  }
  if (OfClass(sqlstate, "08") || OfClass(sqlstate, "57")) {
    return Status(ErrorCode::kUnavailable, message);
  }
  if (OfClass(sqlstate, "28")) return Status(ErrorCode::kUnauthenticated, message);
  if (OfClass(sqlstate, "22") || OfClass(sqlstate, "54")) return InvalidArgument(message);
  if (OfClass(sqlstate, "XX")) return DataLoss(message);
  return Internal(message + " (SQLSTATE " + sqlstate + ")");
}

Result<Rows> Connection::Query(const std::string& sql, Params params) {
  if (const int nul = params.FirstTextWithNul(); nul >= 0) {
    return InvalidArgument(address_->display_uri + ": cannot " + action_ + ": text value $" +
                           std::to_string(nul + 1) +
                           " holds a NUL byte, which PostgreSQL cannot store");
  }
  params.Seal();
  PGresult* result =
      PQexecParams(conn_, sql.c_str(), params.size(), /*paramTypes=*/nullptr, params.values(),
                   params.lengths(), params.formats(), /*resultFormat=*/1);
  const ExecStatusType status = result != nullptr ? PQresultStatus(result) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return Rows(result);
  Status error = Error(result);
  PQclear(result);
  return error;
}

Status Connection::Exec(const std::string& sql) {
  PGresult* result = PQexec(conn_, sql.c_str());
  const ExecStatusType status = result != nullptr ? PQresultStatus(result) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
    PQclear(result);
    return Status::Ok();
  }
  Status error = Error(result);
  PQclear(result);
  return error;
}

// --- ConnectionPool ---

ConnectionPool::Lease::~Lease() {
  if (connection_ != nullptr) pool_->Release(std::move(connection_));
}

Result<ConnectionPool::Lease> ConnectionPool::Acquire() {
  std::unique_lock lock(mutex_);
  returned_.wait(lock, [&] { return !idle_.empty() || open_ < max_connections_; });
  if (!idle_.empty()) {
    std::unique_ptr<Connection> connection = std::move(idle_.back());
    idle_.pop_back();
    return Lease(this, std::move(connection));
  }
  ++open_;
  lock.unlock();
  // Connecting takes a round trip or more: other threads use the pool meanwhile.
  Result<std::unique_ptr<Connection>> opened = Connection::Open(address_);
  if (!opened.ok()) {
    lock.lock();
    --open_;
    lock.unlock();
    returned_.notify_one();
    return opened.status();
  }
  return Lease(this, std::move(opened).value());
}

void ConnectionPool::Release(std::unique_ptr<Connection> connection) {
  {
    std::lock_guard lock(mutex_);
    if (connection->broken()) {
      --open_;
    } else {
      connection->clear_retryable();
      idle_.push_back(std::move(connection));
    }
  }
  returned_.notify_one();
  // A broken connection is closed here, outside the lock.
}

}  // namespace labbook::track::postgres
