// Metrics of predicted probabilities: log loss and top-k accuracy.
#include <algorithm>
#include <cmath>
#include <limits>
#include <thread>
#include <vector>

#include "core/run_on_threads.hpp"
#include "core/status_macros.hpp"
#include "labbook/metrics.hpp"
#include "metrics/probability.hpp"
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

// Rows below this many per thread are not worth one.
constexpr size_t kRowsPerThread = 65536;

// Runs fn(t, begin, end) for the `threads` contiguous slices of rows 0..n, one per thread (the
// caller's included); slice t starts at t * n / threads.
template <typename Fn>
void RunOnRowSlices(int threads, size_t n, Fn&& fn) {
  auto slice = [&](int t) {
    const auto count = static_cast<size_t>(threads);
    fn(t, n * static_cast<size_t>(t) / count, n * static_cast<size_t>(t + 1) / count);
  };
  RunOnThreads(threads, slice);
}

}  // namespace

namespace internal {

double LogLossOfChecked(std::span<const int32_t> labels, std::span<const double> probabilities,
                        int32_t num_classes, int num_threads) {
  constexpr double kEps = std::numeric_limits<double>::epsilon();
  const size_t n = labels.size();
  const auto k = static_cast<size_t>(num_classes);
  // The per-sample losses are independent, so threads compute them over slices of the rows; the
  // sum then runs in one thread in row order, so the result does not depend on the threads.
  std::vector<double> losses(n);
  const int threads = n < kRowsPerThread
                          ? 1
                          : std::clamp<int>(num_threads, 1, static_cast<int>(n / kRowsPerThread));
  RunOnRowSlices(threads, n, [&](int t, size_t begin, size_t end) {
    static_cast<void>(t);
    std::vector<double> row(k);
    for (size_t i = begin; i < end; ++i) {
      for (size_t c = 0; c < k; ++c) row[c] = std::clamp(probabilities[i * k + c], kEps, 1 - kEps);
      losses[i] = -std::log(row[static_cast<size_t>(labels[i])] / NumpyRowSum(row.data(), k));
    }
  });
  // Compensated summation of the per-sample losses (numpy sums pairwise; both are far inside
  // 1e-12 of the exact mean).
  double sum = 0.0;
  double compensation = 0.0;
  for (double loss : losses) {
    const double t = sum + loss;
    compensation += std::fabs(sum) >= std::fabs(loss) ? (sum - t) + loss : (loss - t) + sum;
    sum = t;
  }
  return (sum + compensation) / static_cast<double>(n);
}

std::vector<double> TopKAccuraciesOfChecked(std::span<const int32_t> labels,
                                            std::span<const double> probabilities,
                                            int32_t num_classes, std::span<const int32_t> ks,
                                            int num_threads) {
  const size_t n = labels.size();
  const auto width = static_cast<size_t>(num_classes);
  std::vector<double> accuracies(ks.size());
  if (num_classes == 2) {
    // sklearn's binary branch: only the scores of class 1 count.
    bool in_unit_interval = true;
    for (size_t i = 0; i < n; ++i) {
      const double s = probabilities[i * 2 + 1];
      in_unit_interval &= s >= 0.0 && s <= 1.0;
    }
    const double threshold = in_unit_interval ? 0.5 : 0.0;
    int64_t hits = 0;
    for (size_t i = 0; i < n; ++i) {
      const int32_t predicted = probabilities[i * 2 + 1] > threshold ? 1 : 0;
      hits += predicted == labels[i];
    }
    for (size_t j = 0; j < ks.size(); ++j) {
      accuracies[j] = ks[j] >= 2 ? 1.0 : static_cast<double>(hits) / static_cast<double>(n);
    }
    return accuracies;
  }
  // The label's rank in sklearn's order (score descending, ties by class id descending) is the
  // number of classes ahead of it; one pass counts it for every k, threads over slices of rows
  // (integer counts, so the split changes nothing).
  const int threads = n < kRowsPerThread
                          ? 1
                          : std::clamp<int>(num_threads, 1, static_cast<int>(n / kRowsPerThread));
  std::vector<std::vector<int64_t>> ahead_counts(static_cast<size_t>(threads));
  RunOnRowSlices(threads, n, [&](int t, size_t begin, size_t end) {
    std::vector<int64_t> counts(width + 1, 0);
    for (size_t i = begin; i < end; ++i) {
      const double* row = probabilities.data() + i * width;
      const auto label = static_cast<size_t>(labels[i]);
      const double own = row[label];
      int32_t ahead = 0;
      for (size_t c = 0; c < width; ++c) {
        ahead += row[c] > own || (row[c] == own && c > label);
      }
      ++counts[static_cast<size_t>(ahead)];
    }
    ahead_counts[static_cast<size_t>(t)] = std::move(counts);
  });
  for (size_t j = 0; j < ks.size(); ++j) {
    int64_t hits = 0;
    for (const std::vector<int64_t>& counts : ahead_counts) {
      for (size_t a = 0; a < counts.size() && static_cast<int64_t>(a) < ks[j]; ++a) {
        hits += counts[a];
      }
    }
    accuracies[j] = static_cast<double>(hits) / static_cast<double>(n);
  }
  return accuracies;
}

}  // namespace internal

Result<double> LogLoss(std::span<const int32_t> labels, std::span<const double> probabilities,
                       int32_t num_classes) {
  LABBOOK_RETURN_IF_ERROR(CheckProbabilityInputs(labels, probabilities, num_classes));
  return internal::LogLossOfChecked(labels, probabilities, num_classes, 1);
}

Result<double> TopKAccuracy(std::span<const int32_t> labels, std::span<const double> probabilities,
                            int32_t num_classes, int32_t k) {
  LABBOOK_RETURN_IF_ERROR(CheckProbabilityInputs(labels, probabilities, num_classes));
  if (k < 1) return InvalidArgument("k = " + std::to_string(k) + " must be at least 1");
  const int32_t ks[] = {k};
  return internal::TopKAccuraciesOfChecked(labels, probabilities, num_classes, ks, 1)[0];
}

}  // namespace labbook::metrics
