// The command-line program's commands. Each Add*Command registers a CLI11 subcommand whose
// callback stores the work to do in `action`; main() runs it after parsing and maps the returned
// Status to an exit code. Commands print results to stdout and nothing else; errors go back up.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "core/clock.hpp"
#include "labbook/status.hpp"
#include "track/lookup.hpp"

namespace labbook::cli {

using Action = std::function<Status()>;

void AddDataCommand(CLI::App& app, Action& action);
void AddReportCommand(CLI::App& app, Action& action);
void AddEvalCommand(CLI::App& app, Action& action);
void AddTrainCommand(CLI::App& app, Action& action);
void AddPredictCommand(CLI::App& app, Action& action);
void AddModelCommand(CLI::App& app, Action& action);
void AddRunsCommand(CLI::App& app, Action& action);
void AddArtifactsCommand(CLI::App& app, Action& action);
void AddServeCommand(CLI::App& app, Action& action);
void AddUiCommand(CLI::App& app, Action& action);
void AddLoginCommand(CLI::App& app, Action& action);
void AddSyncCommand(CLI::App& app, Action& action);
// `labbook gc` (cmd_gc.cpp): unreferenced artifact contents.
void AddGcCommand(CLI::App& app, Action& action);
// Sweeps (cmd_sweep.cpp): `labbook sweep ...` and `labbook agent`.
void AddSweepCommand(CLI::App& app, Action& action);
void AddAgentCommand(CLI::App& app, Action& action);
// The accounts of a team server (cmd_admin.cpp): users, keys, team, project.
void AddUsersCommand(CLI::App& app, Action& action);
void AddKeysCommand(CLI::App& app, Action& action);
void AddTeamCommand(CLI::App& app, Action& action);
void AddProjectCommand(CLI::App& app, Action& action);

// Unix seconds as "3m ago" (up to a week), else the local date "2024-05-01"; "" for 0.
std::string FormatAge(double time, double now);

// 1536 -> "1.5 KiB".
std::string FormatBytes(int64_t bytes);

// Unix seconds as UTC ISO 8601, "2024-05-01T12:30:15Z"; "" for 0.
std::string IsoUtc(double time);

// Prints `value` indented, with a final newline; invalid UTF-8 in strings is replaced.
void PrintJson(const nlohmann::json& value);

// An artifact version as JSON (cmd_artifacts.cpp): what `artifacts list --json` prints.
nlohmann::json ArtifactJson(const track::ArtifactVersion& artifact);

}  // namespace labbook::cli
