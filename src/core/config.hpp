// Configuration files: YAML read into a tree that remembers where every value came from,
// command-line overrides (`--set key.path=value`), and schema readers with typed getters.
//
// The tree itself knows no schema. A schema is code: a component walks the tree with MapReader,
// whose getters check each value's type and range, fill in defaults and note which keys they
// know; MapReader::Finish() then rejects every key no getter asked for. So an override may create
// any missing field, and the schema decides afterwards whether that field exists. Every error
// reads "<origin>: <dotted.path>: <what was expected>", where the origin is "file.yaml:12" for
// values from a file and "--set key=value" for overrides.
//
// All of this is plain values and pure functions; nothing here is shared between threads.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "labbook/status.hpp"

namespace labbook::config {

// Where a value came from: a file and line, or a command-line override.
struct Origin {
  std::string source;  // "examples/keras-cnn.yaml", "--set epochs=3", "model.lbm header"
  int line = 0;        // 1-based line in `source`; 0 when it has no lines
  // "examples/keras-cnn.yaml:12", or the source alone when line is 0.
  std::string ToString() const;
};

// One value of a configuration: null, a scalar (kept as the text written), a list or a map.
// Maps keep their keys in file order; `keys[i]` names `children[i]`. Lists use `children` only.
struct Node {
  enum class Kind { kNull, kScalar, kList, kMap };
  struct Key {
    std::string name;
    Origin origin;
  };

  Kind kind = Kind::kNull;
  std::string scalar;   // the text of a scalar, without quotes
  bool quoted = false;  // the scalar was written in quotes: always a string, never a number
  std::vector<Node> children;
  std::vector<Key> keys;  // maps only
  Origin origin;

  // The value under `key` of a map, or null when absent (or when this is not a map).
  const Node* Find(std::string_view key) const;
  Node* Find(std::string_view key);

  // The tree as JSON, scalars typed by YAML 1.2's core schema: null, true/false, integers and
  // finite floats as numbers, everything else (and every quoted scalar) a string.
  nlohmann::json ToJson() const;
};

// "a list", "a map", "nothing (null)" or "'<text>'": how an error message shows what it got.
std::string Describe(const Node& node);

// Parses YAML text. `source` names the text in origins and errors. The top level must be a map
// (or empty, which gives an empty map). InvalidArgument "<source>:<line>: ..." for a syntax error
// or a key written twice in one map.
[[nodiscard]] Result<Node> ParseYaml(std::string_view text, const std::string& source);

// Reads and parses a YAML file. NotFound when it does not exist.
[[nodiscard]] Result<Node> LoadYamlFile(const std::string& path);

// A tree from JSON (used for configs stored inside other files); every node gets `origin`.
Node FromJson(const nlohmann::json& json, const Origin& origin);

// Applies one `--set` override, "key.path=value", to `root` (a map). The value is parsed as a
// YAML scalar or flow value (3, 1e-3, true, adam, [3, 3], {l2: 0.01}); each segment of the path
// is a map key or, where the tree holds a list, an index (layers.2.filters). Missing map keys are
// created; whether they are allowed is the schema's call. InvalidArgument naming the override
// for a missing '=', an empty path segment, a value that is not YAML, a path through a scalar,
// a list index that is not a number or is out of range.
[[nodiscard]] Status ApplyOverride(Node& root, std::string_view assignment);

// LoadYamlFile, then each override in order.
[[nodiscard]] Result<Node> LoadConfig(const std::string& path,
                                      std::span<const std::string> overrides);

// The dotted path of a child: JoinPath("layers", "2") == "layers.2", JoinPath("", "epochs") ==
// "epochs".
std::string JoinPath(std::string_view parent, std::string_view child);

// The allowed range of a number; its Describe() is what error messages say was expected.
struct NumberRange {
  double min = -1e308;
  double max = 1e308;
  bool min_inclusive = true;
  bool max_inclusive = true;

  static NumberRange Any() { return {}; }
  static NumberRange Positive() { return {0.0, 1e308, false, true}; }
  static NumberRange NonNegative() { return {0.0, 1e308, true, true}; }
  static NumberRange Between(double lo, double hi, bool lo_inclusive = true,
                             bool hi_inclusive = true) {
    return {lo, hi, lo_inclusive, hi_inclusive};
  }
  bool Contains(double value) const;
  // "a positive number", "a number >= 0", "a number in [0, 1)", "a number".
  std::string Describe() const;
};

// Reads the fields of one map of a config tree for a schema. Each getter marks its key as known,
// checks the value, and records the value it returns (the default when the key is absent or
// null) in the resolved JSON, so that the resolved config lists every field the schema read.
// Errors are InvalidArgument "<origin>: <path>: expected <what>, got <what>".
//
// A MapReader borrows the node and the JSON object it writes into; both must outlive it.
class MapReader {
 public:
  // `node` may be null or a null node: a section left out, read as all defaults. `path` is the
  // dotted path of `node` ("" for the top level); `parent_origin` is used for errors about a
  // missing section. `resolved` receives the resolved values (it becomes a JSON object).
  MapReader(const Node* node, std::string path, Origin parent_origin, nlohmann::json* resolved);

  // InvalidArgument unless the node is a map or null. Call before the getters.
  [[nodiscard]] Status ExpectMap(std::string_view what_it_holds) const;

  // Whether `key` holds a value other than null. Does not mark the key as known.
  bool Has(std::string_view key) const;

  [[nodiscard]] Result<std::string> String(std::string_view key);  // required
  [[nodiscard]] Result<std::string> String(std::string_view key, std::string default_value);
  // One of `choices` (required when default_value is empty); errors list the choices.
  [[nodiscard]] Result<std::string> Choice(std::string_view key,
                                           std::span<const std::string_view> choices,
                                           std::optional<std::string> default_value);
  [[nodiscard]] Result<double> Number(std::string_view key, NumberRange range,
                                      std::optional<double> default_value);
  // An integer in [min, max]; a max of INT32_MAX or more counts as no upper bound in messages.
  [[nodiscard]] Result<int64_t> Integer(std::string_view key, int64_t min, int64_t max,
                                        std::optional<int64_t> default_value);
  [[nodiscard]] Result<bool> Bool(std::string_view key, std::optional<bool> default_value);
  // An integer n (meaning n, n) or a list [a, b] of two, each >= min: kernel_size, strides.
  [[nodiscard]] Result<std::pair<int, int>> IntPair(
      std::string_view key, int min, std::optional<std::pair<int, int>> default_value);
  // A nested map; absent or null gives a reader over nothing (all defaults).
  [[nodiscard]] Result<MapReader> Map(std::string_view key, std::string_view what_it_holds);
  // A list of maps (required, at least one item); one reader per item.
  [[nodiscard]] Result<std::vector<MapReader>> ListOfMaps(std::string_view key,
                                                          std::string_view what_each_holds);

  // The value under `key` as it is written (any kind), marked as known; null when absent or
  // null. For schemas whose values are free-form (a sweep's `values`). Records nothing in the
  // resolved JSON.
  const Node* Value(std::string_view key) { return Lookup(key); }

  // InvalidArgument for the first key that no getter asked for: "<origin>: <path>: unknown key
  // [for <context>] (did you mean '<k>'?); valid keys: a, b, c".
  [[nodiscard]] Status Finish(std::string_view context = {}) const;

  // An error about `key` (or about this map when `key` is empty) at the best origin known.
  Status Error(std::string_view key, std::string_view message) const;

  const std::string& path() const { return path_; }
  const Origin& origin() const;
  nlohmann::json& resolved() { return *resolved_; }

 private:
  const Node* Lookup(std::string_view key);  // marks the key as known; null when absent or null
  Status Expected(std::string_view key, const Node& value, std::string_view what) const;

  const Node* node_;
  std::string path_;
  Origin parent_origin_;
  nlohmann::json* resolved_;
  std::vector<std::string> known_;
};

}  // namespace labbook::config
