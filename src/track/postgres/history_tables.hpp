// Runs' history in the PostgreSQL store: the history_keys and history_chunks tables
// (migrations/0001_initial.sql), chunks in the format of track/history/history_chunk.hpp. Every
// function runs inside the caller's transaction, on a run that exists; errors name the store and
// the run and key where they matter.
#pragma once

#include <string>
#include <vector>

#include "track/history/history_chunk.hpp"
#include "track/postgres/connection.hpp"
#include "track/store.hpp"

namespace labbook::track::postgres {

// Stores `points` under `key` of run `run_id`, in any step order; of the points that share a step
// (in `points` or already stored) the last one wins. The key's row is locked first (FOR UPDATE),
// so concurrent writers of one key take turns; callers lock keys in name order, so two
// transactions writing the same keys never deadlock. Appending steps after the key's last step
// rewrites at most its partly filled last chunk; earlier steps merge into the chunks they overlap.
[[nodiscard]] Status WriteKeyPoints(Connection& db, const std::string& run_id,
                                    const std::string& key, std::vector<history::Point> points);

// Every key of the run, by name.
[[nodiscard]] Result<std::vector<KeyInfo>> ReadKeyInfos(Connection& db, const std::string& run_id);

// kNotFound when the run has no point under `key`. Downsampling reads the points of at most the
// chunks that straddle a bucket boundary or an end of the range, in one query; the others stand
// for themselves by their statistics.
[[nodiscard]] Result<Series> ReadSeries(Connection& db, const std::string& run_id,
                                        const std::string& key, const HistoryQuery& query);

}  // namespace labbook::track::postgres
