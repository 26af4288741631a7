// The dashboard's page and assets as `labbook serve` and `labbook ui` answer them, over HTTP.
#include <zlib.h>

#include <fstream>
#include <string>

#include "server/web/web_routes.hpp"
#include "server_test_util.hpp"

namespace labbook::server {
namespace {

namespace fs = std::filesystem;

class WebTest : public ServerTest {
 protected:
  static std::string Gunzip(const std::string& packed) {
    z_stream stream{};
    EXPECT_EQ(inflateInit2(&stream, 16 + MAX_WBITS), Z_OK);
    std::string out(packed.size() * 20 + 1024, '\0');
    stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(packed.data()));
    stream.avail_in = static_cast<uInt>(packed.size());
    stream.next_out = reinterpret_cast<Bytef*>(out.data());
    stream.avail_out = static_cast<uInt>(out.size());
    EXPECT_EQ(inflate(&stream, Z_FINISH), Z_STREAM_END);
    out.resize(stream.total_out);
    inflateEnd(&stream);
    return out;
  }
  static std::string HeaderOf(const Reply& reply, const std::string& name) {
    auto it = reply.headers.find(name);
    return it == reply.headers.end() ? "" : it->second;
  }
};

TEST_F(WebTest, EveryPageUrlAnswersTheEmbeddedPage) {
  const Reply root = Get("/");
  ASSERT_EQ(root.status, 200) << root.raw;
  EXPECT_EQ(HeaderOf(root, "Content-Type"), "text/html; charset=utf-8");
  EXPECT_NE(root.raw.find("<script src=\"/assets/app.js\">"), std::string::npos) << root.raw;
  EXPECT_NE(HeaderOf(root, "Content-Security-Policy").find("default-src 'self'"),
            std::string::npos);
  EXPECT_EQ(HeaderOf(root, "X-Content-Type-Options"), "nosniff");
  for (const char* path : {"/projects/alice/cnn", "/runs/3fmrd3hh", "/compare", "/datasets/x"}) {
    const Reply page = Get(std::string(path) + "?filter=summary.acc%20%3E%200.9");
    EXPECT_EQ(page.status, 200) << path;
    EXPECT_EQ(page.raw, root.raw) << path;
  }
  // The page is the same for everyone and holds no data: no key needed, none reaches it.
  EXPECT_EQ(Get("/", admin_key_).raw, root.raw);
}

TEST_F(WebTest, AssetsAreTheBundleWithTypesAndEtags) {
  const std::vector<WebFile>& files = EmbeddedWebFiles();
  bool script = false;
  bool style = false;
  for (const WebFile& file : files) {
    const Reply reply = Get(file.path == "/index.html" ? "/" : std::string(file.path));
    ASSERT_EQ(reply.status, 200) << file.path;
    EXPECT_EQ(reply.raw, file.bytes) << file.path;
    EXPECT_EQ(HeaderOf(reply, "Content-Type"), file.media_type) << file.path;
    EXPECT_EQ(HeaderOf(reply, "ETag"), file.etag) << file.path;
    EXPECT_EQ(HeaderOf(reply, "Cache-Control"), "no-cache") << file.path;
    script = script || file.path == "/assets/app.js";
    style = style || file.path == "/assets/app.css";
  }
  EXPECT_TRUE(script && style) << "the bundle has no app.js or app.css";

  // A browser revalidating an unchanged file gets 304 and no body.
  auto client = Client();
  const WebFile& first = files.front();
  auto revalidated = client.Get(std::string(first.path == "/index.html" ? "/" : first.path),
                                {{"If-None-Match", std::string(first.etag)}});
  ASSERT_TRUE(revalidated);
  EXPECT_EQ(revalidated->status, 304);
  EXPECT_TRUE(revalidated->body.empty());
}

// The server compresses text answers itself, with gzip at zlib's fastest level, whatever else
// is offered: the HTTP library would answer Brotli at its slowest quality (seconds for a list of
// runs) and gzip at level 6.
TEST_F(WebTest, TextAnswersAreGzippedWhenGzipIsOffered) {
  for (int i = 0; i < 50; ++i)
    CreateRun("root", "many", admin_key_, {{"name", "run-" + std::to_string(i)}});
  auto client = Client();
  client.set_decompress(false);
  auto get = [&](const std::string& path, const std::string& offer) {
    auto reply = client.Get(path, {{"Authorization", "Bearer " + admin_key_},
                                   {"Accept-Encoding", offer}});
    EXPECT_TRUE(reply) << path;
    return reply ? *reply : httplib::Response{};
  };
  const std::string runs = "/api/v1/runs?entity=root&project=many";
  const httplib::Response plain = get(runs, "identity");
  ASSERT_EQ(plain.status, 200);
  EXPECT_EQ(plain.get_header_value("Content-Encoding"), "");
  EXPECT_EQ(nlohmann::json::parse(plain.body)["runs"].size(), 50u);
  for (const char* offer : {"gzip, deflate, br", "br;q=1.0, GZIP;q=0.5", "*", "x-gzip"}) {
    const httplib::Response packed = get(runs, offer);
    ASSERT_EQ(packed.status, 200) << offer;
    EXPECT_EQ(packed.get_header_value("Content-Encoding"), "gzip") << offer;
    EXPECT_EQ(packed.get_header_value("Vary"), "Accept-Encoding") << offer;
    EXPECT_LT(packed.body.size(), plain.body.size()) << offer;
    EXPECT_EQ(Gunzip(packed.body), plain.body) << offer;
  }
  for (const char* offer : {"br", "deflate", "gzip;q=0, br", ""}) {
    const httplib::Response unpacked = get(runs, offer);
    EXPECT_EQ(unpacked.get_header_value("Content-Encoding"), "") << offer;
    EXPECT_EQ(unpacked.body, plain.body) << offer;
  }
  // The bundle is text too; a small answer (an error here) is not worth a gzip header.
  const httplib::Response script = get("/assets/app.js", "gzip");
  EXPECT_EQ(script.get_header_value("Content-Encoding"), "gzip");
  const httplib::Response missing = get("/api/v1/runs/n0such00", "gzip");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.get_header_value("Content-Encoding"), "");
  EXPECT_EQ(nlohmann::json::parse(missing.body)["error"]["code"], "not_found");
}

TEST_F(WebTest, UnknownAssetsAndPathsOutsideTheBundleAre404) {
  for (const char* path : {"/assets/none.js", "/assets/..%2Fserver.cpp", "/assets/.hidden",
                           "/index.htm", "/projectsx"}) {
    const Reply reply = Get(path);
    EXPECT_EQ(reply.status, 404) << path;
    EXPECT_EQ(reply.body["error"]["code"], "not_found") << path << ": " << reply.raw;
  }
  EXPECT_EQ(Send("POST", "/", "{}").status, 405);
}

TEST_F(WebTest, AWebDirIsServedAsItChanges) {
  server_->Stop();
  const fs::path web = dir_ / "web";
  fs::create_directories(web / "assets");
  std::ofstream(web / "index.html") << "<p>first</p>";
  std::ofstream(web / "assets" / "app.js") << "console.log(1)";
  ServerOptions options;
  options.port = 0;
  options.data_dir = dir_ / "data";
  options.web_dir = web;
  Result<std::unique_ptr<Server>> created = Server::Create(options);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  server_ = std::move(*created);
  server_->Start();

  EXPECT_EQ(Get("/runs/abc").raw, "<p>first</p>");
  const Reply script = Get("/assets/app.js");
  EXPECT_EQ(script.raw, "console.log(1)");
  EXPECT_EQ(HeaderOf(script, "Content-Type"), "text/javascript; charset=utf-8");
  const std::string etag = HeaderOf(script, "ETag");
  std::ofstream(web / "assets" / "app.js") << "console.log(22)";
  const Reply changed = Get("/assets/app.js");
  EXPECT_EQ(changed.raw, "console.log(22)");
  EXPECT_NE(HeaderOf(changed, "ETag"), etag);

  fs::remove(web / "index.html");
  const Reply missing = Get("/");
  EXPECT_EQ(missing.status, 500);
  EXPECT_NE(missing.body["error"]["message"].get<std::string>().find("node web/build.mjs"),
            std::string::npos)
      << missing.raw;
}

// `labbook ui`: a request without a key is the local admin, who reads every run of the store,
// also of entities the server has no account for.
TEST_F(WebTest, TheLocalAdminReadsTheWholeStoreWithoutAKey) {
  const std::string run = CreateRun("root", "cnn", admin_key_);
  // Without local_admin, a visitor sees nothing private.
  EXPECT_EQ(Get("/api/v1/runs").body["runs"].size(), 0u);
  EXPECT_EQ(Get("/api/v1/runs/" + run).status, 404);
  server_->Stop();

  ServerOptions options;
  options.port = 0;
  options.data_dir = dir_ / "ui";
  options.store_uri = "sqlite://" + (dir_ / "data" / "labbook.db").string();
  options.local_admin = "local";
  Result<std::unique_ptr<Server>> created = Server::Create(options);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  server_ = std::move(*created);
  server_->Start();
  const Reply runs = Get("/api/v1/runs");
  ASSERT_EQ(runs.status, 200) << runs.raw;
  ASSERT_EQ(runs.body["runs"].size(), 1u) << runs.raw;
  EXPECT_EQ(runs.body["runs"][0]["id"], run);
  EXPECT_EQ(Get("/api/v1/runs/" + run).status, 200);
  const Reply viewer = Get("/api/v1/viewer");
  EXPECT_EQ(viewer.body["user"], "local") << viewer.raw;
  EXPECT_EQ(viewer.body["admin"], true) << viewer.raw;
  // A wrong key is still refused: only the absence of a key means the local user.
  EXPECT_EQ(Get("/api/v1/runs", "lb-0000000000000000000000000000000000000000").status, 401);
}

TEST_F(WebTest, TheLocalAdminListensOnLoopbackOnly) {
  ServerOptions options;
  options.host = "0.0.0.0";
  options.port = 0;
  options.data_dir = dir_ / "ui";
  options.local_admin = "local";
  Result<std::unique_ptr<Server>> created = Server::Create(options);
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(created.status().message().find("--host 0.0.0.0"), std::string::npos)
      << created.status().ToString();
}

}  // namespace
}  // namespace labbook::server
