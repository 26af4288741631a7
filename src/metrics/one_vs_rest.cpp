// One-vs-rest AUROC and average precision of every class, and the threshold trade-off table.
//
// Threads take classes one at a time: copy the class's column as sort keys, positives (labels ==
// class) apart from negatives, radix-sort both and walk them once for AUROC and AP together, and
// once more for the thinned curves when `labbook eval` draws them.
#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <limits>
#include <thread>

#include "core/run_on_threads.hpp"
#include "core/status_macros.hpp"
#include "labbook/metrics.hpp"
#include "metrics/curves.hpp"
#include "metrics/key_buffer.hpp"
#include "metrics/radix_sort.hpp"
#include "metrics/ranking_core.hpp"
#include "metrics/validation.hpp"

namespace labbook::metrics {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr uint64_t kExponentMask = 0x7ff0000000000000ULL;

// Means of the defined (non-NaN) entries, unweighted and weighted by support.
void Average(const std::vector<double>& values, const std::vector<int64_t>& support, double* macro,
             double* weighted) {
  double sum = 0.0;
  double weighted_sum = 0.0;
  double weight_total = 0.0;
  int defined = 0;
  for (size_t c = 0; c < values.size(); ++c) {
    if (std::isnan(values[c])) continue;
    sum += values[c];
    weighted_sum += values[c] * static_cast<double>(support[c]);
    weight_total += static_cast<double>(support[c]);
    ++defined;
  }
  *macro = defined > 0 ? sum / defined : kNaN;
  *weighted = weight_total > 0 ? weighted_sum / weight_total : kNaN;
}

}  // namespace

namespace internal {

Result<OneVsRestReport> OneVsRest(std::span<const int32_t> labels,
                                  std::span<const double> probabilities, int32_t num_classes,
                                  int num_threads, const CurveThinning& thinning,
                                  OneVsRestCurves* curves) {
  LABBOOK_RETURN_IF_ERROR(internal::CheckNumClasses(num_classes));
  LABBOOK_RETURN_IF_ERROR(internal::CheckNotEmpty(labels.size()));
  LABBOOK_RETURN_IF_ERROR(
      internal::CheckProbabilitiesShape(probabilities.size(), labels.size(), num_classes));
  LABBOOK_RETURN_IF_ERROR(internal::CheckClassIds("labels", labels, num_classes));

  const size_t n = labels.size();
  const auto k = static_cast<size_t>(num_classes);
  if (num_threads <= 0) num_threads = static_cast<int>(std::thread::hardware_concurrency());
  // Tiny inputs are not worth a thread; more threads than classes would have nothing to do.
  const int threads = n < 4096 ? 1 : std::clamp(num_threads, 1, num_classes);

  OneVsRestReport report;
  report.support.assign(k, 0);
  for (int32_t label : labels) ++report.support[static_cast<size_t>(label)];
  report.auroc.assign(k, kNaN);
  report.average_precision.assign(k, kNaN);
  report.issues.assign(k, RankingIssue::kNone);
  if (curves != nullptr) {
    curves->roc.assign(k, RocCurve{});
    curves->pr.assign(k, PrecisionRecallCurve{});
  }

  std::atomic<size_t> next_class{0};
  std::atomic<bool> out_of_memory{false};
  std::atomic<bool> not_finite{false};
  RunOnThreads(threads, [&](int) {
    // Each thread owns two key arrays: the column of its current class, split into positives
    // (labels == class) and negatives, and the sort's scratch.
    internal::KeyBuffer keys(n);
    internal::KeyBuffer scratch(n);
    if (keys.data() == nullptr || scratch.data() == nullptr) {
      out_of_memory = true;
      return;
    }
    for (size_t c = next_class++; c < k; c = next_class++) {
      const auto num_pos = static_cast<size_t>(report.support[c]);
      uint64_t* pos = keys.data();
      uint64_t* neg = keys.data() + num_pos;
      bool bad = false;
      const double* column = probabilities.data() + c;
      const auto label = static_cast<int32_t>(c);
      for (size_t i = 0; i < n; ++i) {
        const double score = column[i * k];
        bad |= (std::bit_cast<uint64_t>(score) & kExponentMask) == kExponentMask;
        const uint64_t key = internal::OrderedKey(score);
        if (labels[i] == label) {
          *pos++ = key;
        } else {
          *neg++ = key;
        }
      }
      if (bad) {
        not_finite = true;
        return;
      }
      const uint64_t* sorted_pos = internal::RadixSortKeys(keys.data(), scratch.data(), num_pos);
      const uint64_t* sorted_neg =
          internal::RadixSortKeys(keys.data() + num_pos, scratch.data() + num_pos, n - num_pos);
      const internal::RankingPair pair =
          internal::AurocAndAveragePrecision({sorted_pos, num_pos}, {sorted_neg, n - num_pos});
      if (curves != nullptr) {
        internal::BuildThinnedCurves({sorted_pos, num_pos}, {sorted_neg, n - num_pos}, thinning,
                                     &curves->roc[c], &curves->pr[c]);
      }
      report.auroc[c] = pair.auroc;
      report.average_precision[c] = pair.average_precision;
      if (num_pos == 0) {
        report.issues[c] = RankingIssue::kNoPositives;
      } else if (num_pos == n) {
        report.issues[c] = RankingIssue::kNoNegatives;
      }
    }
  });
  if (not_finite) return internal::CheckFinite("probabilities", probabilities, num_classes);
  if (out_of_memory) {
    return ResourceExhausted("one-vs-rest metrics need 2 x " + std::to_string(n) +
                             " sort keys per thread and could not allocate them");
  }
  Average(report.auroc, report.support, &report.auroc_macro, &report.auroc_weighted);
  Average(report.average_precision, report.support, &report.average_precision_macro,
          &report.average_precision_weighted);
  return report;
}

}  // namespace internal

Result<OneVsRestReport> ComputeOneVsRest(std::span<const int32_t> labels,
                                         std::span<const double> probabilities, int32_t num_classes,
                                         int num_threads) {
  return internal::OneVsRest(labels, probabilities, num_classes, num_threads, CurveThinning{},
                             nullptr);
}

Result<std::vector<ThresholdRow>> PrecisionRecallAtThresholds(std::span<const int32_t> labels,
                                                              std::span<const double> probabilities,
                                                              int32_t num_classes, int32_t class_id,
                                                              std::span<const double> thresholds) {
  LABBOOK_RETURN_IF_ERROR(internal::CheckNumClasses(num_classes));
  LABBOOK_RETURN_IF_ERROR(internal::CheckNotEmpty(labels.size()));
  LABBOOK_RETURN_IF_ERROR(
      internal::CheckProbabilitiesShape(probabilities.size(), labels.size(), num_classes));
  LABBOOK_RETURN_IF_ERROR(internal::CheckClassIds("labels", labels, num_classes));
  if (class_id < 0 || class_id >= num_classes) {
    return InvalidArgument("class_id = " + std::to_string(class_id) + " is outside 0.." +
                           std::to_string(num_classes - 1));
  }
  for (size_t t = 0; t < thresholds.size(); ++t) {
    if (std::isnan(thresholds[t])) {
      return InvalidArgument("thresholds[" + std::to_string(t) + "] is nan");
    }
  }
  LABBOOK_ASSIGN_OR_RETURN(
      auto sorted, internal::SortedBinaryScores::Build(
                       labels, probabilities, static_cast<size_t>(class_id),
                       static_cast<size_t>(num_classes), class_id, "probabilities", num_classes));
  const std::span<const uint64_t> pos = sorted.positives();
  const std::span<const uint64_t> neg = sorted.negatives();
  std::vector<ThresholdRow> rows;
  rows.reserve(thresholds.size());
  for (double threshold : thresholds) {
    // score >= t exactly when key(score) >= key(t); infinite thresholds order correctly too.
    const uint64_t key = internal::OrderedKey(threshold);
    ThresholdRow row;
    row.threshold = threshold;
    row.true_positives = pos.end() - std::lower_bound(pos.begin(), pos.end(), key);
    row.false_positives = neg.end() - std::lower_bound(neg.begin(), neg.end(), key);
    row.false_negatives = static_cast<int64_t>(pos.size()) - row.true_positives;
    row.true_negatives = static_cast<int64_t>(neg.size()) - row.false_positives;
    const int64_t predicted = row.true_positives + row.false_positives;
    const auto tp = static_cast<double>(row.true_positives);
    row.precision = predicted == 0 ? 0.0 : tp / static_cast<double>(predicted);
    row.recall = pos.empty() ? 0.0 : tp / static_cast<double>(pos.size());
    const double denominator = row.precision + row.recall;
    row.f1 = denominator == 0.0 ? 0.0 : 2.0 * row.precision * row.recall / denominator;
    rows.push_back(row);
  }
  return rows;
}

}  // namespace labbook::metrics
