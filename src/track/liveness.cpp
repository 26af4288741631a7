#include "track/liveness.hpp"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <limits>
#include <optional>
#include <string>

#include "track/proc_stats.hpp"

namespace labbook::track {

namespace {

// A process start time from /proc is accurate to about a second (btime is whole seconds) and the
// run's start_time is taken after its process started, so only a process that started this much
// later than the run can't be the run's.
constexpr double kStartTimeSlackS = 2.0;

// Whether /proc says `pid` is a zombie: it has exited and only waits for its parent to reap it.
// kill() still succeeds on a zombie, which must not keep its run "running".
bool IsZombie(pid_t pid) {
  std::optional<std::string> stat = ReadProcFile("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return false;
  const size_t name_end = stat->rfind(')');
  if (name_end == std::string::npos || name_end + 2 >= stat->size()) return false;
  return (*stat)[name_end + 2] == 'Z';
}

// Whether `pid` on this host still names the process that started the run at `run_start`.
bool SameProcessAlive(int64_t pid, double run_start) {
  if (pid <= 0 || pid > static_cast<int64_t>(std::numeric_limits<pid_t>::max())) return false;
  if (kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) return false;
  if (IsZombie(static_cast<pid_t>(pid))) return false;
  if (run_start <= 0) return true;
  auto process_start = ProcessStartTime(static_cast<pid_t>(pid));
  // Unreadable /proc (another user's process under hidepid): trust kill().
  if (!process_start) return true;
  return *process_start <= run_start + kStartTimeSlackS;
}

// The summary patch that gives a dead run the last value of each key it logged but whose summary
// lacks (system metrics excepted, as in the SDK's summary): the SDK writes the summary with its
// heartbeat, so a process killed before its first one (or between two) leaves points the
// summary does not show. Keys the summary has keep their value: it may have been set explicitly.
Result<nlohmann::json> SummaryFromHistory(RunStore& store, const RunInfo& run) {
  auto keys = store.HistoryKeys(run.id);
  if (!keys.ok()) return keys.status();
  nlohmann::json patch = nlohmann::json::object();
  for (const KeyInfo& key : *keys) {
    if (key.key.starts_with("system/") || run.summary.contains(key.key)) continue;
    if (key.count == 0 || !std::isfinite(key.last_value)) continue;  // JSON holds no NaN
    patch[key.key] = key.last_value;
  }
  return patch;
}

}  // namespace

std::string ThisHost() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

bool RunLooksDead(const RunInfo& run, double now, double stale_after_s) {
  if (run.state != RunState::kRunning) return false;
  // On its own host the process itself answers: a live one that is stopped or busy for longer
  // than the heartbeat allows is not dead.
  if (!run.host.empty() && run.host == ThisHost() && run.pid > 0) {
    return !SameProcessAlive(run.pid, run.start_time);
  }
  const double last_sign = run.heartbeat_time > 0 ? run.heartbeat_time : run.start_time;
  return last_sign > 0 && now - last_sign > stale_after_s;
}

Status ReconcileRunStates(RunStore& store, std::vector<RunInfo>& runs, double now) {
  Status first_error;
  int failures = 0;
  for (RunInfo& run : runs) {
    if (!RunLooksDead(run, now)) continue;
    // The last sign of life is the best estimate of when the run ended: its heartbeat, else its
    // start (a run whose process never sent a heartbeat).
    const double last_sign = run.heartbeat_time > 0 ? run.heartbeat_time : run.start_time;
    const double ended = last_sign > 0 ? last_sign : now;
    RunUpdate update;
    update.state = RunState::kCrashed;
    update.end_time = ended;
    Result<nlohmann::json> patch = SummaryFromHistory(store, run);
    if (patch.ok() && !patch->empty()) update.summary_patch = *patch;
    Status status = store.UpdateRun(run.id, update);
    if (!status.ok()) {
      if (failures++ == 0) first_error = status;
      continue;
    }
    run.state = RunState::kCrashed;
    run.end_time = ended;
    if (update.summary_patch) run.summary.update(*update.summary_patch);
  }
  if (failures == 0) return Status::Ok();
  return first_error.WithContext("could not mark " + std::to_string(failures) +
                                 " dead run(s) as crashed");
}

}  // namespace labbook::track
