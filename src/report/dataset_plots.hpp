// The pictures of a dataset's statistics, as plot specs: the label distribution, the pixel
// histogram, the mean image of each class and a grid of samples. `labbook data stats` writes them
// as files and `labbook report` inlines them, so both show the same figures.
//
// Plain functions of their arguments; the specs they return render with RenderPlot (plot.hpp).
// Multi-channel images are shown grey, their channels averaged.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "labbook/dataset.hpp"
#include "report/plot.hpp"

namespace labbook::report {

// Images per class as bars, one per entry of `class_names` (stats.num_classes of them), titled
// "Label distribution: <title>".
BarChartSpec LabelDistributionPlot(const std::vector<std::string>& class_names,
                                   const DatasetStats& stats, const std::string& title);

// The 256 pixel-value counts on a log scale, titled "Pixel values: <title>".
HistogramSpec PixelHistogramPlot(const DatasetStats& stats, const std::string& title);

// The mean image of each class captioned with its name, up to ten a row, titled
// "Mean image per class: <title>".
ImageGridSpec ClassMeanImagesPlot(const std::vector<std::string>& class_names,
                                  const DatasetStats& stats, const std::string& title);

// The first `per_class` images of each class in file order, one row per class labelled with its
// name; a class with fewer images leaves blank (mid grey) cells. Titled "Samples: <title>".
ImageGridSpec SampleImagesPlot(const ImageSet& set, const std::vector<std::string>& class_names,
                               int per_class, const std::string& title);

// Image `index` of `set` (below set.count) as a grey picture on the 0..255 scale.
GridImage ImageOfSet(const ImageSet& set, int64_t index, std::string caption);

}  // namespace labbook::report
