// Colours with meaning: the colour-blind-safe series palette and the sequential map of heatmaps.
// Internal to src/report.
#pragma once

#include <cairo.h>

#include <cstddef>
#include <span>

#include "report/canvas.hpp"

namespace labbook::report {

enum class Dash { kSolid, kDashed, kDotted };

// How series number `index` is drawn.
struct SeriesStyle {
  Rgb colour;
  Dash dash = Dash::kSolid;
};

// The Okabe-Ito palette (distinguishable with every common colour-vision deficiency, yellow left
// out as too pale on white). Beyond its seven colours the cycle repeats dashed, then dotted.
SeriesStyle SeriesStyleFor(size_t index);

// Sets the dash pattern of `dash` for lines `line_width` wide drawn with round caps (dots are
// zero-length dashes, which only round caps make visible).
void ApplyDash(cairo_t* cr, Dash dash, double line_width);

// ColorBrewer's sequential "Blues": t = 0 is near white, t = 1 dark blue; t is clamped to [0, 1].
Rgb SequentialBlue(double t);
// The colour stops SequentialBlue interpolates, evenly spaced from t = 0 to t = 1.
std::span<const Rgb> SequentialBlueStops();

}  // namespace labbook::report
