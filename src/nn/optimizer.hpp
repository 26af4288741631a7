// Optimizers with the defaults and update rules of Keras 2.11+ (the tf.keras.optimizers that
// replaced the legacy ones; Keras 3 computes the same), applied element-wise to the ParamView
// buffers of a CompiledModel, whatever layout the backend keeps them in.
//
// One step, as Keras' apply_gradients: clip the gradients if configured, decay the weights if
// weight_decay > 0 (w -= w * weight_decay * lr, before the update), then update. With g the
// gradient, t the 1-based step and lr the step's learning rate:
//   sgd      m = momentum * m - lr * g;  w += m  (nesterov: w += momentum * m - lr * g);
//            momentum 0: w -= lr * g
//   adam     m += (g - m)(1 - b1);  v += (g^2 - v)(1 - b2);  (amsgrad: vmax = max(vmax, v))
//            w -= lr * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)
//   adamw    adam with weight_decay 0.004 by default
//   nadam    u_t = b1 (1 - 0.5 * 0.96^(schedule_decay * t)), U_t = u_1 ... u_t;
//            m, v as adam;  m_hat = u_{t+1} m / (1 - U_t u_{t+1}) + (1 - u_t) g / (1 - U_t)
//            w -= lr * m_hat / (sqrt(v / (1 - b2^t)) + eps)
//   rmsprop  s = rho s + (1 - rho) g^2;  (centered: a = rho a + (1 - rho) g, s - a^2 below)
//            inc = lr * g / sqrt(s + eps);  momentum > 0: m = momentum m + inc, w -= m;
//            else w -= inc
//   adagrad  acc (from initial_accumulator_value) += g^2;  w -= lr * g / sqrt(acc + eps)
// Where PyTorch differs: its Adam and AdamW add eps to sqrt(v_hat) (Keras' eps acts as PyTorch's
// eps / sqrt(1 - b2^t)), its RMSprop and Adagrad add eps outside the square root and Adagrad
// starts its accumulator at 0; its SGD momentum is Keras' scaled by -lr (the same steps at a
// constant learning rate); its NAdam is Keras' Nadam with schedule_decay = 0.004 (PyTorch < 2.0's
// default single-tensor NAdam multiplies one momentum too many into its product; foreach=True
// does not).
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "labbook/status.hpp"
#include "nn/backend.hpp"

namespace labbook::nn {

enum class OptimizerKind { kSgd, kAdam, kAdamW, kNadam, kRmsprop, kAdagrad };

// Keras' names: "sgd", "adam", "adamw", "nadam", "rmsprop", "adagrad".
std::string_view OptimizerName(OptimizerKind kind);
// InvalidArgument listing the known names for anything else.
[[nodiscard]] Result<OptimizerKind> ParseOptimizerName(std::string_view name);

// Hyperparameters of every kind; each kind reads its own. Start from KerasDefaults(kind).
struct OptimizerOptions {
  OptimizerKind kind = OptimizerKind::kAdam;
  double learning_rate = 0.001;            // sgd: 0.01; the schedule's initial value
  double momentum = 0.0;                   // sgd, rmsprop
  bool nesterov = false;                   // sgd
  double beta_1 = 0.9;                     // adam, adamw, nadam
  double beta_2 = 0.999;                   // adam, adamw, nadam
  double epsilon = 1e-7;                   // adam, adamw, nadam, rmsprop, adagrad
  bool amsgrad = false;                    // adam, adamw
  double weight_decay = 0.0;               // any kind (Keras 2.11+); adamw: 0.004
  double rho = 0.9;                        // rmsprop
  bool centered = false;                   // rmsprop
  double initial_accumulator_value = 0.1;  // adagrad
  // nadam's momentum schedule u_t = beta_1 * (1 - 0.5 * 0.96^(schedule_decay * t)). Keras 2.11+
  // and Keras 3 use 0.96^t, i.e. 1; the legacy Keras Nadam and PyTorch's NAdam use 0.004.
  double schedule_decay = 1.0;
  // Gradient clipping as Keras' clipnorm (each tensor to this L2 norm), global_clipnorm (all
  // tensors together) and clipvalue (each element to [-v, v]); 0 turns each off.
  double clipnorm = 0.0;
  double global_clipnorm = 0.0;
  double clipvalue = 0.0;

  static OptimizerOptions KerasDefaults(OptimizerKind kind);
};

// Updates the trainable parameters of one model. Not thread-safe; the ParamView buffers must
// outlive it (CompiledModel::Parameters guarantees that for the model's life).
class Optimizer {
 public:
  // InvalidArgument naming the field ("optimizer.beta_1 must be in [0, 1), got 1.5") for
  // out-of-range hyperparameters or both clipnorm and global_clipnorm set (as Keras).
  [[nodiscard]] static Result<std::unique_ptr<Optimizer>> Create(const OptimizerOptions& options,
                                                                 std::vector<ParamView> params);

  const OptimizerOptions& options() const { return options_; }
  // Steps taken so far; a schedule is evaluated at this value before the step (as Keras).
  int64_t iterations() const { return iterations_; }

  // One update of every trainable parameter from its grad buffer, at `learning_rate`. Clipping
  // rescales the grad buffers in place.
  void Step(double learning_rate);

  // The slot buffers ("<param>/m", "<param>/v", ...) and the step count ("iterations", exact up
  // to 2^24 steps), to continue training from a model file; ImportState restores them into an
  // optimizer created with the same options and parameters (InvalidArgument naming a missing or
  // mis-sized tensor).
  std::vector<NamedTensor> ExportState() const;
  [[nodiscard]] Status ImportState(const std::vector<NamedTensor>& state);

 private:
  // Per-parameter state, each slot empty or of the parameter's size.
  struct Slots {
    std::vector<float> first;   // sgd/rmsprop momentum, adam/nadam m
    std::vector<float> second;  // adam/nadam v, rmsprop velocity, adagrad accumulator
    std::vector<float> extra;   // adam amsgrad max v, rmsprop centered average gradient
  };

  Optimizer(const OptimizerOptions& options, std::vector<ParamView> params);
  void ClipGradients();
  void Update(const ParamView& p, Slots& slots, double lr);

  OptimizerOptions options_;
  std::vector<ParamView> params_;  // trainable ones only
  std::vector<Slots> slots_;
  int64_t iterations_ = 0;
  double nadam_u_product_ = 1.0;  // U_t of the step in progress
};

}  // namespace labbook::nn
