// The SDK against a server that goes away: a run whose server is killed in the middle and
// restarted on the same port and data ends finished with every point exactly once; a run
// recorded wholly offline syncs once however often the sync runs.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <thread>

#include "labbook/run.hpp"
#include "test_server.hpp"
#include "track/http/http_store.hpp"
#include "track/http/spooling_store.hpp"
#include "track/http/sync.hpp"
#include "track/run_start.hpp"

namespace labbook::track::http {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

fs::path FreshDirectory(const std::string& label) {
  static std::atomic<int> counter{0};
  const fs::path dir =
      fs::temp_directory_path() / ("labbook-offline-test-" + label + "-" +
                                   std::to_string(getpid()) + "-" + std::to_string(counter++));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::unique_ptr<HttpRunStore> Client(const std::string& base_url, const std::string& key,
                                     std::chrono::milliseconds retry_budget) {
  HttpStoreOptions options;
  options.base_url = base_url;
  options.api_key = key;
  options.retry.max_attempts = 50;
  options.retry.first_backoff = std::chrono::milliseconds(20);
  options.retry.max_backoff = std::chrono::milliseconds(100);
  options.retry.max_total_backoff = retry_budget;
  options.connect_timeout = std::chrono::milliseconds(500);
  Result<std::unique_ptr<HttpRunStore>> store = HttpRunStore::Open(options);
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  return store.ok() ? std::move(store).value() : nullptr;
}

InitOptions TeamRun() {
  InitOptions options;
  options.entity = "team";
  options.project = "vision";
  options.system_metrics = false;
  options.handle_signals = false;
  return options;
}

WriterOptions FastWriter() {
  WriterOptions writer;
  writer.flush_interval = std::chrono::milliseconds(20);
  writer.heartbeat_interval = std::chrono::milliseconds(100);
  return writer;
}

// Every step 0..count-1 once, in order, with the value logged for it.
void ExpectEveryStepOnce(RunStore& store, const std::string& run_id, const std::string& key,
                         int64_t count, double (*value_of)(int64_t)) {
  Result<Series> series = store.ReadHistory(run_id, key, {});
  ASSERT_TRUE(series.ok()) << series.status().ToString();
  ASSERT_EQ(static_cast<int64_t>(series->steps.size()), count) << key;
  for (int64_t i = 0; i < count; ++i) {
    ASSERT_EQ(series->steps[i], i) << key;
    ASSERT_EQ(series->values[i], value_of(i)) << key << " at step " << i;
  }
  Result<std::vector<KeyInfo>> keys = store.HistoryKeys(run_id);
  ASSERT_TRUE(keys.ok());
  for (const KeyInfo& info : *keys) {
    if (info.key == key) {
      EXPECT_EQ(info.count, count);
    }
  }
}

double Loss(int64_t step) { return 1.0 / static_cast<double>(step + 1); }
double Accuracy(int64_t step) { return static_cast<double>(step % 97) / 97; }

TEST(OfflineTest, AServerKilledMidRunGetsEveryPointOnceAndTheRunEndsFinished) {
  const fs::path dir = FreshDirectory("kill");
  std::unique_ptr<test::TestServer> server = test::TestServer::Start(dir / "server");
  ASSERT_NE(server, nullptr);
  const std::string offline_uri = "sqlite://" + (dir / "offline.db").string();
  Result<SyncLedger> ledger = SyncLedger::ForStore(offline_uri);
  ASSERT_TRUE(ledger.ok());
  std::mutex notices_mutex;
  std::vector<std::string> notices;
  SpoolOptions spool;
  spool.offline_uri = offline_uri;
  spool.probe_interval = std::chrono::milliseconds(200);
  spool.notice = [&](const std::string& line) {
    std::lock_guard lock(notices_mutex);
    notices.push_back(line);
  };
  // A retry budget far shorter than the outage, so that the run spools and comes back.
  auto store = std::make_shared<SpoolingRunStore>(
      Client(server->base_url(), server->key(), std::chrono::milliseconds(300)),
      [offline_uri] { return OpenStore(offline_uri); }, *ledger, spool);
  Result<labbook::Run> run = StartRun(TeamRun(), store, FastWriter());
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  const std::string id = run->id();

  std::atomic<bool> back{false};
  std::thread outage([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    server->Stop();
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    server->Restart();
    back = true;
  });
  int64_t step = 0;
  auto keep_logging_until = [&](const std::function<bool()>& done) {
    while (!done()) {
      run->Log({{"loss", Loss(step)}, {"acc", Accuracy(step)}}, step);
      ++step;
      std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
  };
  keep_logging_until([&] { return back.load(); });
  outage.join();
  const auto resumed = std::chrono::steady_clock::now();
  keep_logging_until(
      [&] { return std::chrono::steady_clock::now() - resumed > std::chrono::milliseconds(700); });
  run->SetSummary("test/accuracy", 0.75);
  const Status finished = run->Finish(0);
  ASSERT_TRUE(finished.ok()) << finished.ToString();
  EXPECT_EQ(run->stats().points_written, 2 * step);

  {
    std::lock_guard lock(notices_mutex);
    ASSERT_GE(notices.size(), 2u) << "the run never spooled";
    EXPECT_THAT(notices[0], HasSubstr("recording to the offline store"));
    EXPECT_THAT(notices[1], HasSubstr("is back"));
  }
  std::unique_ptr<HttpRunStore> reader =
      Client(server->base_url(), server->key(), std::chrono::milliseconds(1000));
  Result<RunInfo> recorded = reader->GetRun(id);
  ASSERT_TRUE(recorded.ok()) << recorded.status().ToString();
  EXPECT_EQ(recorded->state, RunState::kFinished);
  EXPECT_EQ(recorded->exit_code, 0);
  EXPECT_EQ(recorded->summary.value("test/accuracy", 0.0), 0.75);
  ExpectEveryStepOnce(*reader, id, "loss", step, Loss);
  ExpectEveryStepOnce(*reader, id, "acc", step, Accuracy);
  // The spool was uploaded and let go.
  Result<std::map<std::string, SyncLedger::Entry>> pending = ledger->All();
  ASSERT_TRUE(pending.ok());
  EXPECT_TRUE(pending->empty());
  Result<std::unique_ptr<RunStore>> offline = OpenStore(offline_uri);
  ASSERT_TRUE(offline.ok());
  EXPECT_EQ((*offline)->GetRun(id).status().code(), ErrorCode::kNotFound);
  fs::remove_all(dir);
}

TEST(OfflineTest, ARunWhoseServerNeverCameBackWaitsInTheSpoolAndSyncsOnce) {
  const fs::path dir = FreshDirectory("down");
  std::unique_ptr<test::TestServer> server = test::TestServer::Start(dir / "server");
  ASSERT_NE(server, nullptr);
  const std::string offline_uri = "sqlite://" + (dir / "offline.db").string();
  Result<SyncLedger> ledger = SyncLedger::ForStore(offline_uri);
  ASSERT_TRUE(ledger.ok());
  SpoolOptions spool;
  spool.offline_uri = offline_uri;
  spool.probe_interval = std::chrono::milliseconds(100);
  spool.notice = [](const std::string&) {};
  const std::string base_url = server->base_url();
  const std::string key = server->key();
  server->Stop();

  auto store = std::make_shared<SpoolingRunStore>(
      Client(base_url, key, std::chrono::milliseconds(100)),
      [offline_uri] { return OpenStore(offline_uri); }, *ledger, spool);
  Result<labbook::Run> run = StartRun(TeamRun(), store, FastWriter());
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  const std::string id = run->id();
  const fs::path weights = dir / "weights.bin";
  std::ofstream(weights, std::ios::binary) << "trained weights";
  for (int64_t step = 0; step < 500; ++step) run->Log("loss", Loss(step), step);
  Result<ArtifactRef> model = run->LogArtifact("cnn", "model", {{"model.lbm", weights}});
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  ASSERT_TRUE(run->Finish(0).ok());

  Result<std::optional<SyncLedger::Entry>> entry = ledger->Get(id);
  ASSERT_TRUE(entry.ok());
  ASSERT_TRUE(entry->has_value());
  EXPECT_EQ((*entry)->server, base_url);
  EXPECT_TRUE((*entry)->spooled);

  server->Restart();
  Result<std::unique_ptr<RunStore>> offline = OpenStore(offline_uri);
  ASSERT_TRUE(offline.ok());
  std::unique_ptr<HttpRunStore> remote = Client(base_url, key, std::chrono::milliseconds(1000));
  for (int round = 0; round < 2; ++round) {
    Result<SyncReport> report = SyncRun(**offline, *remote, id);
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    EXPECT_EQ(report->created, round == 0);
    EXPECT_EQ(report->artifacts, round == 0 ? 1 : 0);
    EXPECT_EQ(report->points, 500);
  }
  Result<RunInfo> recorded = remote->GetRun(id);
  ASSERT_TRUE(recorded.ok());
  EXPECT_EQ(recorded->state, RunState::kFinished);
  ExpectEveryStepOnce(*remote, id, "loss", 500, Loss);
  Result<std::vector<ArtifactVersion>> versions = remote->ListArtifacts({"team", "vision"});
  ASSERT_TRUE(versions.ok());
  ASSERT_EQ(versions->size(), 1u);
  EXPECT_EQ((*versions)[0].producer_run, id);
  EXPECT_EQ((*versions)[0].digest, model->digest);
  fs::remove_all(dir);
}

TEST(OfflineTest, SyncRefusesToMergeADifferentRunWithTheSameId) {
  const fs::path dir = FreshDirectory("clash");
  std::unique_ptr<test::TestServer> server = test::TestServer::Start(dir / "server");
  ASSERT_NE(server, nullptr);
  std::unique_ptr<HttpRunStore> remote =
      Client(server->base_url(), server->key(), std::chrono::milliseconds(500));
  Result<std::unique_ptr<RunStore>> offline = OpenStore((dir / "offline.db").string());
  ASSERT_TRUE(offline.ok());
  RunInfo local;
  local.id = "clash123";
  local.entity = "team";
  local.project = "vision";
  local.start_time = 100;
  ASSERT_TRUE((*offline)->CreateRun(local).ok());
  RunInfo other = local;
  other.start_time = 200;
  ASSERT_TRUE(remote->CreateRun(other).ok());
  Result<SyncReport> report = SyncRun(**offline, *remote, "clash123");
  EXPECT_EQ(report.status().code(), ErrorCode::kAlreadyExists);
  EXPECT_THAT(report.status().message(), HasSubstr("clash123"));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace labbook::track::http
