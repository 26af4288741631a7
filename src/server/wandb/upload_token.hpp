// Signed, expiring tokens for the upload URLs that CreateRunFiles hands out. W&B clients PUT a
// run's files to those URLs without their API key (as they would to a cloud bucket), so the URL
// carries its own proof: HMAC-SHA256, under a secret kept in the server's data directory, over
// what may be written (the run and the file's path) and until when.
//
// Token format: "<expiry, Unix seconds>.<64 hex digits of the HMAC>". The secret file is created
// with 32 random bytes (mode 0600) when missing. Thread-safe after Open (read-only state).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "labbook/status.hpp"

namespace labbook::server::wandb {

class UploadTokenSigner {
 public:
  // Reads the secret at `secret_file`, creating it when missing. kDataLoss for a secret file of
  // the wrong size; errno-based codes for I/O failures.
  [[nodiscard]] static Result<UploadTokenSigner> Open(const std::filesystem::path& secret_file);

  // A token for writing `resource` until `expires` (Unix seconds).
  std::string Sign(std::string_view resource, int64_t expires) const;

  // Ok when `token` was signed for `resource` and has not expired at `now`; kPermissionDenied
  // otherwise, with a message that never repeats the token.
  [[nodiscard]] Status Verify(std::string_view resource, std::string_view token, int64_t now) const;

 private:
  explicit UploadTokenSigner(std::string secret) : secret_(std::move(secret)) {}
  std::string Mac(std::string_view resource, int64_t expires) const;

  std::string secret_;
};

}  // namespace labbook::server::wandb
