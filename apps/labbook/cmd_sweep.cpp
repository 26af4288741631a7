// `labbook sweep create|list|show|pause|resume|stop` and `labbook agent`: hyperparameter sweeps
// (docs/sweeps.md). A sweep lives in the store beside the runs (or on the team server); an agent
// claims a trial, runs `labbook train` on the sweep's base config with the trial's parameters as
// --set overrides in a child process, renews the trial's lease while it runs, and claims the next.
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "commands.hpp"
#include "core/clock.hpp"
#include "core/status_macros.hpp"
#include "output.hpp"
#include "report/text_table.hpp"
#include "sweep/importance.hpp"
#include "sweep/sweep_store.hpp"
#include "track/store.hpp"
#include "train/train_config.hpp"

namespace labbook::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using sweep::SweepInfo;
using sweep::Trial;

// The per-epoch keys hyperband can judge (what train_tracking.cpp logs every epoch).
constexpr const char* kEpochMetrics[] = {"epoch/loss", "epoch/accuracy", "epoch/val_loss",
                                         "epoch/val_accuracy"};

std::string StoreUri(const std::string& store) {
  return store.empty() ? track::DefaultStoreUri() : store;
}

// The entity of a new sweep, as `labbook train` chooses its runs' (LABBOOK_ENTITY, else the
// login name); empty for a server, which takes the key's user.
std::string DefaultEntity(const std::string& uri) {
  if (const char* env = std::getenv("LABBOOK_ENTITY"); env != nullptr && *env != '\0') return env;
  if (track::IsServerUri(uri)) return "";
  struct passwd entry;
  struct passwd* found = nullptr;
  char buffer[4096];
  if (getpwuid_r(geteuid(), &entry, buffer, sizeof buffer, &found) == 0 && found != nullptr &&
      found->pw_name != nullptr && found->pw_name[0] != '\0') {
    return found->pw_name;
  }
  return "local";
}

std::string Value(const json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_number_float()) {
    char text[32];
    std::snprintf(text, sizeof text, "%.6g", value.get<double>());
    return text;
  }
  return value.dump();
}

std::string Metric(const std::optional<double>& metric) {
  if (!metric) return "";
  char text[32];
  std::snprintf(text, sizeof text, "%.6g", *metric);
  return text;
}

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound(path + ": cannot read the file");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// ---- sweep create

struct CreateOptions {
  std::string sweep_file;
  std::string config;
  std::string project;
  std::string entity;
  std::string store;
};

Status RunCreate(const CreateOptions& options) {
  LABBOOK_ASSIGN_OR_RETURN(sweep::SweepSpec spec, sweep::LoadSweepFile(options.sweep_file));
  if (spec.early_terminate) {
    const bool per_epoch = std::any_of(std::begin(kEpochMetrics), std::end(kEpochMetrics),
                                       [&](const char* key) { return spec.metric == key; });
    if (!per_epoch) {
      return InvalidArgument(options.sweep_file + ": metric.name: early_terminate judges trials " +
                             "by a metric logged every epoch (epoch/val_accuracy, " +
                             "epoch/val_loss, epoch/accuracy, epoch/loss), not '" + spec.metric +
                             "'");
    }
  }
  // The base config must load, and so must it with a trial's parameters: a parameter that names
  // no field of the training config is an error now, not in every trial.
  LABBOOK_RETURN_IF_ERROR(train::LoadTrainConfig(options.config, {}).status());
  std::mt19937_64 rng(1);
  const std::vector<std::string> overrides = sweep::Overrides(sweep::SampleParams(spec, rng));
  Status with_parameters = train::LoadTrainConfig(options.config, overrides).status();
  if (!with_parameters.ok()) {
    return with_parameters.WithContext(options.sweep_file +
                                       ": parameters: the base config does not take them");
  }
  sweep::NewSweep created;
  created.spec = spec;
  const std::string uri = StoreUri(options.store);
  created.entity = options.entity.empty() ? DefaultEntity(uri) : options.entity;
  created.project = !options.project.empty() ? options.project
                    : !spec.project.empty()  ? spec.project
                                             : FileStem(options.config);
  created.base_name = fs::path(options.config).filename().string();
  LABBOOK_ASSIGN_OR_RETURN(created.base_config, ReadFile(options.config));
  LABBOOK_ASSIGN_OR_RETURN(std::unique_ptr<sweep::SweepStore> store, sweep::OpenSweepStore(uri));
  LABBOOK_ASSIGN_OR_RETURN(SweepInfo info, store->CreateSweep(created));
  for (const std::string& key : spec.ignored) {
    std::fprintf(stderr,
                 "labbook: note: %s: '%s' is ignored; trials run `labbook train` on --config\n",
                 options.sweep_file.c_str(), key.c_str());
  }
  std::printf("%s\n", info.id.c_str());
  std::fflush(stdout);
  const std::string store_flag = options.store.empty() ? "" : " --store " + options.store;
  std::fprintf(stderr, "created sweep %s in %s/%s; run trials with: labbook agent %s%s\n",
               info.id.c_str(), info.entity.c_str(), info.project.c_str(), info.id.c_str(),
               store_flag.c_str());
  return Status::Ok();
}

// ---- sweep list, show, pause, resume, stop

struct SweepRef {
  std::string id;
  std::string store;
  std::string project;
  bool json = false;
};

Status RunList(const SweepRef& options) {
  LABBOOK_ASSIGN_OR_RETURN(std::unique_ptr<sweep::SweepStore> store,
                           sweep::OpenSweepStore(StoreUri(options.store)));
  LABBOOK_ASSIGN_OR_RETURN(std::vector<SweepInfo> sweeps, store->ListSweeps("", options.project));
  if (options.json) {
    json list = json::array();
    for (const SweepInfo& s : sweeps) list.push_back(sweep::SweepToJson(s));
    PrintJson(list);
    return Status::Ok();
  }
  using report::Align;
  report::TextTable table({{"id", Align::kLeft},
                           {"project", Align::kLeft},
                           {"name", Align::kLeft},
                           {"method", Align::kLeft},
                           {"metric", Align::kLeft},
                           {"state", Align::kLeft},
                           {"created", Align::kLeft}});
  const double now = UnixSeconds();
  for (const SweepInfo& s : sweeps) {
    const json spec = s.spec.ToJson();
    LABBOOK_RETURN_IF_ERROR(table.AddRow(
        {s.id, s.entity + "/" + s.project, s.spec.name, spec["method"].get<std::string>(),
         s.spec.metric.empty() ? "" : s.spec.metric + (s.spec.goal == sweep::Goal::kMaximize ? " (max)" : " (min)"),
         std::string(sweep::SweepStateName(s.state)), FormatAge(s.created_time, now)}));
  }
  if (sweeps.empty()) {
    std::printf("no sweeps\n");
  } else {
    std::fputs(table.Render(report::StdoutWantsColour()).c_str(), stdout);
  }
  return Status::Ok();
}

Status RunShow(const SweepRef& options) {
  LABBOOK_ASSIGN_OR_RETURN(std::unique_ptr<sweep::SweepStore> store,
                           sweep::OpenSweepStore(StoreUri(options.store)));
  LABBOOK_ASSIGN_OR_RETURN(SweepInfo s, store->GetSweep(options.id));
  LABBOOK_ASSIGN_OR_RETURN(std::vector<Trial> trials, store->ListTrials(s.id));
  const std::optional<Trial> best = sweep::BestTrial(s.spec, trials);
  const std::vector<sweep::TrialRecord> records = sweep::TrialRecords(trials);
  const std::vector<sweep::ParameterImportance> importance = sweep::Importance(s.spec, records);
  if (options.json) {
    json out = sweep::SweepToJson(s);
    out.erase("base_config");
    json list = json::array();
    for (const Trial& t : trials) list.push_back(sweep::TrialToJson(t));
    out["trials"] = std::move(list);
    out["best"] = best ? sweep::TrialToJson(*best) : json(nullptr);
    json imp = json::array();
    for (const auto& p : importance) {
      imp.push_back({{"parameter", p.path},
                     {"importance", p.importance},
                     {"correlation", JsonNumber(p.correlation)}});
    }
    out["importance"] = std::move(imp);
    PrintJson(out);
    return Status::Ok();
  }
  const json spec = s.spec.ToJson();
  std::printf("sweep:   %s%s (%s/%s), %s\n", s.id.c_str(),
              s.spec.name.empty() ? "" : (" " + s.spec.name).c_str(), s.entity.c_str(),
              s.project.c_str(), std::string(sweep::SweepStateName(s.state)).c_str());
  std::printf("method:  %s over %zu parameter%s of %s", spec["method"].get<std::string>().c_str(),
              s.spec.parameters.size(), s.spec.parameters.size() == 1 ? "" : "s",
              s.base_name.c_str());
  if (!s.spec.metric.empty()) {
    std::printf("; %s %s", s.spec.goal == sweep::Goal::kMaximize ? "maximize" : "minimize",
                s.spec.metric.c_str());
  }
  if (s.spec.early_terminate) {
    std::printf("; hyperband at epochs");
    for (int64_t b : sweep::HyperbandBrackets(*s.spec.early_terminate)) {
      std::printf(" %lld", static_cast<long long>(b));
    }
  }
  if (s.spec.run_cap > 0) std::printf("; at most %lld trials", static_cast<long long>(s.spec.run_cap));
  std::printf("\n\n");

  using report::Align;
  std::vector<report::TextTable::Column> columns = {{"trial", Align::kRight},
                                                    {"state", Align::kLeft},
                                                    {"run", Align::kLeft}};
  for (const sweep::Parameter& p : s.spec.parameters) {
    if (p.distribution == sweep::Distribution::kConstant) continue;
    columns.push_back({p.path, Align::kAuto});
  }
  columns.push_back({s.spec.metric.empty() ? "metric" : s.spec.metric, Align::kRight});
  columns.push_back({"note", Align::kLeft});
  report::TextTable table(columns);
  table.SetTitle(std::to_string(trials.size()) + " trial" + (trials.size() == 1 ? "" : "s"));
  for (size_t i = 0; i < trials.size(); ++i) {
    const Trial& t = trials[i];
    std::vector<std::string> row = {std::to_string(t.number),
                                    std::string(sweep::TrialStateName(t.state)), t.run_id};
    for (const sweep::Parameter& p : s.spec.parameters) {
      if (p.distribution == sweep::Distribution::kConstant) continue;
      row.push_back(t.params.contains(p.path) ? Value(t.params[p.path]) : "");
    }
    row.push_back(Metric(t.metric));
    std::string note = t.reason;
    if (t.attempts > 1) {
      note = "attempt " + std::to_string(t.attempts) + (note.empty() ? "" : "; " + note);
    }
    row.push_back(note);
    LABBOOK_RETURN_IF_ERROR(table.AddRow(std::move(row)));
    if (best && best->number == t.number) {
      LABBOOK_RETURN_IF_ERROR(table.Highlight(i, columns.size() - 2));
    }
  }
  const bool colour = report::StdoutWantsColour();
  if (trials.empty()) {
    std::printf("no trials yet: labbook agent %s\n", s.id.c_str());
  } else {
    std::fputs(table.Render(colour).c_str(), stdout);
  }
  if (best) {
    std::printf("\nbest so far: trial %lld, %s = %s (run %s)\n",
                static_cast<long long>(best->number), s.spec.metric.c_str(),
                Metric(best->metric).c_str(), best->run_id.c_str());
    for (const auto& [path, value] : best->params.items()) {
      std::printf("  --set %s=%s\n", path.c_str(), value.dump().c_str());
    }
  }
  const auto measured = std::count_if(records.begin(), records.end(),
                                      [](const sweep::TrialRecord& r) { return r.metric; });
  if (!importance.empty() && measured < 3) {
    std::printf("\nparameter importance: after 3 trials with a metric (%lld so far)\n",
                static_cast<long long>(measured));
  } else if (!importance.empty()) {
    report::TextTable imp({{"parameter", Align::kLeft},
                           {"importance", Align::kRight},
                           {"correlation", Align::kRight}});
    imp.SetTitle("Parameter importance (share of the metric's variance; docs/sweeps.md)");
    for (const auto& p : importance) {
      char a[32];
      char b[32];
      std::snprintf(a, sizeof a, "%.3f", p.importance);
      std::snprintf(b, sizeof b, "%+.3f", p.correlation);
      LABBOOK_RETURN_IF_ERROR(imp.AddRow({p.path, a, std::isnan(p.correlation) ? "" : b}));
    }
    std::printf("\n");
    std::fputs(imp.Render(colour).c_str(), stdout);
  }
  return Status::Ok();
}

Status RunSetState(const SweepRef& options, sweep::SweepState state) {
  LABBOOK_ASSIGN_OR_RETURN(std::unique_ptr<sweep::SweepStore> store,
                           sweep::OpenSweepStore(StoreUri(options.store)));
  LABBOOK_ASSIGN_OR_RETURN(SweepInfo s, store->GetSweep(options.id));
  LABBOOK_RETURN_IF_ERROR(store->SetSweepState(s.id, state));
  std::printf("sweep %s is %s\n", s.id.c_str(), std::string(sweep::SweepStateName(state)).c_str());
  return Status::Ok();
}

// ---- agent

struct AgentOptions {
  std::string sweep;
  int count = 0;
  std::string store;
  double lease = 60;
  double poll = 5;
};

std::atomic<int> stop_signal{0};

void OnStopSignal(int signal) { stop_signal = signal; }

// Sleeps up to `seconds`, waking early on SIGINT or SIGTERM.
void Pause(double seconds) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (stop_signal == 0 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

std::string AgentName() {
  char host[256] = "host";
  gethostname(host, sizeof host - 1);
  std::random_device random;
  char suffix[8];
  std::snprintf(suffix, sizeof suffix, "%04x", random() & 0xffff);
  return std::string(host) + "-" + std::to_string(getpid()) + "-" + suffix;
}

std::string DescribeExit(int status) {
  if (WIFEXITED(status)) return "exited with code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "was killed by signal " + std::to_string(WTERMSIG(status));
  return "ended";
}

// Runs `labbook train` for the trial in a child process that dies with the agent, renewing the
// lease while it runs. Returns the child's wait status.
Result<int> RunTrialProcess(const std::vector<std::string>& args, const std::string& entity,
                            sweep::SweepStore& store, const Trial& trial, const AgentOptions& options,
                            const std::string& agent) {
  const pid_t parent = getpid();
  const pid_t child = fork();
  if (child < 0) return Internal("cannot start labbook train: fork failed");
  if (child == 0) {
    // The trial must not outlive a killed agent: its lease would expire and a second copy run.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    setenv("LABBOOK_ENTITY", entity.c_str(), 1);
    std::vector<char*> argv;
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    std::fprintf(stderr, "labbook agent: cannot run %s\n", argv[0]);
    _exit(127);
  }
  auto last_renewal = std::chrono::steady_clock::now();
  bool forwarded = false;
  for (;;) {
    int status = 0;
    const pid_t done = waitpid(child, &status, WNOHANG);
    if (done == child) return status;
    if (stop_signal != 0 && !forwarded) {
      kill(child, SIGTERM);
      forwarded = true;
    }
    const auto now = std::chrono::steady_clock::now();
    if (now - last_renewal > std::chrono::duration<double>(options.lease / 3)) {
      last_renewal = now;
      Status renewed = store.RenewLease(trial.sweep_id, trial.number, agent, options.lease);
      if (renewed.code() == ErrorCode::kFailedPrecondition) {
        // Another agent holds the trial now, or it has ended: this copy must not go on.
        std::fprintf(stderr, "labbook agent: %s; stopping this copy\n",
                     renewed.message().c_str());
        kill(child, SIGTERM);
      } else if (!renewed.ok()) {
        std::fprintf(stderr, "labbook agent: warning: %s\n", renewed.ToString().c_str());
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

Status RunAgent(const AgentOptions& options) {
  if (options.count < 0) return InvalidArgument("--count: expected 0 (no limit) or more");
  if (!(options.lease >= 3)) return InvalidArgument("--lease: expected at least 3 seconds");
  const std::string uri = StoreUri(options.store);
  LABBOOK_ASSIGN_OR_RETURN(std::unique_ptr<sweep::SweepStore> store, sweep::OpenSweepStore(uri));
  LABBOOK_ASSIGN_OR_RETURN(SweepInfo s, store->GetSweep(options.sweep));
  const std::string agent = AgentName();

  char self[4096];
  const ssize_t length = readlink("/proc/self/exe", self, sizeof self - 1);
  if (length <= 0) return Internal("cannot find the labbook binary (/proc/self/exe)");
  self[length] = '\0';

  std::string scratch = (fs::temp_directory_path() / "labbook-agent-XXXXXX").string();
  if (mkdtemp(scratch.data()) == nullptr) {
    return Internal("cannot create a scratch directory in " +
                    fs::temp_directory_path().string());
  }
  const std::string config = (fs::path(scratch) / s.base_name).string();
  LABBOOK_RETURN_IF_ERROR(WriteTextFile(config, s.base_config));

  struct sigaction action {};
  action.sa_handler = OnStopSignal;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);

  std::printf("agent %s on sweep %s (%s/%s) in %s\n", agent.c_str(), s.id.c_str(),
              s.entity.c_str(), s.project.c_str(), store->uri().c_str());
  std::fflush(stdout);
  Status result;
  int ran = 0;
  std::string last_wait;
  while ((options.count == 0 || ran < options.count) && stop_signal == 0) {
    Result<sweep::Claim> claim = store->ClaimTrial(s.id, agent, options.lease);
    if (!claim.ok()) {
      result = claim.status();
      break;
    }
    if (claim->kind == sweep::Claim::Kind::kDone) {
      std::printf("agent %s: %s\n", agent.c_str(), claim->why.c_str());
      break;
    }
    if (claim->kind != sweep::Claim::Kind::kTrial) {
      if (claim->why != last_wait) {
        std::printf("agent %s: %s; asking again every %gs\n", agent.c_str(), claim->why.c_str(),
                    options.poll);
        std::fflush(stdout);
        last_wait = claim->why;
      }
      Pause(options.poll);
      continue;
    }
    last_wait.clear();
    const Trial& trial = *claim->trial;
    std::vector<std::string> args = {self, "train", config};
    for (const std::string& o : sweep::Overrides(trial.params)) {
      args.push_back("--set");
      args.push_back(o);
    }
    const std::string model = "labbook-out/sweeps/" + s.id + "/trial-" +
                              std::to_string(trial.number) + ".lbm";
    args.insert(args.end(), {"--project", s.project, "--store", uri, "--name",
                             s.id + "-" + std::to_string(trial.number), "--group", "sweep-" + s.id,
                             "--tag", "sweep", "--model-out", model, "--sweep-trial",
                             s.id + "/" + std::to_string(trial.number) + "/" + agent});
    std::printf("agent %s: trial %lld%s:", agent.c_str(), static_cast<long long>(trial.number),
                trial.attempts > 1 ? (" (attempt " + std::to_string(trial.attempts) + ")").c_str()
                                   : "");
    for (const std::string& o : sweep::Overrides(trial.params)) std::printf(" --set %s", o.c_str());
    std::printf("\n");
    std::fflush(stdout);
    LABBOOK_ASSIGN_OR_RETURN(int status,
                             RunTrialProcess(args, s.entity, *store, trial, options, agent));
    ++ran;
    if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
      // The trial's process did not end the trial itself: it failed, or was killed.
      Status failed = store->CompleteTrial(s.id, trial.number, agent, sweep::TrialState::kFailed,
                                           std::nullopt, "labbook train " + DescribeExit(status));
      if (!failed.ok() && failed.code() != ErrorCode::kFailedPrecondition) {
        std::fprintf(stderr, "labbook agent: warning: %s\n", failed.ToString().c_str());
      }
    }
    std::printf("agent %s: trial %lld: labbook train %s\n", agent.c_str(),
                static_cast<long long>(trial.number), DescribeExit(status).c_str());
    std::fflush(stdout);
  }
  std::error_code ignored;
  fs::remove_all(scratch, ignored);
  if (stop_signal != 0 && result.ok()) {
    std::printf("agent %s: stopped by signal %d after %d trial%s\n", agent.c_str(),
                stop_signal.load(), ran, ran == 1 ? "" : "s");
  }
  return result;
}

}  // namespace

void AddSweepCommand(CLI::App& app, Action& action) {
  CLI::App* sweep = app.add_subcommand(
      "sweep", "Hyperparameter sweeps: create one from a W&B-style sweep file, show its trials, "
               "pause, resume or stop it (docs/sweeps.md)");
  sweep->require_subcommand(1);

  auto create = std::make_shared<CreateOptions>();
  CLI::App* c = sweep->add_subcommand("create", "Register a sweep and print its id");
  c->add_option("sweep", create->sweep_file, "Sweep file, e.g. examples/sweep.yaml")->required();
  c->add_option("--config", create->config, "The base training config every trial starts from")
      ->required();
  c->add_option("--project", create->project,
                "Project of the trials' runs (default: the sweep file's project, else the "
                "config's file name)");
  c->add_option("--entity", create->entity, "Entity (default: LABBOOK_ENTITY, else you)");
  c->add_option("--store", create->store,
                "Store URI (default: LABBOOK_STORE, else LABBOOK_BASE_URL, else "
                "sqlite://.labbook/labbook.db)");
  c->callback([create, &action] { action = [create] { return RunCreate(*create); }; });

  auto list = std::make_shared<SweepRef>();
  CLI::App* l = sweep->add_subcommand("list", "List the sweeps, newest first");
  l->add_option("--project", list->project, "Only this project's");
  l->add_option("--store", list->store, "Store URI");
  l->add_flag("--json", list->json, "Print JSON");
  l->callback([list, &action] { action = [list] { return RunList(*list); }; });

  auto show = std::make_shared<SweepRef>();
  CLI::App* sh = sweep->add_subcommand(
      "show", "The sweep's trials, the best so far and each parameter's importance");
  sh->add_option("sweep", show->id, "Sweep id (or a unique prefix)")->required();
  sh->add_option("--store", show->store, "Store URI");
  sh->add_flag("--json", show->json, "Print JSON");
  sh->callback([show, &action] { action = [show] { return RunShow(*show); }; });

  const std::pair<const char*, sweep::SweepState> changes[] = {
      {"pause", sweep::SweepState::kPaused},
      {"resume", sweep::SweepState::kRunning},
      {"stop", sweep::SweepState::kStopped}};
  const char* helps[] = {"Pause: agents finish their trials and wait",
                         "Resume a paused sweep",
                         "Stop for good: agents finish their trials and exit"};
  for (size_t i = 0; i < 3; ++i) {
    auto ref = std::make_shared<SweepRef>();
    CLI::App* sub = sweep->add_subcommand(changes[i].first, helps[i]);
    sub->add_option("sweep", ref->id, "Sweep id (or a unique prefix)")->required();
    sub->add_option("--store", ref->store, "Store URI");
    const sweep::SweepState state = changes[i].second;
    sub->callback([ref, state, &action] {
      action = [ref, state] { return RunSetState(*ref, state); };
    });
  }
}

void AddAgentCommand(CLI::App& app, Action& action) {
  auto options = std::make_shared<AgentOptions>();
  CLI::App* cmd = app.add_subcommand(
      "agent", "Run a sweep's trials one after another until it is done (docs/sweeps.md)");
  cmd->add_option("sweep", options->sweep, "Sweep id (or a unique prefix)")->required();
  cmd->add_option("--count", options->count, "Run at most this many trials (default: no limit)");
  cmd->add_option("--store", options->store,
                  "Store URI or server (default: LABBOOK_STORE, else LABBOOK_BASE_URL, else "
                  "sqlite://.labbook/labbook.db)");
  cmd->add_option("--lease", options->lease,
                  "Seconds a trial stays this agent's without a renewal (renewed every third; "
                  "default 60): after a crash, the trial goes back to the queue this long after")
      ->capture_default_str();
  cmd->add_option("--poll", options->poll,
                  "Seconds between claims while nothing is free (default 5)");
  cmd->callback([options, &action] { action = [options] { return RunAgent(*options); }; });
}

}  // namespace labbook::cli
