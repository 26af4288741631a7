#include "report/axis.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace labbook::report {
namespace {

// Relative slack for comparing multiples of a step computed in floating point.
constexpr double kSlack = 1e-9;

std::string FormatFixedPlain(double value, int decimals) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
  std::string text = buffer;
  if (text.find_first_not_of("-0.") == std::string::npos && text[0] == '-') text.erase(0, 1);
  return text;
}

std::string PowerOfTenLabel(int exponent) {
  static constexpr const char* kSuffixes[] = {"", "k", "M", "G"};
  if (exponent >= 0 && exponent < 12) {
    std::string label(1 + exponent % 3, '0');
    label[0] = '1';
    return label.append(kSuffixes[exponent / 3]);
  }
  if (exponent < 0 && exponent >= -3) return FormatFixedPlain(std::pow(10.0, exponent), -exponent);
  std::string label = "1e";
  return label.append(std::to_string(exponent));
}

}  // namespace

double NiceStep(double range, int target_count) {
  if (!(range > 0) || !std::isfinite(range)) return 1;
  double raw = range / std::max(target_count, 1);
  double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double normalised = raw / magnitude;
  double nice = normalised < 1.5 ? 1 : normalised < 3 ? 2 : normalised < 7 ? 5 : 10;
  return nice * magnitude;
}

Axis LinearAxis(double lo, double hi, int target_count, bool widen_lo, bool widen_hi) {
  if (!std::isfinite(lo) || !std::isfinite(hi) || hi < lo) {
    lo = 0;
    hi = 1;
  }
  if (hi == lo) {
    double delta = lo == 0 ? 1 : std::abs(lo) * 0.1;
    if (widen_lo || !widen_hi) lo -= delta;
    if (widen_hi || !widen_lo) hi += delta;
  }
  Axis axis;
  double step = NiceStep(hi - lo, target_count);
  if (widen_lo) lo = std::floor(lo / step + kSlack) * step;
  if (widen_hi) hi = std::ceil(hi / step - kSlack) * step;
  axis.lo = lo;
  axis.hi = hi;
  long long first = static_cast<long long>(std::ceil(lo / step - kSlack));
  long long last = static_cast<long long>(std::floor(hi / step + kSlack));
  for (long long k = first; k <= last; ++k) {
    double value = static_cast<double>(k) * step;
    axis.ticks.values.push_back(std::abs(value) < step * kSlack ? 0.0 : value);
  }
  axis.ticks.labels = TickLabels(axis.ticks.values, step);
  return axis;
}

Axis LogAxis(double lo, double hi) {
  if (!(lo > 0) || !std::isfinite(lo)) lo = 1;
  if (!(hi > lo) || !std::isfinite(hi)) hi = lo * 10;
  int lo_exponent = static_cast<int>(std::floor(std::log10(lo) + kSlack));
  int hi_exponent = static_cast<int>(std::ceil(std::log10(hi) - kSlack));
  if (hi_exponent <= lo_exponent) hi_exponent = lo_exponent + 1;
  Axis axis;
  axis.log = true;
  axis.lo = std::pow(10.0, lo_exponent);
  axis.hi = std::pow(10.0, hi_exponent);
  int stride = std::max(1, (hi_exponent - lo_exponent + 7) / 8);
  for (int e = lo_exponent; e <= hi_exponent; e += stride) {
    axis.ticks.values.push_back(std::pow(10.0, e));
    axis.ticks.labels.push_back(PowerOfTenLabel(e));
  }
  return axis;
}

std::vector<std::string> TickLabels(const std::vector<double>& values, double step) {
  double max_abs = 0;
  for (double v : values) max_abs = std::max(max_abs, std::abs(v));
  double unit = 1;
  const char* suffix = "";
  if (max_abs >= 1e9) {
    unit = 1e9;
    suffix = "G";
  } else if (max_abs >= 1e6) {
    unit = 1e6;
    suffix = "M";
  } else if (max_abs >= 1e4) {
    unit = 1e3;
    suffix = "k";
  }
  // Fewest decimals that write the step exactly, so that all labels differ.
  int decimals = 0;
  double scaled_step = step / unit;
  while (decimals < 10) {
    double shifted = scaled_step * std::pow(10.0, decimals);
    if (std::abs(shifted - std::round(shifted)) < 1e-6 * std::max(1.0, shifted)) break;
    ++decimals;
  }
  std::vector<std::string> labels;
  labels.reserve(values.size());
  for (double v : values) {
    std::string text = FormatFixedPlain(v / unit, decimals);
    labels.push_back(text == "0" ? text : text + suffix);
  }
  return labels;
}

Scale::Scale(const Axis& axis, double px_lo, double px_hi)
    : log_(axis.log), lo_(axis.lo), hi_(axis.hi), px_lo_(px_lo), px_hi_(px_hi) {
  if (log_) {
    lo_ = std::log10(lo_);
    hi_ = std::log10(hi_);
  }
}

double Scale::operator()(double value) const {
  if (log_) {
    if (!(value > 0)) return px_lo_;
    value = std::log10(value);
  }
  double t = hi_ == lo_ ? 0.5 : (value - lo_) / (hi_ - lo_);
  return px_lo_ + t * (px_hi_ - px_lo_);
}

}  // namespace labbook::report
