// What `labbook train` records about a run: the counterpart of W&B's Keras metrics logger.
//
// TrackingCallback logs per-batch metrics (step: the optimizer step) and per-epoch metrics
// (step: the epoch, 1-based) through Run::Log, which only enqueues. RecordTestResults adds the
// final test metrics to the summary and logs the confusion matrix (a table named
// "<artifact_name>-confusion_matrix"), the predictions
// (an artifact of type "predictions" holding predictions.csv, the format `labbook eval` reads)
// and the model file (type "model"). The trainer knows nothing of this: it sees one more
// callback.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "distributed/communicator.hpp"
#include "labbook/metrics.hpp"
#include "labbook/run.hpp"
#include "track/system_metrics.hpp"
#include "train/trainer.hpp"

namespace labbook::cli {

// Per-batch keys: the batch's own loss, and the running means over the epoch so far that the
// progress bar shows (Keras' batch logs).
inline constexpr const char* kBatchLoss = "batch/loss";
inline constexpr const char* kBatchEpochLoss = "batch/epoch_loss";
inline constexpr const char* kBatchEpochAccuracy = "batch/epoch_accuracy";
inline constexpr const char* kBatchLearningRate = "batch/learning_rate";

class TrackingCallback final : public train::Callback {
 public:
  explicit TrackingCallback(Run& run) : run_(run) {}

  void OnTrainBegin(const train::TrainInfo& info) override;
  void OnBatchEnd(int batch, const train::BatchLogs& logs) override;
  void OnEpochEnd(int epoch, const train::EpochLogs& logs) override;

 private:
  Run& run_;
  bool has_validation_ = false;
};

// The system metrics of the other ranks of a data-parallel run. Each rank reads /proc at the
// start and end of every epoch; at the epoch's end rank 0 gathers the samples (the epoch's
// averages, as track/system_metrics.hpp computes them) and logs rank i's as
// "system/rank{i}/<name>" (e.g. system/rank1/process_cpu_percent) at step epoch + 1. Rank 0's
// own are the run's sampled "system/" metrics. The gather is a collective: every rank must add
// this callback, and only rank 0's `run` is used.
class RankSystemMetricsCallback final : public train::Callback {
 public:
  RankSystemMetricsCallback(distributed::Communicator& comm, Run& run) : comm_(comm), run_(run) {}

  void OnEpochBegin(int epoch) override;
  void OnEpochEnd(int epoch, const train::EpochLogs& logs) override;

 private:
  distributed::Communicator& comm_;
  Run& run_;
  track::ProcReadings before_;
  double before_seconds_ = 0;
};

// Artifacts and summary of a finished training run. `artifact_name` names the model artifact
// (the config's stem); the predictions are "<artifact_name>-predictions". Files are written
// under `scratch_dir` first. Returns the first error; the caller reports it and goes on.
struct TestResults {
  const train::Evaluation* test = nullptr;            // null: no test split
  const metrics::EvaluationReport* report = nullptr;  // null: no test split
  std::vector<std::string> class_names;
  std::string model_path;
};
[[nodiscard]] Status RecordTestResults(Run& run, const std::string& artifact_name,
                                       const TestResults& results, const std::string& scratch_dir);

// The model a training starts from (--resume, --init-from), in the run's lineage. A reference
// "artifact:NAME", "artifact:NAME:ALIAS" or "artifact:NAME:vN" names a model artifact of the
// run's project (default version: latest).
inline constexpr const char* kArtifactPrefix = "artifact:";
bool IsArtifactReference(const std::string& from);

// Records that `run` used the artifact `reference` names and downloads its files into
// `directory`/NAME-vN/; returns the model file (the artifact's one .lbm file, else its only file).
[[nodiscard]] Result<std::string> UseModelArtifact(Run& run, const std::string& reference,
                                                   const std::string& directory, ArtifactRef* used);

// For a plain model file: when its content is a file of a model artifact version of the run's
// project (a file `labbook artifacts get` downloaded), records that the run used that version
// (the newest such) and returns it; nullopt when no version holds it.
[[nodiscard]] Result<std::optional<ArtifactRef>> UseModelFileArtifact(Run& run,
                                                                      const std::string& path);

}  // namespace labbook::cli
