// Downsampling as HistoryQuery defines it: the steps [first, last] of the points in range are cut
// into n = max(1, max_points / 2) equal buckets (step s falls in bucket
// floor((s - first) * n / (last - first + 1))), and each bucket keeps the earliest point with its
// smallest and the earliest with its largest non-NaN value, in step order (one point when they
// are the same; a bucket of NaN only keeps its first point; max_points 1 keeps the maximum only).
//
// Points are fed in step order, one by one or, for a chunk whose steps all fall in one bucket, as
// the chunk's extremes (ChunkStats), which give the same result without reading its points.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "track/history/history_chunk.hpp"

namespace labbook::track::history {

__extension__ typedef unsigned __int128 Uint128;

class Downsampler {
 public:
  // `first_step` <= `last_step` are the steps of the first and last point in range;
  // `max_points` >= 1.
  Downsampler(int64_t first_step, int64_t last_step, size_t max_points);

  size_t BucketOf(int64_t step) const;
  // True when every step of [first_step, last_step] falls in one bucket.
  bool InOneBucket(int64_t first_step, int64_t last_step) const {
    return BucketOf(first_step) == BucketOf(last_step);
  }

  void AddPoint(const Point& point);
  // Stands for the points of a chunk that lies in one bucket and has a non-NaN value
  // (stats.min and stats.max set).
  void AddExtremes(const ChunkStats& stats);
  // The kept points in step order; the Downsampler is spent.
  std::vector<Point> Finish();

 private:
  void Enter(size_t bucket);
  void Flush();
  // How far `step` is from the first step.
  uint64_t OffsetOf(int64_t step) const {
    return static_cast<uint64_t>(step) - static_cast<uint64_t>(first_step_);
  }

  int64_t first_step_;
  Uint128 span_;
  Uint128 buckets_;
  bool keep_both_;

  bool open_ = false;
  size_t bucket_ = 0;
  // The offset of the open bucket's end: points before it need no division to place.
  Uint128 bucket_end_offset_ = 0;
  std::optional<Point> first_;  // the bucket's first point, kept in case all of it is NaN
  std::optional<Point> min_;
  std::optional<Point> max_;
  std::vector<Point> kept_;
};

}  // namespace labbook::track::history
