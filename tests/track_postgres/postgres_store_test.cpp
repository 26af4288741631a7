// The PostgreSQL store against a throwaway cluster (pg_cluster.hpp): the conformance suite, and
// what only a shared server shows (migrations run once however many open at once, a newer schema
// refused, writers in many threads and connections losing no point, passwords never shown).
#include "track/postgres/postgres_store.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "pg_cluster.hpp"
#include "store_conformance.hpp"
#include "track/history/history_chunk.hpp"
#include "track/postgres/connection.hpp"

namespace labbook::track::postgres {
namespace {

namespace fs = std::filesystem;
using conformance::CodeOf;
using conformance::StoreConformanceTest;
using conformance::StoreUnderTest;
using test::PgCluster;
using test::SharedPgCluster;
using test::SharedPgClusterError;
using ::testing::HasSubstr;
using ::testing::Not;

::testing::Environment* const kCluster =
    ::testing::AddGlobalTestEnvironment(new test::PgClusterEnvironment);

// The database that stands for a conformance test's directory: the same directory reopens the
// same database.
std::string DatabaseOf(const fs::path& dir) {
  return "conformance_" + std::to_string(std::hash<std::string>{}(dir.string()) % 1'000'000'007);
}

std::unique_ptr<RunStore> OpenInDirectory(const fs::path& dir) {
  PgCluster* cluster = SharedPgCluster();
  if (cluster == nullptr) {
    ADD_FAILURE() << SharedPgClusterError();
    return nullptr;
  }
  const std::string database = DatabaseOf(dir);
  Status created = cluster->CreateDatabase(database);
  if (!created.ok()) {
    ADD_FAILURE() << created.ToString();
    return nullptr;
  }
  Result<std::unique_ptr<RunStore>> store = OpenPostgresRunStore(cluster->Uri(database));
  if (!store.ok()) {
    ADD_FAILURE() << store.status().ToString();
    return nullptr;
  }
  return std::move(store).value();
}

// Flips the bits of the blob's first byte in the database, keeping its size, as a failing disk
// would.
void CorruptBlob(const fs::path& dir, const std::string& sha256) {
  PgCluster* cluster = SharedPgCluster();
  ASSERT_NE(cluster, nullptr) << SharedPgClusterError();
  ASSERT_TRUE(cluster
                  ->Execute(DatabaseOf(dir),
                            "UPDATE blob_chunks SET data = set_byte(data, 0, get_byte(data, 0) # "
                            "90) WHERE sha256 = '" +
                                sha256 + "' AND piece = 0")
                  .ok());
}

INSTANTIATE_TEST_SUITE_P(Postgres, StoreConformanceTest,
                         ::testing::Values(StoreUnderTest{"postgres", OpenInDirectory,
                                                          CorruptBlob}),
                         conformance::StoreName);

// --- What only a server shows ---

class PostgresStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_ = SharedPgCluster();
    ASSERT_NE(cluster_, nullptr) << SharedPgClusterError();
    Result<std::string> database = cluster_->FreshDatabase();
    ASSERT_TRUE(database.ok()) << database.status().ToString();
    database_ = *database;
    uri_ = cluster_->Uri(database_);
  }

  std::unique_ptr<RunStore> Open() {
    Result<std::unique_ptr<RunStore>> store = OpenPostgresRunStore(uri_);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(store).value() : nullptr;
  }

  std::string Value(const std::string& sql) {
    Result<std::string> value = cluster_->QueryValue(database_, sql);
    EXPECT_TRUE(value.ok()) << value.status().ToString();
    return value.ok() ? *value : "";
  }

  PgCluster* cluster_ = nullptr;
  std::string database_;
  std::string uri_;
};

TEST_F(PostgresStoreTest, AFreshDatabaseGetsEveryMigrationOnce) {
  ASSERT_NE(Open(), nullptr);
  const std::string known = std::to_string(KnownSchemaVersion());
  EXPECT_EQ(Value("SELECT count(*) FROM schema_migrations"), known);
  EXPECT_EQ(Value("SELECT max(version) FROM schema_migrations"), known);
  EXPECT_EQ(Value("SELECT file FROM schema_migrations WHERE version = 1"), "0001_initial.sql");
  ASSERT_NE(Open(), nullptr);  // opening again applies nothing
  EXPECT_EQ(Value("SELECT count(*) FROM schema_migrations"), known);
}

TEST_F(PostgresStoreTest, StoresOpenedAtOnceMigrateOnce) {
  constexpr int kOpeners = 8;
  std::vector<Status> results(kOpeners);
  std::vector<std::thread> openers;
  for (int i = 0; i < kOpeners; ++i) {
    openers.emplace_back([&, i] { results[i] = OpenPostgresRunStore(uri_).status(); });
  }
  for (std::thread& opener : openers) opener.join();
  for (const Status& result : results) EXPECT_TRUE(result.ok()) << result.ToString();
  EXPECT_EQ(Value("SELECT count(*) FROM schema_migrations"), std::to_string(KnownSchemaVersion()));
}

TEST_F(PostgresStoreTest, ADatabaseFromANewerLabbookIsRefused) {
  ASSERT_NE(Open(), nullptr);
  const int future = KnownSchemaVersion() + 1;
  ASSERT_TRUE(cluster_
                  ->Execute(database_, "INSERT INTO schema_migrations VALUES (" +
                                           std::to_string(future) + ", '9999_future.sql', 0)")
                  .ok());
  Result<std::unique_ptr<RunStore>> store = OpenPostgresRunStore(uri_);
  EXPECT_EQ(CodeOf(store), ErrorCode::kFailedPrecondition);
  EXPECT_THAT(store.status().message(), HasSubstr("schema version " + std::to_string(future) +
                                                  ", newer than this labbook knows (" +
                                                  std::to_string(KnownSchemaVersion()) + ")"));
  EXPECT_THAT(store.status().message(), HasSubstr(database_));
}

TEST_F(PostgresStoreTest, ConcurrentWritersLoseNoPoint) {
  // 16 writers, half sharing one store (its pool), half with a store each (as processes would),
  // into 4 runs: each run's "shared" key gets interleaved steps from 4 writers at once (so most
  // batches merge into chunks another writer just wrote), and each writer has a key of its own.
  constexpr int kWriters = 16;
  constexpr int kRuns = 4;
  constexpr int kBatches = 6;
  constexpr int kPointsPerBatch = 200;
  std::unique_ptr<RunStore> shared = Open();
  ASSERT_NE(shared, nullptr);
  std::vector<std::string> runs;
  for (int r = 0; r < kRuns; ++r) {
    RunInfo run;
    run.entity = "team";
    run.project = "load";
    Result<RunInfo> created = shared->CreateRun(run);
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    runs.push_back(created->id);
  }
  std::vector<Status> failures(kWriters);
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      std::unique_ptr<RunStore> own;
      RunStore* store = shared.get();
      if (w % 2 == 1) {
        Result<std::unique_ptr<RunStore>> opened = OpenPostgresRunStore(uri_);
        if (!opened.ok()) {
          failures[w] = opened.status();
          return;
        }
        own = std::move(opened).value();
        store = own.get();
      }
      const int writers_per_run = kWriters / kRuns;
      const int slot = w / kRuns;  // this writer's place among its run's writers
      for (int b = 0; b < kBatches; ++b) {
        HistoryBatch batch;
        batch.keys = {"shared", "own/" + std::to_string(w)};
        for (int i = 0; i < kPointsPerBatch; ++i) {
          const int64_t n = static_cast<int64_t>(b) * kPointsPerBatch + i;
          batch.points.push_back({0, n * writers_per_run + slot, static_cast<double>(w), 1.0});
          batch.points.push_back({1, n, static_cast<double>(n), 2.0});
        }
        Status logged = store->LogHistory(runs[w % kRuns], batch);
        if (!logged.ok()) {
          failures[w] = logged;
          return;
        }
      }
    });
  }
  for (std::thread& writer : writers) writer.join();
  for (const Status& failure : failures) ASSERT_TRUE(failure.ok()) << failure.ToString();
  const int64_t per_key = static_cast<int64_t>(kBatches) * kPointsPerBatch;
  for (int r = 0; r < kRuns; ++r) {
    Result<Series> series = shared->ReadHistory(runs[r], "shared", {});
    ASSERT_TRUE(series.ok()) << series.status().ToString();
    ASSERT_EQ(series->points_in_range, per_key * (kWriters / kRuns));
    for (size_t i = 0; i < series->steps.size(); ++i) {
      ASSERT_EQ(series->steps[i], static_cast<int64_t>(i));
      // Step s came from the writer at slot s % 4 of this run: w = slot * kRuns + r.
      ASSERT_EQ(series->values[i], static_cast<double>((i % (kWriters / kRuns)) * kRuns + r));
    }
    Result<std::vector<KeyInfo>> keys = shared->HistoryKeys(runs[r]);
    ASSERT_TRUE(keys.ok()) << keys.status().ToString();
    ASSERT_EQ(keys->size(), 1u + kWriters / kRuns);
    for (const KeyInfo& key : *keys) {
      EXPECT_EQ(key.count, key.key == "shared" ? per_key * (kWriters / kRuns) : per_key) << key.key;
    }
  }
}

TEST_F(PostgresStoreTest, HistoryIsStoredInChunksOfAtMost512Points) {
  std::unique_ptr<RunStore> store = Open();
  ASSERT_NE(store, nullptr);
  RunInfo run;
  run.entity = "team";
  run.project = "chunks";
  Result<RunInfo> created = store->CreateRun(run);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  HistoryBatch batch;
  batch.keys = {"loss"};
  for (int64_t step = 0; step < 100'000; ++step) {
    batch.points.push_back({0, step, 1.0 / static_cast<double>(step + 1), 0.0});
  }
  ASSERT_TRUE(store->LogHistory(created->id, batch).ok());
  const int64_t chunks = (100'000 + history::kChunkPoints - 1) / history::kChunkPoints;
  EXPECT_EQ(Value("SELECT count(*) FROM history_chunks"), std::to_string(chunks));
  EXPECT_EQ(Value("SELECT max(count) FROM history_chunks"), std::to_string(history::kChunkPoints));
  // Evenly spaced steps are left out of the chunk: 16 bytes a point.
  EXPECT_EQ(Value("SELECT max(length(data)) FROM history_chunks"),
            std::to_string(history::kChunkPoints * history::kBytesPerEvenlySpacedPoint));
  HistoryQuery query;
  query.max_points = 100;
  Result<Series> sampled = store->ReadHistory(created->id, "loss", query);
  ASSERT_TRUE(sampled.ok()) << sampled.status().ToString();
  EXPECT_TRUE(sampled->downsampled);
  EXPECT_EQ(sampled->points_in_range, 100'000);
  EXPECT_LE(sampled->steps.size(), 100u);
}

TEST_F(PostgresStoreTest, ArtifactContentsLiveInTheDatabaseOncePerSha256) {
  std::unique_ptr<RunStore> store = Open();
  ASSERT_NE(store, nullptr);
  const fs::path dir = conformance::FreshTestDirectory("postgres-blobs");
  const std::string content(2'500'000, 'z');  // three pieces of 1 MiB
  {
    std::ofstream out(dir / "weights", std::ios::binary);
    out << content;
  }
  NewArtifact artifact;
  artifact.entity = "team";
  artifact.project = "vision";
  artifact.name = "cnn";
  artifact.type = "model";
  artifact.files = {{"weights.bin", dir / "weights"}};
  Result<ArtifactVersion> first = store->LogArtifact(artifact);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  artifact.name = "copy";
  ASSERT_TRUE(store->LogArtifact(artifact).ok());
  EXPECT_EQ(Value("SELECT count(*) FROM blobs"), "1");
  EXPECT_EQ(Value("SELECT count(*) FROM blob_chunks"), "3");
  EXPECT_EQ(Value("SELECT sum(length(data)) FROM blob_chunks"), std::to_string(content.size()));
  fs::remove(dir / "weights");
  ASSERT_TRUE(store->ReadArtifactFile(first->files.at(0), dir / "out").ok());
  std::ifstream in(dir / "out", std::ios::binary);
  const std::string read((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(read, content);
  fs::remove_all(dir);
}

TEST_F(PostgresStoreTest, UriAndMessagesNeverShowThePassword) {
  // Trust authentication ignores the password, so the store opens with one in its URI.
  const std::string with_password =
      "postgresql://" + cluster_->user() +
      ":hunter2-secret@127.0.0.1:" + std::to_string(cluster_->port()) + "/" + database_;
  Result<std::unique_ptr<RunStore>> store = OpenPostgresRunStore(with_password);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ((*store)->uri(), uri_);
  Result<RunInfo> missing = (*store)->GetRun("zzzzzzzz");
  EXPECT_EQ(CodeOf(missing), ErrorCode::kNotFound);
  EXPECT_THAT(missing.status().message(), Not(HasSubstr("hunter2")));
  EXPECT_THAT(missing.status().message(), HasSubstr(uri_));
}

TEST_F(PostgresStoreTest, AnUnreachableServerIsUnavailableNamingWhereButNotThePassword) {
  // A port nobody listens on: the cluster's port plus one was free a moment ago at best, so
  // take a port of our own that is closed for sure by binding and closing it.
  const std::string uri = "postgresql://alice:s3cr3t-pw@127.0.0.1:1/labbook_db?connect_timeout=5";
  Result<std::unique_ptr<RunStore>> store = OpenPostgresRunStore(uri);
  ASSERT_EQ(CodeOf(store), ErrorCode::kUnavailable) << store.status().ToString();
  const std::string& message = store.status().message();
  EXPECT_THAT(message, HasSubstr("127.0.0.1:1"));
  EXPECT_THAT(message, HasSubstr("labbook_db"));
  EXPECT_THAT(message, HasSubstr("postgresql://alice@127.0.0.1:1/labbook_db"));
  EXPECT_THAT(message, Not(HasSubstr("s3cr3t")));
}

TEST_F(PostgresStoreTest, TextWithANulByteIsRefusedNotCut) {
  std::unique_ptr<RunStore> store = Open();
  ASSERT_NE(store, nullptr);
  RunInfo run;
  run.entity = "team";
  run.project = "nul";
  run.notes = "kept";
  Result<RunInfo> created = store->CreateRun(run);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  RunUpdate update;
  update.notes = std::string("before\0after", 12);
  Status refused = store->UpdateRun(created->id, update);
  EXPECT_EQ(CodeOf(refused), ErrorCode::kInvalidArgument);
  EXPECT_THAT(refused.message(), HasSubstr("NUL"));
  EXPECT_THAT(refused.message(), HasSubstr(created->id));
  Result<RunInfo> after = store->GetRun(created->id);
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_EQ(after->notes, "kept");
}

TEST_F(PostgresStoreTest, OpenStoreTakesBothSchemes) {
  for (const std::string scheme : {"postgresql", "postgres"}) {
    const std::string uri = scheme + "://" + cluster_->user() +
                            ":pw@127.0.0.1:" + std::to_string(cluster_->port()) + "/" + database_;
    Result<std::unique_ptr<RunStore>> store = OpenStore(uri);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    EXPECT_EQ((*store)->uri(), RedactedStoreUri(uri));
    EXPECT_THAT((*store)->uri(), Not(HasSubstr(":pw@")));
  }
  Result<std::unique_ptr<RunStore>> unknown = OpenStore("mysql://host/db");
  EXPECT_EQ(CodeOf(unknown), ErrorCode::kInvalidArgument);
  EXPECT_THAT(unknown.status().message(), HasSubstr("postgresql://user@host:port/database"));
}

TEST_F(PostgresStoreTest, AMissingDatabaseIsNotFoundAndNotCreated) {
  const std::string uri = cluster_->Uri("no_such_database");
  Result<std::unique_ptr<RunStore>> store = OpenPostgresRunStore(uri);
  EXPECT_EQ(CodeOf(store), ErrorCode::kNotFound) << store.status().ToString();
  EXPECT_THAT(store.status().message(), HasSubstr("no_such_database"));
}

TEST(PostgresUriTest, WithoutPasswordDropsThePasswordOnly) {
  EXPECT_EQ(WithoutPassword("postgresql://bob:pw@db.example:5433/runs"),
            "postgresql://bob@db.example:5433/runs");
  EXPECT_EQ(WithoutPassword("postgres://bob@db/runs"), "postgres://bob@db/runs");
  EXPECT_EQ(WithoutPassword("postgresql://bob:p%40ss@db/runs?sslmode=require&password=x"),
            "postgresql://bob@db/runs?sslmode=require");
  EXPECT_EQ(WithoutPassword("postgresql://db/runs?password=x"), "postgresql://db/runs");
  EXPECT_EQ(WithoutPassword("postgresql://[::1]:5432/runs"), "postgresql://[::1]:5432/runs");
}

TEST(PostgresUriTest, MalformedUrisAreInvalidArguments) {
  Result<std::unique_ptr<RunStore>> store =
      OpenPostgresRunStore("postgresql://u:topsecret@host:notaport/db");
  EXPECT_EQ(CodeOf(store), ErrorCode::kInvalidArgument) << store.status().ToString();
  EXPECT_THAT(store.status().message(), Not(HasSubstr("topsecret")));
  EXPECT_EQ(CodeOf(OpenPostgresRunStore("mysql://host/db")), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace labbook::track::postgres
