// `labbook train`: trains the model a YAML config describes, shows progress, evaluates it on the
// test split and writes the model file.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "commands.hpp"
#include "core/status_macros.hpp"
#include "distributed/communicator.hpp"
#include "labbook/dataset.hpp"
#include "labbook/metrics.hpp"
#include "output.hpp"
#include "report/text_table.hpp"
#include "sweep_trial.hpp"
#include "track/store.hpp"
#include "train/model_file.hpp"
#include "train/progress_bar.hpp"
#include "train/summary.hpp"
#include "train/train_config.hpp"
#include "train/trainer.hpp"
#include "train/training_run.hpp"
#include "train_tracking.hpp"

namespace labbook::cli {
namespace {

struct TrainCliOptions {
  std::string config;
  std::vector<std::string> overrides;
  std::string model_out;
  std::string predictions_out;
  std::string resume;
  std::string init_from;
  // Run tracking (labbook::Init).
  std::string project;
  std::string name;
  std::string group;
  std::vector<std::string> tags;
  std::string notes;
  std::string store;
  std::string mode = "online";
  // SWEEP/NUMBER/AGENT when an agent runs this as a trial of a sweep (sweep_trial.hpp).
  std::string sweep_trial;
};

std::string Num(double value, int decimals = 4) {
  if (std::isnan(value)) return "n/a";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  return buf;
}

std::string Seconds(double seconds) {
  char buf[64];
  if (seconds >= 60) {
    std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(seconds / 60),
                  static_cast<int>(std::fmod(seconds, 60)));
  } else {
    std::snprintf(buf, sizeof buf, "%.1fs", seconds);
  }
  return buf;
}

std::string Shape(const ImageSet& set) {
  return std::to_string(set.rows) + "x" + std::to_string(set.cols) + "x" +
         std::to_string(set.channels);
}

void PrintPlan(const std::string& config_path, const train::TrainingRun& run, int world) {
  const train::TrainConfig& c = run.config;
  const train::TrainOptions& o = c.options;
  int64_t params = 0;
  for (const nn::LayerInfo& layer : run.layers) params += layer.param_count();
  std::printf("config:    %s\n", config_path.c_str());
  std::printf("dataset:   %s: %s train / %s validation / %s test images of %s, %d classes\n",
              c.dataset.c_str(), FormatCount(run.train.count).c_str(),
              FormatCount(run.validation.count).c_str(),
              FormatCount(run.dataset.test.count).c_str(), Shape(run.dataset.train).c_str(),
              run.dataset.num_classes);
  std::printf("model:     %zu layers, %s parameters; loss %s\n", run.layers.size(),
              FormatCount(params).c_str(), std::string(nn::LossName(o.loss)).c_str());
  std::printf("optimizer: %s, learning rate %g (%s schedule); batch %d; %d epoch%s; seed %llu\n",
              std::string(nn::OptimizerName(o.optimizer.kind)).c_str(), o.optimizer.learning_rate,
              o.lr_schedule.name.c_str(), o.batch_size, o.epochs, o.epochs == 1 ? "" : "s",
              static_cast<unsigned long long>(o.seed));
  std::printf("compute:   %s backend, %s, %d thread%s\n",
              std::string(train::BackendName(c.backend)).c_str(),
              std::string(train::PrecisionName(c.precision)).c_str(), c.threads,
              c.threads == 1 ? "" : "s");
  if (world > 1) {
    std::printf("parallel:  %d MPI ranks, each with %d of every batch of %d and %d thread%s\n",
                world, (o.batch_size + world - 1) / world, o.batch_size, c.threads,
                c.threads == 1 ? "" : "s");
  }
  if (run.initial_epoch > 0) {
    std::printf("resuming:  after epoch %d\n", run.initial_epoch);
  }
  std::printf("\n");
}

Status PrintTestMetrics(const train::Evaluation& test, const metrics::EvaluationReport& report,
                        bool colour) {
  using report::Align;
  report::TextTable table({{"metric", Align::kLeft}, {"value", Align::kRight}});
  table.SetTitle("Test (" + FormatCount(test.count) + " images)");
  const auto& macro = report.classification.macro;
  LABBOOK_RETURN_IF_ERROR(table.AddRow({"loss", Num(test.loss)}));
  LABBOOK_RETURN_IF_ERROR(table.AddRow({"accuracy", Num(report.accuracy)}));
  LABBOOK_RETURN_IF_ERROR(table.AddRow({"macro precision", Num(macro.precision)}));
  LABBOOK_RETURN_IF_ERROR(table.AddRow({"macro recall", Num(macro.recall)}));
  LABBOOK_RETURN_IF_ERROR(table.AddRow({"macro F1", Num(macro.f1)}));
  if (report.one_vs_rest) {
    LABBOOK_RETURN_IF_ERROR(
        table.AddRow({"AUROC one-vs-rest (macro)", Num(report.one_vs_rest->auroc_macro)}));
  }
  std::fputs(table.Render(colour).c_str(), stdout);
  return Status::Ok();
}

Result<RunMode> ParseMode(const std::string& mode) {
  if (mode == "online") return RunMode::kOnline;
  if (mode == "offline") return RunMode::kOffline;
  if (mode == "disabled") return RunMode::kDisabled;
  return InvalidArgument("--track: expected online, offline or disabled, got '" + mode + "'");
}

Result<Run> StartTrackedRun(const TrainCliOptions& options, const nlohmann::json& config) {
  LABBOOK_ASSIGN_OR_RETURN(RunMode mode, ParseMode(options.mode));
  InitOptions init;
  init.project = options.project;
  init.name = options.name;
  init.group = options.group;
  init.tags = options.tags;
  init.notes = options.notes;
  init.store = options.store;
  init.mode = mode;
  init.config = config;
  Result<Run> started = Init(std::move(init));
  if (!started.ok()) return started.status().WithContext("cannot record the run");
  return started;
}

// Trains, evaluates, writes the model file and records it all in `tracked`.
Status TrainAndRecord(const TrainCliOptions& options, train::TrainingRun& run, Run& tracked,
                      SweepTrial* trial) {
  const std::string stem = FileStem(options.config);
  const std::string model_path =
      options.model_out.empty() ? "labbook-out/models/" + stem + ".lbm" : options.model_out;
  const std::string model_dir = std::filesystem::path(model_path).parent_path().string();
  distributed::Communicator& comm = run.trainer->communicator();
  // Rank 0 alone talks to the terminal and the store and writes files; the others train.
  const bool lead = comm.rank() == 0;
  if (!model_dir.empty() && lead) LABBOOK_RETURN_IF_ERROR(EnsureDirectory(model_dir));
  train::ProgressBar progress(stdout, isatty(STDOUT_FILENO) == 1);
  TrackingCallback tracking(tracked);
  RankSystemMetricsCallback rank_metrics(comm, tracked);
  if (lead) {
    run.trainer->AddCallback(&progress);
    run.trainer->AddCallback(&tracking);
  }
  if (comm.size() > 1) run.trainer->AddCallback(&rank_metrics);
  if (trial != nullptr) {
    trial->Watch(run.trainer.get());
    run.trainer->AddCallback(trial);
  }
  const double start = train::ProgressBar::SteadySeconds();
  LABBOOK_ASSIGN_OR_RETURN(train::FitResult fit,
                           run.trainer->Fit(run.train, run.validation, run.initial_epoch));
  const double seconds = train::ProgressBar::SteadySeconds() - start;
  std::string checksum;
  if (comm.size() > 1) {
    // Cheap, and the one proof that the ranks did not drift apart.
    LABBOOK_ASSIGN_OR_RETURN(checksum, train::AgreedWeightsChecksum(comm, *run.model));
  }
  if (!lead) return Status::Ok();
  const int epochs_run = fit.epochs_completed - run.initial_epoch;
  std::printf("\ntrained %d epoch%s in %s", epochs_run, epochs_run == 1 ? "" : "s",
              Seconds(seconds).c_str());
  if (fit.stopped_early) {
    std::printf("; early stopping after epoch %d (best: epoch %d%s)", fit.epochs_completed,
                fit.best_epoch + 1, fit.restored_best_weights ? ", its weights restored" : "");
  }
  std::printf("\n\n");

  if (comm.size() > 1) {
    const train::CommunicationStats stats = run.trainer->communication_stats();
    const double steps = static_cast<double>(std::max<int64_t>(1, stats.steps));
    std::printf("weights identical on %d ranks (checksum %s)\n", comm.size(), checksum.c_str());
    std::printf(
        "allreduce: %s bytes of gradients per step in %d bucket%s, %.3f ms per step; "
        "%.3f ms per step for the loss and accuracy\n\n",
        FormatCount(stats.gradient_bytes_per_step).c_str(), stats.buckets,
        stats.buckets == 1 ? "" : "s", 1e3 * stats.gradient_seconds / steps,
        1e3 * stats.metric_seconds / steps);
    tracked.SetSummary("distributed/world_size", comm.size());
    tracked.SetSummary("distributed/allreduce_bytes_per_step", stats.gradient_bytes_per_step);
    tracked.SetSummary("distributed/allreduce_ms_per_step", 1e3 * stats.gradient_seconds / steps);
    tracked.SetSummary("distributed/allreduce_buckets", stats.buckets);
    tracked.SetSummary("distributed/metric_allreduce_ms_per_step",
                       1e3 * stats.metric_seconds / steps);
    tracked.SetSummary("distributed/batch_size", run.config.options.batch_size);
  }

  LABBOOK_ASSIGN_OR_RETURN(
      train::Evaluation test,
      train::Evaluate(*run.model, run.spec.input, run.dataset.test, &run.trainer->loss()));
  const bool colour = report::StdoutWantsColour();
  std::optional<metrics::EvaluationReport> report;
  if (test.count > 0) {
    LABBOOK_ASSIGN_OR_RETURN(report, metrics::Evaluate(test.labels, test.predicted,
                                                       test.probabilities, test.num_classes));
    LABBOOK_RETURN_IF_ERROR(PrintTestMetrics(test, *report, colour));
  }

  train::ModelFile file = train::SnapshotModel(run, fit.epochs_completed, /*with_optimizer=*/true);
  LABBOOK_RETURN_IF_ERROR(train::WriteModelFile(model_path, file));
  std::printf("\nwrote %s", model_path.c_str());
  if (!options.predictions_out.empty() && test.count > 0) {
    LABBOOK_RETURN_IF_ERROR(
        WritePredictionsCsv(options.predictions_out, train::ToPredictionTable(test)));
    std::printf(" and %s", options.predictions_out.c_str());
  }
  std::printf("\n");
  std::fflush(stdout);

  if (tracked.mode() == RunMode::kDisabled) return Status::Ok();
  TestResults results;
  if (report) {
    results.test = &test;
    results.report = &*report;
  }
  results.class_names = run.dataset.class_names;
  results.model_path = model_path;
  const Status recorded =
      RecordTestResults(tracked, stem, results, model_dir.empty() ? "." : model_dir);
  if (!recorded.ok()) {
    // The model file is written: a store that fails now costs the record, not the training.
    std::fprintf(stderr, "labbook: warning: not recorded in the run: %s\n",
                 recorded.ToString().c_str());
  }
  return Status::Ok();
}

// Where the weights come from, with artifact references ("artifact:cnn:v3") resolved: recorded
// as used by `tracked` and downloaded. A plain model file that is an artifact's file is recorded
// too. `from` describes the artifact for the plan ("" for none).
Result<train::StartFrom> ResolveStart(const TrainCliOptions& options, Run& tracked,
                                      std::string* from) {
  train::StartFrom start{options.resume, options.init_from};
  for (std::string* path : {&start.resume, &start.init_from}) {
    if (!IsArtifactReference(*path)) continue;
    const std::string flag = path == &start.resume ? "--resume" : "--init-from";
    if (tracked.mode() == RunMode::kDisabled) {
      return InvalidArgument(flag + " " + *path +
                             ": an artifact needs a run store; not with --track disabled");
    }
    ArtifactRef used;
    // Beside the model file this run writes.
    const std::filesystem::path model_dir =
        options.model_out.empty() ? std::filesystem::path("labbook-out")
                                  : std::filesystem::path(options.model_out).parent_path();
    Result<std::string> model =
        UseModelArtifact(tracked, *path, (model_dir / "artifacts").string(), &used);
    if (!model.ok()) return model.status().WithContext(flag);
    *path = *model;
    *from = used.ToString() + " (" + *path + ")";
  }
  return start;
}

// One rank's part of `labbook train` (the only one without mpirun). Ranks other than 0 record
// nothing, read no model file or artifact (rank 0 broadcasts what they need) and print nothing.
Status RunTrainOnRank(const TrainCliOptions& all_options, distributed::Communicator& comm) {
  TrainCliOptions options = all_options;
  const bool lead = comm.rank() == 0;
  if (!lead) {
    options.mode = "disabled";
    options.resume.clear();
    options.init_from.clear();
    options.sweep_trial.clear();
  }
  LABBOOK_ASSIGN_OR_RETURN(train::TrainConfig config,
                           train::LoadTrainConfig(options.config, options.overrides));
  if (comm.size() > 1) {
    config.resolved["distributed"] = {{"world_size", comm.size()}};
    LABBOOK_RETURN_IF_ERROR(
        distributed::CheckSameOnAllRanks(comm, config.resolved.dump(), "the resolved config"));
  }
  // A model artifact to start from is the run's business: the run starts first, so that it
  // records the use and downloads the file. Otherwise a config or model file that cannot be
  // used stops the command before any run is recorded.
  const bool from_artifact =
      IsArtifactReference(options.resume) || IsArtifactReference(options.init_from);
  std::optional<Run> early;
  std::string from;
  train::StartFrom start{options.resume, options.init_from};
  if (from_artifact) {
    LABBOOK_ASSIGN_OR_RETURN(early, StartTrackedRun(options, config.resolved));
    Result<train::StartFrom> resolved = ResolveStart(options, *early, &from);
    if (!resolved.ok()) {
      early->Finish(ExitCodeFor(resolved.status().code())).IgnoreError();
      return resolved.status();
    }
    start = *resolved;
  }
  Result<train::TrainingRun> prepared = train::PrepareTrainingRun(std::move(config), start, &comm);
  if (!prepared.ok()) {
    if (early) early->Finish(ExitCodeFor(prepared.status().code())).IgnoreError();
    return prepared.status();
  }
  train::TrainingRun run = std::move(prepared).value();
  if (!early) {
    LABBOOK_ASSIGN_OR_RETURN(early, StartTrackedRun(options, run.config.resolved));
  }
  Run& tracked = *early;
  for (const std::string& path : {options.resume, options.init_from}) {
    if (path.empty() || from_artifact) continue;
    // A model file downloaded from an artifact: the lineage is worth a warning, not the training.
    Result<std::optional<ArtifactRef>> used = UseModelFileArtifact(tracked, path);
    if (!used.ok()) {
      std::fprintf(stderr, "labbook: warning: cannot tell whether %s is an artifact: %s\n",
                   path.c_str(), used.status().ToString().c_str());
    } else if (used->has_value()) {
      from = (*used)->ToString() + " (" + path + ")";
    }
  }
  std::unique_ptr<SweepTrial> trial;
  if (!options.sweep_trial.empty()) {
    if (tracked.mode() != RunMode::kOnline) {
      return InvalidArgument("--sweep-trial: a sweep's trial is recorded online (--track online)");
    }
    LABBOOK_ASSIGN_OR_RETURN(trial, SweepTrial::Open(options.sweep_trial, tracked.store_uri()));
    LABBOOK_RETURN_IF_ERROR(trial->Attach(tracked));
  }
  if (lead) PrintPlan(options.config, run, comm.size());
  if (!from.empty()) {
    std::printf("from:      artifact %s, recorded as used by the run\n", from.c_str());
  }
  if (tracked.mode() != RunMode::kDisabled) {
    std::printf("run:       %s (%s/%s) in %s\n\n", tracked.id().c_str(), tracked.entity().c_str(),
                tracked.project().c_str(), tracked.store_uri().c_str());
  }
  std::fflush(stdout);

  const Status trained = TrainAndRecord(options, run, tracked, trial.get());
  const Status finished = tracked.Finish(trained.ok() ? 0 : ExitCodeFor(trained.code()));
  if (trial != nullptr) {
    const Status completed = trial->Complete(trained, tracked);
    if (!completed.ok()) {
      std::fprintf(stderr, "labbook: warning: the sweep did not record the trial's end: %s\n",
                   completed.ToString().c_str());
    }
  }
  if (!finished.ok()) {
    std::fprintf(stderr, "labbook: warning: run %s: %s\n", tracked.id().c_str(),
                 finished.ToString().c_str());
  } else if (trained.ok() && tracked.mode() != RunMode::kDisabled) {
    // The hint must find the run: name the store unless it is the one `runs` reads by default.
    const std::string store =
        tracked.store_uri() == track::DefaultStoreUri() ? "" : " --store " + tracked.store_uri();
    std::printf("recorded run %s: labbook runs show %s%s\n", tracked.id().c_str(),
                tracked.id().c_str(), store.c_str());
  }
  return trained;
}

Status RunTrain(const TrainCliOptions& options) {
  LABBOOK_ASSIGN_OR_RETURN(std::unique_ptr<distributed::Communicator> world,
                           distributed::JoinWorld());
  const Status trained = RunTrainOnRank(options, *world);
  if (!trained.ok() && world->size() > 1) {
    // The other ranks may wait in a collective for this one and would hang: end them all.
    std::fflush(stdout);
    std::fprintf(stderr, "labbook: error: rank %d of %d: %s\n", world->rank(), world->size(),
                 trained.message().c_str());
    world->Abort(ExitCodeFor(trained.code()));
  }
  return trained;
}

}  // namespace

void AddTrainCommand(CLI::App& app, Action& action) {
  auto options = std::make_shared<TrainCliOptions>();
  CLI::App* cmd = app.add_subcommand(
      "train",
      "Train the model a YAML config describes (docs/config.md), evaluate it on the test split "
      "and write the model file");
  cmd->add_option("config", options->config, "Training config, e.g. examples/keras-cnn.yaml")
      ->required();
  cmd->add_option("--set", options->overrides,
                  "Override a config field: --set optimizer.name=nadam --set layers.0.filters=16 "
                  "(repeatable; the value is YAML: 3, 1e-3, true, [3, 3])")
      ->allow_extra_args(false);
  cmd->add_option("--model-out", options->model_out,
                  "Model file to write (default labbook-out/models/CONFIG-STEM.lbm)");
  cmd->add_option("--predictions-out", options->predictions_out,
                  "Also write the test predictions as CSV (the format labbook eval reads)");
  cmd->add_option("--resume", options->resume,
                  "Continue training a model file (weights, optimizer state, epoch count) up to "
                  "the config's epochs; or a model artifact of the project: artifact:NAME, "
                  "artifact:NAME:ALIAS, artifact:NAME:vN (recorded as used by the run)");
  cmd->add_option("--init-from", options->init_from,
                  "Start from a model file's weights with a fresh optimizer at epoch 0; or "
                  "artifact:NAME[:VERSION] as for --resume");
  cmd->add_option("--project", options->project,
                  "Project of the recorded run (default: LABBOOK_PROJECT, else uncategorized)");
  cmd->add_option("--name", options->name, "Display name of the run (default: its id)");
  cmd->add_option("--group", options->group, "Group of the run");
  cmd->add_option("--tag", options->tags, "Tag the run (repeatable)");
  cmd->add_option("--notes", options->notes, "Notes on the run");
  cmd->add_option("--store", options->store,
                  "Store URI (default: LABBOOK_STORE, else sqlite://.labbook/labbook.db)");
  cmd->add_option("--track", options->mode,
                  "online: record in the store; offline: in the local offline store only; "
                  "disabled: record nothing")
      ->check(CLI::IsMember({"online", "offline", "disabled"}));
  // Set by `labbook agent` (cmd_sweep.cpp), not by people: hidden from --help.
  cmd->add_option("--sweep-trial", options->sweep_trial, "SWEEP/NUMBER/AGENT")->group("");
  cmd->callback([options, &action] { action = [options] { return RunTrain(*options); }; });
}

}  // namespace labbook::cli
