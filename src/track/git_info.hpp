// The git commit a run was started from, read from the repository's files without running git:
// HEAD, then the loose ref it names or packed-refs. Handles linked worktrees and submodules
// (a ".git" file holding "gitdir: <path>", with "commondir" for the shared refs).
#pragma once

#include <filesystem>
#include <string>

namespace labbook::track {

// The commit checked out in the repository that contains `directory` (searched upwards), as hex;
// "" when `directory` is in no repository or HEAD does not resolve to a commit (a new repository
// with no commit yet).
std::string GitCommitOf(const std::filesystem::path& directory);

}  // namespace labbook::track
