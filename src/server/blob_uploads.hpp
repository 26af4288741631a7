// The blobs clients upload before they create an artifact version from them
// (PUT /api/v1/projects/{entity}/{project}/blobs/{sha256}). Each is received into a temporary
// file, its SHA-256 computed as the bytes arrive, and renamed to DATA/uploads/<sha256> only when
// the digest matches the one in the URL, so a file under its digest's name always holds exactly
// those bytes. A blob is kept once received: the next artifact holding the same file needs no
// second upload. A failed or interrupted upload leaves no file behind; the client restarts it.
//
// Thread-safe: concurrent uploads of the same digest each write their own temporary file; the
// rename is atomic and either result is the same bytes.
#pragma once

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

  // The received blob's size, or nullopt when no blob with this digest was received.
  std::optional<int64_t> Size(const std::string& sha256) const;
  std::filesystem::path PathOf(const std::string& sha256) const { return directory_ / sha256; }

  // Receives a blob: `read` is called with a sink for the bytes (the request body's stream) and
  // returns its status. kDataLoss when the bytes' digest is not `sha256`. Returns the size.
  [[nodiscard]] Result<int64_t> Receive(
      const std::string& sha256,
      const std::function<Status(const std::function<bool(const char*, size_t)>&)>& read) const;

 private:
  std::filesystem::path directory_;
};

}  // namespace labbook::server
