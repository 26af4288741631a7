// The model file: a round trip keeps every bit, and every kind of damage is reported with the
// file, the offset and what was wrong.
#include "train/model_file.hpp"

#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>

#include "train/train_config.hpp"

namespace labbook::train {
namespace {

namespace fs = std::filesystem;

class ModelFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("labbook-model-file-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
    path_ = (dir_ / "m.lbm").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  static ModelFile MakeModel() {
    ModelFile m;
    m.spec.input = {1, 8, 8, false};
    nn::Conv2DSpec conv;
    conv.filters = 3;
    conv.activation = nn::Activation::kRelu;
    m.spec.layers = {conv, nn::Pool2DSpec{}, nn::FlattenSpec{}, nn::BatchNormSpec{},
                     nn::DenseSpec{2, nn::Activation::kSoftmax}};
    Result<std::vector<nn::NamedTensor>> weights = nn::InitialWeights(m.spec, 5);
    EXPECT_TRUE(weights.ok()) << weights.status().ToString();
    m.weights = std::move(weights).value();
    m.weights[0].values[0] = -0.0f;   // bits must survive, sign of zero included
    m.weights[0].values[1] = 1e-40f;  // a denormal
    m.class_names = {"horizontal", "vertical"};
    m.config = {{"dataset", "idx:/tmp/x"}, {"epochs", 3}};
    m.epochs_completed = 2;
    m.history = {{1, 0.7, 0.5, 0.6, 0.55, 0.01}, {2, 0.4, 0.8, std::nan(""), std::nan(""), 0.005}};
    OptimizerState state;
    state.name = "adam";
    state.iterations = 26;
    state.slots = {{"conv2d/kernel/m", {3, 1, 3, 3}, std::vector<float>(27, 0.25f)},
                   {"iterations", {1}, {26.0f}}};
    m.optimizer = state;
    return m;
  }

  std::vector<char> Bytes() const {
    std::ifstream in(path_, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
  void SetBytes(const std::vector<char>& bytes) const {
    std::ofstream out(path_, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  uint64_t HeaderLength() const {
    std::vector<char> b = Bytes();
    uint64_t n = 0;
    for (int i = 0; i < 8; ++i) n |= uint64_t{static_cast<unsigned char>(b[24 + i])} << (8 * i);
    return n;
  }
  uint64_t DataStart() const { return (32 + HeaderLength() + 63) / 64 * 64; }

  // Replaces the header JSON (keeping the file otherwise) and fixes its length and checksum, to
  // test the checks that come after the checksum.
  void RewriteHeader(const std::function<void(nlohmann::json&)>& edit) const {
    std::vector<char> b = Bytes();
    const uint64_t old_length = HeaderLength();
    nlohmann::json header = nlohmann::json::parse(b.begin() + 32, b.begin() + 32 + old_length);
    edit(header);
    std::string text = header.dump();
    const uint64_t old_data = DataStart();
    std::string out(b.data(), 32);
    out += text;
    out.resize((out.size() + 63) / 64 * 64, '\0');
    out.append(b.data() + old_data, b.size() - old_data);
    const uint32_t crc = static_cast<uint32_t>(
        crc32(0, reinterpret_cast<const Bytef*>(text.data()), static_cast<uInt>(text.size())));
    for (int i = 0; i < 4; ++i) out[20 + i] = static_cast<char>((crc >> (8 * i)) & 0xff);
    for (int i = 0; i < 8; ++i) out[24 + i] = static_cast<char>((text.size() >> (8 * i)) & 0xff);
    SetBytes({out.begin(), out.end()});
  }

  Status ReadError() const {
    Result<ModelFile> m = ReadModelFile(path_);
    EXPECT_FALSE(m.ok());
    return m.ok() ? Status::Ok() : m.status();
  }

  fs::path dir_;
  std::string path_;
};

TEST_F(ModelFileTest, RoundTripKeepsEveryBit) {
  ModelFile written = MakeModel();
  ASSERT_TRUE(WriteModelFile(path_, written).ok());
  EXPECT_TRUE(IsModelFile(path_));
  Result<ModelFile> read = ReadModelFile(path_);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(read->spec.input, written.spec.input);
  EXPECT_EQ(LayersToJson(read->spec.layers), LayersToJson(written.spec.layers));
  EXPECT_EQ(read->class_names, written.class_names);
  EXPECT_EQ(read->config, written.config);
  EXPECT_EQ(read->epochs_completed, 2);
  ASSERT_EQ(read->history.size(), 2u);
  EXPECT_DOUBLE_EQ(read->history[0].val_accuracy, 0.55);
  EXPECT_TRUE(std::isnan(read->history[1].val_loss));
  ASSERT_EQ(read->weights.size(), written.weights.size());
  for (size_t i = 0; i < written.weights.size(); ++i) {
    EXPECT_EQ(read->weights[i].name, written.weights[i].name);
    EXPECT_EQ(read->weights[i].dims, written.weights[i].dims);
    ASSERT_EQ(read->weights[i].values.size(), written.weights[i].values.size());
    EXPECT_EQ(std::memcmp(read->weights[i].values.data(), written.weights[i].values.data(),
                          written.weights[i].values.size() * sizeof(float)),
              0)
        << written.weights[i].name;
  }
  EXPECT_EQ(read->weights[0].name, "conv2d/kernel");
  EXPECT_TRUE(std::signbit(read->weights[0].values[0]));
  ASSERT_TRUE(read->optimizer.has_value());
  EXPECT_EQ(read->optimizer->name, "adam");
  EXPECT_EQ(read->optimizer->iterations, 26);
  ASSERT_EQ(read->optimizer->slots.size(), 2u);
  EXPECT_EQ(read->optimizer->slots[0].name, "conv2d/kernel/m");
  EXPECT_EQ(read->optimizer->slots[0].values, std::vector<float>(27, 0.25f));
}

TEST_F(ModelFileTest, LayoutMatchesTheDocumentation) {
  ASSERT_TRUE(WriteModelFile(path_, MakeModel()).ok());
  std::vector<char> b = Bytes();
  EXPECT_EQ(std::string(b.data(), 13), std::string("LABBOOK\0MODEL", 13));
  EXPECT_EQ(b[16], 1);  // format version, little-endian
  nlohmann::json header = nlohmann::json::parse(b.begin() + 32, b.begin() + 32 + HeaderLength());
  EXPECT_EQ(header["format"], "labbook-model");
  EXPECT_EQ(header["format_version"], 1);
  EXPECT_EQ(header["summary"][0]["name"], "conv2d");
  EXPECT_EQ(header["tensors"][0]["offset"], 0);
  EXPECT_EQ(header["tensors"][1]["offset"], 128);  // 27 floats, then 64-byte alignment
  EXPECT_EQ(DataStart() % 64, 0u);
  EXPECT_EQ(b.size(), DataStart() + header["data_bytes"].get<uint64_t>());
  // The first kernel value sits at the start of the data section, little-endian float32.
  float first;
  std::memcpy(&first, b.data() + DataStart() + 4, 4);
  EXPECT_EQ(first, 1e-40f);
}

TEST_F(ModelFileTest, WithoutOptimizerState) {
  ModelFile m = MakeModel();
  m.optimizer.reset();
  ASSERT_TRUE(WriteModelFile(path_, m).ok());
  Result<ModelFile> read = ReadModelFile(path_);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_FALSE(read->optimizer.has_value());
}

TEST_F(ModelFileTest, WritingWeightsThatDoNotFitTheModelFails) {
  ModelFile m = MakeModel();
  m.weights[1].dims = {4};
  Status s = WriteModelFile(path_, m);
  EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(s.message(), path_ + ": tensor 1 should be 'conv2d/bias' (3), got 'conv2d/bias' (4)");
  m = MakeModel();
  m.weights.pop_back();
  EXPECT_EQ(WriteModelFile(path_, m).message(),
            path_ + ": the model has 8 parameter tensors, got 7");
  EXPECT_FALSE(fs::exists(path_));
}

TEST_F(ModelFileTest, MissingFile) {
  Status s = ReadError();
  EXPECT_EQ(s.code(), ErrorCode::kNotFound);
  EXPECT_EQ(s.message(), path_ + ": no such file");
  EXPECT_FALSE(IsModelFile(path_));
}

TEST_F(ModelFileTest, WrongMagic) {
  SetBytes({'d', 'a', 't', 'a', ',', '1', '\n'});
  Status s = ReadError();
  EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(s.message(), path_ +
                             ": not a labbook model file: expected the magic bytes "
                             "\"LABBOOK\\0MODEL\" at offset 0");
}

TEST_F(ModelFileTest, UnsupportedVersion) {
  ASSERT_TRUE(WriteModelFile(path_, MakeModel()).ok());
  std::vector<char> b = Bytes();
  b[16] = 7;
  SetBytes(b);
  Status s = ReadError();
  EXPECT_EQ(s.code(), ErrorCode::kUnimplemented);
  EXPECT_EQ(
      s.message(),
      path_ + ": offset 16: unsupported model format version 7 (this labbook reads version 1)");
}

TEST_F(ModelFileTest, TruncatedAnywhere) {
  ASSERT_TRUE(WriteModelFile(path_, MakeModel()).ok());
  const std::vector<char> whole = Bytes();
  const uint64_t header_length = HeaderLength();
  const uint64_t data_start = DataStart();

  SetBytes({whole.begin(), whole.begin() + 20});
  Status s = ReadError();
  EXPECT_EQ(s.code(), ErrorCode::kDataLoss);
  EXPECT_EQ(s.message(), path_ + ": truncated at offset 20: the fixed header needs 32 bytes");

  SetBytes({whole.begin(), whole.begin() + 100});
  s = ReadError();
  EXPECT_EQ(s.code(), ErrorCode::kDataLoss);
  EXPECT_EQ(s.message(), path_ + ": truncated at offset 100: the header at offset 32 is " +
                             std::to_string(header_length) +
                             " bytes long, past the end of the file");

  SetBytes({whole.begin(), whole.end() - 10});
  s = ReadError();
  EXPECT_EQ(s.code(), ErrorCode::kDataLoss);
  EXPECT_EQ(s.message(), path_ + ": truncated at offset " + std::to_string(whole.size() - 10) +
                             ": the data section should end at offset " +
                             std::to_string(whole.size()));
  EXPECT_GT(whole.size() - 10, data_start);
}

TEST_F(ModelFileTest, TrailingBytes) {
  ASSERT_TRUE(WriteModelFile(path_, MakeModel()).ok());
  std::vector<char> b = Bytes();
  const size_t size = b.size();
  b.push_back('x');
  SetBytes(b);
  Status s = ReadError();
  EXPECT_EQ(s.code(), ErrorCode::kDataLoss);
  EXPECT_EQ(s.message(), path_ + ": 1 unexpected bytes after the data section, from offset " +
                             std::to_string(size));
}

TEST_F(ModelFileTest, HeaderChecksumMismatch) {
  ASSERT_TRUE(WriteModelFile(path_, MakeModel()).ok());
  std::vector<char> b = Bytes();
  b[40] ^= 0x01;
  SetBytes(b);
  Status s = ReadError();
  EXPECT_EQ(s.code(), ErrorCode::kDataLoss);
  EXPECT_EQ(s.message().rfind(path_ + ": offset 32: header checksum mismatch (crc32 stored ", 0),
            0u)
      << s.message();
}

TEST_F(ModelFileTest, TensorChecksumMismatch) {
  ASSERT_TRUE(WriteModelFile(path_, MakeModel()).ok());
  std::vector<char> b = Bytes();
  const uint64_t bias_offset = DataStart() + 128;  // conv2d/bias, after the 27-float kernel
  b[bias_offset + 2] ^= 0x10;
  SetBytes(b);
  Status s = ReadError();
  EXPECT_EQ(s.code(), ErrorCode::kDataLoss);
  EXPECT_EQ(
      s.message().rfind(path_ + ": tensor 'conv2d/bias' at offset " + std::to_string(bias_offset) +
                            ": checksum mismatch (crc32 stored ",
                        0),
      0u)
      << s.message();
}

TEST_F(ModelFileTest, HeaderContentIsValidatedWithThePath) {
  ASSERT_TRUE(WriteModelFile(path_, MakeModel()).ok());
  RewriteHeader([](nlohmann::json& h) { h["model"]["layers"][4]["units"] = 0; });
  EXPECT_EQ(ReadError().message(),
            path_ +
                ": header: model.layers.4.units: expected a positive integer up to 1048576, "
                "got '0'");

  ASSERT_TRUE(WriteModelFile(path_, MakeModel()).ok());
  RewriteHeader([](nlohmann::json& h) { h["tensors"][1]["dims"] = {4}; });
  EXPECT_EQ(ReadError().message(),
            path_ + ": header: tensors.1.bytes: 12 does not match dims (4) of float32 (16)");

  ASSERT_TRUE(WriteModelFile(path_, MakeModel()).ok());
  RewriteHeader([](nlohmann::json& h) { h["tensors"][1]["offset"] = 1 << 20; });
  EXPECT_EQ(ReadError().message().rfind(path_ + ": header: tensors.1: tensor 'conv2d/bias' "
                                                "(offset 1048576, 12 bytes) lies outside the "
                                                "data section",
                                        0),
            0u);

  ASSERT_TRUE(WriteModelFile(path_, MakeModel()).ok());
  RewriteHeader([](nlohmann::json& h) { h["tensors"][0]["name"] = "conv/kernel"; });
  EXPECT_EQ(ReadError().message(),
            path_ +
                ": header: tensors: tensor 0 should be 'conv2d/kernel' (3, 1, 3, 3), got "
                "'conv/kernel' (3, 1, 3, 3)");

  ASSERT_TRUE(WriteModelFile(path_, MakeModel()).ok());
  RewriteHeader([](nlohmann::json& h) { h["training"]["epochs_completed"] = "two"; });
  EXPECT_EQ(ReadError().message().rfind(path_ + ": header: ", 0), 0u);
}

}  // namespace
}  // namespace labbook::train
