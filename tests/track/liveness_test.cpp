// RunLooksDead and ReconcileRunStates on runs made up in a MemoryRunStore; the same against real
// killed processes is in crash_test.cpp.
#include "track/liveness.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>

#include "test_util.hpp"
#include "track/memory_store.hpp"
#include "track/proc_stats.hpp"

namespace labbook::track {
namespace {

// A pid that named a process a moment ago and names none now.
pid_t GonePid() {
  const pid_t child = fork();
  if (child == 0) _exit(0);
  int status = 0;
  waitpid(child, &status, 0);
  return child;
}

RunInfo RunningHere(double now) {
  RunInfo run;
  run.entity = "tester";
  run.project = "liveness";
  run.state = RunState::kRunning;
  run.host = ThisHost();
  run.pid = getpid();
  run.start_time = now;
  run.heartbeat_time = now;
  return run;
}

TEST(LivenessTest, ThisHostHasAName) { EXPECT_FALSE(ThisHost().empty()); }

TEST(LivenessTest, ALiveProcessOnThisHostIsAlive) {
  const double now = test::WallSeconds();
  EXPECT_FALSE(RunLooksDead(RunningHere(now), now));
  // However old its heartbeat: a stopped (SIGSTOP) or busy process is not dead.
  RunInfo stalled = RunningHere(now);
  stalled.heartbeat_time = now - 10 * kStaleAfterS;
  EXPECT_FALSE(RunLooksDead(stalled, now + 10 * kStaleAfterS));
}

TEST(LivenessTest, AGoneProcessOnThisHostIsDeadAtOnce) {
  const double now = test::WallSeconds();
  RunInfo run = RunningHere(now);
  run.pid = GonePid();
  EXPECT_TRUE(RunLooksDead(run, now));
  run.state = RunState::kFinished;  // only running runs can die
  EXPECT_FALSE(RunLooksDead(run, now));
}

TEST(LivenessTest, APidNowNamingALaterProcessIsDead) {
  // This process started before the run; a run that started well before this process cannot be
  // this process's, though the pid is alive.
  auto process_start = ProcessStartTime(getpid());
  ASSERT_TRUE(process_start.has_value());
  const double now = test::WallSeconds();
  RunInfo run = RunningHere(*process_start - 3600);
  run.heartbeat_time = now;
  EXPECT_TRUE(RunLooksDead(run, now));
  run.start_time = *process_start + 0.5;
  EXPECT_FALSE(RunLooksDead(run, now));
}

TEST(LivenessTest, AnotherHostsRunDiesWhenItsHeartbeatIsStale) {
  const double now = test::WallSeconds();
  RunInfo run = RunningHere(now - 600);
  run.host = "some-other-host.invalid";
  run.pid = GonePid();  // meaningless on another host
  run.heartbeat_time = now - 10;
  EXPECT_FALSE(RunLooksDead(run, now));
  run.heartbeat_time = now - kStaleAfterS - 1;
  EXPECT_TRUE(RunLooksDead(run, now));
  EXPECT_FALSE(RunLooksDead(run, now, /*stale_after_s=*/3600));
  // Without a heartbeat the start time is the last sign of life.
  run.heartbeat_time = 0;
  run.start_time = now - 5;
  EXPECT_FALSE(RunLooksDead(run, now));
}

TEST(LivenessTest, ReconcileEndsOnlyTheDeadRunsAsCrashed) {
  MemoryRunStore store;
  const double now = test::WallSeconds();
  RunInfo alive = RunningHere(now);
  RunInfo gone = RunningHere(now);
  gone.pid = GonePid();
  gone.heartbeat_time = now - 3;
  RunInfo remote_stale = RunningHere(now - 120);
  remote_stale.host = "some-other-host.invalid";
  remote_stale.heartbeat_time = now - 100;
  RunInfo remote_fresh = remote_stale;
  remote_fresh.heartbeat_time = now - 1;
  RunInfo finished = RunningHere(now);
  finished.state = RunState::kFinished;
  finished.pid = GonePid();
  std::vector<RunInfo> runs;
  for (RunInfo run : {alive, gone, remote_stale, remote_fresh, finished}) {
    auto created = store.CreateRun(run);
    ASSERT_TRUE(created.ok());
    runs.push_back(*created);
  }
  ASSERT_TRUE(ReconcileRunStates(store, runs, now).ok());
  const std::vector<RunState> expected = {RunState::kRunning, RunState::kCrashed,
                                          RunState::kCrashed, RunState::kRunning,
                                          RunState::kFinished};
  for (size_t i = 0; i < runs.size(); ++i) {
    EXPECT_EQ(runs[i].state, expected[i]) << i;
    auto stored = store.GetRun(runs[i].id);
    ASSERT_TRUE(stored.ok());
    EXPECT_EQ(stored->state, expected[i]) << i;
  }
  // A crashed run ends at its last sign of life.
  EXPECT_EQ(store.GetRun(runs[1].id)->end_time, now - 3);
  EXPECT_EQ(store.GetRun(runs[2].id)->end_time, now - 100);
}

TEST(LivenessTest, ADeadRunWithoutHeartbeatGetsItsSummaryFromTheHistory) {
  MemoryRunStore store;
  const double now = test::WallSeconds();
  RunInfo run = RunningHere(now - 2);
  run.pid = GonePid();
  run.heartbeat_time = 0;              // never sent one
  run.summary = {{"accuracy", 0.25}};  // set explicitly: kept
  auto created = store.CreateRun(run);
  ASSERT_TRUE(created.ok());
  HistoryBatch batch;
  batch.keys = {"loss", "accuracy", "system/cpu_percent", "nan"};
  batch.points = {{0, 0, 2.0, now},
                  {0, 1, 1.5, now},
                  {1, 1, 0.75, now},
                  {2, 0, 50.0, now},
                  {3, 0, std::nan(""), now}};
  ASSERT_TRUE(store.LogHistory(created->id, batch).ok());
  std::vector<RunInfo> runs = {*created};
  ASSERT_TRUE(ReconcileRunStates(store, runs, now).ok());
  auto stored = store.GetRun(created->id);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->state, RunState::kCrashed);
  EXPECT_EQ(stored->end_time, now - 2);  // its start: the only sign of life
  EXPECT_EQ(stored->summary, (nlohmann::json{{"loss", 1.5}, {"accuracy", 0.25}}));
  EXPECT_EQ(runs[0].summary, stored->summary);
}

}  // namespace
}  // namespace labbook::track
