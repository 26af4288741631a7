#include "train/training_run.hpp"

#include "core/status_macros.hpp"

namespace labbook::train {

Result<TrainingRun> PrepareTrainingRun(TrainConfig config, const StartFrom& start) {
  LABBOOK_ASSIGN_OR_RETURN(Dataset dataset,
                           LoadDataset(config.dataset, DatasetSplits::kTrainAndTest));
  return PrepareTrainingRun(std::move(config), std::move(dataset), start);
}

Result<TrainingRun> PrepareTrainingRun(TrainConfig config, Dataset dataset,
                                       const StartFrom& start) {
  if (!start.resume.empty() && !start.init_from.empty()) {
    return InvalidArgument("--resume and --init-from: choose one");
  }
  TrainingRun run;
  run.config = std::move(config);
  run.dataset = std::move(dataset);
  const TrainOptions& options = run.config.options;
  const ImageSet& all = run.dataset.train;
  LABBOOK_ASSIGN_OR_RETURN(run.spec,
                           MakeModelSpec(run.config, {all.channels, all.rows, all.cols, false}));
  LABBOOK_ASSIGN_OR_RETURN(run.layers, nn::InferShapes(run.spec));
  const int64_t outputs = run.layers.back().output.size();
  if (outputs < run.dataset.num_classes) {
    const config::Origin where =
        run.config.layer_origins.empty() ? config::Origin{} : run.config.layer_origins.back();
    return InvalidArgument(where.ToString() + ": layers." + std::to_string(run.layers.size() - 1) +
                           ": the model has " + std::to_string(outputs) + " outputs but " +
                           run.config.dataset + " has " + std::to_string(run.dataset.num_classes) +
                           " classes; the last layer needs one unit per class");
  }
  std::tie(run.train, run.validation) =
      SplitValidation(all, run.config.validation_split, options.seed);
  if (run.train.count == 0) {
    return InvalidArgument("validation_split: " + std::to_string(run.config.validation_split) +
                           " leaves no training images out of " + std::to_string(all.count));
  }

  run.backend = MakeBackend(run.config.backend, run.config.threads);
  LABBOOK_ASSIGN_OR_RETURN(run.model, run.backend->Compile(run.spec, options.batch_size,
                                                           run.config.precision, options.seed));
  LABBOOK_ASSIGN_OR_RETURN(run.trainer, Trainer::Create(run.model.get(), run.spec.input, options));

  const std::string& from = start.resume.empty() ? start.init_from : start.resume;
  if (from.empty()) return run;
  const std::string flag = start.resume.empty() ? "--init-from " : "--resume ";
  LABBOOK_ASSIGN_OR_RETURN(ModelFile saved, ReadModelFile(from));
  if (saved.spec.input != run.spec.input ||
      LayersToJson(saved.spec.layers) != LayersToJson(run.spec.layers)) {
    return InvalidArgument(flag + from + ": the model's architecture differs from the config's " +
                           "layers (or its input from the dataset's images); `labbook model " +
                           "summary` shows both");
  }
  LABBOOK_RETURN_IF_ERROR(run.model->ImportWeights(saved.weights).WithContext(flag + from));
  if (start.resume.empty()) return run;

  if (!saved.optimizer) {
    return InvalidArgument(flag + from + ": the file holds no optimizer state to continue from; " +
                           "use --init-from to start a new run from its weights");
  }
  LABBOOK_RETURN_IF_ERROR(
      run.trainer->ImportOptimizerState(*saved.optimizer).WithContext(flag + from));
  if (saved.epochs_completed >= options.epochs) {
    return InvalidArgument(
        flag + from + ": the model has trained " + std::to_string(saved.epochs_completed) +
        " epochs and the config asks " + "for " + std::to_string(options.epochs) +
        "; raise epochs (e.g. --set epochs=" + std::to_string(saved.epochs_completed + 5) +
        ") to train on");
  }
  run.initial_epoch = saved.epochs_completed;
  run.trainer->set_history(std::move(saved.history));
  return run;
}

ModelFile SnapshotModel(const TrainingRun& run, int epochs_completed, bool with_optimizer) {
  ModelFile file;
  file.spec = run.spec;
  file.class_names = run.dataset.class_names;
  file.class_names.resize(static_cast<size_t>(run.layers.back().output.size()));
  for (size_t k = run.dataset.class_names.size(); k < file.class_names.size(); ++k) {
    file.class_names[k] = std::to_string(k);
  }
  file.config = run.config.resolved;
  file.epochs_completed = epochs_completed;
  file.history = run.trainer->history();
  file.weights = run.model->ExportWeights();
  if (with_optimizer) file.optimizer = run.trainer->ExportOptimizerState();
  return file;
}

}  // namespace labbook::train
