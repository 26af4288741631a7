// Entities, projects and runs in the SQLite store (migrations/0001_initial.sql). Every function
// runs inside the caller's transaction and takes validated arguments; errors name the store's
// path and the run.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "track/sqlite/connection.hpp"
#include "track/store.hpp"

namespace labbook::track::sqlite {

// The project's id, creating the entity and the project when missing.
[[nodiscard]] Result<int64_t> FindOrCreateProject(Connection& db, const std::string& entity,
                                                  const std::string& project);

[[nodiscard]] Result<bool> RunExists(Connection& db, const std::string& run_id);
// The ids that start with `prefix`, in order, at most `limit` of them.
[[nodiscard]] Result<std::vector<std::string>> RunIdsStartingWith(Connection& db,
                                                                  const std::string& prefix,
                                                                  int limit);

// `run` has its id and name; the id is not taken.
[[nodiscard]] Status InsertRun(Connection& db, int64_t project_id, const RunInfo& run);
// Writes every field of an existing run but its id, entity and project.
[[nodiscard]] Status SaveRun(Connection& db, const RunInfo& run);
[[nodiscard]] Result<std::optional<RunInfo>> LoadRun(Connection& db, const std::string& run_id);
// Newest start first (the later created first among equal starts).
[[nodiscard]] Result<std::vector<RunInfo>> LoadRuns(Connection& db, const RunQuery& query);
// Deletes the run; the schema's cascades remove its history and the versions it used, and
// clear it as the producer of artifact versions.
[[nodiscard]] Status DeleteRunRow(Connection& db, const std::string& run_id);

// JSON as the store writes it: compact, invalid UTF-8 replaced rather than refused.
std::string JsonText(const nlohmann::json& value);

}  // namespace labbook::track::sqlite
