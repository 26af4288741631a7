#include "track/history/downsampler.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>

namespace labbook::track::history {

Downsampler::Downsampler(int64_t first_step, int64_t last_step, size_t max_points)
    : first_step_(first_step),
      // Unsigned 128-bit arithmetic: exact over the whole int64 range of steps.
      span_(static_cast<Uint128>(static_cast<uint64_t>(last_step) -
                                 static_cast<uint64_t>(first_step)) +
            1),
      buckets_(std::max<size_t>(1, max_points / 2)),
      keep_both_(max_points >= 2) {
  assert(first_step <= last_step && max_points >= 1);
}

size_t Downsampler::BucketOf(int64_t step) const {
  return static_cast<size_t>(static_cast<Uint128>(OffsetOf(step)) * buckets_ / span_);
}

void Downsampler::Enter(size_t bucket) {
  if (open_ && bucket == bucket_) return;
  Flush();
  open_ = true;
  bucket_ = bucket;
  // The smallest offset o with floor(o * buckets / span) > bucket.
  bucket_end_offset_ = ((bucket + 1) * span_ + buckets_ - 1) / buckets_;
}

void Downsampler::AddPoint(const Point& point) {
  // Points come in step order: only one past the open bucket's end needs a division.
  if (!open_ || OffsetOf(point.step) >= bucket_end_offset_) Enter(BucketOf(point.step));
  if (!first_) first_ = point;
  if (std::isnan(point.value)) return;
  // Strict comparisons keep the earliest of equal extremes.
  if (!min_ || point.value < min_->value) min_ = point;
  if (!max_ || point.value > max_->value) max_ = point;
}

void Downsampler::AddExtremes(const ChunkStats& stats) {
  assert(stats.min && stats.max && InOneBucket(stats.first_step, stats.last_step));
  Enter(BucketOf(stats.first_step));
  if (!min_ || stats.min->value < min_->value) min_ = stats.min;
  if (!max_ || stats.max->value > max_->value) max_ = stats.max;
}

void Downsampler::Flush() {
  if (!open_) return;
  if (!min_) {
    kept_.push_back(*first_);
  } else if (!keep_both_) {
    kept_.push_back(*max_);
  } else {
    const Point& earlier = min_->step <= max_->step ? *min_ : *max_;
    const Point& later = min_->step <= max_->step ? *max_ : *min_;
    kept_.push_back(earlier);
    if (later.step != earlier.step) kept_.push_back(later);
  }
  open_ = false;
  first_.reset();
  min_.reset();
  max_.reset();
}

std::vector<Point> Downsampler::Finish() {
  Flush();
  return std::move(kept_);
}

}  // namespace labbook::track::history
