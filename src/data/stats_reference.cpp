#include "data/stats_reference.hpp"

#include <cmath>
#include <string>

#include "core/status_macros.hpp"

namespace labbook::data {

Status CheckStatsInput(const ImageSet& images, int num_classes) {
  if (num_classes < 1 || num_classes > 256) {
    return InvalidArgument("statistics: num_classes is " + std::to_string(num_classes) +
                           "; expected 1..256 (labels are bytes)");
  }
  if (images.count < 0 || images.rows < 0 || images.cols < 0 || images.channels < 0) {
    return InvalidArgument("statistics: negative count or shape");
  }
  const uint64_t pixels_per_image = static_cast<uint64_t>(images.rows) *
                                    static_cast<uint64_t>(images.cols) *
                                    static_cast<uint64_t>(images.channels);
  const uint64_t count = static_cast<uint64_t>(images.count);
  if (images.pixels.size() / (pixels_per_image == 0 ? 1 : pixels_per_image) != count ||
      images.pixels.size() != count * pixels_per_image) {
    return InvalidArgument("statistics: " + std::to_string(images.pixels.size()) +
                           " pixel bytes; expected count x rows x cols x channels = " +
                           std::to_string(count) + "x" + std::to_string(images.rows) + "x" +
                           std::to_string(images.cols) + "x" + std::to_string(images.channels));
  }
  if (images.labels.size() != count) {
    return InvalidArgument("statistics: " + std::to_string(images.labels.size()) +
                           " labels; expected one per image, " + std::to_string(count));
  }
  for (size_t i = 0; i < images.labels.size(); ++i) {
    if (images.labels[i] >= num_classes) {
      return InvalidArgument("statistics: image " + std::to_string(i) + " has label " +
                             std::to_string(images.labels[i]) + "; expected below " +
                             std::to_string(num_classes));
    }
  }
  return Status::Ok();
}

Result<DatasetStats> ComputeStatsReference(const ImageSet& images, int num_classes) {
  LABBOOK_RETURN_IF_ERROR(CheckStatsInput(images, num_classes));
  DatasetStats stats;
  stats.count = images.count;
  stats.rows = images.rows;
  stats.cols = images.cols;
  stats.channels = images.channels;
  stats.num_classes = num_classes;
  stats.label_counts.assign(static_cast<size_t>(num_classes), 0);
  const size_t pixels_per_image = static_cast<size_t>(images.rows) *
                                  static_cast<size_t>(images.cols) *
                                  static_cast<size_t>(images.channels);
  std::vector<std::vector<double>> class_sums(static_cast<size_t>(num_classes),
                                              std::vector<double>(pixels_per_image, 0.0));
  double sum = 0;
  int min = 255;
  int max = 0;
  for (size_t i = 0; i < static_cast<size_t>(images.count); ++i) {
    const int label = images.labels[i];
    stats.label_counts[static_cast<size_t>(label)] += 1;
    for (size_t p = 0; p < pixels_per_image; ++p) {
      const int v = images.pixels[i * pixels_per_image + p];
      sum += v;
      stats.pixel_histogram[static_cast<size_t>(v)] += 1;
      class_sums[static_cast<size_t>(label)][p] += v;
      if (v < min) min = v;
      if (v > max) max = v;
    }
  }
  const double n = static_cast<double>(images.pixels.size());
  if (images.pixels.empty()) {
    min = 0;
    max = 0;
  } else {
    stats.pixel_mean = sum / n;
    // long double keeps the plain sum of millions of squares accurate to ~1e-13.
    long double squares = 0;
    for (uint8_t v : images.pixels) {
      const long double d = v - static_cast<long double>(stats.pixel_mean);
      squares += d * d;
    }
    stats.pixel_std = static_cast<double>(std::sqrt(squares / static_cast<long double>(n)));
  }
  stats.pixel_min = min;
  stats.pixel_max = max;
  stats.class_mean_images = std::move(class_sums);
  for (size_t k = 0; k < stats.class_mean_images.size(); ++k) {
    if (stats.label_counts[k] == 0) continue;
    for (double& value : stats.class_mean_images[k]) {
      value /= static_cast<double>(stats.label_counts[k]);
    }
  }
  return stats;
}

}  // namespace labbook::data
