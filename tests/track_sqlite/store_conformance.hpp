// The RunStore conformance suite: every contract of track/store.hpp, run against any
// implementation (SQLite here; the server's HTTP client and PostgreSQL instantiate it too). It
// uses nothing but the RunStore interface and the files it hands the store. A store's test file
// links labbook_store_conformance and instantiates the suite:
//
//   INSTANTIATE_TEST_SUITE_P(Sqlite, StoreConformanceTest,
//                            ::testing::Values(StoreUnderTest{"sqlite", open, corrupt_blob}),
//                            StoreName);
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "core/status_macros.hpp"
#include "track/store.hpp"

namespace labbook::track::conformance {

inline ::testing::AssertionResult IsOk(const Status& status) {
  if (status.ok()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << status.ToString();
}
template <typename T>
::testing::AssertionResult IsOk(const Result<T>& result) {
  return IsOk(result.status());
}
template <typename T>
ErrorCode CodeOf(const Result<T>& result) {
  return result.status().code();
}
inline ErrorCode CodeOf(const Status& status) { return status.code(); }

#define ASSERT_OK(expr) ASSERT_TRUE(::labbook::track::conformance::IsOk(expr))
#define EXPECT_OK(expr) EXPECT_TRUE(::labbook::track::conformance::IsOk(expr))
// `ASSERT_OK_AND_ASSIGN(auto x, ResultExpr())`: binds the value or fails the test.
#define ASSERT_OK_AND_ASSIGN(lhs, rexpr) \
  ASSERT_OK_AND_ASSIGN_IMPL(LABBOOK_CONCAT(test_result_, __LINE__), lhs, rexpr)
#define ASSERT_OK_AND_ASSIGN_IMPL(tmp, lhs, rexpr)       \
  auto tmp = (rexpr);                                    \
  ASSERT_TRUE(::labbook::track::conformance::IsOk(tmp)); \
  lhs = std::move(tmp).value()

struct StoreUnderTest {
  std::string name;  // [A-Za-z0-9_]+, names the instantiation
  // Opens the store kept in `dir` (empty on the first call). Opening the same directory again
  // must show what was stored before. Returns null on failure (the test then fails).
  std::function<std::unique_ptr<RunStore>(const std::filesystem::path& dir)> open;
  // Changes the stored bytes of the artifact file content with this sha256, keeping its size, as
  // a failing disk would. Null when the store offers no way: the tests that need it are skipped.
  std::function<void(const std::filesystem::path& dir, const std::string& sha256)> corrupt_blob;
};

std::string StoreName(const ::testing::TestParamInfo<StoreUnderTest>& info);
void PrintTo(const StoreUnderTest& store, std::ostream* out);

// A fresh directory per test, removed afterwards, and the store opened in it.
class StoreConformanceTest : public ::testing::TestWithParam<StoreUnderTest> {
 protected:
  void SetUp() override;
  void TearDown() override;
  // Closes the store and opens the same directory again.
  void Reopen();

  std::filesystem::path dir_;
  std::unique_ptr<RunStore> store_;
};

// A directory under the test temporary directory that no other test (or process) uses.
std::filesystem::path FreshTestDirectory(const std::string& label);

// One key's history as a plain map: step -> (value, wall time).
using HistoryModel = std::map<int64_t, std::pair<double, double>>;

// What ReadHistory must return for `model`, computed point by point from HistoryQuery's
// definition, independently of any store.
Series ReferenceRead(const std::string& key, const HistoryModel& model, const HistoryQuery& query);

// Every field equal; values compared bit for bit up to NaN (any NaN equals any NaN).
void ExpectSameSeries(const Series& actual, const Series& expected);

}  // namespace labbook::track::conformance
