#include "track/postgres/history_tables.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

#include "core/status_macros.hpp"
#include "track/history/downsampler.hpp"

namespace labbook::track::postgres {
namespace {

using history::ChunkStats;
using history::ChunkView;
using history::Downsampler;
using history::EncodeChunk;
using history::kChunkPoints;
using history::Point;
using history::StatsOf;

// A key's row of history_keys.
struct KeyRow {
  int64_t id = 0;
  int64_t count = 0;
  int64_t first_step = 0;
  int64_t last_step = 0;
  double last_value = 0;
  double finite_min = std::nan("");
  double finite_max = std::nan("");
};

// Chunks inserted by one statement: 64 rows of 13 parameters stay far below PostgreSQL's limit of
// 65,535 parameters, and 64 chunks (at most 768 KiB) make one round trip for 32,768 points.
constexpr size_t kChunksPerInsert = 64;

constexpr char kKeyColumns[] =
    "id, count, first_step, last_step, last_value, finite_min, finite_max";

KeyRow KeyRowAt(const Rows& rows, int row) {
  return KeyRow{rows.Int(row, 0),    rows.Int(row, 1),    rows.Int(row, 2),   rows.Int(row, 3),
                rows.Double(row, 4), rows.Double(row, 5), rows.Double(row, 6)};
}

constexpr char kStatsColumns[] =
    "first_step, last_step, count, min_value, min_step, min_wall_time, max_value, max_step, "
    "max_wall_time, finite_min, finite_max";

ChunkStats StatsAt(const Rows& rows, int row) {
  ChunkStats stats;
  stats.first_step = rows.Int(row, 0);
  stats.last_step = rows.Int(row, 1);
  stats.count = rows.Int(row, 2);
  if (!rows.IsNull(row, 3)) {
    stats.min = Point{rows.Int(row, 4), rows.Double(row, 3), rows.Double(row, 5)};
    stats.max = Point{rows.Int(row, 7), rows.Double(row, 6), rows.Double(row, 8)};
  }
  stats.finite_min = rows.Double(row, 9);
  stats.finite_max = rows.Double(row, 10);
  return stats;
}

// Adds the statistics as 11 parameters, in kStatsColumns' order.
void AddStats(Params& params, const ChunkStats& stats) {
  params.Int(stats.first_step).Int(stats.last_step).Int(stats.count);
  for (const std::optional<Point>& extreme : {stats.min, stats.max}) {
    if (extreme) {
      params.Double(extreme->value).Int(extreme->step).Double(extreme->wall_time);
    } else {
      params.Null().Null().Null();
    }
  }
  params.Double(stats.finite_min).Double(stats.finite_max);
}

// Sorts by step, keeping the last of the points logged for one step.
void SortKeepingLastOfEachStep(std::vector<Point>* points) {
  auto by_step = [](const Point& a, const Point& b) { return a.step < b.step; };
  auto strictly = [](const Point& a, const Point& b) { return a.step >= b.step; };
  if (std::adjacent_find(points->begin(), points->end(), strictly) == points->end()) return;
  std::stable_sort(points->begin(), points->end(), by_step);
  size_t kept = 0;
  for (size_t i = 0; i < points->size(); ++i) {
    if (i + 1 < points->size() && (*points)[i + 1].step == (*points)[i].step) continue;
    (*points)[kept++] = (*points)[i];
  }
  points->resize(kept);
}

// The points of `older` and `newer` (both in strictly increasing step order) in step order, the
// newer point winning a step both have.
std::vector<Point> MergeNewerWins(const std::vector<Point>& older, std::span<const Point> newer) {
  std::vector<Point> merged;
  merged.reserve(older.size() + newer.size());
  size_t i = 0;
  size_t j = 0;
  while (i < older.size() || j < newer.size()) {
    if (j == newer.size() || (i < older.size() && older[i].step < newer[j].step)) {
      merged.push_back(older[i++]);
    } else {
      if (i < older.size() && older[i].step == newer[j].step) ++i;
      merged.push_back(newer[j++]);
    }
  }
  return merged;
}

Result<std::optional<KeyRow>> FindKey(Connection& db, const std::string& run_id,
                                      const std::string& key, bool for_update) {
  LABBOOK_ASSIGN_OR_RETURN(Rows rows,
                           db.Query(std::string("SELECT ") + kKeyColumns +
                                        " FROM history_keys WHERE run_id = $1 AND key = $2" +
                                        (for_update ? " FOR UPDATE" : ""),
                                    Params().Text(run_id).Text(key)));
  if (rows.empty()) return std::optional<KeyRow>();
  return std::optional<KeyRow>(KeyRowAt(rows, 0));
}

// The key's row, inserted when missing, locked until the transaction ends.
Result<KeyRow> LockKey(Connection& db, const std::string& run_id, const std::string& key) {
  // ON CONFLICT waits for a concurrent insert of the same key and then does nothing; the
  // SELECT ... FOR UPDATE that follows sees the committed row (READ COMMITTED).
  LABBOOK_RETURN_IF_ERROR(
      db.Query("INSERT INTO history_keys (run_id, key, count, first_step, last_step, last_value, "
               "finite_min, finite_max) VALUES ($1, $2, 0, 0, 0, 0, 'NaN', 'NaN') "
               "ON CONFLICT (run_id, key) DO NOTHING",
               Params().Text(run_id).Text(key))
          .status());
  LABBOOK_ASSIGN_OR_RETURN(std::optional<KeyRow> row, FindKey(db, run_id, key, true));
  if (!row) {
    return Internal("history key '" + key + "' of run '" + run_id +
                    "' was inserted but cannot be found");
  }
  return *row;
}

Status SaveKey(Connection& db, const KeyRow& row) {
  return db
      .Query(
          "UPDATE history_keys SET count = $2, first_step = $3, last_step = $4, "
          "last_value = $5, finite_min = $6, finite_max = $7 WHERE id = $1",
          Params()
              .Int(row.id)
              .Int(row.count)
              .Int(row.first_step)
              .Int(row.last_step)
              .Double(row.last_value)
              .Double(row.finite_min)
              .Double(row.finite_max))
      .status();
}

// Inserts one chunk per element of `chunks`, many rows to a statement: a large batch costs few
// round trips.
Status InsertChunks(Connection& db, int64_t key_id,
                    std::span<const std::span<const Point>> chunks) {
  constexpr int kColumns = 13;
  std::vector<std::byte> buffer;
  for (size_t begin = 0; begin < chunks.size(); begin += kChunksPerInsert) {
    const size_t end = std::min(chunks.size(), begin + kChunksPerInsert);
    std::string sql =
        std::string("INSERT INTO history_chunks (key_id, ") + kStatsColumns + ", data) VALUES ";
    Params params;
    for (size_t i = begin; i < end; ++i) {
      const int first = static_cast<int>(i - begin) * kColumns + 1;
      sql += i == begin ? "(" : ", (";
      for (int column = 0; column < kColumns; ++column) {
        if (column > 0) sql += ", ";
        sql += '$';
        sql += std::to_string(first + column);
      }
      sql += ')';
      EncodeChunk(chunks[i], &buffer);
      params.Int(key_id);
      AddStats(params, StatsOf(chunks[i]));
      params.Bytes(buffer);
    }
    LABBOOK_RETURN_IF_ERROR(db.Query(sql, std::move(params)).status());
  }
  return Status::Ok();
}

// Replaces the points of a chunk whose first step stays the same.
Status RewriteChunk(Connection& db, int64_t key_id, std::span<const Point> points,
                    std::vector<std::byte>* buffer) {
  EncodeChunk(points, buffer);
  Params params;
  params.Int(key_id);
  AddStats(params, StatsOf(points));
  params.Bytes(*buffer);
  return db
      .Query(
          "UPDATE history_chunks SET last_step = $3, count = $4, min_value = $5, "
          "min_step = $6, min_wall_time = $7, max_value = $8, max_step = $9, "
          "max_wall_time = $10, finite_min = $11, finite_max = $12, data = $13 "
          "WHERE key_id = $1 AND first_step = $2",
          std::move(params))
      .status();
}

// The chunks' statistics of the key that hold steps in [min_step, max_step], in step order; with
// their points when `with_data` (column 11).
Result<Rows> ChunksOverlapping(Connection& db, int64_t key_id, int64_t min_step, int64_t max_step,
                               bool with_data) {
  // Chunks are disjoint: the one holding min_step starts at the largest first step <= min_step,
  // which the primary key's index finds at once, so a range read never scans earlier chunks.
  return db.Query(std::string("SELECT ") + kStatsColumns + (with_data ? ", data" : "") +
                      " FROM history_chunks WHERE key_id = $1 AND first_step <= $2 AND "
                      "last_step >= $3 AND first_step >= COALESCE((SELECT max(first_step) FROM "
                      "history_chunks WHERE key_id = $1 AND first_step <= $3), $3) "
                      "ORDER BY first_step",
                  Params().Int(key_id).Int(max_step).Int(min_step));
}

std::string ChunkPlace(int64_t key_id) {
  return "the history chunk of key row " + std::to_string(key_id);
}

// The smaller (larger) of two values where NaN stands for "none".
double MinOfPresent(double a, double b) { return std::isnan(a) || b < a ? b : a; }
double MaxOfPresent(double a, double b) { return std::isnan(a) || b > a ? b : a; }

// Updates the key's statistics for points that all come after its last step.
void FoldAppended(std::span<const Point> points, KeyRow* key) {
  if (key->count == 0) key->first_step = points.front().step;
  key->count += static_cast<int64_t>(points.size());
  key->last_step = points.back().step;
  key->last_value = points.back().value;
  const ChunkStats stats = StatsOf(points);
  key->finite_min = MinOfPresent(key->finite_min, stats.finite_min);
  key->finite_max = MaxOfPresent(key->finite_max, stats.finite_max);
}

// The common case: every step after the key's last one. Fills the last chunk, then new ones.
Status AppendPoints(Connection& db, std::span<const Point> points, KeyRow* key) {
  std::vector<std::byte> buffer;
  size_t next = 0;
  if (key->count > 0) {
    LABBOOK_ASSIGN_OR_RETURN(Rows tail,
                             ChunksOverlapping(db, key->id, key->last_step, key->last_step, true));
    if (!tail.empty()) {
      const int last = tail.size() - 1;
      const ChunkStats stats = StatsAt(tail, last);
      if (stats.count < static_cast<int64_t>(kChunkPoints)) {
        LABBOOK_ASSIGN_OR_RETURN(
            ChunkView view, ChunkView::Parse(tail.Bytes(last, 11), stats, ChunkPlace(key->id)));
        std::vector<Point> filled;
        view.AppendTo(0, view.size(), &filled);
        next = std::min(points.size(), kChunkPoints - filled.size());
        filled.insert(filled.end(), points.begin(), points.begin() + static_cast<ptrdiff_t>(next));
        LABBOOK_RETURN_IF_ERROR(RewriteChunk(db, key->id, filled, &buffer));
      }
    }
  }
  std::vector<std::span<const Point>> chunks;
  while (next < points.size()) {
    const size_t take = std::min(kChunkPoints, points.size() - next);
    chunks.push_back(points.subspan(next, take));
    next += take;
  }
  LABBOOK_RETURN_IF_ERROR(InsertChunks(db, key->id, chunks));
  FoldAppended(points, key);
  return Status::Ok();
}

// The rare case: some step at or before the key's last one. The chunks that overlap the new
// steps are read, merged with them and written again as chunks of balanced sizes.
Status MergePoints(Connection& db, std::span<const Point> points, KeyRow* key) {
  const int64_t lo = points.front().step;
  const int64_t hi = points.back().step;
  LABBOOK_ASSIGN_OR_RETURN(Rows overlapping, ChunksOverlapping(db, key->id, lo, hi, true));
  std::vector<Point> older;
  for (int i = 0; i < overlapping.size(); ++i) {
    LABBOOK_ASSIGN_OR_RETURN(
        ChunkView view,
        ChunkView::Parse(overlapping.Bytes(i, 11), StatsAt(overlapping, i), ChunkPlace(key->id)));
    view.AppendTo(0, view.size(), &older);
  }
  if (!overlapping.empty()) {
    LABBOOK_RETURN_IF_ERROR(db.Query("DELETE FROM history_chunks WHERE key_id = $1 AND "
                                     "first_step >= $2 AND first_step <= $3",
                                     Params()
                                         .Int(key->id)
                                         .Int(overlapping.Int(0, 0))
                                         .Int(overlapping.Int(overlapping.size() - 1, 0)))
                                .status());
  }
  const std::vector<Point> merged = MergeNewerWins(older, points);
  const size_t count = (merged.size() + kChunkPoints - 1) / kChunkPoints;
  std::vector<std::span<const Point>> chunks;
  for (size_t i = 0; i < count; ++i) {
    const size_t begin = merged.size() * i / count;
    const size_t end = merged.size() * (i + 1) / count;
    chunks.push_back(std::span<const Point>(merged).subspan(begin, end - begin));
  }
  LABBOOK_RETURN_IF_ERROR(InsertChunks(db, key->id, chunks));
  key->count += static_cast<int64_t>(merged.size()) - static_cast<int64_t>(older.size());
  key->first_step = std::min(key->first_step, lo);
  if (hi >= key->last_step) {
    key->last_step = hi;
    key->last_value = merged.back().value;
  }
  // An overwritten point may have been the key's extreme: ask every chunk again. min() and max()
  // of double precision order NaN above every number, so chunks without a finite value (NaN)
  // are left out.
  LABBOOK_ASSIGN_OR_RETURN(Rows extremes,
                           db.Query("SELECT min(finite_min) FILTER (WHERE finite_min <> 'NaN'), "
                                    "max(finite_max) FILTER (WHERE finite_max <> 'NaN') "
                                    "FROM history_chunks WHERE key_id = $1",
                                    Params().Int(key->id)));
  key->finite_min = extremes.Double(0, 0);
  key->finite_max = extremes.Double(0, 1);
  return Status::Ok();
}

void AppendPoint(const Point& p, Series* series) {
  series->steps.push_back(p.step);
  series->values.push_back(p.value);
  series->wall_times.push_back(p.wall_time);
}

// The points of chunks read with their data (column 11), in range, appended to `series`.
Status AppendInRange(const Rows& rows, const HistoryQuery& query, const std::string& place,
                     Series* series) {
  for (int i = 0; i < rows.size(); ++i) {
    const ChunkStats stats = StatsAt(rows, i);
    LABBOOK_ASSIGN_OR_RETURN(ChunkView view, ChunkView::Parse(rows.Bytes(i, 11), stats, place));
    const size_t begin = view.LowerBound(query.min_step);
    const size_t end = query.max_step == std::numeric_limits<int64_t>::max()
                           ? view.size()
                           : view.LowerBound(query.max_step + 1);
    if (end > begin) {
      view.AppendColumnsTo(begin, end, &series->steps, &series->values, &series->wall_times);
    }
  }
  series->points_in_range = static_cast<int64_t>(series->steps.size());
  return Status::Ok();
}

// The data of the key's chunks that start at `first_steps` (ascending): row i holds the chunk
// first_steps[i] in column 0 and its data in column 1.
Result<Rows> ChunkData(Connection& db, int64_t key_id, const std::vector<int64_t>& first_steps,
                       const std::string& place) {
  LABBOOK_ASSIGN_OR_RETURN(
      Rows rows, db.Query("SELECT first_step, data FROM history_chunks WHERE key_id = $1 AND "
                          "first_step = ANY($2::bigint[]) ORDER BY first_step",
                          Params().Int(key_id).IntArray(first_steps)));
  if (rows.size() != static_cast<int>(first_steps.size())) {
    return DataLoss(place + ": " + std::to_string(first_steps.size() - rows.size()) +
                    " chunks vanished while being read");
  }
  return rows;
}

}  // namespace

Status WriteKeyPoints(Connection& db, const std::string& run_id, const std::string& key,
                      std::vector<Point> points) {
  if (points.empty()) return Status::Ok();
  SortKeepingLastOfEachStep(&points);
  LABBOOK_ASSIGN_OR_RETURN(KeyRow row, LockKey(db, run_id, key));
  if (row.count == 0 || points.front().step > row.last_step) {
    LABBOOK_RETURN_IF_ERROR(AppendPoints(db, points, &row));
  } else {
    LABBOOK_RETURN_IF_ERROR(MergePoints(db, points, &row));
  }
  return SaveKey(db, row);
}

Result<std::vector<KeyInfo>> ReadKeyInfos(Connection& db, const std::string& run_id) {
  LABBOOK_ASSIGN_OR_RETURN(Rows rows,
                           db.Query("SELECT key, count, first_step, last_step, last_value, "
                                    "finite_min, finite_max FROM history_keys "
                                    "WHERE run_id = $1 AND count > 0 ORDER BY key",
                                    Params().Text(run_id)));
  std::vector<KeyInfo> keys;
  for (int i = 0; i < rows.size(); ++i) {
    keys.push_back(KeyInfo{rows.Text(i, 0), rows.Int(i, 1), rows.Int(i, 2), rows.Int(i, 3),
                           rows.Double(i, 4), rows.Double(i, 5), rows.Double(i, 6)});
  }
  return keys;
}

Result<Series> ReadSeries(Connection& db, const std::string& run_id, const std::string& key,
                          const HistoryQuery& query) {
  LABBOOK_ASSIGN_OR_RETURN(std::optional<KeyRow> row, FindKey(db, run_id, key, false));
  if (!row || row->count == 0) {
    return NotFound("run '" + run_id + "' has no history key '" + key + "'");
  }
  Series series;
  series.key = key;
  const std::string place = "history key '" + key + "' of run '" + run_id + "'";
  if (query.max_points == 0) {
    LABBOOK_ASSIGN_OR_RETURN(Rows rows,
                             ChunksOverlapping(db, row->id, query.min_step, query.max_step, true));
    LABBOOK_RETURN_IF_ERROR(AppendInRange(rows, query, place, &series));
    return series;
  }
  // Statistics first: most chunks of a downsampled read are never decoded.
  LABBOOK_ASSIGN_OR_RETURN(Rows chunks,
                           ChunksOverlapping(db, row->id, query.min_step, query.max_step, false));
  std::vector<ChunkStats> stats;
  int64_t most = 0;
  for (int i = 0; i < chunks.size(); ++i) {
    stats.push_back(StatsAt(chunks, i));
    most += stats.back().count;
  }
  if (most <= static_cast<int64_t>(query.max_points)) {
    LABBOOK_ASSIGN_OR_RETURN(Rows rows,
                             ChunksOverlapping(db, row->id, query.min_step, query.max_step, true));
    LABBOOK_RETURN_IF_ERROR(AppendInRange(rows, query, place, &series));
    return series;
  }
  auto inside = [&](const ChunkStats& s) {
    return s.first_step >= query.min_step && s.last_step <= query.max_step;
  };
  // The chunks cut by an end of the range (at most two), decoded to count their points in range.
  std::vector<int64_t> cut;
  for (const ChunkStats& s : stats) {
    if (!inside(s)) cut.push_back(s.first_step);
  }
  LABBOOK_ASSIGN_OR_RETURN(Rows cut_data, ChunkData(db, row->id, cut, place));
  std::vector<std::vector<Point>> cut_points(stats.size());
  int64_t first_step = 0;
  int64_t last_step = 0;
  bool any = false;
  for (size_t i = 0, next_cut = 0; i < stats.size(); ++i) {
    if (inside(stats[i])) {
      series.points_in_range += stats[i].count;
    } else {
      LABBOOK_ASSIGN_OR_RETURN(
          ChunkView view,
          ChunkView::Parse(cut_data.Bytes(static_cast<int>(next_cut++), 1), stats[i], place));
      const size_t begin = view.LowerBound(query.min_step);
      const size_t end = query.max_step == std::numeric_limits<int64_t>::max()
                             ? view.size()
                             : view.LowerBound(query.max_step + 1);
      view.AppendTo(begin, std::max(begin, end), &cut_points[i]);
      series.points_in_range += static_cast<int64_t>(cut_points[i].size());
      if (cut_points[i].empty()) continue;
    }
    const int64_t piece_first = inside(stats[i]) ? stats[i].first_step : cut_points[i].front().step;
    const int64_t piece_last = inside(stats[i]) ? stats[i].last_step : cut_points[i].back().step;
    if (!any) first_step = piece_first;
    last_step = piece_last;
    any = true;
  }
  if (!any) return series;
  std::optional<Downsampler> downsampler;
  if (series.points_in_range > static_cast<int64_t>(query.max_points)) {
    downsampler.emplace(first_step, last_step, query.max_points);
  }
  // The inside chunks whose points are needed: all of them when the range fits after all, else
  // those that a bucket boundary cuts or whose values are all NaN.
  std::vector<int64_t> needed;
  for (const ChunkStats& s : stats) {
    if (!inside(s)) continue;
    if (!downsampler || !s.min || !downsampler->InOneBucket(s.first_step, s.last_step)) {
      needed.push_back(s.first_step);
    }
  }
  LABBOOK_ASSIGN_OR_RETURN(Rows data, ChunkData(db, row->id, needed, place));
  std::vector<Point> kept;
  auto add = [&](const Point& p) {
    if (downsampler) {
      downsampler->AddPoint(p);
    } else {
      kept.push_back(p);
    }
  };
  for (size_t i = 0, next = 0; i < stats.size(); ++i) {
    if (!inside(stats[i])) {
      for (const Point& p : cut_points[i]) add(p);
    } else if (next < needed.size() && needed[next] == stats[i].first_step) {
      LABBOOK_ASSIGN_OR_RETURN(
          ChunkView view,
          ChunkView::Parse(data.Bytes(static_cast<int>(next++), 1), stats[i], place));
      for (size_t j = 0; j < view.size(); ++j) add(view.point(j));
    } else {
      downsampler->AddExtremes(stats[i]);
    }
  }
  if (downsampler) {
    kept = downsampler->Finish();
    series.downsampled = true;
  }
  for (const Point& p : kept) AppendPoint(p, &series);
  return series;
}

}  // namespace labbook::track::postgres
