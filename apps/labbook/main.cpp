// labbook: train, track, evaluate and compare machine-learning experiments.
// main() parses arguments, runs one command and turns its Status into an exit code.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <functional>
#include <string>
#include <utility>

#include "commands.hpp"
#include "labbook/status.hpp"
#include "report/plot.hpp"

int main(int argc, char** argv) {
  CLI::App app{
      "labbook: train, track, evaluate and compare machine-learning experiments.\n"
      "Run `labbook COMMAND --help` for a command's options.",
      "labbook"};
  app.set_version_flag("-V,--version", std::string("labbook ") + LABBOOK_VERSION);
  app.require_subcommand(1);
  app.footer(
      "Environment:\n"
      "  LABBOOK_DATA   directory of datasets installed by scripts/install-deps\n"
      "  LABBOOK_STORE  the run store (default sqlite://.labbook/labbook.db)\n"
      "  LABBOOK_PROJECT, LABBOOK_ENTITY  defaults for recorded runs\n"
      "  LABBOOK_OFFLINE_STORE  the store of --track offline (default .labbook/offline.db)\n"
      "  LABBOOK_BASE_URL  a labbook server, the store when LABBOOK_STORE is unset\n"
      "  LABBOOK_API_KEY (or WANDB_API_KEY)  its API key (else ./.env, else `labbook login`)\n"
      "  NO_COLOR       disables colours in terminal output\n"
      "Exit codes: 0 success, 2 bad arguments or input, 3 not found, 4 already exists,\n"
      "  5 permission denied, 6 no or a wrong API key, 7 not possible in the current state\n"
      "  (e.g. deleting a running run), 8 corrupt data, 9 out of space or memory,\n"
      "  10 unavailable, 12 internal error, 13 over a size limit.");

  labbook::cli::Action action;
  labbook::cli::AddDataCommand(app, action);
  labbook::cli::AddReportCommand(app, action);
  labbook::cli::AddEvalCommand(app, action);
  labbook::cli::AddTrainCommand(app, action);
  labbook::cli::AddPredictCommand(app, action);
  labbook::cli::AddModelCommand(app, action);
  labbook::cli::AddRunsCommand(app, action);
  labbook::cli::AddArtifactsCommand(app, action);
  labbook::cli::AddServeCommand(app, action);
  labbook::cli::AddUiCommand(app, action);
  labbook::cli::AddLoginCommand(app, action);
  labbook::cli::AddSyncCommand(app, action);
  labbook::cli::AddGcCommand(app, action);
  labbook::cli::AddSweepCommand(app, action);
  labbook::cli::AddAgentCommand(app, action);
  labbook::cli::AddUsersCommand(app, action);
  labbook::cli::AddKeysCommand(app, action);
  labbook::cli::AddTeamCommand(app, action);
  labbook::cli::AddProjectCommand(app, action);

  // CLI11 reports an unknown command as "A subcommand is required"; name the word instead.
  if (argc > 1 && argv[1][0] != '-') {
    std::function<bool(const CLI::App*)> every = [](const CLI::App*) { return true; };
    std::string names;
    bool known = false;
    for (const CLI::App* sub : std::as_const(app).get_subcommands(every)) {
      known = known || sub->get_name() == argv[1];
      names += names.empty() ? "" : ", ";
      names += sub->get_name();
    }
    if (!known) {
      std::fprintf(stderr, "labbook: error: unknown command '%s'; the commands are %s\n", argv[1],
                   names.c_str());
      return labbook::ExitCodeFor(labbook::ErrorCode::kInvalidArgument);
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version end here with code 0; every usage error exits like bad input.
    int code = app.exit(e);
    return code == 0 ? 0 : labbook::ExitCodeFor(labbook::ErrorCode::kInvalidArgument);
  }
  if (!action) return 0;

  labbook::Status status;
  try {
    status = action();
  } catch (const std::exception& e) {
    status = labbook::Internal(std::string("unexpected exception: ") + e.what());
  }
  labbook::report::ReleaseRenderingCaches();
  if (!status.ok()) {
    std::fflush(stdout);
    std::fprintf(stderr, "labbook: error: %s\n", status.message().c_str());
    return labbook::ExitCodeFor(status.code());
  }
  return 0;
}
