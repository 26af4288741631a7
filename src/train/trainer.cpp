#include "train/trainer.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>
#include <optional>
#include <tuple>

#include "core/status_macros.hpp"
#include "nn/random.hpp"
#include "train/batches.hpp"

namespace labbook::train {
namespace {

// Streams of the run's seed (nn::MixSeed), one per purpose and epoch, so that no draw depends
// on how many numbers another consumer took.
constexpr uint64_t kShuffleStream = uint64_t{1} << 40;
constexpr uint64_t kDropoutStream = uint64_t{2} << 40;
constexpr uint64_t kValidationStream = uint64_t{3} << 40;
// Mixed into the dropout seed of ranks other than 0 (rank 0 keeps the single-process masks).
constexpr uint64_t kRankStream = uint64_t{4} << 40;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// A uniformly random permutation of 0..n-1 (Fisher-Yates).
std::vector<int64_t> Shuffled(int64_t n, uint64_t seed) {
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), int64_t{0});
  nn::Xoshiro256 rng(seed);
  for (int64_t i = n - 1; i > 0; --i) {
    const auto j = static_cast<int64_t>(rng.Uniform() * static_cast<double>(i + 1));
    std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(std::min(j, i))]);
  }
  return order;
}

int ArgMax(const float* row, int k) {
  int best = 0;
  for (int j = 1; j < k; ++j) {
    if (row[j] > row[best]) best = j;
  }
  return best;
}

std::string ShapeText(int channels, int rows, int cols) {
  return std::to_string(rows) + "x" + std::to_string(cols) + "x" + std::to_string(channels);
}

Status CheckImages(const ImageSet& images, const nn::SampleShape& input, int num_outputs,
                   std::string_view what) {
  if (images.count == 0) return Status::Ok();
  if (images.rows != input.height || images.cols != input.width ||
      images.channels != input.channels) {
    return InvalidArgument(std::string(what) + ": images are " +
                           ShapeText(images.channels, images.rows, images.cols) +
                           " (rows x cols x channels), the model takes " +
                           ShapeText(input.channels, input.height, input.width));
  }
  if (!images.labels.empty() && images.labels.size() != static_cast<size_t>(images.count)) {
    return InvalidArgument(std::string(what) + ": " + std::to_string(images.count) +
                           " images but " + std::to_string(images.labels.size()) + " labels");
  }
  for (size_t i = 0; i < images.labels.size(); ++i) {
    if (images.labels[i] >= num_outputs) {
      return InvalidArgument(std::string(what) + ": image " + std::to_string(i) + " has label " +
                             std::to_string(images.labels[i]) + " but the model has " +
                             std::to_string(num_outputs) +
                             " outputs; the last layer needs one unit per class");
    }
  }
  return Status::Ok();
}

// The part [size * rank / world, size * (rank + 1) / world) of `size` items: contiguous, and
// together the ranks' parts cover every item once.
std::pair<int64_t, int64_t> ShardOf(int64_t size, int rank, int world) {
  return {size * rank / world, size * (rank + 1) / world};
}

// This rank's slice of every global batch of `order`: the indices it trains on, in order, and
// the size of its part of each batch.
void ShardEachBatch(const std::vector<int64_t>& order, int batch_size, int rank, int world,
                    std::vector<int64_t>* local_order, std::vector<int>* local_sizes,
                    std::vector<int>* global_sizes) {
  const auto count = static_cast<int64_t>(order.size());
  for (int64_t begin = 0; begin < count; begin += batch_size) {
    const int64_t size = std::min<int64_t>(batch_size, count - begin);
    const auto [lo, hi] = ShardOf(size, rank, world);
    local_order->insert(local_order->end(), order.begin() + begin + lo, order.begin() + begin + hi);
    local_sizes->push_back(static_cast<int>(hi - lo));
    global_sizes->push_back(static_cast<int>(size));
  }
}

int NumOutputs(nn::CompiledModel& model) {
  return static_cast<int>(model.layers().back().output.size());
}

// Keras' EarlyStopping (2.x): restores the best weights only when it stops training.
class EarlyStopping {
 public:
  EarlyStopping(const EarlyStoppingConfig& config)
      : config_(config),
        best_(config.maximize ? -std::numeric_limits<double>::infinity()
                              : std::numeric_limits<double>::infinity()) {}

  // Returns true when training should stop after `epoch`.
  bool Update(int epoch, const EpochLogs& logs, nn::CompiledModel& model, FitResult& result) {
    if (!config_.enabled) return false;
    const double current = Monitored(logs);
    if (std::isnan(current)) return false;
    if (config_.restore_best_weights && !have_best_weights_) {
      best_weights_ = model.ExportWeights();
      have_best_weights_ = true;
    }
    ++wait_;
    const bool improved = config_.maximize ? current - config_.min_delta > best_
                                           : current + config_.min_delta < best_;
    if (improved) {
      best_ = current;
      result.best_epoch = epoch;
      wait_ = 0;
      if (config_.restore_best_weights) best_weights_ = model.ExportWeights();
    }
    if (wait_ >= config_.patience && epoch > 0) {
      result.stopped_early = true;
      if (config_.restore_best_weights && have_best_weights_) {
        Status imported = model.ImportWeights(best_weights_);
        result.restored_best_weights = imported.ok();
      }
      return true;
    }
    return false;
  }

 private:
  double Monitored(const EpochLogs& logs) const {
    if (config_.monitor == "loss") return logs.loss;
    if (config_.monitor == "accuracy") return logs.accuracy;
    if (config_.monitor == "val_accuracy") return logs.val_accuracy;
    return logs.val_loss;
  }

  EarlyStoppingConfig config_;
  double best_;
  int wait_ = 0;
  bool have_best_weights_ = false;
  std::vector<nn::NamedTensor> best_weights_;
};

}  // namespace

PredictionTable ToPredictionTable(const Evaluation& evaluation) {
  PredictionTable table;
  table.num_classes = evaluation.num_classes;
  table.has_probabilities = true;
  table.index.resize(static_cast<size_t>(evaluation.count));
  for (int64_t i = 0; i < evaluation.count; ++i) table.index[static_cast<size_t>(i)] = i;
  table.labels = evaluation.labels;
  table.predicted = evaluation.predicted;
  table.probabilities = evaluation.probabilities;
  return table;
}

Result<Evaluation> Evaluate(nn::CompiledModel& model, const nn::SampleShape& input,
                            const ImageSet& images, const nn::Loss* loss) {
  const int k = NumOutputs(model);
  LABBOOK_RETURN_IF_ERROR(CheckImages(images, input, k, "evaluation"));
  Evaluation eval;
  eval.count = images.count;
  eval.num_classes = k;
  eval.probabilities.resize(static_cast<size_t>(images.count * k));
  eval.predicted.resize(static_cast<size_t>(images.count));
  eval.labels.resize(static_cast<size_t>(images.count));
  std::vector<int64_t> order(static_cast<size_t>(images.count));
  std::iota(order.begin(), order.end(), int64_t{0});
  BatchPipeline batches(images, std::move(order), model.max_batch());
  std::vector<float> grad(static_cast<size_t>(model.max_batch()) * k);
  double loss_sum = 0;
  int64_t correct = 0;
  int64_t done = 0;
  for (int b = 0; b < batches.num_batches(); ++b) {
    BatchPipeline::Batch batch = batches.Next();
    const float* out = model.Forward(batch.pixels, batch.size, /*training=*/false);
    if (loss != nullptr) {
      const float* pre = loss->fused_softmax() ? model.LastPreActivation() : nullptr;
      nn::LossTargets targets{batch.labels, nullptr};
      LABBOOK_ASSIGN_OR_RETURN(double batch_loss,
                               loss->Compute(out, pre, targets, batch.size, k, grad.data()));
      loss_sum += batch_loss * batch.size;
    }
    for (int i = 0; i < batch.size; ++i) {
      const float* row = out + static_cast<int64_t>(i) * k;
      const int64_t index = done + i;
      std::copy(row, row + k, eval.probabilities.begin() + index * k);
      eval.predicted[static_cast<size_t>(index)] = ArgMax(row, k);
      eval.labels[static_cast<size_t>(index)] = batch.labels[i];
      correct += eval.predicted[static_cast<size_t>(index)] == batch.labels[i];
    }
    done += batch.size;
  }
  if (images.count == 0) {
    eval.loss = kNaN;
    eval.accuracy = kNaN;
    return eval;
  }
  eval.accuracy = static_cast<double>(correct) / static_cast<double>(images.count);
  if (loss != nullptr) {
    std::vector<nn::ParamView> params = model.Parameters();
    eval.loss = loss_sum / static_cast<double>(images.count) + nn::L2Penalty(params);
  } else {
    eval.loss = kNaN;
  }
  return eval;
}

std::pair<ImageSet, ImageSet> SplitValidation(const ImageSet& all, double fraction, uint64_t seed) {
  // Keras' count: split_at = round(count * (1 - fraction)).
  const auto train_count =
      static_cast<int64_t>(std::llround(static_cast<double>(all.count) * (1.0 - fraction)));
  std::vector<int64_t> order = Shuffled(all.count, nn::MixSeed(seed, kValidationStream));
  std::vector<bool> held_out(static_cast<size_t>(all.count), false);
  for (int64_t i = train_count; i < all.count; ++i) held_out[static_cast<size_t>(order[i])] = true;

  auto empty_like = [&all] {
    ImageSet set;
    set.rows = all.rows;
    set.cols = all.cols;
    set.channels = all.channels;
    return set;
  };
  ImageSet train = empty_like();
  ImageSet validation = empty_like();
  const size_t sample = static_cast<size_t>(all.rows) * all.cols * all.channels;
  for (int64_t i = 0; i < all.count; ++i) {
    ImageSet& part = held_out[static_cast<size_t>(i)] ? validation : train;
    const uint8_t* pixels = all.pixels.data() + static_cast<size_t>(i) * sample;
    part.pixels.insert(part.pixels.end(), pixels, pixels + sample);
    part.labels.push_back(all.labels[static_cast<size_t>(i)]);
    ++part.count;
  }
  return {std::move(train), std::move(validation)};
}

Result<std::unique_ptr<nn::LearningRateSchedule>> MakeSchedule(const TrainOptions& options,
                                                               int64_t steps_per_epoch) {
  const LrScheduleConfig& s = options.lr_schedule;
  const double initial = options.optimizer.learning_rate;
  if (s.name == "step") {
    LABBOOK_ASSIGN_OR_RETURN(auto schedule,
                             nn::StepDecay::Create(initial, s.every_epochs, s.factor));
    return std::unique_ptr<nn::LearningRateSchedule>(std::move(schedule));
  }
  if (s.name == "cosine") {
    const int64_t decay_steps =
        s.decay_steps > 0 ? s.decay_steps : std::max<int64_t>(1, steps_per_epoch * options.epochs);
    LABBOOK_ASSIGN_OR_RETURN(auto schedule, nn::CosineDecay::Create(initial, decay_steps, s.alpha));
    return std::unique_ptr<nn::LearningRateSchedule>(std::move(schedule));
  }
  return std::unique_ptr<nn::LearningRateSchedule>(
      std::make_unique<nn::ConstantLearningRate>(initial));
}

std::unique_ptr<nn::Backend> MakeBackend(BackendKind kind, int threads) {
  if (kind == BackendKind::kReference) return nn::MakeReferenceBackend();
  return nn::MakeOneDnnBackend(threads);
}

Trainer::Trainer(nn::CompiledModel* model, const nn::SampleShape& input,
                 const TrainOptions& options, nn::Loss loss,
                 std::unique_ptr<nn::Optimizer> optimizer, distributed::Communicator* comm)
    : model_(model),
      input_(input),
      options_(options),
      loss_(loss),
      optimizer_(std::move(optimizer)),
      params_(model->Parameters()),
      comm_(comm != nullptr ? comm : &single_process_) {
  for (const nn::ParamView& p : params_) has_l2_ = has_l2_ || p.l2 > 0;
  if (comm_->size() > 1) reducer_ = std::make_unique<distributed::GradientReducer>(comm_, params_);
}

CommunicationStats Trainer::communication_stats() const {
  CommunicationStats stats;
  if (reducer_ == nullptr) return stats;
  stats.steps = reducer_->steps();
  stats.buckets = static_cast<int>(reducer_->buckets().size());
  stats.gradient_bytes_per_step = reducer_->bytes_per_step();
  stats.gradient_seconds = reducer_->allreduce_seconds();
  stats.metric_seconds = metric_seconds_;
  return stats;
}

Result<std::pair<double, double>> Trainer::ValidateSharded(const ImageSet& validation) {
  const int k = NumOutputs(*model_);
  const auto [begin, end] = ShardOf(validation.count, comm_->rank(), comm_->size());
  std::vector<int64_t> order(static_cast<size_t>(end - begin));
  std::iota(order.begin(), order.end(), begin);
  BatchPipeline batches(validation, std::move(order), model_->max_batch());
  std::vector<float> grad(static_cast<size_t>(model_->max_batch()) * k);
  // {loss sum, correct}: reduced in double, so the counts stay exact.
  double sums[2] = {0, 0};
  for (int b = 0; b < batches.num_batches(); ++b) {
    BatchPipeline::Batch batch = batches.Next();
    const float* out = model_->Forward(batch.pixels, batch.size, /*training=*/false);
    const float* pre = loss_.fused_softmax() ? model_->LastPreActivation() : nullptr;
    nn::LossTargets targets{batch.labels, nullptr};
    LABBOOK_ASSIGN_OR_RETURN(double batch_loss,
                             loss_.Compute(out, pre, targets, batch.size, k, grad.data()));
    sums[0] += batch_loss * batch.size;
    for (int i = 0; i < batch.size; ++i) {
      sums[1] += ArgMax(out + static_cast<int64_t>(i) * k, k) == batch.labels[i];
    }
  }
  LABBOOK_RETURN_IF_ERROR(comm_->AllreduceSum(std::span<double>(sums, 2)));
  const auto count = static_cast<double>(validation.count);
  return std::pair<double, double>(sums[0] / count + nn::L2Penalty(params_), sums[1] / count);
}

Trainer::~Trainer() = default;

Result<std::unique_ptr<Trainer>> Trainer::Create(nn::CompiledModel* model,
                                                 const nn::SampleShape& input,
                                                 const TrainOptions& options,
                                                 distributed::Communicator* comm) {
  if (model->max_batch() < options.batch_size) {
    return InvalidArgument("batch_size " + std::to_string(options.batch_size) +
                           " is larger than the model was compiled for (" +
                           std::to_string(model->max_batch()) + ")");
  }
  nn::Loss loss(options.loss, model->layers().back().activation);
  LABBOOK_ASSIGN_OR_RETURN(std::unique_ptr<nn::Optimizer> optimizer,
                           nn::Optimizer::Create(options.optimizer, model->Parameters()));
  return std::unique_ptr<Trainer>(
      new Trainer(model, input, options, loss, std::move(optimizer), comm));
}

OptimizerState Trainer::ExportOptimizerState() const {
  OptimizerState state;
  state.name = std::string(nn::OptimizerName(options_.optimizer.kind));
  state.iterations = optimizer_->iterations();
  state.slots = optimizer_->ExportState();
  return state;
}

Status Trainer::ImportOptimizerState(const OptimizerState& state) {
  const std::string_view name = nn::OptimizerName(options_.optimizer.kind);
  if (state.name != name) {
    return InvalidArgument("the saved optimizer state is for '" + state.name +
                           "', the config's optimizer is '" + std::string(name) + "'");
  }
  return optimizer_->ImportState(state.slots);
}

Result<FitResult> Trainer::Fit(const ImageSet& train, const ImageSet& validation,
                               int initial_epoch) {
  using Clock = std::chrono::steady_clock;
  const int k = NumOutputs(*model_);
  LABBOOK_RETURN_IF_ERROR(CheckImages(train, input_, k, "training data"));
  LABBOOK_RETURN_IF_ERROR(CheckImages(validation, input_, k, "validation data"));
  if (train.count == 0) return InvalidArgument("training data: no images");

  const int batch_size = options_.batch_size;
  const int steps_per_epoch = static_cast<int>((train.count + batch_size - 1) / batch_size);
  LABBOOK_ASSIGN_OR_RETURN(std::unique_ptr<nn::LearningRateSchedule> schedule,
                           MakeSchedule(options_, steps_per_epoch));
  TrainInfo info{initial_epoch, options_.epochs, steps_per_epoch,
                 batch_size,    train.count,     validation.count};
  for (Callback* c : callbacks_) c->OnTrainBegin(info);

  FitResult result;
  result.epochs_completed = initial_epoch;
  EarlyStopping early_stopping(options_.early_stopping);
  std::vector<float> grad(static_cast<size_t>(batch_size) * k);
  stop_requested_ = false;
  const int world = comm_->size();
  const int rank = comm_->rank();

  for (int epoch = initial_epoch; epoch < options_.epochs; ++epoch) {
    const Clock::time_point start = Clock::now();
    for (Callback* c : callbacks_) c->OnEpochBegin(epoch);
    uint64_t dropout_seed =
        nn::MixSeed(options_.seed, kDropoutStream + static_cast<uint64_t>(epoch));
    // Each rank drops its own units: identical masks would correlate the ranks' shards.
    if (rank > 0) dropout_seed = nn::MixSeed(dropout_seed, kRankStream + rank);
    model_->SetSeed(dropout_seed);
    std::vector<int64_t> order =
        Shuffled(train.count, nn::MixSeed(options_.seed, kShuffleStream + epoch));
    std::vector<int> global_sizes;  // of each batch over all ranks; only with several ranks
    std::optional<BatchPipeline> batches;
    if (world == 1) {
      batches.emplace(train, std::move(order), batch_size);
    } else {
      std::vector<int64_t> local_order;
      std::vector<int> local_sizes;
      ShardEachBatch(order, batch_size, rank, world, &local_order, &local_sizes, &global_sizes);
      batches.emplace(train, std::move(local_order), std::move(local_sizes), batch_size);
    }

    BatchLogs logs;
    double loss_sum = 0;
    int64_t correct = 0;
    for (int b = 0; b < steps_per_epoch; ++b) {
      BatchPipeline::Batch batch = batches->Next();
      const int global_size = world == 1 ? batch.size : global_sizes[static_cast<size_t>(b)];
      double batch_loss = 0;
      int64_t batch_correct = 0;
      // A rank's share of a last batch smaller than the world may be empty.
      if (batch.size > 0) {
        const float* out = model_->Forward(batch.pixels, batch.size, /*training=*/true);
        const float* pre = loss_.fused_softmax() ? model_->LastPreActivation() : nullptr;
        nn::LossTargets targets{batch.labels, nullptr};
        LABBOOK_ASSIGN_OR_RETURN(batch_loss,
                                 loss_.Compute(out, pre, targets, batch.size, k, grad.data()));
        for (int i = 0; i < batch.size; ++i) {
          batch_correct += ArgMax(out + static_cast<int64_t>(i) * k, k) == batch.labels[i];
        }
      }
      if (world > 1) {
        // Before Backward, so that every rank judges divergence on the same number and all stop
        // together instead of leaving the others in the gradient allreduce.
        double sums[2] = {batch_loss * batch.size, static_cast<double>(batch_correct)};
        const Clock::time_point reduce_start = Clock::now();
        LABBOOK_RETURN_IF_ERROR(comm_->AllreduceSum(std::span<double>(sums, 2)));
        metric_seconds_ += std::chrono::duration<double>(Clock::now() - reduce_start).count();
        batch_loss = sums[0] / global_size;
        batch_correct = std::llround(sums[1]);
      }
      // Keras reports the regularised loss: the data loss plus l2 * sum(w^2).
      if (has_l2_) batch_loss += nn::L2Penalty(params_);
      if (!std::isfinite(batch_loss)) {
        return InvalidArgument("epoch " + std::to_string(epoch + 1) + ", batch " +
                               std::to_string(b + 1) + ": the loss is " +
                               std::to_string(batch_loss) +
                               "; training diverged (a lower learning_rate may help)");
      }
      correct += batch_correct;
      if (batch.size > 0) model_->Backward(grad.data(), loss_.gradient_of());
      // One bucketed allreduce after Backward: CompiledModel::Backward gives no signal when a
      // layer's gradients are final, and Open MPI's non-blocking collectives only progress
      // inside MPI calls, so an Iallreduce could not overlap the backward kernels anyway.
      if (reducer_ != nullptr) LABBOOK_RETURN_IF_ERROR(reducer_->Average(batch.size, global_size));
      // L2 after averaging: every rank holds the same weights, so the term needs no reduction.
      if (has_l2_) nn::AddL2Gradients(params_);
      const double lr = schedule->Rate(optimizer_->iterations(), epoch);
      optimizer_->Step(lr);

      loss_sum += batch_loss * global_size;
      logs.size = global_size;
      logs.samples_seen += global_size;
      logs.loss = loss_sum / static_cast<double>(logs.samples_seen);
      logs.accuracy = static_cast<double>(correct) / static_cast<double>(logs.samples_seen);
      logs.batch_loss = batch_loss;
      logs.learning_rate = lr;
      logs.step = optimizer_->iterations();
      for (Callback* c : callbacks_) c->OnBatchEnd(b, logs);
    }

    EpochLogs epoch_logs;
    epoch_logs.loss = logs.loss;
    epoch_logs.accuracy = logs.accuracy;
    epoch_logs.learning_rate = logs.learning_rate;
    epoch_logs.samples = logs.samples_seen;
    epoch_logs.val_loss = kNaN;
    epoch_logs.val_accuracy = kNaN;
    if (validation.count > 0 && world == 1) {
      LABBOOK_ASSIGN_OR_RETURN(Evaluation val, Evaluate(*model_, input_, validation, &loss_));
      epoch_logs.val_loss = val.loss;
      epoch_logs.val_accuracy = val.accuracy;
    } else if (validation.count > 0) {
      LABBOOK_ASSIGN_OR_RETURN(std::tie(epoch_logs.val_loss, epoch_logs.val_accuracy),
                               ValidateSharded(validation));
    }
    epoch_logs.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    history_.push_back({epoch + 1, epoch_logs.loss, epoch_logs.accuracy, epoch_logs.val_loss,
                        epoch_logs.val_accuracy, epoch_logs.learning_rate});
    result.epochs_completed = epoch + 1;
    for (Callback* c : callbacks_) c->OnEpochEnd(epoch, epoch_logs);
    if (early_stopping.Update(epoch, epoch_logs, *model_, result)) break;
    if (world > 1) {
      // A stop asked of one rank (a signal, a sweep's judgement on rank 0) stops them all.
      double stop = stop_requested_ ? 1 : 0;
      LABBOOK_RETURN_IF_ERROR(comm_->AllreduceSum(std::span<double>(&stop, 1)));
      if (stop > 0) break;
    } else if (stop_requested_) {
      break;
    }
  }
  for (Callback* c : callbacks_) c->OnTrainEnd(history_);
  return result;
}

}  // namespace labbook::train
