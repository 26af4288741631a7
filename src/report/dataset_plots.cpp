#include "report/dataset_plots.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

namespace labbook::report {

BarChartSpec LabelDistributionPlot(const std::vector<std::string>& class_names,
                                   const DatasetStats& stats, const std::string& title) {
  BarChartSpec bars;
  bars.title = "Label distribution: " + title;
  bars.x_label = "Class";
  bars.y_label = "Images";
  bars.categories = class_names;
  BarSeries series;
  series.name = "images";
  for (int64_t c : stats.label_counts) series.values.push_back(static_cast<double>(c));
  bars.series.push_back(std::move(series));
  return bars;
}

HistogramSpec PixelHistogramPlot(const DatasetStats& stats, const std::string& title) {
  HistogramSpec histogram;
  histogram.title = "Pixel values: " + title;
  histogram.x_label = "Pixel value (0-255)";
  histogram.y_label = "Pixels (log scale)";
  histogram.log_y = true;
  for (int64_t c : stats.pixel_histogram) histogram.counts.push_back(static_cast<double>(c));
  return histogram;
}

ImageGridSpec ClassMeanImagesPlot(const std::vector<std::string>& class_names,
                                  const DatasetStats& stats, const std::string& title) {
  const int channels = std::max(1, stats.channels);
  ImageGridSpec means;
  means.title = "Mean image per class: " + title;
  means.columns = std::min(stats.num_classes, 10);
  for (int k = 0; k < stats.num_classes; ++k) {
    GridImage image;
    image.height = stats.rows;
    image.width = stats.cols;
    image.pixels.assign(static_cast<size_t>(stats.rows) * stats.cols, 0.0);
    const auto& mean = stats.class_mean_images[k];
    for (size_t p = 0; p < image.pixels.size(); ++p) {
      double sum = 0;
      for (int c = 0; c < channels; ++c) sum += mean[p * channels + c];
      image.pixels[p] = sum / channels;
    }
    image.caption = class_names[k];
    means.images.push_back(std::move(image));
  }
  return means;
}

GridImage ImageOfSet(const ImageSet& set, int64_t index, std::string caption) {
  const int channels = std::max(1, set.channels);
  GridImage image;
  image.height = set.rows;
  image.width = set.cols;
  image.caption = std::move(caption);
  image.pixels.resize(static_cast<size_t>(set.rows) * set.cols);
  const size_t image_size = image.pixels.size() * channels;
  const uint8_t* src = set.pixels.data() + static_cast<size_t>(index) * image_size;
  for (size_t p = 0; p < image.pixels.size(); ++p) {
    double sum = 0;
    for (int c = 0; c < channels; ++c) sum += src[p * channels + c];
    image.pixels[p] = sum / channels;
  }
  return image;
}

ImageGridSpec SampleImagesPlot(const ImageSet& set, const std::vector<std::string>& class_names,
                               int per_class, const std::string& title) {
  ImageGridSpec samples;
  samples.title = "Samples: " + title;
  samples.columns = per_class;
  for (size_t k = 0; k < class_names.size(); ++k) {
    int found = 0;
    for (int64_t i = 0; i < set.count && found < per_class; ++i) {
      if (static_cast<size_t>(set.labels[i]) != k) continue;
      samples.images.push_back(ImageOfSet(set, i, ""));
      ++found;
    }
    for (; found < per_class; ++found) {
      GridImage blank;
      blank.height = set.rows;
      blank.width = set.cols;
      blank.pixels.assign(static_cast<size_t>(set.rows) * set.cols, std::nan(""));
      samples.images.push_back(std::move(blank));
    }
    samples.row_labels.push_back(class_names[k]);
  }
  return samples;
}

}  // namespace labbook::report
