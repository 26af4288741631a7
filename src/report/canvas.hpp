// The drawing layer under every plot: colours, the shared look (fonts, sizes, greys), a Canvas of
// text and shape helpers over a cairo context, and the renderer that draws one picture to both PNG
// and SVG. Internal to src/report.
#pragma once

#include <cairo.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "labbook/status.hpp"
#include "report/plot.hpp"

namespace labbook::report {

// A colour with sRGB components in [0, 1].
struct Rgb {
  double r = 0;
  double g = 0;
  double b = 0;
};

// 0xRRGGBB as an Rgb.
constexpr Rgb HexColour(std::uint32_t rgb) {
  return {((rgb >> 16) & 0xFF) / 255.0, ((rgb >> 8) & 0xFF) / 255.0, (rgb & 0xFF) / 255.0};
}

// WCAG relative luminance in [0, 1]; below about 0.4 white text reads better than black.
double RelativeLuminance(Rgb colour);

// An axis-aligned rectangle in pixels, y growing downwards.
struct Rect {
  double x = 0;
  double y = 0;
  double width = 0;
  double height = 0;

  double right() const { return x + width; }
  double bottom() const { return y + height; }
  bool Contains(double px, double py) const {
    return px >= x && px <= right() && py >= y && py <= bottom();
  }
};

// A width and height in pixels.
struct Size {
  double width = 0;
  double height = 0;
};

// The look every plot shares.
namespace theme {
inline constexpr const char* kFontFamily = "DejaVu Sans";
inline constexpr double kTitleSize = 16;
inline constexpr double kAxisLabelSize = 13;
inline constexpr double kTickLabelSize = 11;
inline constexpr double kLegendSize = 11.5;
inline constexpr double kMargin = 16;  // empty border around every picture
inline constexpr double kTickLength = 4;
inline constexpr Rgb kBackground = HexColour(0xFFFFFF);
inline constexpr Rgb kText = HexColour(0x222222);
inline constexpr Rgb kTickText = HexColour(0x444444);
inline constexpr Rgb kGrid = HexColour(0xE5E5E5);
inline constexpr Rgb kFrame = HexColour(0x8C8C8C);
inline constexpr Rgb kReferenceLine = HexColour(0x9A9A9A);
}  // namespace theme

enum class HAlign { kLeft, kCenter, kRight };
// kMiddle centres capital letters and digits on the anchor, which is what labels want.
enum class VAlign { kTop, kMiddle, kBaseline, kBottom };

// Text and shape helpers over a cairo context owned by the caller. Text uses cairo's toy API in
// theme::kFontFamily with unhinted metrics, so widths measured on one surface hold on another.
class Canvas {
 public:
  explicit Canvas(cairo_t* cr);

  cairo_t* cr() const { return cr_; }

  // Selects theme::kFontFamily at `size` pixels for the text calls that follow.
  void SetFont(double size, bool bold = false);
  // Advance width of UTF-8 `text` in the current font.
  double TextWidth(std::string_view text) const;
  // How far the current font reaches above and below the baseline.
  double Ascent() const;
  double Descent() const;
  // Height of a capital letter in the current font.
  double CapHeight() const;
  // Ascent plus descent: the height one line of text needs.
  double LineHeight() const { return Ascent() + Descent(); }

  // Draws `text` so that the point chosen by the alignments sits on (x, y), turned by `degrees`
  // clockwise about that point.
  void Text(std::string_view text, double x, double y, HAlign h, VAlign v, Rgb colour,
            double degrees = 0);
  // `text`, cut and ended with an ellipsis if wider than max_width in the current font.
  std::string Ellipsize(std::string_view text, double max_width) const;

  // Fills `rect` with `colour`, without anti-aliasing seams when it is on whole pixels.
  void FillRect(const Rect& rect, Rgb colour);
  // A 1-pixel outline on pixel boundaries (x, y, width and height are rounded).
  void StrokeCrispRect(const Rect& rect, Rgb colour);
  // A 1-pixel horizontal or vertical line centred on pixel centres.
  void CrispHLine(double x0, double x1, double y, Rgb colour);
  void CrispVLine(double x, double y0, double y1, Rgb colour);

 private:
  cairo_t* cr_;
};

// A Canvas on a private one-pixel surface, for measuring text before the picture's size is known.
class MeasuringCanvas {
 public:
  MeasuringCanvas();
  ~MeasuringCanvas();
  MeasuringCanvas(const MeasuringCanvas&) = delete;
  MeasuringCanvas& operator=(const MeasuringCanvas&) = delete;

  // Valid as long as this MeasuringCanvas.
  Canvas& canvas() { return canvas_; }

 private:
  cairo_surface_t* surface_;
  cairo_t* cr_;
  Canvas canvas_;
};

// Draws a width x height picture once on an image surface (PNG bytes) and once on an SVG surface
// (SVG bytes, with `title` as the document's <title> and cairo's process-wide ids renumbered so
// the bytes do not depend on what was drawn before). `draw` may be called on either surface first
// and must draw the same picture every time. Internal if cairo reports an error.
Result<RenderedPlot> RenderPicture(int width, int height, std::string_view title,
                                   const std::function<void(Canvas&)>& draw);

// Renumbers the ids that cairo's SVG surface takes from process-wide counters ("surface17",
// "image42", ...) in order of first appearance, so equal pictures give equal documents.
std::string NormaliseSvgIds(std::string_view svg);

// How error messages name a plot: `line chart "ROC curves"`, or just `line chart` when untitled.
std::string PlotName(std::string_view kind, std::string_view title);

// Writes `bytes` to `path`, replacing it. Errors name the path (see WriteRenderedPlot).
Status WriteFileBytes(const std::string& path, std::string_view bytes);

}  // namespace labbook::report
