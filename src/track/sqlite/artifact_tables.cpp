#include "track/sqlite/artifact_tables.hpp"

#include "core/status_macros.hpp"
#include "track/sqlite/run_tables.hpp"

namespace labbook::track::sqlite {
namespace {

Result<std::vector<int64_t>> CollectIds(Statement& stmt) {
  std::vector<int64_t> ids;
  for (;;) {
    LABBOOK_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return ids;
    ids.push_back(stmt.Int(0));
  }
}

Result<int64_t> FindOrCreateArtifact(Connection& db, const VersionToAdd& version) {
  {
    LABBOOK_ASSIGN_OR_RETURN(
        Statement find,
        db.Prepare("SELECT id, type FROM artifacts WHERE project_id = ?1 AND name = ?2"));
    LABBOOK_ASSIGN_OR_RETURN(bool found,
                             find.BindInt(1, version.project_id).BindText(2, version.name).Step());
    if (found) {
      if (find.Text(1) != version.type) {
        return InvalidArgument("artifact '" + version.ref + "' has type '" + find.Text(1) +
                               "', not '" + version.type + "'");
      }
      return find.Int(0);
    }
  }
  LABBOOK_ASSIGN_OR_RETURN(
      Statement add,
      db.Prepare("INSERT INTO artifacts (project_id, name, type) VALUES (?1, ?2, ?3)"));
  add.BindInt(1, version.project_id).BindText(2, version.name).BindText(3, version.type);
  LABBOOK_RETURN_IF_ERROR(add.Run());
  return db.LastInsertRowid();
}

Result<int64_t> InsertVersion(Connection& db, int64_t artifact_id, int number,
                              const VersionToAdd& version) {
  {
    LABBOOK_ASSIGN_OR_RETURN(
        Statement stmt,
        db.Prepare("INSERT INTO artifact_versions (artifact_id, version, digest, metadata, "
                   "producer_run, created_time) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"));
    stmt.BindInt(1, artifact_id).BindInt(2, number).BindText(3, version.digest);
    stmt.BindText(4, JsonText(version.metadata)).BindDouble(6, version.created_time);
    if (version.producer_run.empty()) {
      stmt.BindNull(5);
    } else {
      stmt.BindText(5, version.producer_run);
    }
    LABBOOK_RETURN_IF_ERROR(stmt.Run());
  }
  const int64_t version_id = db.LastInsertRowid();
  for (const ArtifactFile& file : version.files) {
    LABBOOK_ASSIGN_OR_RETURN(Statement stmt,
                             db.Prepare("INSERT INTO artifact_files (version_id, path, sha256, "
                                        "size) VALUES (?1, ?2, ?3, ?4)"));
    stmt.BindInt(1, version_id).BindText(2, file.path).BindText(3, file.sha256);
    LABBOOK_RETURN_IF_ERROR(stmt.BindInt(4, file.size).Run());
  }
  return version_id;
}

Status ClaimAliases(Connection& db, int64_t artifact_id, int64_t version_id,
                    const std::vector<std::string>& aliases) {
  for (const std::string& alias : aliases) {
    if (alias == "latest") continue;  // always the newest version, never stored
    LABBOOK_ASSIGN_OR_RETURN(
        Statement stmt, db.Prepare("INSERT INTO artifact_aliases (artifact_id, alias, version_id) "
                                   "VALUES (?1, ?2, ?3) ON CONFLICT (artifact_id, alias) "
                                   "DO UPDATE SET version_id = excluded.version_id"));
    stmt.BindInt(1, artifact_id).BindText(2, alias).BindInt(3, version_id);
    LABBOOK_RETURN_IF_ERROR(stmt.Run());
  }
  return Status::Ok();
}

Status LoadFiles(Connection& db, int64_t version_id, ArtifactVersion* version) {
  LABBOOK_ASSIGN_OR_RETURN(Statement stmt,
                           db.Prepare("SELECT path, sha256, size FROM artifact_files "
                                      "WHERE version_id = ?1 ORDER BY path"));
  stmt.BindInt(1, version_id);
  for (;;) {
    LABBOOK_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return Status::Ok();
    version->files.push_back(ArtifactFile{stmt.Text(0), stmt.Text(1), stmt.Int(2)});
  }
}

Status LoadAliases(Connection& db, int64_t version_id, ArtifactVersion* version) {
  LABBOOK_ASSIGN_OR_RETURN(
      Statement stmt,
      db.Prepare("SELECT alias FROM artifact_aliases WHERE version_id = ?1 ORDER BY alias"));
  stmt.BindInt(1, version_id);
  for (;;) {
    LABBOOK_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return Status::Ok();
    version->aliases.push_back(stmt.Text(0));
  }
}

}  // namespace

Result<int64_t> AddArtifactVersion(Connection& db, const VersionToAdd& version) {
  LABBOOK_ASSIGN_OR_RETURN(int64_t artifact_id, FindOrCreateArtifact(db, version));
  int number = 0;
  int64_t version_id = 0;
  {
    LABBOOK_ASSIGN_OR_RETURN(Statement newest,
                             db.Prepare("SELECT id, version, digest FROM artifact_versions "
                                        "WHERE artifact_id = ?1 ORDER BY version DESC LIMIT 1"));
    LABBOOK_ASSIGN_OR_RETURN(bool found, newest.BindInt(1, artifact_id).Step());
    if (found && newest.Text(2) == version.digest) version_id = newest.Int(0);
    if (found) number = static_cast<int>(newest.Int(1)) + 1;
  }
  if (version_id == 0) {
    LABBOOK_ASSIGN_OR_RETURN(version_id, InsertVersion(db, artifact_id, number, version));
  }
  LABBOOK_RETURN_IF_ERROR(ClaimAliases(db, artifact_id, version_id, version.aliases));
  return version_id;
}

Result<ArtifactVersion> LoadArtifactVersion(Connection& db, int64_t version_id) {
  ArtifactVersion version;
  {
    LABBOOK_ASSIGN_OR_RETURN(
        Statement stmt,
        db.Prepare("SELECT e.name, p.name, a.name, a.type, v.version, v.digest, v.metadata, "
                   "v.producer_run, v.created_time, (SELECT max(version) FROM artifact_versions "
                   "WHERE artifact_id = a.id) FROM artifact_versions v "
                   "JOIN artifacts a ON a.id = v.artifact_id "
                   "JOIN projects p ON p.id = a.project_id "
                   "JOIN entities e ON e.id = p.entity_id WHERE v.id = ?1"));
    LABBOOK_ASSIGN_OR_RETURN(bool found, stmt.BindInt(1, version_id).Step());
    if (!found)
      return Internal(db.path() + ": artifact version row " + std::to_string(version_id) +
                      " vanished");
    version.entity = stmt.Text(0);
    version.project = stmt.Text(1);
    version.name = stmt.Text(2);
    version.type = stmt.Text(3);
    version.version = static_cast<int>(stmt.Int(4));
    version.digest = stmt.Text(5);
    version.metadata = nlohmann::json::parse(stmt.Text(6), nullptr, false);
    if (version.metadata.is_discarded()) {
      return DataLoss(db.path() + ": artifact '" + version.name + ":" +
                      VersionName(version.version) + "': its metadata is not valid JSON");
    }
    version.producer_run = stmt.Text(7);
    version.created_time = stmt.Double(8);
    if (stmt.Int(9) == version.version) version.aliases.push_back("latest");
  }
  LABBOOK_RETURN_IF_ERROR(LoadAliases(db, version_id, &version));
  LABBOOK_RETURN_IF_ERROR(LoadFiles(db, version_id, &version));
  return version;
}

Result<std::optional<int64_t>> FindArtifactVersion(Connection& db, const std::string& entity,
                                                   const std::string& project,
                                                   const std::string& name,
                                                   const std::string& version_or_alias) {
  int64_t artifact_id = 0;
  {
    LABBOOK_ASSIGN_OR_RETURN(
        Statement stmt,
        db.Prepare("SELECT a.id FROM artifacts a JOIN projects p ON p.id = a.project_id "
                   "JOIN entities e ON e.id = p.entity_id "
                   "WHERE e.name = ?1 AND p.name = ?2 AND a.name = ?3"));
    stmt.BindText(1, entity).BindText(2, project).BindText(3, name);
    LABBOOK_ASSIGN_OR_RETURN(bool found, stmt.Step());
    if (!found) return std::optional<int64_t>();
    artifact_id = stmt.Int(0);
  }
  const bool latest = version_or_alias == "latest";
  const int number = ParseVersionName(version_or_alias);
  const char* select =
      latest ? "SELECT id FROM artifact_versions WHERE artifact_id = ?1 "
               "ORDER BY version DESC LIMIT 1"
      : number >= 0
          ? "SELECT id FROM artifact_versions WHERE artifact_id = ?1 AND version = ?2"
          : "SELECT version_id FROM artifact_aliases WHERE artifact_id = ?1 AND alias = ?2";
  LABBOOK_ASSIGN_OR_RETURN(Statement stmt, db.Prepare(select));
  stmt.BindInt(1, artifact_id);
  if (number >= 0) {
    stmt.BindInt(2, number);
  } else if (!latest) {
    stmt.BindText(2, version_or_alias);
  }
  LABBOOK_ASSIGN_OR_RETURN(bool found, stmt.Step());
  if (!found) return std::optional<int64_t>();
  return std::optional<int64_t>(stmt.Int(0));
}

Result<std::vector<int64_t>> ListArtifactVersions(Connection& db, const RunQuery& query) {
  LABBOOK_ASSIGN_OR_RETURN(
      Statement stmt,
      db.Prepare("SELECT v.id FROM artifact_versions v JOIN artifacts a ON a.id = v.artifact_id "
                 "JOIN projects p ON p.id = a.project_id JOIN entities e ON e.id = p.entity_id "
                 "WHERE (?1 = '' OR e.name = ?1) AND (?2 = '' OR p.name = ?2) "
                 "ORDER BY a.name, e.name, p.name, v.version"));
  stmt.BindText(1, query.entity).BindText(2, query.project);
  return CollectIds(stmt);
}

Result<std::vector<int64_t>> VersionsProducedBy(Connection& db, const std::string& run_id) {
  LABBOOK_ASSIGN_OR_RETURN(
      Statement stmt,
      db.Prepare("SELECT v.id FROM artifact_versions v JOIN artifacts a ON a.id = v.artifact_id "
                 "WHERE v.producer_run = ?1 ORDER BY a.name, v.version"));
  stmt.BindText(1, run_id);
  return CollectIds(stmt);
}

Result<std::vector<int64_t>> VersionsUsedBy(Connection& db, const std::string& run_id) {
  LABBOOK_ASSIGN_OR_RETURN(
      Statement stmt,
      db.Prepare("SELECT v.id FROM artifact_usage u JOIN artifact_versions v ON v.id = "
                 "u.version_id JOIN artifacts a ON a.id = v.artifact_id WHERE u.run_id = ?1 "
                 "ORDER BY a.name, v.version"));
  stmt.BindText(1, run_id);
  return CollectIds(stmt);
}

Status RecordUse(Connection& db, const std::string& run_id, int64_t version_id) {
  LABBOOK_ASSIGN_OR_RETURN(Statement stmt,
                           db.Prepare("INSERT OR IGNORE INTO artifact_usage (run_id, version_id) "
                                      "VALUES (?1, ?2)"));
  return stmt.BindText(1, run_id).BindInt(2, version_id).Run();
}

Result<bool> IsBlobReferenced(Connection& db, const std::string& sha256) {
  LABBOOK_ASSIGN_OR_RETURN(Statement stmt,
                           db.Prepare("SELECT 1 FROM artifact_files WHERE sha256 = ?1 LIMIT 1"));
  return stmt.BindText(1, sha256).Step();
}

}  // namespace labbook::track::sqlite
