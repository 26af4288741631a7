// Files as the data component reads and writes them: a sequential reader, a read-only memory map,
// and a writer that only shows its file under the final name once everything is written.
// Every error names the path. Each object is used by one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <utility>

#include "labbook/status.hpp"

namespace labbook::data {

// True when `path` names an existing regular file (symbolic links followed).
bool IsRegularFile(const std::string& path);
// True when `path` names an existing directory.
bool IsDirectory(const std::string& path);
// "dir/name", without doubling a '/' that `dir` already ends with.
std::string JoinPath(std::string_view dir, std::string_view name);

// A regular file opened for sequential reading.
class InputFile {
 public:
  // NotFound when nothing is at `path`, InvalidArgument when it is not a regular file,
  // PermissionDenied or Internal when the system refuses it.
  static Result<InputFile> Open(const std::string& path);

  InputFile(InputFile&& other) noexcept;
  InputFile& operator=(InputFile&& other) noexcept;
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;
  ~InputFile();

  // Reads up to `n` bytes; fewer only at the end of the file.
  Result<size_t> Read(void* dst, size_t n);
  // Goes back to the first byte.
  Status Rewind();
  // The size the file had when opened.
  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  InputFile(std::FILE* file, std::string path, uint64_t size)
      : file_(file), path_(std::move(path)), size_(size) {}
  std::FILE* file_ = nullptr;
  std::string path_;
  uint64_t size_ = 0;
};

// A whole regular file mapped read-only into memory (an empty file maps to no bytes).
class MappedFile {
 public:
  // Same errors as InputFile::Open.
  static Result<MappedFile> Open(const std::string& path);

  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  const char* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  MappedFile(const char* data, size_t size) : data_(data), size_(size) {}
  const char* data_ = nullptr;
  size_t size_ = 0;
};

// Writes a file under a temporary name in the target's directory and renames it over `path` in
// Commit(). Destroying an uncommitted writer removes the temporary file, so an interrupted write
// leaves the previous file (or none) in place.
class AtomicFileWriter {
 public:
  static Result<AtomicFileWriter> Open(const std::string& path);

  AtomicFileWriter(AtomicFileWriter&& other) noexcept;
  AtomicFileWriter& operator=(AtomicFileWriter&& other) = delete;
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;
  ~AtomicFileWriter();

  Status Write(const void* data, size_t n);
  // Closes the temporary file and renames it to the final path.
  Status Commit();

 private:
  AtomicFileWriter(std::FILE* file, std::string path, std::string temp_path)
      : file_(file), path_(std::move(path)), temp_path_(std::move(temp_path)) {}
  std::FILE* file_ = nullptr;
  std::string path_;
  std::string temp_path_;
};

}  // namespace labbook::data
