// track_run_child: a training process for the crash tests. It starts a run in the store named by
// its first argument (with the SDK's signal handling), logs "loss" at steps 0..999, prints the run
// id on a line of its own, then logs "tick" at steps 0, 1, ... every millisecond until a signal
// ends it.
//
// With "few" as second argument it logs only "loss" and "accuracy" at steps 0..4 (no system
// metrics), waits until the writer has handed them to the store, prints the run id and then
// sleeps until a signal ends it, so the test can kill it before its first heartbeat.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

#include "labbook/run.hpp"

int main(int argc, char** argv) {
  const bool few = argc == 3 && std::strcmp(argv[2], "few") == 0;
  if (argc != 2 && !few) {
    std::fprintf(stderr, "usage: track_run_child STORE_URI [few]\n");
    return 2;
  }
  labbook::InitOptions options;
  options.project = "crash-tests";
  options.entity = "tester";
  options.store = argv[1];
  options.system_metrics_interval_s = 0.1;
  options.system_metrics = !few;
  auto run = labbook::Init(options);
  if (!run.ok()) {
    std::fprintf(stderr, "track_run_child: %s\n", run.status().ToString().c_str());
    return 1;
  }
  if (few) {
    for (int step = 0; step < 5; ++step) {
      run->Log({{"loss", 1.0 / (step + 1)}, {"accuracy", 0.5 + 0.1 * step}}, step);
    }
    while (run->stats().points_written < 10) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    std::printf("%s\n", run->id().c_str());
    std::fflush(stdout);
    for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  for (int step = 0; step < 1000; ++step) run->Log("loss", 1.0 / (step + 1), step);
  std::printf("%s\n", run->id().c_str());
  std::fflush(stdout);
  for (int64_t step = 0;; ++step) {
    run->Log("tick", static_cast<double>(step), step);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}
