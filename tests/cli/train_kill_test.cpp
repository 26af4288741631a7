// The fault requirement of run tracking, tested on the real program: a `labbook train` killed with
// SIGKILL loses at most the last second of logged points, leaves a database that passes
// PRAGMA integrity_check, and its run reads as crashed at once on this host.
//
// The epoch lines `labbook train` prints date what it has logged: the progress bar comes before
// the tracking callback, so when "Epoch k/N - ..." arrives every batch of epoch k has been logged
// (batch/* up to step k * steps_per_epoch) and so has epoch k - 1 (epoch/* at step k - 1); epoch
// k's own points are logged just after its line.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "../train/synthetic_images.hpp"
#include "cli_runner.hpp"
#include "labbook/dataset.hpp"
#include "track/liveness.hpp"
#include "track/store.hpp"

extern char** environ;

namespace labbook::testing {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

// 800 images of 16x16, a fifth held out: 640 training images, 20 batches of 32 per epoch, which
// the reference backend trains in about a tenth of a second (a second under AddressSanitizer).
constexpr int64_t kImages = 800;
constexpr int64_t kTrainImages = 640;
constexpr int64_t kBatchSize = 32;
constexpr int64_t kStepsPerEpoch = kTrainImages / kBatchSize;
constexpr int kEpochs = 1000;

// What the requirement allows to be lost: points logged in the last second before the kill.
constexpr double kLossWindowS = 1.0;
// Trained this long and at least this many epochs, then a random part of the writer's flush
// interval more (its timer starts a near constant time before the first epoch, so without it the
// kill would always hit the same phase of the timer), before the kill.
constexpr double kTrainBeforeKillS = 2.5;
constexpr double kRandomDelayS = 0.6;
constexpr int kEpochLinesBeforeKill = 8;
// Loading, building the model and opening the store on a loaded machine, under a sanitizer.
constexpr double kFirstEpochTimeoutS = 180;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

double UnixNow() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// "Epoch 12/1000 - 0.1s - ..." -> 12; 0 for any other line.
int EpochOfLine(const std::string& line) {
  int epoch = 0, total = 0;
  char dash = 0;
  if (std::sscanf(line.c_str(), "Epoch %d/%d %c", &epoch, &total, &dash) != 3 || dash != '-') {
    return 0;
  }
  return epoch;
}

struct EpochLine {
  int epoch = 0;
  Clock::time_point arrived;
};

// The first column of the first row of `sql` on the SQLite file `path`, as text.
std::string SqliteText(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  std::string text;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK) {
    sqlite3_busy_timeout(db, 30'000);
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_text(stmt, 0) != nullptr) {
      text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    } else {
      text = std::string("error: ") + sqlite3_errmsg(db);
    }
    sqlite3_finalize(stmt);
  } else {
    text = std::string("cannot open: ") + sqlite3_errmsg(db);
  }
  sqlite3_close(db);
  return text;
}

class TrainKillTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir("labbook-train-kill");
    store_ = dir_ + "/labbook.db";
    const std::string data = dir_ + "/stripes";
    fs::create_directories(data);
    Dataset dataset = MakeStripesDataset();  // its names and classes, with larger images
    dataset.train = MakeStripes(kImages, 21, /*size=*/16);
    dataset.test = MakeStripes(100, 22, /*size=*/16);
    ASSERT_TRUE(WriteIdxDataset(dataset, data).ok());
    config_ = dir_ + "/long.yaml";
    WriteFile(config_, "dataset: idx:" + data +
                           "\n"
                           "validation_split: 0.2\n"
                           "layers:\n"
                           "  - {type: Conv2D, filters: 16, kernel_size: 3, activation: relu}\n"
                           "  - {type: MaxPooling2D, pool_size: 2}\n"
                           "  - {type: Flatten}\n"
                           "  - {type: Dense, units: 2, activation: softmax}\n"
                           "loss: sparse_categorical_crossentropy\n"
                           "optimizer: {name: adam, learning_rate: 0.001}\n"
                           "batch_size: " +
                           std::to_string(kBatchSize) + "\nepochs: " + std::to_string(kEpochs) +
                           "\nseed: 5\nbackend: reference\n");
  }

  void TearDown() override {
    if (child_ > 0) {
      kill(child_, SIGKILL);
      waitpid(child_, nullptr, 0);
    }
    if (out_fd_ >= 0) close(out_fd_);
    fs::remove_all(dir_);
  }

  // Starts `labbook train` recording into store_, its stdout into out_fd_, stderr into a file.
  void StartTraining() {
    int fds[2];
    ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
    out_fd_ = fds[0];
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
    const std::string err_path = dir_ + "/stderr";
    posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    std::vector<std::string> args = {
        LABBOOK_CLI, "train", config_, "--store", store_, "--model-out", dir_ + "/model.lbm"};
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const int spawned = posix_spawn(&child_, LABBOOK_CLI, &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    if (spawned != 0) child_ = -1;
    ASSERT_EQ(spawned, 0) << std::strerror(spawned);
  }

  // Reads whatever stdout has for up to `timeout_ms`; complete lines go to out_lines_ and epoch
  // lines, with their arrival time, to epoch_lines_. False at end of file.
  bool ReadOutput(int timeout_ms) {
    pollfd p{out_fd_, POLLIN, 0};
    const int ready = poll(&p, 1, timeout_ms);
    if (ready <= 0) return ready == 0 || errno == EINTR;
    char buf[4096];
    const ssize_t n = read(out_fd_, buf, sizeof buf);
    if (n <= 0) return n < 0 && errno == EINTR;
    const Clock::time_point now = Clock::now();
    pending_.append(buf, static_cast<size_t>(n));
    for (size_t end; (end = pending_.find('\n')) != std::string::npos;) {
      std::string line = pending_.substr(0, end);
      pending_.erase(0, end + 1);
      if (const int epoch = EpochOfLine(line); epoch > 0) epoch_lines_.push_back({epoch, now});
      out_lines_.push_back(std::move(line));
    }
    return true;
  }

  std::string Transcript() const {
    std::string text;
    for (const std::string& line : out_lines_) text += line + "\n";
    return text + pending_ + "\nstderr:\n" + ReadFile(dir_ + "/stderr");
  }

  std::string dir_, store_, config_;
  pid_t child_ = -1;
  int out_fd_ = -1;
  std::string pending_;
  std::vector<std::string> out_lines_;
  std::vector<EpochLine> epoch_lines_;
};

TEST_F(TrainKillTest, SigkillLosesAtMostTheLastSecondAndTheRunReadsCrashed) {
  ASSERT_NO_FATAL_FAILURE(StartTraining());
  const Clock::time_point started = Clock::now();
  while (epoch_lines_.empty()) {
    ASSERT_LT(Seconds(Clock::now() - started), kFirstEpochTimeoutS) << Transcript();
    ASSERT_TRUE(ReadOutput(50)) << "labbook train ended before its first epoch\n" << Transcript();
  }
  const Clock::time_point first_epoch = epoch_lines_.front().arrived;
  while (Seconds(Clock::now() - first_epoch) < kTrainBeforeKillS ||
         static_cast<int>(epoch_lines_.size()) < kEpochLinesBeforeKill) {
    ASSERT_LT(Seconds(Clock::now() - first_epoch), 20 * kTrainBeforeKillS) << Transcript();
    ASSERT_TRUE(ReadOutput(10)) << "labbook train ended before it was killed\n" << Transcript();
  }
  std::mt19937 random(std::random_device{}());
  const double delay = std::uniform_real_distribution<double>(0, kRandomDelayS)(random);
  for (const Clock::time_point ready = Clock::now(); Seconds(Clock::now() - ready) < delay;) {
    ASSERT_TRUE(ReadOutput(10)) << "labbook train ended before it was killed\n" << Transcript();
  }
  ASSERT_EQ(kill(child_, SIGKILL), 0);
  const Clock::time_point killed = Clock::now();
  const double killed_unix = UnixNow();
  int wstatus = 0;
  ASSERT_EQ(waitpid(child_, &wstatus, 0), child_);
  child_ = -1;
  ASSERT_TRUE(WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL) << wstatus;
  const std::vector<EpochLine> before_kill = epoch_lines_;
  // What it printed before it died and was not read yet.
  while (ReadOutput(100) && Seconds(Clock::now() - killed) < 10) {
  }
  ASSERT_NE(Transcript().find(": 640 train / 160 validation / 100 test images of 16x16x1"),
            std::string::npos)
      << Transcript();

  // The database as the killed process left it: whole, and its run still "running", so what
  // follows shows the readers' own judgement. A copy lets `runs list` judge it afresh after
  // `runs show` has recorded the crash.
  EXPECT_EQ(SqliteText(store_, "PRAGMA integrity_check"), "ok");
  EXPECT_EQ(SqliteText(store_, "SELECT group_concat(state) FROM runs"), "running");
  const std::string copy = dir_ + "/copy.db";
  fs::copy_file(store_, copy);
  // The WAL may already be checkpointed away; the copy then needs none.
  std::error_code no_wal;
  fs::copy_file(store_ + "-wal", copy + "-wal", no_wal);

  Result<std::unique_ptr<track::RunStore>> store = track::OpenStore(store_);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  Result<std::vector<track::RunInfo>> runs = (*store)->ListRuns({});
  ASSERT_TRUE(runs.ok()) << runs.status().ToString();
  ASSERT_EQ(runs->size(), 1u);
  const std::string id = runs->front().id;

  CliResult show = RunCli({"runs", "show", id, "--json", "--store", store_});
  ASSERT_EQ(show.exit_code, 0) << show.err;
  const double shown_unix = UnixNow();
  const json shown = json::parse(show.out);
  EXPECT_EQ(shown.at("state"), "crashed") << show.out;
  // Crashed because its pid is gone, not because its heartbeat went stale.
  const double last_sign = shown.at("heartbeat_time").is_number()
                               ? shown.at("heartbeat_time").get<double>()
                               : shown.at("start_time").get<double>();
  EXPECT_LT(shown_unix - last_sign, track::kStaleAfterS) << show.out;

  CliResult list = RunCli({"runs", "list", "--json", "--store", copy});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  const json listed = json::parse(list.out);
  ASSERT_EQ(listed.size(), 1u) << list.out;
  EXPECT_EQ(listed.at(0).at("id"), id);
  EXPECT_EQ(listed.at(0).at("state"), "crashed") << list.out;

  Result<track::Series> batches = (*store)->ReadHistory(id, "batch/loss", {});
  ASSERT_TRUE(batches.ok()) << batches.status().ToString();
  Result<track::Series> epochs = (*store)->ReadHistory(id, "epoch/loss", {});
  ASSERT_TRUE(epochs.ok()) << epochs.status().ToString();
  // Every step once, from 1 up: nothing stored out of order or with holes.
  for (size_t i = 0; i < batches->steps.size(); ++i) {
    ASSERT_EQ(batches->steps[i], static_cast<int64_t>(i) + 1);
  }
  for (size_t i = 0; i < epochs->steps.size(); ++i) {
    ASSERT_EQ(epochs->steps[i], static_cast<int64_t>(i) + 1);
  }
  const int64_t stored_steps = static_cast<int64_t>(batches->steps.size());
  const int64_t stored_epochs = static_cast<int64_t>(epochs->steps.size());

  // What had been logged more than a second before the kill, by the newest epoch line that
  // arrived by then (lines arrive after they are printed, so this errs on the safe side).
  int proven_line = 0;
  for (const EpochLine& line : before_kill) {
    if (Seconds(killed - line.arrived) > kLossWindowS) proven_line = line.epoch;
  }
  ASSERT_GE(proven_line, 2) << "too few epochs more than a second before the kill\n"
                            << Transcript();
  EXPECT_GE(stored_epochs, proven_line - 1);
  EXPECT_GE(stored_steps, proven_line * kStepsPerEpoch);
  // Nothing beyond what the program printed before it died, plus the epoch it died in.
  const int last_line = before_kill.back().epoch;
  const int last_printed = epoch_lines_.back().epoch;
  EXPECT_LE(stored_epochs, last_printed);
  EXPECT_LE(stored_steps, (last_printed + 1) * kStepsPerEpoch);

  // The same, measured on the points' own clock: the newest stored point was logged less than a
  // second before the kill (the coarse clock that stamps it lags by at most a tick).
  ASSERT_FALSE(batches->wall_times.empty() || epochs->wall_times.empty());
  const double newest_stored = std::max(batches->wall_times.back(), epochs->wall_times.back());
  const double lost_window = killed_unix - newest_stored;
  EXPECT_LT(lost_window, kLossWindowS + 0.01);

  const double epoch_seconds = Seconds(before_kill.back().arrived - before_kill.front().arrived) /
                               std::max<double>(1.0, static_cast<double>(before_kill.size()) - 1);
  std::printf(
      "killed after %.2f s of training (%.3f s/epoch), %.3f s after the newest stored point was "
      "logged; epoch lines before the kill: %d (%lld batch steps), more than 1 s before it: %d; "
      "stored: %lld epochs, %lld batch steps\n",
      Seconds(killed - first_epoch), epoch_seconds, lost_window, last_line,
      static_cast<long long>(last_line * kStepsPerEpoch), proven_line,
      static_cast<long long>(stored_epochs), static_cast<long long>(stored_steps));
  EXPECT_EQ(SqliteText(store_, "PRAGMA integrity_check"), "ok");
}

}  // namespace
}  // namespace labbook::testing
