#include "server/wandb/history_lines.hpp"

#include <cmath>
#include <limits>

#include "core/status_macros.hpp"
#include "track/http/wire.hpp"

namespace labbook::server::wandb {
namespace {

using nlohmann::json;

// Nested objects deeper than this are not flattened further (their leaves are left out).
constexpr int kMaxFlattenDepth = 16;

constexpr std::string_view kNonFinite[] = {"-Infinity", "Infinity", "NaN"};

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// `text` with the bare non-finite tokens quoted; nullopt when it has none (the common case).
std::optional<std::string> QuoteNonFinite(std::string_view text) {
  std::optional<std::string> out;
  bool in_string = false;
  size_t copied = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
      continue;
    }
    if (c != '-' && c != 'I' && c != 'N') continue;
    if (i > 0 && IsNameChar(text[i - 1])) continue;
    for (std::string_view token : kNonFinite) {
      if (text.substr(i, token.size()) != token) continue;
      const size_t end = i + token.size();
      if (end < text.size() && IsNameChar(text[end])) continue;
      if (!out) out.emplace();
      out->append(text.substr(copied, i - copied));
      out->append("\"").append(token).append("\"");
      copied = end;
      i = end - 1;
      break;
    }
  }
  if (out) out->append(text.substr(copied));
  return out;
}

void Flatten(const std::string& prefix, const json& value, int depth,
             std::vector<std::pair<std::string, double>>& out) {
  if (value.is_object()) {
    // Media, tables and histograms describe themselves with "_type"; they are not numbers.
    if (value.contains("_type") || depth >= kMaxFlattenDepth) return;
    for (const auto& [key, member] : value.items()) {
      if (key.empty() || key[0] == '_') continue;
      Flatten(prefix.empty() ? key : prefix + "/" + key, member, depth + 1, out);
    }
    return;
  }
  if (std::optional<double> number = HistoryNumber(value)) out.emplace_back(prefix, *number);
}

std::string SystemKey(const std::string& key) {
  constexpr std::string_view kWandbPrefix = "system.";
  if (key.rfind(kWandbPrefix, 0) == 0) return "system/" + key.substr(kWandbPrefix.size());
  if (key.rfind("system/", 0) == 0) return key;
  return "system/" + key;
}

}  // namespace

Result<json> ParseWandbJson(std::string_view text, const std::string& where) {
  const std::optional<std::string> quoted = QuoteNonFinite(text);
  return track::wire::ParseJson(quoted ? std::string_view(*quoted) : text, where);
}

std::optional<double> HistoryNumber(const json& value) {
  if (value.is_number()) return value.get<double>();
  if (value.is_boolean()) return value.get<bool>() ? 1.0 : 0.0;
  if (value.is_string()) {
    const std::string& text = value.get_ref<const std::string&>();
    if (text == "NaN") return std::numeric_limits<double>::quiet_NaN();
    if (text == "Infinity") return std::numeric_limits<double>::infinity();
    if (text == "-Infinity") return -std::numeric_limits<double>::infinity();
  }
  return std::nullopt;
}

Result<HistoryLine> ParseHistoryLine(std::string_view text, int64_t line_number, LineKind kind) {
  const std::string where = "line " + std::to_string(line_number);
  LABBOOK_ASSIGN_OR_RETURN(json object, ParseWandbJson(text, where));
  if (!object.is_object()) {
    return InvalidArgument(where + ": expected a JSON object, got " + object.type_name());
  }
  HistoryLine line;
  if (auto step = object.find("_step"); step != object.end() && !step->is_null()) {
    // Clients write whole steps; a float with an integral value is accepted as one.
    const bool integral = step->is_number_integer() ||
                          (step->is_number_float() && std::isfinite(step->get<double>()) &&
                           std::floor(step->get<double>()) == step->get<double>() &&
                           std::fabs(step->get<double>()) < 9e15);
    if (!integral) return InvalidArgument(where + "._step: expected an integer");
    line.step = step->is_number_integer() ? step->get<int64_t>()
                                          : static_cast<int64_t>(step->get<double>());
  }
  if (auto timestamp = object.find("_timestamp"); timestamp != object.end()) {
    std::optional<double> seconds = HistoryNumber(*timestamp);
    if (seconds && std::isfinite(*seconds) && *seconds > 0) line.wall_time = *seconds;
  }
  for (const auto& [key, value] : object.items()) {
    if (key.empty() || key[0] == '_') continue;
    const std::string name = kind == LineKind::kSystemMetrics ? SystemKey(key) : key;
    Flatten(name, value, 0, line.values);
  }
  return line;
}

}  // namespace labbook::server::wandb
