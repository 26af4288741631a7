// The SDK (labbook::Init, Run) against an in-process MemoryRunStore, wrapped where a test needs a
// slow or failing store. Cross-process behaviour (signals, SIGKILL) is in crash_test.cpp.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "failing_store.hpp"
#include "labbook/run.hpp"
#include "test_util.hpp"
#include "track/git_info.hpp"
#include "track/liveness.hpp"
#include "track/memory_store.hpp"
#include "track/run_start.hpp"
#include "track/sqlite/sqlite_store.hpp"

namespace labbook::track {
namespace {

using namespace std::chrono_literals;
using test::QuietOptions;
using test::TempDir;
using ::testing::HasSubstr;

WriterOptions FastWriter() {
  WriterOptions options;
  options.flush_interval = 20ms;
  options.heartbeat_interval = 50ms;
  return options;
}

// "12,345"
std::string WithCommas(int64_t value) {
  std::string digits = std::to_string(value);
  for (int at = static_cast<int>(digits.size()) - 3; at > 0; at -= 3) {
    digits.insert(static_cast<size_t>(at), ",");
  }
  return digits;
}

Series ReadAll(RunStore& store, const std::string& run_id, const std::string& key) {
  auto series = store.ReadHistory(run_id, key, HistoryQuery{});
  EXPECT_TRUE(series.ok()) << series.status().ToString();
  return series.ok() ? *series : Series{};
}

TEST(RunTest, EveryPointOfManyKeysAndStepsReachesTheStore) {
  auto store = std::make_shared<MemoryRunStore>();
  InitOptions options = QuietOptions();
  options.name = "round-trip";
  options.group = "g1";
  options.tags = {"a", "b"};
  options.notes = "notes";
  options.config = {{"lr", 0.001}, {"optimizer", {{"name", "adam"}}}};
  auto run = StartRun(options, store);
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  const std::string id = run->id();

  constexpr int kSteps = 5000;
  for (int step = 0; step < kSteps; ++step) {
    run->Log({{"loss", 1.0 / (step + 1)}, {"acc", step * 1e-4}, {"lr", 0.001}}, step);
    if (step % 10 == 0) run->Log("val/loss", step * 0.5, step);
    // A key logged only now and then, and one whose position in the call changes.
    if (step % 7 == 0) run->Log({{"acc", step * 1e-4}, {"rare", -step * 1.0}}, step);
  }
  EXPECT_TRUE(run->Finish(0).ok());
  const RecordingStats stats = run->stats();
  const int64_t expected = 3 * kSteps + kSteps / 10 + 2 * ((kSteps + 6) / 7);
  EXPECT_EQ(stats.points_logged, expected);
  EXPECT_EQ(stats.points_written, expected);
  EXPECT_EQ(stats.points_lost, 0);
  EXPECT_EQ(stats.last_error, "");

  Series loss = ReadAll(*store, id, "loss");
  ASSERT_EQ(loss.steps.size(), size_t{kSteps});
  for (int step = 0; step < kSteps; ++step) {
    ASSERT_EQ(loss.steps[step], step);
    ASSERT_EQ(loss.values[step], 1.0 / (step + 1));
  }
  EXPECT_EQ(ReadAll(*store, id, "val/loss").steps.size(), size_t{kSteps / 10});
  Series rare = ReadAll(*store, id, "rare");
  ASSERT_EQ(rare.steps.size(), size_t{(kSteps + 6) / 7});
  EXPECT_EQ(rare.values.back(), -rare.steps.back() * 1.0);
  EXPECT_EQ(ReadAll(*store, id, "acc").values.back(), (kSteps - 1) * 1e-4);

  auto info = store->GetRun(id);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->state, RunState::kFinished);
  EXPECT_EQ(info->exit_code, 0);
  EXPECT_EQ(info->name, "round-trip");
  EXPECT_EQ(info->group, "g1");
  EXPECT_EQ(info->tags, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(info->notes, "notes");
  EXPECT_EQ(info->entity, "tester");
  EXPECT_EQ(info->project, "tests");
  EXPECT_EQ(info->config, options.config);
  EXPECT_EQ(info->host, ThisHost());
  EXPECT_EQ(info->pid, getpid());
  EXPECT_EQ(info->git_commit, GitCommitOf(std::filesystem::current_path()));
  EXPECT_GT(info->start_time, 1.6e9);
  EXPECT_GE(info->end_time, info->start_time);
  EXPECT_EQ(info->summary["loss"], 1.0 / kSteps);
  EXPECT_EQ(info->summary["val/loss"], (kSteps - 10) * 0.5);
}

// Keys known only at run time (a binding's dict) go through the array overload: their strings
// need only outlive the call.
TEST(RunTest, KeysBuiltAtRunTimeReachTheStore) {
  auto store = std::make_shared<MemoryRunStore>();
  auto run = StartRun(QuietOptions(), store);
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  for (int step = 0; step < 300; ++step) {
    std::vector<std::string> names = {"metric/" + std::to_string(step % 3), "always"};
    const std::vector<std::pair<std::string_view, double>> points = {
        {names[0], step * 1.0}, {names[1], -step * 1.0}};
    run->Log(points.data(), points.size(), step);
  }
  ASSERT_TRUE(run->Finish(0).ok());
  EXPECT_EQ(run->stats().points_written, 600);
  EXPECT_EQ(ReadAll(*store, run->id(), "always").steps.size(), 300u);
  const Series one = ReadAll(*store, run->id(), "metric/1");
  ASSERT_EQ(one.steps.size(), 100u);
  EXPECT_EQ(one.steps.back(), 298);
  EXPECT_EQ(one.values.back(), 298.0);
}

TEST(RunTest, PointsReachTheStoreWithinASecondWithoutFinish) {
  auto store = std::make_shared<MemoryRunStore>();
  auto run = StartRun(QuietOptions(), store);  // the default writer settings
  ASSERT_TRUE(run.ok());
  run->Log("loss", 0.5, 1);
  const auto waited = test::TimeUntil(
      [&] {
        auto keys = store->HistoryKeys(run->id());
        return keys.ok() && keys->size() == 1 && (*keys)[0].count == 1;
      },
      3s);
  EXPECT_LT(waited, 1s);
  EXPECT_TRUE(run->Finish().ok());
}

TEST(RunTest, AFullQueueMakesLogWaitAndLosesNothing) {
  auto memory = std::make_shared<MemoryRunStore>();
  auto slow = std::make_shared<FailingRunStore>(memory);
  slow->SlowHistoryBy(2ms);
  WriterOptions writer;
  writer.queue_capacity = 64;
  writer.batch_points = 16;
  auto run = StartRun(QuietOptions(), slow, writer);
  ASSERT_TRUE(run.ok());
  constexpr int kPoints = 20000;
  for (int i = 0; i < kPoints; ++i) run->Log({{"x", i * 1.0}, {"y", -i * 1.0}}, i);
  EXPECT_TRUE(run->Finish().ok());
  EXPECT_EQ(run->stats().points_written, 2 * kPoints);
  // The queue holds 64 points, so the writer needed many batches.
  EXPECT_GE(memory->history_batches(), 2 * kPoints / 64);
  Series y = ReadAll(*memory, run->id(), "y");
  ASSERT_EQ(y.values.size(), size_t{kPoints});
  for (int i = 0; i < kPoints; ++i) ASSERT_EQ(y.values[i], -i * 1.0);
}

TEST(RunTest, SummaryHoldsTheLastLoggedValueUnlessSet) {
  auto store = std::make_shared<MemoryRunStore>();
  auto run = StartRun(QuietOptions(), store, FastWriter());
  ASSERT_TRUE(run.ok());
  run->Log({{"loss", 3.0}, {"acc", 0.1}}, 0);
  run->Log({{"loss", 2.0}, {"acc", 0.2}}, 1);
  // The last value logged, not the one at the highest step.
  run->Log("loss", 2.5, 0);
  EXPECT_EQ(run->Summary(), nlohmann::json({{"loss", 2.5}, {"acc", 0.2}}));

  run->SetSummary("best/acc", 0.2);
  run->SetSummary("acc", 0.15);
  run->Log("acc", 0.3, 2);  // a set value wins over later logged ones
  run->SetSummary("loss", nullptr);
  EXPECT_EQ(run->Summary(), nlohmann::json({{"acc", 0.15}, {"best/acc", 0.2}}));

  // The summary is written with the heartbeat, before Finish.
  const auto waited = test::TimeUntil(
      [&] {
        auto info = store->GetRun(run->id());
        return info.ok() && info->summary.contains("best/acc");
      },
      3s);
  EXPECT_LT(waited, 2s);
  EXPECT_TRUE(run->Finish().ok());
  auto info = store->GetRun(run->id());
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->summary, nlohmann::json({{"acc", 0.15}, {"best/acc", 0.2}}));
}

TEST(RunTest, HeartbeatAdvancesWhileTheRunLives) {
  auto store = std::make_shared<MemoryRunStore>();
  auto run = StartRun(QuietOptions(), store, FastWriter());
  ASSERT_TRUE(run.ok());
  auto started = store->GetRun(run->id());
  ASSERT_TRUE(started.ok());
  const auto waited = test::TimeUntil(
      [&] {
        auto info = store->GetRun(run->id());
        return info.ok() && info->heartbeat_time > started->heartbeat_time;
      },
      3s);
  EXPECT_LT(waited, 2s);
  EXPECT_TRUE(run->Finish().ok());
}

TEST(RunTest, SystemMetricsArriveUnderSystemKeysAndStayOutOfTheSummary) {
  auto store = std::make_shared<MemoryRunStore>();
  InitOptions options = QuietOptions();
  options.system_metrics = true;
  options.system_metrics_interval_s = 0.05;
  auto run = StartRun(options, store, FastWriter());
  ASSERT_TRUE(run.ok());
  run->Log("loss", 1.0, 0);
  std::this_thread::sleep_for(400ms);
  EXPECT_TRUE(run->Finish().ok());
  auto keys = store->HistoryKeys(run->id());
  ASSERT_TRUE(keys.ok());
  std::map<std::string, KeyInfo> by_name;
  for (const KeyInfo& key : *keys) by_name[key.key] = key;
  for (const char* key : {"system/cpu_percent", "system/process_cpu_percent",
                          "system/process_rss_mb", "system/memory_percent"}) {
    ASSERT_TRUE(by_name.contains(key)) << key;
    EXPECT_GE(by_name[key].count, 2) << key;
    EXPECT_GE(by_name[key].min, 0) << key;
  }
  EXPECT_GT(by_name["system/process_rss_mb"].min, 1.0);
  EXPECT_LE(by_name["system/memory_percent"].max, 100.0);
  EXPECT_EQ(run->stats().points_logged, 1);  // system points are not the caller's
  auto info = store->GetRun(run->id());
  EXPECT_EQ(info->summary, nlohmann::json({{"loss", 1.0}}));
}

TEST(RunTest, ArtifactsRoundTripWithVersionsAliasesAndLineage) {
  TempDir dir;
  auto store = std::make_shared<MemoryRunStore>();
  auto producer = StartRun(QuietOptions(), store);
  ASSERT_TRUE(producer.ok());
  const auto weights = dir.Write("out/model.lbm", "weights v0");
  const auto card = dir.Write("out/card.json", "{}");

  auto v0 =
      producer->LogArtifact("cnn", "model", {{"model.lbm", weights}, {"meta/card.json", card}},
                            {{"accuracy", 0.9}}, {"best"});
  ASSERT_TRUE(v0.ok()) << v0.status().ToString();
  EXPECT_EQ(v0->ToString(), "cnn:v0");
  EXPECT_EQ(v0->type, "model");
  EXPECT_THAT(v0->files, ::testing::UnorderedElementsAre("model.lbm", "meta/card.json"));
  // Same contents: no new version.
  auto again =
      producer->LogArtifact("cnn", "model", {{"model.lbm", weights}, {"meta/card.json", card}});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->version, 0);
  EXPECT_EQ(again->digest, v0->digest);
  dir.Write("out/model.lbm", "weights v1");
  auto v1 = producer->LogArtifact("cnn", "model", {{"model.lbm", weights}});
  ASSERT_TRUE(v1.ok());
  EXPECT_EQ(v1->version, 1);
  EXPECT_NE(v1->digest, v0->digest);

  auto missing = producer->LogArtifact("cnn", "model", {{"model.lbm", dir / "nope.lbm"}});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), ErrorCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("nope.lbm"));

  auto table = producer->LogTable("predictions", "index,label,predicted\n0,3,3\n1,5,2\n");
  ASSERT_TRUE(table.ok()) << table.status().ToString();
  EXPECT_EQ(table->type, "table");
  EXPECT_EQ(table->files, std::vector<std::string>{"predictions.csv"});
  EXPECT_EQ(producer->LogTable("empty", "").status().code(), ErrorCode::kInvalidArgument);
  ASSERT_TRUE(producer->Finish().ok());

  auto consumer = StartRun(QuietOptions(), store);
  ASSERT_TRUE(consumer.ok());
  auto latest = consumer->UseArtifact("cnn:latest");
  ASSERT_TRUE(latest.ok()) << latest.status().ToString();
  EXPECT_EQ(latest->version, 1);
  auto best = consumer->UseArtifact("cnn:best");
  ASSERT_TRUE(best.ok());
  EXPECT_EQ(best->version, 0);
  auto bare = consumer->UseArtifact("predictions");
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->ToString(), "predictions:v0");
  EXPECT_EQ(consumer->UseArtifact("cnn:v7").status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(consumer->UseArtifact(":v1").status().code(), ErrorCode::kInvalidArgument);

  ASSERT_TRUE(consumer->DownloadArtifact(*best, dir / "down0").ok());
  EXPECT_EQ(test::ReadFile(dir / "down0/model.lbm"), "weights v0");
  EXPECT_EQ(test::ReadFile(dir / "down0/meta/card.json"), "{}");
  ASSERT_TRUE(consumer->DownloadArtifact(*latest, dir / "down1").ok());
  EXPECT_EQ(test::ReadFile(dir / "down1/model.lbm"), "weights v1");
  ASSERT_TRUE(consumer->DownloadArtifact(*bare, dir / "down2").ok());
  EXPECT_EQ(test::ReadFile(dir / "down2/predictions.csv"), "index,label,predicted\n0,3,3\n1,5,2\n");
  ASSERT_TRUE(consumer->Finish().ok());

  auto produced = store->ArtifactsOfRun(producer->id());
  ASSERT_TRUE(produced.ok());
  EXPECT_EQ(produced->produced.size(), 3u);  // cnn v0, cnn v1, predictions v0
  EXPECT_TRUE(produced->used.empty());
  auto used = store->ArtifactsOfRun(consumer->id());
  ASSERT_TRUE(used.ok());
  EXPECT_TRUE(used->produced.empty());
  std::vector<std::string> used_names;
  for (const auto& version : used->used)
    used_names.push_back(version.name + ":" + version.VersionName());
  EXPECT_THAT(used_names, ::testing::UnorderedElementsAre("cnn:v1", "cnn:v0", "predictions:v0"));
}

TEST(RunTest, DisabledModeRecordsNothingAndEveryCallSucceeds) {
  TempDir dir;
  InitOptions options = QuietOptions();
  options.mode = RunMode::kDisabled;
  options.store = (dir / "never.db").string();
  options.handle_signals = true;
  options.system_metrics = true;
  auto run = Init(options);
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(run->mode(), RunMode::kDisabled);
  EXPECT_EQ(run->id().size(), 8u);
  EXPECT_EQ(run->store_uri(), "");
  run->Log({{"loss", 1.0}}, 0);
  run->SetSummary("acc", 0.5);
  EXPECT_EQ(run->Summary(), nlohmann::json({{"acc", 0.5}}));
  const auto file = dir.Write("model.lbm", "w");
  EXPECT_TRUE(run->LogArtifact("m", "model", {{"model.lbm", file}}).ok());
  EXPECT_TRUE(run->LogTable("t", "a\n1\n").ok());
  EXPECT_TRUE(run->UseArtifact("m:latest").ok());
  EXPECT_TRUE(run->Finish(0).ok());
  EXPECT_EQ(run->stats().points_logged, 0);
  EXPECT_FALSE(std::filesystem::exists(dir / "never.db"));
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()) || std::filesystem::exists(dir / "model.lbm"));
}

TEST(RunTest, StoreUriFollowsTheMode) {
  ::setenv("LABBOOK_STORE", "sqlite:///tmp/online-from-env.db", 1);
  ::setenv("LABBOOK_OFFLINE_STORE", "/tmp/offline-from-env.db", 1);
  InitOptions options;
  EXPECT_EQ(*ResolveStoreUri(options), "sqlite:///tmp/online-from-env.db");
  options.store = "sqlite://explicit.db";
  EXPECT_EQ(*ResolveStoreUri(options), "sqlite://explicit.db");
  options.mode = RunMode::kOffline;
  options.store.clear();
  EXPECT_EQ(*ResolveStoreUri(options), "/tmp/offline-from-env.db");
  options.store = "https://server.example:8080";
  EXPECT_EQ(ResolveStoreUri(options).status().code(), ErrorCode::kInvalidArgument);
  ::unsetenv("LABBOOK_OFFLINE_STORE");
  options.store.clear();
  EXPECT_EQ(*ResolveStoreUri(options), "sqlite://.labbook/offline.db");
  ::unsetenv("LABBOOK_STORE");
  options.mode = RunMode::kOnline;
  EXPECT_EQ(*ResolveStoreUri(options), "sqlite://.labbook/labbook.db");
  options.mode = RunMode::kDisabled;
  EXPECT_EQ(*ResolveStoreUri(options), "");
}

TEST(RunTest, OfflineModeRecordsToTheOfflineStoreWhateverLabbookStoreSays) {
  TempDir dir;
  ::setenv("LABBOOK_STORE", "ftp://unreachable.invalid/runs", 1);
  ::setenv("LABBOOK_OFFLINE_STORE", (dir / "offline.db").c_str(), 1);
  InitOptions options = QuietOptions();
  options.mode = RunMode::kOffline;
  auto run = Init(options);
  ::unsetenv("LABBOOK_STORE");
  ::unsetenv("LABBOOK_OFFLINE_STORE");
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  EXPECT_EQ(run->mode(), RunMode::kOffline);
  run->Log("loss", 0.25, 3);
  ASSERT_TRUE(run->Finish().ok());
  ASSERT_TRUE(std::filesystem::exists(dir / "offline.db"));
  auto store = OpenStore((dir / "offline.db").string());
  ASSERT_TRUE(store.ok());
  auto info = (*store)->GetRun(run->id());
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->state, RunState::kFinished);
  EXPECT_EQ(ReadAll(**store, run->id(), "loss").values, std::vector<double>{0.25});
}

TEST(RunTest, OnlineModeRecordsToLabbookStore) {
  TempDir dir;
  const std::string uri = "sqlite://" + (dir / "online.db").string();
  ::setenv("LABBOOK_STORE", uri.c_str(), 1);
  auto run = Init(QuietOptions());
  ::unsetenv("LABBOOK_STORE");
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  EXPECT_EQ(run->store_uri().find(dir.path().string()) != std::string::npos, true)
      << run->store_uri();
  ASSERT_TRUE(run->Finish().ok());
  auto store = OpenStore(uri);
  ASSERT_TRUE(store.ok());
  EXPECT_TRUE((*store)->GetRun(run->id()).ok());
}

TEST(RunTest, AStoreThatCannotBeOpenedIsNamed) {
  TempDir dir;
  dir.Write("plain-file", "not a directory");
  InitOptions options = QuietOptions();
  options.store = (dir / "plain-file/runs.db").string();
  auto run = Init(options);
  ASSERT_FALSE(run.ok());
  EXPECT_THAT(run.status().message(), HasSubstr(options.store));

  options.store = dir.Write("garbage.db", std::string(4096, 'x')).string();
  run = Init(options);
  ASSERT_FALSE(run.ok());
  EXPECT_THAT(run.status().message(), HasSubstr("garbage.db"));
}

TEST(RunTest, InitRejectsBadOptionsByName) {
  auto store = std::make_shared<MemoryRunStore>();
  InitOptions options = QuietOptions();
  options.config = nlohmann::json::array({1, 2});
  auto run = StartRun(options, store);
  ASSERT_FALSE(run.ok());
  EXPECT_THAT(run.status().message(), HasSubstr("InitOptions.config"));

  options = QuietOptions();
  options.system_metrics = true;
  options.system_metrics_interval_s = 0;
  run = StartRun(options, store);
  ASSERT_FALSE(run.ok());
  EXPECT_THAT(run.status().message(), HasSubstr("system_metrics_interval_s"));

  options = QuietOptions();
  options.id = "taken123";
  ASSERT_TRUE(StartRun(options, store).ok());
  run = StartRun(options, store);
  ASSERT_FALSE(run.ok());
  EXPECT_EQ(run.status().code(), ErrorCode::kAlreadyExists);

  options = QuietOptions();
  options.store = "ftp://somewhere/runs";
  run = Init(options);
  ASSERT_FALSE(run.ok());
  EXPECT_EQ(run.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(run.status().message(), HasSubstr("ftp://somewhere/runs"));
}

TEST(RunTest, AStoreThatCannotBeWrittenAtInitIsNamed) {
  auto store = std::make_shared<FailingRunStore>(std::make_shared<MemoryRunStore>("memory://ro"));
  store->FailWritesAfter(0, PermissionDenied("the store is read-only"));
  auto run = StartRun(QuietOptions(), store);
  ASSERT_FALSE(run.ok());
  EXPECT_EQ(run.status().code(), ErrorCode::kPermissionDenied);
  EXPECT_THAT(run.status().message(), HasSubstr("memory://ro"));
  EXPECT_THAT(run.status().message(), HasSubstr("read-only"));
}

TEST(RunTest, RunWithoutFinishFinishesWhenDestroyed) {
  auto store = std::make_shared<MemoryRunStore>();
  std::string id;
  {
    auto run = StartRun(QuietOptions(), store);
    ASSERT_TRUE(run.ok());
    id = run->id();
    for (int i = 0; i < 100; ++i) run->Log("loss", i, i);
  }
  auto info = store->GetRun(id);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->state, RunState::kFinished);
  EXPECT_EQ(info->exit_code, 0);
  EXPECT_EQ(ReadAll(*store, id, "loss").steps.size(), 100u);

  try {
    auto run = StartRun(QuietOptions(), store);
    ASSERT_TRUE(run.ok());
    id = run->id();
    run->Log("loss", 1, 0);
    throw std::runtime_error("training failed");
  } catch (const std::runtime_error&) {
  }
  info = store->GetRun(id);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->state, RunState::kFailed);
  EXPECT_EQ(info->exit_code, 1);
  EXPECT_EQ(ReadAll(*store, id, "loss").steps.size(), 1u);

  // A moved-to run takes the run with it; Finish twice does nothing the second time.
  auto first = StartRun(QuietOptions(), store);
  ASSERT_TRUE(first.ok());
  labbook::Run moved = std::move(*first);
  moved.Log("x", 1, 0);
  EXPECT_TRUE(moved.Finish(3).ok());
  EXPECT_TRUE(moved.Finish(0).ok());
  info = store->GetRun(moved.id());
  EXPECT_EQ(info->state, RunState::kFailed);
  EXPECT_EQ(info->exit_code, 3);
}

TEST(RunTest, AFailingStoreNeverStopsTrainingAndFinishSaysWhatWasLost) {
  auto memory = std::make_shared<MemoryRunStore>("memory://disk");
  auto store = std::make_shared<FailingRunStore>(memory);
  WriterOptions writer = FastWriter();
  writer.batch_points = 256;
  auto run = StartRun(QuietOptions(), store, writer);
  ASSERT_TRUE(run.ok());
  // CreateRun is done; two batches get through, then the disk is full.
  store->FailWritesAfter(2, ResourceExhausted("database or disk is full: /data/labbook.db"));
  constexpr int kPoints = 20000;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kPoints; ++i) {
    run->Log("loss", i, i);
    if (i % 1000 == 0) std::this_thread::sleep_for(1ms);  // let several batches fail
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  Status finished = run->Finish(0);
  const RecordingStats stats = run->stats();
  EXPECT_EQ(stats.points_logged, kPoints);
  EXPECT_GT(stats.points_lost, 0);
  EXPECT_GT(stats.points_written, 0);
  EXPECT_EQ(stats.points_written + stats.points_lost, kPoints);
  EXPECT_THAT(stats.last_error, HasSubstr("disk is full"));
  ASSERT_FALSE(finished.ok());
  EXPECT_EQ(finished.code(), ErrorCode::kResourceExhausted);
  const std::string expected =
      WithCommas(stats.points_lost) + " points of 20,000 were not recorded";
  EXPECT_THAT(finished.message(), HasSubstr(expected));
  EXPECT_THAT(finished.message(), HasSubstr("database or disk is full"));
  EXPECT_THAT(finished.message(), HasSubstr("the run's end was not recorded"));
  // What got through is intact.
  Series loss = ReadAll(*memory, run->id(), "loss");
  EXPECT_EQ(static_cast<int64_t>(loss.steps.size()), stats.points_written);
  for (size_t i = 0; i < loss.steps.size(); ++i) ASSERT_EQ(loss.values[i], loss.steps[i]);
}

TEST(RunTest, ASqliteStoreThatFillsUpLosesPointsButNotTheRun) {
  TempDir dir;
  sqlite::SqliteStoreOptions small;
  small.max_page_count = 80;  // a few hundred kilobytes: the disk fills up during the run
  auto opened = sqlite::OpenSqliteRunStore(dir / "small.db", small);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  std::shared_ptr<RunStore> store = std::move(*opened);
  WriterOptions writer = FastWriter();
  writer.queue_capacity = 4096;  // batches small enough for the first ones to fit
  writer.batch_points = 512;
  auto run = StartRun(QuietOptions(), store, writer);
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  constexpr int kPoints = 200000;
  for (int i = 0; i < kPoints; ++i) run->Log({{"loss", i * 0.5}, {"acc", i * 0.25}}, i);
  Status finished = run->Finish();
  const RecordingStats stats = run->stats();
  EXPECT_EQ(stats.points_logged, 2 * kPoints);
  EXPECT_GT(stats.points_lost, 0);
  EXPECT_GT(stats.points_written, 0);
  EXPECT_EQ(stats.points_written + stats.points_lost, 2 * kPoints);
  ASSERT_FALSE(finished.ok());
  EXPECT_EQ(finished.code(), ErrorCode::kResourceExhausted) << finished.ToString();
  EXPECT_THAT(finished.message(), HasSubstr("points of 400,000 were not recorded"));
  // What was written reads back intact.
  Series loss = ReadAll(*store, run->id(), "loss");
  for (size_t i = 0; i < loss.steps.size(); ++i) ASSERT_EQ(loss.values[i], loss.steps[i] * 0.5);
}

TEST(RunTest, AKeyTheStoreRefusesLosesOnlyItsOwnPoints) {
  auto memory = std::make_shared<MemoryRunStore>();
  auto store = std::make_shared<FailingRunStore>(memory);
  store->RejectKey("bad key");
  auto run = StartRun(QuietOptions(), store, FastWriter());
  ASSERT_TRUE(run.ok());
  for (int i = 0; i < 1000; ++i) run->Log({{"loss", 1.0 * i}, {"bad key", 2.0 * i}}, i);
  Status finished = run->Finish();
  EXPECT_FALSE(finished.ok());
  EXPECT_THAT(finished.message(), HasSubstr("1,000 points of 2,000 were not recorded"));
  EXPECT_THAT(finished.message(), HasSubstr("bad key"));
  EXPECT_EQ(ReadAll(*memory, run->id(), "loss").steps.size(), 1000u);
}

TEST(RunTest, LogAfterFinishIsIgnored) {
  auto store = std::make_shared<MemoryRunStore>();
  auto run = StartRun(QuietOptions(), store);
  ASSERT_TRUE(run.ok());
  run->Log("a", 1, 0);
  ASSERT_TRUE(run->Finish().ok());
  run->Log("a", 2, 1);
  EXPECT_EQ(run->stats().points_logged, 1);
  EXPECT_EQ(ReadAll(*store, run->id(), "a").steps.size(), 1u);
}

}  // namespace
}  // namespace labbook::track
