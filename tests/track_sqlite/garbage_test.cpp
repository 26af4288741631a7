// CollectGarbage (`labbook gc`) on the SQLite store: what it removes and keeps, and that racing it
// against writers logging artifacts never costs a committed version a blob.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "store_conformance.hpp"
#include "track/sqlite/blob_store.hpp"
#include "track/sqlite/sqlite_store.hpp"

namespace labbook::track::sqlite {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using conformance::FreshTestDirectory;

// Sets the file's modification time `age` in the past.
void Age(const fs::path& path, std::chrono::seconds age) {
  const auto then = std::chrono::system_clock::now() - age;
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(then.time_since_epoch());
  timespec times[2];
  times[0].tv_sec = times[1].tv_sec = static_cast<time_t>(seconds.count());
  times[0].tv_nsec = times[1].tv_nsec = 0;
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0) << path;
}

class GarbageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = FreshTestDirectory(std::string("garbage-") +
                              ::testing::UnitTest::GetInstance()->current_test_info()->name());
    db_path_ = dir_ / "labbook.db";
    blobs_ = std::make_unique<BlobStore>(db_path_.string() + ".blobs");
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }
  std::unique_ptr<RunStore> Open() {
    Result<std::unique_ptr<RunStore>> store = OpenSqliteRunStore(db_path_);
    EXPECT_OK(store);
    return store.ok() ? std::move(store).value() : nullptr;
  }
  fs::path Source(const std::string& name, const std::string& content) {
    const fs::path path = dir_ / "sources" / name;
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }
  Result<ArtifactVersion> Log(RunStore& store, const std::string& name,
                              const std::string& content) {
    NewArtifact artifact;
    artifact.entity = "team";
    artifact.project = "vision";
    artifact.name = name;
    artifact.type = "model";
    artifact.files = {{"model.lbm", Source(name + "-" + std::to_string(content.size()), content)}};
    return store.LogArtifact(artifact);
  }
  // A blob that no artifact names, `age` old.
  StoredBlob Orphan(const std::string& content, std::chrono::seconds age) {
    Result<StoredBlob> blob = blobs_->Put(Source("orphan-" + content, content));
    EXPECT_OK(blob);
    Age(blobs_->PathOf(blob->sha256), age);
    return *blob;
  }

  fs::path dir_;
  fs::path db_path_;
  std::unique_ptr<BlobStore> blobs_;
};

TEST_F(GarbageTest, RemovesOldUnreferencedBlobsAndLeftoversKeepsTheRest) {
  std::unique_ptr<RunStore> store = Open();
  Result<ArtifactVersion> kept = Log(*store, "cnn", "weights of the model");
  ASSERT_OK(kept);
  Age(blobs_->PathOf(kept->files[0].sha256), 48h);  // referenced: kept however old
  const StoredBlob old = Orphan("an old orphan", 2h);
  const StoredBlob young = Orphan("a young orphan", 10s);
  const fs::path leftover = blobs_->dir() / ".incoming-0123456789abcdef";
  std::ofstream(leftover) << "half a copy";
  Age(leftover, 2h);

  GarbageOptions options;  // grace: one hour
  options.dry_run = true;
  Result<GarbageReport> dry = CollectGarbage(db_path_, options);
  ASSERT_OK(dry);
  EXPECT_EQ(dry->blobs_removed, 1);
  EXPECT_EQ(dry->blob_bytes, old.size);
  EXPECT_EQ(dry->temporary_removed, 1);
  EXPECT_EQ(dry->temporary_bytes, 11);
  EXPECT_EQ(dry->blobs_referenced, 1);
  EXPECT_EQ(dry->kept_young, 1);
  EXPECT_TRUE(blobs_->Exists(old.sha256)) << "a dry run removed a blob";
  EXPECT_TRUE(fs::exists(leftover));

  options.dry_run = false;
  Result<GarbageReport> done = CollectGarbage(db_path_, options);
  ASSERT_OK(done);
  EXPECT_EQ(done->blobs_removed, 1);
  EXPECT_EQ(done->temporary_removed, 1);
  EXPECT_FALSE(blobs_->Exists(old.sha256));
  EXPECT_FALSE(fs::exists(leftover));
  EXPECT_TRUE(blobs_->Exists(young.sha256));
  ASSERT_OK(store->ReadArtifactFile(kept->files[0], dir_ / "out" / "model.lbm"));

  Result<GarbageReport> again = CollectGarbage(db_path_, options);
  ASSERT_OK(again);
  EXPECT_EQ(again->blobs_removed + again->temporary_removed, 0);
}

TEST_F(GarbageTest, ABlobReusedByANewArtifactIsFreshAgain) {
  std::unique_ptr<RunStore> store = Open();
  const StoredBlob old = Orphan("content logged again", 2h);
  // A writer about to log this content: its Put finds the blob and refreshes it.
  ASSERT_OK(blobs_->Put(Source("again", "content logged again")));
  Result<GarbageReport> report = CollectGarbage(db_path_, GarbageOptions{});
  ASSERT_OK(report);
  EXPECT_EQ(report->blobs_removed, 0);
  EXPECT_TRUE(blobs_->Exists(old.sha256));
}

TEST_F(GarbageTest, NoStoreIsNotFound) {
  Result<GarbageReport> report = CollectGarbage(dir_ / "missing.db", GarbageOptions{});
  EXPECT_EQ(conformance::CodeOf(report), ErrorCode::kNotFound);
}

// Writers log artifacts of fresh contents while gc runs in a loop with no grace period at all, the
// harshest setting: every blob not committed yet is fair game. No committed version may lose a
// blob, and the orphans there at the start go.
TEST_F(GarbageTest, RacingWritersNeverLoseACommittedBlob) {
  std::vector<StoredBlob> orphans;
  {
    std::unique_ptr<RunStore> creator = Open();  // creates the database
    for (int i = 0; i < 20; ++i) orphans.push_back(Orphan("orphan " + std::to_string(i), 2h));
  }
  constexpr int kWriters = 3;
  constexpr auto kDuration = 1000ms;
  std::atomic<bool> stop{false};
  std::atomic<int> gc_rounds{0};
  std::atomic<int64_t> removed{0};
  Status gc_status;
  std::thread collector([&] {
    GarbageOptions options;
    options.grace = std::chrono::seconds(0);
    while (!stop.load()) {
      Result<GarbageReport> report = CollectGarbage(db_path_, options);
      if (!report.ok()) {
        gc_status = report.status();
        return;
      }
      removed += report->blobs_removed;
      ++gc_rounds;
      std::this_thread::sleep_for(2ms);
    }
  });
  std::vector<std::vector<ArtifactVersion>> committed(kWriters);
  std::vector<Status> writer_status(kWriters);
  std::vector<std::thread> writers;
  const auto end = std::chrono::steady_clock::now() + kDuration;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      std::unique_ptr<RunStore> own = Open();  // its own connection, as a process would have
      for (int i = 0; std::chrono::steady_clock::now() < end && i < 100; ++i) {
        const std::string content = "writer " + std::to_string(w) + " version " +
                                    std::to_string(i) + std::string(static_cast<size_t>(i), 'x');
        Result<ArtifactVersion> logged = Log(*own, "model-" + std::to_string(w), content);
        if (logged.ok()) {
          committed[w].push_back(*logged);
        } else if (logged.status().message().find("labbook gc") == std::string::npos) {
          writer_status[w] = logged.status();  // gc winning every try is allowed, nothing else
          return;
        }
      }
    });
  }
  for (std::thread& writer : writers) writer.join();
  stop = true;
  collector.join();
  ASSERT_OK(gc_status);
  for (const Status& status : writer_status) ASSERT_OK(status);
  EXPECT_GT(gc_rounds.load(), 1);

  std::unique_ptr<RunStore> store = Open();
  size_t versions = 0;
  for (int w = 0; w < kWriters; ++w) {
    EXPECT_FALSE(committed[w].empty());
    for (const ArtifactVersion& version : committed[w]) {
      ++versions;
      for (const ArtifactFile& file : version.files) {
        ASSERT_OK(store->ReadArtifactFile(
            file, dir_ / "read" / (std::to_string(w) + "-" + version.VersionName())));
      }
    }
  }
  EXPECT_GT(versions, 0u);
  for (const StoredBlob& orphan : orphans) EXPECT_FALSE(blobs_->Exists(orphan.sha256));
  EXPECT_GE(removed.load(), static_cast<int64_t>(orphans.size()));
}

}  // namespace
}  // namespace labbook::track::sqlite
