#include "nn/loss.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

namespace labbook::nn {
namespace {

// Keras' backend.epsilon(), the clipping margin of probabilities.
constexpr double kProbabilityEpsilon = 1e-7;
// tf.linalg.l2_normalize's floor under the squared norm.
constexpr double kSquaredNormEpsilon = 1e-12;

// Row `i` of the targets as k doubles: the given row if there are rows, else the one-hot row of
// its class.
void TargetRow(const LossTargets& targets, int i, int k, std::vector<double>& row) {
  if (targets.values != nullptr) {
    for (int j = 0; j < k; ++j) row[j] = targets.values[int64_t{i} * k + j];
    return;
  }
  std::fill(row.begin(), row.end(), 0.0);
  row[targets.classes[i]] = 1.0;
}

// Log-softmax of one row, shifted by its maximum so exp() cannot overflow.
void LogSoftmax(const float* z, int k, std::vector<double>& log_p) {
  double max = z[0];
  for (int j = 1; j < k; ++j) max = std::max(max, static_cast<double>(z[j]));
  double sum = 0;
  for (int j = 0; j < k; ++j) sum += std::exp(z[j] - max);
  const double log_sum = max + std::log(sum);
  for (int j = 0; j < k; ++j) log_p[j] = z[j] - log_sum;
}

double Clip(double p) { return std::clamp(p, kProbabilityEpsilon, 1.0 - kProbabilityEpsilon); }
// tf.clip_by_value passes the gradient where the value lies within the bounds, inclusive.
bool InsideClip(double p) { return p >= kProbabilityEpsilon && p <= 1.0 - kProbabilityEpsilon; }

}  // namespace

std::string_view LossName(LossKind kind) {
  switch (kind) {
    case LossKind::kCategoricalCrossentropy:
      return "categorical_crossentropy";
    case LossKind::kSparseCategoricalCrossentropy:
      return "sparse_categorical_crossentropy";
    case LossKind::kMeanSquaredError:
      return "mean_squared_error";
    case LossKind::kCosineSimilarity:
      return "cosine_similarity";
  }
  return "unknown";
}

Result<LossKind> ParseLossName(std::string_view name) {
  for (LossKind kind :
       {LossKind::kCategoricalCrossentropy, LossKind::kSparseCategoricalCrossentropy,
        LossKind::kMeanSquaredError, LossKind::kCosineSimilarity}) {
    if (name == LossName(kind)) return kind;
  }
  return InvalidArgument("unknown loss '" + std::string(name) +
                         "'; expected categorical_crossentropy, sparse_categorical_crossentropy, "
                         "mean_squared_error or cosine_similarity");
}

Loss::Loss(LossKind kind, Activation output_activation)
    : kind_(kind),
      fused_softmax_(output_activation == Activation::kSoftmax &&
                     (kind == LossKind::kCategoricalCrossentropy ||
                      kind == LossKind::kSparseCategoricalCrossentropy)) {}

Result<double> Loss::Compute(const float* output, const float* pre_activation,
                             const LossTargets& targets, int n, int k, float* grad) const {
  const std::string where = "loss " + std::string(LossName(kind_));
  if (n < 1 || k < 1) {
    return InvalidArgument(where + ": batch and output sizes must be positive, got " +
                           std::to_string(n) + " and " + std::to_string(k));
  }
  if (targets.classes == nullptr && targets.values == nullptr) {
    return InvalidArgument(where + ": no targets");
  }
  if (kind_ == LossKind::kSparseCategoricalCrossentropy && targets.classes == nullptr) {
    return InvalidArgument(where + ": needs integer class labels, got only target rows");
  }
  if (fused_softmax_ && pre_activation == nullptr) {
    return InvalidArgument(where + ": the fused softmax path needs the logits");
  }
  if (targets.classes != nullptr) {
    for (int i = 0; i < n; ++i) {
      if (targets.classes[i] < 0 || targets.classes[i] >= k) {
        return InvalidArgument(where + ": label " + std::to_string(targets.classes[i]) +
                               " of sample " + std::to_string(i) + " is outside [0, " +
                               std::to_string(k) + ")");
      }
    }
  }
  std::vector<double> y(k), p(k), g(k);
  double total = 0;
  for (int i = 0; i < n; ++i) {
    const float* o = output + int64_t{i} * k;
    float* d = grad + int64_t{i} * k;
    if (kind_ == LossKind::kSparseCategoricalCrossentropy) {
      std::fill(y.begin(), y.end(), 0.0);
      y[targets.classes[i]] = 1.0;
    } else {
      TargetRow(targets, i, k, y);
    }

    switch (kind_) {
      case LossKind::kCategoricalCrossentropy:
      case LossKind::kSparseCategoricalCrossentropy:
        if (fused_softmax_) {
          // L = -sum_j y_j log_softmax(z)_j, dL/dz_j = p_j * sum(y) - y_j.
          LogSoftmax(pre_activation + int64_t{i} * k, k, p);
          double y_sum = 0;
          for (int j = 0; j < k; ++j) {
            total -= y[j] * p[j];
            y_sum += y[j];
          }
          for (int j = 0; j < k; ++j) g[j] = std::exp(p[j]) * y_sum - y[j];
        } else if (kind_ == LossKind::kCategoricalCrossentropy) {
          // Keras: q = o / sum(o), c = clip(q), L = -sum_j y_j log c_j. Through the
          // normalisation, dL/do_i = (dL/dq_i - sum_j dL/dq_j q_j) / sum(o).
          double sum = 0;
          for (int j = 0; j < k; ++j) sum += o[j];
          double dot = 0;
          for (int j = 0; j < k; ++j) {
            const double q = o[j] / sum;
            total -= y[j] * std::log(Clip(q));
            g[j] = InsideClip(q) ? -y[j] / Clip(q) : 0.0;
            dot += g[j] * q;
          }
          for (int j = 0; j < k; ++j) g[j] = (g[j] - dot) / sum;
        } else {
          // Keras: c = clip(o), then softmax cross-entropy on log c, i.e.
          // L = -log c_label + log sum_j c_j, dL/dc_j = 1 / sum(c) - [j = label] / c_label.
          double sum = 0;
          for (int j = 0; j < k; ++j) sum += Clip(o[j]);
          const int label = targets.classes[i];
          total -= std::log(Clip(o[label])) - std::log(sum);
          for (int j = 0; j < k; ++j) {
            const double dc = 1.0 / sum - (j == label ? 1.0 / Clip(o[j]) : 0.0);
            g[j] = InsideClip(o[j]) ? dc : 0.0;
          }
        }
        break;
      case LossKind::kMeanSquaredError:
        for (int j = 0; j < k; ++j) {
          const double e = o[j] - y[j];
          total += e * e / k;
          g[j] = 2.0 * e / k;
        }
        break;
      case LossKind::kCosineSimilarity: {
        // L = -yhat . u with yhat = y / |y|, u = o / |o| (norms floored at sqrt(1e-12));
        // dL/do = -(yhat - u (u . yhat)) / |o| above the floor, -yhat / sqrt(1e-12) below it.
        double yy = 0, oo = 0;
        for (int j = 0; j < k; ++j) {
          yy += y[j] * y[j];
          oo += static_cast<double>(o[j]) * o[j];
        }
        const double y_norm = std::sqrt(std::max(yy, kSquaredNormEpsilon));
        const double o_norm = std::sqrt(std::max(oo, kSquaredNormEpsilon));
        double cosine = 0;
        for (int j = 0; j < k; ++j) cosine += (y[j] / y_norm) * (o[j] / o_norm);
        total -= cosine;
        for (int j = 0; j < k; ++j) {
          const double y_hat = y[j] / y_norm;
          g[j] = oo > kSquaredNormEpsilon ? -(y_hat - (o[j] / o_norm) * cosine) / o_norm
                                          : -y_hat / o_norm;
        }
        break;
      }
    }
    for (int j = 0; j < k; ++j) d[j] = static_cast<float>(g[j] / n);
  }
  return total / n;
}

double L2Penalty(std::span<const ParamView> params) {
  double penalty = 0;
  for (const ParamView& p : params) {
    if (p.l2 == 0.0) continue;
    double squares = 0;
    for (int64_t i = 0; i < p.size; ++i) squares += static_cast<double>(p.value[i]) * p.value[i];
    penalty += p.l2 * squares;
  }
  return penalty;
}

void AddL2Gradients(std::span<const ParamView> params) {
  for (const ParamView& p : params) {
    if (p.l2 == 0.0 || p.grad == nullptr) continue;
    const auto scale = static_cast<float>(2.0 * p.l2);
    for (int64_t i = 0; i < p.size; ++i) p.grad[i] += scale * p.value[i];
  }
}

}  // namespace labbook::nn
