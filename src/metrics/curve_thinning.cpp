#include "metrics/curve_thinning.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>

namespace labbook::metrics {

CurveThinner::CurveThinner(const CurveThinning& thinning) : thinning_(thinning) {
  thinning_.columns = std::max<size_t>(thinning_.columns, 1);
}

void CurveThinner::Add(const CurvePoint& point) {
  const size_t seq = count_++;
  if (seq < thinning_.max_points) {
    all_.push_back(point);
  } else if (seq == thinning_.max_points) {
    all_ = {};
  }
  if (!std::isfinite(point.x) || !std::isfinite(point.y)) {
    FlushColumn();
    if (in_break_) {
      break_last_ = point;
      break_has_last_ = true;
    } else {
      thinned_.push_back(point);
      in_break_ = true;
      break_has_last_ = false;
    }
    return;
  }
  EndBreak();
  const double column = ColumnOf(point.x);
  if (column_open_ && column == column_) {
    // The common case, kept to a few stores: the copies below are made from `point`, never from
    // the members just written.
    last_ = {seq, point};
    if (point.y < lowest_.point.y) lowest_ = {seq, point};
    if (point.y > highest_.point.y) highest_ = {seq, point};
    return;
  }
  FlushColumn();
  column_open_ = true;
  column_ = column;
  first_ = {seq, point};
  lowest_ = {seq, point};
  highest_ = {seq, point};
  last_ = {seq, point};
}

double CurveThinner::ColumnOf(double x) const {
  const double scaled = x * static_cast<double>(thinning_.columns);
  // Truncation is floor for the rates in [0, 1] this is made for, and much cheaper than a call.
  if (scaled >= 0 && scaled < 0x1p52) return static_cast<double>(static_cast<int64_t>(scaled));
  return std::floor(scaled);
}

void CurveThinner::FlushColumn() {
  if (!column_open_) return;
  column_open_ = false;
  std::array<Numbered, 4> keep = {first_, lowest_, highest_, last_};
  std::sort(keep.begin(), keep.end(),
            [](const Numbered& a, const Numbered& b) { return a.seq < b.seq; });
  for (size_t i = 0; i < keep.size(); ++i) {
    if (i == 0 || keep[i].seq != keep[i - 1].seq) thinned_.push_back(keep[i].point);
  }
}

void CurveThinner::EndBreak() {
  if (!in_break_) return;
  if (break_has_last_) thinned_.push_back(break_last_);
  in_break_ = false;
}

std::vector<CurvePoint> CurveThinner::Finish() {
  if (count_ <= thinning_.max_points) return std::move(all_);
  FlushColumn();
  EndBreak();
  return std::move(thinned_);
}

}  // namespace labbook::metrics
