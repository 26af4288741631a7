// dashboard_seed: fills a SQLite run store with a project the size of a busy team's, for
// bench/dashboard_bench.mjs: --runs runs, each with a config of hyperparameters, a summary, and
// --metrics history keys of --steps points (loss-like and accuracy-like curves with noise, from a
// fixed seed, so every store it writes holds the same numbers).
//
//   dashboard_seed --store DIR/labbook.db [--runs 1000] [--metrics 10] [--steps 10000]
//                  [--entity bench] [--project bench]
//
// Prints the run ids, one per line, in the order written. Exit status 0, 1 when the store fails,
// 2 on a usage error.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <random>
#include <string>
#include <string_view>

#include "track/store.hpp"

namespace {

using labbook::track::HistoryBatch;
using labbook::track::HistoryPoint;
using labbook::track::RunInfo;
using labbook::track::RunState;
using labbook::track::RunUpdate;

struct Options {
  std::string store;
  int runs = 1000;
  int metrics = 10;
  int steps = 10000;
  std::string entity = "bench";
  std::string project = "bench";
};

bool Parse(int argc, char** argv, Options& options) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (i + 1 >= argc) {
      std::cerr << "dashboard_seed: " << flag << " needs a value\n";
      return false;
    }
    const std::string value = argv[++i];
    if (flag == "--store")
      options.store = value;
    else if (flag == "--runs")
      options.runs = std::atoi(value.c_str());
    else if (flag == "--metrics")
      options.metrics = std::atoi(value.c_str());
    else if (flag == "--steps")
      options.steps = std::atoi(value.c_str());
    else if (flag == "--entity")
      options.entity = value;
    else if (flag == "--project")
      options.project = value;
    else {
      std::cerr << "dashboard_seed: unknown flag " << flag << "\n";
      return false;
    }
  }
  if (options.store.empty() || options.runs < 1 || options.metrics < 1 || options.steps < 1) {
    std::cerr << "usage: dashboard_seed --store FILE [--runs N] [--metrics N] [--steps N]\n";
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (!Parse(argc, argv, options)) return 2;
  auto store = labbook::track::OpenStore("sqlite://" + options.store);
  if (!store.ok()) {
    std::cerr << "dashboard_seed: " << store.status().ToString() << "\n";
    return 1;
  }
  std::mt19937_64 random(7);
  std::normal_distribution<double> noise(0.0, 1.0);
  const double t0 = 1.7e9;
  for (int r = 0; r < options.runs; ++r) {
    RunInfo run;
    run.entity = options.entity;
    run.project = options.project;
    run.name = "run-" + std::to_string(r);
    const double learning_rate = std::pow(10.0, -4.0 + 3.0 * (r % 37) / 36.0);
    const int batch_size = 32 << (r % 4);
    const double dropout = 0.1 * (r % 6);
    run.config = {
        {"optimizer", {{"name", r % 2 ? "adam" : "sgd"}, {"learning_rate", learning_rate}}},
        {"batch_size", batch_size},
        {"dropout", dropout},
        {"seed", r}};
    run.start_time = t0 + r * 60.0;
    run.heartbeat_time = run.start_time;
    auto created = (*store)->CreateRun(run);
    if (!created.ok()) {
      std::cerr << "dashboard_seed: " << created.status().ToString() << "\n";
      return 1;
    }
    HistoryBatch batch;
    for (int m = 0; m < options.metrics; ++m) batch.keys.push_back("metric/m" + std::to_string(m));
    batch.points.reserve(static_cast<size_t>(options.metrics) * options.steps);
    const double speed = 1.0 + (r % 13) / 4.0;
    double last_accuracy = 0;
    for (int s = 0; s < options.steps; ++s) {
      const double progress = static_cast<double>(s) / options.steps;
      for (int m = 0; m < options.metrics; ++m) {
        const double curve = m % 2 == 0 ? 2.3 * std::exp(-speed * 4 * progress) + 0.05
                                        : 1.0 - 0.9 * std::exp(-speed * 4 * progress);
        const double value = curve + 0.02 * noise(random);
        if (m == 1) last_accuracy = value;
        batch.points.push_back(
            HistoryPoint{static_cast<uint32_t>(m), s, value, run.start_time + s * 0.05});
      }
    }
    if (auto logged = (*store)->LogHistory(created->id, batch); !logged.ok()) {
      std::cerr << "dashboard_seed: " << logged.ToString() << "\n";
      return 1;
    }
    RunUpdate update;
    update.state = RunState::kFinished;
    update.end_time = run.start_time + options.steps * 0.05;
    update.summary_patch = nlohmann::json{{"accuracy", last_accuracy}};
    if (auto updated = (*store)->UpdateRun(created->id, update); !updated.ok()) {
      std::cerr << "dashboard_seed: " << updated.ToString() << "\n";
      return 1;
    }
    std::printf("%s\n", created->id.c_str());
  }
  return 0;
}
