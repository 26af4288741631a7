#include "server/blob_uploads.hpp"

#include "core/status_macros.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <memory>
#include <system_error>

namespace labbook::server {
namespace fs = std::filesystem;

namespace {

std::atomic<uint64_t> upload_counter{0};

std::string Hex(const unsigned char* bytes, size_t length) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(length * 2);
  for (size_t i = 0; i < length; ++i) {
    out.push_back(kDigits[bytes[i] >> 4]);
    out.push_back(kDigits[bytes[i] & 15]);
  }
  return out;
}

Status WriteFailed(const fs::path& path, int error) {
  const std::string message = "cannot write " + path.string() + ": " + std::strerror(error);
  if (error == ENOSPC || error == EDQUOT) return ResourceExhausted(message);
  return Internal(message);
}

}  // namespace

Status CheckSha256(std::string_view sha256, std::string_view what) {
  bool ok = sha256.size() == 64;
  for (char c : sha256) ok = ok && ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
  if (ok) return Status::Ok();
  return InvalidArgument(std::string(what) + ": expected a sha256 digest (64 lower-case hex " +
                         "digits), got '" + std::string(sha256.substr(0, 80)) + "'");
}

Status BlobUploads::Prepare() const {
  std::error_code error;
  fs::create_directories(directory_, error);
  if (error) {
    return PermissionDenied("cannot create the upload directory " + directory_.string() + ": " +
                            error.message());
  }
  return Status::Ok();
}

std::optional<int64_t> BlobUploads::Size(const std::string& sha256) const {
  if (!CheckSha256(sha256, "blob").ok()) return std::nullopt;
  std::error_code error;
  const auto size = fs::file_size(PathOf(sha256), error);
  if (error) return std::nullopt;
  // In use now: gc spares it for its grace period.
  ::utimensat(AT_FDCWD, PathOf(sha256).c_str(), nullptr, 0);
  return static_cast<int64_t>(size);
}

Result<BlobUploads::Garbage> BlobUploads::CollectGarbage(std::chrono::seconds grace,
                                                         bool dry_run) const {
  Garbage garbage;
  std::error_code error;
  if (!fs::exists(directory_, error)) return garbage;
  const auto now = std::chrono::system_clock::now();
  const auto cutoff = now - grace;
  const auto temporary_cutoff = now - std::max(grace, std::chrono::seconds(3600));
  fs::directory_iterator files(directory_, error);
  if (error) {
    return PermissionDenied("cannot list the upload directory " + directory_.string() + ": " +
                            error.message());
  }
  for (const fs::directory_entry& entry : files) {
    const std::string name = entry.path().filename().string();
    const bool temporary = name.starts_with(".");
    if (!temporary && !CheckSha256(name, "upload").ok()) continue;
    // Read just before the removal: Size() may have refreshed it since the listing began.
    struct stat st;
    if (::lstat(entry.path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    const auto modified = std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(
            std::chrono::seconds(st.st_mtim.tv_sec) +
            std::chrono::nanoseconds(st.st_mtim.tv_nsec)));
    if (modified > (temporary ? temporary_cutoff : cutoff)) {
      ++garbage.kept_young;
      continue;
    }
    if (!dry_run && ::unlink(entry.path().c_str()) != 0) {
      if (errno == ENOENT) continue;
      return PermissionDenied("cannot remove " + entry.path().string() + ": " +
                              std::strerror(errno));
    }
    (temporary ? garbage.temporary_removed : garbage.uploads_removed) += 1;
    (temporary ? garbage.temporary_bytes : garbage.upload_bytes) += st.st_size;
  }
  return garbage;
}

Result<int64_t> BlobUploads::Receive(
    const std::string& sha256,
    const std::function<Status(const std::function<bool(const char*, size_t)>&)>& read) const {
  LABBOOK_RETURN_IF_ERROR(CheckSha256(sha256, "blob digest in the URL"));
  const fs::path temporary =
      directory_ / (".receiving-" + std::to_string(getpid()) + "-" +
                    std::to_string(upload_counter.fetch_add(1)) + "-" + sha256.substr(0, 12));
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return WriteFailed(temporary, errno);
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> digest(EVP_MD_CTX_new(),
                                                                 &EVP_MD_CTX_free);
  EVP_DigestInit_ex(digest.get(), EVP_sha256(), nullptr);
  int64_t size = 0;
  int write_error = 0;
  Status status = read([&](const char* data, size_t length) {
    EVP_DigestUpdate(digest.get(), data, length);
    size += static_cast<int64_t>(length);
    while (length > 0) {
      const ssize_t written = ::write(fd, data, length);
      if (written < 0) {
        if (errno == EINTR) continue;
        write_error = errno;
        return false;
      }
      data += written;
      length -= static_cast<size_t>(written);
    }
    return true;
  });
  if (status.ok() && write_error != 0) status = WriteFailed(temporary, write_error);
  if (status.ok() && ::fsync(fd) != 0) status = WriteFailed(temporary, errno);
  if (::close(fd) != 0 && status.ok()) status = WriteFailed(temporary, errno);
  std::error_code ignored;
  if (!status.ok()) {
    fs::remove(temporary, ignored);
    return status;
  }
  unsigned char bytes[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(digest.get(), bytes, &length);
  const std::string actual = Hex(bytes, length);
  if (actual != sha256) {
    fs::remove(temporary, ignored);
    return DataLoss("the uploaded bytes (" + std::to_string(size) + ") have sha256 " + actual +
                    ", not " + sha256 + " as the URL says; nothing was stored");
  }
  std::error_code error;
  fs::rename(temporary, PathOf(sha256), error);
  if (error) {
    fs::remove(temporary, ignored);
    return Internal("cannot store blob " + sha256 + ": " + error.message());
  }
  return size;
}

}  // namespace labbook::server
