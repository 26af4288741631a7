// The lines W&B clients stream to file_stream, read into what a RunStore keeps. A line of
// wandb-history.jsonl is one JSON object per logged step: the user's keys plus W&B's own
// ("_step", "_timestamp", "_runtime"); a line of wandb-events.jsonl is one sample of system
// metrics ("system.cpu", "system.memory", ... with "_timestamp").
//
// Which values become history points: numbers and booleans (1 or 0); nested plain objects are
// flattened with '/' ("val": {"acc": 0.9} is "val/acc"); strings, lists and W&B media objects
// (objects with a "_type" member, such as images or histograms) are left out, as labbook's
// history holds numbers only. Keys starting with '_' are W&B's and are not points.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "labbook/status.hpp"

namespace labbook::server::wandb {

// Parses one JSON document as W&B clients write it: JSON plus the bare tokens NaN, Infinity and
// -Infinity that Python's json module writes, which become the strings "NaN", "Infinity" and
// "-Infinity" (the convention of labbook's wire format). kInvalidArgument names `where` and the
// byte position of a syntax error.
[[nodiscard]] Result<nlohmann::json> ParseWandbJson(std::string_view text,
                                                    const std::string& where);

struct HistoryLine {
  std::optional<int64_t> step;  // "_step", when the line has one
  double wall_time = 0;         // "_timestamp" (seconds since the Unix epoch), 0 when absent
  std::vector<std::pair<std::string, double>> values;  // in the line's key order
};

// Which file a line comes from: history keys stay as they are; system metrics are renamed
// under "system/" ("system.cpu" is "system/cpu", "gpu.0.temp" is "system/gpu.0.temp").
enum class LineKind { kHistory, kSystemMetrics };

// Reads line `line_number` (0-based, for messages) of a file_stream file. kInvalidArgument for a
// line that is not a JSON object or whose "_step" is not an integer, naming the line.
[[nodiscard]] Result<HistoryLine> ParseHistoryLine(std::string_view line, int64_t line_number,
                                                   LineKind kind);

// The number a JSON value stands for as a history point: numbers, booleans and the strings
// "NaN", "Infinity", "-Infinity"; nullopt for anything else.
std::optional<double> HistoryNumber(const nlohmann::json& value);

}  // namespace labbook::server::wandb
