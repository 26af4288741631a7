// MemoryRunStore against the RunStore conformance suite (tests/track_sqlite/store_conformance.hpp),
// so the SDK's tests run on a store that keeps the same contracts as the SQLite one.
#include "track/memory_store.hpp"

#include <gtest/gtest.h>

#include <map>
#include <mutex>

#include "failing_store.hpp"
#include "store_conformance.hpp"

namespace labbook::track {
namespace {

// The suite reopens a store by its directory and expects to see what was stored: each directory
// names one MemoryRunStore for the life of the test process, and each open returns a new handle to
// it.
std::shared_ptr<MemoryRunStore> StoreOf(const std::filesystem::path& dir) {
  static std::mutex mutex;
  static auto* stores = new std::map<std::filesystem::path, std::shared_ptr<MemoryRunStore>>;
  std::lock_guard lock(mutex);
  auto& store = (*stores)[dir];
  if (!store) store = std::make_shared<MemoryRunStore>("memory://" + dir.string());
  return store;
}

std::unique_ptr<RunStore> OpenInDirectory(const std::filesystem::path& dir) {
  return std::make_unique<FailingRunStore>(StoreOf(dir));
}

void CorruptBlob(const std::filesystem::path& dir, const std::string& sha256) {
  ASSERT_TRUE(StoreOf(dir)->CorruptBlob(sha256)) << sha256;
}

using conformance::StoreConformanceTest;

INSTANTIATE_TEST_SUITE_P(Memory, StoreConformanceTest,
                         ::testing::Values(conformance::StoreUnderTest{"memory", OpenInDirectory,
                                                                       CorruptBlob}),
                         conformance::StoreName);

}  // namespace
}  // namespace labbook::track
