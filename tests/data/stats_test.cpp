// Dataset statistics: the fast ComputeStats against the plain reference and against numpy, on a
// generated IDX file and on the real Fashion-MNIST test split.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>
#include <sstream>

#include "data/stats_reference.hpp"
#include "data_test_util.hpp"
#include "labbook/dataset.hpp"

namespace labbook {
namespace {

using ::testing::HasSubstr;
using testing::TempDir;

ImageSet RandomImages(int64_t count, int rows, int cols, int channels, int num_classes,
                      uint32_t seed) {
  std::mt19937 rng(seed);
  ImageSet set;
  set.count = count;
  set.rows = rows;
  set.cols = cols;
  set.channels = channels;
  set.pixels.resize(static_cast<size_t>(count * rows * cols * channels));
  // Mostly dark pixels with bright strokes, as in MNIST, so the histogram is lopsided.
  for (uint8_t& p : set.pixels) p = rng() % 3 == 0 ? static_cast<uint8_t>(rng()) : 0;
  for (int64_t i = 0; i < count; ++i) {
    set.labels.push_back(static_cast<uint8_t>(rng() % static_cast<uint32_t>(num_classes)));
  }
  return set;
}

void ExpectSameStats(const DatasetStats& a, const DatasetStats& b) {
  EXPECT_EQ(a.count, b.count);
  EXPECT_EQ(a.rows, b.rows);
  EXPECT_EQ(a.cols, b.cols);
  EXPECT_EQ(a.channels, b.channels);
  EXPECT_EQ(a.num_classes, b.num_classes);
  EXPECT_EQ(a.label_counts, b.label_counts);
  EXPECT_EQ(a.pixel_histogram, b.pixel_histogram);
  EXPECT_EQ(a.pixel_min, b.pixel_min);
  EXPECT_EQ(a.pixel_max, b.pixel_max);
  EXPECT_NEAR(a.pixel_mean, b.pixel_mean, 1e-12 * std::abs(b.pixel_mean));
  EXPECT_NEAR(a.pixel_std, b.pixel_std, 1e-12 * std::abs(b.pixel_std));
  ASSERT_EQ(a.class_mean_images.size(), b.class_mean_images.size());
  for (size_t k = 0; k < a.class_mean_images.size(); ++k) {
    ASSERT_EQ(a.class_mean_images[k].size(), b.class_mean_images[k].size());
    for (size_t p = 0; p < a.class_mean_images[k].size(); ++p) {
      ASSERT_NEAR(a.class_mean_images[k][p], b.class_mean_images[k][p], 1e-12) << k << "," << p;
    }
  }
}

// Reads the "key v1 v2 ..." lines the numpy oracle prints.
std::map<std::string, std::vector<double>> ParseOracle(const std::string& text) {
  std::map<std::string, std::vector<double>> values;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::string key;
    fields >> key;
    std::string token;
    while (fields >> token) values[key].push_back(std::stod(token));
  }
  return values;
}

// numpy computes the statistics of an images/labels IDX pair (raw or gzip).
constexpr char kNumpyOracle[] = R"(
import gzip, sys
import numpy as np

def read_idx(path):
    with open(path, 'rb') as f:
        data = f.read()
    if data[:2] == b'\x1f\x8b':
        data = gzip.decompress(data)
    ndims = data[3]
    dims = np.frombuffer(data[4:4 + 4 * ndims], dtype='>i4')
    return np.frombuffer(data[4 + 4 * ndims:], dtype=np.uint8).reshape(dims)

images = read_idx(sys.argv[1])
labels = read_idx(sys.argv[2])
k = int(sys.argv[3])
flat = images.reshape(len(images), -1)
print('count', len(images))
print('label_counts', *np.bincount(labels, minlength=k))
print('pixel_mean', repr(float(images.mean(dtype=np.float64))))
print('pixel_std', repr(float(images.std(dtype=np.float64))))
print('pixel_min', int(images.min()))
print('pixel_max', int(images.max()))
print('pixel_histogram', *np.bincount(images.ravel(), minlength=256))
for c in range(k):
    members = flat[labels == c]
    means = members.mean(axis=0, dtype=np.float64) if len(members) else np.zeros(flat.shape[1])
    print('class_mean_%d' % c, *[repr(float(v)) for v in means])
)";

void ExpectMatchesNumpy(const DatasetStats& stats, const std::string& images_path,
                        const std::string& labels_path, int num_classes) {
  TempDir scratch;
  std::map<std::string, std::vector<double>> numpy = ParseOracle(testing::RunPython(
      scratch, kNumpyOracle, images_path + " " + labels_path + " " + std::to_string(num_classes)));
  ASSERT_EQ(numpy["count"].size(), 1u) << "the oracle printed nothing usable";
  EXPECT_EQ(stats.count, static_cast<int64_t>(numpy["count"][0]));
  std::vector<int64_t> label_counts(numpy["label_counts"].begin(), numpy["label_counts"].end());
  EXPECT_EQ(stats.label_counts, label_counts);
  std::vector<int64_t> histogram(numpy["pixel_histogram"].begin(), numpy["pixel_histogram"].end());
  EXPECT_EQ(std::vector<int64_t>(stats.pixel_histogram.begin(), stats.pixel_histogram.end()),
            histogram);
  EXPECT_EQ(stats.pixel_min, static_cast<int>(numpy["pixel_min"][0]));
  EXPECT_EQ(stats.pixel_max, static_cast<int>(numpy["pixel_max"][0]));
  const double mean = numpy["pixel_mean"][0];
  const double std = numpy["pixel_std"][0];
  EXPECT_NEAR(stats.pixel_mean, mean, 1e-9 * mean);
  EXPECT_NEAR(stats.pixel_std, std, 1e-9 * std);
  for (int k = 0; k < num_classes; ++k) {
    const std::vector<double>& expected = numpy["class_mean_" + std::to_string(k)];
    ASSERT_EQ(stats.class_mean_images[static_cast<size_t>(k)].size(), expected.size());
    for (size_t p = 0; p < expected.size(); ++p) {
      ASSERT_NEAR(stats.class_mean_images[static_cast<size_t>(k)][p], expected[p],
                  1e-12 * std::max(1.0, expected[p]))
          << "class " << k << " pixel " << p;
    }
  }
}

TEST(DataStatsTest, HandComputedExample) {
  ImageSet set;
  set.count = 3;
  set.rows = 1;
  set.cols = 2;
  set.channels = 1;
  set.pixels = {0, 10, 20, 30, 255, 255};
  set.labels = {1, 0, 1};
  Result<DatasetStats> stats = ComputeStats(set, 3);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->label_counts, (std::vector<int64_t>{1, 2, 0}));
  const double mean = (0 + 10 + 20 + 30 + 255 + 255) / 6.0;
  double var = 0;
  for (int v : {0, 10, 20, 30, 255, 255}) var += (v - mean) * (v - mean);
  EXPECT_DOUBLE_EQ(stats->pixel_mean, mean);
  EXPECT_DOUBLE_EQ(stats->pixel_std, std::sqrt(var / 6));
  EXPECT_EQ(stats->pixel_min, 0);
  EXPECT_EQ(stats->pixel_max, 255);
  EXPECT_EQ(stats->pixel_histogram[255], 2);
  EXPECT_EQ(stats->pixel_histogram[10], 1);
  EXPECT_EQ(stats->class_mean_images[0], (std::vector<double>{20, 30}));
  EXPECT_EQ(stats->class_mean_images[1], (std::vector<double>{127.5, 132.5}));
  EXPECT_EQ(stats->class_mean_images[2], (std::vector<double>{0, 0}));
}

TEST(DataStatsTest, EmptySetGivesZeros) {
  ImageSet set;
  set.rows = 28;
  set.cols = 28;
  set.channels = 1;
  Result<DatasetStats> stats = ComputeStats(set, 10);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->count, 0);
  EXPECT_EQ(stats->pixel_mean, 0);
  EXPECT_EQ(stats->pixel_std, 0);
  EXPECT_EQ(stats->label_counts, std::vector<int64_t>(10, 0));
  EXPECT_EQ(stats->class_mean_images.size(), 10u);
}

TEST(DataStatsTest, MatchesTheReferenceImplementation) {
  // One class is left empty and the shape has channels and odd sizes.
  ImageSet set = RandomImages(777, 7, 5, 3, 5, 42);
  Result<DatasetStats> fast = ComputeStats(set, 6);
  Result<DatasetStats> reference = data::ComputeStatsReference(set, 6);
  ASSERT_TRUE(fast.ok()) << fast.status().ToString();
  ASSERT_TRUE(reference.ok()) << reference.status().ToString();
  ExpectSameStats(*fast, *reference);
  EXPECT_EQ(fast->label_counts[5], 0);
}

TEST(DataStatsTest, RejectsInconsistentInput) {
  ImageSet set = RandomImages(4, 2, 2, 1, 3, 1);
  set.labels[2] = 3;
  Result<DatasetStats> stats = ComputeStats(set, 3);
  ASSERT_FALSE(stats.ok());
  EXPECT_EQ(stats.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(stats.status().message(), HasSubstr("image 2 has label 3; expected below 3"));

  EXPECT_EQ(ComputeStats(set, 0).status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(ComputeStats(set, 257).status().code(), ErrorCode::kInvalidArgument);
  set.labels[2] = 0;
  set.pixels.pop_back();
  EXPECT_THAT(ComputeStats(set, 3).status().message(), HasSubstr("15 pixel bytes; expected"));
  set.pixels.push_back(0);
  set.labels.pop_back();
  EXPECT_THAT(ComputeStats(set, 3).status().message(), HasSubstr("3 labels; expected one per"));
}

TEST(DataStatsTest, MatchesNumpyOnAGeneratedIdxFile) {
  TempDir dir;
  const ImageSet set = RandomImages(3001, 9, 11, 1, 7, 2024);
  IdxArray images{IdxType::kUint8, {3001, 9, 11}, set.pixels};
  IdxArray labels{IdxType::kUint8, {3001}, set.labels};
  ASSERT_TRUE(WriteIdx(dir.File("images.gz"), images, true).ok());
  ASSERT_TRUE(WriteIdx(dir.File("labels"), labels, false).ok());
  Result<DatasetStats> stats = ComputeStats(set, 8);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  ExpectMatchesNumpy(*stats, dir.File("images.gz"), dir.File("labels"), 8);
}

TEST(DataStatsTest, MatchesNumpyOnFashionMnistTestSplit) {
  testing::ScopedEnv system_copy("LABBOOK_DATA", "/nonexistent");
  Result<Dataset> dataset = LoadDataset("fashion-mnist", DatasetSplits::kTestOnly);
  ASSERT_TRUE(dataset.ok()) << dataset.status().ToString();
  Result<DatasetStats> stats = ComputeStats(dataset->test, dataset->num_classes);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->label_counts, std::vector<int64_t>(10, 1000));
  ExpectMatchesNumpy(*stats, dataset->source + "/t10k-images-idx3-ubyte.gz",
                     dataset->source + "/t10k-labels-idx1-ubyte.gz", 10);
  Result<DatasetStats> reference = data::ComputeStatsReference(dataset->test, 10);
  ASSERT_TRUE(reference.ok());
  ExpectSameStats(*stats, *reference);
}

}  // namespace
}  // namespace labbook
