#include "server/wandb/upload_token.hpp"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <string>
#include <system_error>
#include <utility>

#include "core/errno_status.hpp"

namespace labbook::server::wandb {
namespace {

constexpr size_t kSecretBytes = 32;

std::string Hex(const unsigned char* data, size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (size_t i = 0; i < size; ++i) {
    out += kDigits[data[i] >> 4];
    out += kDigits[data[i] & 15];
  }
  return out;
}

Result<std::string> ReadSecret(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return StatusFromErrno(path.string(), "open", errno);
  std::string secret(kSecretBytes + 1, '\0');
  const ssize_t n = ::read(fd, secret.data(), secret.size());
  const int err = errno;
  ::close(fd);
  if (n < 0) return StatusFromErrno(path.string(), "read", err);
  if (static_cast<size_t>(n) != kSecretBytes) {
    return DataLoss(path.string() + ": the upload-token secret must be exactly " +
                    std::to_string(kSecretBytes) + " bytes, found " + std::to_string(n));
  }
  secret.resize(kSecretBytes);
  return secret;
}

// Writes a fresh secret under a temporary name and links it into place, so that concurrent
// openers agree on one secret: the loser of the race reads the winner's.
Status CreateSecret(const std::filesystem::path& path) {
  std::string secret(kSecretBytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(secret.data()), kSecretBytes) != 1) {
    return Internal("OpenSSL RAND_bytes failed to draw the upload-token secret");
  }
  const std::filesystem::path temp = path.string() + ".tmp" + std::to_string(::getpid());
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return StatusFromErrno(temp.string(), "create", errno);
  const ssize_t n = ::write(fd, secret.data(), secret.size());
  const int err = errno;
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (n != static_cast<ssize_t>(secret.size()) || !synced) {
    ::unlink(temp.c_str());
    return StatusFromErrno(temp.string(), "write", n < 0 ? err : EIO);
  }
  const int linked = ::link(temp.c_str(), path.c_str());
  const int link_err = errno;
  ::unlink(temp.c_str());
  if (linked != 0 && link_err != EEXIST) return StatusFromErrno(path.string(), "link", link_err);
  return Status::Ok();
}

}  // namespace

Result<UploadTokenSigner> UploadTokenSigner::Open(const std::filesystem::path& secret_file) {
  std::error_code ec;
  std::filesystem::create_directories(secret_file.parent_path(), ec);
  if (ec) return StatusFromErrno(secret_file.parent_path().string(), "create", ec.value());
  Result<std::string> secret = ReadSecret(secret_file);
  if (!secret.ok() && secret.status().code() == ErrorCode::kNotFound) {
    Status created = CreateSecret(secret_file);
    if (!created.ok()) return created;
    secret = ReadSecret(secret_file);
  }
  if (!secret.ok()) return secret.status();
  return UploadTokenSigner(std::move(secret).value());
}

std::string UploadTokenSigner::Mac(std::string_view resource, int64_t expires) const {
  // The expiry is part of the signed message, so a token cannot be stretched.
  const std::string message = std::to_string(expires) + "\n" + std::string(resource);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_size = 0;
  HMAC(EVP_sha256(), secret_.data(), static_cast<int>(secret_.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, &mac_size);
  return Hex(mac, mac_size);
}

std::string UploadTokenSigner::Sign(std::string_view resource, int64_t expires) const {
  return std::to_string(expires) + "." + Mac(resource, expires);
}

Status UploadTokenSigner::Verify(std::string_view resource, std::string_view token,
                                 int64_t now) const {
  const size_t dot = token.find('.');
  int64_t expires = 0;
  bool parsed = dot != std::string_view::npos && dot > 0 && dot <= 12;
  for (size_t i = 0; parsed && i < dot; ++i) {
    if (token[i] < '0' || token[i] > '9') parsed = false;
    expires = expires * 10 + (token[i] - '0');
  }
  if (!parsed) return PermissionDenied("upload token is malformed");
  const std::string expected = Mac(resource, expires);
  const std::string_view given = token.substr(dot + 1);
  if (given.size() != expected.size() ||
      CRYPTO_memcmp(given.data(), expected.data(), expected.size()) != 0) {
    return PermissionDenied("upload token does not match this upload URL");
  }
  if (now > expires) return PermissionDenied("upload token has expired; ask CreateRunFiles again");
  return Status::Ok();
}

}  // namespace labbook::server::wandb
