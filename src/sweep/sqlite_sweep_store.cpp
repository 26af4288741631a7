// The sweep tables of the SQLite store (track/sqlite/migrations/0002_sweeps.sql). Every
// operation that reads and then writes runs in one BEGIN IMMEDIATE transaction, so agents in
// other processes on the same file see claims one after another.
#include <algorithm>
#include <cmath>
#include <mutex>
#include <random>

#include "core/clock.hpp"
#include "core/random_id.hpp"
#include "core/status_macros.hpp"
#include "sweep/sweep_store.hpp"
#include "track/sqlite/connection.hpp"
#include "track/sqlite/sqlite_store.hpp"

namespace labbook::sweep {
namespace {

using nlohmann::json;
using track::sqlite::Connection;
using track::sqlite::Statement;
using track::sqlite::Transaction;

constexpr int kBusyTimeoutMs = 30'000;
constexpr const char* kTrialColumns =
    "sweep_id, number, params, grid_index, state, agent, attempts, lease_until, run_id, "
    "claimed_time, ended_time, metric, reason";
constexpr const char* kSweepColumns =
    "id, entity, project, spec, base_name, base_config, state, created_time";

std::string SweepRef(const std::string& id) { return "sweep '" + id + "'"; }
std::string TrialRef(const std::string& id, int64_t number) {
  return "trial " + std::to_string(number) + " of sweep '" + id + "'";
}

class SqliteSweepStore final : public SweepStore {
 public:
  explicit SqliteSweepStore(std::unique_ptr<Connection> db) : db_(std::move(db)) {}

  std::string uri() const override { return "sqlite://" + db_->path(); }

  Result<SweepInfo> CreateSweep(const NewSweep& sweep) override {
    if (sweep.spec.method == Method::kGrid) {
      LABBOOK_RETURN_IF_ERROR(GridSize(sweep.spec).status());
    }
    std::lock_guard lock(mutex_);
    db_->set_action("create a sweep");
    SweepInfo info;
    info.entity = sweep.entity;
    info.project = sweep.project;
    info.spec = sweep.spec;
    if (info.spec.seed == 0) info.spec.seed = std::random_device{}() | 1u;
    info.base_name = sweep.base_name;
    info.base_config = sweep.base_config;
    info.created_time = UnixSeconds();
    for (int attempt = 0;; ++attempt) {
      info.id = RandomId();
      LABBOOK_ASSIGN_OR_RETURN(
          Statement stmt,
          db_->Prepare("INSERT OR IGNORE INTO sweeps (" + std::string(kSweepColumns) +
                       ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'running', ?7)"));
      stmt.BindText(1, info.id).BindText(2, info.entity).BindText(3, info.project);
      stmt.BindText(4, info.spec.ToJson().dump()).BindText(5, info.base_name);
      stmt.BindText(6, info.base_config).BindDouble(7, info.created_time);
      LABBOOK_RETURN_IF_ERROR(stmt.Run());
      if (sqlite3_changes(db_->handle()) == 1) break;
      if (attempt > 8) return Internal("cannot choose an unused sweep id");
    }
    return info;
  }

  Result<SweepInfo> GetSweep(const std::string& sweep_id) override {
    std::lock_guard lock(mutex_);
    db_->set_action("read " + SweepRef(sweep_id));
    return Find(sweep_id);
  }

  Result<std::vector<SweepInfo>> ListSweeps(const std::string& entity,
                                           const std::string& project) override {
    std::lock_guard lock(mutex_);
    db_->set_action("list sweeps");
    LABBOOK_ASSIGN_OR_RETURN(
        Statement stmt,
        db_->Prepare("SELECT " + std::string(kSweepColumns) +
                     " FROM sweeps WHERE (?1 = '' OR entity = ?1) AND (?2 = '' OR project = ?2) "
                     "ORDER BY created_time DESC, rowid DESC"));
    stmt.BindText(1, entity).BindText(2, project);
    std::vector<SweepInfo> out;
    for (;;) {
      LABBOOK_ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      LABBOOK_ASSIGN_OR_RETURN(SweepInfo info, SweepOf(stmt));
      out.push_back(std::move(info));
    }
    return out;
  }

  Status SetSweepState(const std::string& sweep_id, SweepState state) override {
    std::lock_guard lock(mutex_);
    db_->set_action("change the state of " + SweepRef(sweep_id));
    LABBOOK_ASSIGN_OR_RETURN(Transaction tx, Transaction::Write(*db_));
    LABBOOK_ASSIGN_OR_RETURN(SweepInfo sweep, Find(sweep_id));
    const bool allowed =
        sweep.state == state ||
        (state == SweepState::kPaused && sweep.state == SweepState::kRunning) ||
        (state == SweepState::kRunning && sweep.state == SweepState::kPaused) ||
        (state == SweepState::kStopped &&
         (sweep.state == SweepState::kRunning || sweep.state == SweepState::kPaused));
    if (!allowed) {
      return FailedPrecondition(SweepRef(sweep.id) + " is " +
                                std::string(SweepStateName(sweep.state)) + "; it cannot become " +
                                std::string(SweepStateName(state)));
    }
    LABBOOK_RETURN_IF_ERROR(WriteState(sweep.id, state));
    return tx.Commit();
  }

  Result<Claim> ClaimTrial(const std::string& sweep_id, const std::string& agent,
                           double lease_seconds) override {
    std::lock_guard lock(mutex_);
    db_->set_action("claim a trial of " + SweepRef(sweep_id));
    LABBOOK_ASSIGN_OR_RETURN(Transaction tx, Transaction::Write(*db_));
    LABBOOK_ASSIGN_OR_RETURN(SweepInfo sweep, Find(sweep_id));
    Claim claim;
    if (sweep.state == SweepState::kPaused) {
      claim.kind = Claim::Kind::kPaused;
      claim.why = SweepRef(sweep.id) + " is paused";
      return claim;
    }
    if (sweep.state != SweepState::kRunning) {
      claim.kind = Claim::Kind::kDone;
      claim.why = SweepRef(sweep.id) + " is " + std::string(SweepStateName(sweep.state));
      return claim;
    }
    LABBOOK_ASSIGN_OR_RETURN(std::vector<Trial> trials, Trials(sweep.id));
    const double now = UnixSeconds();
    int64_t running = 0;
    for (Trial& t : trials) {
      if (t.state != TrialState::kRunning) continue;
      ++running;
      if (t.lease_until >= now) continue;
      // Its agent stopped renewing: the trial starts over with the same parameters.
      LABBOOK_ASSIGN_OR_RETURN(
          Statement stmt,
          db_->Prepare("UPDATE sweep_trials SET agent = ?3, attempts = attempts + 1, "
                       "lease_until = ?4, run_id = '', claimed_time = ?5 "
                       "WHERE sweep_id = ?1 AND number = ?2"));
      stmt.BindText(1, sweep.id).BindInt(2, t.number).BindText(3, agent);
      stmt.BindDouble(4, now + lease_seconds).BindDouble(5, now);
      LABBOOK_RETURN_IF_ERROR(stmt.Run());
      LABBOOK_ASSIGN_OR_RETURN(Statement clear,
                               db_->Prepare("DELETE FROM sweep_progress WHERE sweep_id = ?1 AND "
                                            "number = ?2"));
      clear.BindText(1, sweep.id).BindInt(2, t.number);
      LABBOOK_RETURN_IF_ERROR(clear.Run());
      t.agent = agent;
      t.attempts += 1;
      t.lease_until = now + lease_seconds;
      t.run_id.clear();
      t.claimed_time = now;
      LABBOOK_RETURN_IF_ERROR(tx.Commit());
      claim.kind = Claim::Kind::kTrial;
      claim.trial = t;
      return claim;
    }
    const int64_t cap = sweep.spec.run_cap;
    std::optional<Suggestion> next;
    if (cap == 0 || static_cast<int64_t>(trials.size()) < cap) {
      // The generator depends on the sweep's seed and how many trials came before, so one
      // history gives one suggestion whichever agent asks.
      std::mt19937_64 rng(sweep.spec.seed * 0x9E3779B97F4A7C15ull + trials.size());
      const std::vector<TrialRecord> records = TrialRecords(trials);
      LABBOOK_ASSIGN_OR_RETURN(next, Suggest(sweep.spec, records, rng));
    }
    if (!next) {
      const std::string exhausted =
          cap > 0 && static_cast<int64_t>(trials.size()) >= cap
              ? "its run_cap of " + std::to_string(cap) + " trials is reached"
              : "every grid point has a trial";
      if (running > 0) {
        claim.kind = Claim::Kind::kWait;
        claim.why = SweepRef(sweep.id) + ": " + exhausted + "; " + std::to_string(running) +
                    " still running, any of which may come back";
        return claim;
      }
      LABBOOK_RETURN_IF_ERROR(WriteState(sweep.id, SweepState::kFinished));
      LABBOOK_RETURN_IF_ERROR(tx.Commit());
      claim.kind = Claim::Kind::kDone;
      claim.why = SweepRef(sweep.id) + " is finished: " + exhausted;
      return claim;
    }
    Trial t;
    t.sweep_id = sweep.id;
    t.number = trials.empty() ? 1 : trials.back().number + 1;
    t.params = next->params;
    t.grid_index = next->grid_index;
    t.agent = agent;
    t.lease_until = now + lease_seconds;
    t.claimed_time = now;
    LABBOOK_ASSIGN_OR_RETURN(
        Statement stmt,
        db_->Prepare("INSERT INTO sweep_trials (" + std::string(kTrialColumns) +
                     ") VALUES (?1, ?2, ?3, ?4, 'running', ?5, 1, ?6, '', ?7, NULL, NULL, '')"));
    stmt.BindText(1, t.sweep_id).BindInt(2, t.number).BindText(3, t.params.dump());
    if (t.grid_index) {
      stmt.BindInt(4, *t.grid_index);
    } else {
      stmt.BindNull(4);
    }
    stmt.BindText(5, agent).BindDouble(6, t.lease_until).BindDouble(7, now);
    LABBOOK_RETURN_IF_ERROR(stmt.Run());
    LABBOOK_RETURN_IF_ERROR(tx.Commit());
    claim.kind = Claim::Kind::kTrial;
    claim.trial = std::move(t);
    return claim;
  }

  Status RenewLease(const std::string& sweep_id, int64_t number, const std::string& agent,
                    double lease_seconds) override {
    std::lock_guard lock(mutex_);
    db_->set_action("renew the lease of " + TrialRef(sweep_id, number));
    LABBOOK_ASSIGN_OR_RETURN(
        Statement stmt,
        db_->Prepare("UPDATE sweep_trials SET lease_until = ?4 WHERE sweep_id = ?1 AND "
                     "number = ?2 AND agent = ?3 AND state = 'running'"));
    stmt.BindText(1, sweep_id).BindInt(2, number).BindText(3, agent);
    stmt.BindDouble(4, UnixSeconds() + lease_seconds);
    LABBOOK_RETURN_IF_ERROR(stmt.Run());
    if (sqlite3_changes(db_->handle()) == 1) return Status::Ok();
    return NotHeld(sweep_id, number, agent);
  }

  Status AttachRun(const std::string& sweep_id, int64_t number, const std::string& agent,
                   const std::string& run_id) override {
    std::lock_guard lock(mutex_);
    db_->set_action("record the run of " + TrialRef(sweep_id, number));
    LABBOOK_ASSIGN_OR_RETURN(
        Statement stmt,
        db_->Prepare("UPDATE sweep_trials SET run_id = ?4 WHERE sweep_id = ?1 AND number = ?2 "
                     "AND agent = ?3 AND state = 'running'"));
    stmt.BindText(1, sweep_id).BindInt(2, number).BindText(3, agent).BindText(4, run_id);
    LABBOOK_RETURN_IF_ERROR(stmt.Run());
    if (sqlite3_changes(db_->handle()) == 1) return Status::Ok();
    return NotHeld(sweep_id, number, agent);
  }

  Result<Progress> ReportProgress(const std::string& sweep_id, int64_t number,
                                  const std::string& agent, int64_t iteration,
                                  double value) override {
    std::lock_guard lock(mutex_);
    db_->set_action("report the progress of " + TrialRef(sweep_id, number));
    LABBOOK_ASSIGN_OR_RETURN(Transaction tx, Transaction::Write(*db_));
    LABBOOK_ASSIGN_OR_RETURN(SweepInfo sweep, Find(sweep_id));
    LABBOOK_ASSIGN_OR_RETURN(Trial trial, OneTrial(sweep.id, number));
    if (trial.agent != agent || trial.state != TrialState::kRunning) {
      return NotHeld(sweep.id, number, agent);
    }
    LABBOOK_ASSIGN_OR_RETURN(
        Statement insert,
        db_->Prepare("INSERT OR REPLACE INTO sweep_progress (sweep_id, number, iteration, value, "
                     "reported_time) VALUES (?1, ?2, ?3, ?4, ?5)"));
    insert.BindText(1, sweep.id).BindInt(2, number).BindInt(3, iteration);
    insert.BindDouble(4, value).BindDouble(5, UnixSeconds());
    LABBOOK_RETURN_IF_ERROR(insert.Run());
    Progress progress;
    if (sweep.spec.early_terminate) {
      const Hyperband& hb = *sweep.spec.early_terminate;
      const std::vector<int64_t> brackets = HyperbandBrackets(hb);
      if (std::find(brackets.begin(), brackets.end(), iteration) != brackets.end()) {
        LABBOOK_ASSIGN_OR_RETURN(
            Statement others,
            db_->Prepare("SELECT value FROM sweep_progress WHERE sweep_id = ?1 AND "
                         "iteration = ?2 AND number <> ?3"));
        others.BindText(1, sweep.id).BindInt(2, iteration).BindInt(3, number);
        std::vector<double> earlier;
        for (;;) {
          LABBOOK_ASSIGN_OR_RETURN(bool row, others.Step());
          if (!row) break;
          earlier.push_back(others.Double(0));
        }
        const BracketDecision d = JudgeAtBracket(sweep.spec.goal, hb.eta, value, earlier);
        if (d.stop) {
          progress.stop = true;
          char text[256];
          std::snprintf(text, sizeof text,
                        "hyperband: %s was %.6g after epoch %lld, rank %lld of %lld trials at "
                        "that bracket; the best %lld go on",
                        sweep.spec.metric.c_str(), value, static_cast<long long>(iteration),
                        static_cast<long long>(d.rank), static_cast<long long>(d.compared),
                        static_cast<long long>(d.kept));
          progress.reason = text;
        }
      }
    }
    LABBOOK_RETURN_IF_ERROR(tx.Commit());
    return progress;
  }

  Status CompleteTrial(const std::string& sweep_id, int64_t number, const std::string& agent,
                       TrialState state, std::optional<double> metric,
                       const std::string& reason) override {
    if (state == TrialState::kRunning) {
      return InvalidArgument("state: a trial ends finished, failed or stopped, not running");
    }
    std::lock_guard lock(mutex_);
    db_->set_action("end " + TrialRef(sweep_id, number));
    LABBOOK_ASSIGN_OR_RETURN(Transaction tx, Transaction::Write(*db_));
    LABBOOK_ASSIGN_OR_RETURN(SweepInfo sweep, Find(sweep_id));
    LABBOOK_ASSIGN_OR_RETURN(
        Statement stmt,
        db_->Prepare("UPDATE sweep_trials SET state = ?4, metric = ?5, reason = ?6, "
                     "ended_time = ?7 WHERE sweep_id = ?1 AND number = ?2 AND agent = ?3 AND "
                     "state = 'running'"));
    stmt.BindText(1, sweep.id).BindInt(2, number).BindText(3, agent);
    stmt.BindText(4, TrialStateName(state));
    if (metric && std::isfinite(*metric)) {
      stmt.BindDouble(5, *metric);
    } else {
      stmt.BindNull(5);
    }
    stmt.BindText(6, reason).BindDouble(7, UnixSeconds());
    LABBOOK_RETURN_IF_ERROR(stmt.Run());
    if (sqlite3_changes(db_->handle()) != 1) return NotHeld(sweep.id, number, agent);
    if (sweep.state == SweepState::kRunning) {
      LABBOOK_ASSIGN_OR_RETURN(std::vector<Trial> trials, Trials(sweep.id));
      const bool any_running = std::any_of(trials.begin(), trials.end(), [](const Trial& t) {
        return t.state == TrialState::kRunning;
      });
      bool exhausted = sweep.spec.run_cap > 0 &&
                       static_cast<int64_t>(trials.size()) >= sweep.spec.run_cap;
      if (sweep.spec.method == Method::kGrid) {
        LABBOOK_ASSIGN_OR_RETURN(int64_t size, GridSize(sweep.spec));
        exhausted = exhausted || static_cast<int64_t>(trials.size()) >= size;
      }
      if (exhausted && !any_running) {
        LABBOOK_RETURN_IF_ERROR(WriteState(sweep.id, SweepState::kFinished));
      }
    }
    return tx.Commit();
  }

  Result<std::vector<Trial>> ListTrials(const std::string& sweep_id) override {
    std::lock_guard lock(mutex_);
    db_->set_action("list the trials of " + SweepRef(sweep_id));
    LABBOOK_ASSIGN_OR_RETURN(Transaction tx, Transaction::Read(*db_));
    LABBOOK_ASSIGN_OR_RETURN(SweepInfo sweep, Find(sweep_id));
    return Trials(sweep.id);
  }

 private:
  Status NotHeld(const std::string& sweep_id, int64_t number, const std::string& agent) {
    Result<Trial> trial = OneTrial(sweep_id, number);
    if (!trial.ok()) return trial.status();
    if (trial->state != TrialState::kRunning) {
      return FailedPrecondition(TrialRef(sweep_id, number) + " is already " +
                                std::string(TrialStateName(trial->state)));
    }
    return FailedPrecondition(TrialRef(sweep_id, number) + " is no longer agent " + agent +
                              "'s: its lease expired and agent " + trial->agent + " took it");
  }

  Status WriteState(const std::string& id, SweepState state) {
    LABBOOK_ASSIGN_OR_RETURN(Statement stmt,
                             db_->Prepare("UPDATE sweeps SET state = ?2 WHERE id = ?1"));
    stmt.BindText(1, id).BindText(2, SweepStateName(state));
    return stmt.Run();
  }

  Result<SweepInfo> SweepOf(Statement& stmt) {
    SweepInfo info;
    info.id = stmt.Text(0);
    info.entity = stmt.Text(1);
    info.project = stmt.Text(2);
    Result<json> spec = ParseStored(stmt.Text(3), SweepRef(info.id) + " spec");
    if (!spec.ok()) return spec.status();
    LABBOOK_ASSIGN_OR_RETURN(info.spec, SweepSpecFromJson(*spec, SweepRef(info.id) + " spec"));
    info.base_name = stmt.Text(4);
    info.base_config = stmt.Text(5);
    LABBOOK_ASSIGN_OR_RETURN(info.state, ParseSweepState(stmt.Text(6)));
    info.created_time = stmt.Double(7);
    return info;
  }

  static Result<json> ParseStored(const std::string& text, const std::string& what) {
    json value = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (value.is_discarded()) return DataLoss(what + " in the store is not JSON");
    return value;
  }

  // By id or unique prefix.
  Result<SweepInfo> Find(const std::string& sweep_id) {
    if (sweep_id.empty()) return InvalidArgument("sweep id is empty");
    LABBOOK_ASSIGN_OR_RETURN(
        Statement stmt,
        db_->Prepare("SELECT " + std::string(kSweepColumns) +
                     " FROM sweeps WHERE id = ?1 OR substr(id, 1, length(?1)) = ?1 "
                     "ORDER BY id = ?1 DESC LIMIT 3"));
    stmt.BindText(1, sweep_id);
    std::vector<SweepInfo> found;
    for (;;) {
      LABBOOK_ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      LABBOOK_ASSIGN_OR_RETURN(SweepInfo info, SweepOf(stmt));
      if (info.id == sweep_id) return info;
      found.push_back(std::move(info));
    }
    if (found.empty()) return NotFound("no " + SweepRef(sweep_id) + " in " + uri());
    if (found.size() > 1) {
      return InvalidArgument("sweep id prefix '" + sweep_id + "' is ambiguous: " + found[0].id +
                             ", " + found[1].id + (found.size() > 2 ? ", ..." : ""));
    }
    return found.front();
  }

  Result<Trial> TrialOf(Statement& stmt) {
    Trial t;
    t.sweep_id = stmt.Text(0);
    t.number = stmt.Int(1);
    LABBOOK_ASSIGN_OR_RETURN(t.params, ParseStored(stmt.Text(2), TrialRef(t.sweep_id, t.number)));
    if (!stmt.IsNull(3)) t.grid_index = stmt.Int(3);
    LABBOOK_ASSIGN_OR_RETURN(t.state, ParseTrialState(stmt.Text(4)));
    t.agent = stmt.Text(5);
    t.attempts = stmt.Int(6);
    t.lease_until = stmt.Double(7);
    t.run_id = stmt.Text(8);
    t.claimed_time = stmt.Double(9);
    t.ended_time = stmt.IsNull(10) ? 0 : stmt.Double(10);
    if (!stmt.IsNull(11)) t.metric = stmt.Double(11);
    t.reason = stmt.Text(12);
    return t;
  }

  Result<std::vector<Trial>> Trials(const std::string& sweep_id) {
    LABBOOK_ASSIGN_OR_RETURN(Statement stmt,
                             db_->Prepare("SELECT " + std::string(kTrialColumns) +
                                          " FROM sweep_trials WHERE sweep_id = ?1 ORDER BY "
                                          "number"));
    stmt.BindText(1, sweep_id);
    std::vector<Trial> out;
    for (;;) {
      LABBOOK_ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      LABBOOK_ASSIGN_OR_RETURN(Trial t, TrialOf(stmt));
      out.push_back(std::move(t));
    }
    return out;
  }

  Result<Trial> OneTrial(const std::string& sweep_id, int64_t number) {
    LABBOOK_ASSIGN_OR_RETURN(Statement stmt,
                             db_->Prepare("SELECT " + std::string(kTrialColumns) +
                                          " FROM sweep_trials WHERE sweep_id = ?1 AND "
                                          "number = ?2"));
    stmt.BindText(1, sweep_id).BindInt(2, number);
    LABBOOK_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return NotFound("no " + TrialRef(sweep_id, number));
    return TrialOf(stmt);
  }

  std::mutex mutex_;
  std::unique_ptr<Connection> db_;
};

}  // namespace

Result<std::unique_ptr<SweepStore>> OpenSqliteSweepStore(const std::string& path) {
  // The run store creates the file and runs the migrations, the sweep tables' among them.
  LABBOOK_RETURN_IF_ERROR(track::sqlite::OpenSqliteRunStore(path).status());
  LABBOOK_ASSIGN_OR_RETURN(std::unique_ptr<Connection> db,
                           Connection::Open(path, /*read_only=*/false, kBusyTimeoutMs));
  LABBOOK_RETURN_IF_ERROR(db->Exec("PRAGMA foreign_keys = ON"));
  return std::unique_ptr<SweepStore>(new SqliteSweepStore(std::move(db)));
}

}  // namespace labbook::sweep
