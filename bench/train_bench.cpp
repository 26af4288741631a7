// train_bench: one epoch of the reference CNN of issue 3 on fashion-mnist, labbook's oneDNN
// backend against PyTorch on the same data, batch size and thread count.
//
// Model: Conv2D 32 3x3 relu, MaxPool 2, Conv2D 64 3x3 relu, MaxPool 2, Flatten, Dropout 0.5,
// Dense 10 softmax; Adam 1e-3; batch 128; sparse categorical cross-entropy (fused with the
// softmax: Backward(kPreActivation) with p - y). Each round trains labbook in every precision
// asked for and PyTorch (fp32, torch.set_num_threads) one after the other, so both see the same
// machine load; the report gives the median over rounds of samples/s, the ratio to PyTorch,
// effective GFLOP/s beside the measured f32 matrix-multiply peak, evaluation speed on the test
// set (inference mode), accuracy as a sanity check, and peak memory (getrusage maxrss).
//
//   train_bench [--dataset fashion-mnist] [--epochs 1] [--limit N] [--precision fp32|bf16|both]
//               [--skip-torch]
//               [--rounds 1] [--threads 2] [--batch 128] [--eval-batch 128] [--seed 1]
//
// Round r uses seed + r for both peers, so medians of accuracy are over seeds.
//
// LABBOOK_PROFILE=1 adds the oneDNN backend's per-step time table of every model it ran.
// Exit status: 0, 1 when a run fails (PyTorch missing counts only without --skip-torch), 2 on a
// usage error.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <numeric>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>
#include <oneapi/dnnl/dnnl.hpp>

#include "labbook/dataset.hpp"
#include "nn/backend.hpp"
#include "nn/loss.hpp"
#include "nn/onednn/model.hpp"
#include "nn/optimizer.hpp"
#include "nn/random.hpp"
#include "nn/spec.hpp"

namespace {

namespace fs = std::filesystem;
namespace nn = labbook::nn;
using Clock = std::chrono::steady_clock;

struct Options {
  int epochs = 1;
  int64_t limit = 0;  // 0: the whole training set
  bool fp32 = true;
  bool bf16 = true;
  bool torch = true;
  int rounds = 1;
  int threads = 2;
  int batch = 128;
  int eval_batch = 0;  // 0: the training batch size
  uint64_t seed = 1;
  std::string dataset = "fashion-mnist";
};

bool ParseOptions(int argc, char** argv, Options* o) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const char* v = nullptr;
    if (arg == "--skip-torch") {
      o->torch = false;
    } else if (arg == "--dataset" && (v = value())) {
      o->dataset = v;
    } else if (arg == "--epochs" && (v = value())) {
      o->epochs = std::atoi(v);
    } else if (arg == "--limit" && (v = value())) {
      o->limit = std::atoll(v);
    } else if (arg == "--rounds" && (v = value())) {
      o->rounds = std::atoi(v);
    } else if (arg == "--threads" && (v = value())) {
      o->threads = std::atoi(v);
    } else if (arg == "--batch" && (v = value())) {
      o->batch = std::atoi(v);
    } else if (arg == "--eval-batch" && (v = value())) {
      o->eval_batch = std::atoi(v);
    } else if (arg == "--seed" && (v = value())) {
      o->seed = std::strtoull(v, nullptr, 10);
    } else if (arg == "--precision" && (v = value())) {
      const std::string_view p = v;
      o->fp32 = p == "fp32" || p == "both";
      o->bf16 = p == "bf16" || p == "both";
      if (!o->fp32 && !o->bf16) {
        std::cerr << "train_bench: --precision takes fp32, bf16 or both, got '" << p << "'\n";
        return false;
      }
    } else {
      std::cerr << "train_bench: unknown or incomplete option '" << arg << "'\n";
      return false;
    }
  }
  if (o->epochs < 1 || o->limit < 0 || o->rounds < 1 || o->threads < 1 || o->batch < 1 ||
      o->eval_batch < 0) {
    std::cerr << "train_bench: --epochs, --rounds, --threads and --batch must be >= 1, --limit "
                 "and --eval-batch >= 0\n";
    return false;
  }
  if (o->eval_batch == 0) o->eval_batch = o->batch;
  return true;
}

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

double Median(std::vector<double> v) {
  if (v.empty()) return std::nan("");
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

nn::ModelSpec ReferenceCnn(int rows, int cols) {
  nn::Conv2DSpec conv1;
  conv1.filters = 32;
  conv1.activation = nn::Activation::kRelu;
  nn::Conv2DSpec conv2 = conv1;
  conv2.filters = 64;
  nn::DenseSpec dense;
  dense.units = 10;
  dense.activation = nn::Activation::kSoftmax;
  return {{1, rows, cols, false},
          {conv1, nn::Pool2DSpec{}, conv2, nn::Pool2DSpec{}, nn::FlattenSpec{},
           nn::DropoutSpec{0.5}, dense}};
}

// Multiply-adds times two of one sample's forward pass, and of a training step (forward,
// backward-data of every layer but the first with weights, backward-weights).
struct Flops {
  double forward = 0;
  double training = 0;
};

Flops CountFlops(const nn::ModelSpec& spec, const std::vector<nn::LayerInfo>& layers) {
  Flops flops;
  bool first_weighted = true;
  for (size_t i = 0; i < layers.size(); ++i) {
    const nn::SampleShape& in = i == 0 ? spec.input : layers[i - 1].output;
    double macs = 0;
    if (const auto* conv = std::get_if<nn::Conv2DSpec>(&spec.layers[i])) {
      macs = static_cast<double>(layers[i].output.size()) * in.channels * conv->kernel_h *
             conv->kernel_w;
    } else if (std::holds_alternative<nn::DenseSpec>(spec.layers[i])) {
      macs = static_cast<double>(layers[i].output.size()) * static_cast<double>(in.size());
    } else {
      continue;
    }
    flops.forward += 2 * macs;
    flops.training += 2 * macs * (first_weighted ? 2 : 3);
    first_weighted = false;
  }
  return flops;
}

// The best of several f32 (and bf16, when the CPU has it) matrix multiplications of a large
// square size on oneDNN: the machine's practical peak.
double MatmulPeakGflops(dnnl::memory::data_type type) {
  try {
    dnnl::engine engine(dnnl::engine::kind::cpu, 0);
    dnnl::stream stream(engine);
    const int64_t m = 2048;
    const dnnl::memory::desc in({m, m}, type, dnnl::memory::format_tag::ab);
    const dnnl::memory::desc out({m, m}, dnnl::memory::data_type::f32,
                                 dnnl::memory::format_tag::ab);
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(in, in, out), engine);
    dnnl::memory a(in, engine), b(in, engine), c(out, engine);
    std::fill_n(static_cast<char*>(a.get_data_handle()), in.get_size(), 0);
    std::fill_n(static_cast<char*>(b.get_data_handle()), in.get_size(), 0);
    dnnl::matmul matmul(pd);
    double best = 0;
    for (int r = 0; r < 6; ++r) {
      const auto start = Clock::now();
      matmul.execute(stream, {{DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, b}, {DNNL_ARG_DST, c}});
      stream.wait();
      best = std::max(best, 2.0 * m * m * m / Seconds(start) / 1e9);
    }
    return best;
  } catch (const dnnl::error&) {
    return std::nan("");
  }
}

double PeakRssMiB() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024.0;
}

struct RunResult {
  bool ok = false;
  double train_seconds = 0;
  double train_samples_per_s = 0;
  double eval_samples_per_s = 0;
  double test_accuracy = 0;
  double last_loss = 0;
  double peak_rss_mib = 0;
  // Where the training time went, in seconds: batch assembly, Forward, loss, Backward, optimizer.
  double data_s = 0, forward_s = 0, loss_s = 0, backward_s = 0, optimizer_s = 0;
  bool native_bf16 = false;
};

// Trains and evaluates one model on labbook's oneDNN backend.
RunResult RunLabbook(const Options& o, const labbook::Dataset& data, int64_t train_count,
                     int64_t test_count, nn::Precision precision) {
  RunResult r;
  const labbook::ImageSet& train = data.train;
  const int64_t pixels = int64_t{train.rows} * train.cols * train.channels;
  const nn::ModelSpec spec = ReferenceCnn(train.rows, train.cols);
  auto backend = nn::MakeOneDnnBackend(o.threads);
  auto compiled = backend->Compile(spec, o.batch, precision, o.seed);
  if (!compiled.ok()) {
    std::cerr << "train_bench: " << compiled.status().ToString() << "\n";
    return r;
  }
  std::unique_ptr<nn::CompiledModel> model = std::move(compiled).value();
  r.native_bf16 = dynamic_cast<nn::onednn::OneDnnModel&>(*model).native_bf16();
  auto optimizer = nn::Optimizer::Create(
      nn::OptimizerOptions::KerasDefaults(nn::OptimizerKind::kAdam), model->Parameters());
  if (!optimizer.ok()) {
    std::cerr << "train_bench: " << optimizer.status().ToString() << "\n";
    return r;
  }
  const nn::Loss loss(nn::LossKind::kSparseCategoricalCrossentropy, nn::Activation::kSoftmax);
  const int k = data.num_classes;

  const int max_batch = std::max(o.batch, o.eval_batch);
  std::vector<float> batch(static_cast<size_t>(max_batch) * pixels);
  std::vector<int32_t> labels(max_batch);
  std::vector<float> grad(static_cast<size_t>(o.batch) * k);
  std::vector<int64_t> order(train_count);
  std::iota(order.begin(), order.end(), 0);
  nn::Xoshiro256 shuffle_rng(o.seed);
  float to_unit[256];
  for (int v = 0; v < 256; ++v) to_unit[v] = static_cast<float>(v) / 255.0f;

  // Gathers the samples order[begin, begin + n) of `set` into the float batch (pixels / 255).
  auto assemble = [&](const labbook::ImageSet& set, const int64_t* indices, int n) {
    for (int s = 0; s < n; ++s) {
      const uint8_t* src = set.pixels.data() + indices[s] * pixels;
      float* dst = batch.data() + s * pixels;
      for (int64_t p = 0; p < pixels; ++p) dst[p] = to_unit[src[p]];
      labels[s] = set.labels[indices[s]];
    }
  };

  const auto start = Clock::now();
  for (int epoch = 0; epoch < o.epochs; ++epoch) {
    // Shuffle indices, not images (Fisher-Yates).
    for (int64_t i = train_count - 1; i > 0; --i) {
      std::swap(order[i], order[static_cast<int64_t>(shuffle_rng.Uniform() * (i + 1))]);
    }
    for (int64_t begin = 0; begin < train_count; begin += o.batch) {
      const int n = static_cast<int>(std::min<int64_t>(o.batch, train_count - begin));
      auto t = Clock::now();
      assemble(train, order.data() + begin, n);
      r.data_s += Seconds(t);
      t = Clock::now();
      const float* out = model->Forward(batch.data(), n, true);
      r.forward_s += Seconds(t);
      t = Clock::now();
      nn::LossTargets targets;
      targets.classes = labels.data();
      auto value = loss.Compute(out, model->LastPreActivation(), targets, n, k, grad.data());
      if (!value.ok()) {
        std::cerr << "train_bench: " << value.status().ToString() << "\n";
        return r;
      }
      r.last_loss = *value;
      r.loss_s += Seconds(t);
      t = Clock::now();
      model->Backward(grad.data(), loss.gradient_of());
      r.backward_s += Seconds(t);
      t = Clock::now();
      (*optimizer)->Step(0.001);
      r.optimizer_s += Seconds(t);
    }
  }
  r.train_seconds = Seconds(start);
  r.train_samples_per_s = static_cast<double>(train_count) * o.epochs / r.train_seconds;

  // Evaluation in inference mode; another batch size needs a model compiled for it (not timed).
  if (o.eval_batch != o.batch) {
    auto eval_model = backend->Compile(spec, o.eval_batch, precision, o.seed);
    if (!eval_model.ok() || !(*eval_model)->ImportWeights(model->ExportWeights()).ok()) {
      std::cerr << "train_bench: cannot build the evaluation model\n";
      return r;
    }
    model = std::move(eval_model).value();
  }
  std::vector<int64_t> test_order(test_count);
  std::iota(test_order.begin(), test_order.end(), 0);
  int64_t correct = 0;
  const auto eval_start = Clock::now();
  for (int64_t begin = 0; begin < test_count; begin += o.eval_batch) {
    const int n = static_cast<int>(std::min<int64_t>(o.eval_batch, test_count - begin));
    assemble(data.test, test_order.data() + begin, n);
    const float* out = model->Forward(batch.data(), n, false);
    for (int s = 0; s < n; ++s) {
      const float* row = out + s * k;
      correct += (std::max_element(row, row + k) - row) == labels[s];
    }
  }
  const double eval_seconds = Seconds(eval_start);
  r.eval_samples_per_s = static_cast<double>(test_count) / eval_seconds;
  r.test_accuracy = static_cast<double>(correct) / static_cast<double>(test_count);
  r.peak_rss_mib = PeakRssMiB();
  r.ok = true;
  return r;
}

// Writes the first `count` images and labels of `set` as raw bytes for the PyTorch peer.
bool WriteRaw(const labbook::ImageSet& set, int64_t count, const fs::path& images,
              const fs::path& labels) {
  const int64_t pixels = int64_t{set.rows} * set.cols * set.channels;
  std::ofstream out_images(images, std::ios::binary), out_labels(labels, std::ios::binary);
  out_images.write(reinterpret_cast<const char*>(set.pixels.data()), count * pixels);
  out_labels.write(reinterpret_cast<const char*>(set.labels.data()), count);
  return out_images.good() && out_labels.good();
}

RunResult RunTorch(const Options& o, const fs::path& dir, int64_t train_count, int64_t test_count,
                   int rows, int cols) {
  RunResult r;
  const fs::path result = dir / "torch_result.json";
  std::error_code ignored;
  fs::remove(result, ignored);
  const std::string command =
      std::string(LABBOOK_PYTHON) + " " + LABBOOK_SOURCE_DIR + "/bench/train_torch_peer.py" +
      " --data " + dir.string() + " --train " + std::to_string(train_count) + " --test " +
      std::to_string(test_count) + " --rows " + std::to_string(rows) + " --cols " +
      std::to_string(cols) + " --epochs " + std::to_string(o.epochs) + " --batch " +
      std::to_string(o.batch) + " --eval-batch " + std::to_string(o.eval_batch) + " --threads " +
      std::to_string(o.threads) + " --seed " + std::to_string(o.seed) + " --out " + result.string();
  if (std::system(command.c_str()) != 0) {
    std::cerr << "train_bench: the PyTorch peer failed: " << command << "\n";
    return r;
  }
  std::ifstream in(result);
  nlohmann::json json;
  try {
    in >> json;
    r.train_seconds = json.at("train_seconds").get<double>();
    r.train_samples_per_s = json.at("train_samples_per_s").get<double>();
    r.eval_samples_per_s = json.at("eval_samples_per_s").get<double>();
    r.test_accuracy = json.at("test_accuracy").get<double>();
    r.last_loss = json.at("last_loss").get<double>();
    r.peak_rss_mib = json.at("peak_rss_mib").get<double>();
  } catch (const nlohmann::json::exception& e) {
    std::cerr << "train_bench: cannot read " << result << ": " << e.what() << "\n";
    return r;
  }
  r.ok = true;
  return r;
}

struct Series {
  std::string name;
  std::vector<RunResult> runs;
  double MedianOf(double RunResult::*field) const {
    std::vector<double> values;
    for (const RunResult& r : runs) values.push_back(r.*field);
    return Median(values);
  }
};

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!ParseOptions(argc, argv, &o)) return 2;

  auto loaded = labbook::LoadDataset(o.dataset);
  if (!loaded.ok()) {
    std::cerr << "train_bench: " << loaded.status().ToString() << "\n";
    return 1;
  }
  const labbook::Dataset& data = *loaded;
  const int64_t train_count =
      o.limit > 0 ? std::min<int64_t>(o.limit, data.train.count) : data.train.count;
  const int64_t test_count =
      o.limit > 0 ? std::min<int64_t>(o.limit, data.test.count) : data.test.count;
  const nn::ModelSpec spec = ReferenceCnn(data.train.rows, data.train.cols);
  auto layers = nn::InferShapes(spec);
  if (!layers.ok()) {
    std::cerr << "train_bench: " << layers.status().ToString() << "\n";
    return 1;
  }
  const Flops flops = CountFlops(spec, *layers);

  std::printf(
      "train_bench: reference CNN, %s %lld train / %lld test images, batch %d "
      "(evaluation %d), %d epoch(s), %d thread(s), %d round(s)\n",
      o.dataset.c_str(), static_cast<long long>(train_count), static_cast<long long>(test_count),
      o.batch, o.eval_batch, o.epochs, o.threads, o.rounds);
  std::printf("model: %.2f MFLOP per sample forward, %.2f MFLOP per training sample\n",
              flops.forward / 1e6, flops.training / 1e6);
  const double peak32 = MatmulPeakGflops(dnnl::memory::data_type::f32);
  std::printf("machine: f32 matmul peak %.1f GFLOP/s (oneDNN 2048^3, best of 6)", peak32);
  const bool native_bf16 = nn::onednn::NativeBf16Available();
  if (native_bf16) {
    std::printf(", bf16 matmul peak %.1f GFLOP/s", MatmulPeakGflops(dnnl::memory::data_type::bf16));
  } else {
    std::printf(
        "; no bf16 kernels on this CPU (bf16 is emulated: f32 compute on bf16-rounded "
        "tensors)");
  }
  std::printf("\n");
  std::fflush(stdout);

  fs::path dir;
  if (o.torch) {
    char pattern[] = "/tmp/train_bench_XXXXXX";
    if (mkdtemp(pattern) == nullptr) {
      std::cerr << "train_bench: cannot create a temporary directory\n";
      return 1;
    }
    dir = pattern;
    if (!WriteRaw(data.train, train_count, dir / "train_images.u8", dir / "train_labels.u8") ||
        !WriteRaw(data.test, test_count, dir / "test_images.u8", dir / "test_labels.u8")) {
      std::cerr << "train_bench: cannot write the data for the PyTorch peer to " << dir << "\n";
      return 1;
    }
  }

  Series fp32{"labbook fp32", {}}, bf16{native_bf16 ? "labbook bf16" : "labbook bf16 (emul.)", {}};
  Series torch{"pytorch fp32", {}};
  bool failed = false;
  for (int round = 0; round < o.rounds; ++round) {
    // Each round draws its own initial weights and shuffles, so the median accuracy is over seeds.
    Options r = o;
    r.seed = o.seed + static_cast<uint64_t>(round);
    if (o.fp32) {
      fp32.runs.push_back(RunLabbook(r, data, train_count, test_count, nn::Precision::kFloat32));
      failed |= !fp32.runs.back().ok;
    }
    if (o.torch) {
      torch.runs.push_back(
          RunTorch(r, dir, train_count, test_count, data.train.rows, data.train.cols));
      failed |= !torch.runs.back().ok;
    }
    if (o.bf16) {
      bf16.runs.push_back(RunLabbook(r, data, train_count, test_count, nn::Precision::kBFloat16));
      failed |= !bf16.runs.back().ok;
    }
  }
  if (o.torch) {
    std::error_code ignored;
    fs::remove_all(dir, ignored);
  }
  if (failed) return 1;

  const double torch_train = o.torch ? torch.MedianOf(&RunResult::train_samples_per_s) : 0;
  const double torch_eval = o.torch ? torch.MedianOf(&RunResult::eval_samples_per_s) : 0;
  std::printf("\n%-22s %11s %9s %8s %10s %11s %8s %9s %9s %8s\n", "", "train smp/s", "epoch s",
              "vs torch", "GFLOP/s", "% f32 peak", "eval k/s", "eval x", "test acc", "RSS MiB");
  for (const Series* s : {&fp32, &bf16, &torch}) {
    if (s->runs.empty()) continue;
    const double train = s->MedianOf(&RunResult::train_samples_per_s);
    const double eval = s->MedianOf(&RunResult::eval_samples_per_s);
    const double gflops = train * flops.training / 1e9;
    char vs_torch[32] = "-", eval_ratio[32] = "-";
    if (o.torch) {
      std::snprintf(vs_torch, sizeof vs_torch, "%.2fx", train / torch_train);
      std::snprintf(eval_ratio, sizeof eval_ratio, "%.2fx", eval / torch_eval);
    }
    std::printf("%-22s %11.0f %9.2f %8s %10.1f %10.1f%% %8.1f %9s %8.2f%% %8.0f\n", s->name.c_str(),
                train, train_count * o.epochs / train, vs_torch, gflops, 100 * gflops / peak32,
                eval / 1e3, eval_ratio, 100 * s->MedianOf(&RunResult::test_accuracy),
                s->MedianOf(&RunResult::peak_rss_mib));
  }
  if (o.rounds > 1) {
    std::printf("(medians of %d rounds; train samples/s per round:", o.rounds);
    for (const Series* s : {&fp32, &torch, &bf16}) {
      if (s->runs.empty()) continue;
      std::printf(" %s", s->name.c_str());
      for (const RunResult& r : s->runs) std::printf(" %.0f", r.train_samples_per_s);
      std::printf(";");
    }
    std::printf(
        ")\n(test accuracy per round, seeds %llu..%llu:", static_cast<unsigned long long>(o.seed),
        static_cast<unsigned long long>(o.seed + o.rounds - 1));
    for (const Series* s : {&fp32, &torch, &bf16}) {
      if (s->runs.empty()) continue;
      std::printf(" %s", s->name.c_str());
      for (const RunResult& r : s->runs) std::printf(" %.2f%%", 100 * r.test_accuracy);
      std::printf(";");
    }
    std::printf(")\n");
  }
  std::printf("\nlabbook training time by phase (median over rounds, seconds per epoch):\n");
  std::printf("%-22s %8s %8s %8s %8s %9s\n", "", "data", "forward", "loss", "backward",
              "optimizer");
  for (const Series* s : {&fp32, &bf16}) {
    if (s->runs.empty()) continue;
    const double e = o.epochs;
    std::printf("%-22s %8.3f %8.3f %8.3f %8.3f %9.3f\n", s->name.c_str(),
                s->MedianOf(&RunResult::data_s) / e, s->MedianOf(&RunResult::forward_s) / e,
                s->MedianOf(&RunResult::loss_s) / e, s->MedianOf(&RunResult::backward_s) / e,
                s->MedianOf(&RunResult::optimizer_s) / e);
  }
  std::printf(
      "RSS is the peak of the whole process: labbook's includes the loaded dataset and "
      "every model this bench ran; PyTorch's is its own process.\n");
  return 0;
}
