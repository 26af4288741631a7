// HttpRunStore's own behaviour beyond the conformance suite: errors and keys, retries, the
// compressed binary history, OpenStore and DefaultStoreUri for servers. Against the real server,
// or, where a test needs the server to fail on purpose, a small HTTP server of its own.
#include "track/http/http_store.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "test_server.hpp"
#include "track/http/wire.hpp"

namespace labbook::track::http {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

fs::path FreshDirectory(const std::string& label) {
  static std::atomic<int> counter{0};
  const fs::path dir =
      fs::temp_directory_path() / ("labbook-http-test-" + label + "-" + std::to_string(getpid()) +
                                   "-" + std::to_string(counter++));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

RetryPolicy QuickRetries(int attempts) {
  RetryPolicy retry;
  retry.max_attempts = attempts;
  retry.first_backoff = std::chrono::milliseconds(10);
  retry.max_backoff = std::chrono::milliseconds(40);
  retry.max_total_backoff = std::chrono::milliseconds(2000);
  return retry;
}

std::unique_ptr<HttpRunStore> Client(const std::string& base_url, const std::string& key,
                                     RetryPolicy retry = QuickRetries(4)) {
  HttpStoreOptions options;
  options.base_url = base_url;
  options.api_key = key;
  options.retry = retry;
  Result<std::unique_ptr<HttpRunStore>> store = HttpRunStore::Open(options);
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  return store.ok() ? std::move(store).value() : nullptr;
}

RunInfo NewRun() {
  RunInfo run;
  run.entity = "team";
  run.project = "vision";
  run.start_time = 1000;
  return run;
}

class HttpStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = FreshDirectory("server");
    server_ = test::TestServer::Start(dir_);
    ASSERT_NE(server_, nullptr);
    store_ = Client(server_->base_url(), server_->key());
    ASSERT_NE(store_, nullptr);
  }
  void TearDown() override {
    store_.reset();
    server_.reset();
    fs::remove_all(dir_);
  }

  fs::path dir_;
  std::unique_ptr<test::TestServer> server_;
  std::unique_ptr<HttpRunStore> store_;
};

TEST_F(HttpStoreTest, ErrorAnswersKeepTheServersCodeAndMessage) {
  Result<RunInfo> missing = store_->GetRun("zzzzzzzz");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), ErrorCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("zzzzzzzz"));

  ASSERT_TRUE(store_->CreateRun(NewRun()).ok());
  RunInfo bad = NewRun();
  bad.id = "NOT-AN-ID";
  Result<RunInfo> refused = store_->CreateRun(bad);
  EXPECT_EQ(refused.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(refused.status().message(), HasSubstr("NOT-AN-ID"));
}

TEST_F(HttpStoreTest, AWrongKeyIsUnauthenticatedAndNeverRepeated) {
  const std::string wrong = "lb-this-key-does-not-exist-0123456789";
  std::unique_ptr<HttpRunStore> stranger = Client(server_->base_url(), wrong);
  Result<std::vector<RunInfo>> runs = stranger->ListRuns({});
  ASSERT_FALSE(runs.ok());
  EXPECT_EQ(runs.status().code(), ErrorCode::kUnauthenticated);
  EXPECT_THAT(runs.status().message(), Not(HasSubstr(wrong)));
  EXPECT_THAT(stranger->uri(), Not(HasSubstr(wrong)));

  // Anonymous: a private project does not exist.
  std::unique_ptr<HttpRunStore> anonymous = Client(server_->base_url(), "");
  EXPECT_EQ(anonymous->CreateRun(NewRun()).status().code(), ErrorCode::kUnauthenticated);
}

TEST_F(HttpStoreTest, TheViewerIsTheKeysUser) {
  Result<Viewer> viewer = store_->GetViewer();
  ASSERT_TRUE(viewer.ok()) << viewer.status().ToString();
  EXPECT_EQ(viewer->user, "alice");
  EXPECT_TRUE(viewer->admin);
  EXPECT_TRUE(store_->CheckHealth().ok());
}

TEST_F(HttpStoreTest, LargeBatchesTravelCompressedAndArriveWhole) {
  Result<RunInfo> run = store_->CreateRun(NewRun());
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  HistoryBatch batch;
  batch.keys = {"loss", "accuracy"};
  for (int64_t step = 0; step < 100'000; ++step) {
    batch.points.push_back({0, step, 1.0 / static_cast<double>(step + 1), 1e9 + step});
    batch.points.push_back({1, step, static_cast<double>(step % 100) / 100, 1e9 + step});
  }
  ASSERT_TRUE(store_->LogHistory(run->id, batch).ok());
  Result<std::vector<KeyInfo>> keys = store_->HistoryKeys(run->id);
  ASSERT_TRUE(keys.ok());
  ASSERT_EQ(keys->size(), 2u);
  EXPECT_EQ((*keys)[0].count, 100'000);
  EXPECT_EQ((*keys)[1].count, 100'000);
  Result<Series> series = store_->ReadHistory(run->id, "loss", {.min_step = 10, .max_step = 19});
  ASSERT_TRUE(series.ok());
  ASSERT_EQ(series->values.size(), 10u);
  EXPECT_EQ(series->values[0], 1.0 / 11);
}

TEST_F(HttpStoreTest, OpenStoreAndDefaultStoreUriNameTheServerWithoutTheKey) {
  ::setenv("LABBOOK_API_KEY", server_->key().c_str(), 1);
  ::setenv("LABBOOK_BASE_URL", server_->base_url().c_str(), 1);
  ::unsetenv("LABBOOK_STORE");
  EXPECT_EQ(DefaultStoreUri(), server_->base_url());
  Result<std::unique_ptr<RunStore>> opened = OpenStore(DefaultStoreUri());
  ::unsetenv("LABBOOK_API_KEY");
  ::unsetenv("LABBOOK_BASE_URL");
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ((*opened)->uri(), server_->base_url());
  Result<RunInfo> run = (*opened)->CreateRun(NewRun());
  ASSERT_TRUE(run.ok()) << run.status().ToString();

  const std::string with_key = "http://api:" + server_->key() + "@127.0.0.1:1";
  Result<std::unique_ptr<RunStore>> refused = OpenStore(with_key);
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(), Not(HasSubstr(server_->key())));
}

TEST_F(HttpStoreTest, ArtifactFilesAreUploadedOnceAndDownloadedChecked) {
  Result<RunInfo> run = store_->CreateRun(NewRun());
  ASSERT_TRUE(run.ok());
  const fs::path source = dir_ / "weights.bin";
  std::string bytes(3 << 20, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>((i * 7919) >> 3);
  std::ofstream(source, std::ios::binary) << bytes;
  NewArtifact artifact;
  artifact.entity = "team";
  artifact.project = "vision";
  artifact.name = "cnn";
  artifact.type = "model";
  artifact.producer_run = run->id;
  artifact.files = {{"model.lbm", source}, {"copy/model.lbm", source}};
  Result<ArtifactVersion> v0 = store_->LogArtifact(artifact);
  ASSERT_TRUE(v0.ok()) << v0.status().ToString();
  EXPECT_EQ(v0->files.size(), 2u);
  Result<ArtifactVersion> again = store_->LogArtifact(artifact);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->version, 0);
  const fs::path out = dir_ / "out" / "deep" / "model.lbm";
  ASSERT_TRUE(store_->ReadArtifactFile(v0->files[0], out).ok());
  std::ifstream in(out, std::ios::binary);
  const std::string read((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_TRUE(read == bytes);
}

// A server that fails on purpose: /api/v1/runs/flaky1 answers 503 twice before the run,
// /api/v1/runs/refused1 answers 400, and every request is counted.
class FaultyServer {
 public:
  FaultyServer() {
    http_.Get("/api/v1/runs/flaky123", [this](const httplib::Request&, httplib::Response& res) {
      if (++flaky_ <= 2) {
        res.status = 503;
        res.set_content(R"({"error": {"code": "unavailable", "message": "busy"}})",
                        "application/json");
        return;
      }
      RunInfo run = NewRun();
      run.id = "flaky123";
      res.set_content(nlohmann::json{{"run", wire::RunToJson(run)}}.dump(), "application/json");
    });
    http_.Get("/api/v1/runs/refused1", [this](const httplib::Request&, httplib::Response& res) {
      ++refused_;
      res.status = 400;
      res.set_content(R"({"error": {"code": "invalid_argument", "message": "run id: bad"}})",
                      "application/json");
    });
    http_.Get("/api/v1/runs/proxy123", [](const httplib::Request&, httplib::Response& res) {
      res.status = 502;
      res.set_content("<html>bad gateway</html>", "text/html");
    });
    http_.Post("/api/v1/runs/batch123/history",
               [this](const httplib::Request& req, httplib::Response& res) {
                 encoding_ = req.get_header_value("Content-Encoding");
                 content_type_ = req.get_header_value("Content-Type");
                 authorization_ = req.get_header_value("Authorization");
                 target_ = req.target;
                 Result<HistoryBatch> batch = wire::DecodeHistoryBatch(req.body);
                 points_ = batch.ok() ? static_cast<int>(batch->points.size()) : -1;
                 res.set_content(R"({"points": 0})", "application/json");
               });
    port_ = http_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { http_.listen_after_bind(); });
    while (!http_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~FaultyServer() {
    http_.stop();
    thread_.join();
  }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  httplib::Server http_;
  int port_ = 0;
  std::thread thread_;
  std::atomic<int> flaky_{0};
  std::atomic<int> refused_{0};
  std::string encoding_, content_type_, authorization_, target_;
  int points_ = 0;
};

TEST(HttpRetryTest, UnavailableAnswersAreRetriedAndRefusalsAreNot) {
  FaultyServer faulty;
  std::unique_ptr<HttpRunStore> store = Client(faulty.base_url(), "k", QuickRetries(5));
  Result<RunInfo> run = store->GetRun("flaky123");
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  EXPECT_EQ(faulty.flaky_.load(), 3);

  Result<RunInfo> refused = store->GetRun("refused1");
  EXPECT_EQ(refused.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(refused.status().message(), "run id: bad");
  EXPECT_EQ(faulty.refused_.load(), 1);

  Result<RunInfo> proxied = store->GetRun("proxy123");
  EXPECT_EQ(proxied.status().code(), ErrorCode::kUnavailable);
  EXPECT_THAT(proxied.status().message(), HasSubstr("HTTP 502"));
  EXPECT_THAT(proxied.status().message(), HasSubstr("GET /api/v1/runs/proxy123"));
}

TEST(HttpRetryTest, RetriesGiveUpOnAServerThatIsNotThere) {
  int port = 0;
  {
    FaultyServer gone;
    port = gone.port_;
  }
  std::unique_ptr<HttpRunStore> store =
      Client("http://127.0.0.1:" + std::to_string(port), "lb-secret-key", QuickRetries(3));
  Result<std::vector<RunInfo>> runs = store->ListRuns({});
  ASSERT_FALSE(runs.ok());
  EXPECT_EQ(runs.status().code(), ErrorCode::kUnavailable);
  EXPECT_THAT(runs.status().message(), HasSubstr("after 3 attempts"));
  EXPECT_THAT(runs.status().message(), HasSubstr("GET /api/v1/runs"));
  EXPECT_THAT(runs.status().message(), Not(HasSubstr("lb-secret-key")));
  EXPECT_FALSE(store->CheckHealth().ok());
}

TEST(HttpRetryTest, HistoryTravelsBinaryAndGzippedWithTheKeyInTheHeaderOnly) {
  FaultyServer faulty;
  std::unique_ptr<HttpRunStore> store = Client(faulty.base_url(), "lb-secret-key");
  HistoryBatch batch;
  batch.keys = {"loss"};
  for (int64_t step = 0; step < 1000; ++step) batch.points.push_back({0, step, 0.5, 1e9});
  ASSERT_TRUE(store->LogHistory("batch123", batch).ok());
  EXPECT_EQ(faulty.encoding_, "gzip");
  EXPECT_EQ(faulty.content_type_, wire::kHistoryBatchMediaType);
  EXPECT_EQ(faulty.authorization_, "Bearer lb-secret-key");
  EXPECT_THAT(faulty.target_, Not(HasSubstr("lb-secret-key")));
  EXPECT_EQ(faulty.points_, 1000);
}

}  // namespace
}  // namespace labbook::track::http
