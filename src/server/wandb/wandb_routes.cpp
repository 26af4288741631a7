#include "server/wandb/wandb_routes.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "core/clock.hpp"
#include "core/errno_status.hpp"
#include "core/status_macros.hpp"
#include "server/auth/access.hpp"
#include "server/wandb/file_stream.hpp"
#include "server/wandb/graphql.hpp"
#include "server/wandb/history_lines.hpp"
#include "server/wandb/run_state.hpp"
#include "server/wandb/upload_token.hpp"

namespace labbook::server {
namespace {

using nlohmann::json;
using wandb::GqlField;
using wandb::WandbRunState;

constexpr int64_t kUploadTokenLifetimeS = 24 * 3600;
constexpr size_t kUploadBodyLimit = size_t{1} << 30;
// W&B's project when a client names none.
constexpr std::string_view kDefaultProject = "uncategorized";

// What the introspection probe (ProbeServerCapabilities) is told exists; clients pick code paths
// by these names.
const std::vector<std::string> kQueryFields = {"viewer", "serverInfo", "model", "project"};
const std::vector<std::string> kMutationFields = {"upsertBucket", "createRunFiles",
                                                  "markRunFilesUploaded"};
const std::vector<std::string> kServerInfoFields = {"cliVersionInfo", "latestLocalVersionInfo",
                                                    "features"};

// Whether the top-level field `name` of an operation of `type` is one Resolve answers.
bool IsKnownField(const std::string& type, const std::string& name) {
  if (name == "__typename") return true;
  const std::vector<std::string>& fields = type == "mutation" ? kMutationFields : kQueryFields;
  if (type == "query" && name == "__type") return true;
  return (type == "query" || type == "mutation") &&
         std::find(fields.begin(), fields.end(), name) != fields.end();
}

Status UnknownField(const std::string& type, const GqlField& field) {
  return Status(ErrorCode::kUnimplemented,
                "Cannot query field \"" + field.name + "\" on type \"" +
                    (type == "mutation" ? "Mutation" : "Query") +
                    "\"; labbook answers the W&B operations listed in docs/wandb.md");
}

std::string Base64(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const uint32_t n = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    for (int shift : {18, 12, 6, 0}) out += kAlphabet[(n >> shift) & 63];
  }
  if (i + 1 == in.size()) {
    const uint32_t n = uint8_t(in[i]) << 16;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    const uint32_t n = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += '=';
  }
  return out;
}

std::optional<std::string> FromBase64(std::string_view in) {
  std::string out;
  uint32_t bits = 0;
  int count = 0;
  for (char c : in) {
    int v;
    if (c >= 'A' && c <= 'Z') {
      v = c - 'A';
    } else if (c >= 'a' && c <= 'z') {
      v = c - 'a' + 26;
    } else if (c >= '0' && c <= '9') {
      v = c - '0' + 52;
    } else if (c == '+' || c == '-') {
      v = 62;
    } else if (c == '/' || c == '_') {
      v = 63;
    } else if (c == '=') {
      break;
    } else {
      return std::nullopt;
    }
    bits = (bits << 6) | uint32_t(v);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out += char((bits >> count) & 0xff);
    }
  }
  return out;
}

// W&B's opaque ids. Clients echo a run's id back in later UpsertBucket calls.
std::string RunStorageId(const WandbRunState& s) {
  return Base64("Run:v1:" + s.name + ":" + s.project + ":" + s.entity);
}
std::string ProjectId(const std::string& entity, const std::string& project) {
  return Base64("Project:v1:" + project + ":" + entity);
}
std::string EntityId(const std::string& entity) { return Base64("Entity:" + entity); }

std::string RandomRunName() {
  static constexpr char kChars[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  std::random_device random;
  std::uniform_int_distribution<int> pick(0, 35);
  std::string name;
  for (int i = 0; i < 8; ++i) name += kChars[pick(random)];
  return name;
}

bool IsRunId(std::string_view id) {
  if (id.size() != 8) return false;
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z'))) return false;
  }
  return true;
}

// An optional string member of a GraphQL argument object: "" when absent or null.
Result<std::string> OptionalString(const json& object, std::string_view where, const char* key) {
  if (!object.is_object()) return std::string();
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return std::string();
  if (!it->is_string()) {
    return InvalidArgument(std::string(where) + "." + key + " must be a string, got " +
                           std::string(it->type_name()));
  }
  return it->get<std::string>();
}

Result<std::optional<std::vector<std::string>>> OptionalStrings(const json& object,
                                                                std::string_view where,
                                                                const char* key) {
  using Out = std::optional<std::vector<std::string>>;
  if (!object.is_object()) return Out();
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return Out();
  std::vector<std::string> out;
  bool ok = it->is_array();
  for (size_t i = 0; ok && i < it->size(); ++i) {
    ok = (*it)[i].is_string();
    if (ok) out.push_back((*it)[i].get<std::string>());
  }
  if (!ok) return InvalidArgument(std::string(where) + "." + key + " must be a list of strings");
  return Out(std::move(out));
}

// A JSONString argument: a string holding a JSON object (null or "" for none).
Result<std::optional<json>> OptionalJsonObjectString(const json& object, std::string_view where,
                                                     const char* key) {
  LABBOOK_ASSIGN_OR_RETURN(std::string text, OptionalString(object, where, key));
  if (text.empty()) return std::optional<json>();
  LABBOOK_ASSIGN_OR_RETURN(json value, wandb::ParseWandbJson(text, std::string(where) + "." + key));
  if (value.is_null()) return std::optional<json>();
  if (!value.is_object()) {
    return InvalidArgument(std::string(where) + "." + key +
                           " must be a JSON string holding an object");
  }
  return std::optional<json>(std::move(value));
}

// W&B's Python client sends each config entry as {"value": v, "desc": ...}; the JS client sends
// plain values. An entry is unwrapped when it is an object of exactly those members.
json UnwrapConfig(const json& raw) {
  json out = json::object();
  for (const auto& [key, value] : raw.items()) {
    bool wrapped = value.is_object() && value.contains("value");
    if (wrapped) {
      for (const auto& [member, ignored] : value.items()) {
        if (member != "value" && member != "desc") wrapped = false;
      }
    }
    out[key] = wrapped ? value["value"] : value;
  }
  return out;
}

json WrapConfig(const json& config) {
  json out = json::object();
  for (const auto& [key, value] : config.items()) out[key] = {{"value", value}, {"desc", nullptr}};
  return out;
}

// The run's config as labbook keeps it: W&B's own bookkeeping (`_wandb`) is not the user's.
json LabbookConfig(const json& unwrapped) {
  json out = unwrapped;
  out.erase("_wandb");
  return out;
}

// Whether a client-chosen relative path may name a file under a run's folder.
bool IsSafeRelativePath(std::string_view path) {
  if (path.empty() || path.size() > 1024 || path.front() == '/') return false;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view part = path.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") return false;
    start = end + 1;
  }
  for (char c : path) {
    if (static_cast<unsigned char>(c) < 0x20 || c == '\\') return false;
  }
  return true;
}

std::string PercentEncodePath(std::string_view path) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  for (char c : path) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) != 0 || c == '-' || c == '_' || c == '.' || c == '~' || c == '/') {
      out += c;
    } else {
      out += '%';
      out += kDigits[u >> 4];
      out += kDigits[u & 15];
    }
  }
  return out;
}

// Errors that mean "try again later" or "who are you": HTTP statuses, so clients retry or ask
// for a key. Everything else is the client's request being wrong: a GraphQL error.
bool IsTransportError(const Status& status) {
  switch (status.code()) {
    case ErrorCode::kUnauthenticated:
    case ErrorCode::kUnavailable:
    case ErrorCode::kInternal:
    case ErrorCode::kResourceExhausted:
    case ErrorCode::kDataLoss:
      return true;
    default:
      return false;
  }
}

class WandbIngest {
 public:
  explicit WandbIngest(const ServerContext& context)
      : context_(context), states_(context.data_dir / "wandb") {
    Result<wandb::UploadTokenSigner> signer =
        wandb::UploadTokenSigner::Open(context.data_dir / "wandb" / "upload-secret");
    if (signer.ok()) {
      signer_.emplace(std::move(signer).value());
    } else {
      signer_error_ = signer.status();
    }
  }

  Status GraphQl(Request& request, httplib::Response& response);
  Status FileStream(Request& request, httplib::Response& response);
  Status Upload(Request& request, httplib::Response& response);

 private:
  // The caller of a request; nullopt when it came without a key.
  using Caller = std::optional<Principal>;

  Result<json> Resolve(const std::string& type, const GqlField& field, const Caller& who,
                       const std::string& base_url);
  Result<json> Viewer(const Caller& who);
  json ServerInfo() const;
  json IntrospectType(const GqlField& field) const;
  Result<json> UpsertBucket(const json& input, const Caller& who);
  Result<json> Model(const GqlField& field, const Caller& who, const std::string& base_url);
  Result<json> Project(const GqlField& field, const Caller& who);
  Result<json> CreateRunFiles(const json& input, const Caller& who, const std::string& base_url);
  Result<json> MarkRunFilesUploaded(const json& input, const Caller& who);

  Result<json> Bucket(const WandbRunState& state, const GqlField* field, bool writable,
                      const std::string& base_url);
  Result<json> UploadUrls(const WandbRunState& state, const std::vector<std::string>& files,
                          const std::string& base_url);
  Result<std::string> EntityOrViewer(const std::string& entity, const Caller& who,
                                     std::string_view where) const;
  // Logs the lines of `chunk` and advances `line_count` and `tail` past them.
  Status ApplyLines(const WandbRunState& state, const wandb::LineChunk& chunk, wandb::LineKind kind,
                    double now, int64_t& line_count, std::string& tail);

  ServerContext context_;
  wandb::WandbRunStates states_;
  std::optional<wandb::UploadTokenSigner> signer_;
  Status signer_error_;
};

Result<std::string> WandbIngest::EntityOrViewer(const std::string& entity, const Caller& who,
                                                std::string_view where) const {
  if (!entity.empty()) return entity;
  if (who) return who->user;
  return Status(ErrorCode::kUnauthenticated,
                std::string(where) + ": no entity given and no API key to default to its user");
}

Result<json> WandbIngest::Viewer(const Caller& who) {
  if (!who) return json(nullptr);
  LABBOOK_ASSIGN_OR_RETURN(std::vector<Membership> teams, context_.auth->TeamsOf(who->user));
  json edges = json::array();
  for (const Membership& m : teams) edges.push_back({{"node", {{"name", m.team}}}});
  return json{{"id", Base64("User:" + who->user)},
              {"entity", who->user},
              {"username", who->user},
              {"name", who->user},
              {"email", nullptr},
              {"admin", who->is_admin},
              {"flags", "{}"},
              {"teams", {{"edges", edges}}}};
}

json WandbIngest::ServerInfo() const {
  json features = json::array();
  return {{"cliVersionInfo", json::object()},
          {"latestLocalVersionInfo", nullptr},
          {"features", features}};
}

json WandbIngest::IntrospectType(const GqlField& field) const {
  auto argument = field.arguments.find("name");
  if (argument == field.arguments.end() || !argument->is_string()) return nullptr;
  const std::string& name = argument->get_ref<const std::string&>();
  const std::vector<std::string>* fields = nullptr;
  if (name == "Query") fields = &kQueryFields;
  if (name == "Mutation") fields = &kMutationFields;
  if (name == "ServerInfo") fields = &kServerInfoFields;
  if (fields == nullptr) return nullptr;
  json list = json::array();
  for (const std::string& f : *fields) list.push_back({{"name", f}});
  return {{"name", name}, {"kind", "OBJECT"}, {"fields", list}};
}

Result<json> WandbIngest::UploadUrls(const WandbRunState& state,
                                     const std::vector<std::string>& files,
                                     const std::string& base_url) {
  if (!signer_) return signer_error_.WithContext("upload URLs need the upload-token secret");
  const int64_t expires = static_cast<int64_t>(UnixSeconds()) + kUploadTokenLifetimeS;
  json out = json::array();
  for (size_t i = 0; i < files.size(); ++i) {
    if (!IsSafeRelativePath(files[i])) {
      return InvalidArgument("files[" + std::to_string(i) + "] '" + files[i] +
                             "' must be a relative path without '.', '..' or empty parts");
    }
    const std::string resource = state.run_id + "/" + files[i];
    out.push_back(
        {{"name", files[i]},
         {"url", base_url + "/wandb/upload/" + state.run_id + "/" + PercentEncodePath(files[i]) +
                     "?token=" + signer_->Sign(resource, expires)}});
  }
  return out;
}

Result<json> WandbIngest::Bucket(const WandbRunState& state, const GqlField* field, bool writable,
                                 const std::string& base_url) {
  LABBOOK_ASSIGN_OR_RETURN(track::RunInfo run, context_.store->GetRun(state.run_id));
  json wandb_t = json::object();
  if (auto w = state.config.find("_wandb"); w != state.config.end() && w->is_object()) {
    if (auto t = w->find("t"); t != w->end()) wandb_t = *t;
  }
  json bucket = {
      {"id", RunStorageId(state)},
      {"name", state.name},
      {"displayName", run.name},
      {"description", run.notes},
      {"notes", run.notes},
      {"tags", run.tags},
      {"state", std::string(track::RunStateName(run.state))},
      {"config", WrapConfig(state.config).dump()},
      {"summaryMetrics", state.summary.dump()},
      {"sweepName", nullptr},
      {"historyLineCount", state.history_lines},
      {"eventsLineCount", state.events_lines},
      {"logLineCount", state.log_lines},
      {"historyTail",
       (state.history_tail.empty() ? json::array() : json::array({state.history_tail})).dump()},
      {"eventsTail",
       (state.events_tail.empty() ? json::array() : json::array({state.events_tail})).dump()},
      // Clients read the presence of "t" as "this run has started before".
      {"wandbConfig", json{{"t", wandb_t}}.dump()},
      {"stopped", false},
      // Clients read a non-null runInfo as "this run has started before" (resume checks).
      {"runInfo", {{"args", json::array()}, {"program", nullptr}, {"os", nullptr}}},
      {"project",
       {{"id", ProjectId(state.entity, state.project)},
        {"name", state.project},
        {"entity", {{"id", EntityId(state.entity)}, {"name", state.entity}}}}},
  };
  const GqlField* files = field == nullptr ? nullptr : field->Child("files");
  if (files != nullptr) {
    if (!writable) {
      return PermissionDenied("files of run " + state.entity + "/" + state.project + "/" +
                              state.name + ": upload URLs need write access");
    }
    LABBOOK_ASSIGN_OR_RETURN(std::optional<std::vector<std::string>> names,
                             OptionalStrings(files->arguments, "files", "names"));
    LABBOOK_ASSIGN_OR_RETURN(
        json urls, UploadUrls(state, names.value_or(std::vector<std::string>{}), base_url));
    json edges = json::array();
    for (json& url : urls) {
      url["updatedAt"] = nullptr;
      edges.push_back({{"node", std::move(url)}});
    }
    bucket["files"] = {{"uploadHeaders", json::array()}, {"edges", edges}};
  }
  return bucket;
}

Result<json> WandbIngest::UpsertBucket(const json& input, const Caller& who) {
  constexpr std::string_view kWhere = "upsertBucket input";
  LABBOOK_RETURN_IF_ERROR(RequirePrincipal(who).status());
  LABBOOK_ASSIGN_OR_RETURN(std::string name, OptionalString(input, kWhere, "name"));
  LABBOOK_ASSIGN_OR_RETURN(std::string entity, OptionalString(input, kWhere, "entityName"));
  LABBOOK_ASSIGN_OR_RETURN(std::string project, OptionalString(input, kWhere, "modelName"));
  LABBOOK_ASSIGN_OR_RETURN(std::string storage_id, OptionalString(input, kWhere, "id"));
  if (name.empty() && !storage_id.empty()) {
    // A client that knows the run only by the id a previous upsert returned.
    const std::optional<std::string> decoded = FromBase64(storage_id);
    std::vector<std::string> parts;
    if (decoded && decoded->rfind("Run:v1:", 0) == 0) {
      std::string rest = decoded->substr(7);
      for (size_t pos; (pos = rest.find(':')) != std::string::npos; rest.erase(0, pos + 1)) {
        parts.push_back(rest.substr(0, pos));
      }
      parts.push_back(rest);
    }
    if (parts.size() != 3) {
      return InvalidArgument(std::string(kWhere) + ".id '" + storage_id +
                             "' is not a run id this server handed out");
    }
    name = parts[0];
    if (project.empty()) project = parts[1];
    if (entity.empty()) entity = parts[2];
  }
  // W&B names a run the client did not name, in the form of labbook's ids.
  if (name.empty()) name = RandomRunName();
  if (project.empty()) project = std::string(kDefaultProject);
  LABBOOK_ASSIGN_OR_RETURN(entity, EntityOrViewer(entity, who, kWhere));
  LABBOOK_RETURN_IF_ERROR(CanWrite(*context_.auth, who, entity, project));

  LABBOOK_ASSIGN_OR_RETURN(std::string display_name, OptionalString(input, kWhere, "displayName"));
  LABBOOK_ASSIGN_OR_RETURN(std::string group, OptionalString(input, kWhere, "groupName"));
  LABBOOK_ASSIGN_OR_RETURN(std::string notes, OptionalString(input, kWhere, "notes"));
  LABBOOK_ASSIGN_OR_RETURN(std::string description, OptionalString(input, kWhere, "description"));
  LABBOOK_ASSIGN_OR_RETURN(std::string commit, OptionalString(input, kWhere, "commit"));
  LABBOOK_ASSIGN_OR_RETURN(std::string host, OptionalString(input, kWhere, "host"));
  LABBOOK_ASSIGN_OR_RETURN(std::optional<std::vector<std::string>> tags,
                           OptionalStrings(input, kWhere, "tags"));
  LABBOOK_ASSIGN_OR_RETURN(std::optional<json> config,
                           OptionalJsonObjectString(input, kWhere, "config"));
  LABBOOK_ASSIGN_OR_RETURN(std::optional<json> summary,
                           OptionalJsonObjectString(input, kWhere, "summaryMetrics"));
  if (notes.empty()) notes = description;
  const json unwrapped = config ? UnwrapConfig(*config) : json::object();

  std::lock_guard<std::mutex> lock(states_.Lock(entity, project, name));
  LABBOOK_ASSIGN_OR_RETURN(std::optional<WandbRunState> found, states_.Find(entity, project, name));
  bool inserted = false;
  if (found) {
    Result<track::RunInfo> existing = context_.store->GetRun(found->run_id);
    if (!existing.ok() && existing.status().code() == ErrorCode::kNotFound) {
      found.reset();  // deleted from the store: the W&B name starts afresh
    } else if (!existing.ok()) {
      return existing.status();
    }
  }
  WandbRunState state;
  if (found) {
    state = std::move(*found);
    track::RunUpdate update;
    update.heartbeat_time = UnixSeconds();
    if (tags) update.tags = *tags;
    if (!notes.empty()) update.notes = notes;
    if (summary) {
      state.summary.update(*summary);
      update.summary_patch = wandb::SummaryPatch(json::object(), *summary);
    }
    LABBOOK_ASSIGN_OR_RETURN(track::RunInfo run, context_.store->GetRun(state.run_id));
    // An upsert of an ended run is a resume.
    if (run.state != track::RunState::kRunning) update.state = track::RunState::kRunning;
    LABBOOK_RETURN_IF_ERROR(context_.store->UpdateRun(state.run_id, update));
    state.config.update(unwrapped);
  } else {
    track::RunInfo run;
    run.id = IsRunId(name) ? name : "";
    run.entity = entity;
    run.project = project;
    run.name = display_name.empty() ? name : display_name;
    run.group = group;
    run.tags = tags.value_or(std::vector<std::string>{});
    run.notes = notes;
    run.config = LabbookConfig(unwrapped);
    if (summary) run.summary = wandb::SummaryPatch(json::object(), *summary);
    run.host = host;
    run.git_commit = commit;
    run.start_time = UnixSeconds();
    run.heartbeat_time = run.start_time;
    Result<track::RunInfo> created = context_.store->CreateRun(run);
    if (!created.ok() && created.status().code() == ErrorCode::kAlreadyExists && !run.id.empty()) {
      // The W&B name is another project's labbook id: this run gets a fresh one.
      run.id.clear();
      created = context_.store->CreateRun(run);
    }
    if (!created.ok()) return created.status().WithContext("upsertBucket");
    state.run_id = created->id;
    state.entity = entity;
    state.project = project;
    state.name = name;
    state.config = unwrapped;
    if (summary) state.summary = *summary;
    inserted = true;
  }
  LABBOOK_RETURN_IF_ERROR(states_.Save(state));
  LABBOOK_ASSIGN_OR_RETURN(json bucket, Bucket(state, nullptr, true, ""));
  return json{{"bucket", std::move(bucket)}, {"inserted", inserted}};
}

Result<json> WandbIngest::Model(const GqlField& field, const Caller& who,
                                const std::string& base_url) {
  constexpr std::string_view kWhere = "model";
  LABBOOK_ASSIGN_OR_RETURN(std::string project, OptionalString(field.arguments, kWhere, "name"));
  LABBOOK_ASSIGN_OR_RETURN(std::string entity,
                           OptionalString(field.arguments, kWhere, "entityName"));
  if (project.empty()) project = std::string(kDefaultProject);
  if (entity.empty() && !who) return json(nullptr);
  LABBOOK_ASSIGN_OR_RETURN(entity, EntityOrViewer(entity, who, kWhere));
  // A project the caller may not read does not exist for them.
  if (!CanRead(*context_.auth, who, entity, project).ok()) return json(nullptr);
  const bool writable = CanWrite(*context_.auth, who, entity, project).ok();
  json model = {{"id", ProjectId(entity, project)},
                {"name", project},
                {"entity", {{"id", EntityId(entity)}, {"name", entity}}},
                {"bucket", nullptr}};
  const GqlField* bucket = field.Child("bucket");
  if (bucket == nullptr) return model;
  LABBOOK_ASSIGN_OR_RETURN(std::string name, OptionalString(bucket->arguments, "bucket", "name"));
  std::lock_guard<std::mutex> lock(states_.Lock(entity, project, name));
  LABBOOK_ASSIGN_OR_RETURN(std::optional<WandbRunState> state, states_.Find(entity, project, name));
  if (state) {
    Result<json> value = Bucket(*state, bucket, writable, base_url);
    if (value.ok()) {
      model["bucket"] = std::move(value).value();
    } else if (value.status().code() != ErrorCode::kNotFound) {
      return value.status();
    }
  }
  return model;
}

Result<json> WandbIngest::Project(const GqlField& field, const Caller& who) {
  constexpr std::string_view kWhere = "project";
  LABBOOK_ASSIGN_OR_RETURN(std::string project, OptionalString(field.arguments, kWhere, "name"));
  LABBOOK_ASSIGN_OR_RETURN(std::string entity,
                           OptionalString(field.arguments, kWhere, "entityName"));
  if (project.empty()) project = std::string(kDefaultProject);
  if (entity.empty() && !who) return json(nullptr);
  LABBOOK_ASSIGN_OR_RETURN(entity, EntityOrViewer(entity, who, kWhere));
  if (!CanRead(*context_.auth, who, entity, project).ok()) return json(nullptr);
  json out = {{"id", ProjectId(entity, project)},
              {"name", project},
              {"entity", {{"id", EntityId(entity)}, {"name", entity}}},
              {"run", nullptr}};
  const GqlField* run = field.Child("run");
  if (run == nullptr) return out;
  LABBOOK_ASSIGN_OR_RETURN(std::string name, OptionalString(run->arguments, "run", "name"));
  std::lock_guard<std::mutex> lock(states_.Lock(entity, project, name));
  LABBOOK_ASSIGN_OR_RETURN(std::optional<WandbRunState> state, states_.Find(entity, project, name));
  if (state) {
    Result<json> value = Bucket(*state, nullptr, false, "");
    if (value.ok()) {
      out["run"] = std::move(value).value();
    } else if (value.status().code() != ErrorCode::kNotFound) {
      return value.status();
    }
  }
  return out;
}

Result<json> WandbIngest::CreateRunFiles(const json& input, const Caller& who,
                                         const std::string& base_url) {
  constexpr std::string_view kWhere = "createRunFiles input";
  LABBOOK_RETURN_IF_ERROR(RequirePrincipal(who).status());
  LABBOOK_ASSIGN_OR_RETURN(std::string entity, OptionalString(input, kWhere, "entityName"));
  LABBOOK_ASSIGN_OR_RETURN(std::string project, OptionalString(input, kWhere, "projectName"));
  LABBOOK_ASSIGN_OR_RETURN(std::string name, OptionalString(input, kWhere, "runName"));
  LABBOOK_ASSIGN_OR_RETURN(std::optional<std::vector<std::string>> files,
                           OptionalStrings(input, kWhere, "files"));
  if (project.empty()) project = std::string(kDefaultProject);
  LABBOOK_ASSIGN_OR_RETURN(entity, EntityOrViewer(entity, who, kWhere));
  LABBOOK_RETURN_IF_ERROR(CanWrite(*context_.auth, who, entity, project));
  LABBOOK_ASSIGN_OR_RETURN(std::optional<WandbRunState> state, states_.Find(entity, project, name));
  if (!state) {
    return NotFound(std::string(kWhere) + ": run " + entity + "/" + project + "/" + name +
                    " was never created by upsertBucket");
  }
  LABBOOK_ASSIGN_OR_RETURN(
      json urls, UploadUrls(*state, files.value_or(std::vector<std::string>{}), base_url));
  json out_files = json::array();
  for (const json& url : urls) {
    out_files.push_back({{"name", url["name"]}, {"uploadUrl", url["url"]}});
  }
  return json{
      {"runID", RunStorageId(*state)}, {"uploadHeaders", json::array()}, {"files", out_files}};
}

Result<json> WandbIngest::MarkRunFilesUploaded(const json& input, const Caller& who) {
  constexpr std::string_view kWhere = "markRunFilesUploaded input";
  LABBOOK_RETURN_IF_ERROR(RequirePrincipal(who).status());
  LABBOOK_ASSIGN_OR_RETURN(std::string entity, OptionalString(input, kWhere, "entityName"));
  LABBOOK_ASSIGN_OR_RETURN(std::string project, OptionalString(input, kWhere, "projectName"));
  if (project.empty()) project = std::string(kDefaultProject);
  LABBOOK_ASSIGN_OR_RETURN(entity, EntityOrViewer(entity, who, kWhere));
  LABBOOK_RETURN_IF_ERROR(CanWrite(*context_.auth, who, entity, project));
  return json{{"success", true}};
}

Result<json> WandbIngest::Resolve(const std::string& type, const GqlField& field, const Caller& who,
                                  const std::string& base_url) {
  if (field.name == "__typename") return json(type == "mutation" ? "Mutation" : "Query");
  if (type == "query") {
    if (field.name == "viewer") return Viewer(who);
    if (field.name == "serverInfo") return ServerInfo();
    if (field.name == "__type") return IntrospectType(field);
    if (field.name == "model") return Model(field, who, base_url);
    if (field.name == "project") return Project(field, who);
  } else if (type == "mutation") {
    const json input = field.arguments.value("input", json::object());
    if (field.name == "upsertBucket") return UpsertBucket(input, who);
    if (field.name == "createRunFiles") return CreateRunFiles(input, who, base_url);
    if (field.name == "markRunFilesUploaded") return MarkRunFilesUploaded(input, who);
  }
  return UnknownField(type, field);
}

void WriteGqlErrors(httplib::Response& response, const json& errors) {
  WriteJson(response, json{{"errors", errors}});
}

json GqlError(const Status& status, const std::string& path) {
  json error = {{"message", status.message()},
                {"extensions", {{"code", std::string(ErrorCodeName(status.code()))}}}};
  if (!path.empty()) error["path"] = json::array({path});
  return error;
}

// A POST /graphql body: {"query": "...", "variables": {...}, "operationName": "..."}; the
// variables may come as a JSON string, and the operation name may be absent (the Python client
// sends none).
struct GqlRequest {
  std::string query;
  json variables = json::object();
  std::string operation_name;
};

Result<GqlRequest> ReadGqlRequest(Request& request) {
  LABBOOK_ASSIGN_OR_RETURN(json body, request.JsonBody());
  if (!body.is_object() || !body.contains("query") || !body["query"].is_string()) {
    return InvalidArgument("POST /graphql: the body must be a JSON object with a string \"query\"");
  }
  GqlRequest out;
  out.query = body["query"].get<std::string>();
  json variables = body.value("variables", json::object());
  if (variables.is_string()) variables = json::parse(variables.get<std::string>(), nullptr, false);
  if (variables.is_null()) variables = json::object();
  if (!variables.is_object()) {
    return InvalidArgument("POST /graphql: \"variables\" must be a JSON object");
  }
  out.variables = std::move(variables);
  if (auto it = body.find("operationName"); it != body.end() && it->is_string()) {
    out.operation_name = it->get<std::string>();
  }
  return out;
}

Status WandbIngest::GraphQl(Request& request, httplib::Response& response) {
  Result<GqlRequest> read = ReadGqlRequest(request);
  if (!read.ok()) {
    // A request that is no GraphQL request gets GraphQL's error shape, which W&B clients read;
    // a body over the limit stays the router's 413.
    if (read.status().code() != ErrorCode::kInvalidArgument) return read.status();
    WriteJson(response, json{{"errors", json::array({GqlError(read.status(), "")})}}, 400);
    return Status::Ok();
  }
  const GqlRequest& gql = *read;
  Result<wandb::GqlOperation> operation =
      wandb::ParseGqlOperation(gql.query, gql.variables, gql.operation_name);
  if (!operation.ok()) {
    WriteGqlErrors(response, json::array({GqlError(operation.status(), "")}));
    return Status::Ok();
  }
  if (operation->type == "subscription") {
    WriteGqlErrors(response, json::array({json{{"message", "subscriptions are not supported"}}}));
    return Status::Ok();
  }
  // Where the client reached us, for the URLs we hand out when no base URL is configured.
  std::string base_url = context_.base_url;
  if (base_url.empty()) base_url = "http://" + request.http().get_header_value("Host");
  while (!base_url.empty() && base_url.back() == '/') base_url.pop_back();

  // An unknown field fails validation: the whole operation is refused before any of it runs,
  // as GraphQL does, so no mutation of a refused document has happened.
  for (const GqlField& field : operation->selection) {
    if (!IsKnownField(operation->type, field.name)) {
      WriteGqlErrors(response, json::array({GqlError(UnknownField(operation->type, field), "")}));
      return Status::Ok();
    }
  }
  json data = json::object();
  json errors = json::array();
  for (const GqlField& field : operation->selection) {
    Result<json> value = Resolve(operation->type, field, request.principal(), base_url);
    if (!value.ok()) {
      if (IsTransportError(value.status())) {
        return value.status().WithContext("POST /graphql " + field.name);
      }
      errors.push_back(GqlError(value.status(), field.alias));
      data[field.alias] = nullptr;
      continue;
    }
    data[field.alias] = wandb::ProjectSelection(*value, field.selection);
  }
  json out = {{"data", data}};
  if (!errors.empty()) out["errors"] = errors;
  WriteJson(response, out);
  return Status::Ok();
}

Status WandbIngest::ApplyLines(const WandbRunState& state, const wandb::LineChunk& chunk,
                               wandb::LineKind kind, double now, int64_t& line_count,
                               std::string& tail) {
  track::HistoryBatch batch;
  std::map<std::string, uint32_t> key_index;
  for (size_t i = 0; i < chunk.content.size(); ++i) {
    // A line sent again (a chunk resent after its answer was lost) is logged again at the same
    // step, which the store keeps once, with the later value: resends add no points, and chunks
    // that arrive out of order lose none.
    const int64_t line_number = chunk.offset + static_cast<int64_t>(i);
    LABBOOK_ASSIGN_OR_RETURN(wandb::HistoryLine line,
                             wandb::ParseHistoryLine(chunk.content[i], line_number, kind));
    // A history line without "_step" takes its line number, as W&B counts steps; system samples
    // have no training step, so their line number orders them, as labbook's sampler counts its
    // samples.
    const int64_t step =
        kind == wandb::LineKind::kHistory ? line.step.value_or(line_number) : line_number;
    const double wall_time = line.wall_time > 0 ? line.wall_time : now;
    for (auto& [key, value] : line.values) {
      auto [it, added] = key_index.emplace(key, static_cast<uint32_t>(batch.keys.size()));
      if (added) batch.keys.push_back(key);
      batch.points.push_back({it->second, step, value, wall_time});
    }
  }
  if (!batch.points.empty()) {
    LABBOOK_RETURN_IF_ERROR(context_.store->LogHistory(state.run_id, batch));
  }
  const int64_t end = chunk.offset + static_cast<int64_t>(chunk.content.size());
  if (!chunk.content.empty() && end > line_count) {
    tail = chunk.content.back();
    line_count = end;
  }
  return Status::Ok();
}

Status WandbIngest::FileStream(Request& request, httplib::Response& response) {
  const std::string& entity = request.params()[0];
  const std::string& project = request.params()[1];
  const std::string& name = request.params()[2];
  const std::string where = "POST /files/" + entity + "/" + project + "/" + name + "/file_stream";
  // Before the body is read: a project the caller may not see is 404 whatever they send.
  LABBOOK_RETURN_IF_ERROR(CanWrite(*context_.auth, request.principal(), entity, project));
  LABBOOK_ASSIGN_OR_RETURN(json body, request.JsonBody());
  LABBOOK_ASSIGN_OR_RETURN(wandb::FileStreamRequest stream,
                           wandb::ParseFileStreamRequest(body, where));

  std::lock_guard<std::mutex> lock(states_.Lock(entity, project, name));
  LABBOOK_ASSIGN_OR_RETURN(std::optional<WandbRunState> found, states_.Find(entity, project, name));
  if (!found) {
    return NotFound(where + ": run " + entity + "/" + project + "/" + name +
                    " was never created by upsertBucket");
  }
  WandbRunState& state = *found;
  LABBOOK_ASSIGN_OR_RETURN(track::RunInfo run, context_.store->GetRun(state.run_id));

  const double now = UnixSeconds();
  if (stream.history) {
    LABBOOK_RETURN_IF_ERROR(ApplyLines(state, *stream.history, wandb::LineKind::kHistory, now,
                                       state.history_lines, state.history_tail)
                                .WithContext(where + " " + std::string(wandb::kHistoryFile)));
  }
  if (stream.events) {
    LABBOOK_RETURN_IF_ERROR(ApplyLines(state, *stream.events, wandb::LineKind::kSystemMetrics, now,
                                       state.events_lines, state.events_tail)
                                .WithContext(where + " " + std::string(wandb::kEventsFile)));
  }
  track::RunUpdate update;
  update.heartbeat_time = now;
  if (stream.summary) {
    update.summary_patch = wandb::SummaryPatch(state.summary, *stream.summary);
    state.summary = *stream.summary;
  }
  if (stream.output) {
    LABBOOK_ASSIGN_OR_RETURN(
        int64_t lines,
        states_.ReplaceOutputLines(state.run_id, stream.output->offset, stream.output->content));
    state.log_lines = std::max(state.log_lines, lines);
  }
  if (stream.complete) {
    const int exit_code = stream.exit_code.value_or(0);
    update.state = exit_code == 0 ? track::RunState::kFinished : track::RunState::kFailed;
    update.exit_code = exit_code;
    update.end_time = now;
    std::error_code ec;
    if (std::filesystem::exists(states_.OutputLog(state.run_id), ec)) {
      // The console as an artifact of the run, so that it lives in the store with the run.
      track::NewArtifact artifact;
      artifact.entity = state.entity;
      artifact.project = state.project;
      artifact.name = "run-" + state.run_id + "-output";
      artifact.type = "console";
      artifact.producer_run = state.run_id;
      artifact.files.push_back({"output.log", states_.OutputLog(state.run_id)});
      LABBOOK_RETURN_IF_ERROR(context_.store->LogArtifact(artifact).status().WithContext(where));
    }
  } else if (run.state != track::RunState::kRunning) {
    // A run that reads as crashed (its heartbeat came late) but still streams is alive. A run
    // that has ended stays ended: lines that arrive after `complete` are late, not a resume.
    if (run.state == track::RunState::kCrashed) update.state = track::RunState::kRunning;
  }
  LABBOOK_RETURN_IF_ERROR(context_.store->UpdateRun(state.run_id, update).WithContext(where));
  LABBOOK_RETURN_IF_ERROR(states_.Save(state));
  WriteJson(response, json{{"exitcode", nullptr}, {"limits", json::object()}});
  return Status::Ok();
}

Status WandbIngest::Upload(Request& request, httplib::Response& response) {
  const std::string& run_id = request.params()[0];
  // The file's path as the client named it, from the path the HTTP library decoded once: the
  // router's params() decode it a second time, which would turn a "%41" in a file name into
  // "A" and no longer match the token.
  const std::string prefix = "/wandb/upload/" + run_id + "/";
  const std::string& decoded = request.http().path;
  const std::string path =
      decoded.rfind(prefix, 0) == 0 ? decoded.substr(prefix.size()) : request.params()[1];
  // The route names the run only, never the token, in what it reports.
  const std::string where = "PUT /wandb/upload/" + run_id + "/" + path;
  if (!signer_) return signer_error_.WithContext(where);
  const std::optional<std::string> token = request.Query("token");
  if (!token) return Status(ErrorCode::kUnauthenticated, where + ": needs its ?token=");
  LABBOOK_RETURN_IF_ERROR(
      signer_->Verify(run_id + "/" + path, *token, static_cast<int64_t>(UnixSeconds())).WithContext(where));
  if (!IsSafeRelativePath(path)) {
    return InvalidArgument(where + ": the path must be relative, without '.' or '..' parts");
  }
  const std::filesystem::path target = states_.RunDir(run_id) / "files" / path;
  std::error_code ec;
  std::filesystem::create_directories(target.parent_path(), ec);
  if (ec) return StatusFromErrno(target.parent_path().string(), "create", ec.value());
  const std::filesystem::path temp = target.string() + ".part";
  std::FILE* file = std::fopen(temp.c_str(), "wb");
  if (file == nullptr) return StatusFromErrno(temp.string(), "create", errno);
  int write_errno = 0;
  Status streamed = request.StreamBody([&](const char* data, size_t size) {
    if (std::fwrite(data, 1, size, file) != size) {
      write_errno = errno;
      return false;
    }
    return true;
  });
  const bool closed = std::fclose(file) == 0;
  if (write_errno != 0 || !closed) {
    std::filesystem::remove(temp, ec);
    return StatusFromErrno(temp.string(), "write", write_errno != 0 ? write_errno : EIO);
  }
  if (!streamed.ok()) {
    std::filesystem::remove(temp, ec);
    return streamed.WithContext(where);
  }
  std::filesystem::rename(temp, target, ec);
  if (ec) return StatusFromErrno(target.string(), "rename into place", ec.value());
  response.status = 200;
  return Status::Ok();
}

}  // namespace

void AddWandbRoutes(Router& router, const ServerContext& context) {
  auto ingest = std::make_shared<WandbIngest>(context);
  router.Add("POST", "/graphql", [ingest](Request& request, httplib::Response& response) {
    return ingest->GraphQl(request, response);
  });
  router.Add("POST", "/files/([^/]+)/([^/]+)/([^/]+)/file_stream",
             [ingest](Request& request, httplib::Response& response) {
               return ingest->FileStream(request, response);
             });
  RouteOptions upload_options;
  upload_options.body_limit = kUploadBodyLimit;
  router.Add(
      "PUT", "/wandb/upload/([0-9a-z]{8})/(.+)",
      [ingest](Request& request, httplib::Response& response) {
        return ingest->Upload(request, response);
      },
      upload_options);
}

}  // namespace labbook::server
