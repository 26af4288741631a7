// track_run_child: a training process for the crash tests. It starts a run in the store named by
// its argument (with the SDK's signal handling), logs "loss" at steps 0..999, prints the run id
// on a line of its own, then logs "tick" at steps 0, 1, ... every millisecond until a signal ends
// it.
#include <chrono>
#include <cstdio>
#include <thread>

#include "labbook/run.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: track_run_child STORE_URI\n");
    return 2;
  }
  labbook::InitOptions options;
  options.project = "crash-tests";
  options.entity = "tester";
  options.store = argv[1];
  options.system_metrics_interval_s = 0.1;
  auto run = labbook::Init(options);
  if (!run.ok()) {
    std::fprintf(stderr, "track_run_child: %s\n", run.status().ToString().c_str());
    return 1;
  }
  for (int step = 0; step < 1000; ++step) run->Log("loss", 1.0 / (step + 1), step);
  std::printf("%s\n", run->id().c_str());
  std::fflush(stdout);
  for (int64_t step = 0;; ++step) {
    run->Log("tick", static_cast<double>(step), step);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}
