#include "track/sqlite/history_tables.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

#include "core/status_macros.hpp"
#include "track/history/downsampler.hpp"

namespace labbook::track::sqlite {
namespace {

using history::ChunkStats;
using history::ChunkView;
using history::Downsampler;
using history::EncodeChunk;
using history::kChunkPoints;
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

// A chunk's row of history_chunks.
struct ChunkRow {
  ChunkStats stats;
  int64_t points_id = 0;
};

constexpr char kChunkColumns[] =
    "first_step, last_step, count, min_value, min_step, min_wall_time, max_value, max_step, "
    "max_wall_time, finite_min, finite_max, points_id";

ChunkRow ChunkRowAt(const Statement& stmt) {
  ChunkRow row;
  row.stats.first_step = stmt.Int(0);
  row.stats.last_step = stmt.Int(1);
  row.stats.count = stmt.Int(2);
  if (!stmt.IsNull(3)) {
    row.stats.min = Point{stmt.Int(4), stmt.Double(3), stmt.Double(5)};
    row.stats.max = Point{stmt.Int(7), stmt.Double(6), stmt.Double(8)};
  }
  row.stats.finite_min = stmt.Double(9);
  row.stats.finite_max = stmt.Double(10);
  row.points_id = stmt.Int(11);
  return row;
}

// Binds the statistics to parameters `first`.. first + 10, in kChunkColumns' order.
void BindStats(Statement& stmt, int first, const ChunkStats& stats) {
  stmt.BindInt(first, stats.first_step).BindInt(first + 1, stats.last_step);
  stmt.BindInt(first + 2, stats.count);
  int i = first + 3;
  for (const std::optional<Point>& extreme : {stats.min, stats.max}) {
    if (extreme) {
      stmt.BindDouble(i, extreme->value).BindInt(i + 1, extreme->step);
      stmt.BindDouble(i + 2, extreme->wall_time);
    } else {
      stmt.BindNull(i).BindNull(i + 1).BindNull(i + 2);
    }
    i += 3;
  }
  stmt.BindDouble(i, stats.finite_min).BindDouble(i + 1, stats.finite_max);
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
                                      const std::string& key) {
  LABBOOK_ASSIGN_OR_RETURN(Statement stmt,
                           db.Prepare("SELECT id, count, first_step, last_step, last_value, "
                                      "finite_min, finite_max FROM history_keys "
                                      "WHERE run_id = ?1 AND key = ?2"));
  stmt.BindText(1, run_id).BindText(2, key);
  LABBOOK_ASSIGN_OR_RETURN(bool found, stmt.Step());
  if (!found) return std::optional<KeyRow>();
  return std::optional<KeyRow>(KeyRow{stmt.Int(0), stmt.Int(1), stmt.Int(2), stmt.Int(3),
                                      stmt.Double(4), stmt.Double(5), stmt.Double(6)});
}

Result<KeyRow> FindOrInsertKey(Connection& db, const std::string& run_id, const std::string& key) {
  LABBOOK_ASSIGN_OR_RETURN(std::optional<KeyRow> found, FindKey(db, run_id, key));
  if (found) return *found;
  LABBOOK_ASSIGN_OR_RETURN(Statement stmt,
                           db.Prepare("INSERT INTO history_keys (run_id, key, count, first_step, "
                                      "last_step) VALUES (?1, ?2, 0, 0, 0)"));
  LABBOOK_RETURN_IF_ERROR(stmt.BindText(1, run_id).BindText(2, key).Run());
  KeyRow row;
  row.id = db.LastInsertRowid();
  return row;
}

Status SaveKey(Connection& db, const KeyRow& row) {
  LABBOOK_ASSIGN_OR_RETURN(Statement stmt,
                           db.Prepare("UPDATE history_keys SET count = ?2, first_step = ?3, "
                                      "last_step = ?4, last_value = ?5, finite_min = ?6, "
                                      "finite_max = ?7 WHERE id = ?1"));
  stmt.BindInt(1, row.id).BindInt(2, row.count).BindInt(3, row.first_step);
  stmt.BindInt(4, row.last_step).BindDouble(5, row.last_value);
  stmt.BindDouble(6, row.finite_min).BindDouble(7, row.finite_max);
  return stmt.Run();
}

Status InsertChunk(Connection& db, int64_t key_id, std::span<const Point> points,
                   std::vector<std::byte>* buffer) {
  EncodeChunk(points, buffer);
  {
    LABBOOK_ASSIGN_OR_RETURN(Statement stmt,
                             db.Prepare("INSERT INTO history_points (data) VALUES (?1)"));
    LABBOOK_RETURN_IF_ERROR(stmt.BindBlob(1, *buffer).Run());
  }
  const int64_t points_id = db.LastInsertRowid();
  static const std::string kInsert =
      std::string("INSERT INTO history_chunks (key_id, ") + kChunkColumns +
      ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)";
  LABBOOK_ASSIGN_OR_RETURN(Statement stmt, db.Prepare(kInsert));
  stmt.BindInt(1, key_id);
  BindStats(stmt, 2, StatsOf(points));
  return stmt.BindInt(13, points_id).Run();
}

// Replaces the points of a chunk whose first step stays the same.
Status RewriteChunk(Connection& db, int64_t key_id, const ChunkRow& chunk,
                    std::span<const Point> points, std::vector<std::byte>* buffer) {
  EncodeChunk(points, buffer);
  {
    LABBOOK_ASSIGN_OR_RETURN(Statement stmt,
                             db.Prepare("UPDATE history_points SET data = ?2 WHERE id = ?1"));
    LABBOOK_RETURN_IF_ERROR(stmt.BindInt(1, chunk.points_id).BindBlob(2, *buffer).Run());
  }
  LABBOOK_ASSIGN_OR_RETURN(
      Statement stmt,
      db.Prepare("UPDATE history_chunks SET last_step = ?3, count = ?4, min_value = ?5, "
                 "min_step = ?6, min_wall_time = ?7, max_value = ?8, max_step = ?9, "
                 "max_wall_time = ?10, finite_min = ?11, finite_max = ?12 "
                 "WHERE key_id = ?1 AND first_step = ?2"));
  stmt.BindInt(1, key_id);
  BindStats(stmt, 2, StatsOf(points));
  return stmt.Run();
}

Status DeleteChunk(Connection& db, int64_t key_id, const ChunkRow& chunk) {
  // The trigger history_chunks_free_points deletes its points.
  LABBOOK_ASSIGN_OR_RETURN(
      Statement stmt,
      db.Prepare("DELETE FROM history_chunks WHERE key_id = ?1 AND first_step = ?2"));
  return stmt.BindInt(1, key_id).BindInt(2, chunk.stats.first_step).Run();
}

// Calls `use(view)` with the points of `chunk`; the view lives as long as the call.
template <typename Use>
Status WithChunkPoints(Connection& db, const ChunkRow& chunk, Use use) {
  LABBOOK_ASSIGN_OR_RETURN(Statement stmt,
                           db.Prepare("SELECT data FROM history_points WHERE id = ?1"));
  LABBOOK_ASSIGN_OR_RETURN(bool found, stmt.BindInt(1, chunk.points_id).Step());
  if (!found) {
    return DataLoss(db.path() + ": the history chunk at step " +
                    std::to_string(chunk.stats.first_step) + " has lost its points");
  }
  LABBOOK_ASSIGN_OR_RETURN(ChunkView view, ChunkView::Parse(stmt.Blob(0), chunk.stats, db.path()));
  use(view);
  return Status::Ok();
}

Result<std::vector<Point>> ChunkPoints(Connection& db, const ChunkRow& chunk) {
  std::vector<Point> points;
  LABBOOK_RETURN_IF_ERROR(WithChunkPoints(
      db, chunk, [&](const ChunkView& view) { view.AppendTo(0, view.size(), &points); }));
  return points;
}

// The chunks of the key that hold steps in [min_step, max_step], in step order.
Result<std::vector<ChunkRow>> ChunksOverlapping(Connection& db, int64_t key_id, int64_t min_step,
                                                int64_t max_step) {
  // Backwards from max_step: chunks are disjoint, so the first one that ends before min_step
  // ends the search.
  static const std::string kSelect =
      std::string("SELECT ") + kChunkColumns +
      " FROM history_chunks WHERE key_id = ?1 AND first_step <= ?2 ORDER BY first_step DESC";
  LABBOOK_ASSIGN_OR_RETURN(Statement stmt, db.Prepare(kSelect));
  stmt.BindInt(1, key_id).BindInt(2, max_step);
  std::vector<ChunkRow> chunks;
  for (;;) {
    LABBOOK_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row || stmt.Int(1) < min_step) break;
    chunks.push_back(ChunkRowAt(stmt));
  }
  std::reverse(chunks.begin(), chunks.end());
  return chunks;
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
    LABBOOK_ASSIGN_OR_RETURN(std::vector<ChunkRow> tail,
                             ChunksOverlapping(db, key->id, key->last_step, key->last_step));
    if (!tail.empty() && tail.back().stats.count < static_cast<int64_t>(kChunkPoints)) {
      LABBOOK_ASSIGN_OR_RETURN(std::vector<Point> filled, ChunkPoints(db, tail.back()));
      next = std::min(points.size(), kChunkPoints - filled.size());
      filled.insert(filled.end(), points.begin(), points.begin() + static_cast<ptrdiff_t>(next));
      LABBOOK_RETURN_IF_ERROR(RewriteChunk(db, key->id, tail.back(), filled, &buffer));
    }
  }
  while (next < points.size()) {
    const size_t take = std::min(kChunkPoints, points.size() - next);
    LABBOOK_RETURN_IF_ERROR(InsertChunk(db, key->id, points.subspan(next, take), &buffer));
    next += take;
  }
  FoldAppended(points, key);
  return Status::Ok();
}

// The rare case: some step at or before the key's last one. The chunks that overlap the new
// steps are read, merged with them and written again as chunks of balanced sizes.
Status MergePoints(Connection& db, std::span<const Point> points, KeyRow* key) {
  const int64_t lo = points.front().step;
  const int64_t hi = points.back().step;
  LABBOOK_ASSIGN_OR_RETURN(std::vector<ChunkRow> overlapping,
                           ChunksOverlapping(db, key->id, lo, hi));
  std::vector<Point> older;
  for (const ChunkRow& chunk : overlapping) {
    LABBOOK_RETURN_IF_ERROR(WithChunkPoints(
        db, chunk, [&](const ChunkView& view) { view.AppendTo(0, view.size(), &older); }));
    LABBOOK_RETURN_IF_ERROR(DeleteChunk(db, key->id, chunk));
  }
  const std::vector<Point> merged = MergeNewerWins(older, points);
  std::vector<std::byte> buffer;
  const size_t chunks = (merged.size() + kChunkPoints - 1) / kChunkPoints;
  for (size_t i = 0; i < chunks; ++i) {
    const size_t begin = merged.size() * i / chunks;
    const size_t end = merged.size() * (i + 1) / chunks;
    LABBOOK_RETURN_IF_ERROR(InsertChunk(
        db, key->id, std::span<const Point>(merged).subspan(begin, end - begin), &buffer));
  }
  key->count += static_cast<int64_t>(merged.size()) - static_cast<int64_t>(older.size());
  key->first_step = std::min(key->first_step, lo);
  if (hi >= key->last_step) {
    key->last_step = hi;
    key->last_value = merged.back().value;
  }
  // An overwritten point may have been the key's extreme: ask every chunk again.
  LABBOOK_ASSIGN_OR_RETURN(Statement stmt,
                           db.Prepare("SELECT min(finite_min), max(finite_max) FROM "
                                      "history_chunks WHERE key_id = ?1"));
  LABBOOK_ASSIGN_OR_RETURN(bool row, stmt.BindInt(1, key->id).Step());
  if (row) {
    key->finite_min = stmt.Double(0);
    key->finite_max = stmt.Double(1);
  }
  return Status::Ok();
}

// The chunks in range are either inside it (their statistics stand for them) or straddle one of
// its ends (their points in range are read at once, to count them).
struct Piece {
  ChunkRow chunk;
  bool inside = true;
  std::vector<Point> points;  // when not inside: the chunk's points in range
  int64_t first_step() const { return inside ? chunk.stats.first_step : points.front().step; }
  int64_t last_step() const { return inside ? chunk.stats.last_step : points.back().step; }
  int64_t count() const { return inside ? chunk.stats.count : static_cast<int64_t>(points.size()); }
};

Result<std::vector<Piece>> PiecesInRange(Connection& db, int64_t key_id,
                                         const HistoryQuery& query) {
  LABBOOK_ASSIGN_OR_RETURN(std::vector<ChunkRow> chunks,
                           ChunksOverlapping(db, key_id, query.min_step, query.max_step));
  std::vector<Piece> pieces;
  pieces.reserve(chunks.size());
  for (ChunkRow& chunk : chunks) {
    Piece piece;
    piece.chunk = chunk;
    piece.inside =
        chunk.stats.first_step >= query.min_step && chunk.stats.last_step <= query.max_step;
    if (!piece.inside) {
      LABBOOK_RETURN_IF_ERROR(WithChunkPoints(db, chunk, [&](const ChunkView& view) {
        const size_t begin = view.LowerBound(query.min_step);
        const size_t end = query.max_step == std::numeric_limits<int64_t>::max()
                               ? view.size()
                               : view.LowerBound(query.max_step + 1);
        view.AppendTo(begin, std::max(begin, end), &piece.points);
      }));
      if (piece.points.empty()) continue;
    }
    pieces.push_back(std::move(piece));
  }
  return pieces;
}

Status ReadAll(Connection& db, const std::vector<Piece>& pieces, Series* series) {
  series->steps.reserve(static_cast<size_t>(series->points_in_range));
  series->values.reserve(static_cast<size_t>(series->points_in_range));
  series->wall_times.reserve(static_cast<size_t>(series->points_in_range));
  for (const Piece& piece : pieces) {
    if (piece.inside) {
      LABBOOK_RETURN_IF_ERROR(WithChunkPoints(db, piece.chunk, [&](const ChunkView& view) {
        view.AppendColumnsTo(0, view.size(), &series->steps, &series->values, &series->wall_times);
      }));
      continue;
    }
    for (const Point& p : piece.points) {
      series->steps.push_back(p.step);
      series->values.push_back(p.value);
      series->wall_times.push_back(p.wall_time);
    }
  }
  return Status::Ok();
}

Status ReadDownsampled(Connection& db, const std::vector<Piece>& pieces, size_t max_points,
                       Series* series) {
  Downsampler downsampler(pieces.front().first_step(), pieces.back().last_step(), max_points);
  for (const Piece& piece : pieces) {
    const ChunkStats& stats = piece.chunk.stats;
    if (piece.inside && stats.min && downsampler.InOneBucket(stats.first_step, stats.last_step)) {
      downsampler.AddExtremes(stats);
    } else if (piece.inside) {
      LABBOOK_RETURN_IF_ERROR(WithChunkPoints(db, piece.chunk, [&](const ChunkView& view) {
        for (size_t i = 0; i < view.size(); ++i) downsampler.AddPoint(view.point(i));
      }));
    } else {
      for (const Point& p : piece.points) downsampler.AddPoint(p);
    }
  }
  for (const Point& p : downsampler.Finish()) {
    series->steps.push_back(p.step);
    series->values.push_back(p.value);
    series->wall_times.push_back(p.wall_time);
  }
  series->downsampled = true;
  return Status::Ok();
}

}  // namespace

Status WriteKeyPoints(Connection& db, const std::string& run_id, const std::string& key,
                      std::vector<Point> points) {
  if (points.empty()) return Status::Ok();
  SortKeepingLastOfEachStep(&points);
  LABBOOK_ASSIGN_OR_RETURN(KeyRow row, FindOrInsertKey(db, run_id, key));
  if (row.count == 0 || points.front().step > row.last_step) {
    LABBOOK_RETURN_IF_ERROR(AppendPoints(db, points, &row));
  } else {
    LABBOOK_RETURN_IF_ERROR(MergePoints(db, points, &row));
  }
  return SaveKey(db, row);
}

Result<std::vector<KeyInfo>> ReadKeyInfos(Connection& db, const std::string& run_id) {
  LABBOOK_ASSIGN_OR_RETURN(Statement stmt,
                           db.Prepare("SELECT key, count, first_step, last_step, last_value, "
                                      "finite_min, finite_max FROM history_keys "
                                      "WHERE run_id = ?1 ORDER BY key"));
  stmt.BindText(1, run_id);
  std::vector<KeyInfo> keys;
  for (;;) {
    LABBOOK_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    keys.push_back(KeyInfo{stmt.Text(0), stmt.Int(1), stmt.Int(2), stmt.Int(3), stmt.Double(4),
                           stmt.Double(5), stmt.Double(6)});
  }
  return keys;
}

Result<Series> ReadSeries(Connection& db, const std::string& run_id, const std::string& key,
                          const HistoryQuery& query) {
  LABBOOK_ASSIGN_OR_RETURN(std::optional<KeyRow> row, FindKey(db, run_id, key));
  if (!row) return NotFound("run '" + run_id + "' has no history key '" + key + "'");
  Series series;
  series.key = key;
  LABBOOK_ASSIGN_OR_RETURN(std::vector<Piece> pieces, PiecesInRange(db, row->id, query));
  for (const Piece& piece : pieces) series.points_in_range += piece.count();
  if (pieces.empty()) return series;
  if (query.max_points == 0 || series.points_in_range <= static_cast<int64_t>(query.max_points)) {
    LABBOOK_RETURN_IF_ERROR(ReadAll(db, pieces, &series));
  } else {
    LABBOOK_RETURN_IF_ERROR(ReadDownsampled(db, pieces, query.max_points, &series));
  }
  return series;
}

}  // namespace labbook::track::sqlite
