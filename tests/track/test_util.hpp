// Helpers shared by the track tests: temporary directories and runs that start quietly.
#pragma once

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <thread>

#include "labbook/run.hpp"

namespace labbook::track::test {

// A fresh directory, removed with everything in it at destruction.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("labbook-track-test-" + std::to_string(getpid()) + "-" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

  // Writes `content` to `name` inside the directory and returns its path.
  std::filesystem::path Write(const std::string& name, const std::string& content) const {
    const auto file = path_ / name;
    std::filesystem::create_directories(file.parent_path());
    std::ofstream(file, std::ios::binary) << content;
    return file;
  }

 private:
  std::filesystem::path path_;
};

inline std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Options for a run that starts no sampler and installs no signal handler.
inline InitOptions QuietOptions(std::string project = "tests") {
  InitOptions options;
  options.project = std::move(project);
  options.entity = "tester";
  options.system_metrics = false;
  options.handle_signals = false;
  return options;
}

inline double WallSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Polls `condition` until it holds or `limit` passes; returns the time it took, or limit + 1 s.
inline std::chrono::duration<double> TimeUntil(const std::function<bool()>& condition,
                                               std::chrono::duration<double> limit) {
  const auto start = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - start < limit) {
    if (condition()) return std::chrono::steady_clock::now() - start;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return limit + std::chrono::seconds(1);
}

}  // namespace labbook::track::test
