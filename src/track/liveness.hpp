// Whether a run marked running is still alive. A process that died without ending its run (a
// SIGKILL, a crash, a power cut) leaves it "running" in the store; readers (the command line, the
// server) call ReconcileRunStates before showing runs, which ends such runs as crashed:
// - on the host that ran it: at once, when its pid no longer names the same process, or names a
//   zombie (and never while it names the live process, however old its heartbeat: a stopped or
//   busy process is not dead); a run with no heartbeat at all is judged the same way;
// - from other hosts: when its heartbeat is older than `stale_after_s`.
#pragma once

#include <string>
#include <vector>

#include "track/store.hpp"

namespace labbook::track {

// The heartbeat interval of the SDK and the age after which a silent run counts as crashed.
inline constexpr double kHeartbeatIntervalS = 5.0;
inline constexpr double kStaleAfterS = 30.0;

// This machine's host name, as the SDK records it in RunInfo::host.
std::string ThisHost();

// True when `run` is running but its process is gone (see above), at time `now` (Unix seconds).
bool RunLooksDead(const RunInfo& run, double now, double stale_after_s = kStaleAfterS);

// Ends every dead run in `runs` as crashed, in the store and in `runs`: end time its last
// heartbeat (else its start), and a summary completed from the history: each key it logged
// (system metrics excepted) that the summary lacks gets its last value, so a run killed before its
// first heartbeat still shows what it logged. Store errors are returned after trying every run (a
// read-only store leaves the runs as they are).
[[nodiscard]] Status ReconcileRunStates(RunStore& store, std::vector<RunInfo>& runs,
                                        double now);

}  // namespace labbook::track
