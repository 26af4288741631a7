#include "server/web/web_routes.hpp"

#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>

namespace labbook::server {
namespace {

namespace fs = std::filesystem;

// The page loads only its own script and stylesheet and talks only to this server; images may be
// blob: URLs the page makes from authorised downloads. uPlot sizes its elements with inline
// styles, hence style-src 'unsafe-inline'.
constexpr char kContentSecurityPolicy[] =
    "default-src 'self'; img-src 'self' blob: data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'";

struct LoadedFile {
  std::string media_type;
  std::string etag;
  std::string bytes;
};

std::string MediaTypeOf(const fs::path& path) {
  const std::string extension = path.extension().string();
  if (extension == ".html") return "text/html; charset=utf-8";
  if (extension == ".js") return "text/javascript; charset=utf-8";
  if (extension == ".css") return "text/css; charset=utf-8";
  if (extension == ".svg") return "image/svg+xml";
  if (extension == ".png") return "image/png";
  return "application/octet-stream";
}

// `url_path` ("/index.html", "/assets/app.js") from the directory or the embedded bundle;
// nullopt when there is no such file.
std::optional<LoadedFile> Load(const fs::path& web_dir, const std::string& url_path) {
  if (web_dir.empty()) {
    for (const WebFile& file : EmbeddedWebFiles()) {
      if (file.path == url_path) {
        return LoadedFile{std::string(file.media_type), std::string(file.etag),
                          std::string(file.bytes)};
      }
    }
    return std::nullopt;
  }
  const fs::path path = web_dir / url_path.substr(1);
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::ostringstream etag;
  etag << "\"" << std::hex << std::hash<std::string>{}(bytes) << "-" << bytes.size() << "\"";
  return LoadedFile{MediaTypeOf(path), etag.str(), std::move(bytes)};
}

Status Serve(const fs::path& web_dir, const std::string& url_path, Request& request,
             httplib::Response& response) {
  std::optional<LoadedFile> file = Load(web_dir, url_path);
  if (!file) {
    if (url_path == "/index.html") {
      return Internal(
          "the dashboard is missing from " +
          (web_dir.empty() ? std::string("this build") : "--web-dir " + web_dir.string()) +
          "; build it with `node web/build.mjs DIR`");
    }
    return NotFound("no dashboard file " + url_path);
  }
  // Revalidated on every load, so a new server version never runs with an old page.
  response.set_header("Cache-Control", "no-cache");
  response.set_header("ETag", file->etag);
  response.set_header("X-Content-Type-Options", "nosniff");
  response.set_header("Referrer-Policy", "no-referrer");
  if (url_path == "/index.html") {
    response.set_header("Content-Security-Policy", kContentSecurityPolicy);
  }
  if (request.http().get_header_value("If-None-Match") == file->etag) {
    response.status = 304;
    return Status::Ok();
  }
  response.status = 200;
  response.set_content(std::move(file->bytes), file->media_type.c_str());
  return Status::Ok();
}

}  // namespace

void AddWebRoutes(Router& router, const fs::path& web_dir) {
  auto page = [web_dir](Request& request, httplib::Response& response) {
    return Serve(web_dir, "/index.html", request, response);
  };
  router.Add("GET", "/", page);
  router.Add("GET", "/(?:projects|runs|compare|datasets)(?:/.*)?", page);
  router.Add("GET", "/assets/([A-Za-z0-9_-][A-Za-z0-9._-]*)",
             [web_dir](Request& request, httplib::Response& response) {
               return Serve(web_dir, "/assets/" + request.params()[0], request, response);
             });
}

}  // namespace labbook::server
