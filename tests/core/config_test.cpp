#include "core/config.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>

namespace labbook::config {
namespace {

constexpr int64_t kNoMax = std::numeric_limits<int64_t>::max();

Node Parse(std::string_view text) {
  Result<Node> node = ParseYaml(text, "run.yaml");
  EXPECT_TRUE(node.ok()) << node.status().ToString();
  return node.ok() ? std::move(node).value() : Node{};
}

std::string ErrorOf(const Status& status) {
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(status.code(), ErrorCode::kInvalidArgument);
  return status.message();
}

// A small schema in the style of the trainer's, to drive MapReader.
struct Settings {
  int64_t epochs = 0;
  double learning_rate = 0;
  std::string optimizer;
  bool shuffle = false;
  std::pair<int, int> kernel;
  std::vector<int64_t> units;
};

Result<Settings> ReadSettings(const Node& root, nlohmann::json* resolved) {
  Settings s;
  MapReader top(&root, "", root.origin, resolved);
  auto epochs = top.Integer("epochs", 1, kNoMax, 10);
  if (!epochs.ok()) return epochs.status();
  s.epochs = *epochs;
  auto shuffle = top.Bool("shuffle", true);
  if (!shuffle.ok()) return shuffle.status();
  s.shuffle = *shuffle;
  auto kernel = top.IntPair("kernel_size", 1, std::pair{3, 3});
  if (!kernel.ok()) return kernel.status();
  s.kernel = *kernel;
  auto optimizer = top.Map("optimizer", "the optimizer's name and options");
  if (!optimizer.ok()) return optimizer.status();
  constexpr std::string_view kNames[] = {"sgd", "adam"};
  auto name = optimizer->Choice("name", kNames, "adam");
  if (!name.ok()) return name.status();
  s.optimizer = *name;
  auto lr = optimizer->Number("learning_rate", NumberRange::Positive(), 0.001);
  if (!lr.ok()) return lr.status();
  s.learning_rate = *lr;
  if (Status st = optimizer->Finish("optimizer '" + s.optimizer + "'"); !st.ok()) return st;
  if (top.Has("layers")) {
    auto layers = top.ListOfMaps("layers", "layers, each a map");
    if (!layers.ok()) return layers.status();
    for (MapReader& layer : *layers) {
      auto units = layer.Integer("units", 1, kNoMax, std::nullopt);
      if (!units.ok()) return units.status();
      s.units.push_back(*units);
      if (Status st = layer.Finish(); !st.ok()) return st;
    }
  }
  if (Status st = top.Finish(); !st.ok()) return st;
  return s;
}

std::string SettingsError(std::string_view yaml, std::vector<std::string> overrides = {}) {
  Node root = Parse(yaml);
  for (const auto& o : overrides) {
    Status st = ApplyOverride(root, o);
    if (!st.ok()) return st.message();
  }
  nlohmann::json resolved;
  Result<Settings> s = ReadSettings(root, &resolved);
  return s.ok() ? "ok" : ErrorOf(s.status());
}

constexpr char kYaml[] = R"(# a run
epochs: 3
optimizer:
  name: sgd
  learning_rate: 0.1
layers:
  - units: 8
  - units: 4
)";

TEST(ConfigTest, ParsesYamlWithLinesAndReadsTypedValues) {
  Node root = Parse(kYaml);
  ASSERT_EQ(root.kind, Node::Kind::kMap);
  ASSERT_NE(root.Find("optimizer"), nullptr);
  EXPECT_EQ(root.Find("epochs")->origin.ToString(), "run.yaml:2");
  EXPECT_EQ(root.Find("optimizer")->Find("learning_rate")->origin.ToString(), "run.yaml:5");
  nlohmann::json resolved;
  Result<Settings> s = ReadSettings(root, &resolved);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->epochs, 3);
  EXPECT_EQ(s->optimizer, "sgd");
  EXPECT_DOUBLE_EQ(s->learning_rate, 0.1);
  EXPECT_TRUE(s->shuffle);
  EXPECT_EQ(s->kernel, std::make_pair(3, 3));
  EXPECT_EQ(s->units, (std::vector<int64_t>{8, 4}));
}

TEST(ConfigTest, ResolvedJsonHoldsEveryFieldReadWithDefaults) {
  nlohmann::json resolved;
  Result<Settings> s = ReadSettings(Parse(kYaml), &resolved);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(resolved.dump(),
            R"({"epochs":3,"kernel_size":[3,3],"layers":[{"units":8},{"units":4}],)"
            R"("optimizer":{"learning_rate":0.1,"name":"sgd"},"shuffle":true})");
}

TEST(ConfigTest, TreeToJsonTypesScalarsLikeYaml12) {
  Node root = Parse("a: 1\nb: 1.5e-3\nc: true\nd: ~\ne: adam\nf: '7'\ng: [1, x]\nh: {k: null}\n");
  EXPECT_EQ(
      root.ToJson().dump(),
      R"({"a":1,"b":0.0015,"c":true,"d":null,"e":"adam","f":"7","g":[1,"x"],"h":{"k":null}})");
}

TEST(ConfigTest, EmptyFileIsAnEmptyMap) {
  Node root = Parse("");
  EXPECT_EQ(root.kind, Node::Kind::kMap);
  EXPECT_EQ(SettingsError(""), "ok");
}

TEST(ConfigTest, SyntaxErrorNamesTheLine) {
  Result<Node> node = ParseYaml("epochs: 3\noptimizer: [1, 2\n", "bad.yaml");
  EXPECT_EQ(ErrorOf(node.status()).rfind("bad.yaml:3: invalid YAML: ", 0), 0u)
      << node.status().message();
}

TEST(ConfigTest, TopLevelMustBeAMap) {
  Result<Node> node = ParseYaml("- 1\n- 2\n", "list.yaml");
  EXPECT_EQ(ErrorOf(node.status()),
            "list.yaml:1: expected a map of fields (key: value) at the top level, got a list");
}

TEST(ConfigTest, DuplicateKeyIsAnError) {
  Result<Node> node = ParseYaml("epochs: 3\nseed: 1\nepochs: 4\n", "dup.yaml");
  EXPECT_EQ(ErrorOf(node.status()), "dup.yaml:3: epochs: key written twice (first at line 1)");
}

TEST(ConfigTest, UnknownKeyListsValidKeysAndSuggestsTheClosest) {
  EXPECT_EQ(SettingsError("epochs: 3\noptimizer:\n  name: sgd\n  lerning_rate: 0.1\n"),
            "run.yaml:4: optimizer.lerning_rate: unknown key for optimizer 'sgd' (did you mean "
            "'learning_rate'?); valid keys: name, learning_rate");
  EXPECT_EQ(SettingsError("epochs: 3\nwarmup: 5\n"),
            "run.yaml:2: warmup: unknown key; valid keys: epochs, shuffle, kernel_size, optimizer");
}

TEST(ConfigTest, WrongTypesNameTheFieldAndTheExpectation) {
  EXPECT_EQ(SettingsError("optimizer:\n  learning_rate: fast\n"),
            "run.yaml:2: optimizer.learning_rate: expected a positive number, got 'fast'");
  EXPECT_EQ(SettingsError("optimizer:\n  learning_rate: -1\n"),
            "run.yaml:2: optimizer.learning_rate: expected a positive number, got '-1'");
  EXPECT_EQ(SettingsError("epochs: 2.5\n"),
            "run.yaml:1: epochs: expected a positive integer, got '2.5'");
  EXPECT_EQ(SettingsError("epochs: [1]\n"),
            "run.yaml:1: epochs: expected a positive integer, got a list");
  EXPECT_EQ(SettingsError("shuffle: yes\n"),
            "run.yaml:1: shuffle: expected true or false, got 'yes'");
  EXPECT_EQ(SettingsError("optimizer:\n  name: adagrad\n"),
            "run.yaml:2: optimizer.name: expected one of sgd, adam, got 'adagrad'");
  EXPECT_EQ(SettingsError("optimizer: adam\n"),
            "run.yaml:1: optimizer: expected a map (the optimizer's name and options), got "
            "'adam'");
  EXPECT_EQ(SettingsError("kernel_size: [3, 3, 3]\n"),
            "run.yaml:1: kernel_size: expected a positive integer or a list [height, width] of "
            "two, got a list of 3");
  EXPECT_EQ(SettingsError("kernel_size: [3, 0]\n"),
            "run.yaml:1: kernel_size.1: expected a positive integer, got '0'");
  EXPECT_EQ(SettingsError("layers: 3\n"),
            "run.yaml:1: layers: expected a list of layers, each a map, got '3'");
  EXPECT_EQ(SettingsError("layers: []\n"),
            "run.yaml:1: layers: expected a list of layers, each a map, got an empty list");
  EXPECT_EQ(SettingsError("layers:\n  - units: 3\n  - 5\n"),
            "run.yaml:3: layers.1: expected a map (layers, each a map), got '5'");
}

TEST(ConfigTest, MissingRequiredFieldNamesItsMap) {
  EXPECT_EQ(SettingsError("layers:\n  - units: 3\n  - {}\n"),
            "run.yaml:3: layers.1.units: missing (expected a positive integer)");
}

TEST(ConfigTest, KernelSizeAcceptsOneIntegerOrAPair) {
  nlohmann::json resolved;
  Result<Settings> s = ReadSettings(Parse("kernel_size: 5\n"), &resolved);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->kernel, std::make_pair(5, 5));
  s = ReadSettings(Parse("kernel_size: [1, 7]\n"), &resolved);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->kernel, std::make_pair(1, 7));
}

TEST(ConfigTest, OverridesReplaceCreateAndIndexIntoLists) {
  Node root = Parse(kYaml);
  ASSERT_TRUE(ApplyOverride(root, "epochs=7").ok());
  ASSERT_TRUE(ApplyOverride(root, "optimizer.name=adam").ok());
  ASSERT_TRUE(ApplyOverride(root, "layers.1.units=16").ok());
  ASSERT_TRUE(ApplyOverride(root, "kernel_size=[5, 3]").ok());
  ASSERT_TRUE(ApplyOverride(root, "shuffle=false").ok());
  nlohmann::json resolved;
  Result<Settings> s = ReadSettings(root, &resolved);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->epochs, 7);
  EXPECT_EQ(s->optimizer, "adam");
  EXPECT_EQ(s->units, (std::vector<int64_t>{8, 16}));
  EXPECT_EQ(s->kernel, std::make_pair(5, 3));
  EXPECT_FALSE(s->shuffle);
  EXPECT_EQ(root.Find("epochs")->origin.ToString(), "--set epochs=7");
}

TEST(ConfigTest, OverrideCreatesAMissingSection) {
  Node root = Parse("epochs: 3\n");
  ASSERT_TRUE(ApplyOverride(root, "optimizer.learning_rate=0.5").ok());
  nlohmann::json resolved;
  Result<Settings> s = ReadSettings(root, &resolved);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_DOUBLE_EQ(s->learning_rate, 0.5);
  // An empty section in the file ("optimizer:" alone) takes fields too.
  root = Parse("optimizer:\n");
  ASSERT_TRUE(ApplyOverride(root, "optimizer.name=sgd").ok());
  s = ReadSettings(root, &resolved);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->optimizer, "sgd");
}

TEST(ConfigTest, OverrideErrorsNameTheOverride) {
  EXPECT_EQ(SettingsError(kYaml, {"epochs"}),
            "--set epochs: expected KEY=VALUE, e.g. --set optimizer.learning_rate=0.01");
  EXPECT_EQ(SettingsError(kYaml, {"optimizer..name=sgd"}),
            "--set optimizer..name=sgd: expected a dotted field path such as optimizer.name, got "
            "'optimizer..name' with an empty field name");
  EXPECT_EQ(SettingsError(kYaml, {"=3"}),
            "--set =3: expected a dotted field path such as optimizer.name, got '' with an empty "
            "field name");
  EXPECT_EQ(SettingsError(kYaml, {"layers.5.units=3"}),
            "--set layers.5.units=3: layers.5: index out of range; layers has 2 items (0..1)");
  EXPECT_EQ(SettingsError(kYaml, {"layers.first.units=3"}),
            "--set layers.first.units=3: layers.first: layers is a list, so expected an item "
            "index; layers has 2 items (0..1)");
  EXPECT_EQ(SettingsError(kYaml, {"epochs.max=3"}),
            "--set epochs.max=3: epochs holds '3' (run.yaml:2), which has no field 'max'");
  EXPECT_EQ(SettingsError(kYaml, {"kernel_size=[3, 3"})
                .rfind("--set kernel_size=[3, 3: the value is not valid YAML: ", 0),
            0u);
}

TEST(ConfigTest, OverrideToAnUnknownPathIsRejectedByTheSchema) {
  EXPECT_EQ(SettingsError(kYaml, {"optimizer.momentum=0.9"}),
            "--set optimizer.momentum=0.9: optimizer.momentum: unknown key for optimizer 'sgd'; "
            "valid keys: name, learning_rate");
  EXPECT_EQ(SettingsError(kYaml, {"optimzer.name=sgd"}),
            "--set optimzer.name=sgd: optimzer: unknown key (did you mean 'optimizer'?); valid "
            "keys: epochs, shuffle, kernel_size, optimizer, layers");
  EXPECT_EQ(SettingsError(kYaml, {"optimizer.learning_rate=fast"}),
            "--set optimizer.learning_rate=fast: optimizer.learning_rate: expected a positive "
            "number, got 'fast'");
}

TEST(ConfigTest, NullMeansDefault) {
  Node root = Parse(kYaml);
  ASSERT_TRUE(ApplyOverride(root, "epochs=null").ok());
  nlohmann::json resolved;
  Result<Settings> s = ReadSettings(root, &resolved);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->epochs, 10);
}

TEST(ConfigTest, LoadConfigReadsAFileAndAppliesOverridesInOrder) {
  std::string path = (std::filesystem::temp_directory_path() / "labbook-config-test.yaml").string();
  {
    std::ofstream out(path);
    out << kYaml;
  }
  std::vector<std::string> overrides = {"epochs=4", "epochs=5"};
  Result<Node> root = LoadConfig(path, overrides);
  ASSERT_TRUE(root.ok()) << root.status().ToString();
  EXPECT_EQ(root->Find("epochs")->scalar, "5");
  std::remove(path.c_str());
  Result<Node> missing = LoadConfig(path, {});
  EXPECT_EQ(missing.status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(missing.status().message(), path + ": no such file");
}

TEST(ConfigTest, FromJsonRoundTripsThroughTheSchema) {
  Node root = Parse(kYaml);
  nlohmann::json resolved;
  ASSERT_TRUE(ReadSettings(root, &resolved).ok());
  Node again = FromJson(resolved, {"model.lbm header", 0});
  nlohmann::json resolved_again;
  Result<Settings> s = ReadSettings(again, &resolved_again);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(resolved_again, resolved);
  EXPECT_EQ(again.Find("optimizer")->origin.ToString(), "model.lbm header");
}

TEST(ConfigTest, NumberRangeDescriptions) {
  EXPECT_EQ(NumberRange::Any().Describe(), "a number");
  EXPECT_EQ(NumberRange::Positive().Describe(), "a positive number");
  EXPECT_EQ(NumberRange::NonNegative().Describe(), "a number >= 0");
  EXPECT_EQ(NumberRange::Between(0, 1, true, false).Describe(), "a number in [0, 1)");
  EXPECT_TRUE(NumberRange::Between(0, 1, true, false).Contains(0));
  EXPECT_FALSE(NumberRange::Between(0, 1, true, false).Contains(1));
}

}  // namespace
}  // namespace labbook::config
