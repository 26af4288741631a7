// Predictions CSV: exact round trips, the tolerated variations (CRLF, BOM, final newline), and
// the message for every kind of malformed line.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <bit>
#include <charconv>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "data/predictions_csv.hpp"
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

// ---------------------------------------------------------------------------------------------
// The parallel parse: chunks cut at line ends must give the single-threaded result, bit for bit,
// and the message of the first bad field in the file.
// ---------------------------------------------------------------------------------------------

// `rows` rows of a 3-class table in the given dialect. Fields take every form the reader accepts:
// pandas' "%.6f", shortest round-trip forms, exponents, ".5", leading zeros, exactly 0 and 1.
std::string CsvText(int rows, bool crlf, bool bom, bool final_newline, int blank_tail,
                    uint32_t seed) {
  static const char* const kForms[] = {"0.047799", "0.1",      "1",      "0",
                                       "1.000000", ".5",       "5e-1",   "0.33333333333333331",
                                       "2.5E-3",   "0.000001", "007e-3", "0.9999999999999999"};
  std::mt19937 rng(seed);
  const std::string eol = crlf ? "\r\n" : "\n";
  std::string text = bom ? "\xEF\xBB\xBF" : "";
  text += "index,label,predicted,p_0,p_1,p_2";
  for (int r = 0; r < rows; ++r) {
    text += eol + std::to_string(r * 13 + static_cast<int>(rng() % 5)) + "," +
            std::to_string(rng() % 3) + "," + (rng() % 4 == 0 ? "0002" : std::to_string(rng() % 3));
    for (int k = 0; k < 3; ++k) text += std::string(",") + kForms[rng() % std::size(kForms)];
  }
  if (final_newline || blank_tail > 0) text += eol;
  for (int b = 0; b < blank_tail; ++b) text += eol;
  return text;
}

void ExpectSameTable(const PredictionTable& a, const PredictionTable& b, const std::string& what) {
  EXPECT_EQ(a.index, b.index) << what;
  EXPECT_EQ(a.labels, b.labels) << what;
  EXPECT_EQ(a.predicted, b.predicted) << what;
  EXPECT_EQ(a.num_classes, b.num_classes) << what;
  EXPECT_EQ(a.has_probabilities, b.has_probabilities) << what;
  ASSERT_EQ(a.probabilities.size(), b.probabilities.size()) << what;
  for (size_t i = 0; i < a.probabilities.size(); ++i) {
    // Bit for bit: the short decimal path must round exactly as from_chars.
    ASSERT_EQ(std::bit_cast<uint64_t>(a.probabilities[i]),
              std::bit_cast<uint64_t>(b.probabilities[i]))
        << what << " value " << i;
  }
}

TEST_F(DataPredictionsCsvTest, WriterFormatsInParallelExactlyAsRowByRow) {
  // Enough rows for several rounds of several threads' slices; the file must be the row-by-row
  // text, byte for byte.
  const PredictionTable table = RandomTable(40000, 10, 9);
  ASSERT_TRUE(WritePredictionsCsv(path_, table).ok());
  std::string expected = "index,label,predicted";
  for (int k = 0; k < 10; ++k) expected += ",p_" + std::to_string(k);
  expected += "\n";
  char buffer[64];
  auto append = [&](auto value) {
    expected.append(buffer, std::to_chars(buffer, buffer + sizeof buffer, value).ptr);
  };
  for (size_t i = 0; i < table.index.size(); ++i) {
    append(table.index[i]);
    expected += ',';
    append(table.labels[i]);
    expected += ',';
    append(table.predicted[i]);
    for (int k = 0; k < 10; ++k) {
      expected += ',';
      append(table.probabilities[i * 10 + static_cast<size_t>(k)]);
    }
    expected += '\n';
  }
  std::ifstream in(path_, std::ios::binary);
  const std::string written((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(written.size(), expected.size());
  EXPECT_TRUE(written == expected);
}

TEST_F(DataPredictionsCsvTest, ParallelParseMatchesOneThreadAtEverySplit) {
  // With one byte a thread at least, every thread count cuts the rows somewhere else; small row
  // counts put cuts on every line, in empty chunks and at the very end.
  int compared = 0;
  for (int rows : {0, 1, 2, 3, 5, 8, 13, 31, 64, 200}) {
    for (int dialect = 0; dialect < 6; ++dialect) {
      const bool crlf = dialect % 2 == 1;
      const bool bom = dialect == 2 || dialect == 5;
      const bool final_newline = dialect != 3;
      const int blank_tail = dialect >= 4 ? 3 : 0;
      const std::string text =
          CsvText(rows, crlf, bom, final_newline, blank_tail, rows * 7 + dialect);
      Result<PredictionTable> one = data::ParsePredictionsCsv(path_, text, {1, 1});
      ASSERT_TRUE(one.ok()) << one.status().ToString() << "\n" << text;
      ASSERT_EQ(one->labels.size(), static_cast<size_t>(rows));
      for (int threads : {2, 3, 4, 7, 16, 64}) {
        Result<PredictionTable> many = data::ParsePredictionsCsv(path_, text, {threads, 1});
        ASSERT_TRUE(many.ok()) << many.status().ToString();
        ExpectSameTable(*one, *many,
                        "rows " + std::to_string(rows) + " dialect " + std::to_string(dialect) +
                            " threads " + std::to_string(threads));
        ++compared;
      }
    }
  }
  EXPECT_EQ(compared, 10 * 6 * 6);
}

TEST_F(DataPredictionsCsvTest, ShortDecimalsRoundExactlyAsFromChars) {
  // Mantissas up to 2^53 and up to 18 digits take the short path; all must match from_chars.
  std::mt19937_64 rng(11);
  std::string text = "index,label,predicted,p_0\n";
  std::vector<double> expected;
  for (int i = 0; i < 20000; ++i) {
    const int decimals = 1 + static_cast<int>(rng() % 17);
    std::string digits = "0.";
    for (int d = 0; d < decimals; ++d) digits += static_cast<char>('0' + rng() % 10);
    if (i % 1000 == 0) digits = "1." + std::string(static_cast<size_t>(decimals), '0');
    double value = 0;
    std::from_chars(digits.data(), digits.data() + digits.size(), value);
    expected.push_back(value);
    text += std::to_string(i) + ",0,0," + digits + "\n";
  }
  Result<PredictionTable> table = data::ParsePredictionsCsv(path_, text, {2, 1});
  ASSERT_TRUE(table.ok()) << table.status().ToString();
  ASSERT_EQ(table->probabilities.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    ASSERT_EQ(std::bit_cast<uint64_t>(table->probabilities[i]),
              std::bit_cast<uint64_t>(expected[i]))
        << "row " << i;
  }
}

TEST_F(DataPredictionsCsvTest, ParallelParseReportsTheFirstBadFieldInTheFile) {
  // Bad fields on lines 40 and 170 (and a blank line inside the file on line 260): whatever the
  // split, the message is line 40's, as the single-threaded parse gives it.
  std::string text = "index,label,predicted,p_0,p_1\n";
  for (int line = 2; line <= 300; ++line) {
    if (line == 40) {
      text += "38,0,0,0.5,oops\n";
    } else if (line == 170) {
      text += "168,x,0,0.5,0.5\n";
    } else if (line == 260) {
      text += "\n";
    } else {
      text += std::to_string(line - 2) + ",1,0,0.25,0.75\n";
    }
  }
  const std::string first =
      path_ + ":40: column 5 'p_1': expected a finite probability in [0, 1], got 'oops'";
  for (int threads : {1, 2, 3, 5, 8, 32, 299}) {
    Result<PredictionTable> table = data::ParsePredictionsCsv(path_, text, {threads, 1});
    ASSERT_FALSE(table.ok()) << threads;
    EXPECT_EQ(table.status().message(), first) << threads << " threads";
  }
  // Without line 40's error, line 170's comes first; without both, the blank line's.
  const size_t bad40 = text.find("38,0,0,0.5,oops");
  std::string later = text;
  later.replace(bad40, 15, "38,0,0,0.5,0.50");
  std::string blank_only = later;
  blank_only.replace(blank_only.find("168,x"), 5, "168,1");
  for (int threads : {1, 2, 3, 8, 64}) {
    Result<PredictionTable> table = data::ParsePredictionsCsv(path_, later, {threads, 1});
    ASSERT_FALSE(table.ok());
    EXPECT_EQ(table.status().message(),
              path_ + ":170: column 2 'label': expected a non-negative integer class id, got 'x'")
        << threads << " threads";
    table = data::ParsePredictionsCsv(path_, blank_only, {threads, 1});
    ASSERT_FALSE(table.ok());
    EXPECT_EQ(table.status().message(), path_ + ":260: empty line; expected 5 columns")
        << threads << " threads";
  }
}

TEST_F(DataPredictionsCsvTest, LargeFilesReadInParallelAsInOneThread) {
  // Several MiB, so ReadPredictionsCsv itself splits the file across the machine's threads.
  std::mt19937 rng(5);
  std::string text = "index,label,predicted,p_0,p_1,p_2,p_3\r\n";
  char field[32];
  for (int r = 0; r < 120000; ++r) {
    text += std::to_string(r) + "," + std::to_string(rng() % 4) + "," + std::to_string(rng() % 4);
    for (int k = 0; k < 4; ++k) {
      std::snprintf(field, sizeof field, ",%.6f", static_cast<double>(rng() % 1000001) / 1e6);
      text += field;
    }
    text += "\r\n";
  }
  WriteText(path_, text);
  Result<PredictionTable> read = ReadPredictionsCsv(path_);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  Result<PredictionTable> one = data::ParsePredictionsCsv(path_, text, {1, 1});
  ASSERT_TRUE(one.ok());
  ExpectSameTable(*one, *read, "default options");
  EXPECT_EQ(read->labels.size(), 120000u);
  EXPECT_EQ(read->num_classes, 4);
}

}  // namespace
}  // namespace labbook
