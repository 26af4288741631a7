// The chunk format and the downsampler that reads chunks by their statistics, against the
// point-by-point reference of the conformance suite.
#include "track/history/history_chunk.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "store_conformance.hpp"
#include "track/history/downsampler.hpp"

namespace labbook::track::history {
namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();
const double kInf = std::numeric_limits<double>::infinity();

TEST(HistoryChunkTest, EncodedPointsReadBackThroughAView) {
  const std::vector<Point> points = {{-5, 1.5, 10.0},
                                     {0, kNaN, 11.0},
                                     {7, kInf, 12.0},
                                     {9, -kInf, 13.0},
                                     {1'000'000'000'000, -0.0, 14.0}};
  std::vector<std::byte> blob;
  EncodeChunk(points, &blob);
  EXPECT_EQ(blob.size(), points.size() * kBytesPerPoint);
  Result<ChunkView> view = ChunkView::Parse(blob, StatsOf(points), "test");
  ASSERT_OK(view);
  ASSERT_EQ(view->size(), 5u);
  for (size_t i = 0; i < points.size(); ++i) {
    EXPECT_EQ(view->step(i), points[i].step);
    EXPECT_EQ(std::isnan(view->value(i)), std::isnan(points[i].value));
    if (!std::isnan(points[i].value)) {
      EXPECT_EQ(view->value(i), points[i].value);
    }
    EXPECT_EQ(view->wall_time(i), points[i].wall_time);
  }
  EXPECT_EQ(view->LowerBound(-100), 0u);
  EXPECT_EQ(view->LowerBound(1), 2u);
  EXPECT_EQ(view->LowerBound(7), 2u);
  EXPECT_EQ(view->LowerBound(2'000'000'000'000), 5u);
  std::vector<int64_t> steps;
  std::vector<double> values;
  std::vector<double> walls;
  view->AppendColumnsTo(1, 4, &steps, &values, &walls);
  EXPECT_EQ(steps, (std::vector<int64_t>{0, 7, 9}));
  EXPECT_EQ(walls, (std::vector<double>{11.0, 12.0, 13.0}));
}

TEST(HistoryChunkTest, EvenlySpacedStepsAreLeftOutAndComeBack) {
  std::vector<Point> points;
  for (int64_t i = 0; i < 100; ++i) points.push_back({-30 + 3 * i, 0.5 * i, 100.0 + i});
  std::vector<std::byte> blob;
  EncodeChunk(points, &blob);
  EXPECT_EQ(blob.size(), points.size() * kBytesPerEvenlySpacedPoint);
  Result<ChunkView> view = ChunkView::Parse(blob, StatsOf(points), "test");
  ASSERT_OK(view);
  for (size_t i = 0; i < points.size(); ++i) {
    EXPECT_EQ(view->step(i), points[i].step);
    EXPECT_EQ(view->value(i), points[i].value);
    EXPECT_EQ(view->wall_time(i), points[i].wall_time);
  }
  EXPECT_EQ(view->LowerBound(-29), 1u);
  std::vector<int64_t> steps;
  std::vector<double> values;
  std::vector<double> walls;
  view->AppendColumnsTo(98, 100, &steps, &values, &walls);
  EXPECT_EQ(steps, (std::vector<int64_t>{264, 267}));
  EXPECT_EQ(values, (std::vector<double>{49.0, 49.5}));

  // The widest stride there is, and a single point.
  const int64_t lowest = std::numeric_limits<int64_t>::min() + 1;
  const int64_t highest = std::numeric_limits<int64_t>::max();
  for (const std::vector<Point>& few :
       {std::vector<Point>{{lowest, 1, 2}, {highest, 3, 4}}, std::vector<Point>{{7, 1, 2}}}) {
    EncodeChunk(few, &blob);
    EXPECT_EQ(blob.size(), few.size() * kBytesPerEvenlySpacedPoint);
    Result<ChunkView> small = ChunkView::Parse(blob, StatsOf(few), "test");
    ASSERT_OK(small);
    for (size_t i = 0; i < few.size(); ++i) EXPECT_EQ(small->step(i), few[i].step);
  }
}

TEST(HistoryChunkTest, ABlobThatCannotHoldItsPointsIsDataLoss) {
  ChunkStats stats;
  stats.first_step = 0;
  stats.last_step = 5;
  stats.count = 3;
  std::vector<std::byte> wrong_size(3 * kBytesPerPoint + 1);
  Result<ChunkView> view = ChunkView::Parse(wrong_size, stats, "/data/labbook.db");
  EXPECT_EQ(view.status().code(), ErrorCode::kDataLoss);
  EXPECT_NE(view.status().message().find("/data/labbook.db"), std::string::npos);
  // Evenly spaced steps cannot go from 0 to 5 in three points.
  std::vector<std::byte> uneven(3 * kBytesPerEvenlySpacedPoint);
  EXPECT_EQ(ChunkView::Parse(uneven, stats, "db").status().code(), ErrorCode::kDataLoss);
  stats.last_step = 6;
  EXPECT_OK(ChunkView::Parse(uneven, stats, "db"));
}

TEST(HistoryChunkTest, StatsKeepTheEarliestExtremesAndTheFiniteRange) {
  const std::vector<Point> points = {{1, kNaN, 0}, {2, 3.0, 1},   {3, -kInf, 2}, {4, 3.0, 3},
                                     {5, -1.0, 4}, {6, -kInf, 5}, {7, 2.0, 6}};
  const ChunkStats stats = StatsOf(points);
  EXPECT_EQ(stats.first_step, 1);
  EXPECT_EQ(stats.last_step, 7);
  EXPECT_EQ(stats.count, 7);
  ASSERT_TRUE(stats.min && stats.max);
  EXPECT_EQ(stats.min->step, 3);  // the earliest -inf
  EXPECT_EQ(stats.max->step, 2);  // the earliest 3.0
  EXPECT_EQ(stats.finite_min, -1.0);
  EXPECT_EQ(stats.finite_max, 3.0);
  const ChunkStats all_nan = StatsOf(std::vector<Point>{{1, kNaN, 0}, {2, kNaN, 0}});
  EXPECT_FALSE(all_nan.min || all_nan.max);
  EXPECT_TRUE(std::isnan(all_nan.finite_min) && std::isnan(all_nan.finite_max));
}

TEST(DownsamplerTest, BucketsSpanTheWholeStepRangeExactly) {
  const int64_t lowest = std::numeric_limits<int64_t>::min();
  const int64_t highest = std::numeric_limits<int64_t>::max();
  Downsampler whole(lowest, highest, 1000);
  EXPECT_EQ(whole.BucketOf(lowest), 0u);
  EXPECT_EQ(whole.BucketOf(highest), 499u);
  EXPECT_EQ(whole.BucketOf(0), 250u);
  Downsampler small(10, 19, 4);  // two buckets of five steps
  EXPECT_EQ(small.BucketOf(14), 0u);
  EXPECT_EQ(small.BucketOf(15), 1u);
  EXPECT_TRUE(small.InOneBucket(10, 14));
  EXPECT_FALSE(small.InOneBucket(14, 15));
}

// Feeds `model` cut into chunks of random sizes, each chunk that lies in one bucket by its
// statistics, the others point by point, and compares with the reference.
void ExpectChunkedMatchesReference(const conformance::HistoryModel& model, size_t max_points,
                                   std::mt19937* rng) {
  std::vector<Point> points;
  for (const auto& [step, point] : model) points.push_back({step, point.first, point.second});
  Downsampler downsampler(points.front().step, points.back().step, max_points);
  int by_stats = 0;
  for (size_t begin = 0; begin < points.size();) {
    const size_t size = std::min<size_t>(points.size() - begin, 1 + (*rng)() % 600);
    const std::span<const Point> chunk(points.data() + begin, size);
    const ChunkStats stats = StatsOf(chunk);
    if (stats.min && downsampler.InOneBucket(stats.first_step, stats.last_step)) {
      downsampler.AddExtremes(stats);
      ++by_stats;
    } else {
      for (const Point& p : chunk) downsampler.AddPoint(p);
    }
    begin += size;
  }
  Series actual;
  actual.key = "k";
  actual.points_in_range = static_cast<int64_t>(points.size());
  actual.downsampled = true;
  for (const Point& p : downsampler.Finish()) {
    actual.steps.push_back(p.step);
    actual.values.push_back(p.value);
    actual.wall_times.push_back(p.wall_time);
  }
  HistoryQuery query;
  query.max_points = max_points;
  SCOPED_TRACE("max_points " + std::to_string(max_points) +
               ", chunks read by their statistics: " + std::to_string(by_stats));
  conformance::ExpectSameSeries(actual, conformance::ReferenceRead("k", model, query));
}

TEST(DownsamplerTest, ChunksReadByTheirStatisticsGiveTheReferencePoints) {
  std::mt19937 rng(99);
  conformance::HistoryModel model;
  int64_t step = -5000;
  for (int i = 0; i < 20000; ++i) {
    step += 1 + static_cast<int64_t>(rng() % 4);
    double value = static_cast<double>(rng() % 1000) / 10.0;
    if (i % 50 < 3) value = 42.0;  // ties between equal extremes
    if (i >= 7000 && i < 9000) value = kNaN;
    if (i == 12345) value = kInf;
    model[step] = {value, static_cast<double>(i)};
  }
  for (size_t max_points : {1, 2, 3, 10, 64, 1000, 19999}) {
    ExpectChunkedMatchesReference(model, max_points, &rng);
  }
}

}  // namespace
}  // namespace labbook::track::history
