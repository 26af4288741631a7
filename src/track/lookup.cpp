#include "track/lookup.hpp"

#include <algorithm>
#include <set>
#include <system_error>
#include <utility>

#include "core/status_macros.hpp"

namespace labbook::track {
namespace {

std::string Join(const std::vector<std::string>& parts) {
  std::string out;
  for (const std::string& part : parts) out += (out.empty() ? "" : ", ") + part;
  return out;
}

}  // namespace

std::optional<std::string> MissingStoreFile(const std::string& uri) {
  std::string path = uri;
  const size_t scheme_end = uri.find("://");
  if (scheme_end != std::string::npos) {
    if (uri.compare(0, scheme_end, "sqlite") != 0) return std::nullopt;
    path = uri.substr(scheme_end + 3);
  }
  if (path.empty()) return std::nullopt;
  std::error_code ec;
  if (std::filesystem::exists(path, ec) || ec) return std::nullopt;
  return path;
}

Result<std::unique_ptr<RunStore>> OpenExistingStore(const std::string& uri) {
  if (std::optional<std::string> missing = MissingStoreFile(uri)) {
    return NotFound("store " + *missing +
                    " does not exist: nothing has been tracked there yet (--store or "
                    "LABBOOK_STORE names another store)");
  }
  return OpenStore(uri);
}

Result<RunInfo> FindRun(RunStore& store, const std::string& id) {
  Result<RunInfo> run = store.GetRun(id);
  if (run.ok() || run.status().code() != ErrorCode::kNotFound) return run;
  return NotFound("run '" + id + "' not found in " + store.uri() +
                  "; `labbook runs list` shows the runs there");
}

Status CheckHistoryKey(const std::string& run_id, const std::string& key,
                       const std::vector<std::string>& known) {
  if (std::find(known.begin(), known.end(), key) != known.end()) return Status::Ok();
  return NotFound("run " + run_id + " has no history key '" + key +
                  "'; its keys: " + (known.empty() ? "none" : Join(known)));
}

Result<ArtifactVersion> FindArtifact(RunStore& store, const std::string& entity,
                                     const std::string& project, const std::string& name,
                                     const std::string& version) {
  LABBOOK_ASSIGN_OR_RETURN(std::vector<ArtifactVersion> all,
                           store.ListArtifacts({entity, project}));
  std::set<std::pair<std::string, std::string>> owners;
  for (const ArtifactVersion& artifact : all) {
    if (artifact.name == name) owners.insert({artifact.entity, artifact.project});
  }
  const std::string where = project.empty() ? "" : " in project " + project;
  if (owners.empty()) {
    return NotFound("no artifact named '" + name + "'" + where + " in " + store.uri() +
                    "; `labbook artifacts list` shows the artifacts there");
  }
  if (owners.size() > 1) {
    std::vector<std::string> names;
    for (const auto& [e, p] : owners) names.push_back(e + "/" + p);
    return InvalidArgument("artifact '" + name + "' exists in several projects (" +
                           Join(names) + "); expected --project (and --entity) to pick one");
  }
  const auto& [owner_entity, owner_project] = *owners.begin();
  Result<ArtifactVersion> found = store.GetArtifact(owner_entity, owner_project, name, version);
  if (found.ok() || found.status().code() != ErrorCode::kNotFound) return found;
  std::string versions;
  for (const ArtifactVersion& artifact : all) {
    if (artifact.name != name || artifact.project != owner_project ||
        artifact.entity != owner_entity) {
      continue;
    }
    versions += (versions.empty() ? "" : ", ") + artifact.VersionName();
    for (const std::string& alias : artifact.aliases) versions += " (" + alias + ")";
  }
  return NotFound("artifact " + name + ":" + version + " not found in " + owner_entity + "/" +
                  owner_project + "; its versions: " + versions);
}

Result<std::filesystem::path> ArtifactFileDestination(const std::filesystem::path& directory,
                                                      const std::string& reference,
                                                      const std::string& path) {
  const std::filesystem::path relative(path);
  bool escapes = path.empty() || relative.is_absolute() || relative.has_root_name();
  for (const auto& part : relative) escapes = escapes || part == "..";
  if (escapes) {
    return DataLoss("artifact " + reference + " names a file '" + path +
                    "' outside its own directory; expected a relative path without '..'");
  }
  return directory / relative;
}

}  // namespace labbook::track
