// track_log_run_check DB RUN_ID: checks what examples/log_run recorded, through the store
// interface. Prints each failed check and exits 1 if there was one.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "track/store.hpp"

namespace {

int failures = 0;

void Check(bool ok, const std::string& what) {
  if (ok) return;
  std::fprintf(stderr, "log_run_check: expected %s\n", what.c_str());
  ++failures;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace labbook::track;
  if (argc != 3) {
    std::fprintf(stderr, "usage: track_log_run_check DB RUN_ID\n");
    return 2;
  }
  auto store = OpenStore(argv[1]);
  if (!store.ok()) {
    std::fprintf(stderr, "log_run_check: %s\n", store.status().ToString().c_str());
    return 1;
  }
  const std::string id = argv[2];
  auto run = (*store)->GetRun(id);
  if (!run.ok()) {
    std::fprintf(stderr, "log_run_check: %s\n", run.status().ToString().c_str());
    return 1;
  }
  Check(run->state == RunState::kFinished, "the run finished");
  Check(run->exit_code == 0, "exit code 0");
  Check(run->project == "examples" && run->name == "log-run", "project examples, name log-run");
  Check(run->config.value("/optimizer/name"_json_pointer, "") == "sgd", "config.optimizer.name");
  Check(run->config.value("epochs", 0) == 5, "config.epochs = 5");
  Check(run->pid > 0 && !run->host.empty(), "host and pid");

  auto loss = (*store)->ReadHistory(id, "loss", HistoryQuery{});
  Check(loss.ok() && loss->steps.size() == 100, "100 loss points");
  if (loss.ok() && !loss->values.empty()) {
    Check(loss->values.front() == 2.3 && loss->steps.back() == 99, "loss 2.3 at step 0 .. step 99");
    Check(run->summary.value("loss", 0.0) == loss->values.back(), "summary.loss = the last loss");
  }
  auto accuracy = (*store)->ReadHistory(id, "accuracy", HistoryQuery{});
  Check(accuracy.ok() && accuracy->steps.size() == 100, "100 accuracy points");
  auto val = (*store)->ReadHistory(id, "val/loss", HistoryQuery{});
  Check(val.ok() && val->steps.size() == 5, "5 val/loss points");
  Check(run->summary.value("test/accuracy", 0.0) == 0.912, "summary.test/accuracy = 0.912");

  auto artifacts = (*store)->ArtifactsOfRun(id);
  Check(artifacts.ok() && artifacts->produced.size() == 2, "two artifacts produced");
  if (artifacts.ok()) {
    for (const ArtifactVersion& version : artifacts->produced) {
      if (version.name == "predictions") {
        Check(version.type == "table" && version.files.size() == 1 &&
                  version.files[0].path == "predictions.csv",
              "a table artifact holding predictions.csv");
      } else {
        Check(version.name == "log-run-model" && version.type == "model" && version.version == 0 &&
                  version.files.size() == 1,
              "log-run-model:v0 of type model");
        const auto copy = std::filesystem::temp_directory_path() / ("log_run_check_" + id);
        Check(version.files.size() == 1 && (*store)->ReadArtifactFile(version.files[0], copy).ok(),
              "model.txt readable");
        std::ifstream in(copy);
        const std::string text((std::istreambuf_iterator<char>(in)),
                               std::istreambuf_iterator<char>());
        Check(text == "weights of the stand-in model\n", "model.txt's content");
        std::filesystem::remove(copy);
      }
    }
  }
  if (failures == 0) std::printf("log_run_check: run %s is complete\n", id.c_str());
  return failures == 0 ? 0 : 1;
}
