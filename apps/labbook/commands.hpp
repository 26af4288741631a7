// The command-line program's commands. Each Add*Command registers a CLI11 subcommand whose
// callback stores the work to do in `action`; main() runs it after parsing and maps the returned
// Status to an exit code. Commands print results to stdout and nothing else; errors go back up.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

#include "labbook/status.hpp"

namespace labbook::cli {

using Action = std::function<Status()>;

void AddDataCommand(CLI::App& app, Action& action);
void AddEvalCommand(CLI::App& app, Action& action);
void AddTrainCommand(CLI::App& app, Action& action);
void AddPredictCommand(CLI::App& app, Action& action);
void AddModelCommand(CLI::App& app, Action& action);

}  // namespace labbook::cli
