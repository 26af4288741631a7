// `labbook runs`: list, show, compare, export and delete tracked runs, read their history, and
// fetch the predictions a run logged.
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "commands.hpp"
#include "core/status_macros.hpp"
#include "labbook/dataset.hpp"
#include "output.hpp"
#include "report/text_table.hpp"
#include "track/filter.hpp"
#include "track/liveness.hpp"
#include "track/store.hpp"

namespace labbook::cli {

using nlohmann::json;
using report::Align;
using report::TextTable;

// ---------------------------------------------------------------------------------------------
// Shared with cmd_artifacts.cpp
// ---------------------------------------------------------------------------------------------

namespace {

std::string FormatTime(double time, const char* format, bool utc) {
  if (time == 0 || !std::isfinite(time)) return "";
  auto seconds = static_cast<std::time_t>(std::floor(time));
  std::tm parts{};
  if (utc ? gmtime_r(&seconds, &parts) == nullptr : localtime_r(&seconds, &parts) == nullptr) {
    return "";
  }
  char buffer[64];
  size_t length = std::strftime(buffer, sizeof buffer, format, &parts);
  return std::string(buffer, length);
}

}  // namespace

std::string IsoUtc(double time) { return FormatTime(time, "%Y-%m-%dT%H:%M:%SZ", true); }

std::string FormatAge(double time, double now) {
  if (time == 0) return "";
  double age = now - time;
  // A clock a little ahead of ours still reads as "0s ago".
  if (age < -60 || age >= 7 * 86400.0) return FormatTime(time, "%Y-%m-%d", false);
  auto whole = static_cast<int64_t>(std::max(0.0, age));
  if (whole < 60) return std::to_string(whole) + "s ago";
  if (whole < 3600) return std::to_string(whole / 60) + "m ago";
  if (whole < 86400) return std::to_string(whole / 3600) + "h ago";
  return std::to_string(whole / 86400) + "d ago";
}

std::string FormatBytes(int64_t bytes) {
  if (bytes < 1024) return std::to_string(bytes) + " B";
  const char* units[] = {"KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  int unit = -1;
  while (value >= 1024 && unit < 3) {
    value /= 1024;
    ++unit;
  }
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, value < 10 ? "%.1f %s" : "%.0f %s", value, units[unit]);
  return buffer;
}

void PrintJson(const json& value) {
  std::string text = value.dump(2, ' ', false, json::error_handler_t::replace);
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fputc('\n', stdout);
}

namespace {

// ---------------------------------------------------------------------------------------------
// Formatting
// ---------------------------------------------------------------------------------------------

// Options every runs command takes.
struct StoreOption {
  std::string store;
  std::string Uri() const { return store.empty() ? track::DefaultStoreUri() : store; }
};

void AddStoreOption(CLI::App* command, StoreOption& option) {
  command->add_option("--store", option.store,
                      "Store URI: sqlite:///abs/path.db, sqlite://rel/path.db or a file path "
                      "(default: LABBOOK_STORE, else sqlite://.labbook/labbook.db)");
}

// A value for a table: strings as they are, numbers with six significant digits.
std::string DisplayValue(const json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_number_float()) {
    double number = value.get<double>();
    if (std::isnan(number)) return "NaN";
    if (std::isinf(number)) return number > 0 ? "inf" : "-inf";
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.6g", number);
    return buffer;
  }
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

// A value for CSV: exact (numbers read back to the same double), null as an empty field.
std::string ExactValue(const json& value) {
  if (value.is_null()) return "";
  if (value.is_string()) return value.get<std::string>();
  if (value.is_number_float()) {
    double number = value.get<double>();
    if (std::isnan(number)) return "NaN";
    if (std::isinf(number)) return number > 0 ? "inf" : "-inf";
  }
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

// A double in its shortest form that reads back the same.
std::string ExactNumber(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  char buffer[32];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  return ec == std::errc() ? std::string(buffer, end) : std::to_string(value);
}

std::string CsvField(const std::string& text) {
  bool quote = text.find_first_of(",\"\r\n") != std::string::npos ||
               (!text.empty() && (text.front() == ' ' || text.back() == ' '));
  if (!quote) return text;
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

std::string CsvLine(const std::vector<std::string>& fields) {
  std::string line;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) line.push_back(',');
    line += CsvField(fields[i]);
  }
  line.push_back('\n');
  return line;
}

std::string FormatDuration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "";
  auto s = static_cast<int64_t>(std::llround(seconds));
  char buffer[48];
  if (s < 60) {
    std::snprintf(buffer, sizeof buffer, "%llds", static_cast<long long>(s));
  } else if (s < 3600) {
    std::snprintf(buffer, sizeof buffer, "%lldm %02llds", static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  } else if (s < 86400) {
    std::snprintf(buffer, sizeof buffer, "%lldh %02lldm", static_cast<long long>(s / 3600),
                  static_cast<long long>(s % 3600 / 60));
  } else {
    std::snprintf(buffer, sizeof buffer, "%lldd %02lldh", static_cast<long long>(s / 86400),
                  static_cast<long long>(s % 86400 / 3600));
  }
  return buffer;
}

// How long the run ran: to its end, or for a running run to now, or for one that ended without
// an end time to its last heartbeat. nullopt without a start.
std::optional<double> RunDuration(const track::RunInfo& run, double now) {
  if (run.start_time == 0) return std::nullopt;
  double last = run.end_time != 0                        ? run.end_time
                : run.state == track::RunState::kRunning ? now
                                                         : run.heartbeat_time;
  if (last == 0) return std::nullopt;
  return std::max(0.0, last - run.start_time);
}

json TimeJson(double time) { return time == 0 ? json(nullptr) : JsonNumber(time); }

json RunJson(const track::RunInfo& run, double now) {
  std::optional<double> duration = RunDuration(run, now);
  return {
      {"id", run.id},
      {"entity", run.entity},
      {"project", run.project},
      {"name", run.name},
      {"group", run.group},
      {"tags", run.tags},
      {"notes", run.notes},
      {"state", track::RunStateName(run.state)},
      {"config", run.config},
      {"summary", run.summary},
      {"host", run.host},
      {"pid", run.pid},
      {"git_commit", run.git_commit},
      {"start_time", TimeJson(run.start_time)},
      {"heartbeat_time", TimeJson(run.heartbeat_time)},
      {"end_time", TimeJson(run.end_time)},
      {"created", IsoUtc(run.start_time)},
      {"duration", duration ? JsonNumber(*duration) : json(nullptr)},
      {"exit_code", run.exit_code ? json(*run.exit_code) : json(nullptr)},
  };
}

// Nested objects as dotted keys ("optimizer.lr"), arrays of objects by index
// ("layers.0.units"); other arrays and empty objects stay values.
void Flatten(const json& value, const std::string& prefix, std::map<std::string, json>& out) {
  auto child = [&](const std::string& key) { return prefix.empty() ? key : prefix + "." + key; };
  if (value.is_object() && !value.empty()) {
    for (const auto& [key, item] : value.items()) Flatten(item, child(key), out);
    return;
  }
  if (value.is_array() &&
      std::any_of(value.begin(), value.end(), [](const json& item) { return item.is_object(); })) {
    for (size_t i = 0; i < value.size(); ++i) Flatten(value[i], child(std::to_string(i)), out);
    return;
  }
  if (prefix.empty()) return;
  out[prefix] = value;
}

std::map<std::string, json> Flattened(const json& value) {
  std::map<std::string, json> out;
  Flatten(value, "", out);
  return out;
}

std::string JoinStrings(const std::vector<std::string>& items, const char* separator) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += separator;
    out += items[i];
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Reading runs
// ---------------------------------------------------------------------------------------------

// Ends runs whose process died as crashed before they are shown. A store that cannot record it
// (read only) still shows them as crashed.
void Reconcile(track::RunStore& store, std::vector<track::RunInfo>& runs, double now) {
  Status status = track::ReconcileRunStates(store, runs, now);
  if (status.ok()) return;
  for (track::RunInfo& run : runs) {
    if (track::RunLooksDead(run, now)) run.state = track::RunState::kCrashed;
  }
  std::fprintf(stderr, "labbook: warning: %s\n", status.message().c_str());
}

Result<track::RunInfo> FindRun(track::RunStore& store, const std::string& id, double now) {
  LABBOOK_ASSIGN_OR_RETURN(track::RunInfo found, track::FindRun(store, id));
  std::vector<track::RunInfo> one = {std::move(found)};
  Reconcile(store, one, now);
  return std::move(one.front());
}

struct Selection {
  std::string project;
  std::string entity;
  std::string filter;
  std::string sort;
  int64_t limit = 0;
};

void AddSelectionOptions(CLI::App* command, Selection& selection) {
  command->add_option("--project", selection.project, "Only runs of this project");
  command->add_option("--entity", selection.entity, "Only runs of this entity (user or team)");
  command->add_option("--filter", selection.filter,
                      "Only runs for which the expression holds, e.g. \"config.optimizer.name = "
                      "'adam' and summary.test.accuracy > 0.9\" or \"tags contains 'baseline'\"");
  command->add_option("--sort", selection.sort,
                      "Order by a field, descending with a leading '-': -summary.test.accuracy, "
                      "name, start_time (default: newest first)");
}

struct SelectedRuns {
  std::vector<track::RunInfo> runs;
  size_t in_store = 0;  // before the filter and the limit
  size_t matched = 0;   // after the filter, before the limit
};

// The runs the options select, filtered, sorted and limited. The filter and sort key are
// checked before the store is opened, so a typo is reported whatever the store holds.
Result<SelectedRuns> SelectRuns(const Selection& selection, track::RunStore* store, double now) {
  std::optional<track::RunFilter> filter;
  if (!selection.filter.empty()) {
    Result<track::RunFilter> compiled = track::RunFilter::Compile(selection.filter);
    if (!compiled.ok()) return compiled.status().WithContext("--filter");
    filter = std::move(compiled).value();
  }
  std::optional<track::RunSortKey> sort;
  if (!selection.sort.empty()) {
    Result<track::RunSortKey> key = track::RunSortKey::Parse(selection.sort);
    if (!key.ok()) return key.status().WithContext("--sort");
    sort = std::move(key).value();
  }
  SelectedRuns selected;
  if (store == nullptr) return selected;
  LABBOOK_ASSIGN_OR_RETURN(std::vector<track::RunInfo> runs,
                           store->ListRuns({selection.entity, selection.project}));
  selected.in_store = runs.size();
  Reconcile(*store, runs, now);
  if (filter) {
    std::erase_if(runs, [&](const track::RunInfo& run) { return !filter->Matches(run); });
  }
  if (sort) track::SortRuns(runs, *sort);
  selected.matched = runs.size();
  if (selection.limit > 0 && runs.size() > static_cast<size_t>(selection.limit)) {
    runs.resize(static_cast<size_t>(selection.limit));
  }
  selected.runs = std::move(runs);
  return selected;
}

// ---------------------------------------------------------------------------------------------
// runs list
// ---------------------------------------------------------------------------------------------

struct ListOptions {
  StoreOption store;
  Selection selection;
  bool json = false;
};

bool IsPreferredMetric(const std::string& key) {
  for (const char* word : {"accuracy", "acc", "loss", "f1", "auc", "error"}) {
    if (key.find(word) != std::string::npos) return true;
  }
  return false;
}

// Up to three numeric summary keys worth a column: the sort key when it is one, then those most
// runs have, test results first, then validation, then the rest, and among those metrics named
// like accuracy or loss first. System metrics and keys starting with '_' are left out.
std::vector<std::string> SummaryColumns(const std::vector<track::RunInfo>& runs,
                                        const std::string& sort) {
  constexpr size_t kMaxColumns = 3;
  std::map<std::string, int> counts;
  for (const track::RunInfo& run : runs) {
    for (const auto& [key, value] : Flattened(run.summary)) {
      if (value.is_number() && !key.starts_with("system/") && !key.starts_with("_")) {
        ++counts[key];
      }
    }
  }
  std::vector<std::string> columns;
  std::string sort_field =
      !sort.empty() && (sort[0] == '-' || sort[0] == '+') ? sort.substr(1) : sort;
  if (sort_field.starts_with("summary.") && sort_field.size() > 8) {
    // Under the key's own spelling when it names one ("test.accuracy" for "test/accuracy").
    std::string key = sort_field.substr(8);
    auto dotted = [](std::string text) {
      std::replace(text.begin(), text.end(), '/', '.');
      return text;
    };
    for (const auto& [candidate, count] : counts) {
      if (dotted(candidate) == dotted(key)) key = candidate;
    }
    columns.push_back(key);
  }
  std::vector<std::pair<std::string, int>> ranked(counts.begin(), counts.end());
  // Final results before per-epoch values before per-batch ones (what `labbook train` logs).
  auto stage = [](const std::string& key) {
    if (key.starts_with("test/") || key.starts_with("test.")) return 0;
    if (key.find("val") != std::string::npos) return 1;
    if (key.starts_with("batch/")) return 3;
    return 2;
  };
  std::stable_sort(ranked.begin(), ranked.end(), [&stage](const auto& a, const auto& b) {
    if (a.second != b.second) return a.second > b.second;
    if (stage(a.first) != stage(b.first)) return stage(a.first) < stage(b.first);
    return IsPreferredMetric(a.first) && !IsPreferredMetric(b.first);
  });
  for (const auto& [key, count] : ranked) {
    if (columns.size() == kMaxColumns) break;
    if (std::find(columns.begin(), columns.end(), key) == columns.end()) columns.push_back(key);
  }
  return columns;
}

// The value of a summary column: the key as a field path, so "test.accuracy" also finds
// "test/accuracy" as the filter does.
std::string SummaryCell(const track::RunInfo& run, const std::string& key) {
  Result<track::RunField> field = track::RunField::Parse("summary." + key);
  if (!field.ok()) {
    auto it = run.summary.find(key);
    return it == run.summary.end() ? "" : DisplayValue(*it);
  }
  json scratch;
  const json* value = field->Find(run, scratch);
  if (value == nullptr) return "";
  if (value->is_number_float()) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.4g", value->get<double>());
    return buffer;
  }
  return DisplayValue(*value);
}

Status RunList(const ListOptions& options, bool colour) {
  const std::string uri = options.store.Uri();
  const double now = UnixSeconds();
  std::optional<std::string> missing = track::MissingStoreFile(uri);
  std::unique_ptr<track::RunStore> store;
  if (!missing) {
    LABBOOK_ASSIGN_OR_RETURN(store, track::OpenStore(uri));
  }
  LABBOOK_ASSIGN_OR_RETURN(SelectedRuns selected, SelectRuns(options.selection, store.get(), now));
  if (options.json) {
    json array = json::array();
    for (const track::RunInfo& run : selected.runs) array.push_back(RunJson(run, now));
    PrintJson(array);
    return Status::Ok();
  }
  if (missing) {
    std::printf("no runs: %s does not exist\n", missing->c_str());
    return Status::Ok();
  }
  if (selected.runs.empty()) {
    if (selected.in_store == 0) {
      std::printf("no runs in %s%s\n", store->uri().c_str(),
                  options.selection.project.empty()
                      ? ""
                      : (" for project " + options.selection.project).c_str());
    } else {
      std::printf("no runs match --filter %s (%zu run%s before filtering)\n",
                  options.selection.filter.c_str(), selected.in_store,
                  selected.in_store == 1 ? "" : "s");
    }
    return Status::Ok();
  }
  std::vector<std::string> metrics = SummaryColumns(selected.runs, options.selection.sort);
  std::vector<TextTable::Column> columns = {{"id", Align::kLeft},      {"name", Align::kLeft},
                                            {"state", Align::kLeft},   {"project", Align::kLeft},
                                            {"created", Align::kLeft}, {"duration", Align::kRight}};
  for (const std::string& key : metrics) columns.push_back({key, Align::kRight});
  TextTable table(columns);
  for (const track::RunInfo& run : selected.runs) {
    std::optional<double> duration = RunDuration(run, now);
    std::vector<std::string> row = {run.id,
                                    run.name,
                                    std::string(track::RunStateName(run.state)),
                                    run.project,
                                    FormatAge(run.start_time, now),
                                    duration ? FormatDuration(*duration) : ""};
    for (const std::string& key : metrics) row.push_back(SummaryCell(run, key));
    LABBOOK_RETURN_IF_ERROR(table.AddRow(std::move(row)));
  }
  std::fputs(table.Render(colour).c_str(), stdout);
  if (selected.runs.size() < selected.matched) {
    std::printf("(%zu of %zu runs; --limit 0 shows all)\n", selected.runs.size(), selected.matched);
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// runs show
// ---------------------------------------------------------------------------------------------

struct ShowOptions {
  StoreOption store;
  std::string id;
  bool json = false;
};

json KeyInfoJson(const track::KeyInfo& key) {
  return {{"key", key.key},
          {"count", key.count},
          {"first_step", key.first_step},
          {"last_step", key.last_step},
          {"last", JsonNumber(key.last_value)},
          {"min", JsonNumber(key.min)},
          {"max", JsonNumber(key.max)}};
}

Status PrintKeyValues(const std::string& title, const json& object, bool colour) {
  std::map<std::string, json> flat = Flattened(object);
  if (flat.empty()) {
    std::printf("%s: none\n", title.c_str());
    return Status::Ok();
  }
  TextTable table({{"key", Align::kLeft}, {"value", Align::kLeft}});
  table.SetTitle(title);
  for (const auto& [key, value] : flat) {
    LABBOOK_RETURN_IF_ERROR(table.AddRow({key, DisplayValue(value)}));
  }
  std::fputs(table.Render(colour).c_str(), stdout);
  return Status::Ok();
}

int64_t TotalSize(const track::ArtifactVersion& artifact) {
  int64_t total = 0;
  for (const track::ArtifactFile& file : artifact.files) total += file.size;
  return total;
}

Status PrintArtifacts(const std::string& title, const std::vector<track::ArtifactVersion>& list,
                      bool colour) {
  if (list.empty()) {
    std::printf("%s: none\n", title.c_str());
    return Status::Ok();
  }
  TextTable table({{"artifact", Align::kLeft},
                   {"type", Align::kLeft},
                   {"aliases", Align::kLeft},
                   {"files", Align::kRight},
                   {"size", Align::kRight},
                   {"digest", Align::kLeft}});
  table.SetTitle(title);
  for (const track::ArtifactVersion& artifact : list) {
    LABBOOK_RETURN_IF_ERROR(
        table.AddRow({artifact.name + ":" + artifact.VersionName(), artifact.type,
                      JoinStrings(artifact.aliases, ", "),
                      FormatCount(static_cast<int64_t>(artifact.files.size())),
                      FormatBytes(TotalSize(artifact)), artifact.digest.substr(0, 12)}));
  }
  std::fputs(table.Render(colour).c_str(), stdout);
  return Status::Ok();
}

Status RunShow(const ShowOptions& options, bool colour) {
  const double now = UnixSeconds();
  LABBOOK_ASSIGN_OR_RETURN(std::unique_ptr<track::RunStore> store,
                           track::OpenExistingStore(options.store.Uri()));
  LABBOOK_ASSIGN_OR_RETURN(track::RunInfo run, FindRun(*store, options.id, now));
  LABBOOK_ASSIGN_OR_RETURN(std::vector<track::KeyInfo> keys, store->HistoryKeys(run.id));
  LABBOOK_ASSIGN_OR_RETURN(track::RunArtifacts artifacts, store->ArtifactsOfRun(run.id));
  if (options.json) {
    json out = RunJson(run, now);
    json history = json::array();
    for (const track::KeyInfo& key : keys) history.push_back(KeyInfoJson(key));
    out["history"] = std::move(history);
    json produced = json::array();
    json used = json::array();
    for (const auto& artifact : artifacts.produced) produced.push_back(ArtifactJson(artifact));
    for (const auto& artifact : artifacts.used) used.push_back(ArtifactJson(artifact));
    out["artifacts"] = {{"produced", std::move(produced)}, {"used", std::move(used)}};
    PrintJson(out);
    return Status::Ok();
  }

  TextTable fields({{"field", Align::kLeft}, {"value", Align::kLeft}});
  fields.SetTitle("Run " + run.id + " (" + run.name + ")");
  auto add = [&](const char* name, const std::string& value) -> Status {
    if (value.empty()) return Status::Ok();
    return fields.AddRow({name, value});
  };
  std::string state(track::RunStateName(run.state));
  if (run.exit_code) state += " (exit code " + std::to_string(*run.exit_code) + ")";
  LABBOOK_RETURN_IF_ERROR(add("state", state));
  LABBOOK_RETURN_IF_ERROR(add("entity", run.entity));
  LABBOOK_RETURN_IF_ERROR(add("project", run.project));
  LABBOOK_RETURN_IF_ERROR(add("group", run.group));
  LABBOOK_RETURN_IF_ERROR(add("tags", JoinStrings(run.tags, ", ")));
  LABBOOK_RETURN_IF_ERROR(add("notes", run.notes));
  LABBOOK_RETURN_IF_ERROR(
      add("host", run.host + (run.pid != 0 ? " (pid " + std::to_string(run.pid) + ")" : "")));
  LABBOOK_RETURN_IF_ERROR(add("git commit", run.git_commit));
  auto when = [&](double time) {
    if (time == 0) return std::string();
    return FormatTime(time, "%Y-%m-%d %H:%M:%S", false) + " (" + FormatAge(time, now) + ")";
  };
  LABBOOK_RETURN_IF_ERROR(add("started", when(run.start_time)));
  if (run.state == track::RunState::kRunning) {
    LABBOOK_RETURN_IF_ERROR(add("last heartbeat", when(run.heartbeat_time)));
  }
  LABBOOK_RETURN_IF_ERROR(add("ended", when(run.end_time)));
  std::optional<double> duration = RunDuration(run, now);
  LABBOOK_RETURN_IF_ERROR(add("duration", duration ? FormatDuration(*duration) : ""));
  std::fputs(fields.Render(colour).c_str(), stdout);

  std::printf("\n");
  LABBOOK_RETURN_IF_ERROR(PrintKeyValues("Config", run.config, colour));
  std::printf("\n");
  LABBOOK_RETURN_IF_ERROR(PrintKeyValues("Summary", run.summary, colour));
  std::printf("\n");
  if (keys.empty()) {
    std::printf("History: none\n");
  } else {
    TextTable history({{"key", Align::kLeft},
                       {"points", Align::kRight},
                       {"steps", Align::kRight},
                       {"last", Align::kRight},
                       {"min", Align::kRight},
                       {"max", Align::kRight}});
    history.SetTitle("History");
    for (const track::KeyInfo& key : keys) {
      LABBOOK_RETURN_IF_ERROR(history.AddRow(
          {key.key, FormatCount(key.count),
           std::to_string(key.first_step) + ".." + std::to_string(key.last_step),
           DisplayValue(key.last_value), DisplayValue(key.min), DisplayValue(key.max)}));
    }
    std::fputs(history.Render(colour).c_str(), stdout);
  }
  std::printf("\n");
  LABBOOK_RETURN_IF_ERROR(PrintArtifacts("Artifacts produced", artifacts.produced, colour));
  std::printf("\n");
  LABBOOK_RETURN_IF_ERROR(PrintArtifacts("Artifacts used", artifacts.used, colour));
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// runs compare
// ---------------------------------------------------------------------------------------------

struct CompareOptions {
  StoreOption store;
  std::vector<std::string> ids;
  bool all = false;
  bool json = false;
};

struct ComparedKey {
  std::string key;
  std::vector<const json*> values;  // one per run; nullptr where the run lacks the key
  bool differs = false;
};

std::vector<ComparedKey> CompareKeys(const std::vector<std::map<std::string, json>>& flats) {
  std::set<std::string> keys;
  for (const auto& flat : flats) {
    for (const auto& [key, value] : flat) keys.insert(key);
  }
  std::vector<ComparedKey> out;
  for (const std::string& key : keys) {
    ComparedKey compared{key, {}, false};
    for (const auto& flat : flats) {
      auto it = flat.find(key);
      compared.values.push_back(it == flat.end() ? nullptr : &it->second);
    }
    for (const json* value : compared.values) {
      const json* first = compared.values.front();
      bool same = (value == nullptr && first == nullptr) ||
                  (value != nullptr && first != nullptr && *value == *first);
      compared.differs = compared.differs || !same;
    }
    out.push_back(std::move(compared));
  }
  return out;
}

json ComparedJson(const std::vector<ComparedKey>& keys, bool all) {
  json out = json::array();
  for (const ComparedKey& key : keys) {
    if (!all && !key.differs) continue;
    json values = json::array();
    for (const json* value : key.values) values.push_back(value ? *value : json(nullptr));
    out.push_back({{"key", key.key}, {"values", std::move(values)}, {"differs", key.differs}});
  }
  return out;
}

Status PrintCompared(const std::string& title, const std::vector<ComparedKey>& keys,
                     const std::vector<track::RunInfo>& runs, bool all, bool colour) {
  std::vector<TextTable::Column> columns = {{"key", Align::kLeft}};
  for (const track::RunInfo& run : runs) columns.push_back({run.id, Align::kAuto});
  TextTable table(columns);
  table.SetTitle(title);
  for (const ComparedKey& key : keys) {
    if (!all && !key.differs) continue;
    std::vector<std::string> row = {key.key};
    for (const json* value : key.values) row.push_back(value ? DisplayValue(*value) : "-");
    LABBOOK_RETURN_IF_ERROR(table.AddRow(std::move(row)));
    if (colour && all && key.differs) {
      LABBOOK_RETURN_IF_ERROR(table.Highlight(table.row_count() - 1, 0));
    }
  }
  std::fputs(table.Render(colour).c_str(), stdout);
  return Status::Ok();
}

Status RunCompare(const CompareOptions& options, bool colour) {
  if (options.ids.size() < 2) {
    return InvalidArgument("runs compare: expected at least two run ids, got " +
                           std::to_string(options.ids.size()));
  }
  const double now = UnixSeconds();
  LABBOOK_ASSIGN_OR_RETURN(std::unique_ptr<track::RunStore> store,
                           track::OpenExistingStore(options.store.Uri()));
  std::vector<track::RunInfo> runs;
  std::vector<std::map<std::string, json>> configs;
  std::vector<std::map<std::string, json>> summaries;
  for (const std::string& id : options.ids) {
    LABBOOK_ASSIGN_OR_RETURN(track::RunInfo run, FindRun(*store, id, now));
    configs.push_back(Flattened(run.config));
    summaries.push_back(Flattened(run.summary));
    runs.push_back(std::move(run));
  }
  std::vector<ComparedKey> config = CompareKeys(configs);
  std::vector<ComparedKey> summary = CompareKeys(summaries);
  if (options.json) {
    json out;
    out["runs"] = json::array();
    for (const track::RunInfo& run : runs) out["runs"].push_back(RunJson(run, now));
    out["config"] = ComparedJson(config, options.all);
    out["summary"] = ComparedJson(summary, true);
    PrintJson(out);
    return Status::Ok();
  }

  TextTable overview({{"id", Align::kLeft},
                      {"name", Align::kLeft},
                      {"state", Align::kLeft},
                      {"project", Align::kLeft},
                      {"created", Align::kLeft},
                      {"duration", Align::kRight}});
  overview.SetTitle("Runs");
  for (const track::RunInfo& run : runs) {
    std::optional<double> duration = RunDuration(run, now);
    LABBOOK_RETURN_IF_ERROR(overview.AddRow(
        {run.id, run.name, std::string(track::RunStateName(run.state)), run.project,
         FormatAge(run.start_time, now), duration ? FormatDuration(*duration) : ""}));
  }
  std::fputs(overview.Render(colour).c_str(), stdout);
  std::printf("\n");

  size_t differing = static_cast<size_t>(
      std::count_if(config.begin(), config.end(), [](const auto& key) { return key.differs; }));
  if (config.empty()) {
    std::printf("Config: none\n");
  } else if (differing == 0 && !options.all) {
    std::printf("Config: the same in every run (%zu keys; --all shows them)\n", config.size());
  } else {
    std::string title = options.all
                            ? "Config (" + std::to_string(differing) + " of " +
                                  std::to_string(config.size()) + " keys differ)"
                            : "Config differences (" + std::to_string(differing) + " of " +
                                  std::to_string(config.size()) + " keys; --all shows every key)";
    LABBOOK_RETURN_IF_ERROR(PrintCompared(title, config, runs, options.all, colour));
  }
  std::printf("\n");
  if (summary.empty()) {
    std::printf("Summary: none\n");
  } else {
    LABBOOK_RETURN_IF_ERROR(PrintCompared("Summary", summary, runs, true, colour));
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// runs history
// ---------------------------------------------------------------------------------------------

struct HistoryOptions {
  StoreOption store;
  std::string id;
  std::vector<std::string> keys;
  bool csv = false;
  size_t max_points = 0;
};

Status RunHistory(const HistoryOptions& options, bool colour) {
  const double now = UnixSeconds();
  LABBOOK_ASSIGN_OR_RETURN(std::unique_ptr<track::RunStore> store,
                           track::OpenExistingStore(options.store.Uri()));
  LABBOOK_ASSIGN_OR_RETURN(track::RunInfo run, FindRun(*store, options.id, now));
  LABBOOK_ASSIGN_OR_RETURN(std::vector<track::KeyInfo> known, store->HistoryKeys(run.id));
  std::vector<std::string> known_names;
  for (const track::KeyInfo& key : known) known_names.push_back(key.key);
  if (options.keys.empty()) {
    if (known.empty()) {
      std::printf("run %s logged no history\n", run.id.c_str());
      return Status::Ok();
    }
    TextTable table({{"key", Align::kLeft},
                     {"points", Align::kRight},
                     {"steps", Align::kRight},
                     {"last", Align::kRight}});
    table.SetTitle("History keys of run " + run.id + " (pick with --key)");
    for (const track::KeyInfo& key : known) {
      LABBOOK_RETURN_IF_ERROR(
          table.AddRow({key.key, FormatCount(key.count),
                        std::to_string(key.first_step) + ".." + std::to_string(key.last_step),
                        DisplayValue(key.last_value)}));
    }
    std::fputs(table.Render(colour).c_str(), stdout);
    return Status::Ok();
  }

  std::vector<track::Series> series;
  for (const std::string& key : options.keys) {
    LABBOOK_RETURN_IF_ERROR(track::CheckHistoryKey(run.id, key, known_names));
    track::HistoryQuery query;
    query.max_points = options.max_points;
    LABBOOK_ASSIGN_OR_RETURN(track::Series one, store->ReadHistory(run.id, key, query));
    series.push_back(std::move(one));
  }
  struct Row {
    double wall_time = 0;
    std::vector<std::optional<double>> values;
  };
  std::map<int64_t, Row> rows;
  for (size_t k = 0; k < series.size(); ++k) {
    const track::Series& s = series[k];
    for (size_t i = 0; i < s.steps.size(); ++i) {
      Row& row = rows[s.steps[i]];
      row.values.resize(series.size());
      if (row.wall_time == 0 && i < s.wall_times.size()) row.wall_time = s.wall_times[i];
      row.values[k] = s.values[i];
    }
  }

  if (options.csv) {
    std::vector<std::string> header = {"step", "wall_time"};
    header.insert(header.end(), options.keys.begin(), options.keys.end());
    std::string text = CsvLine(header);
    char wall[32];
    for (const auto& [step, row] : rows) {
      std::snprintf(wall, sizeof wall, "%.6f", row.wall_time);
      std::vector<std::string> fields = {std::to_string(step), wall};
      for (const auto& value : row.values) fields.push_back(value ? ExactNumber(*value) : "");
      text += CsvLine(fields);
    }
    std::fwrite(text.data(), 1, text.size(), stdout);
    return Status::Ok();
  }
  std::vector<TextTable::Column> columns = {{"step", Align::kRight}, {"wall_time", Align::kLeft}};
  for (const std::string& key : options.keys) columns.push_back({key, Align::kRight});
  TextTable table(columns);
  for (const auto& [step, row] : rows) {
    std::vector<std::string> cells = {std::to_string(step),
                                      FormatTime(row.wall_time, "%Y-%m-%d %H:%M:%S", false)};
    for (const auto& value : row.values) cells.push_back(value ? DisplayValue(*value) : "");
    LABBOOK_RETURN_IF_ERROR(table.AddRow(std::move(cells)));
  }
  std::fputs(table.Render(colour).c_str(), stdout);
  for (const track::Series& s : series) {
    if (s.downsampled) {
      std::printf("%s: %s points, downsampled to %s (min and max per bucket; --max-points)\n",
                  s.key.c_str(), FormatCount(s.points_in_range).c_str(),
                  FormatCount(static_cast<int64_t>(s.steps.size())).c_str());
    }
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// runs export
// ---------------------------------------------------------------------------------------------

struct ExportOptions {
  StoreOption store;
  Selection selection;
  bool csv = false;
  bool json = false;
  std::string out;
};

Status RunExport(const ExportOptions& options) {
  if (options.csv && options.json) {
    return InvalidArgument("runs export: expected one of --csv and --json, got both");
  }
  const double now = UnixSeconds();
  std::unique_ptr<track::RunStore> store;
  if (!track::MissingStoreFile(options.store.Uri())) {
    LABBOOK_ASSIGN_OR_RETURN(store, track::OpenStore(options.store.Uri()));
  }
  LABBOOK_ASSIGN_OR_RETURN(SelectedRuns selected, SelectRuns(options.selection, store.get(), now));

  std::vector<std::string> columns = {
      "id",    "name", "state",      "entity",     "project",  "group",    "tags",
      "notes", "host", "git_commit", "start_time", "end_time", "duration", "exit_code"};
  std::vector<std::map<std::string, json>> rows;
  std::set<std::string> config_keys;
  std::set<std::string> summary_keys;
  for (const track::RunInfo& run : selected.runs) {
    std::map<std::string, json> row;
    std::optional<double> duration = RunDuration(run, now);
    row["id"] = run.id;
    row["name"] = run.name;
    row["state"] = track::RunStateName(run.state);
    row["entity"] = run.entity;
    row["project"] = run.project;
    row["group"] = run.group;
    row["tags"] = JoinStrings(run.tags, ";");
    row["notes"] = run.notes;
    row["host"] = run.host;
    row["git_commit"] = run.git_commit;
    row["start_time"] = run.start_time == 0 ? json(nullptr) : json(IsoUtc(run.start_time));
    row["end_time"] = run.end_time == 0 ? json(nullptr) : json(IsoUtc(run.end_time));
    row["duration"] = duration ? JsonNumber(*duration) : json(nullptr);
    row["exit_code"] = run.exit_code ? json(*run.exit_code) : json(nullptr);
    for (auto& [key, value] : Flattened(run.config)) {
      config_keys.insert(key);
      row["config." + key] = std::move(value);
    }
    for (auto& [key, value] : Flattened(run.summary)) {
      summary_keys.insert(key);
      row["summary." + key] = std::move(value);
    }
    rows.push_back(std::move(row));
  }
  for (const std::string& key : config_keys) columns.push_back("config." + key);
  for (const std::string& key : summary_keys) columns.push_back("summary." + key);

  std::string text;
  if (options.json) {
    json array = json::array();
    for (const auto& row : rows) {
      // Every column in every object, null where the run has no value, in column order.
      json object = json::object();
      for (const std::string& column : columns) {
        auto it = row.find(column);
        object[column] = it == row.end() ? json(nullptr) : it->second;
      }
      array.push_back(std::move(object));
    }
    text = array.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
  } else {
    text = CsvLine(columns);
    for (const auto& row : rows) {
      std::vector<std::string> fields;
      for (const std::string& column : columns) {
        auto it = row.find(column);
        fields.push_back(it == row.end() ? "" : ExactValue(it->second));
      }
      text += CsvLine(fields);
    }
  }
  if (options.out.empty() || options.out == "-") {
    std::fwrite(text.data(), 1, text.size(), stdout);
    return Status::Ok();
  }
  std::filesystem::path parent = std::filesystem::path(options.out).parent_path();
  if (!parent.empty()) LABBOOK_RETURN_IF_ERROR(EnsureDirectory(parent.string()));
  LABBOOK_RETURN_IF_ERROR(WriteTextFile(options.out, text));
  std::printf("wrote %s: %zu run%s, %zu columns\n", options.out.c_str(), rows.size(),
              rows.size() == 1 ? "" : "s", columns.size());
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// runs delete
// ---------------------------------------------------------------------------------------------

struct DeleteOptions {
  StoreOption store;
  std::vector<std::string> ids;
  bool yes = false;
  bool force = false;
};

Status RunDelete(const DeleteOptions& options) {
  const double now = UnixSeconds();
  LABBOOK_ASSIGN_OR_RETURN(std::unique_ptr<track::RunStore> store,
                           track::OpenExistingStore(options.store.Uri()));
  std::vector<track::RunInfo> runs;
  for (const std::string& id : options.ids) {
    LABBOOK_ASSIGN_OR_RETURN(track::RunInfo run, FindRun(*store, id, now));
    if (run.state == track::RunState::kRunning && !options.force) {
      return FailedPrecondition("run " + run.id + " (" + run.name + ") is still running" +
                                (run.host.empty() ? "" : " on " + run.host) +
                                (run.pid != 0 ? " as pid " + std::to_string(run.pid) : "") +
                                "; stop it first, or pass --force to delete it anyway");
    }
    runs.push_back(std::move(run));
  }
  // Scripts and pipes (stdin not a terminal) delete without asking, as with --yes.
  if (!options.yes && isatty(STDIN_FILENO) == 1) {
    std::string names;
    for (const track::RunInfo& run : runs) {
      names += (names.empty() ? "" : ", ") + run.id + " (" + run.name + ")";
    }
    std::fprintf(stderr, "Delete run%s %s with %s history and lineage? [y/N] ",
                 runs.size() == 1 ? "" : "s", names.c_str(), runs.size() == 1 ? "its" : "their");
    std::fflush(stderr);
    std::string answer;
    std::getline(std::cin, answer);
    if (answer != "y" && answer != "Y" && answer != "yes") {
      std::printf("nothing deleted\n");
      return Status::Ok();
    }
  }
  for (const track::RunInfo& run : runs) {
    LABBOOK_ASSIGN_OR_RETURN(track::RunArtifacts artifacts, store->ArtifactsOfRun(run.id));
    LABBOOK_RETURN_IF_ERROR(store->DeleteRun(run.id));
    std::printf("deleted run %s (%s)", run.id.c_str(), run.name.c_str());
    if (!artifacts.produced.empty()) {
      std::printf("; the %zu artifact version%s it produced stay%s", artifacts.produced.size(),
                  artifacts.produced.size() == 1 ? "" : "s",
                  artifacts.produced.size() == 1 ? "s" : "");
    }
    std::printf("\n");
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// runs predictions
// ---------------------------------------------------------------------------------------------

struct PredictionsOptions {
  StoreOption store;
  std::string id;
  std::string out;
};

Status RunPredictions(const PredictionsOptions& options) {
  const double now = UnixSeconds();
  LABBOOK_ASSIGN_OR_RETURN(std::unique_ptr<track::RunStore> store,
                           track::OpenExistingStore(options.store.Uri()));
  LABBOOK_ASSIGN_OR_RETURN(track::RunInfo run, FindRun(*store, options.id, now));
  LABBOOK_ASSIGN_OR_RETURN(track::RunArtifacts artifacts, store->ArtifactsOfRun(run.id));
  const track::ArtifactVersion* newest = nullptr;
  std::vector<std::string> others;
  for (const track::ArtifactVersion& artifact : artifacts.produced) {
    if (artifact.type != "predictions") {
      others.push_back(artifact.name + ":" + artifact.VersionName() + " (" + artifact.type + ")");
      continue;
    }
    if (newest == nullptr || artifact.created_time > newest->created_time ||
        (artifact.created_time == newest->created_time && artifact.version > newest->version)) {
      newest = &artifact;
    }
  }
  if (newest == nullptr) {
    return NotFound("run " + run.id + " (" + run.name +
                    ") produced no artifact of type 'predictions'" +
                    (others.empty() ? "; it produced no artifacts"
                                    : "; it produced " + JoinStrings(others, ", ")));
  }
  const std::string reference = newest->name + ":" + newest->VersionName();
  const track::ArtifactFile* file = nullptr;
  std::vector<std::string> paths;
  for (const track::ArtifactFile& candidate : newest->files) {
    paths.push_back(candidate.path);
    std::string_view path = candidate.path;
    if (path == "predictions.csv" || path.ends_with("/predictions.csv")) file = &candidate;
  }
  if (file == nullptr) {
    return NotFound("artifact " + reference + " of run " + run.id +
                    " holds no predictions.csv; its files: " +
                    (paths.empty() ? "none" : JoinStrings(paths, ", ")));
  }
  std::filesystem::path parent = std::filesystem::path(options.out).parent_path();
  if (!parent.empty()) LABBOOK_RETURN_IF_ERROR(EnsureDirectory(parent.string()));
  Status read = store->ReadArtifactFile(*file, options.out);
  if (!read.ok()) return read.WithContext("artifact " + reference + " file " + file->path);
  // What the trainer logged must be what `labbook eval` reads.
  LABBOOK_ASSIGN_OR_RETURN(PredictionTable table, ReadPredictionsCsv(options.out));
  std::printf("wrote %s: %s predictions, %d classes%s, from artifact %s of run %s\n",
              options.out.c_str(), FormatCount(static_cast<int64_t>(table.labels.size())).c_str(),
              table.num_classes, table.has_probabilities ? " with probabilities" : "",
              reference.c_str(), run.id.c_str());
  std::printf("evaluate it with: labbook eval %s\n", options.out.c_str());
  return Status::Ok();
}

}  // namespace

void AddRunsCommand(CLI::App& app, Action& action) {
  CLI::App* runs = app.add_subcommand(
      "runs", "Tracked runs: list, show, compare, export and delete them, read their history");
  runs->require_subcommand(1);
  runs->footer("Filter fields: config.<path>, summary.<path>, " + track::RunAttributeNames() +
               "\nOperators: = != < <= > >= contains, and, or, not, parentheses; values: "
               "'strings', numbers, true, false, null.");

  auto list_options = std::make_shared<ListOptions>();
  CLI::App* list = runs->add_subcommand("list", "A table of runs, newest first");
  AddStoreOption(list, list_options->store);
  AddSelectionOptions(list, list_options->selection);
  list->add_option("--limit", list_options->selection.limit, "Show at most N runs (0: all)")
      ->check(CLI::NonNegativeNumber);
  list->add_flag("--json", list_options->json, "Print the runs' full records as a JSON array");
  list->callback([list_options, &action] {
    action = [list_options] { return RunList(*list_options, report::StdoutWantsColour()); };
  });

  auto show_options = std::make_shared<ShowOptions>();
  CLI::App* show = runs->add_subcommand(
      "show", "Everything about one run: fields, config, summary, history keys, artifacts");
  show->add_option("id", show_options->id, "Run id, or a unique prefix of at least 3 characters")
      ->required();
  AddStoreOption(show, show_options->store);
  show->add_flag("--json", show_options->json, "Print the run as JSON");
  show->callback([show_options, &action] {
    action = [show_options] { return RunShow(*show_options, report::StdoutWantsColour()); };
  });

  auto compare_options = std::make_shared<CompareOptions>();
  CLI::App* compare = runs->add_subcommand(
      "compare", "Runs side by side: the config keys that differ and every summary value");
  compare->add_option("ids", compare_options->ids, "Two or more run ids (or unique prefixes)")
      ->required();
  AddStoreOption(compare, compare_options->store);
  compare->add_flag("--all", compare_options->all, "Show every config key, not only differences");
  compare->add_flag("--json", compare_options->json, "Print the comparison as JSON");
  compare->callback([compare_options, &action] {
    action = [compare_options] {
      return RunCompare(*compare_options, report::StdoutWantsColour());
    };
  });

  auto history_options = std::make_shared<HistoryOptions>();
  CLI::App* history = runs->add_subcommand(
      "history", "A run's logged values per step (without --key: the keys it logged)");
  history->add_option("id", history_options->id, "Run id, or a unique prefix")->required();
  AddStoreOption(history, history_options->store);
  history->add_option("--key", history_options->keys, "A history key; repeat for several");
  history->add_flag("--csv", history_options->csv, "Print CSV: step,wall_time,KEY...");
  history
      ->add_option("--max-points", history_options->max_points,
                   "Downsample each key to at most N points, keeping each bucket's min and max "
                   "(0: all)")
      ->check(CLI::NonNegativeNumber);
  history->callback([history_options, &action] {
    action = [history_options] {
      return RunHistory(*history_options, report::StdoutWantsColour());
    };
  });

  auto export_options = std::make_shared<ExportOptions>();
  CLI::App* export_command = runs->add_subcommand(
      "export", "One row per run with its fields and flattened config.* and summary.* columns");
  AddStoreOption(export_command, export_options->store);
  AddSelectionOptions(export_command, export_options->selection);
  export_command->add_flag("--csv", export_options->csv, "Write CSV (the default)");
  export_command->add_flag("--json", export_options->json,
                           "Write a JSON array of flat objects instead of CSV");
  export_command->add_option("--out", export_options->out, "File to write (default: stdout)");
  export_command->callback([export_options, &action] {
    action = [export_options] { return RunExport(*export_options); };
  });

  auto delete_options = std::make_shared<DeleteOptions>();
  CLI::App* delete_command = runs->add_subcommand(
      "delete",
      "Delete runs with their history and lineage (the artifact versions they produced stay); "
      "asks first when standard input is a terminal");
  delete_command->add_option("ids", delete_options->ids, "Run ids (or unique prefixes)")
      ->required();
  AddStoreOption(delete_command, delete_options->store);
  delete_command->add_flag("-y,--yes", delete_options->yes, "Do not ask for confirmation");
  delete_command->add_flag("--force", delete_options->force, "Delete runs still running too");
  delete_command->callback([delete_options, &action] {
    action = [delete_options] { return RunDelete(*delete_options); };
  });

  auto predictions_options = std::make_shared<PredictionsOptions>();
  CLI::App* predictions = runs->add_subcommand(
      "predictions",
      "Write the predictions CSV a run logged (its newest 'predictions' artifact) for labbook "
      "eval");
  predictions->add_option("id", predictions_options->id, "Run id, or a unique prefix")->required();
  AddStoreOption(predictions, predictions_options->store);
  predictions->add_option("--out", predictions_options->out, "Predictions CSV to write")
      ->required();
  predictions->callback([predictions_options, &action] {
    action = [predictions_options] { return RunPredictions(*predictions_options); };
  });
}

}  // namespace labbook::cli
