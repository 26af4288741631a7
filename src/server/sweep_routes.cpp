#include "server/sweep_routes.hpp"

#include <cmath>

#include "core/status_macros.hpp"
#include "server/auth/access.hpp"
#include "server/run_access.hpp"
#include "sweep/sweep_store.hpp"

namespace labbook::server {
namespace {

using nlohmann::json;
using sweep::SweepInfo;
using sweep::SweepStore;

constexpr double kMaxLeaseSeconds = 24 * 3600;

Result<SweepStore*> Sweeps(const ServerContext& context) {
  if (context.sweeps == nullptr) {
    return Status(ErrorCode::kUnimplemented,
                  "this server's run store keeps no sweeps (they need a sqlite:// store)");
  }
  return context.sweeps;
}

Result<std::string> StringField(const json& body, const char* field) {
  if (!body.is_object()) return InvalidArgument("request body: expected a JSON object");
  auto it = body.find(field);
  if (it == body.end() || !it->is_string() || it->get<std::string>().empty()) {
    return InvalidArgument(std::string("request body.") + field + ": expected a non-empty string");
  }
  return it->get<std::string>();
}

Result<double> NumberField(const json& body, const char* field, double min, double max) {
  auto it = body.find(field);
  if (it == body.end() || !it->is_number() || !(it->get<double>() >= min) ||
      !(it->get<double>() <= max)) {
    return InvalidArgument(std::string("request body.") + field + ": expected a number in [" +
                           json(min).dump() + ", " + json(max).dump() + "]");
  }
  return it->get<double>();
}

// A NaN travels as the string "NaN" (docs/api.md), null as no value.
Result<std::optional<double>> OptionalNumber(const json& body, const char* field) {
  auto it = body.find(field);
  if (it == body.end() || it->is_null()) return std::optional<double>();
  if (it->is_number()) return std::optional<double>(it->get<double>());
  if (it->is_string() && it->get<std::string>() == "NaN") {
    return std::optional<double>(std::nan(""));
  }
  return InvalidArgument(std::string("request body.") + field + ": expected a number or null");
}

Result<int64_t> TrialNumber(const std::string& text) {
  char* end = nullptr;
  const long long number = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || number < 1) {
    return InvalidArgument("trial number '" + text + "': expected 1 or more");
  }
  return static_cast<int64_t>(number);
}

// The sweep of the route's first parameter, when the caller may read it (a sweep of a project
// they may not read does not exist for them) and, with `write`, write it.
Result<SweepInfo> AccessibleSweep(const ServerContext& context, const Request& request,
                                  bool write) {
  LABBOOK_ASSIGN_OR_RETURN(SweepStore * sweeps, Sweeps(context));
  Result<SweepInfo> sweep = sweeps->GetSweep(request.params()[0]);
  if (!sweep.ok()) return ScrubStoreUri(context, sweep.status());
  Status readable = CanRead(*context.auth, request.principal(), sweep->entity, sweep->project);
  if (!readable.ok()) return NotFound("no sweep '" + request.params()[0] + "'");
  if (write) {
    LABBOOK_RETURN_IF_ERROR(
        CanWrite(*context.auth, request.principal(), sweep->entity, sweep->project));
  }
  return sweep;
}

json ClaimToJson(const sweep::Claim& claim) {
  static constexpr const char* kKinds[] = {"trial", "wait", "paused", "done"};
  json out = {{"claim", kKinds[static_cast<int>(claim.kind)]}, {"why", claim.why}};
  if (claim.trial) out["trial"] = sweep::TrialToJson(*claim.trial);
  return out;
}

}  // namespace

void AddSweepRoutes(Router& router, const ServerContext& context) {
  const ServerContext* ctx = &context;

  router.Add("POST", "/api/v1/sweeps", [ctx](Request& request, httplib::Response& response) {
    LABBOOK_ASSIGN_OR_RETURN(SweepStore * sweeps, Sweeps(*ctx));
    LABBOOK_ASSIGN_OR_RETURN(json body, request.JsonBody());
    sweep::NewSweep created;
    if (body.is_object() && body.contains("entity")) {
      LABBOOK_ASSIGN_OR_RETURN(created.entity, StringField(body, "entity"));
    } else if (request.principal().has_value()) {
      created.entity = request.principal()->user;
    }
    if (created.entity.empty()) {
      return InvalidArgument("request body.entity: missing; expected a user or team");
    }
    LABBOOK_ASSIGN_OR_RETURN(created.project, StringField(body, "project"));
    LABBOOK_ASSIGN_OR_RETURN(created.base_name, StringField(body, "base_name"));
    LABBOOK_ASSIGN_OR_RETURN(created.base_config, StringField(body, "base_config"));
    if (!body.contains("spec")) return InvalidArgument("request body.spec: missing; a sweep");
    LABBOOK_ASSIGN_OR_RETURN(created.spec,
                             sweep::SweepSpecFromJson(body["spec"], "request body.spec"));
    LABBOOK_RETURN_IF_ERROR(
        CanWrite(*ctx->auth, request.principal(), created.entity, created.project));
    Result<SweepInfo> info = sweeps->CreateSweep(created);
    if (!info.ok()) return ScrubStoreUri(*ctx, info.status());
    WriteJson(response, {{"sweep", sweep::SweepToJson(*info)}}, 201);
    return Status::Ok();
  });

  router.Add("GET", "/api/v1/sweeps", [ctx](Request& request, httplib::Response& response) {
    LABBOOK_ASSIGN_OR_RETURN(SweepStore * sweeps, Sweeps(*ctx));
    const std::string entity = request.Query("entity").value_or("");
    const std::string project = request.Query("project").value_or("");
    Result<std::vector<SweepInfo>> all = sweeps->ListSweeps(entity, project);
    if (!all.ok()) return ScrubStoreUri(*ctx, all.status());
    json list = json::array();
    for (const SweepInfo& s : *all) {
      if (!CanRead(*ctx->auth, request.principal(), s.entity, s.project).ok()) continue;
      list.push_back(sweep::SweepToJson(s));
    }
    WriteJson(response, {{"sweeps", std::move(list)}});
    return Status::Ok();
  });

  router.Add("GET", "/api/v1/sweeps/([^/]+)",
             [ctx](Request& request, httplib::Response& response) {
               LABBOOK_ASSIGN_OR_RETURN(SweepInfo s, AccessibleSweep(*ctx, request, false));
               WriteJson(response, {{"sweep", sweep::SweepToJson(s)}});
               return Status::Ok();
             });

  router.Add("PATCH", "/api/v1/sweeps/([^/]+)",
             [ctx](Request& request, httplib::Response& response) {
               LABBOOK_ASSIGN_OR_RETURN(SweepInfo s, AccessibleSweep(*ctx, request, true));
               LABBOOK_ASSIGN_OR_RETURN(json body, request.JsonBody());
               LABBOOK_ASSIGN_OR_RETURN(std::string name, StringField(body, "state"));
               LABBOOK_ASSIGN_OR_RETURN(sweep::SweepState state, sweep::ParseSweepState(name));
               LABBOOK_RETURN_IF_ERROR(ScrubStoreUri(*ctx, ctx->sweeps->SetSweepState(s.id, state)));
               LABBOOK_ASSIGN_OR_RETURN(SweepInfo now, ScrubStoreUri(*ctx, ctx->sweeps->GetSweep(s.id)));
               WriteJson(response, {{"sweep", sweep::SweepToJson(now)}});
               return Status::Ok();
             });

  router.Add("POST", "/api/v1/sweeps/([^/]+)/claims",
             [ctx](Request& request, httplib::Response& response) {
               LABBOOK_ASSIGN_OR_RETURN(SweepInfo s, AccessibleSweep(*ctx, request, true));
               LABBOOK_ASSIGN_OR_RETURN(json body, request.JsonBody());
               LABBOOK_ASSIGN_OR_RETURN(std::string agent, StringField(body, "agent"));
               LABBOOK_ASSIGN_OR_RETURN(double lease,
                                        NumberField(body, "lease_seconds", 1, kMaxLeaseSeconds));
               LABBOOK_ASSIGN_OR_RETURN(sweep::Claim claim,
                                        ScrubStoreUri(*ctx, ctx->sweeps->ClaimTrial(s.id, agent, lease)));
               WriteJson(response, ClaimToJson(claim));
               return Status::Ok();
             });

  router.Add("GET", "/api/v1/sweeps/([^/]+)/trials",
             [ctx](Request& request, httplib::Response& response) {
               LABBOOK_ASSIGN_OR_RETURN(SweepInfo s, AccessibleSweep(*ctx, request, false));
               LABBOOK_ASSIGN_OR_RETURN(std::vector<sweep::Trial> trials,
                                        ScrubStoreUri(*ctx, ctx->sweeps->ListTrials(s.id)));
               json list = json::array();
               for (const sweep::Trial& t : trials) list.push_back(sweep::TrialToJson(t));
               WriteJson(response, {{"trials", std::move(list)}});
               return Status::Ok();
             });

  router.Add("POST", "/api/v1/sweeps/([^/]+)/trials/([^/]+)/lease",
             [ctx](Request& request, httplib::Response& response) {
               LABBOOK_ASSIGN_OR_RETURN(SweepInfo s, AccessibleSweep(*ctx, request, true));
               LABBOOK_ASSIGN_OR_RETURN(int64_t number, TrialNumber(request.params()[1]));
               LABBOOK_ASSIGN_OR_RETURN(json body, request.JsonBody());
               LABBOOK_ASSIGN_OR_RETURN(std::string agent, StringField(body, "agent"));
               LABBOOK_ASSIGN_OR_RETURN(double lease,
                                        NumberField(body, "lease_seconds", 1, kMaxLeaseSeconds));
               LABBOOK_RETURN_IF_ERROR(ScrubStoreUri(*ctx, ctx->sweeps->RenewLease(s.id, number, agent, lease)));
               WriteJson(response, json::object());
               return Status::Ok();
             });

  // {"agent", "run"}: the trial's run has started; {"agent", "state", "metric", "reason"}: the
  // trial has ended.
  router.Add("PATCH", "/api/v1/sweeps/([^/]+)/trials/([^/]+)",
             [ctx](Request& request, httplib::Response& response) {
               LABBOOK_ASSIGN_OR_RETURN(SweepInfo s, AccessibleSweep(*ctx, request, true));
               LABBOOK_ASSIGN_OR_RETURN(int64_t number, TrialNumber(request.params()[1]));
               LABBOOK_ASSIGN_OR_RETURN(json body, request.JsonBody());
               LABBOOK_ASSIGN_OR_RETURN(std::string agent, StringField(body, "agent"));
               if (body.contains("state")) {
                 LABBOOK_ASSIGN_OR_RETURN(std::string name, StringField(body, "state"));
                 LABBOOK_ASSIGN_OR_RETURN(sweep::TrialState state, sweep::ParseTrialState(name));
                 LABBOOK_ASSIGN_OR_RETURN(std::optional<double> metric,
                                          OptionalNumber(body, "metric"));
                 const std::string reason = body.value("reason", "");
                 LABBOOK_RETURN_IF_ERROR(
                     ScrubStoreUri(*ctx, ctx->sweeps->CompleteTrial(s.id, number, agent, state, metric, reason)));
               } else {
                 LABBOOK_ASSIGN_OR_RETURN(std::string run, StringField(body, "run"));
                 LABBOOK_RETURN_IF_ERROR(ScrubStoreUri(*ctx, ctx->sweeps->AttachRun(s.id, number, agent, run)));
               }
               WriteJson(response, json::object());
               return Status::Ok();
             });

  router.Add("POST", "/api/v1/sweeps/([^/]+)/trials/([^/]+)/progress",
             [ctx](Request& request, httplib::Response& response) {
               LABBOOK_ASSIGN_OR_RETURN(SweepInfo s, AccessibleSweep(*ctx, request, true));
               LABBOOK_ASSIGN_OR_RETURN(int64_t number, TrialNumber(request.params()[1]));
               LABBOOK_ASSIGN_OR_RETURN(json body, request.JsonBody());
               LABBOOK_ASSIGN_OR_RETURN(std::string agent, StringField(body, "agent"));
               LABBOOK_ASSIGN_OR_RETURN(double iteration, NumberField(body, "iteration", 1, 1e9));
               LABBOOK_ASSIGN_OR_RETURN(std::optional<double> value,
                                        OptionalNumber(body, "value"));
               LABBOOK_ASSIGN_OR_RETURN(
                   sweep::Progress progress,
                   ScrubStoreUri(*ctx, ctx->sweeps->ReportProgress(s.id, number, agent,
                                               static_cast<int64_t>(iteration),
                                               value.value_or(std::nan("")))));
               WriteJson(response, {{"stop", progress.stop}, {"reason", progress.reason}});
               return Status::Ok();
             });
}

}  // namespace labbook::server
