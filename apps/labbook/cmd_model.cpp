// `labbook model summary`: Keras' model.summary() for a model file or a training config.
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "commands.hpp"
#include "core/status_macros.hpp"
#include "labbook/dataset.hpp"
#include "output.hpp"
#include "train/model_file.hpp"
#include "train/summary.hpp"
#include "train/train_config.hpp"

namespace labbook::cli {
namespace {

struct ModelCliOptions {
  std::string path;
  std::vector<std::string> overrides;
};

std::string JoinNames(const std::vector<std::string>& names) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += ", ";
    out += names[i];
  }
  return out;
}

Status SummariseModelFile(const std::string& path) {
  LABBOOK_ASSIGN_OR_RETURN(train::ModelFile file, train::ReadModelFile(path));
  LABBOOK_ASSIGN_OR_RETURN(std::vector<nn::LayerInfo> layers, nn::InferShapes(file.spec));
  std::fputs(train::FormatModelSummary(layers).c_str(), stdout);
  const nn::SampleShape& in = file.spec.input;
  std::printf("Input: %dx%dx%d images (rows x cols x channels)\n", in.height, in.width,
              in.channels);
  if (!file.class_names.empty()) {
    std::printf("Classes: %s\n", JoinNames(file.class_names).c_str());
  }
  const nlohmann::json& config = file.config;
  std::string dataset = config.is_object() ? config.value("dataset", "") : "";
  std::printf("Trained: %d epoch%s%s\n", file.epochs_completed,
              file.epochs_completed == 1 ? "" : "s",
              dataset.empty() ? "" : (" on " + dataset).c_str());
  if (!file.history.empty()) {
    const train::EpochRecord& last = file.history.back();
    std::printf("Last epoch: loss %.4f, accuracy %.4f", last.loss, last.accuracy);
    if (!std::isnan(last.val_loss)) {
      std::printf(", val_loss %.4f, val_accuracy %.4f", last.val_loss, last.val_accuracy);
    }
    std::printf("\n");
  }
  std::printf("Optimizer state: %s\n",
              file.optimizer
                  ? (file.optimizer->name + ", " + FormatCount(file.optimizer->iterations) +
                     " steps (training can continue with --resume)")
                        .c_str()
                  : "not saved");
  return Status::Ok();
}

Status SummariseConfig(const ModelCliOptions& options) {
  LABBOOK_ASSIGN_OR_RETURN(train::TrainConfig config,
                           train::LoadTrainConfig(options.path, options.overrides));
  // The input shape comes from the data; the test split is the smaller one to read.
  LABBOOK_ASSIGN_OR_RETURN(Dataset dataset, LoadDataset(config.dataset, DatasetSplits::kTestOnly));
  const ImageSet& images = dataset.test;
  LABBOOK_ASSIGN_OR_RETURN(
      nn::ModelSpec spec,
      train::MakeModelSpec(config, {images.channels, images.rows, images.cols, false}));
  LABBOOK_ASSIGN_OR_RETURN(std::vector<nn::LayerInfo> layers, nn::InferShapes(spec));
  std::fputs(train::FormatModelSummary(layers).c_str(), stdout);
  std::printf("Input: %dx%dx%d images of %s (rows x cols x channels)\n", images.rows, images.cols,
              images.channels, config.dataset.c_str());
  return Status::Ok();
}

Status RunSummary(const ModelCliOptions& options) {
  if (train::IsModelFile(options.path)) {
    if (!options.overrides.empty()) {
      return InvalidArgument("--set: applies to configs, and " + options.path + " is a model file");
    }
    return SummariseModelFile(options.path);
  }
  return SummariseConfig(options);
}

}  // namespace

void AddModelCommand(CLI::App& app, Action& action) {
  CLI::App* model = app.add_subcommand("model", "Look at models: files and configs");
  model->require_subcommand(1);
  auto options = std::make_shared<ModelCliOptions>();
  CLI::App* summary = model->add_subcommand(
      "summary",
      "Keras-style summary of a model file or a training config: layers, output shapes, "
      "parameter counts");
  summary->add_option("path", options->path, "Model file (.lbm) or training config (.yaml)")
      ->required();
  summary->add_option("--set", options->overrides, "Override a config field (as labbook train)")
      ->allow_extra_args(false);
  summary->callback([options, &action] { action = [options] { return RunSummary(*options); }; });
}

}  // namespace labbook::cli
