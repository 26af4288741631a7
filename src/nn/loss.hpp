// Losses with Keras semantics, each the mean over the batch of a per-sample loss, returning the
// value and the gradient the trainer hands to CompiledModel::Backward. Plus the L2 kernel
// regulariser, which Keras adds to the loss as l2 * sum(w^2) per kernel.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "labbook/status.hpp"
#include "nn/backend.hpp"
#include "nn/spec.hpp"

namespace labbook::nn {

enum class LossKind {
  kCategoricalCrossentropy,        // -sum_j y_j log p_j with one-hot (or soft) targets
  kSparseCategoricalCrossentropy,  // -log p_label with integer labels
  kMeanSquaredError,               // mean_j (p_j - y_j)^2
  kCosineSimilarity,               // -sum_j l2norm(y)_j * l2norm(p)_j, in [-1, 1]
};

// Keras' names: "categorical_crossentropy", "sparse_categorical_crossentropy",
// "mean_squared_error", "cosine_similarity".
std::string_view LossName(LossKind kind);
// InvalidArgument listing the known names for anything else.
[[nodiscard]] Result<LossKind> ParseLossName(std::string_view name);

// The targets of a batch: class indices or dense rows, whichever the data has. Class indices
// stand for one-hot rows in the losses that need rows.
struct LossTargets {
  const int32_t* classes = nullptr;  // (n), each in [0, k)
  const float* values = nullptr;     // (n, k)
};

// One loss for one model output. Thread-compatible: Compute has no state.
//
// Cross-entropy after a softmax output is fused: the value comes from the log-softmax of the
// logits (CompiledModel::LastPreActivation) and the gradient, with respect to the logits, is
// (p - y) / n. This is what Keras itself computes: its cross-entropies notice that the output
// came from a softmax and switch to from_logits=True on the softmax's input, so no epsilon
// clipping takes place. Any other output activation takes Keras 2's probability path, and the
// gradient is with respect to the output: categorical rows are renormalised to sum to 1, then
// clipped to [1e-7, 1 - 1e-7]; sparse ones are clipped, then renormalised (a softmax of their
// logarithms); clipped elements get no gradient, as with tf.clip_by_value.
class Loss {
 public:
  Loss(LossKind kind, Activation output_activation);

  LossKind kind() const { return kind_; }
  bool fused_softmax() const { return fused_softmax_; }
  // What the gradient from Compute is taken with respect to: pass it to Backward.
  GradientOf gradient_of() const {
    return fused_softmax_ ? GradientOf::kPreActivation : GradientOf::kOutput;
  }

  // output: the model output (n, k); pre_activation: LastPreActivation() (n, k), read only when
  // fused (may be null otherwise). Writes d loss / d (output or pre-activation) to grad (n, k)
  // and returns the batch-mean loss. InvalidArgument for n or k below 1, missing targets (sparse
  // cross-entropy needs classes), or a class outside [0, k) (naming the sample).
  [[nodiscard]] Result<double> Compute(const float* output, const float* pre_activation,
                                       const LossTargets& targets, int n, int k, float* grad) const;

 private:
  LossKind kind_;
  bool fused_softmax_;
};

// The regularisation term sum over parameters of l2 * sum(w^2) (ParamView::l2, 0 for all but
// kernels), and adding its gradient 2 * l2 * w into each kernel's grad buffer. Backends with
// blocked layouts keep padding at zero, so whole buffers can be summed.
double L2Penalty(std::span<const ParamView> params);
void AddL2Gradients(std::span<const ParamView> params);

}  // namespace labbook::nn
