// The probability metrics without their input checks, for Evaluate(), which checks once. Each
// gives exactly the value of the public function (LogLoss, TopKAccuracy) for any thread count.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace labbook::metrics::internal {

// LogLoss of inputs already checked: K >= 2, the shape, class ids and finite values.
double LogLossOfChecked(std::span<const int32_t> labels, std::span<const double> probabilities,
                        int32_t num_classes, int num_threads);

// TopKAccuracy for each k of `ks` (each >= 1), from one pass over inputs already checked.
std::vector<double> TopKAccuraciesOfChecked(std::span<const int32_t> labels,
                                            std::span<const double> probabilities,
                                            int32_t num_classes, std::span<const int32_t> ks,
                                            int num_threads);

}  // namespace labbook::metrics::internal
