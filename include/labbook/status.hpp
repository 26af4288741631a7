// Status and Result<T>: how every fallible labbook call reports failure.
//
// One ErrorCode enum covers the whole project. Each code maps to exactly one HTTP status (for the
// server) and one process exit code (for the command line); only main() turns a Status into an
// exit code. Status and Result are plain values: copyable, movable, not thread-safe to mutate.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "labbook/export.hpp"

namespace labbook {

enum class ErrorCode {
  kOk = 0,
  kInvalidArgument,    // bad input from the caller: a flag, a field, a malformed file
  kNotFound,           // a file, dataset, run or key that does not exist
  kAlreadyExists,      // creating something that is already there
  kPermissionDenied,   // authenticated but not allowed, or a read-only file or store
  kUnauthenticated,    // missing or wrong credentials
  kFailedPrecondition, // the system is not in a state that allows the call
  kDataLoss,           // corrupt or truncated data
  kResourceExhausted,  // disk full, queue full, memory
  kUnavailable,        // a service that may come back (server down, database locked)
  kUnimplemented,      // a valid request for something labbook does not do
  kInternal,           // a broken invariant: a bug in labbook
  kPayloadTooLarge,    // a request or file over a stated size limit
  kMethodNotAllowed,   // a known server route asked with a method it does not answer
};

// Stable lower-case name of a code, e.g. "invalid_argument".
LABBOOK_EXPORT std::string_view ErrorCodeName(ErrorCode code);
// The HTTP status a server answers with for this code (200 for kOk).
LABBOOK_EXPORT int HttpStatusFor(ErrorCode code);
// The process exit code the command line returns for this code (0 for kOk, 1..15 otherwise).
LABBOOK_EXPORT int ExitCodeFor(ErrorCode code);
// The code whose ErrorCodeName is `name` (the "code" of a server's error body); nullopt for a
// name that is none (nor for "ok").
LABBOOK_EXPORT std::optional<ErrorCode> ErrorCodeNamed(std::string_view name);
// The code an HTTP error status stands for: the one code HttpStatusFor maps to it; else
// kUnavailable for a gateway's 502 or 504, kInternal for another 5xx, kInvalidArgument otherwise.
LABBOOK_EXPORT ErrorCode ErrorCodeForHttpStatus(int status);

class [[nodiscard]] LABBOOK_EXPORT Status {
 public:
  Status() = default;
  Status(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == ErrorCode::kOk; }
  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "invalid_argument: <message>", or "ok".
  std::string ToString() const;

  // Returns a copy whose message is "<context>: <message>"; ok stays ok.
  Status WithContext(std::string_view context) const;

  // Marks a status as deliberately ignored.
  void IgnoreError() const {}

 private:
  ErrorCode code_ = ErrorCode::kOk;
  std::string message_;
};

inline Status InvalidArgument(std::string message) {
  return {ErrorCode::kInvalidArgument, std::move(message)};
}
inline Status NotFound(std::string message) { return {ErrorCode::kNotFound, std::move(message)}; }
inline Status DataLoss(std::string message) { return {ErrorCode::kDataLoss, std::move(message)}; }
inline Status Internal(std::string message) { return {ErrorCode::kInternal, std::move(message)}; }
inline Status FailedPrecondition(std::string message) {
  return {ErrorCode::kFailedPrecondition, std::move(message)};
}
inline Status PermissionDenied(std::string message) {
  return {ErrorCode::kPermissionDenied, std::move(message)};
}
inline Status ResourceExhausted(std::string message) {
  return {ErrorCode::kResourceExhausted, std::move(message)};
}

// Either a value of T or a non-ok Status. Accessing value() of an error is a bug (asserted).
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : data_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : data_(std::move(status)) {  // NOLINT: implicit by design
    assert(!std::get<Status>(data_).ok() && "Result built from an ok Status has no value");
  }

  bool ok() const { return std::holds_alternative<T>(data_); }
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(data_); }

  T& value() & { return std::get<T>(data_); }
  const T& value() const& { return std::get<T>(data_); }
  T&& value() && { return std::get<T>(std::move(data_)); }

  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> data_;
};

}  // namespace labbook
