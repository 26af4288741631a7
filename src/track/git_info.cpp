#include "track/git_info.hpp"

#include <algorithm>
#include <fstream>
#include <optional>
#include <string_view>
#include <system_error>

namespace labbook::track {

namespace {

namespace fs = std::filesystem;

std::optional<std::string> FirstLine(const fs::path& path) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) return std::nullopt;
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  return line;
}

bool IsCommitHash(std::string_view text) {
  // SHA-1 repositories use 40 hex digits, SHA-256 ones 64.
  return (text.size() == 40 || text.size() == 64) &&
         std::all_of(text.begin(), text.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// The git directory of the repository containing `directory`, if any.
std::optional<fs::path> FindGitDir(fs::path directory) {
  std::error_code error;
  directory = fs::absolute(directory, error);
  if (error) return std::nullopt;
  while (true) {
    const fs::path dot_git = directory / ".git";
    if (fs::is_directory(dot_git, error)) return dot_git;
    if (fs::is_regular_file(dot_git, error)) {
      auto line = FirstLine(dot_git);
      constexpr std::string_view kPrefix = "gitdir: ";
      if (!line || !line->starts_with(kPrefix)) return std::nullopt;
      fs::path target = line->substr(kPrefix.size());
      return target.is_absolute() ? target : directory / target;
    }
    if (!directory.has_parent_path() || directory.parent_path() == directory) return std::nullopt;
    directory = directory.parent_path();
  }
}

std::optional<std::string> ResolveRef(const fs::path& common_dir, const std::string& ref) {
  if (auto loose = FirstLine(common_dir / ref); loose && IsCommitHash(*loose)) return loose;
  std::ifstream packed(common_dir / "packed-refs");
  std::string line;
  while (std::getline(packed, line)) {
    if (line.empty() || line[0] == '#' || line[0] == '^') continue;
    const size_t space = line.find(' ');
    if (space == std::string::npos) continue;
    if (line.compare(space + 1, std::string::npos, ref) == 0) {
      std::string hash = line.substr(0, space);
      if (IsCommitHash(hash)) return hash;
    }
  }
  return std::nullopt;
}

}  // namespace

std::string GitCommitOf(const fs::path& directory) {
  auto git_dir = FindGitDir(directory);
  if (!git_dir) return "";
  auto head = FirstLine(*git_dir / "HEAD");
  if (!head) return "";
  if (IsCommitHash(*head)) return *head;  // detached
  constexpr std::string_view kRefPrefix = "ref: ";
  if (!head->starts_with(kRefPrefix)) return "";
  const std::string ref = head->substr(kRefPrefix.size());
  // A linked worktree keeps HEAD in its own directory and refs in the common one.
  fs::path common_dir = *git_dir;
  if (auto common = FirstLine(*git_dir / "commondir")) {
    fs::path path(*common);
    common_dir = path.is_absolute() ? path : *git_dir / path;
  }
  if (auto hash = ResolveRef(*git_dir, ref)) return *hash;
  if (common_dir != *git_dir) {
    if (auto hash = ResolveRef(common_dir, ref)) return *hash;
  }
  return "";
}

}  // namespace labbook::track
