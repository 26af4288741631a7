// The schema of a training config (examples/keras-cnn.yaml, docs/config.md): what `labbook train`
// reads from YAML, with Keras' names and defaults, turned into a ModelSpec and the trainer's
// options. Every error names the config file and line (or the --set override) and the field's
// dotted path, e.g. "cnn.yaml:14: layers.3.units: expected a positive integer, got 'ten'".
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "labbook/status.hpp"
#include "nn/backend.hpp"
#include "nn/loss.hpp"
#include "nn/optimizer.hpp"
#include "nn/spec.hpp"

namespace labbook::train {

enum class BackendKind { kOneDnn, kReference };

// How the learning rate changes during training; the optimizer's learning_rate is the initial
// rate.
struct LrScheduleConfig {
  std::string name = "constant";  // constant, step, cosine
  int every_epochs = 10;          // step: multiply the rate by `factor` every every_epochs epochs
  double factor = 0.1;
  int64_t decay_steps = 0;  // cosine (Keras' CosineDecay): steps to decay over; 0: the whole run
  double alpha = 0.0;       // cosine: the final rate as a fraction of the initial one
};

// Keras' EarlyStopping callback.
struct EarlyStoppingConfig {
  bool enabled = false;              // the config has an early_stopping section
  std::string monitor = "val_loss";  // loss, accuracy, val_loss, val_accuracy
  bool maximize = false;             // Keras' mode "auto": accuracies up, losses down
  int patience = 0;
  double min_delta = 0.0;
  bool restore_best_weights = false;
};

// What the trainer needs to know, apart from the model and the data.
struct TrainOptions {
  nn::LossKind loss = nn::LossKind::kCategoricalCrossentropy;
  nn::OptimizerOptions optimizer;
  LrScheduleConfig lr_schedule;
  EarlyStoppingConfig early_stopping;
  int batch_size = 32;
  int epochs = 1;  // the epoch count to reach; a resumed run continues up to it
  uint64_t seed = 0;
};

struct TrainConfig {
  std::string dataset;            // as LoadDataset takes it
  double validation_split = 0.0;  // fraction of the training images held out
  std::vector<nn::LayerSpec> layers;
  TrainOptions options;
  int threads = 1;
  nn::Precision precision = nn::Precision::kFloat32;
  BackendKind backend = BackendKind::kOneDnn;

  // Every field above under its config name, defaults filled in: what a run record freezes and
  // what a model file stores.
  nlohmann::json resolved;
  // Where each layer was written, for errors that concern a whole layer (shape mismatches).
  std::vector<config::Origin> layer_origins;
};

// Reads and checks a whole config tree. Errors are InvalidArgument naming the origin and path.
[[nodiscard]] Result<TrainConfig> ParseTrainConfig(const config::Node& root);

// Loads `path`, applies the overrides, then ParseTrainConfig.
[[nodiscard]] Result<TrainConfig> LoadTrainConfig(const std::string& path,
                                                  std::span<const std::string> overrides);

// Reads a `layers` list (each a map with `type` and Keras options) from `reader`; shared with the
// model file, whose header stores the layers in the same form.
[[nodiscard]] Result<std::vector<nn::LayerSpec>> ReadLayers(config::MapReader& reader,
                                                            std::vector<config::Origin>* origins);

// The layers as the resolved config writes them: every option explicit, Keras names.
nlohmann::json LayersToJson(const std::vector<nn::LayerSpec>& layers);

// The model of a config for images of `input` (channels, height, width), with its shapes checked:
// InvalidArgument "<origin of layers.i>: layers.i: <why>" for the first layer that does not fit.
[[nodiscard]] Result<nn::ModelSpec> MakeModelSpec(const TrainConfig& config,
                                                  const nn::SampleShape& input);

std::string_view BackendName(BackendKind backend);
std::string_view PrecisionName(nn::Precision precision);

}  // namespace labbook::train
