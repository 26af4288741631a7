// Everything `labbook train` sets up before the first batch, as one value: the config, the data
// split into train and validation, the model compiled on its backend (fresh, or from a model
// file for --init-from and --resume) and the trainer. The command line adds its callbacks
// (progress bar, run tracking), calls trainer->Fit, evaluates and writes the model file with
// SnapshotModel.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "distributed/communicator.hpp"
#include "labbook/dataset.hpp"
#include "labbook/status.hpp"
#include "nn/backend.hpp"
#include "train/model_file.hpp"
#include "train/train_config.hpp"
#include "train/trainer.hpp"

namespace labbook::train {

// Where the weights come from.
struct StartFrom {
  // A model file whose weights, optimizer state and epoch count training continues from; its
  // architecture must equal the config's.
  std::string resume;
  // A model file whose weights start a fresh run (new optimizer, epoch 0).
  std::string init_from;
};

struct TrainingRun {
  TrainConfig config;
  Dataset dataset;      // train and test splits as loaded
  ImageSet train;       // the training part of dataset.train
  ImageSet validation;  // the held-out part (empty without validation_split)
  nn::ModelSpec spec;
  std::vector<nn::LayerInfo> layers;
  std::unique_ptr<nn::Backend> backend;  // declared before `model`, so it outlives it
  std::unique_ptr<nn::CompiledModel> model;
  std::unique_ptr<Trainer> trainer;
  int initial_epoch = 0;  // epochs done before this run (resumed runs)
};

// Loads the dataset the config names and builds the run. Errors name the config field, the
// dataset or the model file concerned; a resumed model must have the config's architecture and
// an optimizer state for the config's optimizer, and fewer epochs than the config asks for.
//
// With a `comm` of several ranks (borrowed; it must outlive the run) the trainer is one rank of
// a data-parallel run, and only rank 0 reads `start`'s model file (other ranks ignore `start`):
// every rank then receives rank 0's weights, optimizer state and epoch count, so all start
// equal whether the weights are fresh, resumed or initialised from a file. A rank that fails
// before the exchange leaves the others waiting in it: the caller must Abort on error.
[[nodiscard]] Result<TrainingRun> PrepareTrainingRun(TrainConfig config, const StartFrom& start,
                                                     distributed::Communicator* comm = nullptr);

// As PrepareTrainingRun, with the dataset already loaded (tests, repeated runs).
[[nodiscard]] Result<TrainingRun> PrepareTrainingRun(TrainConfig config, Dataset dataset,
                                                     const StartFrom& start,
                                                     distributed::Communicator* comm = nullptr);

// A checksum (FNV-1a of the canonical weights, in hex) that every rank agrees on; Internal on
// every rank when some rank's weights differ from rank 0's, naming the rank. One process: the
// checksum of its weights.
[[nodiscard]] Result<std::string> AgreedWeightsChecksum(distributed::Communicator& comm,
                                                        const nn::CompiledModel& model);

// The model file of the run as it is now: architecture, class names, resolved config, history,
// weights and (with `with_optimizer`) the optimizer state to continue from.
ModelFile SnapshotModel(const TrainingRun& run, int epochs_completed, bool with_optimizer);

}  // namespace labbook::train
