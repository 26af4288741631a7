// track_ingest_bench: the SQLite run store's history ingest against raw SQLite inserting the same
// rows, and its downsampled read of a million points.
//
// Generates --points points over --keys keys (every key at every step, values from a fixed
// seed), cut into batches of --batch points. Each repetition writes them into fresh files twice:
//   (a) raw SQLite, the table a user would write: one row per point (run_id, key, step, value,
//       wall_time), one prepared INSERT, one transaction per batch;
//   (b) SqliteRunStore::LogHistory with the same batches.
// Both connections use the store's settings: WAL mode with synchronous=NORMAL (a committed
// transaction survives a crash of the process, which is what the store promises; a power cut may
// lose the last ones) and a checkpoint every 10,000 WAL pages. Medians of the repetitions are
// printed, with their ratio. The same is measured for many tiny calls, --tiny-points points in
// batches of --tiny-batch points (the store buffers such batches, sqlite_store.hpp; raw SQLite
// still commits one transaction per batch). Then (c) --read-points points of one key are logged
// and read back, downsampled to 1,000 points (median of --read-repeats reads) and in full.
//
// Exit status: 0; 1 when a read returns the wrong number of points, or, with --require-targets,
// when a target is missed (>= 2,000,000 points/s, >= 0.5x raw SQLite, tiny calls >= 1.0x raw
// SQLite, downsampled read < 50 ms); 2 on a usage error.
//
//   track_ingest_bench [--points 2000000] [--keys 8] [--batch 8192] [--repeats 5]
//                      [--tiny-points 100000] [--tiny-batch 4]
//                      [--read-points 1000000] [--read-repeats 21] [--dir DIR]
//                      [--require-targets]
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "track/sqlite/sqlite_store.hpp"

namespace {

namespace fs = std::filesystem;
using labbook::Result;
using labbook::Status;
using labbook::track::HistoryBatch;
using labbook::track::HistoryPoint;
using labbook::track::RunStore;

constexpr double kTargetPointsPerSecond = 2'000'000;
constexpr double kTargetRatio = 0.5;
constexpr double kTargetTinyRatio = 1.0;
constexpr double kTargetDownsampledMs = 50;
constexpr size_t kDownsampledPoints = 1000;

struct Options {
  int64_t points = 2'000'000;
  int keys = 8;
  int64_t batch = 8192;
  int repeats = 5;
  int64_t tiny_points = 100'000;
  int64_t tiny_batch = 4;
  int64_t read_points = 1'000'000;
  int read_repeats = 21;
  fs::path dir;
  bool require_targets = false;
};

bool ParseOptions(int argc, char** argv, Options* options) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const char* v = nullptr;
    if (arg == "--require-targets") {
      options->require_targets = true;
    } else if (arg == "--points" && (v = value())) {
      options->points = std::atoll(v);
    } else if (arg == "--keys" && (v = value())) {
      options->keys = std::atoi(v);
    } else if (arg == "--batch" && (v = value())) {
      options->batch = std::atoll(v);
    } else if (arg == "--tiny-points" && (v = value())) {
      options->tiny_points = std::atoll(v);
    } else if (arg == "--tiny-batch" && (v = value())) {
      options->tiny_batch = std::atoll(v);
    } else if (arg == "--repeats" && (v = value())) {
      options->repeats = std::atoi(v);
    } else if (arg == "--read-points" && (v = value())) {
      options->read_points = std::atoll(v);
    } else if (arg == "--read-repeats" && (v = value())) {
      options->read_repeats = std::atoi(v);
    } else if (arg == "--dir" && (v = value())) {
      options->dir = v;
    } else {
      std::cerr << "track_ingest_bench: unknown or incomplete option '" << arg << "'\n";
      return false;
    }
  }
  if (options->points < 1 || options->keys < 1 || options->batch < 1 || options->repeats < 1 ||
      options->tiny_points < 1 || options->tiny_batch < 1 || options->read_points < 1 ||
      options->read_repeats < 1) {
    std::cerr << "track_ingest_bench: every count must be >= 1\n";
    return false;
  }
  return true;
}

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

// "1,234,567"
std::string Thousands(double value) {
  const std::string digits = std::to_string(std::llround(value));
  std::string grouped;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && digits[i - 1] != '-' && (digits.size() - i) % 3 == 0) grouped += ',';
    grouped += digits[i];
  }
  return grouped;
}

std::string Fixed(double value, int decimals) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", decimals, value);
  return text;
}

// Every key at every step, in step order; values a noisy wave per key.
std::vector<HistoryBatch> MakeBatches(int64_t points, int keys, int64_t batch_size) {
  std::vector<std::string> names;
  for (int k = 0; k < keys; ++k) names.push_back(k == 0 ? "loss" : "metric/" + std::to_string(k));
  std::mt19937_64 rng(12345);
  std::normal_distribution<double> noise(0.0, 0.05);
  std::vector<HistoryBatch> batches;
  for (int64_t i = 0; i < points; ++i) {
    if (i % batch_size == 0) {
      batches.emplace_back();
      batches.back().keys = names;
      batches.back().points.reserve(static_cast<size_t>(std::min(batch_size, points - i)));
    }
    const int64_t step = i / keys;
    const auto key = static_cast<uint32_t>(i % keys);
    const double value = std::sin(static_cast<double>(step) * 1e-3 + key) + noise(rng);
    batches.back().points.push_back({key, step, value, 1.7e9 + static_cast<double>(step) * 0.01});
  }
  return batches;
}

bool Check(int rc, sqlite3* db, const char* what) {
  if (rc == SQLITE_OK || rc == SQLITE_DONE) return true;
  std::cerr << "track_ingest_bench: raw SQLite: " << what << ": " << sqlite3_errmsg(db) << "\n";
  return false;
}

// (a) Seconds to insert every point as one row, a transaction per batch; -1 on an error.
double RawSqliteSeconds(const fs::path& path, const std::vector<HistoryBatch>& batches) {
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) return -1;
  sqlite3_stmt* insert = nullptr;
  bool ok = Check(sqlite3_exec(db,
                               "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; "
                               "PRAGMA wal_autocheckpoint = 10000; CREATE TABLE history (run_id "
                               "TEXT NOT NULL, key TEXT NOT NULL, "
                               "step INTEGER NOT NULL, value REAL, wall_time REAL NOT NULL)",
                               nullptr, nullptr, nullptr),
                  db, "create the table") &&
            Check(sqlite3_prepare_v2(db, "INSERT INTO history VALUES (?1, ?2, ?3, ?4, ?5)", -1,
                                     &insert, nullptr),
                  db, "prepare");
  const auto start = std::chrono::steady_clock::now();
  for (size_t b = 0; ok && b < batches.size(); ++b) {
    const HistoryBatch& batch = batches[b];
    ok = Check(sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr), db, "begin");
    for (const HistoryPoint& p : batch.points) {
      if (!ok) break;
      const std::string& key = batch.keys[p.key];
      sqlite3_bind_text(insert, 1, "r0n1d2x3", 8, SQLITE_STATIC);
      sqlite3_bind_text(insert, 2, key.data(), static_cast<int>(key.size()), SQLITE_STATIC);
      sqlite3_bind_int64(insert, 3, p.step);
      sqlite3_bind_double(insert, 4, p.value);
      sqlite3_bind_double(insert, 5, p.wall_time);
      ok = Check(sqlite3_step(insert), db, "insert");
      sqlite3_reset(insert);
    }
    ok = ok && Check(sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr), db, "commit");
  }
  const double seconds = Seconds(start);
  sqlite3_finalize(insert);
  sqlite3_close(db);
  return ok ? seconds : -1;
}

std::unique_ptr<RunStore> OpenStore(const fs::path& path, std::string* run_id) {
  Result<std::unique_ptr<RunStore>> store = labbook::track::sqlite::OpenSqliteRunStore(path);
  if (!store.ok()) {
    std::cerr << "track_ingest_bench: " << store.status().ToString() << "\n";
    return nullptr;
  }
  labbook::track::RunInfo run;
  run.entity = "bench";
  run.project = "ingest";
  Result<labbook::track::RunInfo> created = (*store)->CreateRun(run);
  if (!created.ok()) {
    std::cerr << "track_ingest_bench: " << created.status().ToString() << "\n";
    return nullptr;
  }
  *run_id = created->id;
  return std::move(store).value();
}

// (b) Seconds for LogHistory of every batch into a fresh store; -1 on an error.
double StoreSeconds(const fs::path& path, const std::vector<HistoryBatch>& batches) {
  std::string run_id;
  std::unique_ptr<RunStore> store = OpenStore(path, &run_id);
  if (store == nullptr) return -1;
  const auto start = std::chrono::steady_clock::now();
  for (const HistoryBatch& batch : batches) {
    Status logged = store->LogHistory(run_id, batch);
    if (!logged.ok()) {
      std::cerr << "track_ingest_bench: " << logged.ToString() << "\n";
      return -1;
    }
  }
  return Seconds(start);
}

double MegabytesOf(const fs::path& db) {
  std::error_code error;
  uintmax_t bytes = 0;
  for (const char* suffix : {"", "-wal"}) {
    const uintmax_t size = fs::file_size(db.string() + suffix, error);
    if (!error) bytes += size;
  }
  return static_cast<double>(bytes) / 1e6;
}

void RemoveDatabase(const fs::path& db) {
  std::error_code ignored;
  for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(db.string() + suffix, ignored);
  fs::remove_all(db.string() + ".blobs", ignored);
}

struct ReadTimes {
  double downsampled_ms = 0;
  double full_ms = 0;
  bool correct = false;
};

// (c) One key of `points` points, read back downsampled and in full.
ReadTimes TimeReads(const fs::path& path, int64_t points, int64_t batch_size, int repeats) {
  ReadTimes times;
  std::string run_id;
  std::unique_ptr<RunStore> store = OpenStore(path, &run_id);
  if (store == nullptr) return times;
  for (const HistoryBatch& batch : MakeBatches(points, 1, batch_size)) {
    if (!store->LogHistory(run_id, batch).ok()) return times;
  }
  labbook::track::HistoryQuery sampled;
  sampled.max_points = kDownsampledPoints;
  std::vector<double> downsampled_ms;
  std::vector<double> full_ms;
  times.correct = true;
  for (int r = 0; r < repeats; ++r) {
    const auto start = std::chrono::steady_clock::now();
    Result<labbook::track::Series> series = store->ReadHistory(run_id, "loss", sampled);
    downsampled_ms.push_back(Seconds(start) * 1e3);
    times.correct = times.correct && series.ok() && series->points_in_range == points &&
                    series->steps.size() <= kDownsampledPoints;
  }
  for (int r = 0; r < std::max(1, repeats / 4); ++r) {
    const auto start = std::chrono::steady_clock::now();
    Result<labbook::track::Series> series = store->ReadHistory(run_id, "loss", {});
    full_ms.push_back(Seconds(start) * 1e3);
    times.correct =
        times.correct && series.ok() && series->steps.size() == static_cast<size_t>(points);
  }
  times.downsampled_ms = Median(downsampled_ms);
  times.full_ms = Median(full_ms);
  return times;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (!ParseOptions(argc, argv, &options)) return 2;
  const bool own_dir = options.dir.empty();
  if (own_dir) {
    options.dir =
        fs::temp_directory_path() / ("labbook-ingest-bench-" + std::to_string(::getpid()));
  }
  fs::create_directories(options.dir);
  const fs::path raw_path = options.dir / "raw.db";
  const fs::path store_path = options.dir / "store.db";

  const std::vector<HistoryBatch> batches =
      MakeBatches(options.points, options.keys, options.batch);
  std::cout << "track_ingest_bench: " << Thousands(static_cast<double>(options.points))
            << " points, " << options.keys << " keys, batches of "
            << Thousands(static_cast<double>(options.batch)) << " points, " << options.repeats
            << " repetitions (medians), SQLite " << sqlite3_libversion() << ", in "
            << options.dir.string() << "\n";
  std::vector<double> raw_rates;
  std::vector<double> store_rates;
  double raw_mb = 0;
  double store_mb = 0;
  for (int r = 0; r < options.repeats; ++r) {
    RemoveDatabase(raw_path);
    RemoveDatabase(store_path);
    const double raw_seconds = RawSqliteSeconds(raw_path, batches);
    const double store_seconds = StoreSeconds(store_path, batches);
    if (raw_seconds < 0 || store_seconds < 0) return 1;
    raw_rates.push_back(static_cast<double>(options.points) / raw_seconds);
    store_rates.push_back(static_cast<double>(options.points) / store_seconds);
    raw_mb = MegabytesOf(raw_path);
    store_mb = MegabytesOf(store_path);
  }
  const double raw_rate = Median(raw_rates);
  const double store_rate = Median(store_rates);
  const double ratio = store_rate / raw_rate;
  std::cout << "  (a) raw SQLite, one row per point:   " << Thousands(raw_rate) << " points/s ("
            << Fixed(raw_mb, 1) << " MB on disk)\n"
            << "  (b) SqliteRunStore::LogHistory:      " << Thousands(store_rate) << " points/s ("
            << Fixed(store_mb, 1) << " MB on disk)\n"
            << "      store / raw: " << Fixed(ratio, 2)
            << "x (targets: >= " << Fixed(kTargetRatio, 1)
            << "x and >= " << Thousands(kTargetPointsPerSecond) << " points/s)\n";
  RemoveDatabase(raw_path);
  RemoveDatabase(store_path);

  const std::vector<HistoryBatch> tiny_batches =
      MakeBatches(options.tiny_points, options.keys, options.tiny_batch);
  std::vector<double> tiny_raw_rates;
  std::vector<double> tiny_store_rates;
  for (int r = 0; r < options.repeats; ++r) {
    RemoveDatabase(raw_path);
    RemoveDatabase(store_path);
    const double raw_seconds = RawSqliteSeconds(raw_path, tiny_batches);
    const double store_seconds = StoreSeconds(store_path, tiny_batches);
    if (raw_seconds < 0 || store_seconds < 0) return 1;
    tiny_raw_rates.push_back(static_cast<double>(options.tiny_points) / raw_seconds);
    tiny_store_rates.push_back(static_cast<double>(options.tiny_points) / store_seconds);
  }
  const double tiny_raw_rate = Median(tiny_raw_rates);
  const double tiny_store_rate = Median(tiny_store_rates);
  const double tiny_ratio = tiny_store_rate / tiny_raw_rate;
  std::cout << "  tiny calls: " << Thousands(static_cast<double>(options.tiny_points))
            << " points in batches of " << options.tiny_batch << ":\n"
            << "  (a) raw SQLite, a transaction a batch: " << Thousands(tiny_raw_rate)
            << " points/s\n"
            << "  (b) SqliteRunStore::LogHistory:        " << Thousands(tiny_store_rate)
            << " points/s\n"
            << "      store / raw: " << Fixed(tiny_ratio, 2)
            << "x (target: >= " << Fixed(kTargetTinyRatio, 1) << "x)\n";
  RemoveDatabase(raw_path);
  RemoveDatabase(store_path);

  const ReadTimes reads =
      TimeReads(store_path, options.read_points, options.batch, options.read_repeats);
  std::cout << "  (c) " << Thousands(static_cast<double>(options.read_points))
            << " points of one key: downsampled to " << Thousands(kDownsampledPoints) << " in "
            << Fixed(reads.downsampled_ms, 2) << " ms (median of " << options.read_repeats
            << "; target < " << Fixed(kTargetDownsampledMs, 0) << " ms), full read in "
            << Fixed(reads.full_ms, 1) << " ms (median of " << std::max(1, options.read_repeats / 4)
            << ")\n";
  RemoveDatabase(store_path);
  if (own_dir) fs::remove_all(options.dir);

  if (!reads.correct) {
    std::cerr << "track_ingest_bench: a read returned the wrong number of points\n";
    return 1;
  }
  const bool met = store_rate >= kTargetPointsPerSecond && ratio >= kTargetRatio &&
                   tiny_ratio >= kTargetTinyRatio && reads.downsampled_ms < kTargetDownsampledMs;
  std::cout << "  targets " << (met ? "met" : "MISSED") << "\n";
  return options.require_targets && !met ? 1 : 0;
}
