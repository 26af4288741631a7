#include "server/router.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <exception>
#include <set>
#include <string>
#include <string_view>
#include <utility>

#include "core/status_macros.hpp"
#include "server/auth/access.hpp"
#include "track/http/wire.hpp"

namespace labbook::server {
namespace {

// Bodies at most this large are read and dropped when a handler did not read them, so the
// connection can carry the next request; larger ones close the connection instead.
constexpr size_t kDrainLimit = 1u << 20;

std::string FormatBytes(size_t bytes) {
  if (bytes >= (1u << 30) && bytes % (1u << 30) == 0) return std::to_string(bytes >> 30) + " GiB";
  if (bytes >= (1u << 20) && bytes % (1u << 20) == 0) return std::to_string(bytes >> 20) + " MiB";
  if (bytes >= (1u << 10) && bytes % (1u << 10) == 0) return std::to_string(bytes >> 10) + " KiB";
  return std::to_string(bytes) + " bytes";
}

Status TooLarge(size_t limit) {
  return {ErrorCode::kPayloadTooLarge,
          "the request body is larger than this route's limit of " + FormatBytes(limit)};
}

// Whether the request carries a body at all: without a length or chunked encoding it has none,
// and reading would wait for bytes that never come.
bool HasBody(const httplib::Request& http) {
  if (http.has_header("Transfer-Encoding")) return true;
  return http.has_header("Content-Length") && http.get_header_value("Content-Length") != "0";
}

bool MethodMatches(const std::string& route_method, const std::string& request_method) {
  return route_method == request_method || (route_method == "GET" && request_method == "HEAD");
}

// Whether an Accept-Encoding value offers gzip ("gzip", "x-gzip" or "*", with a q above 0).
bool AcceptsGzip(std::string_view value) {
  std::string offer(value);
  std::transform(offer.begin(), offer.end(), offer.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  offer.erase(std::remove_if(offer.begin(), offer.end(),
                             [](unsigned char c) { return std::isspace(c) != 0; }),
              offer.end());
  for (size_t begin = 0; begin <= offer.size();) {
    size_t end = offer.find(',', begin);
    if (end == std::string::npos) end = offer.size();
    const std::string_view item = std::string_view(offer).substr(begin, end - begin);
    begin = end + 1;
    const size_t semicolon = item.find(';');
    const std::string_view name = item.substr(0, semicolon);
    double q = 1;
    if (const size_t at = item.find(";q="); at != std::string_view::npos) {
      q = std::strtod(std::string(item.substr(at + 3)).c_str(), nullptr);
    }
    if (q > 0 && (name == "gzip" || name == "x-gzip" || name == "*")) return true;
  }
  return false;
}

// Text bodies of at least 1 KiB, compressed at zlib's fastest level: on a loopback or LAN link
// the time to deflate, not the bytes, is what a reader waits for.
void CompressBody(httplib::Response& response) {
  constexpr size_t kSmallest = 1024;
  const std::string type = response.get_header_value("Content-Type");
  const bool text = type.starts_with("text/") || type.starts_with("application/json") ||
                    type.starts_with("application/javascript") ||
                    type.starts_with("image/svg+xml");
  if (!text || response.body.size() < kSmallest || response.has_header("Content-Encoding")) return;
  Result<std::string> packed = track::wire::Gzip(response.body, track::wire::kGzipFastLevel);
  if (!packed.ok()) return;  // sent as it is
  response.body = std::move(*packed);
  response.set_header("Content-Encoding", "gzip");
  response.set_header("Vary", "Accept-Encoding");
}

}  // namespace

std::optional<std::string> Request::Query(const std::string& name) const {
  if (!http_.has_param(name.c_str())) return std::nullopt;
  return http_.get_param_value(name.c_str());
}

Result<std::string> Request::Body() {
  if (body_consumed_) return Internal("the request body of " + path() + " was read twice");
  body_consumed_ = true;
  if (reader_ == nullptr) {
    if (http_.body.size() > body_limit_) return TooLarge(body_limit_);
    return http_.body;
  }
  std::string body;
  if (!HasBody(http_)) return body;
  bool too_large = false;
  const bool complete = (*reader_)([&](const char* data, size_t length) {
    if (body.size() + length > body_limit_) {
      too_large = true;
      return false;
    }
    body.append(data, length);
    return true;
  });
  if (too_large) return TooLarge(body_limit_);
  if (!complete) return InvalidArgument("the request body of " + path() + " ended early");
  return body;
}

Result<nlohmann::json> Request::JsonBody() {
  LABBOOK_ASSIGN_OR_RETURN(std::string body, Body());
  if (body.empty()) return InvalidArgument("the request body is empty; expected a JSON document");
  return track::wire::ParseJson(body, "request body");
}

Status Request::StreamBody(const std::function<bool(const char*, size_t)>& sink) {
  if (body_consumed_) return Internal("the request body of " + path() + " was read twice");
  body_consumed_ = true;
  if (reader_ == nullptr) {
    if (http_.body.size() > body_limit_) return TooLarge(body_limit_);
    if (!http_.body.empty() && !sink(http_.body.data(), http_.body.size())) {
      return InvalidArgument("the request body of " + path() + " was refused");
    }
    return Status::Ok();
  }
  if (!HasBody(http_)) return Status::Ok();
  size_t received = 0;
  bool too_large = false;
  bool refused = false;
  const bool complete = (*reader_)([&](const char* data, size_t length) {
    received += length;
    if (received > body_limit_) {
      too_large = true;
      return false;
    }
    if (!sink(data, length)) {
      refused = true;
      return false;
    }
    return true;
  });
  if (too_large) return TooLarge(body_limit_);
  if (refused) return Status::Ok();  // the sink knows why it stopped
  if (!complete) return InvalidArgument("the request body of " + path() + " ended early");
  return Status::Ok();
}

void WriteJson(httplib::Response& response, const nlohmann::json& body, int status) {
  response.status = status;
  response.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                       "application/json");
}

void Router::WriteError(httplib::Response& response, const Status& status) {
  const ErrorCode code = status.ok() ? ErrorCode::kInternal : status.code();
  nlohmann::json body = {
      {"error", {{"code", std::string(ErrorCodeName(code))}, {"message", status.message()}}}};
  WriteJson(response, body, HttpStatusFor(code));
  if (code == ErrorCode::kUnauthenticated) {
    response.set_header("WWW-Authenticate", "Bearer realm=\"labbook\"");
  }
}

void Router::Add(const std::string& method, const std::string& pattern, Handler handler,
                 RouteOptions options) {
  routes_.push_back(Route{method, pattern, std::regex(pattern), std::move(handler), options});
}

void Router::Dispatch(const httplib::Request& http, httplib::Response& response,
                      const httplib::ContentReader* reader, AuthStore& auth) const {
  const auto start = std::chrono::steady_clock::now();
  // Responses are compressed here, not by the HTTP library: it answers "br" with Brotli at its
  // slowest quality (3.6 s for the 700 KB JSON of 3,000 runs) and gzip at zlib's level 6 (more than
  // half of a 1.9 MB history answer's time). The offer is emptied in the request the library
  // decides on after the handler (the request is its own object, alive until it is answered).
  bool gzip = false;
  if (auto it = http.headers.find("Accept-Encoding"); it != http.headers.end()) {
    gzip = AcceptsGzip(it->second);
    const_cast<std::string&>(it->second).clear();
  }
  std::string user = "-";
  bool body_consumed = false;

  const Route* route = nullptr;
  std::smatch match;
  std::set<std::string> allowed;
  for (const Route& candidate : routes_) {
    std::smatch candidate_match;
    if (!std::regex_match(http.path, candidate_match, candidate.regex)) continue;
    allowed.insert(candidate.method);
    if (candidate.method == "GET") allowed.insert("HEAD");
    if (route == nullptr && MethodMatches(candidate.method, http.method)) {
      route = &candidate;
      match = candidate_match;
    }
  }

  const size_t declared_length =
      http.has_header("Content-Length")
          ? static_cast<size_t>(
                std::strtoull(http.get_header_value("Content-Length").c_str(), nullptr, 10))
          : 0;

  Status status;
  if (route == nullptr && allowed.empty()) {
    status = NotFound("no route " + http.method + " " + http.path + "; see docs/api.md");
  } else if (route == nullptr) {
    std::string allow;
    for (const std::string& method : allowed) allow += (allow.empty() ? "" : ", ") + method;
    response.set_header("Allow", allow);
    status = Status(ErrorCode::kMethodNotAllowed,
                    http.path + " answers " + allow + ", not " + http.method);
  } else if (declared_length > route->options.body_limit && !http.has_header("Content-Encoding")) {
    status = TooLarge(route->options.body_limit);
  } else {
    auto principal = AuthenticateHeader(auth, http.get_header_value("Authorization"));
    if (!principal.ok()) {
      status = principal.status();
    } else {
      if (!principal->has_value()) *principal = anonymous_;
      if (principal->has_value()) user = (*principal)->user;
      Request request(http, reader, route->options.body_limit);
      request.principal_ = std::move(*principal);
      for (size_t i = 1; i < match.size(); ++i)
        request.params_.push_back(match[i]);  // the path is decoded already
      try {
        status = route->handler(request, response);
      } catch (const std::exception& error) {
        status = Internal(std::string("the handler of ") + http.method + " " + route->pattern +
                          " failed: " + error.what());
      }
      body_consumed = request.body_consumed_;
    }
  }
  if (!status.ok()) WriteError(response, status);

  // An unread body would be taken for the next request on this connection.
  if (reader != nullptr && !body_consumed && HasBody(http)) {
    if (declared_length <= kDrainLimit && !http.has_header("Transfer-Encoding")) {
      size_t drained = 0;
      (*reader)([&drained](const char*, size_t length) {
        drained += length;
        return drained <= kDrainLimit;
      });
    } else {
      response.set_header("Connection", "close");
    }
  }

  if (gzip) CompressBody(response);

  if (log_) {
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    char elapsed[32];
    std::snprintf(elapsed, sizeof elapsed, "%.1fms", ms);
    log_(http.method + " " + http.path + " " + std::to_string(response.status) + " " + elapsed +
         " " + user);
  }
}

void Router::Install(httplib::Server& server, AuthStore& auth) {
  const std::string any = ".*";
  auto plain = [this, &auth](const httplib::Request& http, httplib::Response& response) {
    Dispatch(http, response, nullptr, auth);
  };
  auto streamed = [this, &auth](const httplib::Request& http, httplib::Response& response,
                                const httplib::ContentReader& reader) {
    Dispatch(http, response, &reader, auth);
  };
  server.Get(any, plain);
  server.Options(any, plain);
  server.Post(any, streamed);
  server.Put(any, streamed);
  server.Patch(any, streamed);
  server.Delete(any, streamed);

  // Errors the HTTP library answers before any route runs get the same JSON body.
  server.set_error_handler([](const httplib::Request&, httplib::Response& response) {
    if (!response.body.empty()) return;
    const ErrorCode code = ErrorCodeForHttpStatus(response.status);
    std::string message = response.status == 413   ? "the request body is too large"
                          : response.status == 400 ? "malformed HTTP request"
                                                   : "the request failed";
    const int http_status = response.status;
    WriteError(response, Status(code, message));
    response.status = http_status;
  });
  server.set_exception_handler(
      [](const httplib::Request&, httplib::Response& response, std::exception_ptr) {
        WriteError(response, Internal("the request failed inside the server"));
      });
}

}  // namespace labbook::server
