// Predictions CSV: exact round trips, the tolerated variations (CRLF, BOM, final newline), and
// the message for every kind of malformed line.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>
#include <random>

#include "data_test_util.hpp"
#include "labbook/dataset.hpp"

namespace labbook {
namespace {

using ::testing::HasSubstr;
using testing::TempDir;
using testing::WriteText;

PredictionTable RandomTable(size_t rows, int k, uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  PredictionTable table;
  table.num_classes = k;
  table.has_probabilities = true;
  for (size_t i = 0; i < rows; ++i) {
    table.index.push_back(static_cast<int64_t>(i * 7 + 3));
    table.labels.push_back(static_cast<int32_t>(rng() % static_cast<uint64_t>(k)));
    table.predicted.push_back(static_cast<int32_t>(rng() % static_cast<uint64_t>(k)));
    double sum = 0;
    std::vector<double> row(static_cast<size_t>(k));
    for (double& p : row) sum += (p = unit(rng));
    for (double p : row) table.probabilities.push_back(p / sum);
  }
  return table;
}

class DataPredictionsCsvTest : public ::testing::Test {
 protected:
  // Writes `text` to preds.csv and expects ReadPredictionsCsv to fail with exactly
  // "<path>:<message>".
  void ExpectError(const std::string& text, const std::string& message) {
    WriteText(path_, text);
    Result<PredictionTable> table = ReadPredictionsCsv(path_);
    ASSERT_FALSE(table.ok()) << "accepted:\n" << text;
    EXPECT_EQ(table.status().code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(table.status().message(), path_ + ":" + message);
  }

  Result<PredictionTable> Read(const std::string& text) {
    WriteText(path_, text);
    return ReadPredictionsCsv(path_);
  }

  TempDir dir_;
  const std::string path_ = dir_.File("preds.csv");
};

TEST_F(DataPredictionsCsvTest, RoundTripsProbabilitiesExactly) {
  PredictionTable table = RandomTable(1000, 10, 7);
  // Values whose shortest decimal form is long, tiny, subnormal or exactly 0 and 1.
  table.probabilities[0] = 0.1;
  table.probabilities[1] = 1.0 / 3.0;
  table.probabilities[2] = std::numeric_limits<double>::denorm_min();
  table.probabilities[3] = 1e-300;
  table.probabilities[4] = 0.0;
  table.probabilities[5] = 1.0;
  table.probabilities[6] = std::nextafter(1.0, 0.0);
  table.index[9] = std::numeric_limits<int64_t>::max();
  ASSERT_TRUE(WritePredictionsCsv(path_, table).ok());
  Result<PredictionTable> read = ReadPredictionsCsv(path_);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_TRUE(read->has_probabilities);
  EXPECT_EQ(read->num_classes, 10);
  EXPECT_EQ(read->index, table.index);
  EXPECT_EQ(read->labels, table.labels);
  EXPECT_EQ(read->predicted, table.predicted);
  ASSERT_EQ(read->probabilities.size(), table.probabilities.size());
  for (size_t i = 0; i < table.probabilities.size(); ++i) {
    ASSERT_EQ(read->probabilities[i], table.probabilities[i]) << "value " << i;
  }
}

TEST_F(DataPredictionsCsvTest, WritesTheDocumentedFormat) {
  PredictionTable table;
  table.index = {0, 1};
  table.labels = {2, 0};
  table.predicted = {2, 1};
  table.num_classes = 3;
  table.has_probabilities = true;
  table.probabilities = {0.1, 0.2, 0.7, 0.5, 0.5, 0};
  ASSERT_TRUE(WritePredictionsCsv(path_, table).ok());
  const std::vector<uint8_t> bytes = testing::ReadBytes(path_);
  EXPECT_EQ(std::string(bytes.begin(), bytes.end()),
            "index,label,predicted,p_0,p_1,p_2\n0,2,2,0.1,0.2,0.7\n1,0,1,0.5,0.5,0\n");
}

TEST_F(DataPredictionsCsvTest, RoundTripsWithoutProbabilities) {
  PredictionTable table;
  table.index = {5, 6, 7};
  table.labels = {0, 3, 1};
  table.predicted = {0, 1, 4};
  ASSERT_TRUE(WritePredictionsCsv(path_, table).ok());
  Result<PredictionTable> read = ReadPredictionsCsv(path_);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_FALSE(read->has_probabilities);
  EXPECT_EQ(read->num_classes, 5) << "max(label, predicted) + 1";
  EXPECT_EQ(read->labels, table.labels);
  EXPECT_EQ(read->predicted, table.predicted);
  EXPECT_TRUE(read->probabilities.empty());
}

TEST_F(DataPredictionsCsvTest, ToleratesCrlfBomAndMissingOrExtraFinalNewlines) {
  for (const std::string& text :
       {std::string("index,label,predicted,p_0,p_1\r\n0,1,1,0.25,0.75\r\n3,0,1,0.5,0.5\r\n"),
        std::string("index,label,predicted,p_0,p_1\n0,1,1,0.25,0.75\n3,0,1,0.5,0.5"),
        std::string("index,label,predicted,p_0,p_1\n0,1,1,0.25,0.75\n3,0,1,0.5,0.5\r"),
        std::string("\xEF\xBB\xBFindex,label,predicted,p_0,p_1\n0,1,1,0.25,0.75\n3,0,1,.5,5e-1\n"),
        std::string("index,label,predicted,p_0,p_1\n0,1,1,0.25,0.75\n3,0,1,0.5,0.5\n\n\r\n")}) {
    Result<PredictionTable> table = Read(text);
    ASSERT_TRUE(table.ok()) << table.status().ToString() << "\n" << text;
    EXPECT_EQ(table->index, (std::vector<int64_t>{0, 3}));
    EXPECT_EQ(table->labels, (std::vector<int32_t>{1, 0}));
    EXPECT_EQ(table->probabilities, (std::vector<double>{0.25, 0.75, 0.5, 0.5}));
  }
}

TEST_F(DataPredictionsCsvTest, HeaderOnlyIsAnEmptyTable) {
  Result<PredictionTable> table = Read("index,label,predicted,p_0,p_1,p_2\n");
  ASSERT_TRUE(table.ok()) << table.status().ToString();
  EXPECT_TRUE(table->index.empty());
  EXPECT_EQ(table->num_classes, 3);
  table = Read("index,label,predicted");
  ASSERT_TRUE(table.ok()) << table.status().ToString();
  EXPECT_EQ(table->num_classes, 0);
}

TEST_F(DataPredictionsCsvTest, AcceptsRowsThatDoNotSumToOne) {
  Result<PredictionTable> table = Read("index,label,predicted,p_0,p_1\n0,0,0,0.9,0.9\n1,1,0,0,0\n");
  ASSERT_TRUE(table.ok()) << table.status().ToString();
  EXPECT_EQ(table->probabilities, (std::vector<double>{0.9, 0.9, 0, 0}));
}

TEST_F(DataPredictionsCsvTest, EmptyFile) {
  ExpectError("", "1: empty file; expected the header index,label,predicted[,p_0,...,p_{K-1}]");
}

TEST_F(DataPredictionsCsvTest, MissingFile) {
  Result<PredictionTable> table = ReadPredictionsCsv(dir_.File("absent.csv"));
  EXPECT_EQ(table.status().code(), ErrorCode::kNotFound);
  EXPECT_THAT(table.status().message(), HasSubstr(dir_.File("absent.csv")));
}

TEST_F(DataPredictionsCsvTest, BadHeaders) {
  ExpectError("index,label\n0,1\n",
              "1: expected the header index,label,predicted[,p_0,...,p_{K-1}], got 'index,label'");
  ExpectError("idx,label,predicted\n0,1,1\n",
              "1: column 1: expected the header name 'index', got 'idx' (the header is "
              "index,label,predicted[,p_0,...,p_{K-1}])");
  ExpectError("index,label,predicted,p_1,p_0\n",
              "1: column 4: expected the header name 'p_0', got 'p_1' (the header is "
              "index,label,predicted[,p_0,...,p_{K-1}])");
  ExpectError("index,label,predicted,p_0,prob\n",
              "1: column 5: expected the header name 'p_1', got 'prob' (the header is "
              "index,label,predicted[,p_0,...,p_{K-1}])");
  ExpectError("Index, label, predicted\n",
              "1: column 1: expected the header name 'index', got 'Index' (the header is "
              "index,label,predicted[,p_0,...,p_{K-1}])");
}

TEST_F(DataPredictionsCsvTest, BadIntegers) {
  const std::string header = "index,label,predicted,p_0,p_1\n0,0,0,0.5,0.5\n";
  ExpectError(header + "1,1,x,0.5,0.5\n",
              "3: column 3 'predicted': expected a non-negative integer class id, got 'x'");
  ExpectError(header + "1,-1,0,0.5,0.5\n",
              "3: column 2 'label': expected a non-negative integer class id, got '-1'");
  ExpectError(header + "-4,1,0,0.5,0.5\n",
              "3: column 1 'index': expected a non-negative integer row index, got '-4'");
  ExpectError(header + "1,99999999999,0,0.5,0.5\n",
              "3: column 2 'label': expected a non-negative integer class id, got '99999999999'");
  ExpectError(header + "1,1.0,0,0.5,0.5\n",
              "3: column 2 'label': expected a non-negative integer class id, got '1.0'");
  ExpectError(header + "1, 1,0,0.5,0.5\n",
              "3: column 2 'label': expected a non-negative integer class id, got ' 1'");
  ExpectError(header + "1,,0,0.5,0.5\n",
              "3: column 2 'label': expected a non-negative integer class id, got ''");
  ExpectError(header + "1,+1,0,0.5,0.5\n",
              "3: column 2 'label': expected a non-negative integer class id, got '+1'");
}

TEST_F(DataPredictionsCsvTest, ClassIdsMustBeBelowTheProbabilityColumns) {
  ExpectError("index,label,predicted,p_0,p_1\n0,2,0,0.5,0.5\n",
              "2: column 2 'label': expected a class id below 2 (the number of p_ columns), got "
              "'2'");
  ExpectError("index,label,predicted,p_0,p_1\n0,1,7,0.5,0.5\n",
              "2: column 3 'predicted': expected a class id below 2 (the number of p_ columns), "
              "got '7'");
}

TEST_F(DataPredictionsCsvTest, BadProbabilities) {
  const std::string header = "index,label,predicted,p_0,p_1\n";
  ExpectError(header + "0,0,0,nan,0.5\n",
              "2: column 4 'p_0': expected a finite probability in [0, 1], got 'nan'");
  ExpectError(header + "0,0,0,0.5,inf\n",
              "2: column 5 'p_1': expected a finite probability in [0, 1], got 'inf'");
  ExpectError(header + "0,0,0,0.5,-0.1\n",
              "2: column 5 'p_1': expected a finite probability in [0, 1], got '-0.1'");
  ExpectError(header + "0,0,0,1.5,0.5\n",
              "2: column 4 'p_0': expected a finite probability in [0, 1], got '1.5'");
  ExpectError(header + "0,0,0,0.5x,0.5\n",
              "2: column 4 'p_0': expected a finite probability in [0, 1], got '0.5x'");
  ExpectError(header + "0,0,0,1e999,0.5\n",
              "2: column 4 'p_0': expected a finite probability in [0, 1], got '1e999'");
  ExpectError(header + "0,0,0,,0.5\n",
              "2: column 4 'p_0': expected a finite probability in [0, 1], got ''");
}

TEST_F(DataPredictionsCsvTest, WrongColumnCounts) {
  const std::string header = "index,label,predicted,p_0,p_1\n";
  ExpectError(header + "0,0,0,0.5\n",
              "2: expected 5 columns (index,label,predicted,p_0..p_1), got 4");
  ExpectError(header + "0,0,0,0.5,0.5,0.0\n",
              "2: expected 5 columns (index,label,predicted,p_0..p_1), got 6");
  ExpectError("index,label,predicted\n0,0\n",
              "2: expected 3 columns (index,label,predicted), got 2");
  ExpectError("index,label,predicted\n0,0,1,0.5\n",
              "2: expected 3 columns (index,label,predicted), got 4");
  ExpectError(header + "0,0,0,0.5,0.5\n\n1,0,0,0.5,0.5\n", "3: empty line; expected 5 columns");
  ExpectError(header + "0,0,0,0.5,0.5\rX\n",
              "2: expected the line to end after column 5, got a carriage return without a "
              "newline");
}

TEST_F(DataPredictionsCsvTest, WriterRejectsTablesThatWouldNotReadBack) {
  PredictionTable table = RandomTable(3, 2, 1);
  table.probabilities[1] = std::numeric_limits<double>::quiet_NaN();
  Status status = WritePredictionsCsv(path_, table);
  EXPECT_EQ(status.code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr(path_ + ": row 0: p_1 is nan"));

  table = RandomTable(3, 2, 1);
  table.labels[2] = 2;
  EXPECT_THAT(WritePredictionsCsv(path_, table).message(),
              HasSubstr("row 2: class id not below num_classes 2"));

  table = RandomTable(3, 2, 1);
  table.predicted.pop_back();
  EXPECT_EQ(WritePredictionsCsv(path_, table).code(), ErrorCode::kInvalidArgument);

  table = RandomTable(3, 2, 1);
  table.probabilities.pop_back();
  EXPECT_THAT(WritePredictionsCsv(path_, table).message(),
              HasSubstr("5 probabilities; expected rows x num_classes = 3x2"));

  table = RandomTable(3, 2, 1);
  table.index[0] = -1;
  EXPECT_THAT(WritePredictionsCsv(path_, table).message(), HasSubstr("row 0: negative index"));
  EXPECT_FALSE(std::filesystem::exists(path_));
}

TEST_F(DataPredictionsCsvTest, ParsesAQuarterMillionRowsQuickly) {
  const PredictionTable table = RandomTable(250000, 10, 3);
  ASSERT_TRUE(WritePredictionsCsv(path_, table).ok());
  const auto start = std::chrono::steady_clock::now();
  Result<PredictionTable> read = ReadPredictionsCsv(path_);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(read->probabilities, table.probabilities);
  const double megabytes = static_cast<double>(std::filesystem::file_size(path_)) / 1e6;
  RecordProperty("csv_megabytes_per_second", std::to_string(megabytes / seconds));
  std::printf("parsed %.1f MB in %.3f s: %.0f MB/s\n", megabytes, seconds, megabytes / seconds);
}

}  // namespace
}  // namespace labbook
