#include "track/history/history_chunk.hpp"

#include <algorithm>
#include <cmath>
#include <string>

namespace labbook::track::history {

ChunkStats StatsOf(std::span<const Point> points) {
  ChunkStats stats;
  stats.first_step = points.front().step;
  stats.last_step = points.back().step;
  stats.count = static_cast<int64_t>(points.size());
  stats.finite_min = std::nan("");
  stats.finite_max = std::nan("");
  for (const Point& p : points) {
    if (std::isnan(p.value)) continue;
    // Strict comparisons keep the earliest of equal extremes.
    if (!stats.min || p.value < stats.min->value) stats.min = p;
    if (!stats.max || p.value > stats.max->value) stats.max = p;
    if (std::isfinite(p.value)) {
      if (!(p.value >= stats.finite_min)) stats.finite_min = p.value;  // also replaces NaN
      if (!(p.value <= stats.finite_max)) stats.finite_max = p.value;
    }
  }
  return stats;
}

namespace {

// Steps in modular arithmetic: the difference of two increasing int64 steps is exact in uint64.
uint64_t Unsigned(int64_t step) { return static_cast<uint64_t>(step); }

bool EvenlySpaced(std::span<const Point> points) {
  if (points.size() < 3) return true;
  const uint64_t stride = Unsigned(points[1].step) - Unsigned(points[0].step);
  for (size_t i = 2; i < points.size(); ++i) {
    if (Unsigned(points[i].step) - Unsigned(points[i - 1].step) != stride) return false;
  }
  return true;
}

template <typename T>
std::byte* Store(std::byte* out, const T& value) {
  std::memcpy(out, &value, sizeof(T));
  return out + sizeof(T);
}

}  // namespace

void EncodeChunk(std::span<const Point> points, std::vector<std::byte>* out) {
  const size_t n = points.size();
  const bool with_steps = !EvenlySpaced(points);
  out->resize(n * (with_steps ? kBytesPerPoint : kBytesPerEvenlySpacedPoint));
  std::byte* next = out->data();
  if (with_steps) {
    for (const Point& p : points) next = Store(next, p.step);
  }
  for (const Point& p : points) next = Store(next, p.value);
  for (const Point& p : points) next = Store(next, p.wall_time);
}

Result<ChunkView> ChunkView::Parse(std::span<const std::byte> blob, const ChunkStats& stats,
                                   std::string_view where) {
  auto corrupt = [&](std::string_view why) {
    return DataLoss(std::string(where) + ": the chunk of " + std::to_string(stats.count) +
                    " points at steps " + std::to_string(stats.first_step) + ".." +
                    std::to_string(stats.last_step) + " " + std::string(why) + " (" +
                    std::to_string(blob.size()) + " bytes)");
  };
  if (stats.count < 1) return corrupt("is empty");
  ChunkView view;
  view.count_ = static_cast<size_t>(stats.count);
  const size_t n = view.count_;
  if (blob.size() == n * kBytesPerPoint) {
    view.steps_ = blob.data();
    view.values_ = blob.data() + n * sizeof(int64_t);
  } else if (blob.size() == n * kBytesPerEvenlySpacedPoint) {
    const uint64_t span = Unsigned(stats.last_step) - Unsigned(stats.first_step);
    if (n == 1 ? span != 0 : span % (n - 1) != 0) return corrupt("has uneven steps");
    view.first_step_ = Unsigned(stats.first_step);
    view.stride_ = n == 1 ? 0 : span / (n - 1);
    view.values_ = blob.data();
  } else {
    return corrupt("has the wrong size");
  }
  view.wall_times_ = view.values_ + n * sizeof(double);
  return view;
}

size_t ChunkView::LowerBound(int64_t step) const {
  size_t lo = 0;
  size_t hi = count_;
  while (lo < hi) {
    const size_t mid = lo + (hi - lo) / 2;
    if (this->step(mid) < step) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

void ChunkView::AppendTo(size_t begin, size_t end, std::vector<Point>* out) const {
  out->reserve(out->size() + (end - begin));
  for (size_t i = begin; i < end; ++i) out->push_back(point(i));
}

void ChunkView::AppendColumnsTo(size_t begin, size_t end, std::vector<int64_t>* steps,
                                std::vector<double>* values,
                                std::vector<double>* wall_times) const {
  if (steps_ != nullptr) {
    AppendColumn(steps_, begin, end, steps);
  } else {
    for (size_t i = begin; i < end; ++i) steps->push_back(step(i));
  }
  AppendColumn(values_, begin, end, values);
  AppendColumn(wall_times_, begin, end, wall_times);
}

}  // namespace labbook::track::history
