// log_run: a stand-in training loop that records a run with labbook's SDK: its config, metrics
// over steps, a summary value, a predictions table and a model file as an artifact.
//
//   LABBOOK_STORE=/tmp/runs.db ./log_run
//
// Prints "run <id> recorded in <store>" and exits 0, or prints the error and exits non-zero.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <labbook/run.hpp>

int main() {
  labbook::InitOptions options;
  options.project = "examples";
  options.name = "log-run";
  options.tags = {"example"};
  options.config = {
      {"optimizer", {{"name", "sgd"}, {"learning_rate", 0.05}}}, {"epochs", 5}, {"batch_size", 32}};
  auto run = labbook::Init(options);
  if (!run.ok()) {
    std::fprintf(stderr, "log_run: %s\n", run.status().ToString().c_str());
    return labbook::ExitCodeFor(run.status().code());
  }

  constexpr int kEpochs = 5;
  constexpr int kBatchesPerEpoch = 20;
  int64_t step = 0;
  for (int epoch = 0; epoch < kEpochs; ++epoch) {
    for (int batch = 0; batch < kBatchesPerEpoch; ++batch, ++step) {
      const double loss = 2.3 * std::exp(-0.03 * static_cast<double>(step));
      run->Log({{"loss", loss}, {"accuracy", 1.0 - loss / 2.5}}, step);
    }
    run->Log("val/loss", 2.4 * std::exp(-0.6 * (epoch + 1)), step);
  }
  run->SetSummary("test/accuracy", 0.912);

  auto table = run->LogTable("predictions", "index,label,predicted\n0,7,7\n1,2,2\n2,1,7\n");
  if (!table.ok()) {
    std::fprintf(stderr, "log_run: %s\n", table.status().ToString().c_str());
    return labbook::ExitCodeFor(table.status().code());
  }

  const std::filesystem::path model = "log_run_model.txt";
  std::ofstream(model) << "weights of the stand-in model\n";
  auto artifact = run->LogArtifact("log-run-model", "model", {{"model.txt", model}},
                                   {{"epochs", kEpochs}}, {"best"});
  std::filesystem::remove(model);
  if (!artifact.ok()) {
    std::fprintf(stderr, "log_run: %s\n", artifact.status().ToString().c_str());
    return labbook::ExitCodeFor(artifact.status().code());
  }

  const std::string id = run->id();
  const std::string store = run->store_uri();
  labbook::Status finished = run->Finish(0);
  if (!finished.ok()) {
    std::fprintf(stderr, "log_run: %s\n", finished.ToString().c_str());
    return labbook::ExitCodeFor(finished.code());
  }
  std::printf("run %s recorded in %s\n", id.c_str(), store.c_str());
  return 0;
}
