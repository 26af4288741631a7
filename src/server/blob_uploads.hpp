// The blobs clients upload before they create an artifact version from them
// (PUT /api/v1/projects/{entity}/{project}/blobs/{sha256}). Each is received into a temporary
// file, its SHA-256 computed as the bytes arrive, and renamed to DATA/uploads/<sha256> only when
// the digest matches the one in the URL, so a file under its digest's name always holds exactly
// those bytes. A blob is kept once received: the next artifact holding the same file needs no
// second upload. A failed or interrupted upload leaves no file behind; the client restarts it.
//
// Once its artifact is committed, an upload is a second copy: the store copied it into its own
// blobs. `labbook gc --server-data DATA` (CollectGarbage) removes uploads older than its grace
// period, and the leftovers (".receiving-", ".serving-", ".evaluation-" files) of a server that
// died mid-transfer. Size() refreshes the upload's time, so a client that just asked whether the
// server has a blob (HEAD) finds it still there when it creates the artifact; should gc win that
// race anyway, the artifact's creation answers 412 and the client uploads again.
//
// Thread-safe: concurrent uploads of the same digest each write their own temporary file; the
// rename is atomic and either result is the same bytes.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "labbook/status.hpp"

namespace labbook::server {

// Ok for 64 lower-case hex digits; kInvalidArgument naming `what` otherwise. A digest that
// passes cannot name a path outside the upload directory.
[[nodiscard]] Status CheckSha256(std::string_view sha256, std::string_view what);

class BlobUploads {
 public:
  explicit BlobUploads(std::filesystem::path directory) : directory_(std::move(directory)) {}

  // Creates the directory; kResourceExhausted or kPermissionDenied naming it when that fails.
  [[nodiscard]] Status Prepare() const;

  // The received blob's size, or nullopt when no blob with this digest was received. Refreshes
  // the blob's modification time (see above).
  std::optional<int64_t> Size(const std::string& sha256) const;
  std::filesystem::path PathOf(const std::string& sha256) const { return directory_ / sha256; }

  // Receives a blob: `read` is called with a sink for the bytes (the request body's stream) and
  // returns its status. kDataLoss when the bytes' digest is not `sha256`. Returns the size.
  [[nodiscard]] Result<int64_t> Receive(
      const std::string& sha256,
      const std::function<Status(const std::function<bool(const char*, size_t)>&)>& read) const;

  struct Garbage {
    int64_t uploads_removed = 0;
    int64_t upload_bytes = 0;
    int64_t temporary_removed = 0;
    int64_t temporary_bytes = 0;
    int64_t kept_young = 0;
  };
  // Removes the uploads and leftovers older than `grace` (leftovers: older than one hour at least,
  // as a transfer in progress may be slow); with `dry_run` only counts them. The directory may
  // be missing.
  [[nodiscard]] Result<Garbage> CollectGarbage(std::chrono::seconds grace, bool dry_run) const;

 private:
  std::filesystem::path directory_;
};

}  // namespace labbook::server
