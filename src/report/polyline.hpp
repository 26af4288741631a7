// Geometry of long lines in pixel space: clipping to a rectangle and thinning to what a screen can
// show. Internal to src/report; the line chart uses it so that 100,000-point series draw fast and
// give small SVG files.
#pragma once

#include <span>
#include <vector>

#include "report/canvas.hpp"

namespace labbook::report {

struct Point {
  double x = 0;
  double y = 0;
};

using Polyline = std::vector<Point>;

// Clips segment a-b to `rect` in place (Liang-Barsky). False if no part of it is inside.
bool ClipSegment(Point& a, Point& b, const Rect& rect);

// The parts of `line` inside `rect`. A point with a non-finite coordinate breaks the line.
std::vector<Polyline> ClipPolyline(std::span<const Point> line, const Rect& rect);

// Thins a line in pixel coordinates without changing how it looks: within each run of consecutive
// points in the same pixel column it keeps the first, lowest, highest and last point (the "M4"
// rule), then drops points less than half a pixel from the last kept one. The first and last
// points always stay. Output size is at most about four points per pixel column crossed.
Polyline DecimatePolyline(std::span<const Point> line);

}  // namespace labbook::report
