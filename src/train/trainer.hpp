// The training loop: epochs of shuffled mini-batches through a CompiledModel, with a loss, an
// optimizer, L2 regularisation, a learning-rate schedule, validation at each epoch's end and
// early stopping, reporting to Keras-style callbacks. The trainer knows nothing of storage or
// terminals: callbacks do (the progress bar, and the run tracker that plugs in later).
//
// Determinism: the shuffle of epoch e and its dropout masks are drawn from streams of
// (seed, e), so the same config, seed and thread count give bit-identical weights, and a run
// resumed from a model file written after epoch e continues exactly as if it had not stopped.
//
// Data parallelism: with a Communicator of several ranks, every rank draws the same shuffle, takes
// its contiguous slice of each global batch (batch_size samples over all ranks), and the
// gradients are averaged across ranks by sample count before every rank takes the same optimizer
// step (distributed/gradient_reducer.hpp), so weights stay identical. Dropout masks come from a
// stream of the rank as well. Losses and accuracies are reduced, and validation is sharded and
// reduced, so every rank reports (and early-stops on) the numbers of the whole batch and set.
// With one rank the loop is exactly the single-process one.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "distributed/communicator.hpp"
#include "distributed/gradient_reducer.hpp"
#include "labbook/dataset.hpp"
#include "labbook/status.hpp"
#include "nn/backend.hpp"
#include "nn/loss.hpp"
#include "nn/lr_schedule.hpp"
#include "nn/optimizer.hpp"
#include "train/model_file.hpp"
#include "train/train_config.hpp"

namespace labbook::train {

// Sizes of a Fit call, given to OnTrainBegin.
struct TrainInfo {
  int initial_epoch = 0;  // epochs already done (a resumed run)
  int epochs = 0;         // the epoch count Fit runs up to
  int steps_per_epoch = 0;
  int batch_size = 0;
  int64_t train_samples = 0;
  int64_t validation_samples = 0;
};

// Running means over the epoch so far, as Keras' progress bar shows them.
struct BatchLogs {
  int size = 0;              // samples in this batch
  int64_t samples_seen = 0;  // in this epoch, this batch included
  double loss = 0;           // batch-size-weighted mean of the epoch's batch losses so far
  double accuracy = 0;
  double batch_loss = 0;  // this batch alone
  double learning_rate = 0;
  int64_t step = 0;  // optimizer steps taken in total, this one included
};

// One epoch's results. val_* are NaN when there is no validation data.
struct EpochLogs {
  double loss = 0;
  double accuracy = 0;
  double val_loss = 0;
  double val_accuracy = 0;
  double learning_rate = 0;  // at the epoch's last step
  double seconds = 0;        // training and validation wall time
  int64_t samples = 0;       // training samples seen
};

// Keras' Callback. Epoch and batch numbers start at 0. Called on the training thread; a callback
// that is slow slows training. The trainer borrows callbacks; they must outlive Fit.
class Callback {
 public:
  virtual ~Callback() = default;
  virtual void OnTrainBegin(const TrainInfo& /*info*/) {}
  virtual void OnEpochBegin(int /*epoch*/) {}
  virtual void OnBatchEnd(int /*batch*/, const BatchLogs& /*logs*/) {}
  virtual void OnEpochEnd(int /*epoch*/, const EpochLogs& /*logs*/) {}
  virtual void OnTrainEnd(const std::vector<EpochRecord>& /*history*/) {}
};

// What a model computes on a labelled image set.
struct Evaluation {
  int64_t count = 0;
  int num_classes = 0;
  std::vector<double> probabilities;  // (count, num_classes) row-major: the model's output
  std::vector<int32_t> predicted;     // argmax of each row (the first on ties)
  std::vector<int32_t> labels;
  double loss = 0;  // the training loss (plus the L2 term) over the set; NaN without a loss
  double accuracy = 0;
};

// Runs `model` (whose input is `input`) in inference mode over every image of `images`, in
// batches of at most model.max_batch(). With `loss`, also the mean loss including the model's L2
// penalty, as Keras' evaluate reports it. InvalidArgument when the images do not have the
// model's input shape or a label is not below the output size.
[[nodiscard]] Result<Evaluation> Evaluate(nn::CompiledModel& model, const nn::SampleShape& input,
                                          const ImageSet& images, const nn::Loss* loss);

// The evaluation as the predictions table `labbook eval` reads (index 0..count-1, with the
// probabilities).
PredictionTable ToPredictionTable(const Evaluation& evaluation);

// Holds out `fraction` of `all` for validation: a random subset of round(count * fraction)
// images drawn from `seed` (not Keras' last fraction: built-in sets such as mnist-digits are
// ordered, so their tail is not representative), both parts keeping the original order.
std::pair<ImageSet, ImageSet> SplitValidation(const ImageSet& all, double fraction, uint64_t seed);

// What data-parallel training spent on communication (zeros with one rank).
struct CommunicationStats {
  int64_t steps = 0;
  int buckets = 0;
  int64_t gradient_bytes_per_step = 0;  // floats of gradients (and moving statistics) per step
  double gradient_seconds = 0;          // in the gradient allreduces, all steps
  double metric_seconds = 0;            // in the per-step allreduce of loss and accuracy
};

// How Fit ended.
struct FitResult {
  int epochs_completed = 0;
  bool stopped_early = false;
  int best_epoch = -1;  // the early-stopping monitor's best epoch (0-based); -1 without it
  bool restored_best_weights = false;
};

class Trainer {
 public:
  // Trains `model`, whose input is `input` (borrowed, must outlive the trainer, max_batch() >=
  // options.batch_size). InvalidArgument when the options do not fit the model (the batch size,
  // the optimizer's hyperparameters). `comm` (borrowed, must outlive the trainer) makes this
  // one rank of a data-parallel run; null: one process.
  [[nodiscard]] static Result<std::unique_ptr<Trainer>> Create(
      nn::CompiledModel* model, const nn::SampleShape& input, const TrainOptions& options,
      distributed::Communicator* comm = nullptr);
  ~Trainer();

  void AddCallback(Callback* callback) { callbacks_.push_back(callback); }

  // Trains from epoch `initial_epoch` (the epochs a resumed model has done) up to
  // options.epochs, validating on `validation` when it is not empty. Errors: images of another
  // shape than the model's input, labels outside its outputs, or a non-finite loss (naming the
  // epoch and batch: the run diverged); with several ranks also a failed collective (every rank
  // fails alike on input and divergence, since they judge the same reduced numbers).
  [[nodiscard]] Result<FitResult> Fit(const ImageSet& train, const ImageSet& validation,
                                      int initial_epoch = 0);

  // Asks Fit to stop after the current epoch; safe from a callback or another thread.
  void RequestStop() { stop_requested_ = true; }

  const nn::Loss& loss() const { return loss_; }
  // One record per epoch trained; a resumed run starts from the history in its model file.
  const std::vector<EpochRecord>& history() const { return history_; }
  void set_history(std::vector<EpochRecord> history) { history_ = std::move(history); }
  // The optimizer's slots and step count, for the model file; and their restoration.
  OptimizerState ExportOptimizerState() const;
  [[nodiscard]] Status ImportOptimizerState(const OptimizerState& state);

  distributed::Communicator& communicator() { return *comm_; }
  CommunicationStats communication_stats() const;

 private:
  Trainer(nn::CompiledModel* model, const nn::SampleShape& input, const TrainOptions& options,
          nn::Loss loss, std::unique_ptr<nn::Optimizer> optimizer, distributed::Communicator* comm);

  // One epoch's validation over all ranks: each evaluates its contiguous shard; the sums are
  // reduced. Returns {loss, accuracy}.
  [[nodiscard]] Result<std::pair<double, double>> ValidateSharded(const ImageSet& validation);

  nn::CompiledModel* model_;
  nn::SampleShape input_;
  TrainOptions options_;
  nn::Loss loss_;
  std::unique_ptr<nn::Optimizer> optimizer_;
  std::vector<nn::ParamView> params_;
  bool has_l2_ = false;
  std::vector<Callback*> callbacks_;
  std::vector<EpochRecord> history_;
  std::atomic<bool> stop_requested_{false};
  distributed::SingleProcessCommunicator single_process_;
  distributed::Communicator* comm_;  // never null: &single_process_ without a world
  std::unique_ptr<distributed::GradientReducer> reducer_;  // only with several ranks
  double metric_seconds_ = 0;
};

// The backend a config names: oneDNN with `threads` threads, or the single-threaded reference.
std::unique_ptr<nn::Backend> MakeBackend(BackendKind kind, int threads);

// The learning-rate schedule of `options` for a run of `steps_per_epoch` x epochs steps.
[[nodiscard]] Result<std::unique_ptr<nn::LearningRateSchedule>> MakeSchedule(
    const TrainOptions& options, int64_t steps_per_epoch);

}  // namespace labbook::train
