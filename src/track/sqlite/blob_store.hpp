// Artifact file contents of the SQLite store: one file per distinct content, named by its sha256,
// in a directory beside the database ("<db>.blobs/ab/ab12...", the first two hex digits as a
// subdirectory). A blob is written under a temporary name, flushed and renamed, so it is complete
// or absent; blobs are never modified afterwards, and two processes adding the same content only
// rename equal bytes over each other. A Put that finds its content already there refreshes the
// blob's modification time, which `labbook gc` reads as "in use right now" (sqlite_store.hpp).
// Every method may be called from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "labbook/status.hpp"
#include "track/validation/validation.hpp"

namespace labbook::track::sqlite {

using validation::Sha256;

std::string Sha256Hex(std::string_view bytes);

using validation::IsSha256Hex;

struct StoredBlob {
  std::string sha256;
  int64_t size = 0;
};

class BlobStore {
 public:
  explicit BlobStore(std::filesystem::path dir) : dir_(std::move(dir)) {}

  const std::filesystem::path& dir() const { return dir_; }
  // Creates the directory when missing; errors name it.
  [[nodiscard]] Status Create() const;

  // Copies the regular file `source` into the store (nothing when the content is there already).
  // kNotFound when `source` is missing; errors name `source` or the blob's path.
  [[nodiscard]] Result<StoredBlob> Put(const std::filesystem::path& source) const;

  // Where the content with this digest lives (`sha256`: 64 lower-case hex digits).
  std::filesystem::path PathOf(std::string_view sha256) const;
  bool Exists(std::string_view sha256) const;

  // A file of the blob directory, as `labbook gc` sees it.
  struct Entry {
    std::filesystem::path path;
    std::string sha256;  // empty for a temporary file (".incoming-...") or a stranger
    int64_t size = 0;
    double modified = 0;  // Unix seconds
  };
  // Every blob and temporary file in the directory (none when it is missing).
  [[nodiscard]] Result<std::vector<Entry>> List() const;

  // Copies the blob to `destination` through a temporary file beside it (creating its directory),
  // checking the content on the way: kDataLoss when the size or the sha256 differs from the
  // expected ones, with nothing left at `destination`; kNotFound when there is no such blob.
  [[nodiscard]] Status CopyTo(std::string_view sha256, int64_t size,
                              const std::filesystem::path& destination) const;

 private:
  std::filesystem::path dir_;
};

}  // namespace labbook::track::sqlite
