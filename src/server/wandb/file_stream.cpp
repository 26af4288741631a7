#include "server/wandb/file_stream.hpp"

#include <utility>

#include "core/status_macros.hpp"
#include "server/wandb/history_lines.hpp"

namespace labbook::server::wandb {
namespace {

using nlohmann::json;

bool IsWandbKey(const std::string& key) { return !key.empty() && key[0] == '_'; }

Result<std::optional<LineChunk>> ReadChunk(const json& files, std::string_view name,
                                           const std::string& where) {
  auto it = files.find(std::string(name));
  if (it == files.end() || it->is_null()) return std::optional<LineChunk>();
  const std::string path = where + ": files[\"" + std::string(name) + "\"]";
  if (!it->is_object()) return InvalidArgument(path + " must be an object");
  LineChunk chunk;
  if (auto offset = it->find("offset"); offset != it->end() && !offset->is_null()) {
    const bool valid = offset->is_number_integer() && offset->get<int64_t>() >= 0 &&
                       offset->get<int64_t>() <= kMaxLineOffset;
    if (!valid) return InvalidArgument(path + ".offset must be a non-negative integer");
    chunk.offset = offset->get<int64_t>();
  }
  auto content = it->find("content");
  if (content == it->end() || !content->is_array()) {
    return InvalidArgument(path + ".content must be a list of strings");
  }
  chunk.content.reserve(content->size());
  for (size_t i = 0; i < content->size(); ++i) {
    if (!(*content)[i].is_string()) {
      return InvalidArgument(path + ".content[" + std::to_string(i) + "] must be a string");
    }
    chunk.content.push_back((*content)[i].get<std::string>());
  }
  return std::optional<LineChunk>(std::move(chunk));
}

}  // namespace

Result<FileStreamRequest> ParseFileStreamRequest(const json& body, const std::string& where) {
  if (!body.is_object()) return InvalidArgument(where + ": the body must be a JSON object");
  FileStreamRequest out;
  if (auto files = body.find("files"); files != body.end() && !files->is_null()) {
    if (!files->is_object()) return InvalidArgument(where + ": \"files\" must be an object");
    LABBOOK_ASSIGN_OR_RETURN(out.history, ReadChunk(*files, kHistoryFile, where));
    LABBOOK_ASSIGN_OR_RETURN(out.events, ReadChunk(*files, kEventsFile, where));
    LABBOOK_ASSIGN_OR_RETURN(out.output, ReadChunk(*files, kOutputFile, where));
    LABBOOK_ASSIGN_OR_RETURN(std::optional<LineChunk> summary,
                             ReadChunk(*files, kSummaryFile, where));
    if (summary && !summary->content.empty()) {
      const std::string path = where + ": files[\"" + std::string(kSummaryFile) + "\"].content[" +
                               std::to_string(summary->content.size() - 1) + "]";
      LABBOOK_ASSIGN_OR_RETURN(json parsed, ParseWandbJson(summary->content.back(), path));
      if (!parsed.is_object()) return InvalidArgument(path + " must be a JSON object");
      out.summary = std::move(parsed);
    }
  }
  if (auto complete = body.find("complete"); complete != body.end() && !complete->is_null()) {
    if (!complete->is_boolean()) return InvalidArgument(where + ": \"complete\" must be a boolean");
    out.complete = complete->get<bool>();
  }
  if (auto code = body.find("exitcode"); code != body.end() && !code->is_null()) {
    const bool valid = code->is_number_integer() && code->get<int64_t>() >= -(int64_t{1} << 31) &&
                       code->get<int64_t>() < (int64_t{1} << 31);
    if (!valid) return InvalidArgument(where + ": \"exitcode\" must be an integer");
    out.exit_code = code->get<int>();
  }
  return out;
}

json SummaryPatch(const json& previous, const json& current) {
  json patch = json::object();
  if (previous.is_object()) {
    for (const auto& [key, value] : previous.items()) {
      if (!IsWandbKey(key) && !current.contains(key)) patch[key] = nullptr;
    }
  }
  if (current.is_object()) {
    for (const auto& [key, value] : current.items()) {
      if (!IsWandbKey(key)) patch[key] = value;
    }
  }
  return patch;
}

}  // namespace labbook::server::wandb
