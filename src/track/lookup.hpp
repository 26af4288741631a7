// Finding what a user names in a store, with the errors that tell them what is there instead:
// the store file, a run, a history key, an artifact and where its files may be written. The CLI
// (apps/labbook) and the Python binding (python/_labbook.cpp) both call these, so a mistake
// reads the same from either.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "labbook/status.hpp"
#include "track/store.hpp"

namespace labbook::track {

// The database file a SQLite store URI names when that file does not exist yet, so that reading
// code can say so instead of creating an empty store; nullopt otherwise (other schemes too).
std::optional<std::string> MissingStoreFile(const std::string& uri);

// Opens the store for reading: kNotFound naming the file when MissingStoreFile says it is
// missing, else OpenStore's own result.
Result<std::unique_ptr<RunStore>> OpenExistingStore(const std::string& uri);

// The run `id` of `store`; kNotFound says how to list the runs there. States are as stored
// (callers reconcile crashed runs themselves).
Result<RunInfo> FindRun(RunStore& store, const std::string& id);

// kOk when `key` is among `known` (the run's history keys), else kNotFound listing them.
Status CheckHistoryKey(const std::string& run_id, const std::string& key,
                       const std::vector<std::string>& known);

// The artifact `name` at `version` ("latest", an alias or "vN"). An empty entity or project
// leaves it open: the one project holding the name is used, and a name held by several
// projects is kInvalidArgument listing them. kNotFound names what exists instead.
Result<ArtifactVersion> FindArtifact(RunStore& store, const std::string& entity,
                                     const std::string& project, const std::string& name,
                                     const std::string& version);

// Where the file `path` of artifact `reference` goes under `directory`; a path that would leave
// it (empty, absolute, or with "..") is kDataLoss: the store holds something it should not.
Result<std::filesystem::path> ArtifactFileDestination(const std::filesystem::path& directory,
                                                      const std::string& reference,
                                                      const std::string& path);

}  // namespace labbook::track
