// `labbook data info` and `labbook data stats`, run as a user runs them.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "cli_runner.hpp"
#include "labbook/dataset.hpp"

namespace labbook::testing {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

bool IsPng(const std::string& path) {
  std::string bytes = ReadFile(path);
  return bytes.size() > 8 && bytes.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0;
}

bool IsSvg(const std::string& path) {
  std::string text = ReadFile(path);
  return text.find("<svg") != std::string::npos && text.find("</svg>") != std::string::npos;
}

// Writes a small idx:DIR dataset of `n` 4x3 images with labels 0..2 and pixel i*7 % 256.
void WriteTinyIdxDir(const std::string& dir, int n) {
  IdxArray images;
  images.dims = {n, 4, 3};
  images.bytes.resize(static_cast<size_t>(n) * 12);
  for (size_t i = 0; i < images.bytes.size(); ++i) images.bytes[i] = (i * 7) % 256;
  IdxArray labels;
  labels.dims = {n};
  for (int i = 0; i < n; ++i) labels.bytes.push_back(static_cast<uint8_t>(i % 3));
  for (const char* split : {"train", "t10k"}) {
    ASSERT_TRUE(WriteIdx(dir + "/" + split + "-images-idx3-ubyte", images, false).ok());
    ASSERT_TRUE(WriteIdx(dir + "/" + split + "-labels-idx1-ubyte.gz", labels, true).ok());
  }
}

TEST(DataCliTest, InfoListsTheBuiltinDatasets) {
  CliResult r = RunCli({"data", "info"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, AllOf(HasSubstr("fashion-mnist"), HasSubstr("mnist-digits"),
                           HasSubstr("60,000"), HasSubstr("idx:DIR")));
}

TEST(DataCliTest, InfoOfOneDatasetShowsSplitsAndClasses) {
  CliResult r = RunCli({"data", "info", "fashion-mnist"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, AllOf(HasSubstr("60,000"), HasSubstr("10,000"), HasSubstr("28x28"),
                           HasSubstr("Ankle boot"), HasSubstr("T-shirt/top")));
}

TEST(DataCliTest, StatsOfFashionMnistTestSplitWritesTablesJsonAndPlots) {
  std::string out = MakeTempDir("labbook-stats") + "/out";
  CliResult r =
      RunCli({"data", "stats", "fashion-mnist", "--split", "test", "--out", out}, {"NO_COLOR=1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out,
              AllOf(HasSubstr("10,000 images of 28x28"), HasSubstr("10 classes"),
                    HasSubstr("Label distribution"), HasSubstr("Sneaker"), HasSubstr("10.0%")));
  EXPECT_EQ(r.out.find("\x1b["), std::string::npos) << "NO_COLOR must disable colours";
  for (const char* plot : {"label_distribution", "pixel_histogram", "class_means", "samples"}) {
    EXPECT_TRUE(IsPng(out + "/" + plot + ".png")) << plot;
    EXPECT_TRUE(IsSvg(out + "/" + plot + ".svg")) << plot;
  }
  auto stats = nlohmann::json::parse(ReadFile(out + "/stats.json"));
  EXPECT_EQ(stats["count"], 10000);
  EXPECT_EQ(stats["shape"], nlohmann::json({28, 28, 1}));
  EXPECT_EQ(stats["label_counts"], nlohmann::json(std::vector<int>(10, 1000)));
  EXPECT_EQ(stats["class_mean_images"].size(), 10u);
  EXPECT_EQ(stats["class_mean_images"][0].size(), 784u);
  int64_t histogram_total = 0;
  for (const auto& c : stats["pixel_histogram"]) histogram_total += c.get<int64_t>();
  EXPECT_EQ(histogram_total, 10000 * 784);
  std::string csv = ReadFile(out + "/label_distribution.csv");
  EXPECT_THAT(csv, AllOf(HasSubstr("class,name,count,share\n"), HasSubstr("9,Ankle boot,1000,")));
  fs::remove_all(fs::path(out).parent_path());
}

TEST(DataCliTest, StatsJsonMatchesNumpyOnTheSameFiles) {
  std::string dir = MakeTempDir("labbook-stats-json");
  CliResult r = RunCli(
      {"data", "stats", "fashion-mnist", "--split", "test", "--json", "--out", dir + "/out"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto stats = nlohmann::json::parse(r.out);
  EXPECT_FALSE(stats.contains("class_mean_images")) << "printed JSON stays short";

  std::string script = dir + "/oracle.py";
  WriteFile(script,
            "import gzip, json, sys, numpy as np\n"
            "raw = gzip.open(sys.argv[1]).read()\n"
            "x = np.frombuffer(raw, dtype=np.uint8, offset=16).astype(np.float64)\n"
            "print(json.dumps({'mean': float(x.mean()), 'std': float(x.std())}))\n");
  std::string images = std::string(stats["source"]) + "/t10k-images-idx3-ubyte.gz";
  std::string command =
      std::string(LABBOOK_PYTHON) + " " + script + " " + images + " > " + dir + "/oracle.json";
  ASSERT_EQ(std::system(command.c_str()), 0);
  auto oracle = nlohmann::json::parse(ReadFile(dir + "/oracle.json"));
  EXPECT_NEAR(stats["pixel_mean"].get<double>(), oracle["mean"].get<double>(),
              1e-9 * oracle["mean"].get<double>());
  EXPECT_NEAR(stats["pixel_std"].get<double>(), oracle["std"].get<double>(),
              1e-9 * oracle["std"].get<double>());
  fs::remove_all(dir);
}

TEST(DataCliTest, StatsOfAnIdxDirectory) {
  std::string dir = MakeTempDir("labbook-idx");
  WriteTinyIdxDir(dir, 9);
  CliResult r = RunCli({"data", "stats", "idx:" + dir, "--json", "--out", dir + "/out"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto stats = nlohmann::json::parse(r.out);
  EXPECT_EQ(stats["count"], 9);
  EXPECT_EQ(stats["shape"], nlohmann::json({4, 3, 1}));
  EXPECT_EQ(stats["label_counts"], nlohmann::json({3, 3, 3}));
  double sum = 0;
  for (int i = 0; i < 9 * 12; ++i) sum += (i * 7) % 256;
  EXPECT_DOUBLE_EQ(stats["pixel_mean"].get<double>(), sum / (9 * 12));
  EXPECT_TRUE(IsPng(dir + "/out/samples.png"));
  fs::remove_all(dir);
}

TEST(DataCliTest, BadInputGivesAClearErrorAndExitCode) {
  CliResult unknown = RunCli({"data", "stats", "cifar-1000"});
  EXPECT_EQ(unknown.exit_code, 3);
  EXPECT_THAT(unknown.err, AllOf(HasSubstr("labbook: error:"), HasSubstr("cifar-1000"),
                                 HasSubstr("fashion-mnist")));

  CliResult split = RunCli({"data", "stats", "fashion-mnist", "--split", "validation"});
  EXPECT_EQ(split.exit_code, 2);
  EXPECT_THAT(split.err, AllOf(HasSubstr("validation"), HasSubstr("train")));

  CliResult missing = RunCli({"data", "stats", "idx:/nonexistent/mnist"});
  EXPECT_EQ(missing.exit_code, 3);
  EXPECT_THAT(missing.err, HasSubstr("/nonexistent/mnist"));

  // A truncated image file: the error names the file and the byte offset.
  std::string dir = MakeTempDir("labbook-corrupt");
  WriteTinyIdxDir(dir, 9);
  fs::resize_file(dir + "/train-images-idx3-ubyte", 16 + 50);
  CliResult corrupt = RunCli({"data", "stats", "idx:" + dir, "--out", dir + "/out"});
  EXPECT_EQ(corrupt.exit_code, 8) << corrupt.err;
  EXPECT_THAT(corrupt.err, AllOf(HasSubstr("train-images-idx3-ubyte"), HasSubstr("66")));

  // --out where a file is in the way.
  WriteTinyIdxDir(dir, 9);
  WriteFile(dir + "/taken", "x");
  CliResult blocked = RunCli({"data", "stats", "idx:" + dir, "--out", dir + "/taken/sub"});
  EXPECT_NE(blocked.exit_code, 0);
  EXPECT_THAT(blocked.err, HasSubstr(dir + "/taken"));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace labbook::testing
