// The dashboard's page and its assets (web/, bundled by web/build.mjs): GET / and every page
// URL (/projects/..., /runs/..., /compare, /datasets/...) answer index.html, /assets/NAME the
// script and stylesheet. The page reads everything else through the REST API, so these routes
// need no key and hold no data.
#pragma once

#include <filesystem>
#include <string_view>
#include <vector>

#include "server/router.hpp"

namespace labbook::server {

// One file of the bundle as served: `path` is its URL path ("/index.html", "/assets/app.js"),
// `etag` a quoted strong ETag of its bytes.
struct WebFile {
  std::string_view path;
  std::string_view media_type;
  std::string_view etag;
  std::string_view bytes;
};

// The bundle compiled into the binary at build time (generated from web/ by embed_assets.mjs).
const std::vector<WebFile>& EmbeddedWebFiles();

// Adds the page routes. With `web_dir` empty they serve the embedded bundle; otherwise the
// files of `web_dir` (the output of `node web/build.mjs DIR`), read at each request, so a
// rebuilt page shows on reload while the server runs.
void AddWebRoutes(Router& router, const std::filesystem::path& web_dir);

}  // namespace labbook::server
