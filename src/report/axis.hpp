// Numeric axes: round tick values, their labels, and the map from data values to pixels.
// Internal to src/report.
#pragma once

#include <string>
#include <vector>

namespace labbook::report {

// The ticks of an axis: values in data units and the text written at each.
struct Ticks {
  std::vector<double> values;
  std::vector<std::string> labels;
};

// The range an axis shows and its ticks.
struct Axis {
  double lo = 0;
  double hi = 1;
  bool log = false;  // log10 scale; then lo > 0
  Ticks ticks;
};

// A round step (1, 2 or 5 times a power of ten) that cuts `range` into about `target_count` parts.
double NiceStep(double range, int target_count);

// A linear axis over [lo, hi] with about target_count ticks at multiples of a round step. An end
// with widen_* set moves out to the next multiple of the step (for ranges that follow the data);
// otherwise it stays put and ticks fall inside. An empty or non-finite range becomes a unit one.
Axis LinearAxis(double lo, double hi, int target_count, bool widen_lo, bool widen_hi);

// A log10 axis from the power of ten at or below `lo` (> 0) to the one at or above `hi`, with a
// tick on each power of ten (every second or third one when there are many).
Axis LogAxis(double lo, double hi);

// Tick labels for `values`, all with the same number of decimals as `step` needs; large values
// are written with k, M, G suffixes ("20k", "2.5M").
std::vector<std::string> TickLabels(const std::vector<double>& values, double step);

// Maps data values to pixels: axis.lo to px_lo and axis.hi to px_hi (px_hi < px_lo for y axes).
// On a log axis values <= 0 map to px_lo, the bottom of the axis.
class Scale {
 public:
  Scale(const Axis& axis, double px_lo, double px_hi);
  double operator()(double value) const;

 private:
  bool log_;
  double lo_;
  double hi_;
  double px_lo_;
  double px_hi_;
};

}  // namespace labbook::report
