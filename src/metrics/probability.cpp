// Metrics of predicted probabilities: log loss and top-k accuracy.
#include <algorithm>
#include <cmath>
#include <limits>

#include "core/status_macros.hpp"
#include "labbook/metrics.hpp"
#include "metrics/validation.hpp"

namespace labbook::metrics {
namespace {

Status CheckProbabilityInputs(std::span<const int32_t> labels,
                              std::span<const double> probabilities, int32_t num_classes) {
  LABBOOK_RETURN_IF_ERROR(internal::CheckNumClasses(num_classes, 2));
  LABBOOK_RETURN_IF_ERROR(internal::CheckNotEmpty(labels.size()));
  LABBOOK_RETURN_IF_ERROR(
      internal::CheckProbabilitiesShape(probabilities.size(), labels.size(), num_classes));
  LABBOOK_RETURN_IF_ERROR(internal::CheckClassIds("labels", labels, num_classes));
  return internal::CheckFinite("probabilities", probabilities, num_classes);
}

// numpy's sum of a short contiguous row (ndarray.sum(axis=1)): the first value, plus the rest
// summed sequentially when fewer than 8, otherwise in 8 interleaved partial sums combined
// pairwise. Matching the order keeps the renormalised probabilities bit-identical.
double NumpyRowSum(const double* v, size_t n) {
  double rest = 0.0;
  const double* a = v + 1;
  const size_t m = n - 1;
  if (m < 8) {
    for (size_t i = 0; i < m; ++i) rest += a[i];
  } else {
    double r[8];
    for (size_t j = 0; j < 8; ++j) r[j] = a[j];
    size_t i = 8;
    for (; i + 8 <= m; i += 8) {
      for (size_t j = 0; j < 8; ++j) r[j] += a[i + j];
    }
    rest = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < m; ++i) rest += a[i];
  }
  return v[0] + rest;
}

}  // namespace

Result<double> LogLoss(std::span<const int32_t> labels, std::span<const double> probabilities,
                       int32_t num_classes) {
  LABBOOK_RETURN_IF_ERROR(CheckProbabilityInputs(labels, probabilities, num_classes));
  constexpr double kEps = std::numeric_limits<double>::epsilon();
  const auto k = static_cast<size_t>(num_classes);
  std::vector<double> row(k);
  // Compensated summation of the per-sample losses (numpy sums pairwise; both are far inside
  // 1e-12 of the exact mean).
  double sum = 0.0;
  double compensation = 0.0;
  for (size_t i = 0; i < labels.size(); ++i) {
    for (size_t c = 0; c < k; ++c) row[c] = std::clamp(probabilities[i * k + c], kEps, 1 - kEps);
    const double loss = -std::log(row[static_cast<size_t>(labels[i])] / NumpyRowSum(row.data(), k));
    const double t = sum + loss;
    compensation += std::fabs(sum) >= std::fabs(loss) ? (sum - t) + loss : (loss - t) + sum;
    sum = t;
  }
  return (sum + compensation) / static_cast<double>(labels.size());
}

Result<double> TopKAccuracy(std::span<const int32_t> labels, std::span<const double> probabilities,
                            int32_t num_classes, int32_t k) {
  LABBOOK_RETURN_IF_ERROR(CheckProbabilityInputs(labels, probabilities, num_classes));
  if (k < 1) return InvalidArgument("k = " + std::to_string(k) + " must be at least 1");
  const size_t n = labels.size();
  const auto width = static_cast<size_t>(num_classes);
  int64_t hits = 0;
  if (num_classes == 2) {
    // sklearn's binary branch: only the scores of class 1 count.
    if (k >= 2) return 1.0;
    bool in_unit_interval = true;
    for (size_t i = 0; i < n; ++i) {
      const double s = probabilities[i * 2 + 1];
      in_unit_interval &= s >= 0.0 && s <= 1.0;
    }
    const double threshold = in_unit_interval ? 0.5 : 0.0;
    for (size_t i = 0; i < n; ++i) {
      const int32_t predicted = probabilities[i * 2 + 1] > threshold ? 1 : 0;
      hits += predicted == labels[i];
    }
  } else {
    // The label's rank in sklearn's order (score descending, ties by class id descending) is
    // the number of classes ahead of it.
    for (size_t i = 0; i < n; ++i) {
      const double* row = probabilities.data() + i * width;
      const auto label = static_cast<size_t>(labels[i]);
      const double own = row[label];
      int32_t ahead = 0;
      for (size_t c = 0; c < width; ++c) {
        ahead += row[c] > own || (row[c] == own && c > label);
      }
      hits += ahead < k;
    }
  }
  return static_cast<double>(hits) / static_cast<double>(n);
}

}  // namespace labbook::metrics
