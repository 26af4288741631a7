// Ends the process's runs as crashed when SIGINT, SIGTERM or SIGHUP arrives, then lets the signal
// take its default action (the process ends as if labbook were not there).
//
// The handler itself only writes the signal's number to a pipe (async-signal-safe); a watcher
// thread reads it, calls EndAsCrashed on every registered target, restores the default action and
// raises the signal again. Handlers are installed when the first target registers, for each of
// the three signals whose action is still the default: a signal the program ignores (nohup) or
// handles itself is left alone. In a child created by fork() the handlers fall back to the
// default action until the child registers a target of its own (which starts a new watcher).
//
// Thread safety: Watch and Unwatch may be called from any thread. Unwatch waits while the watcher
// is ending that target, so after it returns the target may be destroyed.
#pragma once

namespace labbook::track {

class CrashSignalTarget {
 public:
  virtual ~CrashSignalTarget() = default;
  // Called on the watcher thread; must flush what it can and record the run as crashed.
  virtual void EndAsCrashed(int signal_number) = 0;
};

void WatchCrashSignals(CrashSignalTarget* target);
void UnwatchCrashSignals(CrashSignalTarget* target);

}  // namespace labbook::track
