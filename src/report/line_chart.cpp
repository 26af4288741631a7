// Line charts: ROC and PR curves, learning curves.
#include <algorithm>
#include <cmath>
#include <limits>

#include "core/status_macros.hpp"
#include "report/axis.hpp"
#include "report/canvas.hpp"
#include "report/chart_frame.hpp"
#include "report/palette.hpp"
#include "report/plot.hpp"
#include "report/polyline.hpp"

namespace labbook::report {
namespace {

constexpr double kDataPad = 8;  // between the frame and the data range, so lines on an edge show
constexpr double kLineWidth = 2;
constexpr double kDenseLineWidth = 1.25;  // for series with more points than pixel columns
constexpr double kMarkerRadius = 3;
constexpr int kMinSide = 120;

Status ValidateRange(const std::string& name, const char* axis, const std::optional<double>& lo,
                     const std::optional<double>& hi) {
  if ((lo && !std::isfinite(*lo)) || (hi && !std::isfinite(*hi))) {
    return InvalidArgument(name + ": " + axis + " range ends must be finite");
  }
  if (lo && hi && !(*lo < *hi)) {
    return InvalidArgument(name + ": " + axis + "_min (" + std::to_string(*lo) +
                           ") must be below " + axis + "_max (" + std::to_string(*hi) + ")");
  }
  return Status::Ok();
}

Status Validate(const LineChartSpec& spec) {
  std::string name = PlotName("line chart", spec.title);
  if (spec.width < kMinSide || spec.height < kMinSide) {
    return InvalidArgument(name + ": size " + std::to_string(spec.width) + "x" +
                           std::to_string(spec.height) + " is below the minimum 120x120");
  }
  if (spec.series.empty()) return InvalidArgument(name + ": series is empty");
  for (size_t i = 0; i < spec.series.size(); ++i) {
    const LineSeries& s = spec.series[i];
    if (s.x.size() != s.y.size()) {
      return InvalidArgument(name + ": series[" + std::to_string(i) + "] (\"" + s.name +
                             "\") has " + std::to_string(s.x.size()) + " x values but " +
                             std::to_string(s.y.size()) + " y values");
    }
  }
  LABBOOK_RETURN_IF_ERROR(ValidateRange(name, "x", spec.x_min, spec.x_max));
  return ValidateRange(name, "y", spec.y_min, spec.y_max);
}

struct DataRange {
  double lo = std::numeric_limits<double>::infinity();
  double hi = -std::numeric_limits<double>::infinity();
  void Add(double v) {
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  bool empty() const { return !(lo <= hi); }
};

Axis MakeAxis(const DataRange& data, const std::optional<double>& min,
              const std::optional<double>& max, int target_count) {
  double lo = min ? *min : data.empty() ? 0 : data.lo;
  double hi = max ? *max : data.empty() ? 1 : data.hi;
  if (min && !max && hi <= lo) hi = lo + 1;
  if (max && !min && lo >= hi) lo = hi - 1;
  return LinearAxis(lo, hi, target_count, !min, !max);
}

// A series in pixels: the visible parts of its line, thinned, and where its markers go.
struct PixelSeries {
  SeriesStyle style;
  double line_width = kLineWidth;
  std::vector<Polyline> parts;
  std::vector<Point> markers;
};

PixelSeries ToPixels(const LineSeries& series, SeriesStyle style, const Scale& x, const Scale& y,
                     const Rect& visible) {
  Polyline line;
  line.reserve(series.x.size() * (series.step ? 2 : 1));
  for (size_t i = 0; i < series.x.size(); ++i) {
    Point p{x(series.x[i]), y(series.y[i])};
    if (!std::isfinite(series.x[i]) || !std::isfinite(series.y[i])) {
      p = {std::numeric_limits<double>::quiet_NaN(), 0};
    } else if (series.step && i > 0 && std::isfinite(series.x[i - 1]) &&
               std::isfinite(series.y[i - 1])) {
      line.push_back({p.x, y(series.y[i - 1])});
    }
    line.push_back(p);
  }
  PixelSeries out;
  out.style = style;
  if (static_cast<double>(series.x.size()) > visible.width) out.line_width = kDenseLineWidth;
  for (Polyline& part : ClipPolyline(line, visible)) {
    out.parts.push_back(DecimatePolyline(part));
  }
  if (series.markers) {
    for (size_t i = 0; i < series.x.size(); ++i) {
      Point p{x(series.x[i]), y(series.y[i])};
      if (std::isfinite(p.x) && std::isfinite(p.y) && visible.Contains(p.x, p.y)) {
        out.markers.push_back(p);
      }
    }
  }
  return out;
}

// How much of the data a legend box would hide: the line segments it touches.
double SegmentsUnder(const std::vector<PixelSeries>& series, const Rect& box) {
  double count = 0;
  for (const PixelSeries& s : series) {
    for (const Polyline& part : s.parts) {
      if (part.size() == 1 && box.Contains(part[0].x, part[0].y)) ++count;
      for (size_t i = 0; i + 1 < part.size(); ++i) {
        Point a = part[i];
        Point b = part[i + 1];
        if (ClipSegment(a, b, box)) ++count;
      }
    }
    for (const Point& p : s.markers) count += box.Contains(p.x, p.y) ? 1 : 0;
  }
  return count;
}

void StrokeParts(cairo_t* cr, const std::vector<Polyline>& parts) {
  for (const Polyline& part : parts) {
    cairo_move_to(cr, part[0].x, part[0].y);
    if (part.size() == 1) cairo_line_to(cr, part[0].x, part[0].y);
    for (size_t i = 1; i < part.size(); ++i) cairo_line_to(cr, part[i].x, part[i].y);
  }
  cairo_stroke(cr);
}

}  // namespace

Result<RenderedPlot> RenderPlot(const LineChartSpec& spec) {
  LABBOOK_RETURN_IF_ERROR(Validate(spec));

  DataRange x_data;
  DataRange y_data;
  for (const LineSeries& s : spec.series) {
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
      x_data.Add(s.x[i]);
      y_data.Add(s.y[i]);
    }
  }
  int x_target = std::clamp((spec.width - 150) / 90, 3, 10);
  int y_target = std::clamp((spec.height - 120) / 60, 3, 10);
  Axis x_axis = MakeAxis(x_data, spec.x_min, spec.x_max, x_target);
  Axis y_axis = MakeAxis(y_data, spec.y_min, spec.y_max, y_target);

  std::vector<LegendEntry> legend;
  for (size_t i = 0; i < spec.series.size(); ++i) {
    const LineSeries& s = spec.series[i];
    if (!s.name.empty()) legend.push_back({s.name, SeriesStyleFor(i), Swatch::kLine, s.markers});
  }

  MeasuringCanvas measuring;
  Canvas& m = measuring.canvas();
  FrameRequest request;
  request.width = spec.width;
  request.height = spec.height;
  request.title = spec.title;
  request.x_label = spec.x_label;
  request.y_label = spec.y_label;
  request.x_tick_labels = x_axis.ticks.labels;
  request.y_tick_labels = y_axis.ticks.labels;
  FrameLayout layout = LayoutFrame(m, request);
  Size legend_size = MeasureLegend(m, legend);
  LegendPosition legend_position = legend.empty() ? LegendPosition::kNone : spec.legend;
  bool legend_outside = LegendGoesOutside(legend_position, layout.plot, legend_size);
  if (legend_outside && legend_position != LegendPosition::kNone) {
    request.reserve_right = legend_size.width + 12;
    layout = LayoutFrame(m, request);
  }
  const Rect plot = layout.plot;

  Scale x(x_axis, plot.x + kDataPad, plot.right() - kDataPad);
  Scale y(y_axis, plot.bottom() - kDataPad, plot.y + kDataPad);
  std::vector<double> x_px;
  std::vector<double> y_px;
  for (double v : x_axis.ticks.values) x_px.push_back(x(v));
  for (double v : y_axis.ticks.values) y_px.push_back(y(v));

  // Lines are cut a little outside the frame, where the drawing clip hides the cut ends.
  Rect visible{plot.x - 2 * kLineWidth, plot.y - 2 * kLineWidth, plot.width + 4 * kLineWidth,
               plot.height + 4 * kLineWidth};
  std::vector<PixelSeries> pixels;
  for (size_t i = 0; i < spec.series.size(); ++i) {
    pixels.push_back(ToPixels(spec.series[i], SeriesStyleFor(i), x, y, visible));
  }
  std::vector<Point> diagonal;
  if (spec.diagonal) {
    double lo = std::max(x_axis.lo, y_axis.lo);
    double hi = std::min(x_axis.hi, y_axis.hi);
    if (lo < hi) diagonal = {{x(lo), y(lo)}, {x(hi), y(hi)}};
  }

  std::optional<Rect> legend_box =
      PlaceLegend(legend_position, plot, legend_size, legend_outside, [&](const Rect& box) {
        double cost = SegmentsUnder(pixels, box);
        if (diagonal.size() == 2) {
          Point a = diagonal[0];
          Point b = diagonal[1];
          if (ClipSegment(a, b, box)) cost += 0.5;
        }
        return cost;
      });

  return RenderPicture(spec.width, spec.height, spec.title, [&](Canvas& canvas) {
    cairo_t* cr = canvas.cr();
    DrawGrid(canvas, plot, x_px, y_px);

    cairo_save(cr);
    cairo_rectangle(cr, plot.x, plot.y, plot.width, plot.height);
    cairo_clip(cr);
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);
    if (diagonal.size() == 2) {
      cairo_set_line_width(cr, 1.25);
      const double dashes[] = {5, 4};
      cairo_set_dash(cr, dashes, 2, 0);
      cairo_set_source_rgb(cr, theme::kReferenceLine.r, theme::kReferenceLine.g,
                           theme::kReferenceLine.b);
      cairo_move_to(cr, diagonal[0].x, diagonal[0].y);
      cairo_line_to(cr, diagonal[1].x, diagonal[1].y);
      cairo_stroke(cr);
    }
    for (const PixelSeries& s : pixels) {
      cairo_set_source_rgb(cr, s.style.colour.r, s.style.colour.g, s.style.colour.b);
      cairo_set_line_width(cr, s.line_width);
      ApplyDash(cr, s.style.dash, s.line_width);
      StrokeParts(cr, s.parts);
      for (const Point& p : s.markers) {
        cairo_new_sub_path(cr);
        cairo_arc(cr, p.x, p.y, kMarkerRadius, 0, 2 * 3.14159265358979);
      }
      cairo_fill(cr);
    }
    cairo_restore(cr);

    DrawFrame(canvas, request, layout, x_px, y_px);
    if (legend_box) DrawLegend(canvas, legend, *legend_box);
  });
}

}  // namespace labbook::report
