// Where a sweep and its trials are kept, so that agents in many processes and on many hosts share
// one queue: SQLite beside the runs (the same database file as the run store) or a team server
// (the REST routes of docs/api.md). One interface, two implementations, chosen by the store URI
// as the run store is.
//
// Claims are atomic: the next parameters are chosen and recorded in one transaction, so two
// agents never run the same grid point (the SQLite schema also has a unique index on it). A
// claimed trial carries a lease that its agent renews; a trial whose lease has passed (its agent
// died) is handed to the next agent that claims, with the same parameters. Every call may come
// from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "labbook/status.hpp"
#include "sweep/hyperband.hpp"
#include "sweep/search.hpp"
#include "sweep/spec.hpp"

namespace labbook::sweep {

enum class SweepState { kRunning, kPaused, kStopped, kFinished };
enum class TrialState { kRunning, kFinished, kFailed, kStopped };
std::string_view SweepStateName(SweepState state);  // "running", "paused", ...
std::string_view TrialStateName(TrialState state);
[[nodiscard]] Result<SweepState> ParseSweepState(std::string_view name);
[[nodiscard]] Result<TrialState> ParseTrialState(std::string_view name);

struct NewSweep {
  std::string entity;
  std::string project;
  SweepSpec spec;
  std::string base_name;    // the base training config's file name ("keras-cnn.yaml")
  std::string base_config;  // its text
};

struct SweepInfo {
  std::string id;
  std::string entity;
  std::string project;
  SweepSpec spec;
  std::string base_name;
  std::string base_config;
  SweepState state = SweepState::kRunning;
  double created_time = 0;
};

struct Trial {
  std::string sweep_id;
  int64_t number = 0;  // 1-based, in the order first claimed
  Params params;
  std::optional<int64_t> grid_index;
  TrialState state = TrialState::kRunning;
  std::string agent;
  int64_t attempts = 1;  // 2 and more: handed on after an agent's lease expired
  double lease_until = 0;
  std::string run_id;  // empty until its run starts
  double claimed_time = 0;
  double ended_time = 0;       // 0 while running
  std::optional<double> metric;
  std::string reason;  // why it failed or was stopped
};

// What a claim gets: a trial to run, or why there is none now.
struct Claim {
  enum class Kind {
    kTrial,   // run `trial`
    kWait,    // nothing free now, but running trials may yet come back (their leases): ask again
    kPaused,  // the sweep is paused: ask again later
    kDone,    // the sweep is stopped or finished, or its search is exhausted
  };
  Kind kind = Kind::kDone;
  std::optional<Trial> trial;
  std::string why;  // for kWait, kPaused, kDone: a sentence for the agent's log
};

// What the store answers a trial's report at the end of an iteration.
struct Progress {
  bool stop = false;
  std::string reason;  // when stopping: "hyperband: epoch 3 value 0.81 ranks 3 of 4, 2 go on"
};

class SweepStore {
 public:
  virtual ~SweepStore() = default;

  virtual std::string uri() const = 0;

  // A new sweep in state running. kInvalidArgument for a spec a search cannot run (a grid over
  // a continuous distribution), naming the parameter.
  virtual Result<SweepInfo> CreateSweep(const NewSweep& sweep) = 0;
  // By id or unique prefix. kNotFound naming it.
  virtual Result<SweepInfo> GetSweep(const std::string& sweep_id) = 0;
  // Newest first; empty entity/project: all.
  virtual Result<std::vector<SweepInfo>> ListSweeps(const std::string& entity,
                                                   const std::string& project) = 0;
  // running <-> paused; either -> stopped. kFailedPrecondition for other changes (a stopped or
  // finished sweep stays so).
  virtual Status SetSweepState(const std::string& sweep_id, SweepState state) = 0;

  // Claims the next trial for `agent`, holding it for `lease_seconds`. An expired trial is
  // handed on first; then the search's next suggestion, unless run_cap trials exist.
  virtual Result<Claim> ClaimTrial(const std::string& sweep_id, const std::string& agent,
                                   double lease_seconds) = 0;
  // Extends the lease of a trial `agent` holds. kFailedPrecondition when the trial is no longer
  // the agent's (its lease expired and another agent took it) or no longer running: the agent
  // must stop running it.
  virtual Status RenewLease(const std::string& sweep_id, int64_t number, const std::string& agent,
                            double lease_seconds) = 0;
  // Records the run a trial runs as (the trial's process calls this once its run exists).
  virtual Status AttachRun(const std::string& sweep_id, int64_t number, const std::string& agent,
                           const std::string& run_id) = 0;
  // The metric's value after `iteration` (an epoch, from 1). At a hyperband bracket the trial is
  // judged against the trials that reached the bracket before it; otherwise it goes on.
  virtual Result<Progress> ReportProgress(const std::string& sweep_id, int64_t number,
                                          const std::string& agent, int64_t iteration,
                                          double value) = 0;
  // Ends a trial (finished, failed or stopped) with its metric's final value. A grid whose every
  // point is done, or a sweep at its run_cap with nothing running, becomes finished.
  virtual Status CompleteTrial(const std::string& sweep_id, int64_t number,
                               const std::string& agent, TrialState state,
                               std::optional<double> metric, const std::string& reason) = 0;
  // Every trial of the sweep, by number.
  virtual Result<std::vector<Trial>> ListTrials(const std::string& sweep_id) = 0;
};

// The sweep store for a store URI: sqlite:// (or a plain path) opens the sweep tables of that
// database; http(s):// a team server with the key the CLI finds for it. kInvalidArgument for
// other schemes (memory:// has no sweeps).
[[nodiscard]] Result<std::unique_ptr<SweepStore>> OpenSweepStore(const std::string& uri);

// The SQLite sweep store on the database at `path` (migrated by the run store's migrations,
// which it runs when the file is new).
[[nodiscard]] Result<std::unique_ptr<SweepStore>> OpenSqliteSweepStore(const std::string& path);

// The best finished trial by the spec's goal, or none.
std::optional<Trial> BestTrial(const SweepSpec& spec, const std::vector<Trial>& trials);

// Trials as the search methods see them.
std::vector<TrialRecord> TrialRecords(const std::vector<Trial>& trials);

// Trials to and from the wire (the server's JSON).
nlohmann::json TrialToJson(const Trial& trial);
[[nodiscard]] Result<Trial> TrialFromJson(const nlohmann::json& json, const std::string& where);
nlohmann::json SweepToJson(const SweepInfo& sweep);
[[nodiscard]] Result<SweepInfo> SweepFromJson(const nlohmann::json& json, const std::string& where);

}  // namespace labbook::sweep
