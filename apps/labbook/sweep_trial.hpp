// What `labbook train` does when an agent runs it as a trial of a sweep (the hidden option
// --sweep-trial SWEEP/NUMBER/AGENT): it records its run on the trial, reports the sweep's metric
// after every epoch and stops training when hyperband says so, and ends the trial with the
// metric's final value from the run's summary. The agent (cmd_sweep.cpp) only starts the
// process, renews the lease and cleans up after a crash.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "labbook/run.hpp"
#include "sweep/sweep_store.hpp"
#include "train/trainer.hpp"

namespace labbook::cli {

class SweepTrial final : public train::Callback {
 public:
  // `reference` is "SWEEP/NUMBER/AGENT"; `store_uri` the store the run is recorded in, which
  // keeps the sweep. kInvalidArgument for a malformed reference, the store's errors otherwise.
  [[nodiscard]] static Result<std::unique_ptr<SweepTrial>> Open(const std::string& reference,
                                                              const std::string& store_uri);

  // The trial's run has started: records it on the trial and marks the run as the sweep's.
  [[nodiscard]] Status Attach(Run& run);
  // Stops `trainer` at the end of an epoch when hyperband judges the trial behind.
  void Watch(train::Trainer* trainer) { trainer_ = trainer; }
  void OnEpochEnd(int epoch, const train::EpochLogs& logs) override;

  // Ends the trial: finished (or stopped, when hyperband stopped it) with the metric read back
  // from the run's summary in `store_uri`, or failed with `trained`'s message.
  [[nodiscard]] Status Complete(const Status& trained, Run& run);

  const std::optional<std::string>& stopped_reason() const { return stopped_; }

 private:
  SweepTrial(std::unique_ptr<sweep::SweepStore> store, sweep::SweepInfo sweep, int64_t number,
             std::string agent)
      : store_(std::move(store)), sweep_(std::move(sweep)), number_(number),
        agent_(std::move(agent)) {}

  std::unique_ptr<sweep::SweepStore> store_;
  sweep::SweepInfo sweep_;
  int64_t number_;
  std::string agent_;
  train::Trainer* trainer_ = nullptr;
  Run* run_ = nullptr;
  std::optional<std::string> stopped_;
  Status report_error_;
};

// The value of `metric` in a run's summary: the key as written ("test/accuracy"), else the
// dotted path into nested objects. Nullopt when absent or not a number.
std::optional<double> SummaryMetric(const nlohmann::json& summary, const std::string& metric);

}  // namespace labbook::cli
