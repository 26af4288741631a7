#include "server/rest_routes.hpp"

#include <unistd.h>
#include <algorithm>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <system_error>

#include "core/clock.hpp"
#include "core/status_macros.hpp"
#include "server/auth/access.hpp"
#include "server/blob_uploads.hpp"
#include "server/run_access.hpp"
#include "track/filter.hpp"
#include "track/http/wire.hpp"

namespace labbook::server {
namespace {

namespace fs = std::filesystem;
namespace wire = track::wire;
using nlohmann::json;

constexpr size_t kMaxBlobBytes = size_t{16} << 30;

// Shared by every handler: the context and the upload directory.
struct Api {
  ServerContext context;
  BlobUploads uploads;

  track::RunStore& store() const { return *context.store; }
  AuthStore& auth() const { return *context.auth; }

  Status Scrub(Status status) const { return ScrubStoreUri(context, std::move(status)); }
  template <typename T>
  Result<T> Scrub(Result<T> result) const {
    return ScrubStoreUri(context, std::move(result));
  }
  Result<track::RunInfo> ReadableRun(const Request& request, const std::string& id) const {
    return server::ReadableRun(context, request, id);
  }
  Result<track::RunInfo> WritableRun(const Request& request, const std::string& id) const {
    LABBOOK_ASSIGN_OR_RETURN(track::RunInfo run, ReadableRun(request, id));
    LABBOOK_RETURN_IF_ERROR(CanWrite(auth(), request.principal(), run.entity, run.project));
    return run;
  }
};

Result<std::string> RequiredString(const json& body, const std::string& field,
                                   const std::string& where) {
  if (!body.is_object()) return InvalidArgument(where + ": expected a JSON object");
  auto it = body.find(field);
  if (it == body.end())
    return InvalidArgument(where + "." + field + ": missing; expected a string");
  if (!it->is_string()) return InvalidArgument(where + "." + field + ": expected a string");
  return it->get<std::string>();
}

std::optional<std::string> OptionalString(const json& body, const std::string& field) {
  auto it = body.find(field);
  if (it == body.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

Result<int64_t> IntegerQuery(const Request& request, const std::string& name, int64_t fallback) {
  std::optional<std::string> text = request.Query(name);
  if (!text.has_value() || text->empty()) return fallback;
  int64_t value = 0;
  const char* end = text->data() + text->size();
  auto [ptr, error] = std::from_chars(text->data(), end, value);
  if (error != std::errc() || ptr != end) {
    return InvalidArgument("query parameter '" + name + "': expected an integer, got '" +
                           text->substr(0, 40) + "'");
  }
  return value;
}

json UserToJson(const User& user) {
  return {{"name", user.name}, {"admin", user.is_admin}, {"created_time", user.created_time}};
}

json KeyToJson(const ApiKeyInfo& key) {
  return {{"id", key.id},
          {"user", key.user},
          {"name", key.name},
          {"created_time", key.created_time},
          {"last_used_time", key.last_used_time},
          {"revoked", key.revoked}};
}

json MemberToJson(const Membership& member) {
  return {
      {"team", member.team}, {"user", member.user}, {"role", std::string(RoleName(member.role))}};
}

// Streams the file at `path` (`size` bytes) as the response; the HTTP library answers a Range
// header from the provider with 206.
void StreamFile(httplib::Response& response, const fs::path& path, int64_t size,
                const std::string& content_type, bool remove_after) {
  auto file = std::make_shared<std::ifstream>(path, std::ios::binary);
  auto done = [path, remove_after, file](bool) {
    file->close();
    if (remove_after) {
      std::error_code ignored;
      fs::remove(path, ignored);
    }
  };
  response.set_content_provider(
      static_cast<size_t>(size), content_type,
      [file](size_t offset, size_t length, httplib::DataSink& sink) {
        char buffer[64 * 1024];
        file->clear();
        file->seekg(static_cast<std::streamoff>(offset));
        while (length > 0) {
          const size_t chunk = std::min(length, sizeof buffer);
          file->read(buffer, static_cast<std::streamsize>(chunk));
          const auto got = static_cast<size_t>(file->gcount());
          if (got == 0) return false;
          if (!sink.write(buffer, got)) return false;
          length -= got;
        }
        return true;
      },
      done);
}

// Serves an artifact file: from the uploads when the blob was received here, else copied out of
// the store first (which checks its digest).
Status ServeArtifactFile(const Api& api, const track::ArtifactFile& file,
                         httplib::Response& response, const std::string& content_type) {
  if (std::optional<int64_t> size = api.uploads.Size(file.sha256); size && *size == file.size) {
    StreamFile(response, api.uploads.PathOf(file.sha256), *size, content_type, false);
    return Status::Ok();
  }
  static std::atomic<uint64_t> counter{0};
  const fs::path copy =
      api.context.data_dir / "uploads" /
      (".serving-" + std::to_string(getpid()) + "-" + std::to_string(counter.fetch_add(1)));
  LABBOOK_RETURN_IF_ERROR(api.Scrub(api.store().ReadArtifactFile(file, copy)));
  StreamFile(response, copy, file.size, content_type, true);
  return Status::Ok();
}

// Whether the caller may read a project, asked once per project of a listing.
class ReadableProjects {
 public:
  ReadableProjects(AuthStore& auth, const std::optional<Principal>& principal)
      : auth_(auth), principal_(principal) {}

  bool Readable(const std::string& entity, const std::string& project) {
    auto key = std::make_pair(entity, project);
    auto it = known_.find(key);
    if (it == known_.end()) {
      it = known_.emplace(key, CanRead(auth_, principal_, entity, project).ok()).first;
    }
    return it->second;
  }

 private:
  AuthStore& auth_;
  const std::optional<Principal>& principal_;
  std::map<std::pair<std::string, std::string>, bool> known_;
};

// The readable artifact files with this digest, for GET /blobs/{sha}.
Result<std::optional<track::ArtifactFile>> FindReadableBlob(const Api& api, const Request& request,
                                                            const std::string& sha256) {
  LABBOOK_ASSIGN_OR_RETURN(std::vector<track::ArtifactVersion> artifacts,
                           api.Scrub(api.store().ListArtifacts({})));
  ReadableProjects readable(api.auth(), request.principal());
  for (const auto& artifact : artifacts) {
    for (const auto& file : artifact.files) {
      if (file.sha256 != sha256) continue;
      if (readable.Readable(artifact.entity, artifact.project)) {
        return std::optional<track::ArtifactFile>(file);
      }
    }
  }
  return std::optional<track::ArtifactFile>();
}

struct ProjectSummary {
  int64_t runs = 0;
  double last_start_time = 0;
};

json ProjectToJson(const std::string& entity, const std::string& project, Visibility visibility,
                   const ProjectSummary& summary) {
  return {{"entity", entity},
          {"project", project},
          {"visibility", std::string(VisibilityName(visibility))},
          {"runs", summary.runs},
          {"last_start_time", summary.last_start_time}};
}

// What a history read asks for: `key`, and `min_step`, `max_step` and `samples` (0 or absent:
// every point; else at most that many, the store's min/max buckets keeping the peaks).
struct SeriesRequest {
  std::string key;
  track::HistoryQuery query;
};

Result<SeriesRequest> ParseSeriesRequest(const Request& request) {
  SeriesRequest wanted;
  std::optional<std::string> key = request.Query("key");
  if (!key.has_value() || key->empty()) {
    return InvalidArgument("query parameter 'key': missing; expected a history key");
  }
  wanted.key = *key;
  LABBOOK_ASSIGN_OR_RETURN(wanted.query.min_step,
                           IntegerQuery(request, "min_step", wanted.query.min_step));
  LABBOOK_ASSIGN_OR_RETURN(wanted.query.max_step,
                           IntegerQuery(request, "max_step", wanted.query.max_step));
  LABBOOK_ASSIGN_OR_RETURN(int64_t samples, IntegerQuery(request, "samples", 0));
  if (samples < 0) return InvalidArgument("query parameter 'samples': expected 0 or more");
  wanted.query.max_points = static_cast<size_t>(samples);
  return wanted;
}

constexpr size_t kMaxRunsPerHistoryRead = 200;

// The `runs` query parameter of the routes that read several runs at once: ids (or unique
// prefixes) separated by ',', at least one and at most kMaxRunsPerHistoryRead.
Result<std::vector<std::string>> RunIdsQuery(const Request& request) {
  const std::string list = request.Query("runs").value_or("");
  std::vector<std::string> ids;
  for (size_t start = 0; start <= list.size();) {
    const size_t comma = std::min(list.find(',', start), list.size());
    if (comma > start) ids.push_back(list.substr(start, comma - start));
    start = comma + 1;
  }
  if (ids.empty()) {
    return InvalidArgument("query parameter 'runs': missing; expected run ids separated by ','");
  }
  if (ids.size() > kMaxRunsPerHistoryRead) {
    return InvalidArgument("query parameter 'runs': " + std::to_string(ids.size()) +
                           " runs; at most " + std::to_string(kMaxRunsPerHistoryRead) +
                           " in one request");
  }
  return ids;
}

void AddAccountRoutes(Router& router, std::shared_ptr<Api> api, const std::string& version) {
  router.Add("GET", "/api/v1/health", [version](Request&, httplib::Response& response) {
    WriteJson(response, {{"status", "ok"}, {"version", version}});
    return Status::Ok();
  });

  router.Add("GET", "/api/v1/viewer", [api](Request& request, httplib::Response& response) {
    // A caller without a key is a visitor, not an error: the dashboard asks before it knows
    // whether this server (`labbook ui`) lets everyone in as its local user.
    if (!request.principal().has_value()) {
      WriteJson(response, {{"user", nullptr}, {"admin", false}, {"teams", json::array()}});
      return Status::Ok();
    }
    LABBOOK_ASSIGN_OR_RETURN(Principal principal, RequirePrincipal(request.principal()));
    LABBOOK_ASSIGN_OR_RETURN(std::vector<Membership> teams, api->auth().TeamsOf(principal.user));
    json list = json::array();
    for (const auto& team : teams) {
      list.push_back({{"team", team.team}, {"role", std::string(RoleName(team.role))}});
    }
    WriteJson(response, {{"user", principal.user}, {"admin", principal.is_admin}, {"teams", list}});
    return Status::Ok();
  });

  router.Add("POST", "/api/v1/users", [api](Request& request, httplib::Response& response) {
    LABBOOK_ASSIGN_OR_RETURN(Principal principal, RequirePrincipal(request.principal()));
    if (!principal.is_admin) return PermissionDenied("creating users needs a server admin's key");
    LABBOOK_ASSIGN_OR_RETURN(json body, request.JsonBody());
    LABBOOK_ASSIGN_OR_RETURN(std::string name, RequiredString(body, "name", "request body"));
    bool admin = false;
    if (auto it = body.find("admin"); it != body.end()) {
      if (!it->is_boolean()) return InvalidArgument("request body.admin: expected true or false");
      admin = it->get<bool>();
    }
    LABBOOK_ASSIGN_OR_RETURN(User user, api->auth().CreateUser(name, admin));
    LABBOOK_ASSIGN_OR_RETURN(NewApiKey key, api->auth().CreateKey(user.name, "default"));
    WriteJson(response,
              {{"user", UserToJson(user)}, {"key", KeyToJson(key.info)}, {"secret", key.secret}},
              201);
    return Status::Ok();
  });

  router.Add("GET", "/api/v1/users", [api](Request& request, httplib::Response& response) {
    LABBOOK_ASSIGN_OR_RETURN(Principal principal, RequirePrincipal(request.principal()));
    if (!principal.is_admin) return PermissionDenied("listing users needs a server admin's key");
    LABBOOK_ASSIGN_OR_RETURN(std::vector<User> users, api->auth().ListUsers());
    json list = json::array();
    for (const auto& user : users) list.push_back(UserToJson(user));
    WriteJson(response, {{"users", list}});
    return Status::Ok();
  });

  router.Add("POST", "/api/v1/keys", [api](Request& request, httplib::Response& response) {
    LABBOOK_ASSIGN_OR_RETURN(Principal principal, RequirePrincipal(request.principal()));
    LABBOOK_ASSIGN_OR_RETURN(json body, request.JsonBody());
    if (!body.is_object()) return InvalidArgument("request body: expected a JSON object");
    const std::string user = OptionalString(body, "user").value_or(principal.user);
    const std::string name = OptionalString(body, "name").value_or("");
    if (user != principal.user && !principal.is_admin) {
      return PermissionDenied("creating a key for user '" + user + "' needs a server admin's key");
    }
    LABBOOK_ASSIGN_OR_RETURN(NewApiKey key, api->auth().CreateKey(user, name));
    WriteJson(response, {{"key", KeyToJson(key.info)}, {"secret", key.secret}}, 201);
    return Status::Ok();
  });

  router.Add("GET", "/api/v1/keys", [api](Request& request, httplib::Response& response) {
    LABBOOK_ASSIGN_OR_RETURN(Principal principal, RequirePrincipal(request.principal()));
    std::string user = request.Query("user").value_or(principal.is_admin ? "" : principal.user);
    if (user != principal.user && !principal.is_admin) {
      return PermissionDenied("listing the keys of user '" + user + "' needs a server admin's key");
    }
    LABBOOK_ASSIGN_OR_RETURN(std::vector<ApiKeyInfo> keys, api->auth().ListKeys(user));
    json list = json::array();
    for (const auto& key : keys) list.push_back(KeyToJson(key));
    WriteJson(response, {{"keys", list}});
    return Status::Ok();
  });

  router.Add("DELETE", "/api/v1/keys/([^/]+)",
             [api](Request& request, httplib::Response& response) {
               LABBOOK_ASSIGN_OR_RETURN(Principal principal, RequirePrincipal(request.principal()));
               const std::string& id = request.params()[0];
               Result<ApiKeyInfo> key = api->auth().GetKey(id);
               if (!key.ok() || (key->user != principal.user && !principal.is_admin)) {
                 return NotFound("key '" + id + "' not found");
               }
               LABBOOK_RETURN_IF_ERROR(api->auth().RevokeKey(id));
               response.status = 204;
               return Status::Ok();
             });

  router.Add("POST", "/api/v1/teams", [api](Request& request, httplib::Response& response) {
    LABBOOK_ASSIGN_OR_RETURN(Principal principal, RequirePrincipal(request.principal()));
    LABBOOK_ASSIGN_OR_RETURN(json body, request.JsonBody());
    LABBOOK_ASSIGN_OR_RETURN(std::string name, RequiredString(body, "name", "request body"));
    LABBOOK_ASSIGN_OR_RETURN(Team team, api->auth().CreateTeam(name, principal.user));
    WriteJson(response, {{"team", {{"name", team.name}, {"created_time", team.created_time}}}},
              201);
    return Status::Ok();
  });

  router.Add(
      "GET", "/api/v1/teams/([^/]+)/members", [api](Request& request, httplib::Response& response) {
        LABBOOK_ASSIGN_OR_RETURN(Principal principal, RequirePrincipal(request.principal()));
        const std::string& team = request.params()[0];
        LABBOOK_ASSIGN_OR_RETURN(std::optional<Role> role, api->auth().RoleIn(principal, team));
        if (!role.has_value()) return NotFound("team '" + team + "' not found");
        LABBOOK_ASSIGN_OR_RETURN(std::vector<Membership> members, api->auth().Members(team));
        json list = json::array();
        for (const auto& member : members) list.push_back(MemberToJson(member));
        WriteJson(response, {{"members", list}});
        return Status::Ok();
      });

  router.Add(
      "PUT", "/api/v1/teams/([^/]+)/members/([^/]+)",
      [api](Request& request, httplib::Response& response) {
        const std::string& team = request.params()[0];
        const std::string& user = request.params()[1];
        LABBOOK_RETURN_IF_ERROR(CanAdminister(api->auth(), request.principal(), team));
        LABBOOK_ASSIGN_OR_RETURN(json body, request.JsonBody());
        LABBOOK_ASSIGN_OR_RETURN(std::string role_name,
                                 RequiredString(body, "role", "request body"));
        std::optional<Role> role = ParseRole(role_name);
        if (!role.has_value()) {
          return InvalidArgument("request body.role: expected viewer, member or admin, got '" +
                                 role_name + "'");
        }
        LABBOOK_RETURN_IF_ERROR(api->auth().SetMember(team, user, *role));
        WriteJson(response, {{"member", MemberToJson({team, user, *role})}});
        return Status::Ok();
      });

  router.Add("DELETE", "/api/v1/teams/([^/]+)/members/([^/]+)",
             [api](Request& request, httplib::Response& response) {
               const std::string& team = request.params()[0];
               LABBOOK_RETURN_IF_ERROR(CanAdminister(api->auth(), request.principal(), team));
               LABBOOK_RETURN_IF_ERROR(api->auth().RemoveMember(team, request.params()[1]));
               response.status = 204;
               return Status::Ok();
             });
}

void AddProjectRoutes(Router& router, std::shared_ptr<Api> api) {
  // Projects exist through their runs; those made public before their first run show too.
  auto readable_projects = [api](const Request& request)
      -> Result<std::map<std::pair<std::string, std::string>, ProjectSummary>> {
    LABBOOK_ASSIGN_OR_RETURN(std::vector<track::RunInfo> runs,
                             api->Scrub(api->store().ListRuns({})));
    std::map<std::pair<std::string, std::string>, ProjectSummary> projects;
    for (const auto& run : runs) {
      ProjectSummary& summary = projects[{run.entity, run.project}];
      ++summary.runs;
      summary.last_start_time = std::max(summary.last_start_time, run.start_time);
    }
    LABBOOK_ASSIGN_OR_RETURN(std::vector<ProjectVisibility> public_projects,
                             api->auth().PublicProjects());
    for (const auto& project : public_projects) projects[{project.entity, project.project}];
    for (auto it = projects.begin(); it != projects.end();) {
      if (CanRead(api->auth(), request.principal(), it->first.first, it->first.second).ok()) {
        ++it;
      } else {
        it = projects.erase(it);
      }
    }
    return projects;
  };

  router.Add("GET", "/api/v1/projects",
             [api, readable_projects](Request& request, httplib::Response& response) {
               LABBOOK_ASSIGN_OR_RETURN(auto projects, readable_projects(request));
               json list = json::array();
               for (const auto& [name, summary] : projects) {
                 LABBOOK_ASSIGN_OR_RETURN(Visibility visibility,
                                          api->auth().GetVisibility(name.first, name.second));
                 list.push_back(ProjectToJson(name.first, name.second, visibility, summary));
               }
               WriteJson(response, {{"projects", list}});
               return Status::Ok();
             });

  auto one_project = [api](const std::string& entity, const std::string& project) -> Result<json> {
    LABBOOK_ASSIGN_OR_RETURN(std::vector<track::RunInfo> runs,
                             api->Scrub(api->store().ListRuns({entity, project})));
    ProjectSummary summary;
    for (const auto& run : runs) {
      ++summary.runs;
      summary.last_start_time = std::max(summary.last_start_time, run.start_time);
    }
    LABBOOK_ASSIGN_OR_RETURN(Visibility visibility, api->auth().GetVisibility(entity, project));
    return ProjectToJson(entity, project, visibility, summary);
  };

  router.Add("GET", "/api/v1/projects/([^/]+)/([^/]+)",
             [api, one_project](Request& request, httplib::Response& response) {
               const std::string& entity = request.params()[0];
               const std::string& project = request.params()[1];
               LABBOOK_RETURN_IF_ERROR(CanRead(api->auth(), request.principal(), entity, project));
               LABBOOK_ASSIGN_OR_RETURN(json body, one_project(entity, project));
               WriteJson(response, {{"project", body}});
               return Status::Ok();
             });

  router.Add(
      "PATCH", "/api/v1/projects/([^/]+)/([^/]+)",
      [api, one_project](Request& request, httplib::Response& response) {
        const std::string& entity = request.params()[0];
        const std::string& project = request.params()[1];
        LABBOOK_RETURN_IF_ERROR(CanAdminister(api->auth(), request.principal(), entity));
        LABBOOK_ASSIGN_OR_RETURN(json body, request.JsonBody());
        LABBOOK_ASSIGN_OR_RETURN(std::string name,
                                 RequiredString(body, "visibility", "request body"));
        std::optional<Visibility> visibility = ParseVisibility(name);
        if (!visibility.has_value()) {
          return InvalidArgument(
              "request body.visibility: expected \"public\" or \"private\", got '" + name + "'");
        }
        LABBOOK_RETURN_IF_ERROR(api->auth().SetVisibility(entity, project, *visibility));
        LABBOOK_ASSIGN_OR_RETURN(json project_json, one_project(entity, project));
        WriteJson(response, {{"project", project_json}});
        return Status::Ok();
      });
}

void AddRunRoutes(Router& router, std::shared_ptr<Api> api) {
  router.Add("POST", "/api/v1/runs", [api](Request& request, httplib::Response& response) {
    LABBOOK_ASSIGN_OR_RETURN(json body, request.JsonBody());
    LABBOOK_ASSIGN_OR_RETURN(track::RunInfo run, wire::RunFromJson(body, "run"));
    if (run.entity.empty() && request.principal().has_value()) {
      run.entity = request.principal()->user;
    }
    if (run.entity.empty()) return InvalidArgument("run.entity: missing; expected a user or team");
    if (run.project.empty()) return InvalidArgument("run.project: missing; expected a name");
    LABBOOK_RETURN_IF_ERROR(CanWrite(api->auth(), request.principal(), run.entity, run.project));
    if (run.start_time == 0) run.start_time = UnixSeconds();  // a client that sent none starts now
    LABBOOK_ASSIGN_OR_RETURN(track::RunInfo created, api->Scrub(api->store().CreateRun(run)));
    WriteJson(response, {{"run", wire::RunToJson(created)}}, 201);
    return Status::Ok();
  });

  router.Add("GET", "/api/v1/runs", [api](Request& request, httplib::Response& response) {
    const std::string entity = request.Query("entity").value_or("");
    const std::string project = request.Query("project").value_or("");
    std::optional<track::RunFilter> filter;
    if (auto text = request.Query("filter"); text && !text->empty()) {
      Result<track::RunFilter> compiled = track::RunFilter::Compile(*text);
      if (!compiled.ok()) return compiled.status().WithContext("query parameter 'filter'");
      filter = std::move(*compiled);
    }
    std::optional<track::RunSortKey> sort;
    if (auto text = request.Query("sort"); text && !text->empty()) {
      Result<track::RunSortKey> key = track::RunSortKey::Parse(*text);
      if (!key.ok()) return key.status().WithContext("query parameter 'sort'");
      sort = std::move(*key);
    }
    LABBOOK_ASSIGN_OR_RETURN(int64_t limit, IntegerQuery(request, "limit", 0));
    if (limit < 0) return InvalidArgument("query parameter 'limit': expected 0 or more");
    if (!entity.empty() && !project.empty()) {
      LABBOOK_RETURN_IF_ERROR(CanRead(api->auth(), request.principal(), entity, project));
    }
    LABBOOK_ASSIGN_OR_RETURN(std::vector<track::RunInfo> runs,
                             api->Scrub(api->store().ListRuns({entity, project})));
    ReadableProjects readable(api->auth(), request.principal());
    std::vector<track::RunInfo> shown;
    for (auto& run : runs) {
      if (!readable.Readable(run.entity, run.project)) continue;
      if (filter && !filter->Matches(run)) continue;
      shown.push_back(std::move(run));
    }
    if (sort) track::SortRuns(shown, *sort);
    if (limit > 0 && shown.size() > static_cast<size_t>(limit)) shown.resize(limit);
    json list = json::array();
    for (const auto& run : shown) list.push_back(wire::RunToJson(run));
    WriteJson(response, {{"runs", list}});
    return Status::Ok();
  });

  router.Add("GET", "/api/v1/runs/([^/]+)", [api](Request& request, httplib::Response& response) {
    LABBOOK_ASSIGN_OR_RETURN(track::RunInfo run, api->ReadableRun(request, request.params()[0]));
    WriteJson(response, {{"run", wire::RunToJson(run)}});
    return Status::Ok();
  });

  router.Add("PATCH", "/api/v1/runs/([^/]+)", [api](Request& request, httplib::Response& response) {
    LABBOOK_ASSIGN_OR_RETURN(track::RunInfo run, api->WritableRun(request, request.params()[0]));
    LABBOOK_ASSIGN_OR_RETURN(json body, request.JsonBody());
    LABBOOK_ASSIGN_OR_RETURN(track::RunUpdate update, wire::UpdateFromJson(body, "update"));
    LABBOOK_RETURN_IF_ERROR(api->Scrub(api->store().UpdateRun(run.id, update)));
    LABBOOK_ASSIGN_OR_RETURN(track::RunInfo updated, api->Scrub(api->store().GetRun(run.id)));
    WriteJson(response, {{"run", wire::RunToJson(updated)}});
    return Status::Ok();
  });

  router.Add("DELETE", "/api/v1/runs/([^/]+)",
             [api](Request& request, httplib::Response& response) {
               LABBOOK_ASSIGN_OR_RETURN(track::RunInfo run,
                                        api->WritableRun(request, request.params()[0]));
               LABBOOK_RETURN_IF_ERROR(api->Scrub(api->store().DeleteRun(run.id)));
               response.status = 204;
               return Status::Ok();
             });

  router.Add(
      "POST", "/api/v1/runs/([^/]+)/history",
      [api](Request& request, httplib::Response& response) {
        LABBOOK_ASSIGN_OR_RETURN(track::RunInfo run,
                                 api->WritableRun(request, request.params()[0]));
        const std::string type = request.http().get_header_value("Content-Type");
        track::HistoryBatch batch;
        if (type.rfind(std::string(wire::kHistoryBatchMediaType), 0) == 0) {
          LABBOOK_ASSIGN_OR_RETURN(std::string body, request.Body());
          LABBOOK_ASSIGN_OR_RETURN(batch, wire::DecodeHistoryBatch(body));
        } else {
          LABBOOK_ASSIGN_OR_RETURN(json body, request.JsonBody());
          LABBOOK_ASSIGN_OR_RETURN(batch, wire::HistoryBatchFromJson(body, "batch"));
        }
        LABBOOK_RETURN_IF_ERROR(api->Scrub(api->store().LogHistory(run.id, batch)));
        WriteJson(response, {{"points", batch.points.size()}});
        return Status::Ok();
      },
      RouteOptions{size_t{64} << 20});

  router.Add("GET", "/api/v1/runs/([^/]+)/keys",
             [api](Request& request, httplib::Response& response) {
               LABBOOK_ASSIGN_OR_RETURN(track::RunInfo run,
                                        api->ReadableRun(request, request.params()[0]));
               LABBOOK_ASSIGN_OR_RETURN(std::vector<track::KeyInfo> keys,
                                        api->Scrub(api->store().HistoryKeys(run.id)));
               json list = json::array();
               for (const auto& key : keys) list.push_back(wire::KeyInfoToJson(key));
               WriteJson(response, {{"keys", list}});
               return Status::Ok();
             });

  router.Add(
      "GET", "/api/v1/runs/([^/]+)/history", [api](Request& request, httplib::Response& response) {
        LABBOOK_ASSIGN_OR_RETURN(track::RunInfo run,
                                 api->ReadableRun(request, request.params()[0]));
        LABBOOK_ASSIGN_OR_RETURN(SeriesRequest wanted, ParseSeriesRequest(request));
        LABBOOK_ASSIGN_OR_RETURN(track::Series series, api->Scrub(api->store().ReadHistory(
                                                           run.id, wanted.key, wanted.query)));
        WriteJson(response, {{"series", wire::SeriesToJson(series)}});
        return Status::Ok();
      });

  // One key of many runs in one request, as a chart overlaying them asks: a browser opens only a
  // few connections to a server, so fifty requests would wait in line.
  router.Add("GET", "/api/v1/history", [api](Request& request, httplib::Response& response) {
    LABBOOK_ASSIGN_OR_RETURN(std::vector<std::string> ids, RunIdsQuery(request));
    LABBOOK_ASSIGN_OR_RETURN(SeriesRequest wanted, ParseSeriesRequest(request));
    json all = json::array();
    for (const std::string& id : ids) {
      LABBOOK_ASSIGN_OR_RETURN(track::RunInfo run, api->ReadableRun(request, id));
      // A run that never logged the key draws nothing; it is no error among the others.
      Result<track::Series> read = api->store().ReadHistory(run.id, wanted.key, wanted.query);
      track::Series series;
      if (read.ok()) {
        series = std::move(*read);
      } else if (read.status().code() != ErrorCode::kNotFound) {
        return api->Scrub(read.status());
      }
      all.push_back({{"run", run.id}, {"series", wire::SeriesToJson(series)}});
    }
    WriteJson(response, {{"series", all}});
    return Status::Ok();
  });

  // The runs a comparison shows and the keys each logged, in one request instead of two per run.
  router.Add("GET", "/api/v1/compare", [api](Request& request, httplib::Response& response) {
    LABBOOK_ASSIGN_OR_RETURN(std::vector<std::string> ids, RunIdsQuery(request));
    json all = json::array();
    for (const std::string& id : ids) {
      LABBOOK_ASSIGN_OR_RETURN(track::RunInfo run, api->ReadableRun(request, id));
      LABBOOK_ASSIGN_OR_RETURN(std::vector<track::KeyInfo> keys,
                               api->Scrub(api->store().HistoryKeys(run.id)));
      json list = json::array();
      for (const auto& key : keys) list.push_back(wire::KeyInfoToJson(key));
      all.push_back({{"run", wire::RunToJson(run)}, {"keys", list}});
    }
    WriteJson(response, {{"runs", all}});
    return Status::Ok();
  });

  router.Add("GET", "/api/v1/runs/([^/]+)/summary",
             [api](Request& request, httplib::Response& response) {
               LABBOOK_ASSIGN_OR_RETURN(track::RunInfo run,
                                        api->ReadableRun(request, request.params()[0]));
               WriteJson(response, {{"summary", wire::RunToJson(run)["summary"]}});
               return Status::Ok();
             });
}

void AddArtifactRoutes(Router& router, std::shared_ptr<Api> api) {
  router.Add("GET", "/api/v1/runs/([^/]+)/artifacts",
             [api](Request& request, httplib::Response& response) {
               LABBOOK_ASSIGN_OR_RETURN(track::RunInfo run,
                                        api->ReadableRun(request, request.params()[0]));
               LABBOOK_ASSIGN_OR_RETURN(track::RunArtifacts artifacts,
                                        api->Scrub(api->store().ArtifactsOfRun(run.id)));
               WriteJson(response, wire::RunArtifactsToJson(artifacts));
               return Status::Ok();
             });

  router.Add(
      "POST", "/api/v1/runs/([^/]+)/used", [api](Request& request, httplib::Response& response) {
        LABBOOK_ASSIGN_OR_RETURN(track::RunInfo run,
                                 api->WritableRun(request, request.params()[0]));
        LABBOOK_ASSIGN_OR_RETURN(json body, request.JsonBody());
        LABBOOK_ASSIGN_OR_RETURN(std::string entity,
                                 RequiredString(body, "entity", "request body"));
        LABBOOK_ASSIGN_OR_RETURN(std::string project,
                                 RequiredString(body, "project", "request body"));
        LABBOOK_ASSIGN_OR_RETURN(std::string name, RequiredString(body, "name", "request body"));
        LABBOOK_ASSIGN_OR_RETURN(std::string version,
                                 RequiredString(body, "version", "request body"));
        LABBOOK_RETURN_IF_ERROR(CanRead(api->auth(), request.principal(), entity, project));
        LABBOOK_ASSIGN_OR_RETURN(
            track::ArtifactVersion artifact,
            api->Scrub(api->store().GetArtifact(entity, project, name, version)));
        LABBOOK_RETURN_IF_ERROR(api->Scrub(api->store().UseArtifact(run.id, artifact)));
        WriteJson(response, {{"artifact", wire::ArtifactToJson(artifact)}});
        return Status::Ok();
      });

  const std::string blob_route = "/api/v1/projects/([^/]+)/([^/]+)/blobs/([^/]+)";
  router.Add("GET", blob_route, [api](Request& request, httplib::Response& response) {
    const std::string& entity = request.params()[0];
    const std::string& project = request.params()[1];
    const std::string& sha256 = request.params()[2];
    LABBOOK_RETURN_IF_ERROR(CanWrite(api->auth(), request.principal(), entity, project));
    LABBOOK_RETURN_IF_ERROR(CheckSha256(sha256, "blob digest in the URL"));
    std::optional<int64_t> size = api->uploads.Size(sha256);
    if (!size.has_value()) return NotFound("blob " + sha256 + " was not uploaded");
    if (request.method() == "HEAD") {
      response.status = 200;
      response.set_header("Content-Length", std::to_string(*size));
      return Status::Ok();
    }
    StreamFile(response, api->uploads.PathOf(sha256), *size, "application/octet-stream", false);
    return Status::Ok();
  });

  router.Add(
      "PUT", blob_route,
      [api](Request& request, httplib::Response& response) {
        const std::string& entity = request.params()[0];
        const std::string& project = request.params()[1];
        const std::string& sha256 = request.params()[2];
        LABBOOK_RETURN_IF_ERROR(CanWrite(api->auth(), request.principal(), entity, project));
        LABBOOK_RETURN_IF_ERROR(CheckSha256(sha256, "blob digest in the URL"));
        LABBOOK_ASSIGN_OR_RETURN(int64_t size,
                                 api->uploads.Receive(sha256, [&request](const auto& sink) {
                                   return request.StreamBody(sink);
                                 }));
        WriteJson(response, {{"sha256", sha256}, {"size", size}}, 201);
        return Status::Ok();
      },
      RouteOptions{kMaxBlobBytes});

  router.Add("POST", "/api/v1/artifacts", [api](Request& request, httplib::Response& response) {
    LABBOOK_ASSIGN_OR_RETURN(json body, request.JsonBody());
    LABBOOK_ASSIGN_OR_RETURN(wire::NewArtifactRequest wanted,
                             wire::NewArtifactFromJson(body, "artifact"));
    LABBOOK_RETURN_IF_ERROR(
        CanWrite(api->auth(), request.principal(), wanted.entity, wanted.project));
    if (!wanted.producer_run.empty()) {
      LABBOOK_ASSIGN_OR_RETURN(track::RunInfo producer,
                               api->WritableRun(request, wanted.producer_run));
      wanted.producer_run = producer.id;
    }
    track::NewArtifact artifact;
    artifact.entity = wanted.entity;
    artifact.project = wanted.project;
    artifact.name = wanted.name;
    artifact.type = wanted.type;
    artifact.producer_run = wanted.producer_run;
    artifact.metadata = wanted.metadata;
    artifact.aliases = wanted.aliases;
    for (size_t i = 0; i < wanted.files.size(); ++i) {
      const track::ArtifactFile& file = wanted.files[i];
      const std::string where = "artifact.files[" + std::to_string(i) + "]";
      LABBOOK_RETURN_IF_ERROR(CheckSha256(file.sha256, where + ".sha256"));
      std::optional<int64_t> size = api->uploads.Size(file.sha256);
      if (!size.has_value()) {
        return FailedPrecondition(where + ": blob " + file.sha256 + " of '" + file.path +
                                  "' was not uploaded; PUT it to /api/v1/projects/" +
                                  wanted.entity + "/" + wanted.project + "/blobs/" + file.sha256 +
                                  " first");
      }
      if (*size != file.size) {
        return InvalidArgument(where + ".size: blob " + file.sha256 + " has " +
                               std::to_string(*size) + " bytes, not " + std::to_string(file.size));
      }
      artifact.files.push_back({file.path, api->uploads.PathOf(file.sha256)});
    }
    Result<track::ArtifactVersion> logged = api->store().LogArtifact(artifact);
    if (!logged.ok() && logged.status().code() == ErrorCode::kNotFound) {
      // `labbook gc` removed an upload between the check above and the copy: as if never sent.
      for (const auto& file : wanted.files) {
        if (!api->uploads.Size(file.sha256).has_value()) {
          return FailedPrecondition("blob " + file.sha256 + " of '" + file.path +
                                    "' is no longer uploaded (collected as garbage); PUT it again");
        }
      }
    }
    LABBOOK_ASSIGN_OR_RETURN(track::ArtifactVersion version, api->Scrub(std::move(logged)));
    WriteJson(response, {{"artifact", wire::ArtifactToJson(version)}}, 201);
    return Status::Ok();
  });

  router.Add("GET", "/api/v1/artifacts", [api](Request& request, httplib::Response& response) {
    const std::string entity = request.Query("entity").value_or("");
    const std::string project = request.Query("project").value_or("");
    if (!entity.empty() && !project.empty()) {
      LABBOOK_RETURN_IF_ERROR(CanRead(api->auth(), request.principal(), entity, project));
    }
    LABBOOK_ASSIGN_OR_RETURN(std::vector<track::ArtifactVersion> artifacts,
                             api->Scrub(api->store().ListArtifacts({entity, project})));
    ReadableProjects readable(api->auth(), request.principal());
    json list = json::array();
    for (const auto& artifact : artifacts) {
      if (readable.Readable(artifact.entity, artifact.project)) {
        list.push_back(wire::ArtifactToJson(artifact));
      }
    }
    WriteJson(response, {{"artifacts", list}});
    return Status::Ok();
  });

  auto find_version = [api](const Request& request) -> Result<track::ArtifactVersion> {
    const auto& params = request.params();
    LABBOOK_RETURN_IF_ERROR(CanRead(api->auth(), request.principal(), params[0], params[1]));
    return api->Scrub(api->store().GetArtifact(params[0], params[1], params[2], params[3]));
  };
  const std::string version_route = "/api/v1/artifacts/([^/]+)/([^/]+)/([^/]+)/([^/]+)";
  router.Add("GET", version_route, [find_version](Request& request, httplib::Response& response) {
    LABBOOK_ASSIGN_OR_RETURN(track::ArtifactVersion version, find_version(request));
    WriteJson(response, {{"artifact", wire::ArtifactToJson(version)}});
    return Status::Ok();
  });
  router.Add("GET", version_route + "/files/(.+)",
             [api, find_version](Request& request, httplib::Response& response) {
               LABBOOK_ASSIGN_OR_RETURN(track::ArtifactVersion version, find_version(request));
               const std::string& path = request.params()[4];
               for (const auto& file : version.files) {
                 if (file.path == path) {
                   return ServeArtifactFile(*api, file, response, "application/octet-stream");
                 }
               }
               return NotFound("artifact " + version.name + ":" + version.VersionName() +
                               " has no file '" + path + "'");
             });

  router.Add("GET", "/api/v1/blobs/([^/]+)", [api](Request& request, httplib::Response& response) {
    const std::string& sha256 = request.params()[0];
    LABBOOK_RETURN_IF_ERROR(CheckSha256(sha256, "blob digest in the URL"));
    LABBOOK_ASSIGN_OR_RETURN(std::optional<track::ArtifactFile> file,
                             FindReadableBlob(*api, request, sha256));
    if (!file.has_value()) return NotFound("blob " + sha256 + " not found");
    return ServeArtifactFile(*api, *file, response, "application/octet-stream");
  });

  // Tables are artifacts of type "table" the run produced, one CSV file each.
  auto tables_of = [api](const Request& request) -> Result<std::vector<track::ArtifactVersion>> {
    LABBOOK_ASSIGN_OR_RETURN(track::RunInfo run, api->ReadableRun(request, request.params()[0]));
    LABBOOK_ASSIGN_OR_RETURN(track::RunArtifacts artifacts,
                             api->Scrub(api->store().ArtifactsOfRun(run.id)));
    std::map<std::string, track::ArtifactVersion> newest;
    for (auto& artifact : artifacts.produced) {
      if (artifact.type != "table" || artifact.files.empty()) continue;
      auto it = newest.find(artifact.name);
      if (it == newest.end() || it->second.version < artifact.version) {
        newest[artifact.name] = artifact;
      }
    }
    std::vector<track::ArtifactVersion> tables;
    for (auto& [name, artifact] : newest) tables.push_back(std::move(artifact));
    return tables;
  };
  router.Add("GET", "/api/v1/runs/([^/]+)/tables",
             [tables_of](Request& request, httplib::Response& response) {
               LABBOOK_ASSIGN_OR_RETURN(std::vector<track::ArtifactVersion> tables,
                                        tables_of(request));
               json list = json::array();
               for (const auto& table : tables) {
                 list.push_back({{"name", table.name},
                                 {"version", table.VersionName()},
                                 {"path", table.files.front().path},
                                 {"size", table.files.front().size}});
               }
               WriteJson(response, {{"tables", list}});
               return Status::Ok();
             });
  router.Add("GET", "/api/v1/runs/([^/]+)/tables/([^/]+)",
             [api, tables_of](Request& request, httplib::Response& response) {
               LABBOOK_ASSIGN_OR_RETURN(std::vector<track::ArtifactVersion> tables,
                                        tables_of(request));
               const std::string& name = request.params()[1];
               for (const auto& table : tables) {
                 if (table.name == name) {
                   return ServeArtifactFile(*api, table.files.front(), response, "text/csv");
                 }
               }
               return NotFound("run '" + request.params()[0] + "' logged no table '" + name + "'");
             });
}

}  // namespace

void AddRestRoutes(Router& router, const ServerContext& context, const std::string& version) {
  auto api = std::make_shared<Api>(Api{context, BlobUploads(context.data_dir / "uploads")});
  AddAccountRoutes(router, api, version);
  AddProjectRoutes(router, api);
  AddRunRoutes(router, api);
  AddArtifactRoutes(router, api);
}

}  // namespace labbook::server
