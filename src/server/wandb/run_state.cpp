#include "server/wandb/run_state.hpp"

#include <fcntl.h>
#include <openssl/sha.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <functional>
#include <sstream>
#include <system_error>
#include <thread>

#include "core/errno_status.hpp"
#include "core/status_macros.hpp"

namespace labbook::server::wandb {
namespace {

using nlohmann::json;

Result<std::optional<std::string>> ReadWholeFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return std::optional<std::string>();
    return StatusFromErrno(path.string(), "open", errno);
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) return StatusFromErrno(path.string(), "read", errno);
  return std::optional<std::string>(buffer.str());
}

std::string KeyDigest(const std::string& entity, const std::string& project,
                      const std::string& name) {
  // NUL cannot occur in any of the three (names are validated), so the joined key is unambiguous.
  const std::string key = entity + '\0' + project + '\0' + name;
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(key.data()), key.size(), digest);
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  for (unsigned char byte : digest) {
    hex += kDigits[byte >> 4];
    hex += kDigits[byte & 15];
  }
  return hex;
}

json StateToJson(const WandbRunState& s) {
  return {{"run_id", s.run_id},
          {"entity", s.entity},
          {"project", s.project},
          {"name", s.name},
          {"history_lines", s.history_lines},
          {"events_lines", s.events_lines},
          {"log_lines", s.log_lines},
          {"history_tail", s.history_tail},
          {"events_tail", s.events_tail},
          {"summary", s.summary},
          {"config", s.config}};
}

Result<WandbRunState> StateFromJson(const std::filesystem::path& path, const std::string& text) {
  const json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  WandbRunState s;
  try {
    if (!j.is_object()) throw json::type_error::create(302, "not an object", nullptr);
    s.run_id = j.at("run_id").get<std::string>();
    s.entity = j.at("entity").get<std::string>();
    s.project = j.at("project").get<std::string>();
    s.name = j.at("name").get<std::string>();
    s.history_lines = j.at("history_lines").get<int64_t>();
    s.events_lines = j.at("events_lines").get<int64_t>();
    s.log_lines = j.at("log_lines").get<int64_t>();
    s.history_tail = j.at("history_tail").get<std::string>();
    s.events_tail = j.at("events_tail").get<std::string>();
    s.summary = j.at("summary");
    s.config = j.at("config");
  } catch (const json::exception& e) {
    return DataLoss(path.string() + ": not a W&B run state file: " + e.what());
  }
  return s;
}

}  // namespace

Status WriteFileAtomically(const std::filesystem::path& path, const std::string& contents) {
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  if (ec) return StatusFromErrno(path.parent_path().string(), "create", ec.value());
  const std::filesystem::path temp =
      path.string() + ".tmp" + std::to_string(::getpid()) + "-" +
      std::to_string(std::hash<std::thread::id>{}(std::this_thread::get_id()));
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return StatusFromErrno(temp.string(), "create", errno);
  size_t written = 0;
  while (written < contents.size()) {
    const ssize_t n = ::write(fd, contents.data() + written, contents.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      ::unlink(temp.c_str());
      return StatusFromErrno(temp.string(), "write", err);
    }
    written += static_cast<size_t>(n);
  }
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(temp.c_str());
    return StatusFromErrno(temp.string(), "close", err);
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(temp.c_str());
    return StatusFromErrno(path.string(), "rename into place", err);
  }
  return Status::Ok();
}

std::filesystem::path WandbRunStates::NamePath(const std::string& entity,
                                               const std::string& project,
                                               const std::string& name) const {
  return root_ / "names" / KeyDigest(entity, project, name);
}

std::mutex& WandbRunStates::Lock(const std::string& entity, const std::string& project,
                                 const std::string& name) const {
  const size_t h = std::hash<std::string>{}(KeyDigest(entity, project, name));
  return locks_[h % locks_.size()];
}

Result<std::optional<WandbRunState>> WandbRunStates::Find(const std::string& entity,
                                                          const std::string& project,
                                                          const std::string& name) const {
  const std::filesystem::path index = NamePath(entity, project, name);
  LABBOOK_ASSIGN_OR_RETURN(std::optional<std::string> run_id, ReadWholeFile(index));
  if (!run_id) return std::optional<WandbRunState>();
  const std::filesystem::path path = RunDir(*run_id) / "state.json";
  LABBOOK_ASSIGN_OR_RETURN(std::optional<std::string> text, ReadWholeFile(path));
  if (!text) return DataLoss(index.string() + ": names run " + *run_id + ", which has no state");
  LABBOOK_ASSIGN_OR_RETURN(WandbRunState state, StateFromJson(path, *text));
  return std::optional<WandbRunState>(std::move(state));
}

Status WandbRunStates::Save(const WandbRunState& state) const {
  // The state first: an index entry never points at a missing state.
  LABBOOK_RETURN_IF_ERROR(
      WriteFileAtomically(RunDir(state.run_id) / "state.json", StateToJson(state).dump()));
  return WriteFileAtomically(NamePath(state.entity, state.project, state.name), state.run_id);
}

Result<int64_t> WandbRunStates::ReplaceOutputLines(const std::string& run_id, int64_t offset,
                                                   const std::vector<std::string>& lines) const {
  const std::filesystem::path path = OutputLog(run_id);
  LABBOOK_ASSIGN_OR_RETURN(std::optional<std::string> text, ReadWholeFile(path));
  std::vector<std::string> all;
  if (text) {
    std::istringstream in(*text);
    for (std::string line; std::getline(in, line);) all.push_back(std::move(line));
  }
  const size_t end = static_cast<size_t>(offset) + lines.size();
  if (all.size() < end) all.resize(end);
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string line = lines[i];
    // One stored line per client line, so that indexes keep meaning the same line.
    for (char& c : line) {
      if (c == '\n' || c == '\r') c = ' ';
    }
    all[static_cast<size_t>(offset) + i] = std::move(line);
  }
  std::string out;
  for (const std::string& line : all) {
    out += line;
    out += '\n';
  }
  LABBOOK_RETURN_IF_ERROR(WriteFileAtomically(path, out));
  return static_cast<int64_t>(all.size());
}

}  // namespace labbook::server::wandb
