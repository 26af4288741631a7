#include "labbook/status.hpp"

namespace labbook {

std::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk: return "ok";
    case ErrorCode::kInvalidArgument: return "invalid_argument";
    case ErrorCode::kNotFound: return "not_found";
    case ErrorCode::kAlreadyExists: return "already_exists";
    case ErrorCode::kPermissionDenied: return "permission_denied";
    case ErrorCode::kUnauthenticated: return "unauthenticated";
    case ErrorCode::kFailedPrecondition: return "failed_precondition";
    case ErrorCode::kDataLoss: return "data_loss";
    case ErrorCode::kResourceExhausted: return "resource_exhausted";
    case ErrorCode::kUnavailable: return "unavailable";
    case ErrorCode::kUnimplemented: return "unimplemented";
    case ErrorCode::kInternal: return "internal";
    case ErrorCode::kPayloadTooLarge: return "payload_too_large";
    case ErrorCode::kMethodNotAllowed: return "method_not_allowed";
  }
  return "unknown";
}

int HttpStatusFor(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk: return 200;
    case ErrorCode::kInvalidArgument: return 400;
    case ErrorCode::kUnauthenticated: return 401;
    case ErrorCode::kPermissionDenied: return 403;
    case ErrorCode::kNotFound: return 404;
    case ErrorCode::kAlreadyExists: return 409;
    case ErrorCode::kFailedPrecondition: return 412;
    case ErrorCode::kDataLoss: return 422;
    case ErrorCode::kResourceExhausted: return 507;
    case ErrorCode::kUnimplemented: return 501;
    case ErrorCode::kUnavailable: return 503;
    case ErrorCode::kInternal: return 500;
    case ErrorCode::kPayloadTooLarge: return 413;
    case ErrorCode::kMethodNotAllowed: return 405;
  }
  return 500;
}

std::optional<ErrorCode> ErrorCodeNamed(std::string_view name) {
  for (int i = 1; i <= static_cast<int>(ErrorCode::kMethodNotAllowed); ++i) {
    const auto code = static_cast<ErrorCode>(i);
    if (ErrorCodeName(code) == name) return code;
  }
  return std::nullopt;
}

ErrorCode ErrorCodeForHttpStatus(int status) {
  for (int i = 1; i <= static_cast<int>(ErrorCode::kMethodNotAllowed); ++i) {
    const auto code = static_cast<ErrorCode>(i);
    if (HttpStatusFor(code) == status) return code;
  }
  if (status == 502 || status == 504) return ErrorCode::kUnavailable;
  return status >= 500 ? ErrorCode::kInternal : ErrorCode::kInvalidArgument;
}

int ExitCodeFor(ErrorCode code) {
  // 1 stays free for failures that never became a Status (an uncaught exception); 2 is the
  // conventional code for command-line usage errors, which CLI11 also uses.
  switch (code) {
    case ErrorCode::kOk: return 0;
    case ErrorCode::kInvalidArgument: return 2;
    case ErrorCode::kNotFound: return 3;
    case ErrorCode::kAlreadyExists: return 4;
    case ErrorCode::kPermissionDenied: return 5;
    case ErrorCode::kUnauthenticated: return 6;
    case ErrorCode::kFailedPrecondition: return 7;
    case ErrorCode::kDataLoss: return 8;
    case ErrorCode::kResourceExhausted: return 9;
    case ErrorCode::kUnavailable: return 10;
    case ErrorCode::kUnimplemented: return 11;
    case ErrorCode::kInternal: return 12;
    case ErrorCode::kPayloadTooLarge: return 13;
    case ErrorCode::kMethodNotAllowed: return 14;
  }
  return 12;
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  std::string out(ErrorCodeName(code_));
  out += ": ";
  out += message_;
  return out;
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  std::string message(context);
  message += ": ";
  message += message_;
  return Status(code_, std::move(message));
}

}  // namespace labbook
