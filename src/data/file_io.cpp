#include "data/file_io.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "core/errno_status.hpp"
#include "core/status_macros.hpp"

namespace labbook::data {
namespace {

// Opens `path` for reading and checks that it is a regular file. Returns the descriptor.
Result<int> OpenRegularFile(const std::string& path, uint64_t* size) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return StatusFromErrno(path, "open", errno);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return StatusFromErrno(path, "stat", err);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return InvalidArgument(path + ": not a regular file" +
                           (S_ISDIR(st.st_mode) ? std::string(" (a directory)") : std::string()));
  }
  *size = static_cast<uint64_t>(st.st_size);
  return fd;
}

}  // namespace

bool IsRegularFile(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool IsDirectory(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string JoinPath(std::string_view dir, std::string_view name) {
  std::string joined(dir);
  if (!joined.empty() && joined.back() != '/') joined += '/';
  joined += name;
  return joined;
}

// --- InputFile ---

Result<InputFile> InputFile::Open(const std::string& path) {
  uint64_t size = 0;
  LABBOOK_ASSIGN_OR_RETURN(int fd, OpenRegularFile(path, &size));
  std::FILE* file = ::fdopen(fd, "rb");
  if (file == nullptr) {
    int err = errno;
    ::close(fd);
    return StatusFromErrno(path, "open", err);
  }
  return InputFile(file, path, size);
}

InputFile::InputFile(InputFile&& other) noexcept
    : file_(std::exchange(other.file_, nullptr)),
      path_(std::move(other.path_)),
      size_(other.size_) {}

InputFile& InputFile::operator=(InputFile&& other) noexcept {
  if (this != &other) {
    if (file_ != nullptr) std::fclose(file_);
    file_ = std::exchange(other.file_, nullptr);
    path_ = std::move(other.path_);
    size_ = other.size_;
  }
  return *this;
}

InputFile::~InputFile() {
  if (file_ != nullptr) std::fclose(file_);
}

Result<size_t> InputFile::Read(void* dst, size_t n) {
  size_t got = std::fread(dst, 1, n, file_);
  if (got < n && std::ferror(file_)) return StatusFromErrno(path_, "read", errno);
  return got;
}

Status InputFile::Rewind() {
  if (std::fseek(file_, 0, SEEK_SET) != 0) return StatusFromErrno(path_, "seek", errno);
  return Status::Ok();
}

// --- MappedFile ---

Result<MappedFile> MappedFile::Open(const std::string& path) {
  uint64_t size = 0;
  LABBOOK_ASSIGN_OR_RETURN(int fd, OpenRegularFile(path, &size));
  if (size == 0) {
    ::close(fd);
    return MappedFile(nullptr, 0);
  }
  void* addr = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  int err = errno;
  ::close(fd);
  if (addr == MAP_FAILED) return StatusFromErrno(path, "map", err);
  ::madvise(addr, size, MADV_SEQUENTIAL);
  return MappedFile(static_cast<const char*>(addr), size);
}

MappedFile::MappedFile(MappedFile&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) ::munmap(const_cast<char*>(data_), size_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(const_cast<char*>(data_), size_);
}

// --- AtomicFileWriter ---

Result<AtomicFileWriter> AtomicFileWriter::Open(const std::string& path) {
  // The pid and a counter keep concurrent writers (threads or processes) of one path apart.
  static std::atomic<uint64_t> counter{0};
  std::string temp_path =
      path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter.fetch_add(1));
  int fd = ::open(temp_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT) return NotFound(path + ": cannot create: its directory does not exist");
    return StatusFromErrno(path, "create", err);
  }
  std::FILE* file = ::fdopen(fd, "wb");
  if (file == nullptr) {
    int err = errno;
    ::close(fd);
    ::unlink(temp_path.c_str());
    return StatusFromErrno(path, "create", err);
  }
  return AtomicFileWriter(file, path, std::move(temp_path));
}

AtomicFileWriter::AtomicFileWriter(AtomicFileWriter&& other) noexcept
    : file_(std::exchange(other.file_, nullptr)),
      path_(std::move(other.path_)),
      temp_path_(std::move(other.temp_path_)) {
  other.temp_path_.clear();
}

AtomicFileWriter::~AtomicFileWriter() {
  if (file_ != nullptr) std::fclose(file_);
  if (!temp_path_.empty()) ::unlink(temp_path_.c_str());
}

Status AtomicFileWriter::Write(const void* data, size_t n) {
  if (file_ == nullptr) return Internal(path_ + ": write after commit");
  if (n != 0 && std::fwrite(data, 1, n, file_) != n) return StatusFromErrno(path_, "write", errno);
  return Status::Ok();
}

Status AtomicFileWriter::Commit() {
  if (file_ == nullptr) return Internal(path_ + ": committed twice");
  int closed = std::fclose(file_);
  file_ = nullptr;
  if (closed != 0) return StatusFromErrno(path_, "write", errno);
  if (::rename(temp_path_.c_str(), path_.c_str()) != 0)
    return StatusFromErrno(path_, "rename", errno);
  temp_path_.clear();
  return Status::Ok();
}

}  // namespace labbook::data
