#include "store_conformance.hpp"

#include <gmock/gmock.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <optional>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <thread>
#include <tuple>
#include <vector>

namespace labbook::track::conformance {

namespace fs = std::filesystem;

// --- The fixture and the reference ---

std::string StoreName(const ::testing::TestParamInfo<StoreUnderTest>& info) {
  return info.param.name;
}

void PrintTo(const StoreUnderTest& store, std::ostream* out) { *out << store.name; }

fs::path FreshTestDirectory(const std::string& label) {
  static std::atomic<int> counter{0};
  std::string name =
      "labbook-" + label + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
  std::replace(name.begin(), name.end(), '/', '_');  // parameterised tests are "Name/param"
  const fs::path dir = fs::path(::testing::TempDir()) / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

void StoreConformanceTest::SetUp() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  dir_ = FreshTestDirectory(GetParam().name + "-" + info->name());
  store_ = GetParam().open(dir_ / "store");
  ASSERT_NE(store_, nullptr) << "cannot open the store in " << dir_;
}

void StoreConformanceTest::TearDown() {
  store_.reset();
  std::error_code ignored;
  fs::remove_all(dir_, ignored);
}

void StoreConformanceTest::Reopen() {
  store_.reset();
  store_ = GetParam().open(dir_ / "store");
  ASSERT_NE(store_, nullptr) << "cannot reopen the store in " << dir_;
}

Series ReferenceRead(const std::string& key, const HistoryModel& model, const HistoryQuery& query) {
  std::vector<HistoryModel::const_iterator> in;
  for (auto it = model.lower_bound(query.min_step);
       it != model.end() && it->first <= query.max_step; ++it) {
    in.push_back(it);
  }
  Series series;
  series.key = key;
  series.points_in_range = static_cast<int64_t>(in.size());
  auto keep = [&](HistoryModel::const_iterator point) {
    series.steps.push_back(point->first);
    series.values.push_back(point->second.first);
    series.wall_times.push_back(point->second.second);
  };
  if (query.max_points == 0 || in.size() <= query.max_points) {
    for (HistoryModel::const_iterator point : in) keep(point);
    return series;
  }
  series.downsampled = true;
  __extension__ typedef __int128 Wide;
  const Wide buckets = std::max<size_t>(1, query.max_points / 2);
  const Wide first = in.front()->first;
  const Wide span = static_cast<Wide>(in.back()->first) - first + 1;
  auto bucket_of = [&](size_t i) {
    return (static_cast<Wide>(in[i]->first) - first) * buckets / span;
  };
  for (size_t begin = 0; begin < in.size();) {
    size_t end = begin;
    std::optional<size_t> lowest;
    std::optional<size_t> highest;
    for (; end < in.size() && bucket_of(end) == bucket_of(begin); ++end) {
      const double v = in[end]->second.first;
      if (std::isnan(v)) continue;
      if (!lowest || v < in[*lowest]->second.first) lowest = end;
      if (!highest || v > in[*highest]->second.first) highest = end;
    }
    if (!lowest) {
      keep(in[begin]);
    } else if (query.max_points == 1) {
      keep(in[*highest]);
    } else {
      keep(in[std::min(*lowest, *highest)]);
      if (*lowest != *highest) keep(in[std::max(*lowest, *highest)]);
    }
    begin = end;
  }
  return series;
}

void ExpectSameSeries(const Series& actual, const Series& expected) {
  EXPECT_EQ(actual.key, expected.key);
  EXPECT_EQ(actual.points_in_range, expected.points_in_range);
  EXPECT_EQ(actual.downsampled, expected.downsampled);
  ASSERT_EQ(actual.steps, expected.steps);
  ASSERT_EQ(actual.values.size(), expected.values.size());
  ASSERT_EQ(actual.wall_times.size(), expected.wall_times.size());
  for (size_t i = 0; i < expected.values.size(); ++i) {
    const double a = actual.values[i];
    const double e = expected.values[i];
    if (std::isnan(e)) {
      EXPECT_TRUE(std::isnan(a)) << "at step " << expected.steps[i];
    } else {
      EXPECT_EQ(a, e) << "at step " << expected.steps[i];
    }
    EXPECT_EQ(actual.wall_times[i], expected.wall_times[i]) << "at step " << expected.steps[i];
  }
}

namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

const double kNaN = std::numeric_limits<double>::quiet_NaN();
const double kInf = std::numeric_limits<double>::infinity();

std::string Sha256Of(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr);
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) {
    static constexpr char kHex[] = "0123456789abcdef";
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 15];
  }
  return hex;
}

void WriteFile(const fs::path& path, std::string_view bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

RunInfo NewRun(const std::string& entity = "team", const std::string& project = "vision") {
  RunInfo run;
  run.entity = entity;
  run.project = project;
  return run;
}

// An artifact of type "model" in team/<project>.
NewArtifact ModelArtifact(const std::string& project, const std::string& name,
                          std::vector<NewArtifact::File> files, const std::string& producer = "") {
  NewArtifact artifact;
  artifact.entity = "team";
  artifact.project = project;
  artifact.name = name;
  artifact.type = "model";
  artifact.producer_run = producer;
  artifact.files = std::move(files);
  return artifact;
}

// One key's points as a batch, and the same points folded into `model` (later points win).
HistoryBatch KeyBatch(const std::string& key,
                      const std::vector<std::tuple<int64_t, double, double>>& points,
                      HistoryModel* model = nullptr) {
  HistoryBatch batch;
  batch.keys = {key};
  for (const auto& [step, value, wall] : points) {
    batch.points.push_back(HistoryPoint{0, step, value, wall});
    if (model != nullptr) (*model)[step] = {value, wall};
  }
  return batch;
}

KeyInfo ExpectedKeyInfo(const std::string& key, const HistoryModel& model) {
  KeyInfo info;
  info.key = key;
  info.count = static_cast<int64_t>(model.size());
  info.first_step = model.begin()->first;
  info.last_step = model.rbegin()->first;
  info.last_value = model.rbegin()->second.first;
  info.min = kNaN;
  info.max = kNaN;
  for (const auto& [step, point] : model) {
    if (!std::isfinite(point.first)) continue;
    if (std::isnan(info.min) || point.first < info.min) info.min = point.first;
    if (std::isnan(info.max) || point.first > info.max) info.max = point.first;
  }
  return info;
}

bool SameNumber(double a, double b) { return (std::isnan(a) && std::isnan(b)) || a == b; }

void ExpectSameKeyInfo(const KeyInfo& actual, const KeyInfo& expected) {
  EXPECT_EQ(actual.key, expected.key);
  EXPECT_EQ(actual.count, expected.count) << expected.key;
  EXPECT_EQ(actual.first_step, expected.first_step) << expected.key;
  EXPECT_EQ(actual.last_step, expected.last_step) << expected.key;
  EXPECT_TRUE(SameNumber(actual.last_value, expected.last_value))
      << expected.key << ": " << actual.last_value << " vs " << expected.last_value;
  EXPECT_TRUE(SameNumber(actual.min, expected.min))
      << expected.key << ": " << actual.min << " vs " << expected.min;
  EXPECT_TRUE(SameNumber(actual.max, expected.max))
      << expected.key << ": " << actual.max << " vs " << expected.max;
}

std::vector<std::string> Sorted(std::vector<std::string> items) {
  std::sort(items.begin(), items.end());
  return items;
}

// --- Runs ---

TEST_P(StoreConformanceTest, CreateRunAssignsRandomBase36IdsAndTheIdAsDefaultName) {
  std::set<std::string> ids;
  const std::regex id_pattern("[0-9a-z]{8}");
  for (int i = 0; i < 20; ++i) {
    ASSERT_OK_AND_ASSIGN(RunInfo run, store_->CreateRun(NewRun()));
    EXPECT_TRUE(std::regex_match(run.id, id_pattern)) << run.id;
    EXPECT_EQ(run.name, run.id);
    ids.insert(run.id);
  }
  EXPECT_EQ(ids.size(), 20u);
  RunInfo named = NewRun();
  named.name = "baseline";
  ASSERT_OK_AND_ASSIGN(RunInfo created, store_->CreateRun(named));
  EXPECT_EQ(created.name, "baseline");
}

TEST_P(StoreConformanceTest, CreateRunStoresEveryField) {
  RunInfo run = NewRun("alice", "mnist");
  run.id = "r0n1d2x3";
  run.name = "adam-lr3";
  run.group = "sweep-7";
  run.tags = {"baseline", "cnn"};
  run.notes = "first try\nwith two lines";
  run.state = RunState::kFinished;
  run.config = {{"optimizer", {{"name", "adam"}, {"lr", 0.001}}}, {"epochs", 12}};
  run.summary = {{"test/accuracy", 0.912}, {"best", {1, 2, 3}}};
  run.host = "gpu-3";
  run.pid = 4242;
  run.git_commit = "0123abcd";
  run.start_time = 1700000000.25;
  run.heartbeat_time = 1700000100.5;
  run.end_time = 1700000200.75;
  run.exit_code = 0;
  ASSERT_OK_AND_ASSIGN(RunInfo created, store_->CreateRun(run));
  ASSERT_OK_AND_ASSIGN(RunInfo read, store_->GetRun(run.id));
  for (const RunInfo* got : {&created, &read}) {
    EXPECT_EQ(got->id, run.id);
    EXPECT_EQ(got->entity, "alice");
    EXPECT_EQ(got->project, "mnist");
    EXPECT_EQ(got->name, run.name);
    EXPECT_EQ(got->group, run.group);
    EXPECT_EQ(got->tags, run.tags);
    EXPECT_EQ(got->notes, run.notes);
    EXPECT_EQ(got->state, RunState::kFinished);
    EXPECT_EQ(got->config, run.config);
    EXPECT_EQ(got->summary, run.summary);
    EXPECT_EQ(got->host, run.host);
    EXPECT_EQ(got->pid, 4242);
    EXPECT_EQ(got->git_commit, run.git_commit);
    EXPECT_EQ(got->start_time, run.start_time);
    EXPECT_EQ(got->heartbeat_time, run.heartbeat_time);
    EXPECT_EQ(got->end_time, run.end_time);
    EXPECT_EQ(got->exit_code, std::optional<int>(0));
  }
  RunInfo bare = NewRun();
  ASSERT_OK_AND_ASSIGN(RunInfo plain, store_->CreateRun(bare));
  ASSERT_OK_AND_ASSIGN(RunInfo plain_read, store_->GetRun(plain.id));
  EXPECT_EQ(plain_read.exit_code, std::nullopt);
  EXPECT_EQ(plain_read.state, RunState::kRunning);
  EXPECT_TRUE(plain_read.tags.empty());
}

TEST_P(StoreConformanceTest, CreateRunRefusesATakenOrMalformedId) {
  RunInfo run = NewRun();
  run.id = "abcd1234";
  ASSERT_OK(store_->CreateRun(run));
  Result<RunInfo> again = store_->CreateRun(run);
  EXPECT_EQ(CodeOf(again), ErrorCode::kAlreadyExists);
  EXPECT_THAT(again.status().message(), HasSubstr("abcd1234"));
  for (const char* bad : {"ABCD1234", "abc", "abcd12345", "abcd-123"}) {
    run.id = bad;
    Result<RunInfo> refused = store_->CreateRun(run);
    EXPECT_EQ(CodeOf(refused), ErrorCode::kInvalidArgument) << bad;
    EXPECT_THAT(refused.status().message(), HasSubstr(bad));
  }
  RunInfo bad_config = NewRun();
  bad_config.config = nlohmann::json::array({1, 2});
  EXPECT_EQ(CodeOf(store_->CreateRun(bad_config)), ErrorCode::kInvalidArgument);
  ASSERT_OK_AND_ASSIGN(std::vector<RunInfo> runs, store_->ListRuns({}));
  EXPECT_EQ(runs.size(), 1u);
}

TEST_P(StoreConformanceTest, GetRunTakesAUniquePrefixOfAtLeastThreeCharacters) {
  for (const char* id : {"abc00001", "abc00002", "abd00003"}) {
    RunInfo run = NewRun();
    run.id = id;
    ASSERT_OK(store_->CreateRun(run));
  }
  ASSERT_OK_AND_ASSIGN(RunInfo by_prefix, store_->GetRun("abd"));
  EXPECT_EQ(by_prefix.id, "abd00003");
  ASSERT_OK_AND_ASSIGN(RunInfo longer, store_->GetRun("abc00002"));
  EXPECT_EQ(longer.id, "abc00002");
  ASSERT_OK_AND_ASSIGN(RunInfo seven, store_->GetRun("abd0000"));
  EXPECT_EQ(seven.id, "abd00003");
  Result<RunInfo> ambiguous = store_->GetRun("abc");
  EXPECT_EQ(CodeOf(ambiguous), ErrorCode::kInvalidArgument);
  EXPECT_THAT(ambiguous.status().message(), HasSubstr("abc00001"));
  EXPECT_THAT(ambiguous.status().message(), HasSubstr("abc00002"));
  EXPECT_NE(CodeOf(store_->GetRun("ab")), ErrorCode::kOk);
  Result<RunInfo> missing = store_->GetRun("zzz");
  EXPECT_EQ(CodeOf(missing), ErrorCode::kNotFound);
  EXPECT_EQ(CodeOf(store_->GetRun("zzzzzzzz")), ErrorCode::kNotFound);
}

TEST_P(StoreConformanceTest, UpdateRunChangesOnlyTheFieldsSet) {
  RunInfo run = NewRun();
  run.notes = "keep";
  run.tags = {"a"};
  run.start_time = 100;
  ASSERT_OK_AND_ASSIGN(RunInfo created, store_->CreateRun(run));
  RunUpdate finish;
  finish.state = RunState::kFailed;
  finish.end_time = 200.5;
  finish.exit_code = 3;
  ASSERT_OK(store_->UpdateRun(created.id, finish));
  ASSERT_OK_AND_ASSIGN(RunInfo after, store_->GetRun(created.id));
  EXPECT_EQ(after.state, RunState::kFailed);
  EXPECT_EQ(after.end_time, 200.5);
  EXPECT_EQ(after.exit_code, std::optional<int>(3));
  EXPECT_EQ(after.notes, "keep");
  EXPECT_EQ(after.tags, std::vector<std::string>{"a"});
  EXPECT_EQ(after.start_time, 100);
  RunUpdate edit;
  edit.notes = "changed";
  edit.tags = std::vector<std::string>{"b", "c"};
  edit.heartbeat_time = 150;
  ASSERT_OK(store_->UpdateRun(created.id, edit));
  ASSERT_OK_AND_ASSIGN(RunInfo edited, store_->GetRun(created.id));
  EXPECT_EQ(edited.notes, "changed");
  EXPECT_EQ(edited.tags, (std::vector<std::string>{"b", "c"}));
  EXPECT_EQ(edited.heartbeat_time, 150);
  EXPECT_EQ(edited.state, RunState::kFailed);
  EXPECT_EQ(edited.exit_code, std::optional<int>(3));
}

TEST_P(StoreConformanceTest, SummaryPatchReplacesTopLevelKeysAndNullRemovesThem) {
  RunInfo run = NewRun();
  run.summary = {{"a", 1}, {"b", {{"x", 1}}}, {"c", 3}};
  ASSERT_OK_AND_ASSIGN(RunInfo created, store_->CreateRun(run));
  RunUpdate patch;
  patch.summary_patch = nlohmann::json{{"b", {{"y", 2}}}, {"c", nullptr}, {"d", "new"}};
  ASSERT_OK(store_->UpdateRun(created.id, patch));
  ASSERT_OK_AND_ASSIGN(RunInfo after, store_->GetRun(created.id));
  EXPECT_EQ(after.summary, (nlohmann::json{{"a", 1}, {"b", {{"y", 2}}}, {"d", "new"}}));
  patch.summary_patch = nlohmann::json{{"missing", nullptr}};
  ASSERT_OK(store_->UpdateRun(created.id, patch));
  ASSERT_OK_AND_ASSIGN(RunInfo same, store_->GetRun(created.id));
  EXPECT_EQ(same.summary, after.summary);
}

TEST_P(StoreConformanceTest, UpdateRunErrorsChangeNothing) {
  ASSERT_OK_AND_ASSIGN(RunInfo created, store_->CreateRun(NewRun()));
  RunUpdate update;
  update.notes = "x";
  Status missing = store_->UpdateRun("zzzzzzzz", update);
  EXPECT_EQ(CodeOf(missing), ErrorCode::kNotFound);
  EXPECT_THAT(missing.message(), HasSubstr("zzzzzzzz"));
  update.summary_patch = nlohmann::json::array({1});
  EXPECT_EQ(CodeOf(store_->UpdateRun(created.id, update)), ErrorCode::kInvalidArgument);
  ASSERT_OK_AND_ASSIGN(RunInfo after, store_->GetRun(created.id));
  EXPECT_EQ(after.notes, "");
}

TEST_P(StoreConformanceTest, ListRunsGivesNewestStartFirstAndFilters) {
  struct Spec {
    const char* entity;
    const char* project;
    double start;
  };
  const Spec specs[] = {{"alice", "mnist", 30},
                        {"alice", "mnist", 10},
                        {"alice", "cifar", 20},
                        {"bob", "mnist", 40},
                        {"alice", "mnist", 50}};
  std::map<double, std::string> id_of_start;
  for (const Spec& spec : specs) {
    RunInfo run = NewRun(spec.entity, spec.project);
    run.start_time = spec.start;
    ASSERT_OK_AND_ASSIGN(RunInfo created, store_->CreateRun(run));
    id_of_start[spec.start] = created.id;
  }
  auto starts = [](const std::vector<RunInfo>& runs) {
    std::vector<double> out;
    for (const RunInfo& run : runs) out.push_back(run.start_time);
    return out;
  };
  ASSERT_OK_AND_ASSIGN(std::vector<RunInfo> all, store_->ListRuns({}));
  EXPECT_THAT(starts(all), ElementsAre(50, 40, 30, 20, 10));
  EXPECT_EQ(all.front().id, id_of_start[50]);
  ASSERT_OK_AND_ASSIGN(std::vector<RunInfo> alice_mnist, store_->ListRuns({"alice", "mnist"}));
  EXPECT_THAT(starts(alice_mnist), ElementsAre(50, 30, 10));
  ASSERT_OK_AND_ASSIGN(std::vector<RunInfo> any_mnist, store_->ListRuns({"", "mnist"}));
  EXPECT_THAT(starts(any_mnist), ElementsAre(50, 40, 30, 10));
  ASSERT_OK_AND_ASSIGN(std::vector<RunInfo> alice, store_->ListRuns({"alice", ""}));
  EXPECT_THAT(starts(alice), ElementsAre(50, 30, 20, 10));
  ASSERT_OK_AND_ASSIGN(std::vector<RunInfo> none, store_->ListRuns({"carol", ""}));
  EXPECT_TRUE(none.empty());
}

TEST_P(StoreConformanceTest, DeleteRunRemovesTheRunAndItsHistoryOnly) {
  ASSERT_OK_AND_ASSIGN(RunInfo doomed, store_->CreateRun(NewRun()));
  ASSERT_OK_AND_ASSIGN(RunInfo kept, store_->CreateRun(NewRun()));
  for (const RunInfo* run : {&doomed, &kept}) {
    ASSERT_OK(store_->LogHistory(run->id, KeyBatch("loss", {{0, 1.0, 1.0}, {1, 0.5, 2.0}})));
  }
  ASSERT_OK(store_->DeleteRun(doomed.id));
  EXPECT_EQ(CodeOf(store_->GetRun(doomed.id)), ErrorCode::kNotFound);
  EXPECT_EQ(CodeOf(store_->HistoryKeys(doomed.id)), ErrorCode::kNotFound);
  EXPECT_EQ(CodeOf(store_->DeleteRun(doomed.id)), ErrorCode::kNotFound);
  ASSERT_OK_AND_ASSIGN(std::vector<KeyInfo> keys, store_->HistoryKeys(kept.id));
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_EQ(keys[0].count, 2);
  ASSERT_OK_AND_ASSIGN(std::vector<RunInfo> runs, store_->ListRuns({}));
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].id, kept.id);
}

TEST_P(StoreConformanceTest, EverythingSurvivesReopening) {
  RunInfo run = NewRun();
  run.summary = {{"acc", 0.5}};
  ASSERT_OK_AND_ASSIGN(RunInfo created, store_->CreateRun(run));
  HistoryModel model;
  ASSERT_OK(
      store_->LogHistory(created.id, KeyBatch("loss", {{0, 2.0, 10.0}, {5, 1.0, 11.0}}, &model)));
  WriteFile(dir_ / "files" / "model.bin", "weights");
  NewArtifact artifact =
      ModelArtifact("vision", "cnn", {{"model.bin", dir_ / "files" / "model.bin"}}, created.id);
  ASSERT_OK_AND_ASSIGN(ArtifactVersion logged, store_->LogArtifact(artifact));
  Reopen();
  ASSERT_OK_AND_ASSIGN(RunInfo read, store_->GetRun(created.id));
  EXPECT_EQ(read.summary, run.summary);
  ASSERT_OK_AND_ASSIGN(Series series, store_->ReadHistory(created.id, "loss", {}));
  ExpectSameSeries(series, ReferenceRead("loss", model, {}));
  ASSERT_OK_AND_ASSIGN(ArtifactVersion again, store_->GetArtifact("team", "vision", "cnn", "v0"));
  EXPECT_EQ(again.digest, logged.digest);
  ASSERT_OK(store_->ReadArtifactFile(again.files.at(0), dir_ / "out" / "model.bin"));
  EXPECT_EQ(ReadFile(dir_ / "out" / "model.bin"), "weights");
}

// --- History ---

TEST_P(StoreConformanceTest, LogHistoryStoresEveryKeyOfABatch) {
  ASSERT_OK_AND_ASSIGN(RunInfo run, store_->CreateRun(NewRun()));
  HistoryBatch batch;
  batch.keys = {"loss", "val/accuracy", "system/cpu_percent"};
  HistoryModel models[3];
  for (int64_t step = 0; step < 10; ++step) {
    for (uint32_t key = 0; key < 3; ++key) {
      const double value = static_cast<double>(step * 10 + key) / 7.0;
      const double wall = 1700000000.0 + static_cast<double>(step);
      batch.points.push_back({key, step, value, wall});
      models[key][step] = {value, wall};
    }
  }
  ASSERT_OK(store_->LogHistory(run.id, batch));
  ASSERT_OK_AND_ASSIGN(std::vector<KeyInfo> keys, store_->HistoryKeys(run.id));
  ASSERT_EQ(keys.size(), 3u);
  std::map<std::string, KeyInfo> by_name;
  for (const KeyInfo& info : keys) by_name[info.key] = info;
  for (uint32_t key = 0; key < 3; ++key) {
    ExpectSameKeyInfo(by_name[batch.keys[key]], ExpectedKeyInfo(batch.keys[key], models[key]));
    ASSERT_OK_AND_ASSIGN(Series series, store_->ReadHistory(run.id, batch.keys[key], {}));
    ExpectSameSeries(series, ReferenceRead(batch.keys[key], models[key], {}));
  }
}

TEST_P(StoreConformanceTest, StepsLoggedOutOfOrderAreReadInStepOrder) {
  ASSERT_OK_AND_ASSIGN(RunInfo run, store_->CreateRun(NewRun()));
  std::vector<int64_t> steps(3000);
  for (size_t i = 0; i < steps.size(); ++i) steps[i] = static_cast<int64_t>(i) * 2 - 1000;
  std::mt19937 rng(7);
  std::shuffle(steps.begin(), steps.end(), rng);
  HistoryModel model;
  for (size_t begin = 0; begin < steps.size(); begin += 700) {
    std::vector<std::tuple<int64_t, double, double>> points;
    for (size_t i = begin; i < std::min(steps.size(), begin + 700); ++i) {
      points.emplace_back(steps[i], std::sin(static_cast<double>(steps[i])), 5.0 + i);
    }
    ASSERT_OK(store_->LogHistory(run.id, KeyBatch("loss", points, &model)));
  }
  ASSERT_OK_AND_ASSIGN(Series series, store_->ReadHistory(run.id, "loss", {}));
  ExpectSameSeries(series, ReferenceRead("loss", model, {}));
  ASSERT_OK_AND_ASSIGN(std::vector<KeyInfo> keys, store_->HistoryKeys(run.id));
  ASSERT_EQ(keys.size(), 1u);
  ExpectSameKeyInfo(keys[0], ExpectedKeyInfo("loss", model));
}

TEST_P(StoreConformanceTest, AStepLoggedTwiceKeepsTheLaterValue) {
  ASSERT_OK_AND_ASSIGN(RunInfo run, store_->CreateRun(NewRun()));
  HistoryModel model;
  std::vector<std::tuple<int64_t, double, double>> points;
  for (int64_t step = 0; step < 2000; ++step) points.emplace_back(step, 1.0, 0.0);
  ASSERT_OK(store_->LogHistory(run.id, KeyBatch("loss", points, &model)));
  // Twice within one batch: the later point of the batch wins.
  ASSERT_OK(store_->LogHistory(run.id, KeyBatch("loss", {{5, 9.0, 1.0}, {5, 7.0, 2.0}}, &model)));
  // Again in later batches: in the middle of stored points, the first and the last step.
  ASSERT_OK(store_->LogHistory(run.id, KeyBatch("loss", {{700, -3.0, 3.0}}, &model)));
  ASSERT_OK(store_->LogHistory(run.id, KeyBatch("loss", {{0, 4.0, 4.0}}, &model)));
  ASSERT_OK(store_->LogHistory(run.id, KeyBatch("loss", {{1999, 2.5, 5.0}}, &model)));
  ASSERT_OK_AND_ASSIGN(Series series, store_->ReadHistory(run.id, "loss", {}));
  ExpectSameSeries(series, ReferenceRead("loss", model, {}));
  ASSERT_OK_AND_ASSIGN(std::vector<KeyInfo> keys, store_->HistoryKeys(run.id));
  ASSERT_EQ(keys.size(), 1u);
  ExpectSameKeyInfo(keys[0], ExpectedKeyInfo("loss", model));
  EXPECT_EQ(keys[0].count, 2000);
  EXPECT_EQ(keys[0].last_value, 2.5);
  // Overwriting the extremes brings the key's minimum and maximum back.
  ASSERT_OK(store_->LogHistory(run.id, KeyBatch("loss", {{700, 1.0, 6.0}, {5, 1.0, 6.0}}, &model)));
  ASSERT_OK_AND_ASSIGN(keys, store_->HistoryKeys(run.id));
  ExpectSameKeyInfo(keys[0], ExpectedKeyInfo("loss", model));
}

TEST_P(StoreConformanceTest, NaNAndInfinitiesAreStoredAsTheyAre) {
  ASSERT_OK_AND_ASSIGN(RunInfo run, store_->CreateRun(NewRun()));
  HistoryModel model;
  ASSERT_OK(store_->LogHistory(
      run.id,
      KeyBatch(
          "loss",
          {{0, kNaN, 1}, {1, kInf, 2}, {2, -kInf, 3}, {3, 1.5, 4}, {4, -0.25, 5}, {5, kNaN, 6}},
          &model)));
  ASSERT_OK(store_->LogHistory(run.id, KeyBatch("diverged", {{0, kNaN, 1}, {1, kInf, 2}})));
  ASSERT_OK_AND_ASSIGN(Series series, store_->ReadHistory(run.id, "loss", {}));
  ExpectSameSeries(series, ReferenceRead("loss", model, {}));
  ASSERT_EQ(series.values.size(), 6u);
  EXPECT_TRUE(std::isinf(series.values[1]) && series.values[1] > 0);
  EXPECT_TRUE(std::isinf(series.values[2]) && series.values[2] < 0);
  ASSERT_OK_AND_ASSIGN(std::vector<KeyInfo> keys, store_->HistoryKeys(run.id));
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_EQ(keys[0].key, "diverged");
  EXPECT_TRUE(std::isnan(keys[0].min) && std::isnan(keys[0].max));  // no finite value
  EXPECT_TRUE(std::isinf(keys[0].last_value));
  EXPECT_EQ(keys[1].key, "loss");
  EXPECT_EQ(keys[1].min, -0.25);
  EXPECT_EQ(keys[1].max, 1.5);
  EXPECT_TRUE(std::isnan(keys[1].last_value));
}

TEST_P(StoreConformanceTest, ReadHistoryRangesAreInclusive) {
  ASSERT_OK_AND_ASSIGN(RunInfo run, store_->CreateRun(NewRun()));
  HistoryModel model;
  std::vector<std::tuple<int64_t, double, double>> points;
  for (int64_t step = 0; step < 3000; step += 3) points.emplace_back(step, step * 0.5, step);
  ASSERT_OK(store_->LogHistory(run.id, KeyBatch("loss", points, &model)));
  for (auto [lo, hi] : std::vector<std::pair<int64_t, int64_t>>{
           {30, 60}, {31, 59}, {-100, 2}, {2990, 10000}, {1000, 1001}, {1001, 1001}}) {
    HistoryQuery query;
    query.min_step = lo;
    query.max_step = hi;
    ASSERT_OK_AND_ASSIGN(Series series, store_->ReadHistory(run.id, "loss", query));
    ExpectSameSeries(series, ReferenceRead("loss", model, query));
  }
  HistoryQuery backwards;
  backwards.min_step = 10;
  backwards.max_step = 5;
  EXPECT_EQ(CodeOf(store_->ReadHistory(run.id, "loss", backwards)), ErrorCode::kInvalidArgument);
}

// Steps with gaps, a slow wave with spikes, a stretch of NaN, and infinities.
HistoryModel WavyModel(int64_t points) {
  HistoryModel model;
  for (int64_t i = 0; i < points; ++i) {
    const int64_t step = i * 3 + (i % 7);
    double value = std::sin(static_cast<double>(i) / 150.0) + 0.01 * static_cast<double>(i % 13);
    if (i % 997 == 0) value = 50.0 + static_cast<double>(i);
    if (i % 1231 == 0) value = -40.0;
    if (i >= 1000 && i < 1100) value = kNaN;
    if (i == 2500) value = kInf;
    if (i == 2600) value = -kInf;
    model[step] = {value, 1700000000.0 + static_cast<double>(i) * 0.5};
  }
  return model;
}

TEST_P(StoreConformanceTest, DownsamplingKeepsTheMinimumAndMaximumOfEachBucket) {
  ASSERT_OK_AND_ASSIGN(RunInfo run, store_->CreateRun(NewRun()));
  const HistoryModel model = WavyModel(5000);
  std::vector<std::tuple<int64_t, double, double>> points;
  for (const auto& [step, point] : model) points.emplace_back(step, point.first, point.second);
  ASSERT_OK(store_->LogHistory(run.id, KeyBatch("loss", points)));
  const std::vector<std::pair<int64_t, int64_t>> ranges = {
      {std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()},
      {500, 9000},
      {3000, 3330},
      {3020, 3025}};
  for (size_t max_points : {1, 2, 3, 7, 100, 999, 4000}) {
    for (auto [lo, hi] : ranges) {
      HistoryQuery query{lo, hi, max_points};
      ASSERT_OK_AND_ASSIGN(Series series, store_->ReadHistory(run.id, "loss", query));
      SCOPED_TRACE("max_points " + std::to_string(max_points) + ", steps " + std::to_string(lo) +
                   ".." + std::to_string(hi));
      ExpectSameSeries(series, ReferenceRead("loss", model, query));
      EXPECT_LE(series.steps.size(), max_points);
    }
  }
}

TEST_P(StoreConformanceTest, DownsamplingKeepsSpikes) {
  ASSERT_OK_AND_ASSIGN(RunInfo run, store_->CreateRun(NewRun()));
  std::vector<std::tuple<int64_t, double, double>> points;
  for (int64_t step = 0; step < 10000; ++step) {
    const double value = step == 5000 ? 100.0 : step == 7777 ? -100.0 : 0.0;
    points.emplace_back(step, value, 0.0);
  }
  ASSERT_OK(store_->LogHistory(run.id, KeyBatch("loss", points)));
  ASSERT_OK_AND_ASSIGN(Series series, store_->ReadHistory(run.id, "loss", {0, 100000, 20}));
  EXPECT_TRUE(series.downsampled);
  EXPECT_EQ(series.points_in_range, 10000);
  EXPECT_LE(series.steps.size(), 20u);
  EXPECT_THAT(series.steps, ::testing::Contains(5000));
  EXPECT_THAT(series.steps, ::testing::Contains(7777));
  EXPECT_THAT(series.values, ::testing::Contains(100.0));
  EXPECT_THAT(series.values, ::testing::Contains(-100.0));
}

TEST_P(StoreConformanceTest, NoDownsamplingWhenTheRangeFits) {
  ASSERT_OK_AND_ASSIGN(RunInfo run, store_->CreateRun(NewRun()));
  HistoryModel model;
  std::vector<std::tuple<int64_t, double, double>> points;
  for (int64_t step = 0; step < 100; ++step) points.emplace_back(step, step % 5, step);
  ASSERT_OK(store_->LogHistory(run.id, KeyBatch("loss", points, &model)));
  for (size_t max_points : {100, 101, 5000}) {
    HistoryQuery query;
    query.max_points = max_points;
    ASSERT_OK_AND_ASSIGN(Series series, store_->ReadHistory(run.id, "loss", query));
    EXPECT_FALSE(series.downsampled);
    EXPECT_EQ(series.steps.size(), 100u);
    ExpectSameSeries(series, ReferenceRead("loss", model, query));
  }
}

TEST_P(StoreConformanceTest, ABatchIsStoredWholeOrNotAtAll) {
  ASSERT_OK_AND_ASSIGN(RunInfo run, store_->CreateRun(NewRun()));
  HistoryBatch batch;
  batch.keys = {"loss", "acc"};
  for (int64_t step = 0; step < 1000; ++step) batch.points.push_back({0, step, 1.0, 0.0});
  batch.points.push_back({2, 5, 1.0, 0.0});  // no key 2
  Status bad_index = store_->LogHistory(run.id, batch);
  EXPECT_EQ(CodeOf(bad_index), ErrorCode::kInvalidArgument);
  EXPECT_THAT(bad_index.message(), HasSubstr("points[1000]"));
  batch.points.pop_back();
  batch.keys = {"loss", ""};
  Status empty_key = store_->LogHistory(run.id, batch);
  EXPECT_EQ(CodeOf(empty_key), ErrorCode::kInvalidArgument);
  EXPECT_THAT(empty_key.message(), HasSubstr("keys[1]"));
  ASSERT_OK_AND_ASSIGN(std::vector<KeyInfo> keys, store_->HistoryKeys(run.id));
  EXPECT_TRUE(keys.empty());
}

TEST_P(StoreConformanceTest, HistoryErrorsNameTheRunAndTheKey) {
  ASSERT_OK_AND_ASSIGN(RunInfo run, store_->CreateRun(NewRun()));
  Status no_run = store_->LogHistory("zzzzzzzz", KeyBatch("loss", {{0, 1, 1}}));
  EXPECT_EQ(CodeOf(no_run), ErrorCode::kNotFound);
  EXPECT_THAT(no_run.message(), HasSubstr("zzzzzzzz"));
  EXPECT_EQ(CodeOf(store_->LogHistory("Bad!", KeyBatch("loss", {{0, 1, 1}}))),
            ErrorCode::kInvalidArgument);
  Result<Series> no_key = store_->ReadHistory(run.id, "nope", {});
  EXPECT_EQ(CodeOf(no_key), ErrorCode::kNotFound);
  EXPECT_THAT(no_key.status().message(), HasSubstr("nope"));
  EXPECT_EQ(CodeOf(store_->ReadHistory("zzzzzzzz", "loss", {})), ErrorCode::kNotFound);
  ASSERT_OK_AND_ASSIGN(std::vector<KeyInfo> keys, store_->HistoryKeys(run.id));
  EXPECT_TRUE(keys.empty());
}

TEST_P(StoreConformanceTest, RandomBatchesMatchAPlainModel) {
  ASSERT_OK_AND_ASSIGN(RunInfo run, store_->CreateRun(NewRun()));
  std::mt19937_64 rng(1234);
  const std::vector<std::string> names = {"a", "b", "c"};
  std::vector<HistoryModel> models(3);
  std::vector<int64_t> next_step(3, 0);
  auto check = [&] {
    ASSERT_OK_AND_ASSIGN(std::vector<KeyInfo> keys, store_->HistoryKeys(run.id));
    ASSERT_EQ(keys.size(), 3u);
    for (size_t k = 0; k < 3; ++k) {
      ExpectSameKeyInfo(keys[k], ExpectedKeyInfo(names[k], models[k]));
      ASSERT_OK_AND_ASSIGN(Series series, store_->ReadHistory(run.id, names[k], {}));
      ExpectSameSeries(series, ReferenceRead(names[k], models[k], {}));
      for (size_t max_points : {2, 11, 300}) {
        HistoryQuery query;
        query.max_points = max_points;
        ASSERT_OK_AND_ASSIGN(Series sampled, store_->ReadHistory(run.id, names[k], query));
        ExpectSameSeries(sampled, ReferenceRead(names[k], models[k], query));
      }
    }
  };
  for (int b = 0; b < 40; ++b) {
    HistoryBatch batch;
    batch.keys = {"a", "b", "c", "a"};  // a key listed twice is one key
    const int n = 1 + static_cast<int>(rng() % 1500);
    for (int i = 0; i < n; ++i) {
      const uint32_t index = static_cast<uint32_t>(rng() % 4);
      const size_t k = index == 3 ? 0 : index;
      const uint64_t dice = rng() % 100;
      int64_t step = next_step[k];
      if (dice < 8) {
        step = static_cast<int64_t>(rng() % static_cast<uint64_t>(next_step[k] + 1));
      } else if (dice < 11) {
        step = std::max<int64_t>(0, next_step[k] - 1);
      } else {
        step = next_step[k]++ + static_cast<int64_t>(rng() % 3);
        next_step[k] = step + 1;
      }
      double value = static_cast<double>(static_cast<int64_t>(rng() % 2001) - 1000) / 10.0;
      if (rng() % 200 == 0) value = kNaN;
      if (rng() % 500 == 0) value = -kInf;
      const double wall = b * 10.0 + i * 1e-3;
      batch.points.push_back({index, step, value, wall});
      models[k][step] = {value, wall};
    }
    ASSERT_OK(store_->LogHistory(run.id, batch));
    if (b % 10 == 9) check();
  }
}

TEST_P(StoreConformanceTest, ThreadsShareOneStore) {
  constexpr int kThreads = 4;
  constexpr int kBatches = 30;
  constexpr int kPointsPerBatch = 100;
  std::vector<std::string> ids(kThreads);
  std::vector<Status> failures(kThreads);
  std::atomic<bool> done{false};
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      Result<RunInfo> run = store_->CreateRun(NewRun());
      if (!run.ok()) {
        failures[t] = run.status();
        return;
      }
      ids[t] = run->id;
      for (int b = 0; b < kBatches; ++b) {
        std::vector<std::tuple<int64_t, double, double>> points;
        for (int i = 0; i < kPointsPerBatch; ++i) {
          points.emplace_back(b * kPointsPerBatch + i, t, 0.0);
        }
        Status logged = store_->LogHistory(run->id, KeyBatch("loss", points));
        if (!logged.ok()) {
          failures[t] = logged;
          return;
        }
      }
    });
  }
  std::thread reader([&] {
    while (!done) {
      Result<std::vector<RunInfo>> runs = store_->ListRuns({});
      EXPECT_OK(runs);
      for (const RunInfo& run : runs.ok() ? *runs : std::vector<RunInfo>{}) {
        EXPECT_OK(store_->HistoryKeys(run.id));
      }
    }
  });
  for (std::thread& writer : writers) writer.join();
  done = true;
  reader.join();
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_OK(failures[t]);
    ASSERT_OK_AND_ASSIGN(Series series, store_->ReadHistory(ids[t], "loss", {}));
    EXPECT_EQ(series.points_in_range, kBatches * kPointsPerBatch);
  }
}

// --- Artifacts ---

TEST_P(StoreConformanceTest, ArtifactVersionsCountUpAndLatestNamesTheNewest) {
  WriteFile(dir_ / "f" / "a", "first weights");
  WriteFile(dir_ / "f" / "b", "predictions,1\n");
  NewArtifact artifact;
  artifact.entity = "team";
  artifact.project = "vision";
  artifact.name = "cnn";
  artifact.type = "model";
  artifact.metadata = {{"accuracy", 0.91}};
  artifact.files = {{"model.lbm", dir_ / "f" / "a"}, {"tables/predictions.csv", dir_ / "f" / "b"}};
  ASSERT_OK_AND_ASSIGN(ArtifactVersion v0, store_->LogArtifact(artifact));
  EXPECT_EQ(v0.version, 0);
  EXPECT_EQ(v0.entity, "team");
  EXPECT_EQ(v0.project, "vision");
  EXPECT_EQ(v0.name, "cnn");
  EXPECT_EQ(v0.type, "model");
  EXPECT_EQ(v0.metadata, artifact.metadata);
  EXPECT_EQ(v0.producer_run, "");
  EXPECT_GT(v0.created_time, 0);
  EXPECT_THAT(v0.aliases, ElementsAre("latest"));
  ASSERT_EQ(v0.files.size(), 2u);
  EXPECT_EQ(v0.files[0].path, "model.lbm");
  EXPECT_EQ(v0.files[0].sha256, Sha256Of("first weights"));
  EXPECT_EQ(v0.files[0].size, 13);
  EXPECT_EQ(v0.files[1].path, "tables/predictions.csv");
  const std::string manifest = "model.lbm" + std::string(1, '\0') + Sha256Of("first weights") +
                               "\ntables/predictions.csv" + std::string(1, '\0') +
                               Sha256Of("predictions,1\n") + "\n";
  EXPECT_EQ(v0.digest, Sha256Of(manifest));

  WriteFile(dir_ / "f" / "a", "second weights");
  ASSERT_OK_AND_ASSIGN(ArtifactVersion v1, store_->LogArtifact(artifact));
  EXPECT_EQ(v1.version, 1);
  EXPECT_NE(v1.digest, v0.digest);
  EXPECT_THAT(v1.aliases, ElementsAre("latest"));
  ASSERT_OK_AND_ASSIGN(ArtifactVersion old, store_->GetArtifact("team", "vision", "cnn", "v0"));
  EXPECT_TRUE(old.aliases.empty());
  EXPECT_EQ(old.digest, v0.digest);
  ASSERT_OK_AND_ASSIGN(ArtifactVersion latest,
                       store_->GetArtifact("team", "vision", "cnn", "latest"));
  EXPECT_EQ(latest.version, 1);
  EXPECT_EQ(latest.files[0].sha256, Sha256Of("second weights"));
}

TEST_P(StoreConformanceTest, EqualContentsAddNoVersionButAddTheirAliases) {
  WriteFile(dir_ / "f" / "a", "A");
  WriteFile(dir_ / "f" / "b", "B");
  NewArtifact artifact;
  artifact.entity = "team";
  artifact.project = "vision";
  artifact.name = "data";
  artifact.type = "dataset";
  artifact.files = {{"a.txt", dir_ / "f" / "a"}, {"b.txt", dir_ / "f" / "b"}};
  ASSERT_OK_AND_ASSIGN(ArtifactVersion first, store_->LogArtifact(artifact));
  std::reverse(artifact.files.begin(), artifact.files.end());  // the order does not matter
  artifact.aliases = {"best"};
  ASSERT_OK_AND_ASSIGN(ArtifactVersion second, store_->LogArtifact(artifact));
  EXPECT_EQ(second.version, first.version);
  EXPECT_EQ(second.digest, first.digest);
  EXPECT_THAT(Sorted(second.aliases), ElementsAre("best", "latest"));
  ASSERT_OK_AND_ASSIGN(std::vector<ArtifactVersion> all, store_->ListArtifacts({}));
  EXPECT_EQ(all.size(), 1u);
  ASSERT_OK_AND_ASSIGN(ArtifactVersion best, store_->GetArtifact("team", "vision", "data", "best"));
  EXPECT_EQ(best.version, 0);
}

TEST_P(StoreConformanceTest, AnAliasMovesToTheVersionThatLastClaimedIt) {
  WriteFile(dir_ / "f" / "x", "one");
  NewArtifact artifact;
  artifact.entity = "team";
  artifact.project = "vision";
  artifact.name = "cnn";
  artifact.type = "model";
  artifact.files = {{"m", dir_ / "f" / "x"}};
  artifact.aliases = {"prod", "candidate"};
  ASSERT_OK(store_->LogArtifact(artifact));
  WriteFile(dir_ / "f" / "x", "two");
  artifact.aliases = {"prod"};
  ASSERT_OK_AND_ASSIGN(ArtifactVersion v1, store_->LogArtifact(artifact));
  EXPECT_THAT(Sorted(v1.aliases), ElementsAre("latest", "prod"));
  ASSERT_OK_AND_ASSIGN(ArtifactVersion prod, store_->GetArtifact("team", "vision", "cnn", "prod"));
  EXPECT_EQ(prod.version, 1);
  ASSERT_OK_AND_ASSIGN(ArtifactVersion v0, store_->GetArtifact("team", "vision", "cnn", "v0"));
  EXPECT_THAT(v0.aliases, ElementsAre("candidate"));
  WriteFile(dir_ / "f" / "x", "one");  // the contents of v0 again make a new version
  artifact.aliases = {};
  ASSERT_OK_AND_ASSIGN(ArtifactVersion v2, store_->LogArtifact(artifact));
  EXPECT_EQ(v2.version, 2);
  EXPECT_EQ(v2.digest, v0.digest);
}

TEST_P(StoreConformanceTest, GetArtifactOfAnUnknownVersionOrAliasIsNotFound) {
  WriteFile(dir_ / "f" / "x", "one");
  NewArtifact artifact = ModelArtifact("vision", "cnn", {{"m", dir_ / "f" / "x"}});
  ASSERT_OK(store_->LogArtifact(artifact));
  for (const char* ref : {"v1", "v9", "nope"}) {
    Result<ArtifactVersion> missing = store_->GetArtifact("team", "vision", "cnn", ref);
    EXPECT_EQ(CodeOf(missing), ErrorCode::kNotFound) << ref;
    EXPECT_THAT(missing.status().message(), HasSubstr("cnn"));
  }
  EXPECT_EQ(CodeOf(store_->GetArtifact("team", "vision", "other", "latest")), ErrorCode::kNotFound);
  EXPECT_EQ(CodeOf(store_->GetArtifact("team", "audio", "cnn", "latest")), ErrorCode::kNotFound);
}

TEST_P(StoreConformanceTest, ListArtifactsGoesByNameThenVersionAndFilters) {
  int file = 0;
  auto log = [&](const std::string& project, const std::string& name) {
    const fs::path source = dir_ / "f" / std::to_string(file);
    WriteFile(source, "content " + std::to_string(file++));
    NewArtifact artifact = ModelArtifact(project, name, {{"m", source}});
    ASSERT_OK(store_->LogArtifact(artifact));
  };
  log("vision", "zeta");
  log("vision", "alpha");
  log("vision", "zeta");
  log("audio", "beta");
  log("vision", "alpha");
  ASSERT_OK_AND_ASSIGN(std::vector<ArtifactVersion> vision,
                       store_->ListArtifacts({"team", "vision"}));
  std::vector<std::string> listed;
  for (const ArtifactVersion& v : vision)
    listed.push_back(v.name + ":" + std::to_string(v.version));
  EXPECT_THAT(listed, ElementsAre("alpha:0", "alpha:1", "zeta:0", "zeta:1"));
  ASSERT_OK_AND_ASSIGN(std::vector<ArtifactVersion> all, store_->ListArtifacts({}));
  EXPECT_EQ(all.size(), 5u);
  ASSERT_OK_AND_ASSIGN(std::vector<ArtifactVersion> none, store_->ListArtifacts({"other", ""}));
  EXPECT_TRUE(none.empty());
}

TEST_P(StoreConformanceTest, BadArtifactsAreRefusedAndStoreNothing) {
  WriteFile(dir_ / "f" / "x", "one");
  const NewArtifact good = ModelArtifact("vision", "cnn", {{"m", dir_ / "f" / "x"}});
  auto refused = [&](NewArtifact artifact, ErrorCode code, const std::string& mention) {
    Result<ArtifactVersion> result = store_->LogArtifact(artifact);
    EXPECT_EQ(CodeOf(result), code) << mention;
    EXPECT_THAT(result.status().message(), HasSubstr(mention));
  };
  NewArtifact bad = good;
  bad.name = "a/b";
  refused(bad, ErrorCode::kInvalidArgument, "a/b");
  bad = good;
  bad.aliases = {"v3"};
  refused(bad, ErrorCode::kInvalidArgument, "v3");
  bad = good;
  bad.files = {{"../escape", dir_ / "f" / "x"}};
  refused(bad, ErrorCode::kInvalidArgument, "../escape");
  bad = good;
  bad.files = {{"m", dir_ / "f" / "x"}, {"m", dir_ / "f" / "x"}};
  refused(bad, ErrorCode::kInvalidArgument, "m");
  bad = good;
  bad.files = {{"m", dir_ / "f" / "missing"}};
  refused(bad, ErrorCode::kNotFound, "missing");
  bad = good;
  bad.producer_run = "zzzzzzzz";
  refused(bad, ErrorCode::kNotFound, "zzzzzzzz");
  ASSERT_OK_AND_ASSIGN(std::vector<ArtifactVersion> all, store_->ListArtifacts({}));
  EXPECT_TRUE(all.empty());
}

TEST_P(StoreConformanceTest, LineageRecordsWhoProducedAndWhoUsedAVersion) {
  ASSERT_OK_AND_ASSIGN(RunInfo producer, store_->CreateRun(NewRun()));
  ASSERT_OK_AND_ASSIGN(RunInfo consumer, store_->CreateRun(NewRun()));
  WriteFile(dir_ / "f" / "x", "weights");
  NewArtifact artifact = ModelArtifact("vision", "cnn", {{"m", dir_ / "f" / "x"}}, producer.id);
  ASSERT_OK_AND_ASSIGN(ArtifactVersion version, store_->LogArtifact(artifact));
  EXPECT_EQ(version.producer_run, producer.id);
  ASSERT_OK(store_->UseArtifact(consumer.id, version));
  ASSERT_OK(store_->UseArtifact(consumer.id, version));  // recorded once
  ASSERT_OK_AND_ASSIGN(RunArtifacts of_producer, store_->ArtifactsOfRun(producer.id));
  ASSERT_EQ(of_producer.produced.size(), 1u);
  EXPECT_EQ(of_producer.produced[0].digest, version.digest);
  EXPECT_TRUE(of_producer.used.empty());
  ASSERT_OK_AND_ASSIGN(RunArtifacts of_consumer, store_->ArtifactsOfRun(consumer.id));
  EXPECT_TRUE(of_consumer.produced.empty());
  ASSERT_EQ(of_consumer.used.size(), 1u);
  EXPECT_EQ(of_consumer.used[0].version, 0);
  EXPECT_EQ(of_consumer.used[0].producer_run, producer.id);

  ArtifactVersion unknown = version;
  unknown.version = 7;
  EXPECT_EQ(CodeOf(store_->UseArtifact(consumer.id, unknown)), ErrorCode::kNotFound);
  EXPECT_EQ(CodeOf(store_->UseArtifact("zzzzzzzz", version)), ErrorCode::kNotFound);
  EXPECT_EQ(CodeOf(store_->ArtifactsOfRun("zzzzzzzz")), ErrorCode::kNotFound);
}

TEST_P(StoreConformanceTest, DeletingTheProducerKeepsTheVersionWithAnEmptyProducer) {
  ASSERT_OK_AND_ASSIGN(RunInfo producer, store_->CreateRun(NewRun()));
  ASSERT_OK_AND_ASSIGN(RunInfo consumer, store_->CreateRun(NewRun()));
  WriteFile(dir_ / "f" / "x", "weights");
  NewArtifact artifact = ModelArtifact("vision", "cnn", {{"m", dir_ / "f" / "x"}}, producer.id);
  ASSERT_OK_AND_ASSIGN(ArtifactVersion version, store_->LogArtifact(artifact));
  ASSERT_OK(store_->UseArtifact(consumer.id, version));
  ASSERT_OK(store_->UseArtifact(producer.id, version));
  ASSERT_OK(store_->DeleteRun(producer.id));
  ASSERT_OK_AND_ASSIGN(ArtifactVersion kept, store_->GetArtifact("team", "vision", "cnn", "v0"));
  EXPECT_EQ(kept.producer_run, "");
  EXPECT_EQ(kept.digest, version.digest);
  ASSERT_OK(store_->ReadArtifactFile(kept.files[0], dir_ / "out" / "m"));
  EXPECT_EQ(ReadFile(dir_ / "out" / "m"), "weights");
  ASSERT_OK_AND_ASSIGN(RunArtifacts of_consumer, store_->ArtifactsOfRun(consumer.id));
  ASSERT_EQ(of_consumer.used.size(), 1u);
  EXPECT_EQ(of_consumer.used[0].producer_run, "");
}

TEST_P(StoreConformanceTest, ReadArtifactFileCopiesTheCheckedContent) {
  const std::string content(300000, 'x');
  WriteFile(dir_ / "f" / "big", content);
  WriteFile(dir_ / "f" / "same", content);
  NewArtifact first = ModelArtifact("vision", "a", {{"big", dir_ / "f" / "big"}});
  NewArtifact second = ModelArtifact("vision", "b", {{"copy", dir_ / "f" / "same"}});
  ASSERT_OK_AND_ASSIGN(ArtifactVersion a, store_->LogArtifact(first));
  ASSERT_OK_AND_ASSIGN(ArtifactVersion b, store_->LogArtifact(second));
  EXPECT_EQ(a.files[0].sha256, b.files[0].sha256);
  EXPECT_EQ(a.files[0].size, 300000);
  fs::remove(dir_ / "f" / "big");  // the store keeps its own copy
  const fs::path destination = dir_ / "out" / "nested" / "big";
  ASSERT_OK(store_->ReadArtifactFile(a.files[0], destination));
  EXPECT_EQ(ReadFile(destination), content);
  ArtifactFile unknown{"ghost", Sha256Of("never stored"), 12};
  EXPECT_EQ(CodeOf(store_->ReadArtifactFile(unknown, dir_ / "out" / "ghost")),
            ErrorCode::kNotFound);
  EXPECT_FALSE(fs::exists(dir_ / "out" / "ghost"));
  ArtifactFile malformed{"bad", "../../etc/passwd", 1};
  EXPECT_EQ(CodeOf(store_->ReadArtifactFile(malformed, dir_ / "out" / "bad")),
            ErrorCode::kInvalidArgument);
}

TEST_P(StoreConformanceTest, ACorruptBlobIsDataLossAndLeavesNothingBehind) {
  if (!GetParam().corrupt_blob) GTEST_SKIP() << "this store offers no way to corrupt a blob";
  WriteFile(dir_ / "f" / "x", "precious weights");
  NewArtifact artifact = ModelArtifact("vision", "cnn", {{"m", dir_ / "f" / "x"}});
  ASSERT_OK_AND_ASSIGN(ArtifactVersion version, store_->LogArtifact(artifact));
  GetParam().corrupt_blob(dir_ / "store", version.files[0].sha256);
  const fs::path destination = dir_ / "out" / "m";
  Status read = store_->ReadArtifactFile(version.files[0], destination);
  EXPECT_EQ(CodeOf(read), ErrorCode::kDataLoss);
  EXPECT_THAT(read.message(), HasSubstr(version.files[0].sha256));
  EXPECT_FALSE(fs::exists(destination));
  EXPECT_TRUE(fs::is_empty(dir_ / "out")) << "a temporary file was left behind";
}

}  // namespace
}  // namespace labbook::track::conformance
