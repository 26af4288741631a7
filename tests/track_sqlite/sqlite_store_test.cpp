// The SQLite store: the conformance suite, and what only a file on disk shared by processes can
// show (migrations, foreign files, read-only and full disks, locks, concurrent processes, a
// process killed mid-write, the chunked history layout).
#include "track/sqlite/sqlite_store.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "store_conformance.hpp"
#include "track/history/history_chunk.hpp"
#include "track/sqlite/migrations.hpp"

namespace labbook::track::sqlite {
namespace {

namespace fs = std::filesystem;
using conformance::CodeOf;
using history::kChunkPoints;
using conformance::FreshTestDirectory;
using conformance::HistoryModel;
using conformance::ReferenceRead;
using conformance::StoreConformanceTest;
using conformance::StoreUnderTest;
using ::testing::HasSubstr;

// --- The conformance suite ---

std::unique_ptr<RunStore> OpenInDirectory(const fs::path& dir) {
  Result<std::unique_ptr<RunStore>> store = OpenSqliteRunStore(dir / "labbook.db");
  if (!store.ok()) {
    ADD_FAILURE() << store.status().ToString();
    return nullptr;
  }
  return std::move(store).value();
}

// Flips the bits of the blob's first byte, as a failing disk would.
void CorruptBlob(const fs::path& dir, const std::string& sha256) {
  const fs::path blob = dir / "labbook.db.blobs" / sha256.substr(0, 2) / sha256;
  std::fstream file(blob, std::ios::in | std::ios::out | std::ios::binary);
  ASSERT_TRUE(file) << blob;
  char first = 0;
  file.read(&first, 1);
  first = static_cast<char>(first ^ 0x5a);
  file.seekp(0);
  file.write(&first, 1);
}

INSTANTIATE_TEST_SUITE_P(Sqlite, StoreConformanceTest,
                         ::testing::Values(StoreUnderTest{"sqlite", OpenInDirectory, CorruptBlob}),
                         conformance::StoreName);

// --- Helpers ---

// A plain SQLite connection, to look under the store.
class RawDatabase {
 public:
  explicit RawDatabase(const fs::path& path) {
    EXPECT_EQ(sqlite3_open(path.c_str(), &db_), SQLITE_OK) << path;
    sqlite3_busy_timeout(db_, 30'000);
  }
  RawDatabase(const RawDatabase&) = delete;
  RawDatabase& operator=(const RawDatabase&) = delete;
  ~RawDatabase() { sqlite3_close(db_); }

  void Exec(const std::string& sql) {
    char* error = nullptr;
    EXPECT_EQ(sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error), SQLITE_OK)
        << sql << ": " << (error ? error : "");
    sqlite3_free(error);
  }
  // The first column of the first row, as text ("" when there is none).
  std::string Text(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK) << sql;
    std::string text;
    if (stmt != nullptr && sqlite3_step(stmt) == SQLITE_ROW) {
      const unsigned char* value = sqlite3_column_text(stmt, 0);
      if (value != nullptr) text = reinterpret_cast<const char*>(value);
    }
    sqlite3_finalize(stmt);
    return text;
  }
  int64_t Int(const std::string& sql) { return std::stoll(Text(sql)); }

 private:
  sqlite3* db_ = nullptr;
};

// `count` points of `key` from step `first`: value step / 2, wall time 1e9 + step.
HistoryBatch Steps(const std::string& key, int64_t first, int64_t count) {
  HistoryBatch batch;
  batch.keys = {key};
  batch.points.reserve(static_cast<size_t>(count));
  for (int64_t step = first; step < first + count; ++step) {
    batch.points.push_back(
        {0, step, static_cast<double>(step) / 2, 1e9 + static_cast<double>(step)});
  }
  return batch;
}

// The key's points are exactly the steps 0..count-1 as Steps() logs them.
void ExpectStepsUpTo(RunStore& store, const std::string& run_id, const std::string& key,
                     int64_t count) {
  Result<Series> series = store.ReadHistory(run_id, key, {});
  ASSERT_OK(series);
  ASSERT_EQ(series->points_in_range, count) << key;
  for (int64_t i = 0; i < count; ++i) {
    ASSERT_EQ(series->steps[static_cast<size_t>(i)], i) << key;
    ASSERT_EQ(series->values[static_cast<size_t>(i)], static_cast<double>(i) / 2) << key;
  }
}

RunInfo NewRun() {
  RunInfo run;
  run.entity = "team";
  run.project = "vision";
  return run;
}

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = FreshTestDirectory(std::string("sqlite-") +
                              ::testing::UnitTest::GetInstance()->current_test_info()->name());
    db_path_ = dir_ / "labbook.db";
  }
  void TearDown() override {
    ::chmod(dir_.c_str(), 0755);
    ::chmod(db_path_.c_str(), 0644);
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }
  std::unique_ptr<RunStore> Open(const SqliteStoreOptions& options = {}) {
    Result<std::unique_ptr<RunStore>> store = OpenSqliteRunStore(db_path_, options);
    EXPECT_OK(store);
    return store.ok() ? std::move(store).value() : nullptr;
  }
  // A store holding one run with 1,000 points of "loss" and one artifact; returns the run.
  RunInfo Populate() {
    std::unique_ptr<RunStore> store = Open();
    Result<RunInfo> run = store->CreateRun(NewRun());
    EXPECT_OK(run);
    EXPECT_OK(store->LogHistory(run->id, Steps("loss", 0, 1000)));
    std::ofstream(dir_ / "weights") << "weights";
    NewArtifact artifact;
    artifact.entity = "team";
    artifact.project = "vision";
    artifact.name = "cnn";
    artifact.type = "model";
    artifact.producer_run = run->id;
    artifact.files = {{"model.lbm", dir_ / "weights"}};
    EXPECT_OK(store->LogArtifact(artifact));
    return *run;
  }

  fs::path dir_;
  fs::path db_path_;
};

// --- Opening and migrations ---

TEST_F(SqliteStoreTest, MigrationsAreAppliedOnceAndReopeningChangesNothing) {
  const RunInfo run = Populate();
  RawDatabase raw(db_path_);
  EXPECT_EQ(raw.Int("PRAGMA user_version"), static_cast<int64_t>(Migrations().size()));
  EXPECT_EQ(raw.Int("PRAGMA application_id"), 0x4C42424B);
  EXPECT_EQ(raw.Text("PRAGMA journal_mode"), "wal");
  const int64_t objects = raw.Int("SELECT count(*) FROM sqlite_schema");
  EXPECT_GT(objects, 10);
  for (int i = 0; i < 2; ++i) {
    std::unique_ptr<RunStore> store = Open();
    ASSERT_NE(store, nullptr);
    ASSERT_OK(store->GetRun(run.id));
    ExpectStepsUpTo(*store, run.id, "loss", 1000);
  }
  EXPECT_EQ(raw.Int("PRAGMA user_version"), static_cast<int64_t>(Migrations().size()));
  EXPECT_EQ(raw.Int("SELECT count(*) FROM sqlite_schema"), objects);
}

TEST_F(SqliteStoreTest, ConnectionsOpeningANewFileAtOnceAllSucceed) {
  // The first openers of a file race to switch it to WAL mode; a lost race shows only now and
  // then, so the race is run on many new files.
  for (int round = 0; round < 40; ++round) {
    const fs::path path = dir_ / ("race-" + std::to_string(round) + ".db");
    std::vector<std::thread> threads;
    std::vector<Status> opened(6);
    for (size_t i = 0; i < opened.size(); ++i) {
      threads.emplace_back([&, i] { opened[i] = OpenSqliteRunStore(path).status(); });
    }
    for (std::thread& thread : threads) thread.join();
    for (const Status& status : opened) ASSERT_OK(status) << "round " << round;
    RawDatabase raw(path);
    EXPECT_EQ(raw.Int("PRAGMA user_version"), static_cast<int64_t>(Migrations().size()));
    EXPECT_EQ(raw.Text("PRAGMA journal_mode"), "wal");
  }
}

TEST_F(SqliteStoreTest, AStoreFromANewerLabbookIsRefused) {
  const RunInfo run = Populate();
  RawDatabase(db_path_).Exec("PRAGMA user_version = 99");
  Result<std::unique_ptr<RunStore>> store = OpenSqliteRunStore(db_path_);
  EXPECT_EQ(CodeOf(store), ErrorCode::kFailedPrecondition);
  EXPECT_THAT(store.status().message(), HasSubstr(db_path_.string()));
  EXPECT_THAT(store.status().message(), HasSubstr("99"));
  RawDatabase(db_path_).Exec("PRAGMA user_version = " + std::to_string(Migrations().size()));
  std::unique_ptr<RunStore> reopened = Open();
  ASSERT_NE(reopened, nullptr);
  EXPECT_OK(reopened->GetRun(run.id));
}

TEST_F(SqliteStoreTest, AFileThatIsNotADatabaseIsDataLossNamingThePath) {
  const std::string text(8192, 'x');
  std::ofstream(db_path_) << text;
  Result<std::unique_ptr<RunStore>> store = OpenSqliteRunStore(db_path_);
  EXPECT_EQ(CodeOf(store), ErrorCode::kDataLoss);
  EXPECT_THAT(store.status().message(), HasSubstr(db_path_.string()));
  std::ifstream in(db_path_);
  std::string after((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(after, text);
}

TEST_F(SqliteStoreTest, ADatabaseOfAnotherApplicationIsDataLoss) {
  RawDatabase(db_path_).Exec("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('hi')");
  Result<std::unique_ptr<RunStore>> store = OpenSqliteRunStore(db_path_);
  EXPECT_EQ(CodeOf(store), ErrorCode::kDataLoss);
  EXPECT_THAT(store.status().message(), HasSubstr(db_path_.string()));
  EXPECT_THAT(store.status().message(), HasSubstr("another application"));
  EXPECT_EQ(RawDatabase(db_path_).Text("SELECT body FROM notes"), "hi");
}

TEST_F(SqliteStoreTest, OpeningCreatesMissingDirectoriesAndRefusesADirectory) {
  const fs::path nested = dir_ / "a" / "b" / "runs.db";
  Result<std::unique_ptr<RunStore>> store = OpenSqliteRunStore(nested);
  ASSERT_OK(store);
  EXPECT_TRUE(fs::is_regular_file(nested));
  EXPECT_TRUE(fs::is_directory(nested.string() + ".blobs"));
  EXPECT_EQ((*store)->uri(), "sqlite://" + nested.string());
  Result<std::unique_ptr<RunStore>> directory = OpenSqliteRunStore(dir_ / "a");
  EXPECT_EQ(CodeOf(directory), ErrorCode::kInvalidArgument);
  EXPECT_THAT(directory.status().message(), HasSubstr((dir_ / "a").string()));
}

TEST_F(SqliteStoreTest, RunConfigSummaryAndTagsAreJsonText) {
  std::unique_ptr<RunStore> store = Open();
  RunInfo run = NewRun();
  run.config = {{"lr", 0.001}, {"layers", {32, 64}}};
  run.summary = {{"accuracy", 0.9}};
  run.tags = {"cnn", "baseline"};
  ASSERT_OK(store->CreateRun(run));
  RawDatabase raw(db_path_);
  EXPECT_EQ(raw.Text("SELECT json_type(config) FROM runs"), "object");
  EXPECT_EQ(raw.Text("SELECT json_extract(config, '$.layers[1]') FROM runs"), "64");
  EXPECT_EQ(raw.Text("SELECT json_extract(summary, '$.accuracy') FROM runs"), "0.9");
  EXPECT_EQ(raw.Text("SELECT tags FROM runs"), R"(["cnn","baseline"])");
}

// --- Read-only stores and full disks ---

TEST_F(SqliteStoreTest, AReadOnlyStoreRefusesWritesClearlyAndLosesNothing) {
  const RunInfo run = Populate();
  SqliteStoreOptions options;
  options.read_only = true;
  std::unique_ptr<RunStore> store = Open(options);
  ASSERT_NE(store, nullptr);
  ASSERT_OK(store->GetRun(run.id));
  ExpectStepsUpTo(*store, run.id, "loss", 1000);
  Result<ArtifactVersion> artifact = store->GetArtifact("team", "vision", "cnn", "latest");
  ASSERT_OK(artifact);
  ASSERT_OK(store->ReadArtifactFile(artifact->files[0], dir_ / "out" / "model.lbm"));

  RunUpdate update;
  update.notes = "changed";
  std::ofstream(dir_ / "other") << "other";
  NewArtifact another;
  another.entity = "team";
  another.project = "vision";
  another.name = "cnn";
  another.type = "model";
  another.files = {{"m", dir_ / "other"}};
  const std::vector<Status> writes = {
      store->CreateRun(NewRun()).status(),
      store->UpdateRun(run.id, update),
      store->LogHistory(run.id, Steps("loss", 1000, 10)),
      store->DeleteRun(run.id),
      store->LogArtifact(another).status(),
      store->UseArtifact(run.id, *artifact),
  };
  for (const Status& write : writes) {
    EXPECT_EQ(CodeOf(write), ErrorCode::kPermissionDenied) << write.ToString();
    EXPECT_THAT(write.message(), HasSubstr(db_path_.string()));
    EXPECT_THAT(write.message(), HasSubstr("read-only"));
  }
  store.reset();
  std::unique_ptr<RunStore> writable = Open();
  Result<RunInfo> after = writable->GetRun(run.id);
  ASSERT_OK(after);
  EXPECT_EQ(after->notes, "");
  ExpectStepsUpTo(*writable, run.id, "loss", 1000);
  Result<std::vector<ArtifactVersion>> artifacts = writable->ListArtifacts({});
  ASSERT_OK(artifacts);
  EXPECT_EQ(artifacts->size(), 1u);
}

TEST_F(SqliteStoreTest, AFileWithoutWritePermissionIsPermissionDenied) {
  if (::geteuid() == 0) {
    GTEST_SKIP() << "running as root, for whom file permissions do not apply; "
                    "AReadOnlyStoreRefusesWritesClearlyAndLosesNothing covers the error";
  }
  const RunInfo run = Populate();
  ASSERT_EQ(::chmod(db_path_.c_str(), 0444), 0);
  ASSERT_EQ(::chmod(dir_.c_str(), 0555), 0);
  Result<std::unique_ptr<RunStore>> store = OpenSqliteRunStore(db_path_);
  Status refused = store.ok() ? (*store)->CreateRun(NewRun()).status() : store.status();
  EXPECT_EQ(CodeOf(refused), ErrorCode::kPermissionDenied) << refused.ToString();
  EXPECT_THAT(refused.message(), HasSubstr(db_path_.string()));
  store = Result<std::unique_ptr<RunStore>>(Internal("closed"));
  ASSERT_EQ(::chmod(dir_.c_str(), 0755), 0);
  ASSERT_EQ(::chmod(db_path_.c_str(), 0644), 0);
  std::unique_ptr<RunStore> writable = Open();
  ExpectStepsUpTo(*writable, run.id, "loss", 1000);
}

TEST_F(SqliteStoreTest, AFullDiskIsResourceExhaustedAndKeepsEarlierData) {
  const RunInfo run = Populate();
  const int64_t pages = RawDatabase(db_path_).Int("PRAGMA page_count");
  SqliteStoreOptions options;
  options.max_page_count = pages + 4;  // room for small writes, not for 200,000 points
  {
    std::unique_ptr<RunStore> store = Open(options);
    ASSERT_NE(store, nullptr);
    Status full = store->LogHistory(run.id, Steps("loss", 1000, 200'000));
    EXPECT_EQ(CodeOf(full), ErrorCode::kResourceExhausted) << full.ToString();
    EXPECT_THAT(full.message(), HasSubstr(db_path_.string()));
    EXPECT_THAT(full.message(), HasSubstr(run.id));
    ExpectStepsUpTo(*store, run.id, "loss", 1000);
  }
  std::unique_ptr<RunStore> roomy = Open();
  ASSERT_OK(roomy->LogHistory(run.id, Steps("loss", 1000, 200'000)));
  ExpectStepsUpTo(*roomy, run.id, "loss", 201'000);
  EXPECT_EQ(RawDatabase(db_path_).Text("PRAGMA integrity_check"), "ok");
}

// --- Locks and concurrent writers ---

TEST_F(SqliteStoreTest, ALockHeldTooLongIsUnavailableWhileReadsGoOn) {
  const RunInfo run = Populate();
  SqliteStoreOptions options;
  options.busy_timeout_ms = 200;
  std::unique_ptr<RunStore> store = Open(options);
  RawDatabase holder(db_path_);
  holder.Exec("BEGIN IMMEDIATE");
  Result<RunInfo> blocked = store->CreateRun(NewRun());
  EXPECT_EQ(CodeOf(blocked), ErrorCode::kUnavailable);
  EXPECT_THAT(blocked.status().message(), HasSubstr(db_path_.string()));
  EXPECT_OK(store->GetRun(run.id));
  ExpectStepsUpTo(*store, run.id, "loss", 1000);
  holder.Exec("COMMIT");
  EXPECT_OK(store->CreateRun(NewRun()));
}

TEST_F(SqliteStoreTest, TwoConnectionsLogToOneFileAtOnce) {
  std::unique_ptr<RunStore> first = Open();
  std::unique_ptr<RunStore> second = Open();
  Result<RunInfo> shared = first->CreateRun(NewRun());
  Result<RunInfo> own = second->CreateRun(NewRun());
  ASSERT_OK(shared);
  ASSERT_OK(own);
  constexpr int kBatches = 100;
  constexpr int kPoints = 1000;
  Status first_status;
  Status second_status;
  std::thread a([&] {
    for (int b = 0; b < kBatches && first_status.ok(); ++b) {
      first_status = first->LogHistory(shared->id, Steps("a", b * kPoints, kPoints));
    }
  });
  std::thread c([&] {
    for (int b = 0; b < kBatches && second_status.ok(); ++b) {
      second_status = second->LogHistory(shared->id, Steps("b", b * kPoints, kPoints));
      if (second_status.ok()) {
        second_status = second->LogHistory(own->id, Steps("c", b * kPoints, kPoints));
      }
    }
  });
  a.join();
  c.join();
  ASSERT_OK(first_status);
  ASSERT_OK(second_status);
  ExpectStepsUpTo(*first, shared->id, "a", kBatches * kPoints);
  ExpectStepsUpTo(*first, shared->id, "b", kBatches * kPoints);
  ExpectStepsUpTo(*second, own->id, "c", kBatches * kPoints);
}

TEST_F(SqliteStoreTest, TwoProcessesLogToOneFileAtOnce) {
  RunInfo run;
  {
    std::unique_ptr<RunStore> creator = Open();
    Result<RunInfo> created = creator->CreateRun(NewRun());
    ASSERT_OK(created);
    run = *created;
  }
  constexpr int kBatches = 100;
  constexpr int kPoints = 1000;
  // Each process opens its own connection after the fork, as two programs would.
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    Result<std::unique_ptr<RunStore>> own = OpenSqliteRunStore(db_path_);
    if (!own.ok()) ::_exit(2);
    for (int b = 0; b < kBatches; ++b) {
      if (!(*own)->LogHistory(run.id, Steps("child", b * kPoints, kPoints)).ok()) ::_exit(3);
    }
    ::_exit(0);
  }
  std::unique_ptr<RunStore> store = Open();
  Status parent_status;
  for (int b = 0; b < kBatches && parent_status.ok(); ++b) {
    parent_status = store->LogHistory(run.id, Steps("parent", b * kPoints, kPoints));
  }
  int wait_status = 0;
  ASSERT_EQ(::waitpid(child, &wait_status, 0), child);
  ASSERT_OK(parent_status);
  ASSERT_TRUE(WIFEXITED(wait_status));
  EXPECT_EQ(WEXITSTATUS(wait_status), 0);
  ExpectStepsUpTo(*store, run.id, "parent", kBatches * kPoints);
  ExpectStepsUpTo(*store, run.id, "child", kBatches * kPoints);
}

TEST_F(SqliteStoreTest, AProcessKilledMidIngestLeavesAConsistentStoreWithEveryReturnedBatch) {
  RunInfo run;
  {
    std::unique_ptr<RunStore> store = Open();
    Result<RunInfo> created = store->CreateRun(NewRun());
    ASSERT_OK(created);
    run = *created;
  }
  constexpr int64_t kPoints = 5000;
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(pipe_fds[0]);
    Result<std::unique_ptr<RunStore>> own = OpenSqliteRunStore(db_path_);
    if (!own.ok()) ::_exit(2);
    for (int64_t b = 0; b < 100'000; ++b) {
      if (!(*own)->LogHistory(run.id, Steps("loss", b * kPoints, kPoints)).ok()) ::_exit(3);
      const int64_t returned = b + 1;
      if (::write(pipe_fds[1], &returned, sizeof returned) != sizeof returned) ::_exit(4);
    }
    ::_exit(0);
  }
  ::close(pipe_fds[1]);
  int64_t returned = 0;
  int64_t value = 0;
  while (returned < 40 && ::read(pipe_fds[0], &value, sizeof value) == sizeof value) {
    returned = value;
  }
  ::kill(child, SIGKILL);
  int wait_status = 0;
  ASSERT_EQ(::waitpid(child, &wait_status, 0), child);
  while (::read(pipe_fds[0], &value, sizeof value) == sizeof value) returned = value;
  ::close(pipe_fds[0]);
  ASSERT_TRUE(WIFSIGNALED(wait_status)) << "the child ended before it was killed";
  ASSERT_GE(returned, 40);

  RawDatabase raw(db_path_);
  EXPECT_EQ(raw.Text("PRAGMA integrity_check"), "ok");
  EXPECT_EQ(raw.Text("PRAGMA foreign_key_check"), "");
  std::unique_ptr<RunStore> store = Open();
  Result<std::vector<KeyInfo>> keys = store->HistoryKeys(run.id);
  ASSERT_OK(keys);
  ASSERT_EQ(keys->size(), 1u);
  const int64_t count = (*keys)[0].count;
  EXPECT_GE(count, returned * kPoints) << "a batch that LogHistory returned is lost";
  EXPECT_EQ(count % kPoints, 0) << "a batch was stored in part";
  ExpectStepsUpTo(*store, run.id, "loss", count);
}

// --- History layout ---

TEST_F(SqliteStoreTest, AMillionPointsDownsampleToAThousandCorrectly) {
  std::unique_ptr<RunStore> store = Open();
  Result<RunInfo> run = store->CreateRun(NewRun());
  ASSERT_OK(run);
  constexpr int64_t kTotal = 1'000'000;
  HistoryModel model;
  for (int64_t first = 0; first < kTotal; first += 100'000) {
    HistoryBatch batch;
    batch.keys = {"loss"};
    for (int64_t step = first; step < first + 100'000; ++step) {
      double value = std::sin(static_cast<double>(step) / 5000.0);
      if (step % 99'991 == 0) value = 10.0;
      if (step == 543'210) value = -25.0;
      if (step >= 700'000 && step < 700'100) value = std::nan("");
      const double wall = 1.7e9 + static_cast<double>(step) * 0.01;
      batch.points.push_back({0, step, value, wall});
      model.emplace_hint(model.end(), step, std::make_pair(value, wall));
    }
    ASSERT_OK(store->LogHistory(run->id, batch));
  }
  HistoryQuery query;
  query.max_points = 1000;
  Result<Series> sampled = store->ReadHistory(run->id, "loss", query);
  ASSERT_OK(sampled);
  EXPECT_EQ(sampled->points_in_range, kTotal);
  EXPECT_TRUE(sampled->downsampled);
  EXPECT_LE(sampled->steps.size(), 1000u);
  EXPECT_GE(sampled->steps.size(), 900u);
  EXPECT_THAT(sampled->steps, ::testing::Contains(543'210));
  EXPECT_THAT(sampled->steps, ::testing::Contains(99'991 * 3));
  conformance::ExpectSameSeries(*sampled, ReferenceRead("loss", model, query));

  query.min_step = 250'000;
  query.max_step = 750'000;
  Result<Series> window = store->ReadHistory(run->id, "loss", query);
  ASSERT_OK(window);
  conformance::ExpectSameSeries(*window, ReferenceRead("loss", model, query));

  Result<Series> full = store->ReadHistory(run->id, "loss", {});
  ASSERT_OK(full);
  ASSERT_EQ(full->steps.size(), static_cast<size_t>(kTotal));
  for (int64_t i = 0; i < kTotal; ++i) ASSERT_EQ(full->steps[static_cast<size_t>(i)], i);
  EXPECT_EQ(full->values[543'210], -25.0);
  EXPECT_TRUE(std::isnan(full->values[700'050]));
}

TEST_F(SqliteStoreTest, HistoryLivesInFullChunksAndDeletingTheRunFreesThem) {
  std::unique_ptr<RunStore> store = Open();
  Result<RunInfo> run = store->CreateRun(NewRun());
  ASSERT_OK(run);
  for (int b = 0; b < 100; ++b)
    ASSERT_OK(store->LogHistory(run->id, Steps("loss", b * 1000, 1000)));
  for (int b = 0; b < 100; ++b) ASSERT_OK(store->LogHistory(run->id, Steps("acc", b, 1)));
  // A read of the store commits the small batches it buffers.
  ASSERT_OK(store->HistoryKeys(run->id));
  RawDatabase raw(db_path_);
  const int64_t full_chunks = (100'000 + kChunkPoints - 1) / kChunkPoints;
  const int64_t small_chunks = 1;  // 100 points appended one at a time share one chunk
  EXPECT_EQ(raw.Int("SELECT count(*) FROM history_chunks"), full_chunks + small_chunks);
  EXPECT_EQ(raw.Int("SELECT count(*) FROM history_points"), full_chunks + small_chunks);
  EXPECT_EQ(raw.Int("SELECT max(count) FROM history_chunks"), static_cast<int64_t>(kChunkPoints));
  ASSERT_OK(store->DeleteRun(run->id));
  EXPECT_EQ(raw.Int("SELECT count(*) FROM history_keys"), 0);
  EXPECT_EQ(raw.Int("SELECT count(*) FROM history_chunks"), 0);
  EXPECT_EQ(raw.Int("SELECT count(*) FROM history_points"), 0);
}

// --- Artifacts ---

TEST_F(SqliteStoreTest, ArtifactFilesAreBlobsBesideTheDatabaseStoredOnce) {
  std::unique_ptr<RunStore> store = Open();
  std::ofstream(dir_ / "a") << "same bytes";
  std::ofstream(dir_ / "b") << "same bytes";
  NewArtifact first;
  first.entity = "team";
  first.project = "vision";
  first.name = "one";
  first.type = "model";
  first.files = {{"m", dir_ / "a"}};
  NewArtifact second = first;
  second.name = "two";
  second.files = {{"copy/m", dir_ / "b"}};
  Result<ArtifactVersion> one = store->LogArtifact(first);
  ASSERT_OK(one);
  ASSERT_OK(store->LogArtifact(second));
  const std::string sha = one->files[0].sha256;
  const fs::path blobs = db_path_.string() + ".blobs";
  EXPECT_TRUE(fs::is_regular_file(blobs / sha.substr(0, 2) / sha));
  int files = 0;
  for (const auto& entry : fs::recursive_directory_iterator(blobs))
    files += entry.is_regular_file();
  EXPECT_EQ(files, 1);
}

TEST_F(SqliteStoreTest, AnArtifactNameKeepsItsType) {
  std::unique_ptr<RunStore> store = Open();
  std::ofstream(dir_ / "a") << "bytes";
  NewArtifact artifact;
  artifact.entity = "team";
  artifact.project = "vision";
  artifact.name = "data";
  artifact.type = "dataset";
  artifact.files = {{"d", dir_ / "a"}};
  ASSERT_OK(store->LogArtifact(artifact));
  artifact.type = "model";
  Result<ArtifactVersion> retyped = store->LogArtifact(artifact);
  EXPECT_EQ(CodeOf(retyped), ErrorCode::kInvalidArgument);
  EXPECT_THAT(retyped.status().message(), HasSubstr("dataset"));
}

}  // namespace
}  // namespace labbook::track::sqlite
