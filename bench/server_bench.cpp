// server_bench: the team server under load, over real HTTP on the loopback interface.
//
//   (a) ingest: --points history points in batches of --batch (binary batches, one keep-alive
//       connection per client, --ingest-clients clients each logging its own run) against the
//       same batches written straight into a SqliteRunStore in this process: points/s and ratio.
//   (b) concurrency: --clients clients, each with its own connection and run, log batches of
//       --client-batch points for --seconds seconds; then every run's point count is read back.
//       Prints requests, errors, lost points and the p50/p99 request latency.
//   (c) downsampled read: --read-points points of one key, read over HTTP downsampled to 1,000
//       points (median of --read-repeats reads).
//
// The server runs in this process (labbook_server, the code `labbook serve` runs) with a SQLite
// store in a temporary directory. Medians are printed; the machine is shared and noisy.
//
// Exit status: 0; 1 when a check fails (an error, a lost point, a wrong count) or, with
// --require-targets, when a target is missed (>= 1,000,000 points/s ingest, zero errors and zero
// lost points under load, downsampled read < 50 ms); 2 on a usage error.
//
//   server_bench [--points 2000000] [--batch 10000] [--ingest-clients 2] [--repeats 3]
//                [--clients 200] [--seconds 60] [--client-batch 100]
//                [--read-points 1000000] [--read-repeats 21] [--require-targets]
#include <httplib.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "server/server.hpp"
#include "track/http/wire.hpp"
#include "track/store.hpp"

namespace {

namespace fs = std::filesystem;
using labbook::Result;
using labbook::track::HistoryBatch;
using Clock = std::chrono::steady_clock;

constexpr double kTargetPointsPerSecond = 1'000'000;
constexpr double kTargetDownsampledMs = 50;

struct Options {
  int64_t points = 2'000'000;
  int64_t batch = 10'000;
  int ingest_clients = 2;
  int repeats = 3;
  int clients = 200;
  double seconds = 60;
  int64_t client_batch = 100;
  int64_t read_points = 1'000'000;
  int read_repeats = 21;
  bool require_targets = false;
};

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

double Percentile(std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const size_t index = std::min(sorted.size() - 1, static_cast<size_t>(p * sorted.size()));
  return sorted[index];
}

std::string CpuModel() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "unknown CPU";
}

// A batch of `points` points over 8 keys, steps from `first_step`.
HistoryBatch MakeBatch(int64_t first_step, int64_t points) {
  HistoryBatch batch;
  batch.keys = {"loss", "acc", "val/loss", "val/acc", "lr", "grad_norm", "system/cpu", "time"};
  batch.points.reserve(points);
  for (int64_t i = 0; i < points; ++i) {
    const int64_t step = first_step + i / 8;
    batch.points.push_back({static_cast<uint32_t>(i % 8), step, 1.0 / (1.0 + step + i % 8),
                            1.7e9 + static_cast<double>(step)});
  }
  return batch;
}

struct Bench {
  fs::path dir;
  std::unique_ptr<labbook::server::Server> server;
  std::string key;

  bool Start(size_t threads) {
    labbook::server::ServerOptions options;
    options.port = 0;
    options.data_dir = dir / "server";
    options.threads = threads;
    Result<std::unique_ptr<labbook::server::Server>> created =
        labbook::server::Server::Create(options);
    if (!created.ok()) {
      std::fprintf(stderr, "server_bench: %s\n", created.status().ToString().c_str());
      return false;
    }
    server = std::move(*created);
    Result<std::string> secret = labbook::server::InitAdmin(server->auth(), "bench");
    if (!secret.ok()) return false;
    key = *secret;
    server->Start();
    return true;
  }

  httplib::Client Client() const {
    httplib::Client client("127.0.0.1", server->port());
    client.set_keep_alive(true);
    client.set_tcp_nodelay(true);
    client.set_read_timeout(60);
    client.set_write_timeout(60);
    client.set_bearer_token_auth(key.c_str());
    return client;
  }

  // Creates a run over HTTP; "" on failure.
  std::string CreateRun(httplib::Client& client, const std::string& project) const {
    nlohmann::json run = {{"entity", "bench"}, {"project", project}};
    auto result = client.Post("/api/v1/runs", run.dump(), "application/json");
    if (!result || result->status != 201) return "";
    return nlohmann::json::parse(result->body)["run"]["id"];
  }

  bool Log(httplib::Client& client, const std::string& run, const std::string& encoded) const {
    auto result = client.Post("/api/v1/runs/" + run + "/history", encoded,
                              std::string(labbook::track::wire::kHistoryBatchMediaType));
    return result && result->status == 200;
  }

  int64_t Count(httplib::Client& client, const std::string& run) const {
    auto result = client.Get("/api/v1/runs/" + run + "/keys");
    if (!result || result->status != 200) return -1;
    int64_t total = 0;
    const nlohmann::json body = nlohmann::json::parse(result->body);
    for (const auto& key : body["keys"]) {
      total += key["count"].get<int64_t>();
    }
    return total;
  }
};

bool ParseOptions(int argc, char** argv, Options& options) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&](auto& out) {
      if (i + 1 >= argc) return false;
      const std::string text = argv[++i];
      if constexpr (std::is_same_v<std::decay_t<decltype(out)>, double>) {
        out = std::atof(text.c_str());
      } else {
        out = std::atoll(text.c_str());
      }
      return true;
    };
    bool ok = true;
    if (arg == "--points")
      ok = value(options.points);
    else if (arg == "--batch")
      ok = value(options.batch);
    else if (arg == "--ingest-clients")
      ok = value(options.ingest_clients);
    else if (arg == "--repeats")
      ok = value(options.repeats);
    else if (arg == "--clients")
      ok = value(options.clients);
    else if (arg == "--seconds")
      ok = value(options.seconds);
    else if (arg == "--client-batch")
      ok = value(options.client_batch);
    else if (arg == "--read-points")
      ok = value(options.read_points);
    else if (arg == "--read-repeats")
      ok = value(options.read_repeats);
    else if (arg == "--require-targets")
      options.require_targets = true;
    else
      ok = false;
    if (!ok) {
      std::fprintf(stderr, "server_bench: unknown or incomplete option '%s'\n", arg.c_str());
      return false;
    }
  }
  return options.points > 0 && options.batch > 0 && options.ingest_clients > 0 &&
         options.repeats > 0 && options.clients > 0 && options.seconds > 0 &&
         options.client_batch > 0 && options.read_points > 0 && options.read_repeats > 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (!ParseOptions(argc, argv, options)) return 2;
  std::string pattern = (fs::temp_directory_path() / "labbook-server-bench-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) return 1;
  Bench bench{pattern};
  const size_t threads = static_cast<size_t>(std::max(options.clients, options.ingest_clients)) + 8;
  if (!bench.Start(threads)) return 1;
  bool failed = false;
  bool missed = false;

  std::printf("server_bench on %s, %u hardware threads, cpp-httplib, SQLite store\n",
              CpuModel().c_str(), std::thread::hardware_concurrency());

  // (a) Ingest over HTTP against the same batches into a local SqliteRunStore.
  const int64_t per_client = options.points / options.ingest_clients;
  std::vector<std::string> encoded;
  for (int64_t first = 0; first < per_client; first += options.batch) {
    encoded.push_back(labbook::track::wire::EncodeHistoryBatch(
        MakeBatch(first / 8, std::min(options.batch, per_client - first))));
  }
  std::vector<double> http_rates, local_rates;
  for (int repeat = 0; repeat < options.repeats; ++repeat) {
    std::vector<httplib::Client> clients;
    std::vector<std::string> runs;
    for (int c = 0; c < options.ingest_clients; ++c) {
      clients.push_back(bench.Client());
      runs.push_back(bench.CreateRun(clients.back(), "ingest"));
      if (runs.back().empty()) return 1;
    }
    std::atomic<bool> errors{false};
    const auto start = Clock::now();
    std::vector<std::thread> workers;
    for (int c = 0; c < options.ingest_clients; ++c) {
      workers.emplace_back([&, c] {
        for (const auto& batch : encoded) {
          if (!bench.Log(clients[c], runs[c], batch)) errors = true;
        }
      });
    }
    for (auto& worker : workers) worker.join();
    const double elapsed = Seconds(Clock::now() - start);
    if (errors) failed = true;
    for (int c = 0; c < options.ingest_clients; ++c) {
      if (bench.Count(clients[c], runs[c]) != per_client) failed = true;
    }
    http_rates.push_back(static_cast<double>(per_client * options.ingest_clients) / elapsed);

    // The same batches, decoded, into a store of this process: what the server costs on top.
    auto store = labbook::track::OpenStore(
        "sqlite://" + (bench.dir / ("local-" + std::to_string(repeat) + ".db")).string());
    if (!store.ok()) return 1;
    std::vector<std::string> local_runs;
    for (int c = 0; c < options.ingest_clients; ++c) {
      labbook::track::RunInfo info;
      info.entity = "bench";
      info.project = "ingest";
      auto created = (*store)->CreateRun(info);
      if (!created.ok()) return 1;
      local_runs.push_back(created->id);
    }
    std::vector<HistoryBatch> decoded;
    for (const auto& batch : encoded)
      decoded.push_back(*labbook::track::wire::DecodeHistoryBatch(batch));
    const auto local_start = Clock::now();
    workers.clear();
    for (int c = 0; c < options.ingest_clients; ++c) {
      workers.emplace_back([&, c] {
        for (const auto& batch : decoded) {
          if (!(*store)->LogHistory(local_runs[c], batch).ok()) errors = true;
        }
      });
    }
    for (auto& worker : workers) worker.join();
    local_rates.push_back(static_cast<double>(per_client * options.ingest_clients) /
                          Seconds(Clock::now() - local_start));
  }
  const double http_rate = Median(http_rates);
  const double local_rate = Median(local_rates);
  std::printf(
      "(a) ingest, %lld points in batches of %lld, %d clients: HTTP %.2fM points/s, "
      "local store %.2fM points/s, ratio %.2f (median of %d)%s\n",
      static_cast<long long>(per_client * options.ingest_clients),
      static_cast<long long>(options.batch), options.ingest_clients, http_rate / 1e6,
      local_rate / 1e6, http_rate / local_rate, options.repeats,
      http_rate >= kTargetPointsPerSecond ? "" : "  [below 1M points/s]");
  if (http_rate < kTargetPointsPerSecond) missed = true;

  // (b) Many clients at once, bounded in time.
  {
    const int n = options.clients;
    std::vector<std::string> runs(n);
    {
      auto client = bench.Client();
      for (int c = 0; c < n; ++c) {
        runs[c] = bench.CreateRun(client, "load");
        if (runs[c].empty()) return 1;
      }
    }
    std::atomic<int64_t> requests{0}, errors{0};
    std::vector<int64_t> sent(n, 0);
    std::vector<std::vector<double>> latencies(n);
    const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                             std::chrono::duration<double>(options.seconds));
    std::vector<std::thread> workers;
    for (int c = 0; c < n; ++c) {
      workers.emplace_back([&, c] {
        auto client = bench.Client();
        int64_t step = 0;
        while (Clock::now() < deadline) {
          const std::string batch =
              labbook::track::wire::EncodeHistoryBatch(MakeBatch(step, options.client_batch));
          const auto start = Clock::now();
          const bool ok = bench.Log(client, runs[c], batch);
          latencies[c].push_back(Seconds(Clock::now() - start) * 1e3);
          ++requests;
          if (ok) {
            sent[c] += options.client_batch;
            step += (options.client_batch + 7) / 8;
          } else {
            ++errors;
          }
        }
      });
    }
    for (auto& worker : workers) worker.join();
    int64_t lost = 0;
    auto client = bench.Client();
    for (int c = 0; c < n; ++c) {
      const int64_t stored = bench.Count(client, runs[c]);
      if (stored != sent[c]) {
        std::fprintf(stderr, "server_bench: run %s: %lld points sent, %lld stored\n",
                     runs[c].c_str(), static_cast<long long>(sent[c]),
                     static_cast<long long>(stored));
      }
      lost += sent[c] - stored;
    }
    std::vector<double> all;
    for (auto& list : latencies) all.insert(all.end(), list.begin(), list.end());
    std::sort(all.begin(), all.end());
    std::printf(
        "(b) %d clients for %.0f s, batches of %lld: %lld requests (%.0f/s), %lld errors, "
        "%lld lost points, latency p50 %.1f ms, p99 %.1f ms\n",
        n, options.seconds, static_cast<long long>(options.client_batch),
        static_cast<long long>(requests.load()), requests.load() / options.seconds,
        static_cast<long long>(errors.load()), static_cast<long long>(lost), Percentile(all, 0.5),
        Percentile(all, 0.99));
    if (errors > 0 || lost != 0) failed = true;
  }

  // (c) A downsampled read of a long series.
  {
    auto client = bench.Client();
    const std::string run = bench.CreateRun(client, "read");
    for (int64_t first = 0; first < options.read_points; first += options.batch) {
      HistoryBatch batch;
      batch.keys = {"loss"};
      for (int64_t s = first; s < std::min(options.read_points, first + options.batch); ++s) {
        batch.points.push_back({0, s, 1.0 / (1.0 + s), 1.7e9 + s});
      }
      if (!bench.Log(client, run, labbook::track::wire::EncodeHistoryBatch(batch))) return 1;
    }
    std::vector<double> times;
    for (int r = 0; r < options.read_repeats; ++r) {
      const auto start = Clock::now();
      auto result = client.Get("/api/v1/runs/" + run + "/history?key=loss&samples=1000");
      if (!result || result->status != 200) return 1;
      const auto series = nlohmann::json::parse(result->body)["series"];
      times.push_back(Seconds(Clock::now() - start) * 1e3);
      if (series["values"].size() > 1000 ||
          series["points_in_range"].get<int64_t>() != options.read_points) {
        failed = true;
      }
    }
    const double ms = Median(times);
    std::printf("(c) %lld points read over HTTP downsampled to 1,000: %.1f ms (median of %d)%s\n",
                static_cast<long long>(options.read_points), ms, options.read_repeats,
                ms < kTargetDownsampledMs ? "" : "  [over 50 ms]");
    if (ms >= kTargetDownsampledMs) missed = true;
  }

  bench.server->Stop();
  std::error_code ignored;
  fs::remove_all(bench.dir, ignored);
  if (failed) {
    std::fprintf(stderr, "server_bench: a check failed (errors, lost points or wrong counts)\n");
    return 1;
  }
  return options.require_targets && missed ? 1 : 0;
}
