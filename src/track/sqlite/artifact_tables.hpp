// Artifacts in the SQLite store: artifacts, artifact_versions, artifact_files, artifact_aliases and
// artifact_usage (migrations/0001_initial.sql). The files' contents live in the BlobStore. Every
// function runs inside the caller's transaction and takes validated arguments.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "track/sqlite/connection.hpp"
#include "track/store.hpp"
#include "track/validation/validation.hpp"

namespace labbook::track::sqlite {

using validation::ParseVersionName;
using validation::VersionName;

// A version to add, its files already in the blob store.
struct VersionToAdd {
  int64_t project_id = 0;
  std::string ref;  // "entity/project/name", for messages
  std::string name;
  std::string type;
  std::string digest;
  std::vector<ArtifactFile> files;  // in path order
  nlohmann::json metadata;
  std::string producer_run;  // empty: none
  std::vector<std::string> aliases;
  double created_time = 0;
};

// Adds a version, or takes the newest one when its digest is the same, and moves the aliases to
// it. Returns the version's row id. kInvalidArgument when the name has another type.
[[nodiscard]] Result<int64_t> AddArtifactVersion(Connection& db, const VersionToAdd& version);

[[nodiscard]] Result<ArtifactVersion> LoadArtifactVersion(Connection& db, int64_t version_id);

// The row id of "v3", "latest" or an alias of the artifact; none when there is no such version.
[[nodiscard]] Result<std::optional<int64_t>> FindArtifactVersion(
    Connection& db, const std::string& entity, const std::string& project, const std::string& name,
    const std::string& version_or_alias);

// Row ids of the project's versions (entity/project empty: any), by name then version.
[[nodiscard]] Result<std::vector<int64_t>> ListArtifactVersions(Connection& db,
                                                                const RunQuery& query);
// Row ids of the versions the run produced and used, by name then version.
[[nodiscard]] Result<std::vector<int64_t>> VersionsProducedBy(Connection& db,
                                                              const std::string& run_id);
[[nodiscard]] Result<std::vector<int64_t>> VersionsUsedBy(Connection& db,
                                                          const std::string& run_id);

// Records (once) that the run used the version.
[[nodiscard]] Status RecordUse(Connection& db, const std::string& run_id, int64_t version_id);

// Whether any artifact version has a file with this content.
[[nodiscard]] Result<bool> IsBlobReferenced(Connection& db, const std::string& sha256);

}  // namespace labbook::track::sqlite
