// IDX reader and writer: round trips of every element type, raw and gzip, and one test per way a
// file can be broken, each checking the error code, the file name and the byte offset.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>

#include "data_test_util.hpp"
#include "labbook/dataset.hpp"

namespace labbook {
namespace {

using testing::Gzip;
using ::testing::HasSubstr;
using testing::ReadBytes;
using testing::TempDir;
using testing::WriteBytes;

constexpr IdxType kAllTypes[] = {IdxType::kUint8, IdxType::kInt8,    IdxType::kInt16,
                                 IdxType::kInt32, IdxType::kFloat32, IdxType::kFloat64};

template <typename T>
void Append(std::vector<uint8_t>* bytes, T value) {
  uint8_t raw[sizeof(T)];
  std::memcpy(raw, &value, sizeof(T));
  bytes->insert(bytes->end(), raw, raw + sizeof(T));
}

// An array of `type` whose values cover negatives, extremes and (for floats) NaN and infinity.
IdxArray MakeArray(IdxType type, std::vector<int32_t> dims) {
  IdxArray array;
  array.type = type;
  array.dims = std::move(dims);
  int64_t count = 1;
  for (int32_t d : array.dims) count *= d;
  for (int64_t i = 0; i < count; ++i) {
    switch (type) {
      case IdxType::kUint8:
        Append<uint8_t>(&array.bytes, static_cast<uint8_t>(i * 37 + 11));
        break;
      case IdxType::kInt8:
        Append<int8_t>(&array.bytes, static_cast<int8_t>(i * 37 - 128));
        break;
      case IdxType::kInt16:
        Append<int16_t>(&array.bytes, static_cast<int16_t>(i * 4099 - 32768));
        break;
      case IdxType::kInt32:
        Append<int32_t>(&array.bytes, i == 0 ? std::numeric_limits<int32_t>::min()
                                             : static_cast<int32_t>(i * 16777259 - 1000000007));
        break;
      case IdxType::kFloat32:
        Append<float>(&array.bytes, i == 0   ? std::numeric_limits<float>::quiet_NaN()
                                    : i == 1 ? -std::numeric_limits<float>::infinity()
                                             : static_cast<float>(i) * -0.37f + 1e-30f);
        break;
      case IdxType::kFloat64:
        Append<double>(&array.bytes, i == 0   ? std::numeric_limits<double>::denorm_min()
                                     : i == 1 ? std::numeric_limits<double>::infinity()
                                              : static_cast<double>(i) / 3.0 - 7.0);
        break;
    }
  }
  return array;
}

// The raw bytes of a valid ubyte file: dims 2x3x4, 24 payload bytes, 40 bytes in all.
std::vector<uint8_t> ValidUbyteFile() {
  std::vector<uint8_t> file = {0, 0, 0x08, 3, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4};
  for (int i = 0; i < 24; ++i) file.push_back(static_cast<uint8_t>(i));
  return file;
}

class DataIdxTest : public ::testing::Test {
 protected:
  // Writes `bytes` under `name` and reads it back, expecting an error of `code` whose message
  // names the file and contains `fragment`.
  void ExpectError(const std::string& name, const std::vector<uint8_t>& bytes, ErrorCode code,
                   const std::string& fragment) {
    const std::string path = dir_.File(name);
    WriteBytes(path, bytes);
    Result<IdxArray> read = ReadIdx(path);
    ASSERT_FALSE(read.ok()) << name << " was accepted";
    EXPECT_EQ(read.status().code(), code) << read.status().ToString();
    EXPECT_THAT(read.status().message(), HasSubstr(path + ": ")) << "the message names the file";
    EXPECT_THAT(read.status().message(), HasSubstr(fragment));
  }

  TempDir dir_;
};

TEST_F(DataIdxTest, RoundTripsEveryTypeRawAndGzip) {
  for (IdxType type : kAllTypes) {
    for (bool gzip : {false, true}) {
      SCOPED_TRACE(std::string(IdxTypeName(type)) + (gzip ? " gzip" : " raw"));
      const IdxArray array = MakeArray(type, {3, 4, 5});
      const std::string path = dir_.File(std::string(IdxTypeName(type)) + (gzip ? ".gz" : ".idx"));
      ASSERT_TRUE(WriteIdx(path, array, gzip).ok());
      const std::vector<uint8_t> file = ReadBytes(path);
      ASSERT_GE(file.size(), 2u);
      EXPECT_EQ(file[0] == 0x1f && file[1] == 0x8b, gzip);
      Result<IdxArray> read = ReadIdx(path);
      ASSERT_TRUE(read.ok()) << read.status().ToString();
      EXPECT_EQ(read->type, type);
      EXPECT_EQ(read->dims, array.dims);
      EXPECT_EQ(read->bytes, array.bytes);  // bytewise, so NaN payloads count too
    }
  }
}

TEST_F(DataIdxTest, WritesBigEndianAsTheFormatSays) {
  IdxArray array;
  array.type = IdxType::kInt16;
  array.dims = {2};
  Append<int16_t>(&array.bytes, 0x0102);
  Append<int16_t>(&array.bytes, -2);
  const std::string path = dir_.File("be.idx");
  ASSERT_TRUE(WriteIdx(path, array, false).ok());
  EXPECT_EQ(ReadBytes(path),
            (std::vector<uint8_t>{0, 0, 0x0B, 1, 0, 0, 0, 2, 0x01, 0x02, 0xFF, 0xFE}));
}

TEST_F(DataIdxTest, RoundTripsOneDimensionManyDimensionsAndEmptyArrays) {
  for (const std::vector<int32_t>& dims : std::vector<std::vector<int32_t>>{
           {1}, {1000}, {2, 1, 2, 1, 2, 1, 2, 1, 2}, {0}, {5, 0, 3}}) {
    const IdxArray array = MakeArray(IdxType::kInt32, dims);
    const std::string path = dir_.File("dims.idx");
    ASSERT_TRUE(WriteIdx(path, array, true).ok());
    Result<IdxArray> read = ReadIdx(path);
    ASSERT_TRUE(read.ok()) << read.status().ToString();
    EXPECT_EQ(read->dims, dims);
    EXPECT_EQ(read->bytes, array.bytes);
  }
}

TEST_F(DataIdxTest, DetectsGzipByContentNotByName) {
  const IdxArray array = MakeArray(IdxType::kUint8, {10, 10});
  ASSERT_TRUE(WriteIdx(dir_.File("compressed.idx"), array, true).ok());
  ASSERT_TRUE(WriteIdx(dir_.File("plain.gz"), array, false).ok());
  for (const char* name : {"compressed.idx", "plain.gz"}) {
    Result<IdxArray> read = ReadIdx(dir_.File(name));
    ASSERT_TRUE(read.ok()) << name << ": " << read.status().ToString();
    EXPECT_EQ(read->bytes, array.bytes);
  }
}

TEST_F(DataIdxTest, ReadsConcatenatedGzipMembers) {
  const std::vector<uint8_t> file = ValidUbyteFile();
  std::vector<uint8_t> head(file.begin(), file.begin() + 19);
  std::vector<uint8_t> tail(file.begin() + 19, file.end());
  std::vector<uint8_t> joined = Gzip(head);
  const std::vector<uint8_t> second = Gzip(tail);
  joined.insert(joined.end(), second.begin(), second.end());
  WriteBytes(dir_.File("members.gz"), joined);
  Result<IdxArray> read = ReadIdx(dir_.File("members.gz"));
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(read->bytes, std::vector<uint8_t>(file.begin() + 16, file.end()));
}

TEST_F(DataIdxTest, MissingFileIsNotFoundNamingThePath) {
  const std::string path = dir_.File("nope-idx3-ubyte");
  Result<IdxArray> read = ReadIdx(path);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), ErrorCode::kNotFound);
  EXPECT_THAT(read.status().message(), HasSubstr(path));
}

TEST_F(DataIdxTest, DirectoryIsInvalidArgument) {
  Result<IdxArray> read = ReadIdx(dir_.path());
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(read.status().message(), HasSubstr("not a regular file"));
}

TEST_F(DataIdxTest, EmptyFile) {
  ExpectError("empty", {}, ErrorCode::kDataLoss, "byte 0: empty file");
}

TEST_F(DataIdxTest, BadMagic) {
  std::vector<uint8_t> file = ValidUbyteFile();
  file[1] = 0x01;
  ExpectError("magic", file, ErrorCode::kInvalidArgument, "byte 0: not an IDX file");
  file = ValidUbyteFile();
  file[0] = 0x50;  // 'P', as in a PNG or a text file
  ExpectError("magic2", file, ErrorCode::kInvalidArgument, "got 0x50 0x00");
}

TEST_F(DataIdxTest, BadType) {
  std::vector<uint8_t> file = ValidUbyteFile();
  file[2] = 0x0A;
  ExpectError("type", file, ErrorCode::kInvalidArgument, "byte 2: unknown IDX element type 0x0a");
}

TEST_F(DataIdxTest, ZeroDimensions) {
  std::vector<uint8_t> file = ValidUbyteFile();
  file[3] = 0;
  ExpectError("ndims", file, ErrorCode::kInvalidArgument, "byte 3: the header says 0 dimensions");
}

TEST_F(DataIdxTest, NegativeDimension) {
  std::vector<uint8_t> file = ValidUbyteFile();
  file[8] = 0xFF;  // second dimension becomes negative
  ExpectError("negative", file, ErrorCode::kInvalidArgument, "byte 8: dimension 1 is -");
}

TEST_F(DataIdxTest, TruncatedHeader) {
  const std::vector<uint8_t> file = ValidUbyteFile();
  ExpectError("magic3", {0, 0, 8}, ErrorCode::kDataLoss, "byte 3: truncated header");
  for (size_t cut : {4u, 5u, 10u, 15u}) {
    SCOPED_TRACE(cut);
    std::vector<uint8_t> head(file.begin(), file.begin() + static_cast<std::ptrdiff_t>(cut));
    ExpectError(
        "header" + std::to_string(cut), head, ErrorCode::kDataLoss,
        "byte " + std::to_string(cut) + ": truncated header: 3 dimensions need bytes 4..16");
    ExpectError("header" + std::to_string(cut) + ".gz", Gzip(head), ErrorCode::kDataLoss,
                "byte " + std::to_string(cut) + " of the decompressed stream: truncated header");
  }
}

TEST_F(DataIdxTest, TruncatedPayloadAtSeveralOffsets) {
  const std::vector<uint8_t> file = ValidUbyteFile();
  for (size_t cut : {16u, 17u, 28u, 39u}) {
    SCOPED_TRACE(cut);
    std::vector<uint8_t> head(file.begin(), file.begin() + static_cast<std::ptrdiff_t>(cut));
    const std::string expected = "byte " + std::to_string(cut);
    ExpectError("payload" + std::to_string(cut), head, ErrorCode::kDataLoss,
                expected + ": truncated data: dimensions 2x3x4 of ubyte need 24 bytes of data, " +
                    "ending at byte 40, but the data ends at " + expected);
    ExpectError("payload" + std::to_string(cut) + ".gz", Gzip(head), ErrorCode::kDataLoss,
                expected + " of the decompressed stream: truncated data");
  }
}

TEST_F(DataIdxTest, TruncatedPayloadOfAWideType) {
  const IdxArray array = MakeArray(IdxType::kFloat64, {10});
  ASSERT_TRUE(WriteIdx(dir_.File("full.idx"), array, false).ok());
  std::vector<uint8_t> file = ReadBytes(dir_.File("full.idx"));
  file.resize(8 + 8 * 10 - 3);
  ExpectError("double", file, ErrorCode::kDataLoss, "byte 85: truncated data");
}

TEST_F(DataIdxTest, TrailingBytes) {
  std::vector<uint8_t> file = ValidUbyteFile();
  file.push_back(0);
  file.push_back(0);
  ExpectError("trailing", file, ErrorCode::kDataLoss, "byte 40: unexpected trailing bytes (2)");
  ExpectError("trailing.gz", Gzip(file), ErrorCode::kDataLoss,
              "byte 40 of the decompressed stream: unexpected trailing bytes");
}

TEST_F(DataIdxTest, TruncatedGzipStream) {
  const IdxArray array = MakeArray(IdxType::kInt32, {50, 50});
  ASSERT_TRUE(WriteIdx(dir_.File("full.gz"), array, true).ok());
  const std::vector<uint8_t> full = ReadBytes(dir_.File("full.gz"));
  for (size_t keep : {size_t{10}, full.size() / 2, full.size() - 4, full.size() - 1}) {
    SCOPED_TRACE(keep);
    std::vector<uint8_t> cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(keep));
    ExpectError("cut" + std::to_string(keep) + ".gz", cut, ErrorCode::kDataLoss,
                "of the decompressed stream: truncated gzip stream");
  }
}

TEST_F(DataIdxTest, CorruptGzipStream) {
  const IdxArray array = MakeArray(IdxType::kInt32, {50, 50});
  ASSERT_TRUE(WriteIdx(dir_.File("good.gz"), array, true).ok());
  const std::vector<uint8_t> good = ReadBytes(dir_.File("good.gz"));

  std::vector<uint8_t> garbled = good;
  for (size_t i = 20; i < 40; ++i) garbled[i] ^= 0x5A;
  ExpectError("garbled.gz", garbled, ErrorCode::kDataLoss, "corrupt gzip stream");

  std::vector<uint8_t> bad_crc = good;
  bad_crc[bad_crc.size() - 6] ^= 0xFF;  // inside the CRC-32 of the trailer
  // The whole payload inflated fine; the damage shows at its end, byte 12 + 4 * 2500.
  ExpectError("crc.gz", bad_crc, ErrorCode::kDataLoss,
              "byte 10012 of the decompressed stream: corrupt gzip stream (incorrect data check)");

  std::vector<uint8_t> garbage_after = good;
  garbage_after.push_back(0x42);
  garbage_after.push_back(0x42);
  ExpectError("after.gz", garbage_after, ErrorCode::kDataLoss, "corrupt gzip stream");
}

TEST_F(DataIdxTest, HugeDimensionsAreRefusedWithoutAllocating) {
  // 2^31-1 cubed bytes: more than the 2^40 limit.
  std::vector<uint8_t> huge = {0,    0,    0x08, 3,    0x7F, 0xFF, 0xFF, 0xFF,
                               0x7F, 0xFF, 0xFF, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF};
  ExpectError("huge", huge, ErrorCode::kInvalidArgument, "more than 2^40 bytes");
  // 100,000 x 100,000 bytes claimed by a tiny file: truncated, found without a 10 GB buffer.
  std::vector<uint8_t> big = {0, 0, 0x08, 2, 0, 0x01, 0x86, 0xA0, 0, 0x01, 0x86, 0xA0, 1, 2, 3};
  ExpectError("big", big, ErrorCode::kDataLoss, "byte 15: truncated data");
  ExpectError("big.gz", Gzip(big), ErrorCode::kDataLoss,
              "byte 15 of the decompressed stream: truncated data");
}

TEST_F(DataIdxTest, WriterRejectsInconsistentArraysAndLeavesNoFile) {
  IdxArray array = MakeArray(IdxType::kInt16, {4, 4});
  array.bytes.pop_back();
  const std::string path = dir_.File("bad.idx");
  Status status = WriteIdx(path, array, false);
  EXPECT_EQ(status.code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr(path + ": the dimensions need 32 bytes"));

  array = MakeArray(IdxType::kUint8, {2});
  array.dims.clear();
  EXPECT_EQ(WriteIdx(path, array, false).code(), ErrorCode::kInvalidArgument);
  array.dims = {-2};
  EXPECT_EQ(WriteIdx(path, array, false).code(), ErrorCode::kInvalidArgument);
  array.dims = {2};
  array.type = static_cast<IdxType>(0x07);
  EXPECT_EQ(WriteIdx(path, array, false).code(), ErrorCode::kInvalidArgument);

  EXPECT_TRUE(std::filesystem::is_empty(dir_.path())) << "no file and no temporary left";
}

TEST_F(DataIdxTest, WriterReportsAMissingDirectory) {
  const std::string path = dir_.File("no/such/dir/a.idx");
  Status status = WriteIdx(path, MakeArray(IdxType::kUint8, {3}), true);
  EXPECT_EQ(status.code(), ErrorCode::kNotFound);
  EXPECT_THAT(status.message(), HasSubstr(path));
}

TEST_F(DataIdxTest, WriterReplacesAnExistingFile) {
  const std::string path = dir_.File("replace.idx");
  ASSERT_TRUE(WriteIdx(path, MakeArray(IdxType::kUint8, {100}), true).ok());
  ASSERT_TRUE(WriteIdx(path, MakeArray(IdxType::kUint8, {3}), false).ok());
  Result<IdxArray> read = ReadIdx(path);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->dims, std::vector<int32_t>{3});
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir_.path()),
                          std::filesystem::directory_iterator()),
            1);
}

TEST(DataIdxTypeTest, SizesAndNames) {
  EXPECT_EQ(IdxTypeSize(IdxType::kUint8), 1);
  EXPECT_EQ(IdxTypeSize(IdxType::kInt8), 1);
  EXPECT_EQ(IdxTypeSize(IdxType::kInt16), 2);
  EXPECT_EQ(IdxTypeSize(IdxType::kInt32), 4);
  EXPECT_EQ(IdxTypeSize(IdxType::kFloat32), 4);
  EXPECT_EQ(IdxTypeSize(IdxType::kFloat64), 8);
  EXPECT_EQ(IdxTypeName(IdxType::kInt16), "short");
  EXPECT_EQ(IdxTypeName(IdxType::kFloat64), "double");
}

}  // namespace
}  // namespace labbook
