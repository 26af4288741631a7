#include "train/training_run.hpp"

#include <cstdio>
#include <cstring>

#include "core/status_macros.hpp"

namespace labbook::train {
namespace {

// Tensors as bytes for a broadcast between ranks of one build (native byte order): per tensor
// the name's length and bytes, the dims' count and values, the values' count and floats.
template <typename T>
void Append(std::string& out, const T& value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof value);
}

std::string PackTensors(const std::vector<nn::NamedTensor>& tensors) {
  std::string out;
  Append(out, static_cast<uint64_t>(tensors.size()));
  for (const nn::NamedTensor& t : tensors) {
    Append(out, static_cast<uint64_t>(t.name.size()));
    out += t.name;
    Append(out, static_cast<uint64_t>(t.dims.size()));
    for (int64_t d : t.dims) Append(out, d);
    Append(out, static_cast<uint64_t>(t.values.size()));
    out.append(reinterpret_cast<const char*>(t.values.data()), t.values.size() * sizeof(float));
  }
  return out;
}

Result<std::vector<nn::NamedTensor>> UnpackTensors(std::string_view in) {
  size_t at = 0;
  auto read = [&](void* to, size_t bytes) {
    if (in.size() - at < bytes) return false;
    std::memcpy(to, in.data() + at, bytes);
    at += bytes;
    return true;
  };
  const Status truncated = Internal("the tensors broadcast by rank 0 are truncated");
  uint64_t count = 0;
  if (!read(&count, sizeof count)) return truncated;
  std::vector<nn::NamedTensor> tensors(static_cast<size_t>(count));
  for (nn::NamedTensor& t : tensors) {
    uint64_t n = 0;
    if (!read(&n, sizeof n) || in.size() - at < n) return truncated;
    t.name.assign(in.data() + at, static_cast<size_t>(n));
    at += static_cast<size_t>(n);
    if (!read(&n, sizeof n)) return truncated;
    t.dims.resize(static_cast<size_t>(n));
    if (!read(t.dims.data(), t.dims.size() * sizeof(int64_t))) return truncated;
    if (!read(&n, sizeof n)) return truncated;
    t.values.resize(static_cast<size_t>(n));
    if (!read(t.values.data(), t.values.size() * sizeof(float))) return truncated;
  }
  return tensors;
}

// Rank 0's starting point to every rank: its epoch count, weights and optimizer state (which
// other ranks could not read: only rank 0 opens model files and artifacts).
Status ShareRankZeroState(distributed::Communicator& comm, TrainingRun& run) {
  int64_t initial_epoch = run.initial_epoch;
  LABBOOK_RETURN_IF_ERROR(comm.Broadcast(std::as_writable_bytes(std::span(&initial_epoch, 1)), 0));
  std::string weights = comm.rank() == 0 ? PackTensors(run.model->ExportWeights()) : "";
  LABBOOK_RETURN_IF_ERROR(distributed::BroadcastString(comm, weights, 0));
  OptimizerState optimizer = run.trainer->ExportOptimizerState();
  std::string slots = comm.rank() == 0 ? PackTensors(optimizer.slots) : "";
  LABBOOK_RETURN_IF_ERROR(distributed::BroadcastString(comm, slots, 0));
  if (comm.rank() == 0) return Status::Ok();

  run.initial_epoch = static_cast<int>(initial_epoch);
  LABBOOK_ASSIGN_OR_RETURN(std::vector<nn::NamedTensor> tensors, UnpackTensors(weights));
  LABBOOK_RETURN_IF_ERROR(
      run.model->ImportWeights(tensors).WithContext("the weights broadcast by rank 0"));
  LABBOOK_ASSIGN_OR_RETURN(optimizer.slots, UnpackTensors(slots));
  return run.trainer->ImportOptimizerState(optimizer).WithContext(
      "the optimizer state broadcast by rank 0");
}

uint64_t Fnv1a(uint64_t hash, const void* data, size_t bytes) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < bytes; ++i) hash = (hash ^ p[i]) * 0x100000001b3ULL;
  return hash;
}

Result<TrainingRun> PrepareOnThisRank(TrainConfig config, Dataset dataset, const StartFrom& start,
                                      distributed::Communicator* comm);

}  // namespace

Result<std::string> AgreedWeightsChecksum(distributed::Communicator& comm,
                                          const nn::CompiledModel& model) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (const nn::NamedTensor& t : model.ExportWeights()) {
    hash = Fnv1a(hash, t.name.data(), t.name.size());
    hash = Fnv1a(hash, t.values.data(), t.values.size() * sizeof(float));
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(hash));
  LABBOOK_ASSIGN_OR_RETURN(std::vector<std::string> all, comm.Gather(hex, 0));
  std::string verdict;
  for (size_t r = 1; r < all.size() && verdict.empty(); ++r) {
    if (all[r] != all[0]) {
      verdict = "the weights of rank " + std::to_string(r) + " (checksum " + all[r] +
                ") differ from rank 0's (" + all[0] + ") after training";
    }
  }
  LABBOOK_RETURN_IF_ERROR(distributed::BroadcastString(comm, verdict, 0));
  if (!verdict.empty()) return Internal(verdict);
  return std::string(hex);
}

Result<TrainingRun> PrepareTrainingRun(TrainConfig config, const StartFrom& start,
                                       distributed::Communicator* comm) {
  LABBOOK_ASSIGN_OR_RETURN(Dataset dataset,
                           LoadDataset(config.dataset, DatasetSplits::kTrainAndTest));
  return PrepareTrainingRun(std::move(config), std::move(dataset), start, comm);
}

Result<TrainingRun> PrepareTrainingRun(TrainConfig config, Dataset dataset, const StartFrom& start,
                                       distributed::Communicator* comm) {
  const bool several = comm != nullptr && comm->size() > 1;
  const StartFrom here = several && comm->rank() != 0 ? StartFrom{} : start;
  LABBOOK_ASSIGN_OR_RETURN(TrainingRun run,
                           PrepareOnThisRank(std::move(config), std::move(dataset), here, comm));
  if (several) LABBOOK_RETURN_IF_ERROR(ShareRankZeroState(*comm, run));
  return run;
}

namespace {

Result<TrainingRun> PrepareOnThisRank(TrainConfig config, Dataset dataset, const StartFrom& start,
                                      distributed::Communicator* comm) {
  if (!start.resume.empty() && !start.init_from.empty()) {
    return InvalidArgument("--resume and --init-from: choose one");
  }
  TrainingRun run;
  run.config = std::move(config);
  run.dataset = std::move(dataset);
  const TrainOptions& options = run.config.options;
  const ImageSet& all = run.dataset.train;
  LABBOOK_ASSIGN_OR_RETURN(run.spec,
                           MakeModelSpec(run.config, {all.channels, all.rows, all.cols, false}));
  LABBOOK_ASSIGN_OR_RETURN(run.layers, nn::InferShapes(run.spec));
  const int64_t outputs = run.layers.back().output.size();
  if (outputs < run.dataset.num_classes) {
    const config::Origin where =
        run.config.layer_origins.empty() ? config::Origin{} : run.config.layer_origins.back();
    return InvalidArgument(where.ToString() + ": layers." + std::to_string(run.layers.size() - 1) +
                           ": the model has " + std::to_string(outputs) + " outputs but " +
                           run.config.dataset + " has " + std::to_string(run.dataset.num_classes) +
                           " classes; the last layer needs one unit per class");
  }
  std::tie(run.train, run.validation) =
      SplitValidation(all, run.config.validation_split, options.seed);
  if (run.train.count == 0) {
    return InvalidArgument("validation_split: " + std::to_string(run.config.validation_split) +
                           " leaves no training images out of " + std::to_string(all.count));
  }

  run.backend = MakeBackend(run.config.backend, run.config.threads);
  LABBOOK_ASSIGN_OR_RETURN(run.model, run.backend->Compile(run.spec, options.batch_size,
                                                           run.config.precision, options.seed));
  LABBOOK_ASSIGN_OR_RETURN(run.trainer,
                           Trainer::Create(run.model.get(), run.spec.input, options, comm));

  const std::string& from = start.resume.empty() ? start.init_from : start.resume;
  if (from.empty()) return run;
  const std::string flag = start.resume.empty() ? "--init-from " : "--resume ";
  LABBOOK_ASSIGN_OR_RETURN(ModelFile saved, ReadModelFile(from));
  if (saved.spec.input != run.spec.input ||
      LayersToJson(saved.spec.layers) != LayersToJson(run.spec.layers)) {
    return InvalidArgument(flag + from + ": the model's architecture differs from the config's " +
                           "layers (or its input from the dataset's images); `labbook model " +
                           "summary` shows both");
  }
  LABBOOK_RETURN_IF_ERROR(run.model->ImportWeights(saved.weights).WithContext(flag + from));
  if (start.resume.empty()) return run;

  if (!saved.optimizer) {
    return InvalidArgument(flag + from + ": the file holds no optimizer state to continue from; " +
                           "use --init-from to start a new run from its weights");
  }
  LABBOOK_RETURN_IF_ERROR(
      run.trainer->ImportOptimizerState(*saved.optimizer).WithContext(flag + from));
  if (saved.epochs_completed >= options.epochs) {
    return InvalidArgument(
        flag + from + ": the model has trained " + std::to_string(saved.epochs_completed) +
        " epochs and the config asks " + "for " + std::to_string(options.epochs) +
        "; raise epochs (e.g. --set epochs=" + std::to_string(saved.epochs_completed + 5) +
        ") to train on");
  }
  run.initial_epoch = saved.epochs_completed;
  run.trainer->set_history(std::move(saved.history));
  return run;
}

}  // namespace

ModelFile SnapshotModel(const TrainingRun& run, int epochs_completed, bool with_optimizer) {
  ModelFile file;
  file.spec = run.spec;
  file.class_names = run.dataset.class_names;
  file.class_names.resize(static_cast<size_t>(run.layers.back().output.size()));
  for (size_t k = run.dataset.class_names.size(); k < file.class_names.size(); ++k) {
    file.class_names[k] = std::to_string(k);
  }
  file.config = run.config.resolved;
  file.epochs_completed = epochs_completed;
  file.history = run.trainer->history();
  file.weights = run.model->ExportWeights();
  if (with_optimizer) file.optimizer = run.trainer->ExportOptimizerState();
  return file;
}

}  // namespace labbook::train
