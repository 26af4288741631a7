#include "output.hpp"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <system_error>

namespace labbook::cli {

Status EnsureDirectory(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    if (ec == std::errc::file_exists || ec == std::errc::not_a_directory) {
      return InvalidArgument(dir + ": expected a directory, found a file in the way");
    }
    return PermissionDenied(dir + ": cannot create directory: " + ec.message());
  }
  if (!std::filesystem::is_directory(dir, ec)) {
    return InvalidArgument(dir + ": expected a directory, found a file in the way");
  }
  return Status::Ok();
}

Status WriteTextFile(const std::string& path, std::string_view content) {
  std::string tmp = path + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (f == nullptr) {
    int err = errno;
    if (err == ENOENT) return NotFound(path + ": directory does not exist");
    return PermissionDenied(path + ": cannot write: " + std::strerror(err));
  }
  size_t written = std::fwrite(content.data(), 1, content.size(), f);
  int close_result = std::fclose(f);
  if (written != content.size() || close_result != 0) {
    int err = errno;
    std::remove(tmp.c_str());
    if (err == ENOSPC) return ResourceExhausted(path + ": disk full");
    return PermissionDenied(path + ": write failed: " + std::strerror(err));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    std::remove(tmp.c_str());
    return PermissionDenied(path + ": cannot rename into place: " + std::strerror(err));
  }
  return Status::Ok();
}

std::string FormatCount(int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n);
  std::string out;
  int since_comma = 0;
  for (auto it = digits.rbegin(); it != digits.rend(); ++it) {
    if (since_comma == 3) {
      out.push_back(',');
      since_comma = 0;
    }
    out.push_back(*it);
    ++since_comma;
  }
  if (n < 0) out.push_back('-');
  return {out.rbegin(), out.rend()};
}

nlohmann::json JsonNumber(double value) {
  if (!std::isfinite(value)) return nullptr;
  return value;
}

std::string FileStem(const std::string& path) {
  return std::filesystem::path(path).stem().string();
}

}  // namespace labbook::cli
