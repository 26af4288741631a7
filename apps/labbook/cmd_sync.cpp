// labbook sync: uploads runs of the offline store (recorded with --track offline, or spooled
// while the server could not be reached) to a server, idempotently (track/http/sync.hpp).
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "commands.hpp"
#include "core/status_macros.hpp"
#include "track/http/http_store.hpp"
#include "track/http/sync.hpp"
#include "track/liveness.hpp"
#include "track/run_start.hpp"
#include "track/store.hpp"

namespace labbook::cli {
namespace {

namespace http = track::http;

struct SyncOptions {
  std::vector<std::string> runs;
  std::string offline_store;
  std::string store;
};

struct Candidate {
  track::RunInfo run;
  std::optional<http::SyncLedger::Entry> entry;
};

Status Sync(const SyncOptions& options) {
  const std::string offline_uri =
      options.offline_store.empty() ? track::DefaultOfflineStoreUri() : options.offline_store;
  if (!options.store.empty() && !track::IsServerUri(options.store)) {
    return InvalidArgument("--store '" + options.store +
                           "': runs sync to a server, http://host:port or https://host:port");
  }
  if (std::optional<std::string> missing = track::MissingStoreFile(offline_uri)) {
    if (!options.runs.empty()) {
      return NotFound("offline store " + *missing +
                      " does not exist: no run was recorded offline here (--offline-store or "
                      "LABBOOK_OFFLINE_STORE names another)");
    }
    std::printf("nothing to sync: no offline store %s\n", missing->c_str());
    return Status::Ok();
  }
  LABBOOK_ASSIGN_OR_RETURN(std::unique_ptr<track::RunStore> offline, track::OpenStore(offline_uri));
  LABBOOK_ASSIGN_OR_RETURN(http::SyncLedger ledger, http::SyncLedger::ForStore(offline_uri));

  const double now = UnixSeconds();
  std::vector<track::RunInfo> runs;
  if (options.runs.empty()) {
    LABBOOK_ASSIGN_OR_RETURN(runs, offline->ListRuns({}));
  } else {
    for (const std::string& id : options.runs) {
      Result<track::RunInfo> run = offline->GetRun(id);
      if (!run.ok() && run.status().code() == ErrorCode::kNotFound) {
        return NotFound("run '" + id + "' not found in the offline store " + offline_uri);
      }
      if (!run.ok()) return run.status();
      runs.push_back(std::move(*run));
    }
  }
  // A run whose process died is synced as crashed, as `runs list` would show it.
  track::ReconcileRunStates(*offline, runs, now).IgnoreError();

  std::vector<Candidate> candidates;
  for (auto it = runs.rbegin(); it != runs.rend(); ++it) {  // oldest first
    LABBOOK_ASSIGN_OR_RETURN(std::optional<http::SyncLedger::Entry> entry, ledger.Get(it->id));
    const bool named = !options.runs.empty();
    if (!named && entry && entry->synced_time) continue;
    candidates.push_back({*it, entry});
  }
  if (candidates.empty()) {
    std::printf("nothing to sync in %s: every run is on its server\n", offline_uri.c_str());
    return Status::Ok();
  }

  const std::string default_server = [] {
    const std::string uri = track::DefaultStoreUri();
    return track::IsServerUri(uri) ? uri : std::string();
  }();
  std::map<std::string, std::unique_ptr<http::HttpRunStore>> servers;
  Status first_error;
  int failed = 0;
  for (const Candidate& candidate : candidates) {
    const track::RunInfo& run = candidate.run;
    std::string server = options.store;
    if (server.empty() && candidate.entry) server = candidate.entry->server;
    if (server.empty()) server = default_server;
    Status status;
    if (server.empty()) {
      status = InvalidArgument("run " + run.id +
                               ": no server to sync to; give --store http://host:port or set "
                               "LABBOOK_BASE_URL");
    } else {
      auto& remote = servers[server];
      if (!remote) {
        Result<std::unique_ptr<http::HttpRunStore>> opened = http::OpenHttpRunStore(server);
        if (opened.ok()) {
          remote = std::move(*opened);
        } else {
          status = opened.status();
        }
      }
      if (status.ok()) {
        Result<http::SyncReport> report = http::SyncRun(*offline, *remote, run.id);
        status = report.status();
        if (report.ok()) {
          std::printf("synced run %s (%s/%s, %s) to %s: %lld points, %d artifact%s%s\n",
                      run.id.c_str(), run.entity.c_str(), run.project.c_str(),
                      std::string(track::RunStateName(run.state)).c_str(), remote->uri().c_str(),
                      static_cast<long long>(report->points), report->artifacts,
                      report->artifacts == 1 ? "" : "s",
                      report->created ? "" : " (the run was there already)");
          for (const std::string& note : report->notes) std::printf("  note: %s\n", note.c_str());
          const bool spooled = candidate.entry && candidate.entry->spooled;
          if (spooled && report->finished) {
            // A spool only ever held part of a server run; the server has it whole now.
            status = offline->DeleteRun(run.id);
            if (status.ok()) status = ledger.Remove(run.id);
          } else if (report->finished) {
            status = ledger.Put(run.id, {remote->uri(), spooled, now});
          } else if (!candidate.entry) {
            status = ledger.Put(run.id, {remote->uri(), false, std::nullopt});
          }
        }
      }
    }
    if (!status.ok()) {
      ++failed;
      if (first_error.ok()) first_error = status.WithContext("run " + run.id);
    }
  }
  if (failed == 0) return Status::Ok();
  return Status(first_error.code(), std::to_string(failed) + " of " +
                                        std::to_string(candidates.size()) +
                                        " runs could not be synced; " + first_error.message());
}

}  // namespace

void AddSyncCommand(CLI::App& app, Action& action) {
  auto options = std::make_shared<SyncOptions>();
  CLI::App* sync = app.add_subcommand(
      "sync",
      "Upload runs recorded offline (--track offline, or while the server could not be reached) "
      "to the server. Without RUN: every run not uploaded yet. Safe to repeat: nothing is "
      "uploaded twice.");
  sync->add_option("runs", options->runs, "Run ids (or unique prefixes) in the offline store");
  sync->add_option("--offline-store", options->offline_store,
                   "The offline store (default: LABBOOK_OFFLINE_STORE or .labbook/offline.db)");
  sync->add_option("--store", options->store,
                   "The server, http(s)://host:port (default: the server a spooled run came "
                   "from, else LABBOOK_BASE_URL)");
  sync->callback([options, &action] { action = [options] { return Sync(*options); }; });
}

}  // namespace labbook::cli
