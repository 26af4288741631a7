// The SQLite store's buffering of small history batches (sqlite_store.hpp, LogHistory): reads of
// the same store see every point at once, other connections within the flush interval, several
// writers at once lose nothing, and destroying the store commits what it holds.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "store_conformance.hpp"
#include "track/sqlite/sqlite_store.hpp"

namespace labbook::track::sqlite {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using conformance::CodeOf;
using conformance::FreshTestDirectory;

// Three points, of "loss" and "accuracy" at `step` and "lr" at step 0 (logged over and over, so
// the last call's value must win): far below the size the store writes at once.
HistoryBatch Tiny(int64_t step) {
  HistoryBatch batch;
  batch.keys = {"loss", "accuracy", "lr"};
  const double value = static_cast<double>(step);
  batch.points = {
      {0, step, value, 1e9 + value}, {1, step, -value, 1e9 + value}, {2, 0, value, 1e9 + value}};
  return batch;
}

class BufferedHistoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = FreshTestDirectory(std::string("buffered-") +
                              ::testing::UnitTest::GetInstance()->current_test_info()->name());
    db_path_ = dir_ / "labbook.db";
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }
  std::unique_ptr<RunStore> Open() {
    Result<std::unique_ptr<RunStore>> store = OpenSqliteRunStore(db_path_);
    EXPECT_OK(store);
    return store.ok() ? std::move(store).value() : nullptr;
  }
  std::string NewRun(RunStore& store) {
    RunInfo run;
    run.entity = "team";
    run.project = "vision";
    Result<RunInfo> created = store.CreateRun(run);
    EXPECT_OK(created);
    return created.ok() ? created->id : "";
  }
  // The key's steps are 0..count-1 with value sign * step.
  static void ExpectSteps(RunStore& store, const std::string& run_id, const std::string& key,
                          int64_t count, double sign) {
    Result<Series> series = store.ReadHistory(run_id, key, {});
    ASSERT_OK(series);
    ASSERT_EQ(series->points_in_range, count) << key;
    for (int64_t i = 0; i < count; ++i) {
      ASSERT_EQ(series->steps[static_cast<size_t>(i)], i) << key;
      ASSERT_EQ(series->values[static_cast<size_t>(i)], sign * static_cast<double>(i)) << key;
    }
  }
  // Points of the run's key as another connection sees them now.
  int64_t CountElsewhere(const std::string& run_id, const std::string& key) {
    std::unique_ptr<RunStore> other = Open();
    Result<std::vector<KeyInfo>> keys = other->HistoryKeys(run_id);
    if (!keys.ok()) return -1;
    for (const KeyInfo& info : *keys) {
      if (info.key == key) return info.count;
    }
    return 0;
  }

  fs::path dir_;
  fs::path db_path_;
};

TEST_F(BufferedHistoryTest, ReadsAfterTinyWritesSeeEveryPoint) {
  std::unique_ptr<RunStore> store = Open();
  const std::string run_id = NewRun(*store);
  constexpr int64_t kCalls = 3000;
  for (int64_t step = 0; step < kCalls; ++step) ASSERT_OK(store->LogHistory(run_id, Tiny(step)));
  // Straight after the last call, before any flush interval passed.
  Result<std::vector<KeyInfo>> keys = store->HistoryKeys(run_id);
  ASSERT_OK(keys);
  ASSERT_EQ(keys->size(), 3u);
  EXPECT_EQ((*keys)[0].key, "accuracy");
  EXPECT_EQ((*keys)[0].count, kCalls);
  EXPECT_EQ((*keys)[1].key, "loss");
  EXPECT_EQ((*keys)[1].last_value, kCalls - 1);
  EXPECT_EQ((*keys)[2].key, "lr");
  EXPECT_EQ((*keys)[2].count, 1);
  EXPECT_EQ((*keys)[2].last_value, kCalls - 1) << "the later of two points at a step wins";
  ExpectSteps(*store, run_id, "loss", kCalls, 1);
  ExpectSteps(*store, run_id, "accuracy", kCalls, -1);

  // One more tiny batch: committed for other connections within the flush interval, with no
  // further call of this store.
  ASSERT_OK(store->LogHistory(run_id, Tiny(kCalls)));
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (CountElsewhere(run_id, "loss") != kCalls + 1) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the buffered batch never arrived";
    std::this_thread::sleep_for(20ms);
  }
}

TEST_F(BufferedHistoryTest, ConcurrentTinyWritersLoseNothing) {
  std::unique_ptr<RunStore> shared = Open();
  std::unique_ptr<RunStore> second = Open();  // another connection, as another process would be
  constexpr int kThreads = 4;
  constexpr int64_t kCalls = 1500;
  std::vector<std::string> runs;
  for (int t = 0; t < kThreads; ++t) runs.push_back(NewRun(*shared));
  std::vector<Status> results(kThreads + 1);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int64_t step = 0; step < kCalls && results[t].ok(); ++step) {
        results[t] = shared->LogHistory(runs[t], Tiny(step));
        // Reads and run updates interleave with the buffered writes.
        if (step % 500 == 0 && results[t].ok()) results[t] = shared->GetRun(runs[t]).status();
      }
    });
  }
  threads.emplace_back([&] {
    HistoryBatch batch;
    batch.keys = {"other"};
    for (int64_t step = 0; step < kCalls && results[kThreads].ok(); ++step) {
      batch.points = {{0, step, static_cast<double>(step), 1e9}};
      results[kThreads] = second->LogHistory(runs[0], batch);
    }
  });
  for (std::thread& thread : threads) thread.join();
  for (const Status& result : results) ASSERT_OK(result);
  for (const std::string& run_id : runs) {
    ExpectSteps(*shared, run_id, "loss", kCalls, 1);
    ExpectSteps(*shared, run_id, "accuracy", kCalls, -1);
  }
  ExpectSteps(*second, runs[0], "other", kCalls, 1);
}

TEST_F(BufferedHistoryTest, DestroyingTheStoreCommitsWhatItBuffered) {
  std::string run_id;
  constexpr int64_t kCalls = 50;  // far below the points that force a commit
  {
    std::unique_ptr<RunStore> store = Open();
    run_id = NewRun(*store);
    for (int64_t step = 0; step < kCalls; ++step) {
      ASSERT_OK(store->LogHistory(run_id, Tiny(step)));
    }
  }
  std::unique_ptr<RunStore> reopened = Open();
  ExpectSteps(*reopened, run_id, "loss", kCalls, 1);
  ExpectSteps(*reopened, run_id, "accuracy", kCalls, -1);
}

TEST_F(BufferedHistoryTest, AProcessThatExitsWithoutClosingLosesOnlyTheLastInterval) {
  std::string run_id;
  {
    std::unique_ptr<RunStore> store = Open();
    run_id = NewRun(*store);
  }
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // Tiny batches, then a pause longer than the flush interval, then gone without closing.
    Result<std::unique_ptr<RunStore>> own = OpenSqliteRunStore(db_path_);
    if (!own.ok()) ::_exit(2);
    for (int64_t step = 0; step < 20; ++step) {
      if (!(*own)->LogHistory(run_id, Tiny(step)).ok()) ::_exit(3);
    }
    std::this_thread::sleep_for(1s);
    ::_exit(0);
  }
  int wait_status = 0;
  ASSERT_EQ(::waitpid(child, &wait_status, 0), child);
  ASSERT_TRUE(WIFEXITED(wait_status));
  ASSERT_EQ(WEXITSTATUS(wait_status), 0);
  std::unique_ptr<RunStore> store = Open();
  ExpectSteps(*store, run_id, "loss", 20, 1);
}

TEST_F(BufferedHistoryTest, PointsThatCouldNotBeCommittedFailTheRunsNextBatch) {
  std::unique_ptr<RunStore> store = Open();
  const std::string doomed = NewRun(*store);
  const std::string fine = NewRun(*store);
  ASSERT_OK(store->LogHistory(doomed, Tiny(0)));
  ASSERT_OK(store->LogHistory(fine, Tiny(0)));
  // Another connection deletes the run while its points wait in this store.
  ASSERT_OK(Open()->DeleteRun(doomed));
  std::this_thread::sleep_for(500ms);  // the flusher's commit fails for `doomed` only
  Status next = store->LogHistory(doomed, Tiny(1));
  EXPECT_EQ(CodeOf(next), ErrorCode::kNotFound) << next.ToString();
  EXPECT_NE(next.message().find("not recorded"), std::string::npos) << next.ToString();
  ExpectSteps(*store, fine, "loss", 1, 1);
}

}  // namespace
}  // namespace labbook::track::sqlite
