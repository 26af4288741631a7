#include "track/sqlite/blob_store.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <random>
#include <system_error>
#include <vector>

#include "core/errno_status.hpp"
#include "core/status_macros.hpp"

namespace labbook::track::sqlite {
namespace {

namespace fs = std::filesystem;

constexpr size_t kCopyBufferBytes = 1 << 20;

// A file descriptor closed on destruction.
class Descriptor {
 public:
  explicit Descriptor(int fd) : fd_(fd) {}
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  ~Descriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  // Closes now, reporting what close says (the last chance to hear of a failed write).
  int Close() {
    const int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

// A temporary file removed on destruction unless it was renamed into place.
class TemporaryFile {
 public:
  explicit TemporaryFile(fs::path path) : path_(std::move(path)) {}
  TemporaryFile(const TemporaryFile&) = delete;
  TemporaryFile& operator=(const TemporaryFile&) = delete;
  ~TemporaryFile() {
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  const fs::path& path() const { return path_; }
  Status RenameTo(const fs::path& target) {
    if (::rename(path_.c_str(), target.c_str()) != 0) {
      return StatusFromErrno(target, "rename " + path_.string() + " to it", errno);
    }
    path_.clear();
    return Status::Ok();
  }

 private:
  fs::path path_;
};

std::string RandomSuffix() {
  thread_local std::mt19937_64 engine{std::random_device{}()};
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(engine()));
  return text;
}

Status CreateDirectories(const fs::path& dir) {
  std::error_code error;
  fs::create_directories(dir, error);
  if (error) return StatusFromErrno(dir, "create the directory", error.value());
  return Status::Ok();
}

Result<int> OpenForReading(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return StatusFromErrno(path, "open", errno);
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return InvalidArgument(path.string() + ": not a regular file");
  }
  return fd;
}

// Copies `in` to `out` (both open), hashing the bytes. Returns the number of bytes copied.
Result<int64_t> CopyHashing(int in, const fs::path& in_path, int out, const fs::path& out_path,
                            Sha256* hash) {
  std::vector<char> buffer(kCopyBufferBytes);
  int64_t total = 0;
  for (;;) {
    const ssize_t got = ::read(in, buffer.data(), buffer.size());
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return StatusFromErrno(in_path, "read", errno);
    if (got == 0) return total;
    hash->Update(buffer.data(), static_cast<size_t>(got));
    for (ssize_t done = 0; done < got;) {
      const ssize_t wrote = ::write(out, buffer.data() + done, static_cast<size_t>(got - done));
      if (wrote < 0 && errno == EINTR) continue;
      if (wrote < 0) return StatusFromErrno(out_path, "write", errno);
      done += wrote;
    }
    total += got;
  }
}

// Flushes and closes a written file.
Status Finish(Descriptor& out, const fs::path& path) {
  if (::fsync(out.get()) != 0) return StatusFromErrno(path, "flush", errno);
  if (out.Close() != 0) return StatusFromErrno(path, "close", errno);
  return Status::Ok();
}

}  // namespace

std::string Sha256Hex(std::string_view bytes) {
  Sha256 hash;
  hash.Update(bytes.data(), bytes.size());
  return hash.HexDigest();
}

Status BlobStore::Create() const { return CreateDirectories(dir_); }

fs::path BlobStore::PathOf(std::string_view sha256) const {
  return dir_ / std::string(sha256.substr(0, 2)) / std::string(sha256);
}

Result<StoredBlob> BlobStore::Put(const fs::path& source) const {
  LABBOOK_ASSIGN_OR_RETURN(int in_fd, OpenForReading(source));
  Descriptor in(in_fd);
  LABBOOK_RETURN_IF_ERROR(Create());
  TemporaryFile temporary(dir_ / (".incoming-" + RandomSuffix()));
  Descriptor out(::open(temporary.path().c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (out.get() < 0) return StatusFromErrno(temporary.path(), "create", errno);
  Sha256 hash;
  LABBOOK_ASSIGN_OR_RETURN(int64_t size,
                           CopyHashing(in.get(), source, out.get(), temporary.path(), &hash));
  LABBOOK_RETURN_IF_ERROR(Finish(out, temporary.path()));
  StoredBlob blob{hash.HexDigest(), size};
  const fs::path target = PathOf(blob.sha256);
  std::error_code error;
  // A blob of the right size is taken to be the same content; one of another size (cut short by
  // a failing disk) is replaced. The one kept is touched: gc spares blobs modified lately.
  if (fs::file_size(target, error) == static_cast<uintmax_t>(size) && !error &&
      ::utimensat(AT_FDCWD, target.c_str(), nullptr, 0) == 0) {
    return blob;
  }
  LABBOOK_RETURN_IF_ERROR(CreateDirectories(target.parent_path()));
  LABBOOK_RETURN_IF_ERROR(temporary.RenameTo(target));
  return blob;
}

bool BlobStore::Exists(std::string_view sha256) const {
  struct stat st;
  return ::stat(PathOf(sha256).c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

Result<std::vector<BlobStore::Entry>> BlobStore::List() const {
  std::vector<Entry> entries;
  std::error_code error;
  if (!fs::exists(dir_, error)) return entries;
  auto add = [&](const fs::path& path, std::string sha256) {
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return;  // gone meanwhile
    entries.push_back(Entry{
        path, std::move(sha256), static_cast<int64_t>(st.st_size),
        static_cast<double>(st.st_mtim.tv_sec) + static_cast<double>(st.st_mtim.tv_nsec) * 1e-9});
  };
  fs::directory_iterator top(dir_, error);
  if (error) return StatusFromErrno(dir_, "list", error.value());
  for (const fs::directory_entry& item : top) {
    const std::string name = item.path().filename().string();
    if (name.starts_with(".incoming-")) {
      add(item.path(), "");
      continue;
    }
    if (name.size() != 2 || !item.is_directory(error)) continue;
    fs::directory_iterator inner(item.path(), error);
    if (error) return StatusFromErrno(item.path(), "list", error.value());
    for (const fs::directory_entry& blob : inner) {
      const std::string blob_name = blob.path().filename().string();
      if (IsSha256Hex(blob_name) && blob_name.starts_with(name)) add(blob.path(), blob_name);
    }
  }
  return entries;
}

Status BlobStore::CopyTo(std::string_view sha256, int64_t size, const fs::path& destination) const {
  const fs::path source = PathOf(sha256);
  LABBOOK_ASSIGN_OR_RETURN(int in_fd, OpenForReading(source));
  Descriptor in(in_fd);
  if (destination.has_parent_path()) {
    LABBOOK_RETURN_IF_ERROR(CreateDirectories(destination.parent_path()));
  }
  TemporaryFile temporary(fs::path(destination.string() + ".partial-" + RandomSuffix()));
  Descriptor out(::open(temporary.path().c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (out.get() < 0) return StatusFromErrno(temporary.path(), "create", errno);
  Sha256 hash;
  LABBOOK_ASSIGN_OR_RETURN(int64_t copied,
                           CopyHashing(in.get(), source, out.get(), temporary.path(), &hash));
  const std::string actual = hash.HexDigest();
  if (copied != size || actual != sha256) {
    return DataLoss(source.string() + ": the blob is corrupt: it holds " + std::to_string(copied) +
                    " bytes with sha256 " + actual + ", expected " + std::to_string(size) +
                    " bytes with sha256 " + std::string(sha256));
  }
  LABBOOK_RETURN_IF_ERROR(Finish(out, temporary.path()));
  return temporary.RenameTo(destination);
}

}  // namespace labbook::track::sqlite
