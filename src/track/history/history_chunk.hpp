// How the run stores pack history: a key's points live in chunks of at most kChunkPoints points
// with disjoint step ranges, each stored as one BLOB beside its statistics (see SQLite's
// track/sqlite/migrations/0001_initial.sql and PostgreSQL's track/postgres/migrations/). This file
// holds the format and the statistics, and knows nothing of any database.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "labbook/status.hpp"

namespace labbook::track::history {

static_assert(std::endian::native == std::endian::little, "chunks are stored little-endian");

// 512 points (12 KiB): small enough that a downsampled read of a long range stands for most chunks
// by their statistics (it decodes at most about 512 * max_points / 2 points whatever the range),
// large enough that a million points are 2,000 rows.
inline constexpr size_t kChunkPoints = 512;
inline constexpr size_t kBytesPerPoint = 3 * sizeof(double);
inline constexpr size_t kBytesPerEvenlySpacedPoint = 2 * sizeof(double);

struct Point {
  int64_t step = 0;
  double value = 0;
  double wall_time = 0;
};

// What a downsampling read and HistoryKeys need of a chunk without reading its points.
struct ChunkStats {
  int64_t first_step = 0;
  int64_t last_step = 0;
  int64_t count = 0;
  // The earliest point with the smallest and with the largest non-NaN value; none when every
  // value is NaN.
  std::optional<Point> min;
  std::optional<Point> max;
  // Over finite values; NaN when there is none.
  double finite_min = 0;
  double finite_max = 0;
};

// `points`: non-empty, in strictly increasing step order.
ChunkStats StatsOf(std::span<const Point> points);

// The BLOB of a chunk, little-endian: the steps (int64), then the values (float64), then the wall
// times (float64). Evenly spaced steps (a single point, or every step `stride` after the last:
// most training logs) are left out, as the chunk's first and last step and count give them back:
// such a BLOB holds 16 bytes a point instead of 24. `out` is resized to fit.
void EncodeChunk(std::span<const Point> points, std::vector<std::byte>* out);

// A read-only view of a chunk's BLOB; it does not own the bytes.
class ChunkView {
 public:
  // `stats`: the chunk's first and last step and count, as stored beside the BLOB. kDataLoss when
  // the BLOB cannot hold those points (`where` names the chunk).
  [[nodiscard]] static Result<ChunkView> Parse(std::span<const std::byte> blob,
                                               const ChunkStats& stats, std::string_view where);

  size_t size() const { return count_; }
  int64_t step(size_t i) const {
    return steps_ != nullptr ? Load<int64_t>(steps_, i)
                             : static_cast<int64_t>(first_step_ + i * stride_);
  }
  double value(size_t i) const { return Load<double>(values_, i); }
  double wall_time(size_t i) const { return Load<double>(wall_times_, i); }
  Point point(size_t i) const { return {step(i), value(i), wall_time(i)}; }
  // The index of the first point with step >= `step`.
  size_t LowerBound(int64_t step) const;
  // Appends points [begin, end) to `out`.
  void AppendTo(size_t begin, size_t end, std::vector<Point>* out) const;
  // Appends points [begin, end) column by column.
  void AppendColumnsTo(size_t begin, size_t end, std::vector<int64_t>* steps,
                       std::vector<double>* values, std::vector<double>* wall_times) const;

 private:
  ChunkView() = default;
  template <typename T>
  static T Load(const std::byte* column, size_t i) {
    T value;
    std::memcpy(&value, column + i * sizeof(T), sizeof(T));
    return value;
  }
  template <typename T>
  static void AppendColumn(const std::byte* column, size_t begin, size_t end, std::vector<T>* out) {
    const size_t old_size = out->size();
    out->resize(old_size + (end - begin));
    std::memcpy(out->data() + old_size, column + begin * sizeof(T), (end - begin) * sizeof(T));
  }

  size_t count_ = 0;
  const std::byte* steps_ = nullptr;  // null: evenly spaced steps
  const std::byte* values_ = nullptr;
  const std::byte* wall_times_ = nullptr;
  // Evenly spaced steps, in modular arithmetic (exact for any int64 steps).
  uint64_t first_step_ = 0;
  uint64_t stride_ = 0;
};

}  // namespace labbook::track::history
