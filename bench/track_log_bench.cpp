// track_log_bench: what run tracking costs the training thread.
//
// 1. Log call cost: rounds of 100 Log calls of 4 keys each (400 points) timed as one interval,
//    with ~200 us of busy work between rounds (a training step), while the writer thread batches
//    the points into the store and the system-metrics sampler runs. Reports the median, p90 and
//    p99 over rounds of ns per point, for the 4-key call and the single-key call; the goal is a
//    median of at most 100 ns.
// 2. Overhead on a training-like loop: steps of fixed arithmetic (~50 us) logging 4 keys each,
//    tracked into the store against the same loop untracked (the peer), alternating rounds; the
//    report gives the median step time of each and the ratio.
//
//   track_log_bench [--store sqlite|memory] [--rounds 2000] [--steps 20000] [--repeats 5]
//
// --store sqlite (the default) writes to a SQLite store in a temporary directory; memory uses
// MemoryRunStore. Exit status: 0; 1 when the run could not start or lost points; 2 on a usage
// error.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "labbook/run.hpp"
#include "track/memory_store.hpp"
#include "track/run_start.hpp"
#include "track/sqlite/sqlite_store.hpp"

namespace {

namespace fs = std::filesystem;
namespace track = labbook::track;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string store = "sqlite";
  int rounds = 2000;
  int steps = 20000;
  int repeats = 5;
};

// Arithmetic the compiler cannot drop: a stand-in for a training step of about `work` units.
// Not inlined, so the tracked and untracked loops run the very same code around it.
[[gnu::noinline]] double Work(int work, double seed) {
  double x = seed;
  for (int i = 0; i < work; ++i) x = x * 0.999999 + 1e-7 * static_cast<double>(i & 7);
  return x;
}

double Percentile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  const size_t at = std::min(values.size() - 1, static_cast<size_t>(p * values.size()));
  return values[at];
}

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// Work units that take about `seconds`.
int CalibrateWork(double seconds) {
  int work = 1000;
  volatile double sink = 0;
  while (true) {
    const auto start = Clock::now();
    sink = sink + Work(work, 1.0);
    const double took = Seconds(Clock::now() - start);
    if (took > 0.01) return std::max(1, static_cast<int>(work * seconds / took));
    work *= 2;
  }
}

labbook::Result<labbook::Run> StartBenchRun(const Options& options, const fs::path& directory,
                                            const char* name) {
  labbook::InitOptions init;
  init.project = "track-log-bench";
  init.entity = "bench";
  init.name = name;
  init.handle_signals = false;
  std::shared_ptr<track::RunStore> store;
  if (options.store == "memory") {
    store = std::make_shared<track::MemoryRunStore>();
  } else {
    auto opened = track::sqlite::OpenSqliteRunStore(directory / "bench.db");
    if (!opened.ok()) return opened.status();
    store = std::move(*opened);
  }
  return track::StartRun(init, store);
}

bool ReportFinish(labbook::Run& run) {
  labbook::Status finished = run.Finish(0);
  const labbook::RecordingStats stats = run.stats();
  std::printf("  writer: %lld points logged, %lld written, %lld lost%s%s\n",
              static_cast<long long>(stats.points_logged),
              static_cast<long long>(stats.points_written),
              static_cast<long long>(stats.points_lost), finished.ok() ? "" : ": ",
              finished.ok() ? "" : finished.ToString().c_str());
  return finished.ok() && stats.points_lost == 0;
}

bool MeasureLogCost(const Options& options, const fs::path& directory) {
  auto run = StartBenchRun(options, directory, "log-cost");
  if (!run.ok()) {
    std::fprintf(stderr, "track_log_bench: %s\n", run.status().ToString().c_str());
    return false;
  }
  constexpr int kCallsPerRound = 100;
  const int pause_work = CalibrateWork(200e-6);
  std::vector<double> four_keys;
  std::vector<double> one_key;
  volatile double sink = 0;
  int64_t step = 0;
  for (int round = 0; round < options.rounds; ++round) {
    const auto start = Clock::now();
    for (int call = 0; call < kCallsPerRound; ++call, ++step) {
      const double x = static_cast<double>(step);
      run->Log({{"loss", 1.0 / (x + 1)}, {"accuracy", x * 1e-6}, {"lr", 1e-3}, {"epoch", 3}}, step);
    }
    const auto middle = Clock::now();
    for (int call = 0; call < kCallsPerRound; ++call) {
      run->Log("val/loss", static_cast<double>(call), step + call);
    }
    const auto end = Clock::now();
    step += kCallsPerRound;
    four_keys.push_back(Seconds(middle - start) * 1e9 / (4 * kCallsPerRound));
    one_key.push_back(Seconds(end - middle) * 1e9 / kCallsPerRound);
    sink = sink + Work(pause_work, sink);
  }
  std::printf("Log call cost, %d rounds of %d calls, writer into the %s store:\n", options.rounds,
              kCallsPerRound, options.store.c_str());
  std::printf("  %-34s %8s %8s %8s\n", "ns per point", "median", "p90", "p99");
  std::printf("  %-34s %8.1f %8.1f %8.1f\n", "Log({4 keys}, step)", Percentile(four_keys, 0.5),
              Percentile(four_keys, 0.9), Percentile(four_keys, 0.99));
  std::printf("  %-34s %8.1f %8.1f %8.1f\n", "Log(key, value, step)", Percentile(one_key, 0.5),
              Percentile(one_key, 0.9), Percentile(one_key, 0.99));
  std::printf(
      "  goal: median <= 100 ns per point: %s\n",
      Percentile(four_keys, 0.5) <= 100 && Percentile(one_key, 0.5) <= 100 ? "met" : "MISSED");
  return ReportFinish(*run);
}

// `steps` training steps, logging 4 keys per step into `run` unless it is null.
[[gnu::noinline]] double TrainingLoop(labbook::Run* run, int steps, int step_work) {
  double x = 1.0;
  for (int step = 0; step < steps; ++step) {
    x = Work(step_work, x);
    if (run != nullptr) {
      run->Log({{"loss", x}, {"accuracy", x * 0.5}, {"lr", 1e-3}, {"epoch", 1}}, step);
    }
  }
  return x;
}

bool MeasureOverhead(const Options& options, const fs::path& directory) {
  const int step_work = CalibrateWork(50e-6);
  std::vector<double> tracked;
  std::vector<double> plain;
  volatile double sink = 0;
  bool ok = true;
  for (int repeat = 0; repeat < options.repeats; ++repeat) {
    {
      const auto start = Clock::now();
      sink = sink + TrainingLoop(nullptr, options.steps, step_work);
      plain.push_back(Seconds(Clock::now() - start) / options.steps);
    }
    auto run = StartBenchRun(options, directory, "overhead");
    if (!run.ok()) {
      std::fprintf(stderr, "track_log_bench: %s\n", run.status().ToString().c_str());
      return false;
    }
    const auto start = Clock::now();
    sink = sink + TrainingLoop(&*run, options.steps, step_work);
    tracked.push_back(Seconds(Clock::now() - start) / options.steps);
    labbook::Status finished = run->Finish(0);
    if (!finished.ok() || run->stats().points_lost != 0) ok = false;
  }
  const double tracked_us = Percentile(tracked, 0.5) * 1e6;
  const double plain_us = Percentile(plain, 0.5) * 1e6;
  std::printf("\nTraining-like loop, %d steps of ~50 us logging 4 keys, median of %d:\n",
              options.steps, options.repeats);
  std::printf("  %-34s %12s %14s %9s\n", "", "tracked", "untracked", "ratio");
  std::printf("  %-34s %9.2f us %11.2f us %8.3fx\n", "time per step", tracked_us, plain_us,
              tracked_us / plain_us);
  std::printf("  tracking overhead: %+.2f%% of the step (%.0f ns per step)\n",
              100.0 * (tracked_us - plain_us) / plain_us, (tracked_us - plain_us) * 1e3);
  return ok;
}

int Usage() {
  std::fprintf(stderr,
               "usage: track_log_bench [--store sqlite|memory] [--rounds N] [--steps N] "
               "[--repeats N]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (i + 1 >= argc) return Usage();
    const char* value = argv[++i];
    if (flag == "--store") {
      options.store = value;
      if (options.store != "sqlite" && options.store != "memory") return Usage();
    } else if (flag == "--rounds") {
      options.rounds = std::atoi(value);
    } else if (flag == "--steps") {
      options.steps = std::atoi(value);
    } else if (flag == "--repeats") {
      options.repeats = std::atoi(value);
    } else {
      return Usage();
    }
  }
  if (options.rounds < 1 || options.steps < 1 || options.repeats < 1) return Usage();

  const fs::path directory =
      fs::temp_directory_path() / ("labbook-track-log-bench-" + std::to_string(getpid()));
  fs::create_directories(directory);
  bool ok = MeasureLogCost(options, directory);
  ok = MeasureOverhead(options, directory) && ok;
  std::error_code ignored;
  fs::remove_all(directory, ignored);
  return ok ? 0 : 1;
}
