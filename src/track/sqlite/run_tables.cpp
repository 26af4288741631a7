#include "track/sqlite/run_tables.hpp"

#include "core/status_macros.hpp"

namespace labbook::track::sqlite {
namespace {

constexpr char kSelectRun[] =
    "SELECT r.id, e.name, p.name, r.name, r.run_group, r.tags, r.notes, r.state, r.config, "
    "r.summary, r.host, r.pid, r.git_commit, r.start_time, r.heartbeat_time, r.end_time, "
    "r.exit_code FROM runs r JOIN projects p ON p.id = r.project_id "
    "JOIN entities e ON e.id = p.entity_id ";

Result<nlohmann::json> ParseColumn(const Connection& db, const std::string& run_id,
                                   std::string_view column, const std::string& text) {
  nlohmann::json value = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) {
    return DataLoss(db.path() + ": run '" + run_id + "': the " + std::string(column) +
                    " column does not hold valid JSON");
  }
  return value;
}

Result<RunInfo> RunAt(const Connection& db, const Statement& stmt) {
  RunInfo run;
  run.id = stmt.Text(0);
  run.entity = stmt.Text(1);
  run.project = stmt.Text(2);
  run.name = stmt.Text(3);
  run.group = stmt.Text(4);
  LABBOOK_ASSIGN_OR_RETURN(nlohmann::json tags, ParseColumn(db, run.id, "tags", stmt.Text(5)));
  if (!tags.is_array()) return DataLoss(db.path() + ": run '" + run.id + "': tags not a list");
  for (const nlohmann::json& tag : tags) {
    if (tag.is_string()) run.tags.push_back(tag.get<std::string>());
  }
  run.notes = stmt.Text(6);
  const std::optional<RunState> state = ParseRunState(stmt.Text(7));
  if (!state) return DataLoss(db.path() + ": run '" + run.id + "': unknown state");
  run.state = *state;
  LABBOOK_ASSIGN_OR_RETURN(run.config, ParseColumn(db, run.id, "config", stmt.Text(8)));
  LABBOOK_ASSIGN_OR_RETURN(run.summary, ParseColumn(db, run.id, "summary", stmt.Text(9)));
  run.host = stmt.Text(10);
  run.pid = stmt.Int(11);
  run.git_commit = stmt.Text(12);
  run.start_time = stmt.Double(13);
  run.heartbeat_time = stmt.Double(14);
  run.end_time = stmt.Double(15);
  if (!stmt.IsNull(16)) run.exit_code = static_cast<int>(stmt.Int(16));
  return run;
}

// The id of the row named `name` (?1), under `parent` (?2) when given, inserted when missing.
Result<int64_t> FindOrCreateName(Connection& db, const std::string& select,
                                 const std::string& insert, std::optional<int64_t> parent,
                                 const std::string& name) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    LABBOOK_ASSIGN_OR_RETURN(Statement find, db.Prepare(select));
    if (parent) find.BindInt(2, *parent);
    LABBOOK_ASSIGN_OR_RETURN(bool found, find.BindText(1, name).Step());
    if (found) return find.Int(0);
    LABBOOK_ASSIGN_OR_RETURN(Statement add, db.Prepare(insert));
    if (parent) add.BindInt(2, *parent);
    LABBOOK_RETURN_IF_ERROR(add.BindText(1, name).Run());
  }
  return Internal(db.path() + ": '" + name + "' was inserted but cannot be found");
}

}  // namespace

std::string JsonText(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<int64_t> FindOrCreateProject(Connection& db, const std::string& entity,
                                    const std::string& project) {
  LABBOOK_ASSIGN_OR_RETURN(
      int64_t entity_id,
      FindOrCreateName(db, "SELECT id FROM entities WHERE name = ?1",
                       "INSERT INTO entities (name) VALUES (?1)", std::nullopt, entity));
  return FindOrCreateName(db, "SELECT id FROM projects WHERE name = ?1 AND entity_id = ?2",
                          "INSERT INTO projects (name, entity_id) VALUES (?1, ?2)", entity_id,
                          project);
}

Result<bool> RunExists(Connection& db, const std::string& run_id) {
  LABBOOK_ASSIGN_OR_RETURN(Statement stmt, db.Prepare("SELECT 1 FROM runs WHERE id = ?1"));
  return stmt.BindText(1, run_id).Step();
}

Result<std::vector<std::string>> RunIdsStartingWith(Connection& db, const std::string& prefix,
                                                    int limit) {
  // Ids are [0-9a-z], and '{' follows 'z'.
  LABBOOK_ASSIGN_OR_RETURN(
      Statement stmt,
      db.Prepare("SELECT id FROM runs WHERE id >= ?1 AND id < ?2 ORDER BY id LIMIT ?3"));
  stmt.BindText(1, prefix).BindText(2, prefix + "{").BindInt(3, limit);
  std::vector<std::string> ids;
  for (;;) {
    LABBOOK_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return ids;
    ids.push_back(stmt.Text(0));
  }
}

Status InsertRun(Connection& db, int64_t project_id, const RunInfo& run) {
  LABBOOK_ASSIGN_OR_RETURN(
      Statement stmt,
      db.Prepare("INSERT INTO runs (id, project_id, name, run_group, tags, notes, state, config, "
                 "summary, host, pid, git_commit, start_time, heartbeat_time, end_time, "
                 "exit_code) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, "
                 "?14, ?15, ?16)"));
  stmt.BindText(1, run.id).BindInt(2, project_id).BindText(3, run.name).BindText(4, run.group);
  stmt.BindText(5, JsonText(run.tags)).BindText(6, run.notes);
  stmt.BindText(7, RunStateName(run.state)).BindText(8, JsonText(run.config));
  stmt.BindText(9, JsonText(run.summary)).BindText(10, run.host).BindInt(11, run.pid);
  stmt.BindText(12, run.git_commit).BindDouble(13, run.start_time);
  stmt.BindDouble(14, run.heartbeat_time).BindDouble(15, run.end_time);
  if (run.exit_code) {
    stmt.BindInt(16, *run.exit_code);
  } else {
    stmt.BindNull(16);
  }
  return stmt.Run();
}

Status SaveRun(Connection& db, const RunInfo& run) {
  LABBOOK_ASSIGN_OR_RETURN(
      Statement stmt,
      db.Prepare("UPDATE runs SET name = ?2, run_group = ?3, tags = ?4, notes = ?5, state = ?6, "
                 "config = ?7, summary = ?8, host = ?9, pid = ?10, git_commit = ?11, "
                 "start_time = ?12, heartbeat_time = ?13, end_time = ?14, exit_code = ?15 "
                 "WHERE id = ?1"));
  stmt.BindText(1, run.id).BindText(2, run.name).BindText(3, run.group);
  stmt.BindText(4, JsonText(run.tags)).BindText(5, run.notes);
  stmt.BindText(6, RunStateName(run.state)).BindText(7, JsonText(run.config));
  stmt.BindText(8, JsonText(run.summary)).BindText(9, run.host).BindInt(10, run.pid);
  stmt.BindText(11, run.git_commit).BindDouble(12, run.start_time);
  stmt.BindDouble(13, run.heartbeat_time).BindDouble(14, run.end_time);
  if (run.exit_code) {
    stmt.BindInt(15, *run.exit_code);
  } else {
    stmt.BindNull(15);
  }
  return stmt.Run();
}

Result<std::optional<RunInfo>> LoadRun(Connection& db, const std::string& run_id) {
  LABBOOK_ASSIGN_OR_RETURN(Statement stmt, db.Prepare(std::string(kSelectRun) + "WHERE r.id = ?1"));
  LABBOOK_ASSIGN_OR_RETURN(bool found, stmt.BindText(1, run_id).Step());
  if (!found) return std::optional<RunInfo>();
  LABBOOK_ASSIGN_OR_RETURN(RunInfo run, RunAt(db, stmt));
  return std::optional<RunInfo>(std::move(run));
}

Result<std::vector<RunInfo>> LoadRuns(Connection& db, const RunQuery& query) {
  LABBOOK_ASSIGN_OR_RETURN(Statement stmt,
                           db.Prepare(std::string(kSelectRun) +
                                      "WHERE (?1 = '' OR e.name = ?1) AND (?2 = '' OR p.name = ?2) "
                                      "ORDER BY r.start_time DESC, r.rowid DESC"));
  stmt.BindText(1, query.entity).BindText(2, query.project);
  std::vector<RunInfo> runs;
  for (;;) {
    LABBOOK_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return runs;
    LABBOOK_ASSIGN_OR_RETURN(RunInfo run, RunAt(db, stmt));
    runs.push_back(std::move(run));
  }
}

Status DeleteRunRow(Connection& db, const std::string& run_id) {
  LABBOOK_ASSIGN_OR_RETURN(Statement stmt, db.Prepare("DELETE FROM runs WHERE id = ?1"));
  return stmt.BindText(1, run_id).Run();
}

}  // namespace labbook::track::sqlite
