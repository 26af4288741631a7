#include "report/chart_frame.hpp"

#include <algorithm>
#include <cmath>

namespace labbook::report {
namespace {

constexpr double kSin45 = 0.70710678118654752;
constexpr double kTickLabelGap = 3;  // between a tick mark and its label
constexpr double kAxisLabelGap = 8;  // between tick labels and the axis label
constexpr double kTitleGap = 12;     // between the title and the plot area
constexpr double kMaxCategoryLabel = 160;
constexpr double kLegendPadding = 8;
constexpr double kLegendSwatchWidth = 24;
constexpr double kLegendSwatchGap = 7;
constexpr double kLegendRowGap = 4;
constexpr double kMaxLegendLabel = 260;
constexpr double kLegendInset = 10;  // between the legend and the plot frame
constexpr double kMinPlotSide = 40;

// Horizontal room a label turned 45° takes, measured from its anchor leftwards.
double RotatedReach(double text_width, double cap_height) {
  return text_width * kSin45 + cap_height * kSin45 / 2;
}

void SetSource(cairo_t* cr, Rgb c) { cairo_set_source_rgb(cr, c.r, c.g, c.b); }

}  // namespace

FrameLayout LayoutFrame(Canvas& m, const FrameRequest& request) {
  FrameLayout layout;
  double top = theme::kMargin;
  if (!request.title.empty()) {
    m.SetFont(theme::kTitleSize, true);
    top += m.LineHeight() + kTitleGap;
  } else {
    top += 6;  // room for the top tick label's upper half
  }
  m.SetFont(theme::kAxisLabelSize);
  double axis_label_height = m.LineHeight();

  m.SetFont(theme::kTickLabelSize);
  double tick_label_height = m.LineHeight();
  double cap = m.CapHeight();
  double y_labels_width = 0;
  for (const std::string& label : request.y_tick_labels) {
    y_labels_width = std::max(y_labels_width, m.TextWidth(label));
  }
  double left = theme::kMargin + y_labels_width + theme::kTickLength + kTickLabelGap + 2;
  if (!request.y_label.empty()) left += axis_label_height + kAxisLabelGap;
  double right = theme::kMargin + request.reserve_right;

  layout.x_tick_labels = request.x_tick_labels;
  const std::vector<std::string>& labels = layout.x_tick_labels;
  layout.x_labels_height = tick_label_height;
  if (!request.categorical_x && !labels.empty()) {
    // Numeric tick labels are centred on their ticks, so the outer ones reach past the frame.
    right = std::max(right, theme::kMargin + m.TextWidth(labels.back()) / 2);
    left = std::max(left, theme::kMargin + m.TextWidth(labels.front()) / 2);
  } else if (request.categorical_x && !labels.empty()) {
    double widest = 0;
    for (const std::string& label : labels) widest = std::max(widest, m.TextWidth(label));
    double band = (request.width - left - right) / static_cast<double>(labels.size());
    layout.rotate_x_labels = widest > band - 2;
    if (layout.rotate_x_labels) {
      for (std::string& label : layout.x_tick_labels) label = m.Ellipsize(label, kMaxCategoryLabel);
      double tallest = 0;
      for (int pass = 0; pass < 2; ++pass) {  // moving left shrinks the bands; settle twice
        band = (request.width - left - right) / static_cast<double>(labels.size());
        double needed_left = left;
        for (size_t i = 0; i < labels.size(); ++i) {
          double reach = RotatedReach(m.TextWidth(labels[i]), cap);
          needed_left = std::max(needed_left, theme::kMargin + reach - band * (i + 0.5));
          tallest = std::max(tallest, reach + cap);
        }
        left = needed_left;
      }
      layout.x_labels_height = tallest;
    }
  }

  double bottom = theme::kMargin + layout.x_labels_height + theme::kTickLength + kTickLabelGap;
  if (!request.x_label.empty()) bottom += axis_label_height + kAxisLabelGap;

  layout.plot.x = std::round(left);
  layout.plot.y = std::round(top);
  layout.plot.width = std::max(kMinPlotSide, std::round(request.width - right) - layout.plot.x);
  layout.plot.height = std::max(kMinPlotSide, std::round(request.height - bottom) - layout.plot.y);
  return layout;
}

void DrawGrid(Canvas& canvas, const Rect& plot, const std::vector<double>& x_px,
              const std::vector<double>& y_px) {
  for (double x : x_px) canvas.CrispVLine(x, plot.y, plot.bottom(), theme::kGrid);
  for (double y : y_px) canvas.CrispHLine(plot.x, plot.right(), y, theme::kGrid);
}

void DrawFrame(Canvas& canvas, const FrameRequest& request, const FrameLayout& layout,
               const std::vector<double>& x_px, const std::vector<double>& y_px) {
  const Rect& plot = layout.plot;
  canvas.StrokeCrispRect(plot, theme::kFrame);

  canvas.SetFont(theme::kTickLabelSize);
  double cap = canvas.CapHeight();
  double label_top = plot.bottom() + theme::kTickLength + kTickLabelGap;
  for (size_t i = 0; i < x_px.size(); ++i) {
    canvas.CrispVLine(x_px[i], plot.bottom(), plot.bottom() + theme::kTickLength, theme::kFrame);
    if (i >= layout.x_tick_labels.size()) continue;
    if (layout.rotate_x_labels) {
      canvas.Text(layout.x_tick_labels[i], x_px[i] + cap * kSin45 / 2, label_top, HAlign::kRight,
                  VAlign::kMiddle, theme::kTickText, -45);
    } else {
      canvas.Text(layout.x_tick_labels[i], x_px[i], label_top, HAlign::kCenter, VAlign::kTop,
                  theme::kTickText);
    }
  }
  for (size_t i = 0; i < y_px.size(); ++i) {
    canvas.CrispHLine(plot.x - theme::kTickLength, plot.x, y_px[i], theme::kFrame);
    if (i >= request.y_tick_labels.size()) continue;
    canvas.Text(request.y_tick_labels[i], plot.x - theme::kTickLength - kTickLabelGap, y_px[i],
                HAlign::kRight, VAlign::kMiddle, theme::kTickText);
  }

  canvas.SetFont(theme::kAxisLabelSize);
  if (!request.x_label.empty()) {
    double y = label_top + layout.x_labels_height + kAxisLabelGap;
    std::string text = canvas.Ellipsize(request.x_label, request.width - 2 * theme::kMargin);
    canvas.Text(text, plot.x + plot.width / 2, y, HAlign::kCenter, VAlign::kTop, theme::kText);
  }
  if (!request.y_label.empty()) {
    std::string text = canvas.Ellipsize(request.y_label, plot.height + plot.y - theme::kMargin);
    canvas.Text(text, theme::kMargin, plot.y + plot.height / 2, HAlign::kCenter, VAlign::kTop,
                theme::kText, -90);
  }

  if (!request.title.empty()) {
    canvas.SetFont(theme::kTitleSize, true);
    double room = request.width - 2 * theme::kMargin;
    std::string text = canvas.Ellipsize(request.title, room);
    double half = canvas.TextWidth(text) / 2;
    double centre = std::clamp(plot.x + plot.width / 2, theme::kMargin + half,
                               request.width - theme::kMargin - half);
    canvas.Text(text, centre, theme::kMargin, HAlign::kCenter, VAlign::kTop, theme::kText);
  }
}

Size MeasureLegend(Canvas& m, const std::vector<LegendEntry>& entries) {
  m.SetFont(theme::kLegendSize);
  double widest = 0;
  for (const LegendEntry& entry : entries) {
    widest = std::max(widest, m.TextWidth(m.Ellipsize(entry.label, kMaxLegendLabel)));
  }
  double row = m.LineHeight() + kLegendRowGap;
  return {std::ceil(2 * kLegendPadding + kLegendSwatchWidth + kLegendSwatchGap + widest),
          std::ceil(2 * kLegendPadding + row * entries.size() - kLegendRowGap)};
}

void DrawLegend(Canvas& canvas, const std::vector<LegendEntry>& entries, const Rect& box) {
  cairo_t* cr = canvas.cr();
  cairo_save(cr);
  cairo_rectangle(cr, box.x + 0.5, box.y + 0.5, box.width - 1, box.height - 1);
  cairo_set_source_rgba(cr, 1, 1, 1, 0.92);
  cairo_fill_preserve(cr);
  SetSource(cr, HexColour(0xCCCCCC));
  cairo_set_line_width(cr, 1);
  cairo_stroke(cr);
  cairo_restore(cr);

  canvas.SetFont(theme::kLegendSize);
  double row = canvas.LineHeight() + kLegendRowGap;
  double y = box.y + kLegendPadding + canvas.LineHeight() / 2;
  double swatch_x = box.x + kLegendPadding;
  for (const LegendEntry& entry : entries) {
    cairo_save(cr);
    SetSource(cr, entry.style.colour);
    if (entry.swatch == Swatch::kBox) {
      cairo_rectangle(cr, swatch_x + 6, y - 6, 12, 12);
      cairo_fill(cr);
    } else {
      constexpr double kWidth = 2;
      cairo_set_line_width(cr, kWidth);
      cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);
      ApplyDash(cr, entry.style.dash, kWidth);
      cairo_move_to(cr, swatch_x + 1, y);
      cairo_line_to(cr, swatch_x + kLegendSwatchWidth - 1, y);
      cairo_stroke(cr);
      if (entry.marker) {
        cairo_arc(cr, swatch_x + kLegendSwatchWidth / 2, y, 3, 0, 2 * 3.14159265358979);
        cairo_fill(cr);
      }
    }
    cairo_restore(cr);
    canvas.Text(canvas.Ellipsize(entry.label, kMaxLegendLabel),
                swatch_x + kLegendSwatchWidth + kLegendSwatchGap, y, HAlign::kLeft, VAlign::kMiddle,
                theme::kText);
    y += row;
  }
}

bool LegendGoesOutside(LegendPosition position, const Rect& plot, Size size) {
  if (position == LegendPosition::kOutsideRight) return true;
  if (position != LegendPosition::kBest) return false;
  return size.height > 0.7 * plot.height || size.width > 0.5 * plot.width;
}

std::optional<Rect> PlaceLegend(LegendPosition position, const Rect& plot, Size size, bool outside,
                                const std::function<double(const Rect&)>& cost) {
  if (position == LegendPosition::kNone) return std::nullopt;
  if (outside) return Rect{plot.right() + 12, plot.y, size.width, size.height};
  double left = plot.x + kLegendInset;
  double right = plot.right() - kLegendInset - size.width;
  double top = plot.y + kLegendInset;
  double bottom = plot.bottom() - kLegendInset - size.height;
  Rect upper_right{right, top, size.width, size.height};
  Rect upper_left{left, top, size.width, size.height};
  Rect lower_left{left, bottom, size.width, size.height};
  Rect lower_right{right, bottom, size.width, size.height};
  switch (position) {
    case LegendPosition::kUpperRight:
      return upper_right;
    case LegendPosition::kUpperLeft:
      return upper_left;
    case LegendPosition::kLowerLeft:
      return lower_left;
    case LegendPosition::kLowerRight:
      return lower_right;
    default:
      break;
  }
  // The first of the cheapest corners, in matplotlib's order of preference.
  Rect best = upper_right;
  double best_cost = cost(upper_right);
  for (const Rect& corner : {upper_left, lower_left, lower_right}) {
    double c = cost(corner);
    if (c < best_cost) {
      best = corner;
      best_cost = c;
    }
  }
  return best;
}

}  // namespace labbook::report
