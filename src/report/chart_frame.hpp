// What line charts, bar charts and histograms share: the layout of the text around the plot area
// (title, tick labels, axis labels), the grid, the frame, and the legend. Internal to src/report.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "report/canvas.hpp"
#include "report/palette.hpp"
#include "report/plot.hpp"

namespace labbook::report {

// The text around an x-y chart, and the room to keep free right of the plot area (for a legend).
struct FrameRequest {
  int width = 0;
  int height = 0;
  std::string title;
  std::string x_label;
  std::string y_label;
  std::vector<std::string> x_tick_labels;  // numeric ticks, or one per category
  bool categorical_x = false;              // labels sit at band centres and may be turned 45°
  std::vector<std::string> y_tick_labels;
  double reserve_right = 0;
};

// Where everything goes. Pixel positions of ticks are the chart's business (its Scales).
struct FrameLayout {
  Rect plot;                               // the plot area, whole pixels
  std::vector<std::string> x_tick_labels;  // as drawn (long category names shortened)
  bool rotate_x_labels = false;
  double x_labels_height = 0;  // room the x tick labels take below the ticks
};

// Lays the frame out: the plot area is what is left of width x height once every label fits.
FrameLayout LayoutFrame(Canvas& measure, const FrameRequest& request);

// Light grid lines behind the data, at the given pixel positions (either list may be empty).
void DrawGrid(Canvas& canvas, const Rect& plot, const std::vector<double>& x_px,
              const std::vector<double>& y_px);

// The frame, tick marks, tick labels, axis labels and title, drawn over the data.
void DrawFrame(Canvas& canvas, const FrameRequest& request, const FrameLayout& layout,
               const std::vector<double>& x_px, const std::vector<double>& y_px);

enum class Swatch { kLine, kBox };

struct LegendEntry {
  std::string label;
  SeriesStyle style;
  Swatch swatch = Swatch::kLine;
  bool marker = false;
};

// Size of the legend box for `entries` (labels are shortened to a maximum width when drawn).
Size MeasureLegend(Canvas& measure, const std::vector<LegendEntry>& entries);

// Draws the legend box with its top-left corner at box.x, box.y.
void DrawLegend(Canvas& canvas, const std::vector<LegendEntry>& entries, const Rect& box);

// Whether a legend of `size` at `position` needs room outside the plot area: always for
// kOutsideRight, and for kBest when it would cover too much of the plot.
bool LegendGoesOutside(LegendPosition position, const Rect& plot, Size size);

// The legend's box: in a corner inside `plot`, or right of it when outside. kBest takes the
// corner where `cost` (how much data the box would hide) is lowest. nullopt for kNone.
std::optional<Rect> PlaceLegend(LegendPosition position, const Rect& plot, Size size, bool outside,
                                const std::function<double(const Rect&)>& cost);

}  // namespace labbook::report
