// Splitting a loop across threads the simple way: fn(t) for each of `threads` indices, the
// caller's thread taking index 0, all joined before return.
#pragma once

#include <thread>
#include <vector>

namespace labbook {

// Runs fn(t) for t in 0..threads-1, on threads-1 new threads and the caller's. fn must be safe
// to call concurrently with distinct t; threads <= 1 runs fn(0) alone.
template <typename Fn>
void RunOnThreads(int threads, Fn&& fn) {
  std::vector<std::thread> workers;
  if (threads > 1) workers.reserve(static_cast<size_t>(threads - 1));
  for (int t = 1; t < threads; ++t) workers.emplace_back(fn, t);
  fn(0);
  for (std::thread& w : workers) w.join();
}

}  // namespace labbook
