// The SDK's parts on their own: the point ring, the /proc parsers and system samples, the git
// commit reader.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <thread>

#include "test_util.hpp"
#include "track/git_info.hpp"
#include "track/point_ring.hpp"
#include "track/proc_stats.hpp"
#include "track/system_metrics.hpp"

namespace labbook::track {
namespace {

using test::TempDir;

TEST(PointRingTest, OneProducerOneConsumerSeeEveryPointInOrder) {
  PointRing ring(100);  // rounded up to 128
  ASSERT_EQ(ring.capacity(), 128u);
  constexpr int64_t kPoints = 300'000;
  std::thread consumer([&] {
    int64_t expected = 0;
    while (expected < kPoints) {
      const uint64_t head = ring.consumed();
      const uint64_t tail = ring.published();
      if (tail == head) std::this_thread::yield();
      for (uint64_t i = head; i < tail; ++i, ++expected) {
        const HistoryPoint& point = ring.At(i);
        ASSERT_EQ(point.step, expected);
        ASSERT_EQ(point.value, static_cast<double>(expected) * 0.5);
        ASSERT_EQ(point.key, static_cast<uint32_t>(expected % 3));
      }
      ring.Consume(tail);
    }
  });
  for (int64_t i = 0; i < kPoints; ++i) {
    while (!ring.HasRoom()) {
      ring.Publish();
      std::this_thread::yield();
    }
    ring.Push({static_cast<uint32_t>(i % 3), i, static_cast<double>(i) * 0.5, 0});
    if (i % 7 == 0) ring.Publish();
  }
  ring.Publish();
  consumer.join();
  EXPECT_EQ(ring.consumed(), static_cast<uint64_t>(kPoints));
}

TEST(ProcStatsTest, ParsesTheMachineCpuLine) {
  const char* stat =
      "cpu  100 5 50 800 40 3 2 0 7 0\n"
      "cpu0 50 2 25 400 20 1 1 0 0 0\n"
      "intr 12345\nbtime 1700000000\n";
  auto ticks = ParseSystemCpuTicks(stat);
  ASSERT_TRUE(ticks.has_value());
  EXPECT_EQ(ticks->total, 100u + 5 + 50 + 800 + 40 + 3 + 2 + 0);  // guest is inside user
  EXPECT_EQ(ticks->busy, ticks->total - 800 - 40);
  EXPECT_EQ(ParseBootTime(stat), 1700000000.0);
  EXPECT_FALSE(ParseSystemCpuTicks("intr 1\n").has_value());
  EXPECT_FALSE(ParseSystemCpuTicks("cpu  1 x 3 4\n").has_value());
}

TEST(ProcStatsTest, ParsesAProcessStatWhoseNameHasSpacesAndParentheses) {
  // Fields 14, 15 (utime 120, stime 30) and 22 (starttime 98765).
  const char* stat =
      "4242 (my (odd) name) S 1 4242 4242 0 -1 4194304 1000 0 0 0 120 30 0 0 20 0 3 0 98765 "
      "1000000 500 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
  auto ticks = ParseProcessTicks(stat);
  ASSERT_TRUE(ticks.has_value());
  EXPECT_EQ(ticks->cpu, 150u);
  EXPECT_EQ(ticks->start, 98765u);
  EXPECT_FALSE(ParseProcessTicks("4242 (short) S 1 2 3").has_value());
}

TEST(ProcStatsTest, ParsesMemory) {
  EXPECT_EQ(ParseResidentPages("5000 1200 300 1 0 900 0\n"), 1200u);
  const char* meminfo =
      "MemTotal:       16000000 kB\nMemFree:         1000000 kB\n"
      "MemAvailable:    4000000 kB\nBuffers:          100 kB\n";
  auto used = ParseMemoryUsedPercent(meminfo);
  ASSERT_TRUE(used.has_value());
  EXPECT_DOUBLE_EQ(*used, 75.0);
  EXPECT_FALSE(ParseMemoryUsedPercent("MemTotal: 10 kB\n").has_value());
}

TEST(ProcStatsTest, ThisProcessStartedBeforeNowAndAGoneOneHasNoStartTime) {
  auto start = ProcessStartTime(getpid());
  ASSERT_TRUE(start.has_value());
  const double now = test::WallSeconds();
  EXPECT_LE(*start, now + 1);
  EXPECT_GT(*start, now - 24 * 3600.0);
  EXPECT_FALSE(ProcessStartTime(std::numeric_limits<pid_t>::max()).has_value());
}

TEST(SystemMetricsTest, ComputesPercentagesBetweenTwoReadings) {
  ProcReadings before;
  before.system_cpu = CpuTicks{100, 1000};
  before.process_cpu_ticks = 50;
  ProcReadings now;
  now.system_cpu = CpuTicks{400, 2000};  // 300 busy of 1000
  now.process_cpu_ticks = 250;           // 2 s of CPU at 100 ticks/s
  now.resident_pages = 2560;
  now.memory_used_percent = 42.5;
  now.elapsed_s = 4.0;
  SystemSample sample = ComputeSystemSample(before, now, 100.0, 4096.0);
  std::map<std::string, double> values(sample.begin(), sample.end());
  EXPECT_DOUBLE_EQ(values.at("system/cpu_percent"), 30.0);
  EXPECT_DOUBLE_EQ(values.at("system/process_cpu_percent"), 50.0);
  EXPECT_DOUBLE_EQ(values.at("system/process_rss_mb"), 10.0);
  EXPECT_DOUBLE_EQ(values.at("system/memory_percent"), 42.5);
  // Nothing readable, nothing reported.
  EXPECT_TRUE(ComputeSystemSample(ProcReadings{}, ProcReadings{}, 100.0, 4096.0).empty());
}

TEST(SystemMetricsTest, ReadsThisMachine) {
  ProcReadings readings = ReadProcNow();
  EXPECT_TRUE(readings.system_cpu.has_value());
  EXPECT_TRUE(readings.process_cpu_ticks.has_value());
  EXPECT_TRUE(readings.resident_pages.has_value());
  ASSERT_TRUE(readings.memory_used_percent.has_value());
  EXPECT_GT(*readings.memory_used_percent, 0.0);
  EXPECT_LE(*readings.memory_used_percent, 100.0);
}

constexpr char kCommit[] = "0123456789abcdef0123456789abcdef01234567";
constexpr char kOther[] = "fedcba9876543210fedcba9876543210fedcba98";

TEST(GitInfoTest, ReadsTheBranchFromALooseRefInAParentDirectory) {
  TempDir dir;
  dir.Write("repo/.git/HEAD", "ref: refs/heads/main\n");
  dir.Write("repo/.git/refs/heads/main", std::string(kCommit) + "\n");
  std::filesystem::create_directories(dir / "repo/src/deep");
  EXPECT_EQ(GitCommitOf(dir / "repo/src/deep"), kCommit);
  EXPECT_EQ(GitCommitOf(dir / "repo"), kCommit);
}

TEST(GitInfoTest, FallsBackToPackedRefsAndReadsADetachedHead) {
  TempDir dir;
  dir.Write("repo/.git/HEAD", "ref: refs/heads/feature/x\n");
  dir.Write("repo/.git/packed-refs", std::string("# pack-refs with: peeled fully-peeled sorted\n") +
                                         kOther + " refs/heads/main\n" + kCommit +
                                         " refs/heads/feature/x\n^" + kOther + "\n");
  EXPECT_EQ(GitCommitOf(dir / "repo"), kCommit);
  dir.Write("repo/.git/HEAD", std::string(kOther) + "\n");
  EXPECT_EQ(GitCommitOf(dir / "repo"), kOther);
}

TEST(GitInfoTest, FollowsAGitFileToAWorktreeAndItsCommonDirectory) {
  TempDir dir;
  dir.Write("main/.git/refs/heads/topic", std::string(kCommit) + "\n");
  dir.Write("main/.git/worktrees/wt/HEAD", "ref: refs/heads/topic\n");
  dir.Write("main/.git/worktrees/wt/commondir", "../..\n");
  dir.Write("wt/.git", "gitdir: " + (dir / "main/.git/worktrees/wt").string() + "\n");
  EXPECT_EQ(GitCommitOf(dir / "wt"), kCommit);
}

TEST(GitInfoTest, EmptyOutsideARepositoryAndBeforeTheFirstCommit) {
  TempDir dir;
  // The temporary directory itself may sit inside a repository on a developer's machine.
  dir.Write("repo/.git/HEAD", "ref: refs/heads/main\n");
  EXPECT_EQ(GitCommitOf(dir / "repo"), "");
  dir.Write("bad/.git/HEAD", "garbage\n");
  EXPECT_EQ(GitCommitOf(dir / "bad"), "");
  dir.Write("short/.git/HEAD", "0123abc\n");
  EXPECT_EQ(GitCommitOf(dir / "short"), "");
}

}  // namespace
}  // namespace labbook::track
