// The server's routing table: one handler per (method, path pattern), the request authenticated
// and its body bounded at the door, and the one place that turns a Status into an HTTP status and
// a JSON error body. Unknown paths are 404, a known path with another method 405 (with an Allow
// header), a body over the route's limit 413, a wrong key 401.
//
// Handlers run on the HTTP library's worker threads, several at once; they must be thread-safe.
#pragma once

#include <httplib.h>

#include <cstddef>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "labbook/status.hpp"
#include "server/auth/auth_store.hpp"

namespace labbook::server {

// A request as a handler sees it.
class Request {
 public:
  Request(const httplib::Request& http, const httplib::ContentReader* reader, size_t body_limit)
      : http_(http), reader_(reader), body_limit_(body_limit) {}

  const httplib::Request& http() const { return http_; }
  const std::string& method() const { return http_.method; }
  const std::string& path() const { return http_.path; }
  // The route's capture groups of the (once URL-decoded) path: params()[0] is the first group.
  const std::vector<std::string>& params() const { return params_; }
  // A query parameter, or nullopt.
  std::optional<std::string> Query(const std::string& name) const;
  // The caller (nullopt: no key given; a wrong key never reaches a handler).
  const std::optional<Principal>& principal() const { return principal_; }

  // The whole body (at most the route's limit: kResourceExhausted-like 413 otherwise). Read once.
  [[nodiscard]] Result<std::string> Body();
  // The body parsed as JSON: kInvalidArgument with the byte position of a syntax error.
  [[nodiscard]] Result<nlohmann::json> JsonBody();
  // Streams the body to `sink` in pieces (the route's limit applies); `sink` returning false
  // stops the transfer. For uploads that should not sit in memory.
  [[nodiscard]] Status StreamBody(const std::function<bool(const char*, size_t)>& sink);

  // Set by the router.
  std::vector<std::string> params_;
  std::optional<Principal> principal_;
  bool body_consumed_ = false;

 private:
  const httplib::Request& http_;
  const httplib::ContentReader* reader_;
  size_t body_limit_;
};

// A handler fills `response` and returns Ok, or returns an error, which the router turns into
// the error's HTTP status and {"error": {"code": "...", "message": "..."}}.
using Handler = std::function<Status(Request& request, httplib::Response& response)>;

struct RouteOptions {
  size_t body_limit = 32u << 20;  // bytes; larger bodies get 413
};

class Router {
 public:
  // `pattern` is an ECMAScript regular expression matched against the whole path, e.g.
  // "/api/v1/runs/([^/]+)". Methods: GET, HEAD, POST, PUT, PATCH, DELETE.
  void Add(const std::string& method, const std::string& pattern, Handler handler,
           RouteOptions options = {});

  // Installs the routing table on `server` (catch-all handlers for every method) with `auth`
  // for the credentials of each request. Call once, after every Add.
  void Install(httplib::Server& server, AuthStore& auth);

  // Where the access log goes: one line per request ("<method> <path> <status> <ms> <user>"),
  // the path without its query string, never a credential. Unset: no access log.
  void SetLog(std::function<void(const std::string& line)> log) { log_ = std::move(log); }
  // Who a request without credentials is: nullopt (anonymous, the default) or, for `labbook ui`
  // on loopback, the local user.
  void SetAnonymous(std::optional<Principal> principal) { anonymous_ = std::move(principal); }

  // The status and JSON body of an error, as every route answers it.
  static void WriteError(httplib::Response& response, const Status& status);

 private:
  struct Route {
    std::string method;
    std::string pattern;
    std::regex regex;
    Handler handler;
    RouteOptions options;
  };
  void Dispatch(const httplib::Request& http, httplib::Response& response,
                const httplib::ContentReader* reader, AuthStore& auth) const;
  std::vector<Route> routes_;
  std::function<void(const std::string&)> log_;
  std::optional<Principal> anonymous_;
};

// JSON responses.
void WriteJson(httplib::Response& response, const nlohmann::json& body, int status = 200);

}  // namespace labbook::server
