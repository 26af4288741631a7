#include "train_tracking.hpp"

#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <string>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <vector>

#include "core/status_macros.hpp"
#include "labbook/dataset.hpp"
#include "track/sqlite/blob_store.hpp"
#include "track/store.hpp"
#include "train/progress_bar.hpp"

namespace labbook::cli {

void TrackingCallback::OnTrainBegin(const train::TrainInfo& info) {
  has_validation_ = info.validation_samples > 0;
}

void TrackingCallback::OnBatchEnd(int /*batch*/, const train::BatchLogs& logs) {
  run_.Log({{kBatchLoss, logs.batch_loss},
            {kBatchEpochLoss, logs.loss},
            {kBatchEpochAccuracy, logs.accuracy},
            {kBatchLearningRate, logs.learning_rate}},
           logs.step);
}

void TrackingCallback::OnEpochEnd(int epoch, const train::EpochLogs& logs) {
  const int64_t step = epoch + 1;
  run_.Log({{"epoch/loss", logs.loss},
            {"epoch/accuracy", logs.accuracy},
            {"epoch/learning_rate", logs.learning_rate},
            {"epoch/seconds", logs.seconds},
            {"epoch/samples_per_second",
             logs.seconds > 0 ? static_cast<double>(logs.samples) / logs.seconds : 0.0}},
           step);
  if (has_validation_) {
    run_.Log({{"epoch/val_loss", logs.val_loss}, {"epoch/val_accuracy", logs.val_accuracy}}, step);
  }
  run_.SetSummary("epoch", step);
}

void RankSystemMetricsCallback::OnEpochBegin(int /*epoch*/) {
  before_ = track::ReadProcNow();
  before_seconds_ = train::ProgressBar::SteadySeconds();
}

void RankSystemMetricsCallback::OnEpochEnd(int epoch, const train::EpochLogs& /*logs*/) {
  track::ProcReadings now = track::ReadProcNow();
  now.elapsed_s = train::ProgressBar::SteadySeconds() - before_seconds_;
  const track::SystemSample sample =
      track::ComputeSystemSample(before_, now, static_cast<double>(sysconf(_SC_CLK_TCK)),
                                 static_cast<double>(sysconf(_SC_PAGESIZE)));
  std::string text;
  for (const auto& [key, value] : sample) {
    char line[256];
    std::snprintf(line, sizeof line, "%s\t%.17g\n", key.c_str(), value);
    text += line;
  }
  Result<std::vector<std::string>> gathered = comm_.Gather(text, 0);
  if (!gathered.ok()) {
    // The trainer's next collective fails the same way and ends the run; a warning will do.
    std::fprintf(stderr, "labbook: warning: rank %d: system metrics not gathered: %s\n",
                 comm_.rank(), gathered.status().ToString().c_str());
    return;
  }
  for (size_t rank = 1; rank < gathered->size(); ++rank) {
    std::istringstream lines((*gathered)[rank]);
    std::string line;
    while (std::getline(lines, line)) {
      const size_t tab = line.find('\t');
      if (tab == std::string::npos || !line.starts_with("system/")) continue;
      const std::string key = "system/rank" + std::to_string(rank) + "/" + line.substr(7, tab - 7);
      run_.Log(key, std::strtod(line.c_str() + tab + 1, nullptr), epoch + 1);
    }
  }
}

namespace {

// NaN is not JSON: such metrics are left out of the summary.
void SetIfFinite(Run& run, const std::string& key, double value) {
  if (std::isfinite(value)) run.SetSummary(key, value);
}

std::string ConfusionCsv(const metrics::ConfusionMatrix& confusion,
                         const std::vector<std::string>& class_names) {
  auto name = [&](int32_t k) {
    return k < static_cast<int32_t>(class_names.size()) ? class_names[k] : std::to_string(k);
  };
  // Class names of the built-in datasets hold no commas or quotes; quote anyway for idx: sets.
  auto quoted = [](const std::string& s) {
    std::string out = "\"";
    for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
    return out + "\"";
  };
  std::string csv = "true_class,true_name,predicted_class,predicted_name,count\n";
  for (int32_t t = 0; t < confusion.num_classes; ++t) {
    for (int32_t p = 0; p < confusion.num_classes; ++p) {
      csv += std::to_string(t) + "," + quoted(name(t)) + "," + std::to_string(p) + "," +
             quoted(name(p)) + "," + std::to_string(confusion.at(t, p)) + "\n";
    }
  }
  return csv;
}

Status LogPredictions(Run& run, const std::string& artifact_name, const train::Evaluation& test,
                      const std::string& scratch_dir) {
  const PredictionTable table = train::ToPredictionTable(test);
  // A name of our own in a directory of our own: never a file the user wrote there.
  std::string pattern = scratch_dir + "/.labbook-predictions-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) {
    return ResourceExhausted(scratch_dir +
                             ": cannot create a scratch directory for the "
                             "predictions: " +
                             std::strerror(errno));
  }
  const std::string path = pattern + "/predictions.csv";
  const Status written = WritePredictionsCsv(path, table);
  Result<ArtifactRef> logged =
      written.ok() ? run.LogArtifact(artifact_name + "-predictions", "predictions",
                                     {{"predictions.csv", path}}, {{"samples", test.count}})
                   : Result<ArtifactRef>(written);
  std::error_code ignored;
  std::filesystem::remove_all(pattern, ignored);
  return logged.ok() ? Status::Ok() : logged.status();
}

}  // namespace

Status RecordTestResults(Run& run, const std::string& artifact_name, const TestResults& results,
                         const std::string& scratch_dir) {
  Status first = Status::Ok();
  auto keep = [&first](const Status& status) {
    if (first.ok() && !status.ok()) first = status;
  };
  if (results.test != nullptr && results.report != nullptr) {
    const metrics::EvaluationReport& report = *results.report;
    const auto& macro = report.classification.macro;
    SetIfFinite(run, "test/loss", results.test->loss);
    SetIfFinite(run, "test/accuracy", report.accuracy);
    SetIfFinite(run, "test/precision_macro", macro.precision);
    SetIfFinite(run, "test/recall_macro", macro.recall);
    SetIfFinite(run, "test/f1_macro", macro.f1);
    if (report.one_vs_rest) SetIfFinite(run, "test/auroc_macro", report.one_vs_rest->auroc_macro);
    run.SetSummary("test/samples", results.test->count);
    Result<ArtifactRef> confusion = run.LogTable(
        artifact_name + "-confusion_matrix", ConfusionCsv(report.confusion, results.class_names));
    if (!confusion.ok()) keep(confusion.status());
    keep(LogPredictions(run, artifact_name, *results.test, scratch_dir));
  }
  if (!results.model_path.empty()) {
    Result<ArtifactRef> model =
        run.LogArtifact(artifact_name, "model", {{"model.lbm", results.model_path}});
    if (!model.ok()) keep(model.status());
  }
  return first;
}

bool IsArtifactReference(const std::string& from) { return from.starts_with(kArtifactPrefix); }

Result<std::string> UseModelArtifact(Run& run, const std::string& reference,
                                     const std::string& directory, ArtifactRef* used) {
  const std::string name_and_version = reference.substr(std::strlen(kArtifactPrefix));
  Result<ArtifactRef> found = run.UseArtifact(name_and_version);
  if (!found.ok()) {
    return found.status().WithContext("cannot start from " + reference + " in " + run.entity() +
                                      "/" + run.project());
  }
  if (found->type != "model") {
    return InvalidArgument(reference + " is an artifact of type '" + found->type +
                           "', not a model");
  }
  const std::filesystem::path target =
      std::filesystem::path(directory) / (found->name + "-v" + std::to_string(found->version));
  LABBOOK_RETURN_IF_ERROR(
      run.DownloadArtifact(*found, target).WithContext("cannot download " + found->ToString()));
  std::vector<std::string> models;
  for (const std::string& file : found->files) {
    if (file.ends_with(".lbm")) models.push_back(file);
  }
  if (models.empty() && found->files.size() == 1) models = found->files;
  if (models.size() != 1) {
    return InvalidArgument(reference + " (" + found->ToString() + ") holds " +
                           std::to_string(models.size()) +
                           " model files (.lbm); expected exactly one");
  }
  *used = *found;
  return (target / models.front()).string();
}

Result<std::optional<ArtifactRef>> UseModelFileArtifact(Run& run, const std::string& path) {
  if (run.mode() == RunMode::kDisabled) return std::optional<ArtifactRef>();
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::optional<ArtifactRef>();  // PrepareTrainingRun reported it already
  track::sqlite::Sha256 hash;
  std::vector<char> buffer(1 << 16);
  while (in.read(buffer.data(), static_cast<std::streamsize>(buffer.size())) || in.gcount() > 0) {
    hash.Update(buffer.data(), static_cast<size_t>(in.gcount()));
  }
  const std::string sha256 = hash.HexDigest();
  LABBOOK_ASSIGN_OR_RETURN(std::unique_ptr<track::RunStore> store,
                           track::OpenStore(run.store_uri()));
  LABBOOK_ASSIGN_OR_RETURN(std::vector<track::ArtifactVersion> versions,
                           store->ListArtifacts({run.entity(), run.project()}));
  const track::ArtifactVersion* newest = nullptr;
  for (const track::ArtifactVersion& version : versions) {
    if (version.type != "model") continue;
    for (const track::ArtifactFile& file : version.files) {
      if (file.sha256 == sha256 &&
          (newest == nullptr || version.created_time >= newest->created_time)) {
        newest = &version;
      }
    }
  }
  if (newest == nullptr) return std::optional<ArtifactRef>();
  LABBOOK_ASSIGN_OR_RETURN(ArtifactRef used,
                           run.UseArtifact(newest->name + ":" + newest->VersionName()));
  return std::optional<ArtifactRef>(used);
}

}  // namespace labbook::cli
