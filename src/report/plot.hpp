// Plots for reports: confusion-matrix heatmaps, line charts (ROC, PR, learning curves), bar
// charts, histograms and image grids.
//
// Each plot is drawn once by one function and rendered twice, as PNG and as SVG, so the two files
// always show the same picture. Rendering is deterministic: the same spec gives byte-identical
// files (for a given build and set of installed fonts), so reports diff as text. Specs are plain
// values; every function may be called from several threads at once.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "labbook/status.hpp"

namespace labbook::report {

// A rendered plot in memory: the bytes of a PNG file and of an SVG document of the same picture.
struct RenderedPlot {
  std::string png;
  std::string svg;
};

// Where a chart puts its legend. kBest picks the inside corner that hides the least data.
enum class LegendPosition {
  kBest,
  kUpperRight,
  kUpperLeft,
  kLowerLeft,
  kLowerRight,
  kOutsideRight,
  kNone,
};

// A matrix of values drawn as coloured cells (white for the low end of the scale, dark blue for
// the high end), with row and column labels and a colour bar: a confusion matrix, typically.
struct HeatmapSpec {
  std::string title;
  std::string x_label = "Predicted label";
  std::string y_label = "True label";
  std::vector<std::string> row_labels;     // one per row, top to bottom
  std::vector<std::string> column_labels;  // one per column, left to right
  std::vector<double> values;              // row-major, rows x columns; NaN cells are grey
  std::vector<std::string> annotations;    // empty, or row-major text written in each cell
  std::optional<double> colour_min;        // low end of the scale; default min(0, lowest value)
  std::optional<double> colour_max;        // high end of the scale; default the highest value
  std::string colour_bar_label;            // empty: the colour bar has no label
  int cell_size = 0;                       // cell side in pixels; 0 picks one from the shape
};

// One named line of a LineChartSpec.
struct LineSeries {
  std::string name;       // legend entry; series with an empty name are left out of the legend
  std::vector<double> x;  // same length as y
  std::vector<double> y;  // a point with a non-finite coordinate breaks the line
  bool step = false;      // hold each y until the next x ("steps-post"), as PR curves are drawn
  bool markers = false;   // a dot on each point; meant for short series such as epochs
};

// Lines over a numeric x axis: ROC and PR curves, learning curves. Long series are fine (10 series
// of 100,000 points render in about 0.3 s): points closer than a pixel are merged, keeping each
// pixel column's extremes so the picture does not change.
struct LineChartSpec {
  std::string title;
  std::string x_label;
  std::string y_label;
  std::vector<LineSeries> series;
  // Axis ranges; an unset end follows the data, widened to the next round tick.
  std::optional<double> x_min, x_max, y_min, y_max;
  bool diagonal = false;  // a dashed grey y = x line: the chance level of a ROC curve
  LegendPosition legend = LegendPosition::kBest;
  int width = 720;
  int height = 540;
};

// One named set of bars of a BarChartSpec: one value per category.
struct BarSeries {
  std::string name;
  std::vector<double> values;
};

// Bars over named categories (a label distribution). Several series are drawn as grouped bars
// with a legend.
struct BarChartSpec {
  std::string title;
  std::string x_label;
  std::string y_label;
  std::vector<std::string> categories;
  std::vector<BarSeries> series;
  bool log_y = false;        // logarithmic y axis; bars with values <= 0 are not drawn
  bool value_labels = true;  // the value above each bar, when there is one series and room
  LegendPosition legend = LegendPosition::kBest;
  int width = 720;
  int height = 480;
};

// Counts over equal-width numeric bins (a pixel-value histogram), drawn as adjoining bars.
struct HistogramSpec {
  std::string title;
  std::string x_label;
  std::string y_label = "Count";
  std::vector<double> counts;  // one per bin
  double first_bin_start = 0;  // bin i covers [first_bin_start + i*bin_width, ... + bin_width)
  double bin_width = 1;        // > 0
  bool log_y = false;          // logarithmic y axis; empty bins are not drawn
  int width = 720;
  int height = 420;
};

// One grey-scale picture of an ImageGridSpec.
struct GridImage {
  int height = 0;
  int width = 0;
  std::vector<double> pixels;  // row-major, height x width; mapped to grey by the grid's range
  std::string caption;         // written under the picture; may be empty

  // A picture from 8-bit pixels (row-major, height x width), for the grid's default range 0..255.
  static GridImage FromBytes(int height, int width, std::span<const std::uint8_t> pixels,
                             std::string caption);
};

// Small grey-scale pictures in a grid (dataset samples, per-class mean images), magnified by an
// integer factor with nearest-neighbour sampling so pixels stay crisp.
struct ImageGridSpec {
  std::string title;
  std::vector<GridImage> images;        // all the same size, placed row by row
  int columns = 0;                      // pictures per row; 0 makes the grid about square
  std::vector<std::string> row_labels;  // empty, or one per grid row, written on the left
  double value_min = 0;                 // drawn black (white when inverted); NaN is mid grey
  double value_max = 255;               // drawn white (black when inverted)
  bool invert = false;                  // dark ink on white paper
  int scale = 0;                        // magnification; 0 makes pictures about 80 pixels wide
};

// Render a plot to PNG and SVG bytes in memory. Errors: InvalidArgument naming the field of an
// inconsistent spec (sizes that disagree, an empty plot, a bad range); Internal if cairo fails.
Result<RenderedPlot> RenderPlot(const HeatmapSpec& spec);
Result<RenderedPlot> RenderPlot(const LineChartSpec& spec);
Result<RenderedPlot> RenderPlot(const BarChartSpec& spec);
Result<RenderedPlot> RenderPlot(const HistogramSpec& spec);
Result<RenderedPlot> RenderPlot(const ImageGridSpec& spec);

// Writes plot.png to path_stem + ".png" and plot.svg to path_stem + ".svg", replacing existing
// files. Errors name the path: NotFound if its directory does not exist, PermissionDenied if it
// cannot be written, ResourceExhausted if the disk is full.
Status WriteRenderedPlot(const RenderedPlot& plot, const std::string& path_stem);

// RenderPlot then WriteRenderedPlot: writes path_stem + ".png" and path_stem + ".svg".
Status WritePlot(const HeatmapSpec& spec, const std::string& path_stem);
Status WritePlot(const LineChartSpec& spec, const std::string& path_stem);
Status WritePlot(const BarChartSpec& spec, const std::string& path_stem);
Status WritePlot(const HistogramSpec& spec, const std::string& path_stem);
Status WritePlot(const ImageGridSpec& spec, const std::string& path_stem);

// Frees the font caches cairo and fontconfig keep for the life of the process, so that
// LeakSanitizer reports only real leaks. Call once, at exit, when no plot is being rendered.
void ReleaseRenderingCaches();

}  // namespace labbook::report
