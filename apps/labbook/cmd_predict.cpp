// `labbook predict`: a model file's predictions on a dataset split, as the CSV `labbook eval`
// reads (index, label, predicted, p_0..p_{K-1}).
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "commands.hpp"
#include "core/status_macros.hpp"
#include "labbook/dataset.hpp"
#include "labbook/model.hpp"
#include "output.hpp"

namespace labbook::cli {
namespace {

struct PredictOptions {
  std::string model;
  std::string dataset;
  std::string split = "test";
  std::string out;
  std::string backend;
  int threads = 0;
};

Status RunPredict(const PredictOptions& options) {
  if (options.split != "test" && options.split != "train") {
    return InvalidArgument("--split: expected train or test, got '" + options.split + "'");
  }
  ModelOptions model_options;
  model_options.backend = options.backend;
  model_options.threads = options.threads;
  LABBOOK_ASSIGN_OR_RETURN(Model model, Model::Load(options.model, model_options));
  LABBOOK_ASSIGN_OR_RETURN(
      Dataset dataset,
      LoadDataset(options.dataset,
                  options.split == "test" ? DatasetSplits::kTestOnly : DatasetSplits::kTrainOnly));
  const ImageSet& images = options.split == "test" ? dataset.test : dataset.train;
  for (size_t i = 0; i < images.labels.size(); ++i) {
    if (images.labels[i] >= model.num_classes()) {
      return InvalidArgument(options.dataset + " (" + options.split + "): image " +
                             std::to_string(i) + " has label " + std::to_string(images.labels[i]) +
                             " but " + options.model + " predicts " +
                             std::to_string(model.num_classes()) + " classes");
    }
  }
  Result<Predictions> predicted = model.Predict(images);
  if (!predicted.ok()) {
    return predicted.status().WithContext(options.model + " on " + options.dataset);
  }

  PredictionTable table;
  table.num_classes = predicted->num_classes;
  table.has_probabilities = true;
  int64_t correct = 0;
  for (int64_t i = 0; i < predicted->count; ++i) {
    table.index.push_back(i);
    table.labels.push_back(images.labels[static_cast<size_t>(i)]);
    correct += table.labels.back() == predicted->predicted[static_cast<size_t>(i)];
  }
  table.predicted = std::move(predicted->predicted);
  table.probabilities = std::move(predicted->probabilities);

  const std::string out =
      options.out.empty()
          ? "labbook-out/predictions/" + FileStem(options.model) + "-" + options.split + ".csv"
          : options.out;
  const std::string dir = std::filesystem::path(out).parent_path().string();
  if (!dir.empty()) LABBOOK_RETURN_IF_ERROR(EnsureDirectory(dir));
  LABBOOK_RETURN_IF_ERROR(WritePredictionsCsv(out, table));
  const double accuracy =
      table.index.empty() ? 0.0
                          : static_cast<double>(correct) / static_cast<double>(table.index.size());
  std::printf("%s on %s (%s): %s images, accuracy %.4f\nwrote %s\n", options.model.c_str(),
              options.dataset.c_str(), options.split.c_str(),
              FormatCount(static_cast<int64_t>(table.index.size())).c_str(), accuracy, out.c_str());
  return Status::Ok();
}

}  // namespace

void AddPredictCommand(CLI::App& app, Action& action) {
  auto options = std::make_shared<PredictOptions>();
  CLI::App* cmd = app.add_subcommand(
      "predict",
      "Predict a dataset split with a model file; writes index,label,predicted,p_0..p_K-1 CSV "
      "for labbook eval");
  cmd->add_option("model", options->model, "Model file written by labbook train (.lbm)")
      ->required();
  cmd->add_option("dataset", options->dataset, "Dataset: fashion-mnist, mnist-digits or idx:DIR")
      ->required();
  cmd->add_option("--split", options->split, "Which split to predict: test (default) or train");
  cmd->add_option("--out", options->out,
                  "Predictions CSV to write (default labbook-out/predictions/MODEL-SPLIT.csv)");
  cmd->add_option("--backend", options->backend,
                  "onednn or reference (default: the one the model was trained with)");
  cmd->add_option("--threads", options->threads,
                  "Threads of the oneDNN backend (default: as in training)");
  cmd->callback([options, &action] { action = [options] { return RunPredict(*options); }; });
}

}  // namespace labbook::cli
