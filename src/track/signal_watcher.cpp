#include "track/signal_watcher.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <mutex>
#include <thread>
#include <vector>

namespace labbook::track {

namespace {

constexpr int kCrashSignals[] = {SIGINT, SIGTERM, SIGHUP};

// Read by the handler: lock-free atomics only.
std::atomic<pid_t> g_watcher_pid{0};  // the process whose watcher thread reads the pipe
std::atomic<int> g_pipe_write{-1};
static_assert(std::atomic<pid_t>::is_always_lock_free && std::atomic<int>::is_always_lock_free);

struct Registry {
  std::mutex mutex;
  std::vector<CrashSignalTarget*> targets;
  int pipe_read = -1;
};

// Never destroyed: the watcher thread is detached and may still run during static destruction.
Registry& TheRegistry() {
  static Registry* registry = new Registry;
  return *registry;
}

void RestoreDefaultAction(int signal_number) {
  struct sigaction action = {};
  action.sa_handler = SIG_DFL;
  sigemptyset(&action.sa_mask);
  sigaction(signal_number, &action, nullptr);
}

extern "C" void OnCrashSignal(int signal_number) {
  const int saved_errno = errno;
  const int pipe_write = g_pipe_write.load(std::memory_order_relaxed);
  if (pipe_write < 0 || getpid() != g_watcher_pid.load(std::memory_order_relaxed)) {
    // No watcher in this process (a child after fork): behave as if never installed. The signal
    // stays blocked until the handler returns, then takes the default action.
    RestoreDefaultAction(signal_number);
    raise(signal_number);
  } else {
    const auto byte = static_cast<unsigned char>(signal_number);
    [[maybe_unused]] ssize_t written = write(pipe_write, &byte, 1);
  }
  errno = saved_errno;
}

void WatcherLoop(int pipe_read) {
  Registry& registry = TheRegistry();
  while (true) {
    unsigned char byte = 0;
    const ssize_t got = read(pipe_read, &byte, 1);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return;
    const int signal_number = byte;
    // The lock is kept until the process ends, so no run starts or finishes meanwhile.
    registry.mutex.lock();
    for (CrashSignalTarget* target : registry.targets) target->EndAsCrashed(signal_number);
    RestoreDefaultAction(signal_number);
    raise(signal_number);
    registry.mutex.unlock();  // only reached if the default action did not end the process
  }
}

void InstallHandlers() {
  for (int signal_number : kCrashSignals) {
    struct sigaction current = {};
    if (sigaction(signal_number, nullptr, &current) != 0) continue;
    const bool ours = !(current.sa_flags & SA_SIGINFO) && current.sa_handler == OnCrashSignal;
    const bool untouched = !(current.sa_flags & SA_SIGINFO) && current.sa_handler == SIG_DFL;
    if (ours || !untouched) continue;
    struct sigaction action = {};
    action.sa_handler = OnCrashSignal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    sigaction(signal_number, &action, nullptr);
  }
}

// Starts this process's watcher; registry mutex held.
void StartWatcherLocked(Registry& registry) {
  static std::once_flag at_fork_registered;
  std::call_once(at_fork_registered, [] {
    // fork() from another thread while the registry is locked would leave it locked forever in
    // the child.
    pthread_atfork([] { TheRegistry().mutex.lock(); }, [] { TheRegistry().mutex.unlock(); },
                   [] { TheRegistry().mutex.unlock(); });
  });
  // After fork the parent's targets and pipe are copies that no thread of this process serves.
  registry.targets.clear();
  if (registry.pipe_read >= 0) close(registry.pipe_read);
  if (const int old_write = g_pipe_write.exchange(-1); old_write >= 0) close(old_write);
  registry.pipe_read = -1;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return;  // runs still work; signals then act as before
  fcntl(fds[1], F_SETFL, fcntl(fds[1], F_GETFL) | O_NONBLOCK);
  registry.pipe_read = fds[0];
  std::thread(WatcherLoop, fds[0]).detach();
  g_pipe_write.store(fds[1]);
  g_watcher_pid.store(getpid());
  InstallHandlers();
}

}  // namespace

void WatchCrashSignals(CrashSignalTarget* target) {
  Registry& registry = TheRegistry();
  std::lock_guard lock(registry.mutex);
  if (g_watcher_pid.load() != getpid()) StartWatcherLocked(registry);
  registry.targets.push_back(target);
}

void UnwatchCrashSignals(CrashSignalTarget* target) {
  Registry& registry = TheRegistry();
  std::lock_guard lock(registry.mutex);
  std::erase(registry.targets, target);
}

}  // namespace labbook::track
