// Runs' history in the SQLite store: the history_keys, history_chunks and history_points tables
// (migrations/0001_initial.sql). Every function runs inside the caller's transaction, on a run
// that exists; errors name the store's path, and the run and key where they matter.
#pragma once

#include <string>
#include <vector>

#include "track/history/history_chunk.hpp"
#include "track/sqlite/connection.hpp"
#include "track/store.hpp"

namespace labbook::track::sqlite {

using history::Point;

// Stores `points` under `key` of run `run_id`, in any step order; of the points that share a step
// (in `points` or already stored) the last one wins. Appending steps after the key's last step
// rewrites at most its partly filled last chunk; earlier steps merge into the chunks they overlap.
[[nodiscard]] Status WriteKeyPoints(Connection& db, const std::string& run_id,
                                    const std::string& key, std::vector<Point> points);

// Every key of the run, by name.
[[nodiscard]] Result<std::vector<KeyInfo>> ReadKeyInfos(Connection& db, const std::string& run_id);

// kNotFound when the run has no point under `key`. Downsampling reads the points of at most the
// chunks that straddle a bucket boundary or an end of the range; the others stand for themselves
// by their statistics.
[[nodiscard]] Result<Series> ReadSeries(Connection& db, const std::string& run_id,
                                        const std::string& key, const HistoryQuery& query);

}  // namespace labbook::track::sqlite
