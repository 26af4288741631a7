// Evaluate() together with the ROC and precision-recall curve of every class, thinned for
// drawing, all from the one radix sort per class that the one-vs-rest metrics already need.
// `labbook eval` uses it; the curves of a million samples then cost a walk over the sorted
// scores instead of two more sorts each and millions of points to draw.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "labbook/metrics.hpp"
#include "metrics/curve_thinning.hpp"

namespace labbook::metrics {

// roc[k] and pr[k] are the curves of class k against the rest (column k of the probabilities
// against labels == k). Each has exactly the points, rates and thresholds ComputeRocCurve
// (drop_intermediate) and ComputePrecisionRecallCurve give for that column when it has at most
// thinning.max_points points, else the subset that CurveThinning describes; endpoints always
// stay, and pr[k].thresholds keeps one entry fewer than its points (none for the final (1, 0)).
struct OneVsRestCurves {
  std::vector<RocCurve> roc;
  std::vector<PrecisionRecallCurve> pr;
};

// Evaluate(labels, predicted, probabilities, num_classes), same values and errors, and with
// probabilities the curves of every class in *curves (left empty without probabilities; curves may
// be null, and then this is Evaluate).
// Safe to call from several threads at once on different outputs.
[[nodiscard]] Result<EvaluationReport> EvaluateWithCurves(std::span<const int32_t> labels,
                                                          std::span<const int32_t> predicted,
                                                          std::span<const double> probabilities,
                                                          int32_t num_classes,
                                                          const CurveThinning& thinning,
                                                          OneVsRestCurves* curves);

namespace internal {

// ComputeOneVsRest, and when `curves` is not null also the thinned curves of every class.
[[nodiscard]] Result<OneVsRestReport> OneVsRest(std::span<const int32_t> labels,
                                                std::span<const double> probabilities,
                                                int32_t num_classes, int num_threads,
                                                const CurveThinning& thinning,
                                                OneVsRestCurves* curves);

// The thinned ROC and PR curves of one binary problem from its sorted positive and negative
// score keys (see RadixSortKeys), as OneVsRestCurves describes.
void BuildThinnedCurves(std::span<const uint64_t> pos, std::span<const uint64_t> neg,
                        const CurveThinning& thinning, RocCurve* roc, PrecisionRecallCurve* pr);

}  // namespace internal
}  // namespace labbook::metrics
