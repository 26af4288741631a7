// The embedded default store: one SQLite database in WAL mode, plus a directory of blobs beside
// it ("<db>.blobs/", files named by their sha256) for artifact files. Schema changes are
// numbered .sql migrations (track/sqlite/migrations/) applied in order at open.
//
// Several threads may share one store (calls are serialised), and several processes may open
// the same file: writes take SQLite's write lock (BEGIN IMMEDIATE) and wait for it up to the busy
// timeout, so two processes logging at once both succeed. A store must not cross a fork(): the
// child opens its own. Each write is one transaction, durable against a crash of the process once
// the call returns (WAL with synchronous=NORMAL; a power cut may lose the last transactions, never
// the database's consistency), with one exception, small history batches:
//
// LogHistory of a batch of fewer than 256 points is buffered in the store object, so that many
// tiny calls cost one transaction, not one each. Its Ok means the batch was valid and its run
// exists, and that its points will be committed together with other buffered ones: at the latest
// 100 ms after the oldest of them arrived (a thread of the store sees to it), as soon as 8,192
// points are pending or a batch of 256 or more arrives, before any other call of this object
// (so its own reads see every point it accepted, and a run's end is never recorded before its
// points), and at destruction. A crash of the process may therefore lose the small batches of
// the last 100 ms or so; other connections see the points once they are committed. When
// committing fails (full disk, the run deleted meanwhile), those points are not recorded and
// the run's next LogHistory returns that error (and does not store its own batch).
//
// History is stored in chunks of up to 512 points per key (track/history/history_chunk.hpp), with
// per-chunk statistics that let a downsampled read skip most chunks' points.
#pragma once

#include <chrono>
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

// Garbage collection (`labbook gc`): removes the blobs no artifact version references, and the
// temporary files of writers that died while copying, safely while other processes write.
//
// The protocol with LogArtifact, which puts a version's blobs first and commits the version after:
// 1. A blob younger than `grace` is kept, referenced or not: it may belong to an artifact being
//    logged right now (renamed into place but not committed yet, or an existing blob that a Put
//    just reused: Put refreshes its time). A temporary file (a copy being written, outside any
//    lock) is kept while younger than `grace` or one hour, whichever is longer.
// 2. The referenced set is read and every unlink done while holding the database's write lock,
//    and each candidate's time is read again under the lock just before it goes.
// 3. LogArtifact checks, under that same lock, that every blob of its version still exists before
//    committing it, and puts the missing ones again otherwise.
// So a committed version never loses a blob: either its blobs existed when its transaction
// checked, and no gc can run until it committed and they are referenced, or gc removed one first,
// and LogArtifact saw it missing. The grace period only spares writers the extra copy (and
// protects writers of labbook versions without step 3).
struct GarbageOptions {
  std::chrono::seconds grace{3600};
  bool dry_run = false;  // count what would go, remove nothing
};

struct GarbageReport {
  int64_t blobs_removed = 0;  // unreferenced blobs
  int64_t blob_bytes = 0;
  int64_t temporary_removed = 0;  // leftovers of interrupted copies
  int64_t temporary_bytes = 0;
  int64_t blobs_referenced = 0;  // kept: an artifact version holds them
  int64_t kept_young = 0;        // kept: unreferenced, but younger than the grace period
};

// Collects the garbage of the SQLite store at `path`. kNotFound when there is no store there;
// kUnavailable when the write lock stayed taken for the busy timeout.
[[nodiscard]] Result<GarbageReport> CollectGarbage(const std::filesystem::path& path,
                                                   const GarbageOptions& options);

}  // namespace labbook::track::sqlite
