// The embedded default store: one SQLite database in WAL mode, plus a directory of blobs beside
// it ("<db>.blobs/", files named by their sha256) for artifact files. Schema changes are
// numbered .sql migrations (track/sqlite/migrations/) applied in order at open.
#pragma once

#include <filesystem>
#include <memory>

#include "labbook/status.hpp"
#include "track/store.hpp"

namespace labbook::track::sqlite {

// Opens (creating the file, its directory and the blob directory when missing) and migrates the
// database at `path`. Errors name the path: kPermissionDenied for a read-only location,
// kDataLoss for a file that is not a labbook database, kFailedPrecondition for a database from a
// newer labbook.
[[nodiscard]] Result<std::unique_ptr<RunStore>> OpenSqliteRunStore(
    const std::filesystem::path& path);

}  // namespace labbook::track::sqlite
