#include "core/config.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <system_error>

#include "core/status_macros.hpp"

namespace labbook::config {
namespace {

bool IsNullText(std::string_view text) {
  return text.empty() || text == "~" || text == "null" || text == "Null" || text == "NULL";
}

std::optional<bool> ParseBool(std::string_view text) {
  if (text == "true" || text == "True" || text == "TRUE") return true;
  if (text == "false" || text == "False" || text == "FALSE") return false;
  return std::nullopt;
}

std::optional<int64_t> ParseInteger(std::string_view text) {
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  if (text.empty()) return std::nullopt;
  int64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

// A finite decimal number as YAML 1.2's core schema writes one (no .inf, .nan, hex or octal).
std::optional<double> ParseNumber(std::string_view text) {
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  if (text.empty()) return std::nullopt;
  for (char c : text) {
    bool allowed =
        (c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '-' || c == '+';
    if (!allowed) return std::nullopt;
  }
  double value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

std::string FormatNumber(double value) {
  // The shortest text that reads back to the same double.
  char buf[64];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, value);
    if (std::strtod(buf, nullptr) == value) break;
  }
  return buf;
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

Result<Node> Convert(const YAML::Node& yaml, const std::string& source, const std::string& path) {
  Node node;
  node.origin = {source, yaml.Mark().line + 1};
  switch (yaml.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      node.kind = Node::Kind::kNull;
      return node;
    case YAML::NodeType::Scalar:
      node.kind = Node::Kind::kScalar;
      node.scalar = yaml.Scalar();
      // yaml-cpp tags quoted scalars "!" (non-specific) and plain ones "?".
      node.quoted = yaml.Tag() == "!";
      return node;
    case YAML::NodeType::Sequence: {
      node.kind = Node::Kind::kList;
      size_t index = 0;
      for (const YAML::Node& item : yaml) {
        LABBOOK_ASSIGN_OR_RETURN(Node child,
                                 Convert(item, source, JoinPath(path, std::to_string(index))));
        node.children.push_back(std::move(child));
        ++index;
      }
      return node;
    }
    case YAML::NodeType::Map: {
      node.kind = Node::Kind::kMap;
      for (const auto& pair : yaml) {
        Origin key_origin{source, pair.first.Mark().line + 1};
        if (!pair.first.IsScalar()) {
          return InvalidArgument(key_origin.ToString() + ": " +
                                 (path.empty() ? "top level" : path) +
                                 ": expected a plain key, got a list or map as key");
        }
        std::string key = pair.first.Scalar();
        for (const Node::Key& seen : node.keys) {
          if (seen.name == key) {
            return InvalidArgument(key_origin.ToString() + ": " + JoinPath(path, key) +
                                   ": key written twice (first at line " +
                                   std::to_string(seen.origin.line) + ")");
          }
        }
        LABBOOK_ASSIGN_OR_RETURN(Node child, Convert(pair.second, source, JoinPath(path, key)));
        // An empty value ("key:" and nothing after) has no position of its own.
        if (child.kind == Node::Kind::kNull) child.origin = key_origin;
        node.keys.push_back({std::move(key), std::move(key_origin)});
        node.children.push_back(std::move(child));
      }
      return node;
    }
  }
  return Internal("unknown YAML node type");
}

void SetOrigin(Node& node, const Origin& origin) {
  node.origin = origin;
  for (Node::Key& key : node.keys) key.origin = origin;
  for (Node& child : node.children) SetOrigin(child, origin);
}

std::string ListRange(size_t size) {
  if (size == 0) return "is empty";
  return "has " + std::to_string(size) + (size == 1 ? " item" : " items") + " (0.." +
         std::to_string(size - 1) + ")";
}

}  // namespace

std::string Origin::ToString() const {
  if (line <= 0) return source;
  return source + ":" + std::to_string(line);
}

const Node* Node::Find(std::string_view key) const {
  if (kind != Kind::kMap) return nullptr;
  for (size_t i = 0; i < keys.size(); ++i) {
    if (keys[i].name == key) return &children[i];
  }
  return nullptr;
}

Node* Node::Find(std::string_view key) {
  return const_cast<Node*>(static_cast<const Node*>(this)->Find(key));
}

nlohmann::json Node::ToJson() const {
  switch (kind) {
    case Kind::kNull:
      return nullptr;
    case Kind::kScalar: {
      if (quoted) return scalar;
      if (IsNullText(scalar)) return nullptr;
      if (auto b = ParseBool(scalar)) return *b;
      if (auto i = ParseInteger(scalar)) return *i;
      if (auto d = ParseNumber(scalar)) return *d;
      return scalar;
    }
    case Kind::kList: {
      nlohmann::json out = nlohmann::json::array();
      for (const Node& child : children) out.push_back(child.ToJson());
      return out;
    }
    case Kind::kMap: {
      nlohmann::json out = nlohmann::json::object();
      for (size_t i = 0; i < keys.size(); ++i) out[keys[i].name] = children[i].ToJson();
      return out;
    }
  }
  return nullptr;
}

std::string Describe(const Node& node) {
  switch (node.kind) {
    case Node::Kind::kNull:
      return "nothing (null)";
    case Node::Kind::kScalar:
      return "'" + node.scalar + "'";
    case Node::Kind::kList:
      return "a list";
    case Node::Kind::kMap:
      return "a map";
  }
  return "?";
}

std::string JoinPath(std::string_view parent, std::string_view child) {
  if (parent.empty()) return std::string(child);
  std::string out(parent);
  out += '.';
  out += child;
  return out;
}

Result<Node> ParseYaml(std::string_view text, const std::string& source) {
  YAML::Node yaml;
  try {
    yaml = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    Origin origin{source, e.mark.line + 1};
    return InvalidArgument(origin.ToString() + ": invalid YAML: " + e.msg);
  }
  LABBOOK_ASSIGN_OR_RETURN(Node root, Convert(yaml, source, ""));
  if (root.kind == Node::Kind::kNull) {
    root.kind = Node::Kind::kMap;
    root.origin = {source, 1};
  }
  if (root.kind != Node::Kind::kMap) {
    return InvalidArgument(root.origin.ToString() + ": expected a map of fields (key: value) at " +
                           "the top level, got " + Describe(root));
  }
  return root;
}

Result<Node> LoadYamlFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) return NotFound(path + ": no such file");
    return PermissionDenied(path + ": cannot read");
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return PermissionDenied(path + ": read failed");
  return ParseYaml(text.str(), path);
}

Node FromJson(const nlohmann::json& json, const Origin& origin) {
  Node node;
  node.origin = origin;
  if (json.is_null()) {
    node.kind = Node::Kind::kNull;
  } else if (json.is_object()) {
    node.kind = Node::Kind::kMap;
    for (const auto& [key, value] : json.items()) {
      node.keys.push_back({key, origin});
      node.children.push_back(FromJson(value, origin));
    }
  } else if (json.is_array()) {
    node.kind = Node::Kind::kList;
    for (const auto& value : json) node.children.push_back(FromJson(value, origin));
  } else if (json.is_string()) {
    node.kind = Node::Kind::kScalar;
    node.scalar = json.get<std::string>();
    node.quoted = true;
  } else if (json.is_number_float()) {
    node.kind = Node::Kind::kScalar;
    node.scalar = FormatNumber(json.get<double>());
  } else {
    node.kind = Node::Kind::kScalar;
    node.scalar = json.dump();
  }
  return node;
}

Status ApplyOverride(Node& root, std::string_view assignment) {
  const std::string where = "--set " + std::string(assignment);
  size_t equals = assignment.find('=');
  if (equals == std::string_view::npos) {
    return InvalidArgument(where + ": expected KEY=VALUE, e.g. --set optimizer.learning_rate=0.01");
  }
  std::string_view key = assignment.substr(0, equals);
  std::string_view value_text = assignment.substr(equals + 1);
  std::vector<std::string> segments;
  size_t start = 0;
  while (true) {
    size_t dot = key.find('.', start);
    std::string_view segment = key.substr(start, dot == std::string_view::npos ? dot : dot - start);
    if (segment.empty()) {
      return InvalidArgument(where +
                             ": expected a dotted field path such as optimizer.name, got '" +
                             std::string(key) + "' with an empty field name");
    }
    segments.emplace_back(segment);
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }

  Origin origin{where, 0};
  Node value;
  try {
    YAML::Node yaml = YAML::Load(std::string(value_text));
    LABBOOK_ASSIGN_OR_RETURN(value, Convert(yaml, where, std::string(key)));
  } catch (const YAML::Exception& e) {
    return InvalidArgument(where + ": the value is not valid YAML: " + e.msg);
  }
  SetOrigin(value, origin);

  Node* current = &root;
  std::string path;
  for (size_t i = 0; i < segments.size(); ++i) {
    const std::string& segment = segments[i];
    const bool last = i + 1 == segments.size();
    if (current->kind == Node::Kind::kNull) {
      // "early_stopping:" left empty in the file is a section waiting for fields.
      current->kind = Node::Kind::kMap;
    }
    Node* next = nullptr;
    if (current->kind == Node::Kind::kMap) {
      next = current->Find(segment);
      if (next == nullptr) {
        current->keys.push_back({segment, origin});
        Node created;
        created.kind = Node::Kind::kMap;
        created.origin = origin;
        current->children.push_back(std::move(created));
        next = &current->children.back();
      }
    } else if (current->kind == Node::Kind::kList) {
      std::optional<int64_t> index = ParseInteger(segment);
      if (!index || segment.front() == '+') {
        return InvalidArgument(where + ": " + JoinPath(path, segment) + ": " + path +
                               " is a list, so expected an item index; " + path + " " +
                               ListRange(current->children.size()));
      }
      if (*index < 0 || static_cast<size_t>(*index) >= current->children.size()) {
        return InvalidArgument(where + ": " + JoinPath(path, segment) + ": index out of range; " +
                               path + " " + ListRange(current->children.size()));
      }
      next = &current->children[static_cast<size_t>(*index)];
    } else {
      return InvalidArgument(where + ": " + path + " holds " + Describe(*current) + " (" +
                             current->origin.ToString() + "), which has no field '" + segment +
                             "'");
    }
    path = JoinPath(path, segment);
    if (last) *next = value;
    current = next;
  }
  return Status::Ok();
}

Result<Node> LoadConfig(const std::string& path, std::span<const std::string> overrides) {
  LABBOOK_ASSIGN_OR_RETURN(Node root, LoadYamlFile(path));
  for (const std::string& assignment : overrides) {
    LABBOOK_RETURN_IF_ERROR(ApplyOverride(root, assignment));
  }
  return root;
}

bool NumberRange::Contains(double value) const {
  if (!std::isfinite(value)) return false;
  if (min_inclusive ? value < min : value <= min) return false;
  if (max_inclusive ? value > max : value >= max) return false;
  return true;
}

std::string NumberRange::Describe() const {
  const bool has_min = min > -1e308;
  const bool has_max = max < 1e308;
  if (!has_min && !has_max) return "a number";
  if (!has_max) {
    if (min == 0.0) return min_inclusive ? "a number >= 0" : "a positive number";
    return std::string("a number ") + (min_inclusive ? ">= " : "> ") + FormatNumber(min);
  }
  if (!has_min)
    return std::string("a number ") + (max_inclusive ? "<= " : "< ") + FormatNumber(max);
  return std::string("a number in ") + (min_inclusive ? "[" : "(") + FormatNumber(min) + ", " +
         FormatNumber(max) + (max_inclusive ? "]" : ")");
}

MapReader::MapReader(const Node* node, std::string path, Origin parent_origin,
                     nlohmann::json* resolved)
    : node_(node),
      path_(std::move(path)),
      parent_origin_(std::move(parent_origin)),
      resolved_(resolved) {
  if (!resolved_->is_object()) *resolved_ = nlohmann::json::object();
}

const Origin& MapReader::origin() const {
  return node_ != nullptr ? node_->origin : parent_origin_;
}

Status MapReader::ExpectMap(std::string_view what_it_holds) const {
  if (node_ == nullptr || node_->kind == Node::Kind::kNull || node_->kind == Node::Kind::kMap) {
    return Status::Ok();
  }
  return InvalidArgument(node_->origin.ToString() + ": " + (path_.empty() ? "top level" : path_) +
                         ": expected a map (" + std::string(what_it_holds) + "), got " +
                         Describe(*node_));
}

bool MapReader::Has(std::string_view key) const {
  if (node_ == nullptr) return false;
  const Node* value = node_->Find(key);
  return value != nullptr && value->kind != Node::Kind::kNull;
}

const Node* MapReader::Lookup(std::string_view key) {
  if (std::find(known_.begin(), known_.end(), key) == known_.end()) known_.emplace_back(key);
  if (node_ == nullptr) return nullptr;
  const Node* value = node_->Find(key);
  if (value == nullptr || value->kind == Node::Kind::kNull) return nullptr;
  return value;
}

Status MapReader::Error(std::string_view key, std::string_view message) const {
  const Origin* where = &origin();
  if (!key.empty() && node_ != nullptr) {
    if (const Node* value = node_->Find(key)) where = &value->origin;
  }
  std::string path = key.empty() ? path_ : JoinPath(path_, key);
  if (path.empty()) path = "top level";
  return InvalidArgument(where->ToString() + ": " + path + ": " + std::string(message));
}

Status MapReader::Expected(std::string_view key, const Node& value, std::string_view what) const {
  return InvalidArgument(value.origin.ToString() + ": " + JoinPath(path_, key) + ": expected " +
                         std::string(what) + ", got " + Describe(value));
}

Result<std::string> MapReader::String(std::string_view key) {
  const Node* value = Lookup(key);
  if (value == nullptr) return Error(key, "missing (expected a string)");
  if (value->kind != Node::Kind::kScalar) return Expected(key, *value, "a string");
  (*resolved_)[std::string(key)] = value->scalar;
  return value->scalar;
}

Result<std::string> MapReader::String(std::string_view key, std::string default_value) {
  if (Lookup(key) == nullptr) {
    (*resolved_)[std::string(key)] = default_value;
    return default_value;
  }
  return String(key);
}

Result<std::string> MapReader::Choice(std::string_view key,
                                      std::span<const std::string_view> choices,
                                      std::optional<std::string> default_value) {
  std::string expected = "one of ";
  for (size_t i = 0; i < choices.size(); ++i) {
    if (i > 0) expected += ", ";
    expected += choices[i];
  }
  const Node* value = Lookup(key);
  std::string text;
  if (value == nullptr) {
    if (!default_value) return Error(key, "missing (expected " + expected + ")");
    text = *default_value;
  } else {
    if (value->kind != Node::Kind::kScalar) return Expected(key, *value, expected);
    text = value->scalar;
    if (std::find(choices.begin(), choices.end(), text) == choices.end()) {
      return Expected(key, *value, expected);
    }
  }
  (*resolved_)[std::string(key)] = text;
  return text;
}

Result<double> MapReader::Number(std::string_view key, NumberRange range,
                                 std::optional<double> default_value) {
  const Node* value = Lookup(key);
  double number = 0;
  if (value == nullptr) {
    if (!default_value) return Error(key, "missing (expected " + range.Describe() + ")");
    number = *default_value;
  } else {
    std::optional<double> parsed;
    if (value->kind == Node::Kind::kScalar) parsed = ParseNumber(value->scalar);
    if (!parsed || !range.Contains(*parsed)) return Expected(key, *value, range.Describe());
    number = *parsed;
  }
  (*resolved_)[std::string(key)] = number;
  return number;
}

Result<int64_t> MapReader::Integer(std::string_view key, int64_t min, int64_t max,
                                   std::optional<int64_t> default_value) {
  // The largest int and int64 are type limits, not part of what a user needs to know.
  const bool bounded = max < std::numeric_limits<int32_t>::max();
  std::string expected;
  if (!bounded) {
    expected = min == 1 ? "a positive integer" : "an integer >= " + std::to_string(min);
  } else if (min == 1) {
    expected = "a positive integer up to " + std::to_string(max);
  } else {
    expected = "an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]";
  }
  const Node* value = Lookup(key);
  int64_t number = 0;
  if (value == nullptr) {
    if (!default_value) return Error(key, "missing (expected " + expected + ")");
    number = *default_value;
  } else {
    std::optional<int64_t> parsed;
    if (value->kind == Node::Kind::kScalar) parsed = ParseInteger(value->scalar);
    if (!parsed || *parsed < min || *parsed > max) return Expected(key, *value, expected);
    number = *parsed;
  }
  (*resolved_)[std::string(key)] = number;
  return number;
}

Result<bool> MapReader::Bool(std::string_view key, std::optional<bool> default_value) {
  const Node* value = Lookup(key);
  bool flag = false;
  if (value == nullptr) {
    if (!default_value) return Error(key, "missing (expected true or false)");
    flag = *default_value;
  } else {
    std::optional<bool> parsed;
    if (value->kind == Node::Kind::kScalar) parsed = ParseBool(value->scalar);
    if (!parsed) return Expected(key, *value, "true or false");
    flag = *parsed;
  }
  (*resolved_)[std::string(key)] = flag;
  return flag;
}

Result<std::pair<int, int>> MapReader::IntPair(std::string_view key, int min,
                                               std::optional<std::pair<int, int>> default_value) {
  const std::string bound = min == 1 ? "positive integer" : "integer >= " + std::to_string(min);
  const std::string expected = "a " + bound + " or a list [height, width] of two";
  const Node* value = Lookup(key);
  std::pair<int, int> pair;
  auto parse_one = [&](const Node& node) -> std::optional<int> {
    if (node.kind != Node::Kind::kScalar) return std::nullopt;
    std::optional<int64_t> parsed = ParseInteger(node.scalar);
    if (!parsed || *parsed < min || *parsed > std::numeric_limits<int>::max()) {
      return std::nullopt;
    }
    return static_cast<int>(*parsed);
  };
  if (value == nullptr) {
    if (!default_value) return Error(key, "missing (expected " + expected + ")");
    pair = *default_value;
  } else if (value->kind == Node::Kind::kList) {
    if (value->children.size() != 2) {
      return InvalidArgument(value->origin.ToString() + ": " + JoinPath(path_, key) +
                             ": expected " + expected + ", got a list of " +
                             std::to_string(value->children.size()));
    }
    for (size_t i = 0; i < 2; ++i) {
      std::optional<int> one = parse_one(value->children[i]);
      if (!one) {
        return InvalidArgument(value->children[i].origin.ToString() + ": " +
                               JoinPath(JoinPath(path_, key), std::to_string(i)) + ": expected a " +
                               bound + ", got " + Describe(value->children[i]));
      }
      (i == 0 ? pair.first : pair.second) = *one;
    }
  } else {
    std::optional<int> one = parse_one(*value);
    if (!one) return Expected(key, *value, expected);
    pair = {*one, *one};
  }
  (*resolved_)[std::string(key)] = {pair.first, pair.second};
  return pair;
}

Result<MapReader> MapReader::Map(std::string_view key, std::string_view what_it_holds) {
  const Node* value = Lookup(key);
  const Origin& parent = origin();
  MapReader child(value, JoinPath(path_, key), parent, &(*resolved_)[std::string(key)]);
  LABBOOK_RETURN_IF_ERROR(child.ExpectMap(what_it_holds));
  return child;
}

Result<std::vector<MapReader>> MapReader::ListOfMaps(std::string_view key,
                                                     std::string_view what_each_holds) {
  const Node* value = Lookup(key);
  const std::string expected = "a list of " + std::string(what_each_holds);
  if (value == nullptr) return Error(key, "missing (expected " + expected + ")");
  if (value->kind != Node::Kind::kList) return Expected(key, *value, expected);
  if (value->children.empty()) {
    return InvalidArgument(value->origin.ToString() + ": " + JoinPath(path_, key) + ": expected " +
                           expected + ", got an empty list");
  }
  nlohmann::json& items = (*resolved_)[std::string(key)];
  items = nlohmann::json::array();
  for (size_t i = 0; i < value->children.size(); ++i) items.push_back(nlohmann::json::object());
  std::vector<MapReader> readers;
  for (size_t i = 0; i < value->children.size(); ++i) {
    const Node& item = value->children[i];
    std::string item_path = JoinPath(JoinPath(path_, key), std::to_string(i));
    if (item.kind != Node::Kind::kMap) {
      return InvalidArgument(item.origin.ToString() + ": " + item_path + ": expected a map (" +
                             std::string(what_each_holds) + "), got " + Describe(item));
    }
    readers.emplace_back(&item, std::move(item_path), item.origin, &items[i]);
  }
  return readers;
}

Status MapReader::Finish(std::string_view context) const {
  if (node_ == nullptr || node_->kind != Node::Kind::kMap) return Status::Ok();
  for (const Node::Key& key : node_->keys) {
    if (std::find(known_.begin(), known_.end(), key.name) != known_.end()) continue;
    std::string message =
        key.origin.ToString() + ": " + JoinPath(path_, key.name) + ": unknown key";
    if (!context.empty()) message += " for " + std::string(context);
    const std::string* closest = nullptr;
    size_t best = std::numeric_limits<size_t>::max();
    for (const std::string& candidate : known_) {
      size_t distance = EditDistance(key.name, candidate);
      if (distance < best) {
        best = distance;
        closest = &candidate;
      }
    }
    if (closest != nullptr && best <= 2 && best < key.name.size()) {
      message += " (did you mean '" + *closest + "'?)";
    }
    message += "; valid keys: ";
    for (size_t i = 0; i < known_.size(); ++i) {
      if (i > 0) message += ", ";
      message += known_[i];
    }
    return InvalidArgument(std::move(message));
  }
  return Status::Ok();
}

}  // namespace labbook::config
