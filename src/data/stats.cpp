// Dataset statistics in one pass over the images. Per image, the pixels update a byte histogram
// and are added to their class's integer sums while still in L1 cache; the mean and standard
// deviation then come from the 256 histogram bins, so no pass over the pixels uses floating point.
#include <cmath>

#include "core/status_macros.hpp"
#include "data/stats_reference.hpp"
#include "labbook/dataset.hpp"

namespace labbook {
namespace {

// Adds each image to its class's per-pixel sums. `Sum` is uint32_t while count * 255 fits
// (16.8 million images), which lets the compiler add 8 or 16 pixels per instruction.
template <typename Sum>
void AccumulatePixels(const ImageSet& images, size_t pixels_per_image, int num_classes,
                      std::array<uint64_t, 4 * 256>* histograms, std::vector<int64_t>* label_counts,
                      std::vector<std::vector<double>>* class_means) {
  std::vector<Sum> sums(static_cast<size_t>(num_classes) * pixels_per_image, 0);
  uint64_t* hist = histograms->data();
  for (size_t i = 0; i < static_cast<size_t>(images.count); ++i) {
    const uint8_t* px = images.pixels.data() + i * pixels_per_image;
    const size_t label = images.labels[i];
    (*label_counts)[label] += 1;
    // Four histograms so consecutive equal pixels do not wait on each other's increments.
    size_t p = 0;
    for (; p + 4 <= pixels_per_image; p += 4) {
      hist[px[p]] += 1;
      hist[256 + px[p + 1]] += 1;
      hist[512 + px[p + 2]] += 1;
      hist[768 + px[p + 3]] += 1;
    }
    for (; p < pixels_per_image; ++p) hist[px[p]] += 1;
    Sum* acc = sums.data() + label * pixels_per_image;
    for (size_t q = 0; q < pixels_per_image; ++q) acc[q] += px[q];
  }
  for (size_t k = 0; k < static_cast<size_t>(num_classes); ++k) {
    std::vector<double>& mean = (*class_means)[k];
    mean.assign(pixels_per_image, 0.0);
    const int64_t n = (*label_counts)[k];
    if (n == 0) continue;
    const Sum* acc = sums.data() + k * pixels_per_image;
    for (size_t q = 0; q < pixels_per_image; ++q) {
      mean[q] = static_cast<double>(acc[q]) / static_cast<double>(n);
    }
  }
}

}  // namespace

Result<DatasetStats> ComputeStats(const ImageSet& images, int num_classes) {
  LABBOOK_RETURN_IF_ERROR(data::CheckStatsInput(images, num_classes));
  DatasetStats stats;
  stats.count = images.count;
  stats.rows = images.rows;
  stats.cols = images.cols;
  stats.channels = images.channels;
  stats.num_classes = num_classes;
  stats.label_counts.assign(static_cast<size_t>(num_classes), 0);
  stats.class_mean_images.resize(static_cast<size_t>(num_classes));
  const size_t pixels_per_image = static_cast<size_t>(images.rows) *
                                  static_cast<size_t>(images.cols) *
                                  static_cast<size_t>(images.channels);

  std::array<uint64_t, 4 * 256> histograms{};
  if (images.count <= int64_t{UINT32_MAX / 255}) {
    AccumulatePixels<uint32_t>(images, pixels_per_image, num_classes, &histograms,
                               &stats.label_counts, &stats.class_mean_images);
  } else {
    AccumulatePixels<uint64_t>(images, pixels_per_image, num_classes, &histograms,
                               &stats.label_counts, &stats.class_mean_images);
  }

  // Exact integer sums from the histogram; 2^63 / 255 pixels is far beyond any dataset.
  int64_t total = 0;
  int64_t sum = 0;
  for (int v = 0; v < 256; ++v) {
    const uint64_t bin =
        histograms[static_cast<size_t>(v)] + histograms[256 + static_cast<size_t>(v)] +
        histograms[512 + static_cast<size_t>(v)] + histograms[768 + static_cast<size_t>(v)];
    stats.pixel_histogram[static_cast<size_t>(v)] = static_cast<int64_t>(bin);
    total += static_cast<int64_t>(bin);
    sum += static_cast<int64_t>(bin) * v;
  }
  if (total == 0) return stats;
  const double n = static_cast<double>(total);
  stats.pixel_mean = static_cast<double>(sum) / n;
  // Two-pass variance over the 256 bins: no cancellation, and only 256 rounded terms.
  double squares = 0;
  for (int v = 0; v < 256; ++v) {
    const int64_t bin = stats.pixel_histogram[static_cast<size_t>(v)];
    if (bin == 0) continue;
    const double d = v - stats.pixel_mean;
    squares += static_cast<double>(bin) * d * d;
  }
  stats.pixel_std = std::sqrt(squares / n);
  stats.pixel_min = 0;
  while (stats.pixel_histogram[static_cast<size_t>(stats.pixel_min)] == 0) ++stats.pixel_min;
  stats.pixel_max = 255;
  while (stats.pixel_histogram[static_cast<size_t>(stats.pixel_max)] == 0) --stats.pixel_max;
  return stats;
}

}  // namespace labbook
