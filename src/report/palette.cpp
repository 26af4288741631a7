#include "report/palette.hpp"

#include <algorithm>
#include <array>
#include <cmath>

namespace labbook::report {
namespace {

constexpr std::array<Rgb, 7> kOkabeIto = {
    HexColour(0x0072B2),  // blue
    HexColour(0xD55E00),  // vermillion
    HexColour(0x009E73),  // bluish green
    HexColour(0xE69F00),  // orange
    HexColour(0x56B4E9),  // sky blue
    HexColour(0xCC79A7),  // reddish purple
    HexColour(0x000000),  // black
};

constexpr std::array<Rgb, 9> kBlues = {
    HexColour(0xF7FBFF), HexColour(0xDEEBF7), HexColour(0xC6DBEF),
    HexColour(0x9ECAE1), HexColour(0x6BAED6), HexColour(0x4292C6),
    HexColour(0x2171B5), HexColour(0x08519C), HexColour(0x08306B),
};

}  // namespace

SeriesStyle SeriesStyleFor(size_t index) {
  static constexpr Dash kDashes[] = {Dash::kSolid, Dash::kDashed, Dash::kDotted};
  return {kOkabeIto[index % kOkabeIto.size()], kDashes[(index / kOkabeIto.size()) % 3]};
}

void ApplyDash(cairo_t* cr, Dash dash, double line_width) {
  switch (dash) {
    case Dash::kSolid:
      cairo_set_dash(cr, nullptr, 0, 0);
      break;
    case Dash::kDashed: {
      const double pattern[] = {3 * line_width, 3 * line_width};
      cairo_set_dash(cr, pattern, 2, 0);
      break;
    }
    case Dash::kDotted: {
      const double pattern[] = {0, 2.5 * line_width};
      cairo_set_dash(cr, pattern, 2, 0);
      break;
    }
  }
}

Rgb SequentialBlue(double t) {
  if (!(t > 0)) return kBlues.front();
  if (t >= 1) return kBlues.back();
  double position = t * (kBlues.size() - 1);
  size_t i = static_cast<size_t>(std::floor(position));
  double f = position - static_cast<double>(i);
  const Rgb& a = kBlues[i];
  const Rgb& b = kBlues[std::min(i + 1, kBlues.size() - 1)];
  return {a.r + f * (b.r - a.r), a.g + f * (b.g - a.g), a.b + f * (b.b - a.b)};
}

std::span<const Rgb> SequentialBlueStops() { return kBlues; }

}  // namespace labbook::report
