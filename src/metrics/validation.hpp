// Input checks shared by the metrics functions. Each returns kInvalidArgument naming the argument
// and, for element errors, the first offending index.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "labbook/status.hpp"

namespace labbook::metrics::internal {

// num_classes >= min_classes.
Status CheckNumClasses(int32_t num_classes, int32_t min_classes = 1);

// At least one sample.
Status CheckNotEmpty(size_t num_samples);

// `name` has as many entries as labels.
Status CheckSameLength(std::string_view name, size_t size, size_t labels_size);

// Every entry of `ids` lies in 0..num_classes-1, e.g. "labels[17] = 12 is outside 0..9".
Status CheckClassIds(std::string_view name, std::span<const int32_t> ids, int32_t num_classes);

// probabilities holds num_samples rows of num_classes values.
Status CheckProbabilitiesShape(size_t probabilities_size, size_t num_samples, int32_t num_classes);

// Every value is finite; row_width > 0 makes the message name the row and column.
Status CheckFinite(std::string_view name, std::span<const double> values, int32_t row_width = 0);

// The error for values[index], used by callers that detect non-finite values in their own loops.
Status NotFiniteError(std::string_view name, std::span<const double> values, size_t index,
                      int32_t row_width = 0);

}  // namespace labbook::metrics::internal
