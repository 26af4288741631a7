// `labbook model summary` tables against golden files (tests/golden/train/), reviewed as text.
#include "train/summary.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "train/train_config.hpp"

namespace labbook::train {
namespace {

std::string Golden(const std::string& name) {
  std::ifstream in(std::string(LABBOOK_SOURCE_DIR) + "/tests/golden/train/" + name);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(SummaryTest, KerasCnnMatchesKerasCounts) {
  Result<TrainConfig> config = LoadTrainConfig(LABBOOK_SOURCE_DIR "/examples/keras-cnn.yaml", {});
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  Result<nn::ModelSpec> spec = MakeModelSpec(*config, {1, 28, 28, false});
  ASSERT_TRUE(spec.ok());
  Result<std::vector<nn::LayerInfo>> layers = nn::InferShapes(*spec);
  ASSERT_TRUE(layers.ok());
  EXPECT_EQ(FormatModelSummary(*layers), Golden("keras-cnn-summary.txt"));
}

TEST(SummaryTest, BatchNormalizationHasNonTrainableParameters) {
  nn::ModelSpec spec;
  spec.input = {3, 32, 32, false};
  nn::Conv2DSpec conv;
  conv.filters = 16;
  conv.padding = nn::Padding::kSame;
  nn::DenseSpec dense;
  dense.units = 10;
  spec.layers = {
      conv, nn::BatchNormSpec{}, nn::ActivationSpec{}, nn::Pool2DSpec{}, nn::FlattenSpec{}, dense};
  Result<std::vector<nn::LayerInfo>> layers = nn::InferShapes(spec);
  ASSERT_TRUE(layers.ok());
  EXPECT_EQ(FormatModelSummary(*layers), Golden("batchnorm-summary.txt"));
}

TEST(SummaryTest, KerasShapes) {
  EXPECT_EQ(KerasShape({32, 26, 26, false}), "(None, 26, 26, 32)");
  EXPECT_EQ(KerasShape({1600, 1, 1, true}), "(None, 1600)");
}

}  // namespace
}  // namespace labbook::train
