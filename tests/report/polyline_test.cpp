#include "report/polyline.hpp"

#include <cairo.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>

namespace labbook::report {
namespace {

TEST(ReportClipSegmentTest, KeepsInsideCutsCrossingDropsOutside) {
  Rect rect{0, 0, 10, 10};
  Point a{1, 1};
  Point b{9, 9};
  ASSERT_TRUE(ClipSegment(a, b, rect));
  EXPECT_DOUBLE_EQ(a.x, 1);
  EXPECT_DOUBLE_EQ(b.y, 9);

  a = {-10, 5};
  b = {20, 5};
  ASSERT_TRUE(ClipSegment(a, b, rect));
  EXPECT_DOUBLE_EQ(a.x, 0);
  EXPECT_DOUBLE_EQ(b.x, 10);

  a = {-5, -5};
  b = {-1, 20};
  EXPECT_FALSE(ClipSegment(a, b, rect));
}

TEST(ReportClipPolylineTest, SplitsAtNonFinitePointsAndAtTheEdges) {
  Rect rect{0, 0, 10, 10};
  const Point line[] = {{1, 1}, {2, 2}, {NAN, 0}, {3, 3}, {4, 4}, {20, 4}, {30, 4}, {5, 5}};
  std::vector<Polyline> parts = ClipPolyline(line, rect);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[0].size(), 2u);
  ASSERT_EQ(parts[1].size(), 3u);  // (3,3) (4,4) then cut at the right edge
  EXPECT_DOUBLE_EQ(parts[1][2].x, 10);
  ASSERT_EQ(parts[2].size(), 2u);  // comes back in from the right edge
  EXPECT_DOUBLE_EQ(parts[2][1].x, 5);
}

TEST(ReportClipPolylineTest, KeepsALonePointAsADot) {
  const Point line[] = {{NAN, 0}, {5, 5}, {NAN, 0}};
  std::vector<Polyline> parts = ClipPolyline(line, Rect{0, 0, 10, 10});
  ASSERT_EQ(parts.size(), 1u);
  EXPECT_EQ(parts[0].size(), 1u);
}

Polyline NoisyLine(size_t n, double width, double height, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> noise(0, height / 10);
  Polyline line;
  for (size_t i = 0; i < n; ++i) {
    double x = 2 + (width - 4) * i / (n - 1);
    line.push_back({x, height / 2 + height / 4 * std::sin(x / 15) + noise(rng)});
  }
  return line;
}

TEST(ReportDecimatePolylineTest, KeepsEndsAndEachColumnsExtremes) {
  Polyline line = NoisyLine(50000, 200, 100, 1);
  Polyline thin = DecimatePolyline(line);
  EXPECT_LE(thin.size(), 4u * 200);
  EXPECT_DOUBLE_EQ(thin.front().x, line.front().x);
  EXPECT_DOUBLE_EQ(thin.back().x, line.back().x);
  EXPECT_DOUBLE_EQ(thin.back().y, line.back().y);
  for (int column = 2; column < 198; ++column) {
    double lo_in = INFINITY, hi_in = -INFINITY, lo_out = INFINITY, hi_out = -INFINITY;
    for (const Point& p : line) {
      if (std::floor(p.x) != column) continue;
      lo_in = std::min(lo_in, p.y);
      hi_in = std::max(hi_in, p.y);
    }
    for (const Point& p : thin) {
      if (std::floor(p.x) != column) continue;
      lo_out = std::min(lo_out, p.y);
      hi_out = std::max(hi_out, p.y);
    }
    EXPECT_NEAR(lo_out, lo_in, 0.5) << "column " << column;
    EXPECT_NEAR(hi_out, hi_in, 0.5) << "column " << column;
  }
}

TEST(ReportDecimatePolylineTest, ShortLinesStayAsTheyAre) {
  const Point line[] = {{0, 0}, {10, 5}, {20, 0}};
  Polyline thin = DecimatePolyline(line);
  ASSERT_EQ(thin.size(), 3u);
  EXPECT_DOUBLE_EQ(thin[1].y, 5);
}

// Strokes `line` on a white width x height picture and returns its pixels.
std::vector<std::uint32_t> Rasterise(const Polyline& line, int width, int height) {
  cairo_surface_t* surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height);
  cairo_t* cr = cairo_create(surface);
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);
  cairo_set_source_rgb(cr, 0, 0, 0);
  cairo_set_line_width(cr, 1.25);
  cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
  cairo_set_antialias(cr, CAIRO_ANTIALIAS_NONE);
  cairo_move_to(cr, line[0].x, line[0].y);
  for (const Point& p : line) cairo_line_to(cr, p.x, p.y);
  cairo_stroke(cr);
  cairo_destroy(cr);
  cairo_surface_flush(surface);
  std::vector<std::uint32_t> pixels;
  const unsigned char* data = cairo_image_surface_get_data(surface);
  int stride = cairo_image_surface_get_stride(surface);
  for (int y = 0; y < height; ++y) {
    const auto* row = reinterpret_cast<const std::uint32_t*>(data + y * stride);
    pixels.insert(pixels.end(), row, row + width);
  }
  cairo_surface_destroy(surface);
  return pixels;
}

// The reference is the whole line: the thinned one must draw the same picture. Anti-aliasing is
// off, since with it thousands of overlapping segments shade edges darker than a few do.
TEST(ReportDecimatePolylineTest, DrawsLikeTheWholeLine) {
  constexpr int kWidth = 300;
  constexpr int kHeight = 150;
  Polyline line = NoisyLine(20000, kWidth, kHeight, 7);
  Polyline thin = DecimatePolyline(line);
  EXPECT_LT(thin.size(), line.size() / 10);
  std::vector<std::uint32_t> reference = Rasterise(line, kWidth, kHeight);
  std::vector<std::uint32_t> thinned = Rasterise(thin, kWidth, kHeight);
  auto ink = [](std::uint32_t pixel) { return (pixel & 0xFF) < 128; };
  // Ink extent of each column: top[k][x] and bottom[k][x], k = 0 for the reference.
  std::vector<int> top[2] = {std::vector<int>(kWidth, kHeight), std::vector<int>(kWidth, kHeight)};
  std::vector<int> bottom[2] = {std::vector<int>(kWidth, -1), std::vector<int>(kWidth, -1)};
  size_t differing = 0;
  for (int y = 0; y < kHeight; ++y) {
    for (int x = 0; x < kWidth; ++x) {
      size_t i = static_cast<size_t>(y) * kWidth + x;
      for (int k = 0; k < 2; ++k) {
        if (!ink(k == 0 ? reference[i] : thinned[i])) continue;
        top[k][x] = std::min(top[k][x], y);
        bottom[k][x] = std::max(bottom[k][x], y);
      }
      differing += ink(reference[i]) != ink(thinned[i]) ? 1 : 0;
    }
  }
  // Each line's extent in a column lies within the other's over that column and its neighbours:
  // a wide stroke spills into the next column from points the thinning moved within theirs.
  for (int k = 0; k < 2; ++k) {
    const int other = 1 - k;
    for (int x = 1; x + 1 < kWidth; ++x) {
      int highest = std::min({top[other][x - 1], top[other][x], top[other][x + 1]});
      int lowest = std::max({bottom[other][x - 1], bottom[other][x], bottom[other][x + 1]});
      EXPECT_GE(top[k][x], highest - 1) << "column " << x << (k == 0 ? " reference" : " thinned");
      EXPECT_LE(bottom[k][x], lowest + 1) << "column " << x << (k == 0 ? " reference" : " thinned");
    }
  }
  EXPECT_LT(differing, reference.size() / 100);
}

}  // namespace
}  // namespace labbook::report
