// Runs whose process ends abruptly, across processes through a SQLite store: track_run_child
// (run_child.cpp) logs into the store until the test sends it SIGTERM, SIGINT or SIGKILL.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "test_util.hpp"
#include "track/liveness.hpp"
#include "track/store.hpp"

extern char** environ;

namespace labbook::track {
namespace {

using namespace std::chrono_literals;

// A running track_run_child and the run id it printed.
struct Child {
  pid_t pid = -1;
  std::string run_id;
};

// `mode`: "" for the ticking child, "few" for the one that logs ten points and waits.
Child StartChild(const std::string& store_uri, const std::string& mode = "") {
  int fds[2];
  EXPECT_EQ(pipe(fds), 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  std::string program = TRACK_RUN_CHILD;
  std::string mode_arg = mode;
  char* argv[] = {program.data(), const_cast<char*>(store_uri.c_str()),
                  mode.empty() ? nullptr : mode_arg.data(), nullptr};
  Child child;
  EXPECT_EQ(posix_spawn(&child.pid, program.c_str(), &actions, nullptr, argv, environ), 0);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  char c = 0;
  while (read(fds[0], &c, 1) == 1 && c != '\n') child.run_id.push_back(c);
  close(fds[0]);
  return child;
}

// Waits for the child; returns the signal that ended it, or -exit status.
int WaitForEnd(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return 0;
  return WIFSIGNALED(status) ? WTERMSIG(status) : -WEXITSTATUS(status);
}

Series ReadAll(RunStore& store, const std::string& run_id, const std::string& key) {
  auto series = store.ReadHistory(run_id, key, HistoryQuery{});
  EXPECT_TRUE(series.ok()) << key << ": " << series.status().ToString();
  return series.ok() ? *series : Series{};
}

class CrashTest : public ::testing::TestWithParam<int> {};

TEST_P(CrashTest, ACatchableSignalEndsTheRunAsCrashedWithItsPointsFlushed) {
  const int signal_number = GetParam();
  test::TempDir dir;
  const std::string uri = "sqlite://" + (dir / "runs.db").string();
  Child child = StartChild(uri);
  ASSERT_EQ(child.run_id.size(), 8u);
  std::this_thread::sleep_for(300ms);  // some ticks, and a system sample or two
  ASSERT_EQ(kill(child.pid, signal_number), 0);
  // The signal still takes its default action once the run is recorded.
  EXPECT_EQ(WaitForEnd(child.pid), signal_number);

  auto store = OpenStore(uri);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto run = (*store)->GetRun(child.run_id);
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  EXPECT_EQ(run->state, RunState::kCrashed);
  EXPECT_EQ(run->exit_code, 128 + signal_number);
  EXPECT_GT(run->end_time, run->start_time);
  EXPECT_EQ(ReadAll(**store, child.run_id, "loss").steps.size(), 1000u);
  // Every tick up to the signal, none missing; the writer had not flushed them all on its own.
  Series ticks = ReadAll(**store, child.run_id, "tick");
  ASSERT_FALSE(ticks.steps.empty());
  for (size_t i = 0; i < ticks.steps.size(); ++i) ASSERT_EQ(ticks.steps[i], int64_t(i));
  EXPECT_EQ(run->summary["tick"], ticks.values.back());
  EXPECT_EQ(run->summary["loss"], 1.0 / 1000);
  EXPECT_FALSE(ReadAll(**store, child.run_id, "system/memory_percent").steps.empty());
}

INSTANTIATE_TEST_SUITE_P(Signals, CrashTest, ::testing::Values(SIGTERM, SIGINT, SIGHUP),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return std::string(sigabbrev_np(info.param));
                         });

TEST(KilledRunTest, ASigkilledRunLooksDeadAndIsReconciledAsCrashed) {
  test::TempDir dir;
  const std::string uri = "sqlite://" + (dir / "runs.db").string();
  Child child = StartChild(uri);
  ASSERT_EQ(child.run_id.size(), 8u);
  // More than a second after the loss points were logged: the writer has flushed them.
  std::this_thread::sleep_for(1500ms);
  ASSERT_EQ(kill(child.pid, SIGKILL), 0);
  EXPECT_EQ(WaitForEnd(child.pid), SIGKILL);

  auto store = OpenStore(uri);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto run = (*store)->GetRun(child.run_id);
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(run->state, RunState::kRunning);  // nobody recorded its end
  EXPECT_EQ(ReadAll(**store, child.run_id, "loss").steps.size(), 1000u);
  // At most the last second of ticks is lost.
  Series ticks = ReadAll(**store, child.run_id, "tick");
  EXPECT_FALSE(ticks.steps.empty());

  const double now = test::WallSeconds();
  EXPECT_TRUE(RunLooksDead(*run, now));
  auto runs = (*store)->ListRuns(RunQuery{"tester", "crash-tests"});
  ASSERT_TRUE(runs.ok());
  ASSERT_EQ(runs->size(), 1u);
  ASSERT_TRUE(ReconcileRunStates(**store, *runs, now).ok());
  EXPECT_EQ((*runs)[0].state, RunState::kCrashed);
  EXPECT_EQ((*store)->GetRun(child.run_id)->state, RunState::kCrashed);
}

TEST(KilledRunTest, ARunKilledBeforeItsFirstHeartbeatGetsItsSummaryFromTheHistory) {
  test::TempDir dir;
  const std::string uri = "sqlite://" + (dir / "runs.db").string();
  Child child = StartChild(uri, "few");
  ASSERT_EQ(child.run_id.size(), 8u);
  auto store = OpenStore(uri);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  // The child has handed its points to the store; wait until they are committed, as another
  // process sees them, then kill it: well before its first heartbeat (5 s after the start).
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  for (;;) {
    auto keys = (*store)->HistoryKeys(child.run_id);
    ASSERT_TRUE(keys.ok()) << keys.status().ToString();
    if (keys->size() == 2 && (*keys)[0].count == 5 && (*keys)[1].count == 5) break;
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the points never arrived";
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_EQ(kill(child.pid, SIGKILL), 0);
  EXPECT_EQ(WaitForEnd(child.pid), SIGKILL);

  auto run = (*store)->GetRun(child.run_id);
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  ASSERT_EQ(run->state, RunState::kRunning);
  ASSERT_TRUE(run->summary.empty()) << "a heartbeat wrote the summary: " << run->summary.dump();
  const double now = test::WallSeconds();
  EXPECT_TRUE(RunLooksDead(*run, now));
  std::vector<RunInfo> runs = {*run};
  ASSERT_TRUE(ReconcileRunStates(**store, runs, now).ok());
  EXPECT_EQ(runs[0].state, RunState::kCrashed);
  EXPECT_EQ(runs[0].summary["loss"], 1.0 / 5);

  auto stored = (*store)->GetRun(child.run_id);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->state, RunState::kCrashed);
  EXPECT_FALSE(stored->exit_code.has_value());
  EXPECT_GE(stored->end_time, stored->start_time);
  EXPECT_EQ(stored->summary, (nlohmann::json{{"loss", 1.0 / 5}, {"accuracy", 0.5 + 0.1 * 4}}));
}

TEST(KilledRunTest, AZombieProcessIsDead) {
  test::TempDir dir;
  const std::string uri = "sqlite://" + (dir / "runs.db").string();
  Child child = StartChild(uri, "few");
  ASSERT_EQ(child.run_id.size(), 8u);
  ASSERT_EQ(kill(child.pid, SIGKILL), 0);
  // Not reaped yet: the pid still names the (zombie) process.
  std::this_thread::sleep_for(200ms);
  auto store = OpenStore(uri);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto run = (*store)->GetRun(child.run_id);
  ASSERT_TRUE(run.ok());
  EXPECT_TRUE(RunLooksDead(*run, test::WallSeconds()));
  EXPECT_EQ(WaitForEnd(child.pid), SIGKILL);
}

}  // namespace
}  // namespace labbook::track
