// Thinning long ROC and precision-recall curves to what a plot can show, without changing how they
// look. Internal to src/metrics; `labbook eval` draws curves of a million samples through it.
#pragma once

#include <cstddef>
#include <vector>

namespace labbook::metrics {

// How a curve is thinned. The x axis (false positive rate or recall, both in [0, 1]) is cut into
// `columns` columns of width 1 / columns; within each run of consecutive points in one column the
// first, the lowest, the highest and the last point stay (the "M4" rule of line rendering). A
// curve of at most `max_points` points is left whole.
//
// Tolerance: in each column the thinned curve starts and ends where the full one does and spans
// the same vertical range, so every point of the full polyline, drawn as lines or as steps, lies
// within 1 / columns horizontally of the thinned one and the other way round. With the defaults
// that is a third of a pixel on a 700-pixel-wide plot; at most 4 * columns points remain (about 2
// a column for a monotone ROC curve), plus the breaks of non-finite points.
struct CurveThinning {
  size_t columns = 2048;
  size_t max_points = 8192;
};

// One point of a curve and the threshold it belongs to.
struct CurvePoint {
  double x = 0;
  double y = 0;
  double threshold = 0;
};

// Thins a curve fed one point at a time, in drawing order, with memory bounded by the thinning's
// sizes rather than by the curve's length. The first and last points always stay; a run of
// points with a non-finite coordinate (a break in the drawn line) keeps its first and last point.
class CurveThinner {
 public:
  explicit CurveThinner(const CurveThinning& thinning);

  void Add(const CurvePoint& point);
  // The kept points in order: every point when there were at most max_points, else the thinned
  // ones. Call once.
  std::vector<CurvePoint> Finish();

 private:
  struct Numbered {
    size_t seq;
    CurvePoint point;
  };
  double ColumnOf(double x) const;
  void FlushColumn();
  void EndBreak();

  CurveThinning thinning_;
  size_t count_ = 0;
  std::vector<CurvePoint> all_;  // every point until there are more than max_points
  std::vector<CurvePoint> thinned_;
  bool column_open_ = false;
  double column_ = 0;
  Numbered first_{}, lowest_{}, highest_{}, last_{};
  bool in_break_ = false;
  bool break_has_last_ = false;
  CurvePoint break_last_{};
};

}  // namespace labbook::metrics
