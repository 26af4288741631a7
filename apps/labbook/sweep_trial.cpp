#include "sweep_trial.hpp"

#include <cmath>
#include <cstdio>

#include "core/status_macros.hpp"
#include "track/store.hpp"

namespace labbook::cli {
namespace {

// The per-epoch keys `labbook train` logs (train_tracking.cpp), by the EpochLogs field.
std::optional<double> EpochValue(const std::string& metric, const train::EpochLogs& logs) {
  if (metric == "epoch/loss") return logs.loss;
  if (metric == "epoch/accuracy") return logs.accuracy;
  if (metric == "epoch/val_loss") return logs.val_loss;
  if (metric == "epoch/val_accuracy") return logs.val_accuracy;
  return std::nullopt;
}

}  // namespace

std::optional<double> SummaryMetric(const nlohmann::json& summary, const std::string& metric) {
  if (!summary.is_object()) return std::nullopt;
  const nlohmann::json* at = nullptr;
  if (auto it = summary.find(metric); it != summary.end()) {
    at = &*it;
  } else {
    at = &summary;
    size_t begin = 0;
    while (at != nullptr && begin <= metric.size()) {
      const size_t dot = std::min(metric.find('.', begin), metric.size());
      auto it2 = at->is_object() ? at->find(metric.substr(begin, dot - begin)) : at->end();
      at = at->is_object() && it2 != at->end() ? &*it2 : nullptr;
      begin = dot + 1;
    }
  }
  if (at == nullptr) return std::nullopt;
  if (at->is_number()) return at->get<double>();
  if (at->is_string() && at->get<std::string>() == "NaN") return std::nan("");
  return std::nullopt;
}

Result<std::unique_ptr<SweepTrial>> SweepTrial::Open(const std::string& reference,
                                                     const std::string& store_uri) {
  const size_t first = reference.find('/');
  const size_t second = first == std::string::npos ? first : reference.find('/', first + 1);
  if (second == std::string::npos || first == 0 || second == first + 1 ||
      second + 1 >= reference.size()) {
    return InvalidArgument("--sweep-trial '" + reference + "': expected SWEEP/NUMBER/AGENT");
  }
  const std::string sweep_id = reference.substr(0, first);
  const std::string number_text = reference.substr(first + 1, second - first - 1);
  char* end = nullptr;
  const long long number = std::strtoll(number_text.c_str(), &end, 10);
  if (*end != '\0' || number < 1) {
    return InvalidArgument("--sweep-trial '" + reference + "': the trial number is not 1 or more");
  }
  LABBOOK_ASSIGN_OR_RETURN(std::unique_ptr<sweep::SweepStore> store,
                           sweep::OpenSweepStore(store_uri));
  LABBOOK_ASSIGN_OR_RETURN(sweep::SweepInfo info, store->GetSweep(sweep_id));
  return std::unique_ptr<SweepTrial>(
      new SweepTrial(std::move(store), std::move(info), number, reference.substr(second + 1)));
}

Status SweepTrial::Attach(Run& run) {
  run_ = &run;
  run.SetSummary("sweep/id", sweep_.id);
  run.SetSummary("sweep/trial", number_);
  return store_->AttachRun(sweep_.id, number_, agent_, run.id());
}

void SweepTrial::OnEpochEnd(int epoch, const train::EpochLogs& logs) {
  if (!sweep_.spec.early_terminate || stopped_) return;
  const std::optional<double> value = EpochValue(sweep_.spec.metric, logs);
  if (!value) return;
  Result<sweep::Progress> progress =
      store_->ReportProgress(sweep_.id, number_, agent_, epoch + 1, *value);
  if (!progress.ok()) {
    // Training goes on: the trial is judged at its end by its final metric all the same.
    if (report_error_.ok()) report_error_ = progress.status();
    return;
  }
  if (progress->stop) {
    stopped_ = progress->reason;
    // The run says why it ended early, beside the sweep it belongs to.
    if (run_ != nullptr) run_->SetSummary("sweep/stopped", progress->reason);
    std::printf("\nsweep %s: stopping trial %lld: %s\n", sweep_.id.c_str(),
                static_cast<long long>(number_), progress->reason.c_str());
    std::fflush(stdout);
    if (trainer_ != nullptr) trainer_->RequestStop();
  }
}

Status SweepTrial::Complete(const Status& trained, Run& run) {
  if (!report_error_.ok()) {
    std::fprintf(stderr, "labbook: warning: sweep %s: %s\n", sweep_.id.c_str(),
                 report_error_.ToString().c_str());
  }
  if (!trained.ok()) {
    return store_->CompleteTrial(sweep_.id, number_, agent_, sweep::TrialState::kFailed,
                                 std::nullopt, trained.message());
  }
  std::optional<double> metric;
  if (!sweep_.spec.metric.empty()) {
    Result<std::unique_ptr<track::RunStore>> runs = track::OpenStore(run.store_uri());
    if (runs.ok()) {
      Result<track::RunInfo> info = (*runs)->GetRun(run.id());
      if (info.ok()) metric = SummaryMetric(info->summary, sweep_.spec.metric);
    }
    if (!metric) {
      std::fprintf(stderr,
                   "labbook: warning: sweep %s: run %s has no '%s' in its summary; the trial "
                   "ends without a metric\n",
                   sweep_.id.c_str(), run.id().c_str(), sweep_.spec.metric.c_str());
    }
  }
  const sweep::TrialState state = stopped_ ? sweep::TrialState::kStopped
                                           : sweep::TrialState::kFinished;
  return store_->CompleteTrial(sweep_.id, number_, agent_, state, metric, stopped_.value_or(""));
}

}  // namespace labbook::cli
