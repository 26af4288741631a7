// The body of W&B's file_stream request, read and checked at the door: which lines of which run
// files a client sends, and whether the run has ended. The files are W&B's:
//
//   wandb-history.jsonl  one JSON object per logged step; `offset` is the line number of the
//                        first line sent (the count of lines sent before)
//   wandb-events.jsonl   one JSON object per system-metrics sample, offsets the same way
//   wandb-summary.json   the whole summary; the last line sent is the newest
//   output.log           console lines; `offset` is the index of the first line sent, and a
//                        line sent again at an index replaces the one there
//
// {"files": {"<file>": {"offset": n, "content": ["<line>", ...]}, ...}, "complete": true,
//  "exitcode": 0}; other files and members are ignored.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "labbook/status.hpp"

namespace labbook::server::wandb {

inline constexpr std::string_view kHistoryFile = "wandb-history.jsonl";
inline constexpr std::string_view kSummaryFile = "wandb-summary.json";
inline constexpr std::string_view kEventsFile = "wandb-events.jsonl";
inline constexpr std::string_view kOutputFile = "output.log";

// Offsets beyond this are refused: no run has a trillion lines, and line arithmetic stays far
// from overflow.
inline constexpr int64_t kMaxLineOffset = int64_t{1} << 40;

struct LineChunk {
  int64_t offset = 0;
  std::vector<std::string> content;
};

struct FileStreamRequest {
  std::optional<LineChunk> history;
  std::optional<LineChunk> events;
  std::optional<LineChunk> output;
  // The newest summary sent (the last line of wandb-summary.json), parsed; nullopt when none.
  std::optional<nlohmann::json> summary;
  bool complete = false;
  std::optional<int> exit_code;
};

// Reads a file_stream body. kInvalidArgument names `where` and the member that is wrong (e.g.
// "files[\"wandb-history.jsonl\"].offset must be a non-negative integer").
[[nodiscard]] Result<FileStreamRequest> ParseFileStreamRequest(const nlohmann::json& body,
                                                               const std::string& where);

// The RunUpdate::summary_patch that turns the summary labbook keeps for `previous` (the W&B
// summary received before, empty when none) into the one for `current`: the keys of `current`,
// and null for each key of `previous` that `current` dropped. W&B's own keys (starting with
// '_': "_step", "_runtime", "_timestamp", "_wandb") are not labbook's and are left out.
nlohmann::json SummaryPatch(const nlohmann::json& previous, const nlohmann::json& current);

}  // namespace labbook::server::wandb
