// Heatmaps: confusion matrices and other labelled matrices.
#include <algorithm>
#include <cmath>
#include <limits>

#include "core/status_macros.hpp"
#include "report/axis.hpp"
#include "report/canvas.hpp"
#include "report/palette.hpp"
#include "report/plot.hpp"

namespace labbook::report {
namespace {

constexpr double kSin45 = 0.70710678118654752;
constexpr double kClassLabelSize = 12;
constexpr double kMaxClassLabel = 190;  // longer class names are shortened with an ellipsis
constexpr double kLabelGap = 6;         // between the matrix and its row and column labels
constexpr double kAxisLabelGap = 8;
constexpr double kTitleGap = 12;
constexpr double kColourBarGap = 18;
constexpr double kColourBarWidth = 16;
constexpr double kMaxAnnotationSize = 12;
constexpr double kMinAnnotationSize = 7;
constexpr int kMinCell = 8;
constexpr int kMaxCell = 200;
constexpr Rgb kMissingCell = HexColour(0xD9D9D9);
constexpr Rgb kMatrixFrame = HexColour(0xB0B0B0);

Status Validate(const HeatmapSpec& spec) {
  std::string name = PlotName("heatmap", spec.title);
  size_t rows = spec.row_labels.size();
  size_t columns = spec.column_labels.size();
  if (rows == 0 || columns == 0) {
    return InvalidArgument(name + ": row_labels and column_labels must not be empty");
  }
  if (spec.values.size() != rows * columns) {
    return InvalidArgument(name + ": values has " + std::to_string(spec.values.size()) +
                           " entries; rows x columns is " + std::to_string(rows) + " x " +
                           std::to_string(columns) + " = " + std::to_string(rows * columns));
  }
  if (!spec.annotations.empty() && spec.annotations.size() != rows * columns) {
    return InvalidArgument(name + ": annotations has " + std::to_string(spec.annotations.size()) +
                           " entries; expected none or " + std::to_string(rows * columns));
  }
  if ((spec.colour_min && !std::isfinite(*spec.colour_min)) ||
      (spec.colour_max && !std::isfinite(*spec.colour_max)) ||
      (spec.colour_min && spec.colour_max && !(*spec.colour_min < *spec.colour_max))) {
    return InvalidArgument(name + ": colour_min and colour_max must be finite, min below max");
  }
  if (spec.cell_size != 0 && (spec.cell_size < kMinCell || spec.cell_size > kMaxCell)) {
    return InvalidArgument(name + ": cell_size " + std::to_string(spec.cell_size) +
                           " is outside 8..200 (or 0 for automatic)");
  }
  return Status::Ok();
}

// Everything the drawing needs, in pixels.
struct HeatmapLayout {
  int width = 0;
  int height = 0;
  double cell = 0;
  Rect matrix;
  Rect colour_bar;
  double annotation_size = 0;
  bool rotate_columns = false;
  double column_labels_top = 0;
  double column_labels_height = 0;
  double y_label_x = 0;
  std::string title;
  std::vector<std::string> row_labels;
  std::vector<std::string> column_labels;
  Axis colour_axis;
  double colour_labels_width = 0;
};

HeatmapLayout Layout(Canvas& m, const HeatmapSpec& spec, double vmin, double vmax) {
  HeatmapLayout l;
  const double rows = static_cast<double>(spec.row_labels.size());
  const double columns = static_cast<double>(spec.column_labels.size());
  l.cell = spec.cell_size > 0 ? spec.cell_size
                              : std::clamp(std::round(520 / std::max(rows, columns)), 24.0, 60.0);

  // Annotations get the largest size that fits the cells; automatic cells grow if none does.
  if (!spec.annotations.empty()) {
    auto widest_at = [&](double size) {
      m.SetFont(size);
      double widest = 0;
      for (const std::string& text : spec.annotations) widest = std::max(widest, m.TextWidth(text));
      return widest;
    };
    double size =
        std::clamp(std::floor(l.cell * 0.42 * 2) / 2, kMinAnnotationSize, kMaxAnnotationSize);
    while (size > kMinAnnotationSize && widest_at(size) > l.cell - 6) size -= 0.5;
    l.annotation_size = size;
    double widest = widest_at(size);
    if (widest > l.cell - 6 && spec.cell_size == 0) l.cell = std::ceil(widest + 6);
  }

  m.SetFont(kClassLabelSize);
  double cap = m.CapHeight();
  double label_height = m.LineHeight();
  double row_labels_width = 0;
  for (const std::string& label : spec.row_labels) {
    l.row_labels.push_back(m.Ellipsize(label, kMaxClassLabel));
    row_labels_width = std::max(row_labels_width, m.TextWidth(l.row_labels.back()));
  }
  std::vector<double> column_widths;
  for (const std::string& label : spec.column_labels) {
    l.column_labels.push_back(m.Ellipsize(label, kMaxClassLabel));
    column_widths.push_back(m.TextWidth(l.column_labels.back()));
  }
  double widest_column = *std::max_element(column_widths.begin(), column_widths.end());
  l.rotate_columns = widest_column > l.cell - 4;

  m.SetFont(theme::kAxisLabelSize);
  double axis_label_height = m.LineHeight();

  // Left to right: y-axis label, row labels, matrix, colour bar, its tick labels, its label.
  double left = theme::kMargin;
  l.y_label_x = left;
  if (!spec.y_label.empty()) left += axis_label_height + kAxisLabelGap;
  left += row_labels_width + kLabelGap;
  if (l.rotate_columns) {
    // Turned column labels run down-left from their cells; the first ones must stay on canvas.
    for (size_t j = 0; j < column_widths.size(); ++j) {
      double reach = column_widths[j] * kSin45 + cap * kSin45 / 2;
      left = std::max(left, theme::kMargin + reach - l.cell * (j + 0.5));
    }
  }
  double top = theme::kMargin;
  if (!spec.title.empty()) {
    m.SetFont(theme::kTitleSize, true);
    top += m.LineHeight() + kTitleGap;
  } else {
    top += 6;  // room for the top colour-bar label's upper half
  }
  l.matrix = {std::round(left), std::round(top), l.cell * columns, l.cell * rows};

  l.colour_axis = LinearAxis(vmin, vmax, std::clamp(static_cast<int>(l.matrix.height / 50), 2, 8),
                             false, false);
  m.SetFont(theme::kTickLabelSize);
  for (const std::string& label : l.colour_axis.ticks.labels) {
    l.colour_labels_width = std::max(l.colour_labels_width, m.TextWidth(label));
  }
  l.colour_bar = {l.matrix.right() + kColourBarGap, l.matrix.y, kColourBarWidth, l.matrix.height};
  double right = l.colour_bar.right() + theme::kTickLength + 3 + l.colour_labels_width;
  if (!spec.colour_bar_label.empty()) right += kAxisLabelGap + axis_label_height;
  right += theme::kMargin;

  l.column_labels_top = l.matrix.bottom() + kLabelGap;
  l.column_labels_height = label_height;
  if (l.rotate_columns) l.column_labels_height = widest_column * kSin45 + cap * kSin45 * 1.5;
  double bottom = l.column_labels_top + l.column_labels_height;
  if (!spec.x_label.empty()) bottom += kAxisLabelGap + axis_label_height;
  bottom += theme::kMargin;

  // A title wider than the plot widens the picture, up to a point.
  m.SetFont(theme::kTitleSize, true);
  l.title = m.Ellipsize(spec.title, std::max(right - 2 * theme::kMargin, 600.0));
  double title_width = m.TextWidth(l.title) + 2 * theme::kMargin;
  l.width = static_cast<int>(std::ceil(std::max(right, title_width)));
  l.height = static_cast<int>(std::ceil(bottom));
  return l;
}

void DrawColourBar(Canvas& canvas, const HeatmapLayout& l, const std::string& label) {
  cairo_t* cr = canvas.cr();
  const Rect& bar = l.colour_bar;
  cairo_pattern_t* gradient = cairo_pattern_create_linear(0, bar.bottom(), 0, bar.y);
  std::span<const Rgb> stops = SequentialBlueStops();
  for (size_t i = 0; i < stops.size(); ++i) {
    cairo_pattern_add_color_stop_rgb(gradient, static_cast<double>(i) / (stops.size() - 1),
                                     stops[i].r, stops[i].g, stops[i].b);
  }
  cairo_rectangle(cr, bar.x, bar.y, bar.width, bar.height);
  cairo_set_source(cr, gradient);
  cairo_fill(cr);
  cairo_pattern_destroy(gradient);
  canvas.StrokeCrispRect(bar, kMatrixFrame);

  Scale scale(l.colour_axis, bar.bottom(), bar.y);
  canvas.SetFont(theme::kTickLabelSize);
  for (size_t i = 0; i < l.colour_axis.ticks.values.size(); ++i) {
    double y = scale(l.colour_axis.ticks.values[i]);
    canvas.CrispHLine(bar.right(), bar.right() + theme::kTickLength, y, theme::kFrame);
    canvas.Text(l.colour_axis.ticks.labels[i], bar.right() + theme::kTickLength + 3, y,
                HAlign::kLeft, VAlign::kMiddle, theme::kTickText);
  }
  if (!label.empty()) {
    canvas.SetFont(theme::kAxisLabelSize);
    double x = bar.right() + theme::kTickLength + 3 + l.colour_labels_width + kAxisLabelGap;
    canvas.Text(canvas.Ellipsize(label, bar.height), x, bar.y + bar.height / 2, HAlign::kCenter,
                VAlign::kTop, theme::kText, -90);
  }
}

}  // namespace

Result<RenderedPlot> RenderPlot(const HeatmapSpec& spec) {
  LABBOOK_RETURN_IF_ERROR(Validate(spec));
  double lowest = std::numeric_limits<double>::infinity();
  double highest = -lowest;
  for (double v : spec.values) {
    if (!std::isfinite(v)) continue;
    lowest = std::min(lowest, v);
    highest = std::max(highest, v);
  }
  if (!(lowest <= highest)) lowest = highest = 0;  // no finite value at all
  double vmin = spec.colour_min.value_or(std::min(0.0, lowest));
  double vmax = spec.colour_max.value_or(highest);
  if (!(vmax > vmin)) {
    if (spec.colour_max) {
      vmin = vmax - 1;
    } else {
      vmax = vmin + 1;
    }
  }

  MeasuringCanvas measuring;
  const HeatmapLayout l = Layout(measuring.canvas(), spec, vmin, vmax);
  const size_t columns = spec.column_labels.size();

  return RenderPicture(l.width, l.height, spec.title, [&](Canvas& canvas) {
    const Rect& matrix = l.matrix;
    for (size_t i = 0; i < spec.row_labels.size(); ++i) {
      for (size_t j = 0; j < columns; ++j) {
        double v = spec.values[i * columns + j];
        Rgb colour = std::isfinite(v) ? SequentialBlue((v - vmin) / (vmax - vmin)) : kMissingCell;
        Rect cell{matrix.x + l.cell * j, matrix.y + l.cell * i, l.cell, l.cell};
        canvas.FillRect(cell, colour);
        if (spec.annotations.empty()) continue;
        canvas.SetFont(l.annotation_size);
        Rgb text = RelativeLuminance(colour) < 0.4 ? HexColour(0xFFFFFF) : theme::kText;
        canvas.Text(spec.annotations[i * columns + j], cell.x + l.cell / 2, cell.y + l.cell / 2,
                    HAlign::kCenter, VAlign::kMiddle, text);
      }
    }
    canvas.StrokeCrispRect(matrix, kMatrixFrame);

    canvas.SetFont(kClassLabelSize);
    double cap = canvas.CapHeight();
    for (size_t i = 0; i < l.row_labels.size(); ++i) {
      canvas.Text(l.row_labels[i], matrix.x - kLabelGap, matrix.y + l.cell * (i + 0.5),
                  HAlign::kRight, VAlign::kMiddle, theme::kText);
    }
    for (size_t j = 0; j < l.column_labels.size(); ++j) {
      double x = matrix.x + l.cell * (j + 0.5);
      if (l.rotate_columns) {
        canvas.Text(l.column_labels[j], x + cap * kSin45 / 2, l.column_labels_top + cap * kSin45,
                    HAlign::kRight, VAlign::kMiddle, theme::kText, -45);
      } else {
        canvas.Text(l.column_labels[j], x, l.column_labels_top, HAlign::kCenter, VAlign::kTop,
                    theme::kText);
      }
    }

    canvas.SetFont(theme::kAxisLabelSize);
    if (!spec.x_label.empty()) {
      canvas.Text(canvas.Ellipsize(spec.x_label, l.width - 2 * theme::kMargin),
                  matrix.x + matrix.width / 2,
                  l.column_labels_top + l.column_labels_height + kAxisLabelGap, HAlign::kCenter,
                  VAlign::kTop, theme::kText);
    }
    if (!spec.y_label.empty()) {
      canvas.Text(canvas.Ellipsize(spec.y_label, matrix.height), l.y_label_x,
                  matrix.y + matrix.height / 2, HAlign::kCenter, VAlign::kTop, theme::kText, -90);
    }
    DrawColourBar(canvas, l, spec.colour_bar_label);

    if (!l.title.empty()) {
      canvas.SetFont(theme::kTitleSize, true);
      double half = canvas.TextWidth(l.title) / 2;
      double centre = std::clamp(matrix.x + matrix.width / 2, theme::kMargin + half,
                                 l.width - theme::kMargin - half);
      canvas.Text(l.title, centre, theme::kMargin, HAlign::kCenter, VAlign::kTop, theme::kText);
    }
  });
}

}  // namespace labbook::report
