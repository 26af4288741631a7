// Plain reference implementations of the ranking metrics: a line-by-line reading of
// scikit-learn 1.2.1 (_binary_clf_curve, roc_curve, precision_recall_curve, auc,
// average_precision_score) with std::stable_sort and floating-point cumulative sums. The tests
// compare the fast radix-sort engine with these, and these with scikit-learn itself.
#pragma once

#include <cstdint>
#include <span>

#include "labbook/metrics.hpp"

namespace labbook::metrics::reference {

// Inputs are trusted: same lengths, at least one sample, finite scores.
RocCurve RocCurveOf(std::span<const int32_t> labels, std::span<const double> scores,
                    int32_t positive_label, bool drop_intermediate);
PrecisionRecallCurve PrecisionRecallCurveOf(std::span<const int32_t> labels,
                                            std::span<const double> scores, int32_t positive_label);
// Trapezoid rule over the ROC curve, as sklearn.metrics.auc; NaN with one class present.
double RocAucOf(std::span<const int32_t> labels, std::span<const double> scores,
                int32_t positive_label);
// -sum(diff(recall) * precision[:-1]) over the precision-recall curve.
double AveragePrecisionOf(std::span<const int32_t> labels, std::span<const double> scores,
                          int32_t positive_label);

}  // namespace labbook::metrics::reference
