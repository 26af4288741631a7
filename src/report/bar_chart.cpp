// Bar charts over categories (label distributions) and histograms over numeric bins.
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

constexpr int kMinSide = 120;
constexpr double kValueLabelSize = 10;
constexpr double kValueLabelGap = 3;

Status ValidateSize(const std::string& name, int width, int height) {
  if (width < kMinSide || height < kMinSide) {
    return InvalidArgument(name + ": size " + std::to_string(width) + "x" + std::to_string(height) +
                           " is below the minimum 120x120");
  }
  return Status::Ok();
}

Status Validate(const BarChartSpec& spec) {
  std::string name = PlotName("bar chart", spec.title);
  LABBOOK_RETURN_IF_ERROR(ValidateSize(name, spec.width, spec.height));
  if (spec.categories.empty()) return InvalidArgument(name + ": categories is empty");
  if (spec.series.empty()) return InvalidArgument(name + ": series is empty");
  for (size_t i = 0; i < spec.series.size(); ++i) {
    const BarSeries& s = spec.series[i];
    if (s.values.size() != spec.categories.size()) {
      return InvalidArgument(name + ": series[" + std::to_string(i) + "] (\"" + s.name +
                             "\") has " + std::to_string(s.values.size()) + " values for " +
                             std::to_string(spec.categories.size()) + " categories");
    }
    for (size_t j = 0; j < s.values.size(); ++j) {
      if (!std::isfinite(s.values[j])) {
        return InvalidArgument(name + ": series[" + std::to_string(i) + "].values[" +
                               std::to_string(j) + "] is not finite");
      }
    }
  }
  return Status::Ok();
}

Status Validate(const HistogramSpec& spec) {
  std::string name = PlotName("histogram", spec.title);
  LABBOOK_RETURN_IF_ERROR(ValidateSize(name, spec.width, spec.height));
  if (spec.counts.empty()) return InvalidArgument(name + ": counts is empty");
  if (!std::isfinite(spec.first_bin_start) || !std::isfinite(spec.bin_width) ||
      !(spec.bin_width > 0)) {
    return InvalidArgument(name + ": bins need a finite first_bin_start and a bin_width > 0");
  }
  for (size_t i = 0; i < spec.counts.size(); ++i) {
    if (!std::isfinite(spec.counts[i]) || spec.counts[i] < 0) {
      return InvalidArgument(name + ": counts[" + std::to_string(i) + "] is " +
                             std::to_string(spec.counts[i]) + "; counts must be finite and >= 0");
    }
  }
  return Status::Ok();
}

// A y axis for values that bars grow from zero to (or from the bottom, on a log axis).
Axis ValueAxis(double lowest, double highest, bool log, int target_count) {
  if (log) {
    return LogAxis(lowest, highest);
  }
  return LinearAxis(std::min(0.0, lowest), std::max(0.0, highest), target_count, true, true);
}

std::string ValueLabel(double value, bool integral) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, integral ? "%.0f" : "%.3g", value);
  return buffer;
}

FrameRequest MakeRequest(int width, int height, const std::string& title,
                         const std::string& x_label, const std::string& y_label) {
  FrameRequest request;
  request.width = width;
  request.height = height;
  request.title = title;
  request.x_label = x_label;
  request.y_label = y_label;
  return request;
}

void SetSource(cairo_t* cr, Rgb c) { cairo_set_source_rgb(cr, c.r, c.g, c.b); }

}  // namespace

Result<RenderedPlot> RenderPlot(const BarChartSpec& spec) {
  LABBOOK_RETURN_IF_ERROR(Validate(spec));
  const size_t category_count = spec.categories.size();
  const size_t series_count = spec.series.size();

  double lowest = std::numeric_limits<double>::infinity();
  double highest = -lowest;
  double lowest_positive = lowest;
  bool integral = true;
  for (const BarSeries& s : spec.series) {
    for (double v : s.values) {
      lowest = std::min(lowest, v);
      highest = std::max(highest, v);
      if (v > 0) lowest_positive = std::min(lowest_positive, v);
      integral = integral && v == std::round(v) && std::abs(v) < 1e15;
    }
  }
  bool show_values = spec.value_labels && series_count == 1;
  // Room above the highest bar, for its value label: a fraction of the range on a linear axis,
  // a factor on a log axis.
  double headroom = spec.log_y ? (show_values ? 1.3 : 1.0) : (show_values ? 1.08 : 1.04);
  int y_target = std::clamp((spec.height - 120) / 60, 3, 10);
  Axis y_axis = spec.log_y ? ValueAxis(lowest_positive, highest * headroom, true, y_target)
                           : ValueAxis(lowest, highest * headroom, false, y_target);

  std::vector<LegendEntry> legend;
  if (series_count > 1) {
    for (size_t j = 0; j < series_count; ++j) {
      legend.push_back({spec.series[j].name, SeriesStyleFor(j), Swatch::kBox, false});
    }
  }

  MeasuringCanvas measuring;
  Canvas& m = measuring.canvas();
  FrameRequest request =
      MakeRequest(spec.width, spec.height, spec.title, spec.x_label, spec.y_label);
  request.x_tick_labels = spec.categories;
  request.categorical_x = true;
  request.y_tick_labels = y_axis.ticks.labels;
  Size legend_size = MeasureLegend(m, legend);
  LegendPosition legend_position = legend.empty() ? LegendPosition::kNone : spec.legend;

  FrameLayout layout;
  Scale y(y_axis, 0, 1);
  double base = 0;
  std::vector<double> x_px;
  std::vector<Rect> bars;  // series-major, one per (series, category)
  auto lay_out = [&](bool legend_outside) {
    request.reserve_right = legend_outside ? legend_size.width + 12 : 0;
    layout = LayoutFrame(m, request);
    const Rect& plot = layout.plot;
    y = Scale(y_axis, plot.bottom(), plot.y);
    base = spec.log_y ? plot.bottom() : y(0);
    double band = plot.width / static_cast<double>(category_count);
    double group = band * (series_count == 1 ? 0.7 : 0.8);
    double bar_width = group / static_cast<double>(series_count);
    x_px.clear();
    bars.clear();
    for (size_t i = 0; i < category_count; ++i) x_px.push_back(plot.x + band * (i + 0.5));
    for (size_t j = 0; j < series_count; ++j) {
      for (size_t i = 0; i < category_count; ++i) {
        double v = spec.series[j].values[i];
        double left = std::round(plot.x + band * i + (band - group) / 2 + bar_width * j);
        double right = std::round(plot.x + band * i + (band - group) / 2 + bar_width * (j + 1));
        if (series_count > 1 && right - left > 2) right -= 1;  // a hairline between grouped bars
        double top = spec.log_y && !(v > 0) ? base : y(v);
        bars.push_back(
            {left, std::min(top, base), std::max(right - left, 1.0), std::abs(base - top)});
      }
    }
  };
  auto hidden_bars = [&](const Rect& box) {
    double hidden = 0;
    for (const Rect& bar : bars) {
      double w = std::min(bar.right(), box.right()) - std::max(bar.x, box.x);
      double h = std::min(bar.bottom(), box.bottom()) - std::max(bar.y, box.y);
      if (w > 0 && h > 0) hidden += w * h;
    }
    return hidden;
  };

  lay_out(false);
  bool legend_outside = LegendGoesOutside(legend_position, layout.plot, legend_size);
  if (legend_outside) lay_out(true);
  std::optional<Rect> legend_box =
      PlaceLegend(legend_position, layout.plot, legend_size, legend_outside, hidden_bars);
  // Bars fill charts to the edges, so a legend that would hide some goes outside instead.
  if (legend_box && !legend_outside && legend_position == LegendPosition::kBest &&
      hidden_bars(*legend_box) > 0) {
    legend_outside = true;
    lay_out(true);
    legend_box = PlaceLegend(legend_position, layout.plot, legend_size, true, hidden_bars);
  }
  const Rect plot = layout.plot;
  std::vector<double> y_px;
  for (double v : y_axis.ticks.values) y_px.push_back(y(v));

  std::vector<std::string> value_labels;
  if (show_values) {
    m.SetFont(kValueLabelSize);
    double band = plot.width / static_cast<double>(category_count);
    for (double v : spec.series[0].values) {
      value_labels.push_back(ValueLabel(v, integral));
      if (m.TextWidth(value_labels.back()) > band - 2) {
        value_labels.clear();  // some do not fit: write none rather than a ragged few
        break;
      }
    }
  }

  return RenderPicture(spec.width, spec.height, spec.title, [&](Canvas& canvas) {
    DrawGrid(canvas, plot, {}, y_px);
    cairo_t* cr = canvas.cr();
    cairo_save(cr);
    cairo_rectangle(cr, plot.x, plot.y, plot.width, plot.height);
    cairo_clip(cr);
    for (size_t j = 0; j < series_count; ++j) {
      SetSource(cr, SeriesStyleFor(j).colour);
      for (size_t i = 0; i < category_count; ++i) {
        const Rect& bar = bars[j * category_count + i];
        if (bar.height > 0) cairo_rectangle(cr, bar.x, bar.y, bar.width, bar.height);
      }
      cairo_fill(cr);
    }
    cairo_restore(cr);
    if (!y_axis.log && y_axis.lo < 0) canvas.CrispHLine(plot.x, plot.right(), base, theme::kFrame);

    canvas.SetFont(kValueLabelSize);
    for (size_t i = 0; i < value_labels.size(); ++i) {
      const Rect& bar = bars[i];
      bool below = spec.series[0].values[i] < 0;
      canvas.Text(value_labels[i], bar.x + bar.width / 2,
                  below ? bar.bottom() + kValueLabelGap : bar.y - kValueLabelGap, HAlign::kCenter,
                  below ? VAlign::kTop : VAlign::kBottom, theme::kTickText);
    }
    DrawFrame(canvas, request, layout, x_px, y_px);
    if (legend_box) DrawLegend(canvas, legend, *legend_box);
  });
}

Result<RenderedPlot> RenderPlot(const HistogramSpec& spec) {
  LABBOOK_RETURN_IF_ERROR(Validate(spec));
  const size_t bin_count = spec.counts.size();
  double highest = 0;
  double lowest_positive = std::numeric_limits<double>::infinity();
  for (double c : spec.counts) {
    highest = std::max(highest, c);
    if (c > 0) lowest_positive = std::min(lowest_positive, c);
  }
  int x_target = std::clamp((spec.width - 150) / 90, 3, 10);
  int y_target = std::clamp((spec.height - 120) / 60, 3, 10);
  double x_end = spec.first_bin_start + spec.bin_width * static_cast<double>(bin_count);
  Axis x_axis = LinearAxis(spec.first_bin_start, x_end, x_target, false, false);
  Axis y_axis = ValueAxis(lowest_positive, highest, spec.log_y, y_target);

  MeasuringCanvas measuring;
  FrameRequest request =
      MakeRequest(spec.width, spec.height, spec.title, spec.x_label, spec.y_label);
  request.x_tick_labels = x_axis.ticks.labels;
  request.y_tick_labels = y_axis.ticks.labels;
  FrameLayout layout = LayoutFrame(measuring.canvas(), request);
  const Rect plot = layout.plot;

  Scale x(x_axis, plot.x, plot.right());
  Scale y(y_axis, plot.bottom(), plot.y);
  std::vector<double> x_px;
  std::vector<double> y_px;
  for (double v : x_axis.ticks.values) x_px.push_back(x(v));
  for (double v : y_axis.ticks.values) y_px.push_back(y(v));

  // One outline over all bins: small SVG files and no seams between neighbouring bars.
  std::vector<Point> outline;
  outline.push_back({x(spec.first_bin_start), plot.bottom()});
  for (size_t i = 0; i < bin_count; ++i) {
    double c = spec.counts[i];
    double top = spec.log_y && !(c > 0) ? plot.bottom() : y(c);
    outline.push_back({x(spec.first_bin_start + spec.bin_width * i), top});
    outline.push_back({x(spec.first_bin_start + spec.bin_width * (i + 1)), top});
  }
  outline.push_back({x(x_end), plot.bottom()});

  return RenderPicture(spec.width, spec.height, spec.title, [&](Canvas& canvas) {
    DrawGrid(canvas, plot, {}, y_px);
    cairo_t* cr = canvas.cr();
    cairo_save(cr);
    cairo_rectangle(cr, plot.x, plot.y, plot.width, plot.height);
    cairo_clip(cr);
    cairo_move_to(cr, outline[0].x, outline[0].y);
    for (size_t i = 1; i < outline.size(); ++i) cairo_line_to(cr, outline[i].x, outline[i].y);
    cairo_close_path(cr);
    Rgb fill = SeriesStyleFor(0).colour;
    cairo_set_source_rgba(cr, fill.r, fill.g, fill.b, 0.75);
    cairo_fill_preserve(cr);
    cairo_set_source_rgb(cr, fill.r * 0.7, fill.g * 0.7, fill.b * 0.7);
    cairo_set_line_width(cr, 1);
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_MITER);
    cairo_stroke(cr);
    cairo_restore(cr);
    DrawFrame(canvas, request, layout, x_px, y_px);
  });
}

}  // namespace labbook::report
