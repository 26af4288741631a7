// The embedded default store: one SQLite database in WAL mode, plus a directory of blobs beside
// it ("<db>.blobs/", files named by their sha256) for artifact files. Schema changes are
// numbered .sql migrations (track/sqlite/migrations/) applied in order at open.
//
// Several threads may share one store (calls are serialised), and several processes may open
// the same file: writes take SQLite's write lock (BEGIN IMMEDIATE) and wait for it up to the busy
// timeout, so two processes logging at once both succeed. A store must not cross a fork(): the
// child opens its own. Each write is one transaction, durable against a crash of the process once
// the call returns (WAL with synchronous=NORMAL; a power cut may lose the last transactions, never
// the database's consistency).
//
// History is stored in chunks of up to 512 points per key (history_chunk.hpp), with per-chunk
// statistics that let a downsampled read skip most chunks' points.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>

#include "labbook/status.hpp"
#include "track/store.hpp"

namespace labbook::track::sqlite {

struct SqliteStoreOptions {
  // Opens the database read-only: reads work and every write is kPermissionDenied naming the
  // path. A file the process may not write opens read-only by itself.
  bool read_only = false;
  // How long a call waits for another connection's write lock before failing with kUnavailable.
  int busy_timeout_ms = 30'000;
  // Caps the database at this many pages (0: no cap). Tests use it to stand for a full disk.
  int64_t max_page_count = 0;
  // Reads up to this many bytes of the database through a memory map (0: none). Reads of long
  // histories get about twice as fast, but a failing disk then kills the process (SIGBUS) instead
  // of failing the call, so only a server on a local disk should set it.
  int64_t mmap_bytes = 0;
};

// Opens (creating the file, its directory and the blob directory when missing) and migrates the
// database at `path`. Errors name the path: kPermissionDenied for a read-only location,
// kDataLoss for a file that is not a labbook database, kFailedPrecondition for a database from a
// newer labbook.
[[nodiscard]] Result<std::unique_ptr<RunStore>> OpenSqliteRunStore(
    const std::filesystem::path& path, const SqliteStoreOptions& options = {});

}  // namespace labbook::track::sqlite
