#include "metrics/validation.hpp"

#include <cmath>
#include <string>

namespace labbook::metrics::internal {

Status CheckNumClasses(int32_t num_classes, int32_t min_classes) {
  if (num_classes >= min_classes) return Status::Ok();
  return InvalidArgument("num_classes = " + std::to_string(num_classes) + " must be at least " +
                         std::to_string(min_classes));
}

Status CheckNotEmpty(size_t num_samples) {
  if (num_samples > 0) return Status::Ok();
  return InvalidArgument("labels is empty: the metric needs at least one sample");
}

Status CheckSameLength(std::string_view name, size_t size, size_t labels_size) {
  if (size == labels_size) return Status::Ok();
  return InvalidArgument(std::string(name) + " has " + std::to_string(size) +
                         " entries but labels has " + std::to_string(labels_size));
}

Status CheckClassIds(std::string_view name, std::span<const int32_t> ids, int32_t num_classes) {
  // One branch-free pass finds whether anything is wrong; the slow pass only runs on error.
  const auto limit = static_cast<uint32_t>(num_classes);
  bool bad = false;
  for (int32_t id : ids) bad |= static_cast<uint32_t>(id) >= limit;
  if (!bad) return Status::Ok();
  for (size_t i = 0; i < ids.size(); ++i) {
    if (static_cast<uint32_t>(ids[i]) >= limit) {
      return InvalidArgument(std::string(name) + "[" + std::to_string(i) +
                             "] = " + std::to_string(ids[i]) + " is outside 0.." +
                             std::to_string(num_classes - 1));
    }
  }
  return Status::Ok();
}

Status CheckProbabilitiesShape(size_t probabilities_size, size_t num_samples, int32_t num_classes) {
  const size_t expected = num_samples * static_cast<size_t>(num_classes);
  if (probabilities_size == expected) return Status::Ok();
  return InvalidArgument("probabilities has " + std::to_string(probabilities_size) +
                         " values but " + std::to_string(num_samples) + " rows x " +
                         std::to_string(num_classes) + " classes need " + std::to_string(expected));
}

Status NotFiniteError(std::string_view name, std::span<const double> values, size_t index,
                      int32_t row_width) {
  std::string where = std::string(name) + "[" + std::to_string(index) + "]";
  if (row_width > 0) {
    const auto width = static_cast<size_t>(row_width);
    where +=
        " (row " + std::to_string(index / width) + ", class " + std::to_string(index % width) + ")";
  }
  const double v = values[index];
  const char* text = std::isnan(v) ? "nan" : (v > 0 ? "inf" : "-inf");
  return InvalidArgument(where + " = " + text + " is not finite");
}

Status CheckFinite(std::string_view name, std::span<const double> values, int32_t row_width) {
  bool bad = false;
  for (double v : values) bad |= !std::isfinite(v);
  if (!bad) return Status::Ok();
  for (size_t i = 0; i < values.size(); ++i) {
    if (!std::isfinite(values[i])) return NotFiniteError(name, values, i, row_width);
  }
  return Status::Ok();
}

}  // namespace labbook::metrics::internal
