#include "report/polyline.hpp"

#include <algorithm>
#include <array>
#include <cmath>

namespace labbook::report {
namespace {

bool IsFinite(const Point& p) { return std::isfinite(p.x) && std::isfinite(p.y); }

bool SamePoint(const Point& a, const Point& b) { return a.x == b.x && a.y == b.y; }

}  // namespace

bool ClipSegment(Point& a, Point& b, const Rect& rect) {
  double t0 = 0;
  double t1 = 1;
  double dx = b.x - a.x;
  double dy = b.y - a.y;
  const std::array<double, 4> p = {-dx, dx, -dy, dy};
  const std::array<double, 4> q = {a.x - rect.x, rect.right() - a.x, a.y - rect.y,
                                   rect.bottom() - a.y};
  for (int i = 0; i < 4; ++i) {
    if (p[i] == 0) {
      if (q[i] < 0) return false;
      continue;
    }
    double t = q[i] / p[i];
    if (p[i] < 0) {
      if (t > t1) return false;
      t0 = std::max(t0, t);
    } else {
      if (t < t0) return false;
      t1 = std::min(t1, t);
    }
  }
  Point start{a.x + t0 * dx, a.y + t0 * dy};
  Point end{a.x + t1 * dx, a.y + t1 * dy};
  a = start;
  b = end;
  return true;
}

std::vector<Polyline> ClipPolyline(std::span<const Point> line, const Rect& rect) {
  std::vector<Polyline> parts;
  bool open = false;  // whether the last part ends where the next segment starts
  for (size_t i = 0; i < line.size(); ++i) {
    if (!IsFinite(line[i])) {
      open = false;
      continue;
    }
    if (i + 1 == line.size() || !IsFinite(line[i + 1])) {
      // A point alone between breaks becomes a part of its own, which the chart draws as a dot.
      if (!open && rect.Contains(line[i].x, line[i].y)) parts.push_back({line[i]});
      open = false;
      continue;
    }
    Point a = line[i];
    Point b = line[i + 1];
    if (!ClipSegment(a, b, rect)) {
      open = false;
      continue;
    }
    if (!open || !SamePoint(a, line[i])) parts.push_back({a});
    parts.back().push_back(b);
    open = SamePoint(b, line[i + 1]);
  }
  return parts;
}

Polyline DecimatePolyline(std::span<const Point> line) {
  Polyline columns;
  columns.reserve(std::min<size_t>(line.size(), 4096));
  size_t i = 0;
  while (i < line.size()) {
    double column = std::floor(line[i].x);
    size_t j = i;
    size_t lowest = i;
    size_t highest = i;
    while (j + 1 < line.size() && std::floor(line[j + 1].x) == column) {
      ++j;
      if (line[j].y < line[lowest].y) lowest = j;
      if (line[j].y > line[highest].y) highest = j;
    }
    if (j - i < 4) {
      for (size_t k = i; k <= j; ++k) columns.push_back(line[k]);
    } else {
      std::array<size_t, 4> keep = {i, lowest, highest, j};
      std::sort(keep.begin(), keep.end());
      for (size_t n = 0; n < keep.size(); ++n) {
        if (n == 0 || keep[n] != keep[n - 1]) columns.push_back(line[keep[n]]);
      }
    }
    i = j + 1;
  }

  Polyline out;
  out.reserve(columns.size());
  for (size_t k = 0; k < columns.size(); ++k) {
    const Point& p = columns[k];
    bool last = k + 1 == columns.size();
    if (!out.empty() && !last && std::abs(p.x - out.back().x) < 0.5 &&
        std::abs(p.y - out.back().y) < 0.5) {
      continue;
    }
    out.push_back(p);
  }
  return out;
}

}  // namespace labbook::report
