// What the W&B ingest remembers of each W&B run beyond what the RunStore keeps: which labbook run
// a W&B (entity, project, run name) maps to, the file_stream line counts a resuming client needs
// (history, events, output.log), the last history and events lines, the summary and the config
// as the client last sent them. Kept as small JSON files under the server's data directory:
//
//   DIR/wandb/names/<sha256 of entity, project, name>   the labbook run id
//   DIR/wandb/runs/<run id>/state.json                   WandbRunState
//   DIR/wandb/runs/<run id>/output.log                   the console, lines replaced by index
//   DIR/wandb/runs/<run id>/files/<path>                 files PUT to CreateRunFiles' URLs
//
// W&B run names are unique per project, labbook run ids across the store; the index keeps the
// two apart. Files are replaced atomically (temporary file, then rename). Callers serialise
// access to one run with Lock(); different runs proceed in parallel.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "labbook/status.hpp"

namespace labbook::server::wandb {

struct WandbRunState {
  std::string run_id;  // the labbook run
  std::string entity;
  std::string project;
  std::string name;  // the W&B run name (W&B's "run id")
  int64_t history_lines = 0;
  int64_t events_lines = 0;
  int64_t log_lines = 0;
  std::string history_tail;  // the last history line as sent ("" when none)
  std::string events_tail;
  nlohmann::json summary = nlohmann::json::object();  // the last wandb-summary.json, raw
  nlohmann::json config = nlohmann::json::object();   // unwrapped, `_wandb` included
};

class WandbRunStates {
 public:
  explicit WandbRunStates(std::filesystem::path root) : root_(std::move(root)) {}

  // The state of the W&B run, nullopt when none was created. kDataLoss for a corrupt file.
  [[nodiscard]] Result<std::optional<WandbRunState>> Find(const std::string& entity,
                                                          const std::string& project,
                                                          const std::string& name) const;
  // Writes the state and the name index.
  [[nodiscard]] Status Save(const WandbRunState& state) const;

  // Replaces lines [offset, offset + lines.size()) of the run's output.log (extending it with
  // empty lines when offset lies past its end); returns the new line count.
  [[nodiscard]] Result<int64_t> ReplaceOutputLines(const std::string& run_id, int64_t offset,
                                                   const std::vector<std::string>& lines) const;

  std::filesystem::path RunDir(const std::string& run_id) const { return root_ / "runs" / run_id; }
  std::filesystem::path OutputLog(const std::string& run_id) const {
    return RunDir(run_id) / "output.log";
  }

  // The lock of one W&B run (a stripe shared by a few runs).
  std::mutex& Lock(const std::string& entity, const std::string& project,
                   const std::string& name) const;

 private:
  std::filesystem::path NamePath(const std::string& entity, const std::string& project,
                                 const std::string& name) const;

  std::filesystem::path root_;
  mutable std::array<std::mutex, 64> locks_;
};

// Writes `contents` to `path` through a temporary file and a rename (creating parent folders).
[[nodiscard]] Status WriteFileAtomically(const std::filesystem::path& path,
                                         const std::string& contents);

}  // namespace labbook::server::wandb
