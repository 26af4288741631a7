#include "sweep/sweep_store.hpp"

#include <cmath>

#include "core/status_macros.hpp"
#include "sweep/http_sweep_store.hpp"

namespace labbook::sweep {
namespace {

using nlohmann::json;

constexpr std::string_view kSweepStates[] = {"running", "paused", "stopped", "finished"};
constexpr std::string_view kTrialStates[] = {"running", "finished", "failed", "stopped"};

Status Expected(const std::string& where, std::string_view field, std::string_view what) {
  return InvalidArgument(where + "." + std::string(field) + ": expected " + std::string(what));
}

Result<std::string> StringField(const json& object, std::string_view field,
                                const std::string& where) {
  auto it = object.find(field);
  if (it == object.end() || !it->is_string()) return Expected(where, field, "a string");
  return it->get<std::string>();
}

Result<double> NumberField(const json& object, std::string_view field, const std::string& where) {
  auto it = object.find(field);
  if (it == object.end() || !it->is_number()) return Expected(where, field, "a number");
  return it->get<double>();
}

}  // namespace

std::string_view SweepStateName(SweepState state) { return kSweepStates[static_cast<int>(state)]; }
std::string_view TrialStateName(TrialState state) { return kTrialStates[static_cast<int>(state)]; }

Result<SweepState> ParseSweepState(std::string_view name) {
  for (int i = 0; i < 4; ++i) {
    if (kSweepStates[i] == name) return static_cast<SweepState>(i);
  }
  return InvalidArgument("sweep state: expected running, paused, stopped or finished, got '" +
                         std::string(name) + "'");
}

Result<TrialState> ParseTrialState(std::string_view name) {
  for (int i = 0; i < 4; ++i) {
    if (kTrialStates[i] == name) return static_cast<TrialState>(i);
  }
  return InvalidArgument("trial state: expected running, finished, failed or stopped, got '" +
                         std::string(name) + "'");
}

std::optional<Trial> BestTrial(const SweepSpec& spec, const std::vector<Trial>& trials) {
  std::optional<Trial> best;
  for (const Trial& t : trials) {
    if (t.state == TrialState::kRunning || t.state == TrialState::kFailed) continue;
    if (!t.metric || std::isnan(*t.metric)) continue;
    const bool better = !best || (spec.goal == Goal::kMaximize ? *t.metric > *best->metric
                                                               : *t.metric < *best->metric);
    if (better) best = t;
  }
  return best;
}

std::vector<TrialRecord> TrialRecords(const std::vector<Trial>& trials) {
  std::vector<TrialRecord> out;
  out.reserve(trials.size());
  for (const Trial& t : trials) {
    TrialRecord record;
    record.params = t.params;
    record.grid_index = t.grid_index;
    record.done = t.state != TrialState::kRunning;
    // A stopped trial's metric is that of fewer epochs: it still tells the search it was bad.
    if (record.done && t.metric && !std::isnan(*t.metric)) record.metric = t.metric;
    out.push_back(std::move(record));
  }
  return out;
}

json TrialToJson(const Trial& t) {
  json out = {{"sweep", t.sweep_id},
              {"number", t.number},
              {"params", t.params},
              {"state", std::string(TrialStateName(t.state))},
              {"agent", t.agent},
              {"attempts", t.attempts},
              {"lease_until", t.lease_until},
              {"run", t.run_id},
              {"claimed_time", t.claimed_time},
              {"ended_time", t.ended_time},
              {"reason", t.reason}};
  out["grid_index"] = t.grid_index ? json(*t.grid_index) : json(nullptr);
  out["metric"] = t.metric && std::isfinite(*t.metric) ? json(*t.metric) : json(nullptr);
  return out;
}

Result<Trial> TrialFromJson(const json& value, const std::string& where) {
  if (!value.is_object()) return InvalidArgument(where + ": expected a trial object");
  Trial t;
  LABBOOK_ASSIGN_OR_RETURN(t.sweep_id, StringField(value, "sweep", where));
  LABBOOK_ASSIGN_OR_RETURN(double number, NumberField(value, "number", where));
  t.number = static_cast<int64_t>(number);
  auto params = value.find("params");
  if (params == value.end() || !params->is_object()) return Expected(where, "params", "an object");
  t.params = *params;
  LABBOOK_ASSIGN_OR_RETURN(std::string state, StringField(value, "state", where));
  LABBOOK_ASSIGN_OR_RETURN(t.state, ParseTrialState(state));
  LABBOOK_ASSIGN_OR_RETURN(t.agent, StringField(value, "agent", where));
  LABBOOK_ASSIGN_OR_RETURN(double attempts, NumberField(value, "attempts", where));
  t.attempts = static_cast<int64_t>(attempts);
  LABBOOK_ASSIGN_OR_RETURN(t.lease_until, NumberField(value, "lease_until", where));
  LABBOOK_ASSIGN_OR_RETURN(t.run_id, StringField(value, "run", where));
  LABBOOK_ASSIGN_OR_RETURN(t.claimed_time, NumberField(value, "claimed_time", where));
  LABBOOK_ASSIGN_OR_RETURN(t.ended_time, NumberField(value, "ended_time", where));
  LABBOOK_ASSIGN_OR_RETURN(t.reason, StringField(value, "reason", where));
  if (auto g = value.find("grid_index"); g != value.end() && g->is_number_integer()) {
    t.grid_index = g->get<int64_t>();
  }
  if (auto m = value.find("metric"); m != value.end() && m->is_number()) {
    t.metric = m->get<double>();
  }
  return t;
}

json SweepToJson(const SweepInfo& s) {
  return {{"id", s.id},
          {"entity", s.entity},
          {"project", s.project},
          {"spec", s.spec.ToJson()},
          {"base_name", s.base_name},
          {"base_config", s.base_config},
          {"state", std::string(SweepStateName(s.state))},
          {"created_time", s.created_time}};
}

Result<SweepInfo> SweepFromJson(const json& value, const std::string& where) {
  if (!value.is_object()) return InvalidArgument(where + ": expected a sweep object");
  SweepInfo s;
  LABBOOK_ASSIGN_OR_RETURN(s.id, StringField(value, "id", where));
  LABBOOK_ASSIGN_OR_RETURN(s.entity, StringField(value, "entity", where));
  LABBOOK_ASSIGN_OR_RETURN(s.project, StringField(value, "project", where));
  auto spec = value.find("spec");
  if (spec == value.end()) return Expected(where, "spec", "a sweep spec");
  LABBOOK_ASSIGN_OR_RETURN(s.spec, SweepSpecFromJson(*spec, where + ".spec"));
  LABBOOK_ASSIGN_OR_RETURN(s.base_name, StringField(value, "base_name", where));
  LABBOOK_ASSIGN_OR_RETURN(s.base_config, StringField(value, "base_config", where));
  LABBOOK_ASSIGN_OR_RETURN(std::string state, StringField(value, "state", where));
  LABBOOK_ASSIGN_OR_RETURN(s.state, ParseSweepState(state));
  LABBOOK_ASSIGN_OR_RETURN(s.created_time, NumberField(value, "created_time", where));
  return s;
}

Result<std::unique_ptr<SweepStore>> OpenSweepStore(const std::string& uri) {
  if (uri.empty()) return InvalidArgument("store URI is empty");
  const size_t scheme_end = uri.find("://");
  if (scheme_end == std::string::npos) return OpenSqliteSweepStore(uri);
  const std::string scheme = uri.substr(0, scheme_end);
  if (scheme == "sqlite") {
    const std::string path = uri.substr(scheme_end + 3);
    if (path.empty()) return InvalidArgument("store URI '" + uri + "' names no database file");
    return OpenSqliteSweepStore(path);
  }
  if (scheme == "http" || scheme == "https") return OpenHttpSweepStore(uri);
  return InvalidArgument("sweeps are kept in a sqlite:// store or on a server (http://, "
                         "https://); the store's scheme is '" + scheme + "'");
}

}  // namespace labbook::sweep
