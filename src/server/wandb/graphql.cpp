#include "server/wandb/graphql.hpp"

#include <cctype>
#include <map>
#include <optional>
#include <utility>

#include "core/status_macros.hpp"

namespace labbook::server::wandb {
namespace {

using nlohmann::json;

// Fragments may spread each other; a deeper nesting than this is a cycle or an attack.
constexpr int kMaxSelectionDepth = 32;

// A selection before fragment spreads are expanded.
struct RawSelection {
  enum class Kind { kField, kSpread, kInline } kind = Kind::kField;
  GqlField field;                      // kField (its `selection` stays empty; see `children`)
  std::string fragment;                // kSpread
  std::vector<RawSelection> children;  // kField's and kInline's selection set
};

struct RawOperation {
  std::string type;
  std::string name;
  std::vector<RawSelection> selection;
};

class Parser {
 public:
  Parser(std::string_view text, const json& variables) : text_(text), variables_(variables) {}

  Status ParseDocument() {
    SkipIgnored();
    while (pos_ < text_.size()) {
      if (Peek() == '{') {
        RawOperation op;
        op.type = "query";
        LABBOOK_RETURN_IF_ERROR(ParseSelectionSet(op.selection));
        operations_.push_back(std::move(op));
      } else {
        LABBOOK_ASSIGN_OR_RETURN(std::string keyword, ParseName("a definition"));
        if (keyword == "fragment") {
          LABBOOK_RETURN_IF_ERROR(ParseFragment());
        } else if (keyword == "query" || keyword == "mutation" || keyword == "subscription") {
          LABBOOK_RETURN_IF_ERROR(ParseOperation(keyword));
        } else {
          return Error("'query', 'mutation', 'subscription', 'fragment' or '{'", keyword);
        }
      }
      SkipIgnored();
    }
    if (operations_.empty()) return InvalidArgument("GraphQL document has no operation");
    return Status::Ok();
  }

  Result<GqlOperation> Select(std::string_view operation_name) const {
    const RawOperation* chosen = &operations_.front();
    if (!operation_name.empty()) {
      chosen = nullptr;
      for (const RawOperation& op : operations_) {
        if (op.name == operation_name) chosen = &op;
      }
      if (chosen == nullptr) {
        return InvalidArgument("GraphQL document has no operation named '" +
                               std::string(operation_name) + "'");
      }
    }
    GqlOperation out;
    out.type = chosen->type;
    out.name = chosen->name;
    LABBOOK_RETURN_IF_ERROR(Expand(chosen->selection, 0, out.selection));
    return out;
  }

 private:
  char Peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }

  Status Error(std::string_view expected, std::string_view found = {}) const {
    std::string message = "GraphQL syntax error at byte " + std::to_string(pos_) + ": expected " +
                          std::string(expected);
    if (!found.empty()) message += ", found '" + std::string(found) + "'";
    return InvalidArgument(std::move(message));
  }

  // Whitespace, commas and comments carry no meaning in GraphQL.
  void SkipIgnored() {
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',') {
        ++pos_;
      } else if (c == '#') {
        while (pos_ < text_.size() && text_[pos_] != '\n' && text_[pos_] != '\r') ++pos_;
      } else {
        break;
      }
    }
  }

  bool Consume(char c) {
    SkipIgnored();
    if (Peek() != c) return false;
    ++pos_;
    SkipIgnored();
    return true;
  }

  Status Expect(char c) {
    if (Consume(c)) return Status::Ok();
    return Error(std::string("'") + c + "'", std::string(1, Peek()));
  }

  static bool IsNameStart(char c) {
    return std::isalpha(static_cast<unsigned char>(c)) != 0 || c == '_';
  }
  static bool IsNameChar(char c) {
    return IsNameStart(c) || std::isdigit(static_cast<unsigned char>(c)) != 0;
  }

  Result<std::string> ParseName(std::string_view what) {
    SkipIgnored();
    if (!IsNameStart(Peek())) return Error(what, std::string(1, Peek()));
    const size_t start = pos_;
    while (pos_ < text_.size() && IsNameChar(text_[pos_])) ++pos_;
    std::string name(text_.substr(start, pos_ - start));
    SkipIgnored();
    return name;
  }

  bool PeekName(std::string_view name) {
    SkipIgnored();
    if (text_.substr(pos_, name.size()) != name) return false;
    const size_t after = pos_ + name.size();
    return after >= text_.size() || !IsNameChar(text_[after]);
  }

  Status ParseOperation(const std::string& type) {
    RawOperation op;
    op.type = type;
    if (IsNameStart(Peek())) {
      LABBOOK_ASSIGN_OR_RETURN(op.name, ParseName("an operation name"));
    }
    if (Consume('(')) {
      while (!Consume(')')) {
        LABBOOK_RETURN_IF_ERROR(ParseVariableDefinition());
      }
    }
    LABBOOK_RETURN_IF_ERROR(SkipDirectives());
    LABBOOK_RETURN_IF_ERROR(ParseSelectionSet(op.selection));
    operations_.push_back(std::move(op));
    return Status::Ok();
  }

  Status ParseVariableDefinition() {
    LABBOOK_RETURN_IF_ERROR(Expect('$'));
    LABBOOK_ASSIGN_OR_RETURN(std::string name, ParseName("a variable name"));
    LABBOOK_RETURN_IF_ERROR(Expect(':'));
    LABBOOK_RETURN_IF_ERROR(SkipType());
    if (Consume('=')) {
      LABBOOK_ASSIGN_OR_RETURN(json value, ParseValue(/*constant=*/true));
      if (!variables_.is_object() || !variables_.contains(name)) defaults_[name] = value;
    }
    return SkipDirectives();
  }

  Status SkipType() {
    if (Consume('[')) {
      LABBOOK_RETURN_IF_ERROR(SkipType());
      LABBOOK_RETURN_IF_ERROR(Expect(']'));
    } else {
      LABBOOK_ASSIGN_OR_RETURN(std::string type, ParseName("a type name"));
      (void)type;
    }
    Consume('!');
    return Status::Ok();
  }

  Status SkipDirectives() {
    while (Consume('@')) {
      LABBOOK_ASSIGN_OR_RETURN(std::string directive, ParseName("a directive name"));
      (void)directive;
      if (Consume('(')) {
        json ignored = json::object();
        LABBOOK_RETURN_IF_ERROR(ParseArgumentsAfterParen(ignored));
      }
    }
    return Status::Ok();
  }

  Status ParseFragment() {
    LABBOOK_ASSIGN_OR_RETURN(std::string name, ParseName("a fragment name"));
    if (!PeekName("on")) return Error("'on' after the fragment name");
    LABBOOK_ASSIGN_OR_RETURN(std::string on, ParseName("'on'"));
    LABBOOK_ASSIGN_OR_RETURN(std::string type, ParseName("a type condition"));
    (void)on;
    (void)type;
    LABBOOK_RETURN_IF_ERROR(SkipDirectives());
    std::vector<RawSelection> selection;
    LABBOOK_RETURN_IF_ERROR(ParseSelectionSet(selection));
    fragments_[name] = std::move(selection);
    return Status::Ok();
  }

  Status ParseSelectionSet(std::vector<RawSelection>& out) {
    LABBOOK_RETURN_IF_ERROR(Expect('{'));
    while (!Consume('}')) {
      if (pos_ >= text_.size()) return Error("'}'", "end of document");
      RawSelection selection;
      if (text_.substr(pos_, 3) == "...") {
        pos_ += 3;
        SkipIgnored();
        if (PeekName("on") || Peek() == '{' || Peek() == '@') {
          if (PeekName("on")) {
            LABBOOK_ASSIGN_OR_RETURN(std::string on, ParseName("'on'"));
            LABBOOK_ASSIGN_OR_RETURN(std::string type, ParseName("a type condition"));
            (void)on;
            (void)type;
          }
          LABBOOK_RETURN_IF_ERROR(SkipDirectives());
          selection.kind = RawSelection::Kind::kInline;
          LABBOOK_RETURN_IF_ERROR(ParseSelectionSet(selection.children));
        } else {
          selection.kind = RawSelection::Kind::kSpread;
          LABBOOK_ASSIGN_OR_RETURN(selection.fragment, ParseName("a fragment name"));
          LABBOOK_RETURN_IF_ERROR(SkipDirectives());
        }
      } else {
        LABBOOK_ASSIGN_OR_RETURN(std::string first, ParseName("a field name"));
        if (Consume(':')) {
          selection.field.alias = std::move(first);
          LABBOOK_ASSIGN_OR_RETURN(selection.field.name, ParseName("a field name"));
        } else {
          selection.field.name = first;
          selection.field.alias = std::move(first);
        }
        if (Consume('(')) {
          LABBOOK_RETURN_IF_ERROR(ParseArgumentsAfterParen(selection.field.arguments));
        }
        LABBOOK_RETURN_IF_ERROR(SkipDirectives());
        if (Peek() == '{') LABBOOK_RETURN_IF_ERROR(ParseSelectionSet(selection.children));
      }
      out.push_back(std::move(selection));
    }
    return Status::Ok();
  }

  Status ParseArgumentsAfterParen(json& arguments) {
    while (!Consume(')')) {
      if (pos_ >= text_.size()) return Error("')'", "end of document");
      LABBOOK_ASSIGN_OR_RETURN(std::string name, ParseName("an argument name"));
      LABBOOK_RETURN_IF_ERROR(Expect(':'));
      LABBOOK_ASSIGN_OR_RETURN(arguments[name], ParseValue(/*constant=*/false));
    }
    return Status::Ok();
  }

  json Variable(const std::string& name) const {
    if (variables_.is_object()) {
      auto it = variables_.find(name);
      if (it != variables_.end()) return *it;
    }
    auto it = defaults_.find(name);
    return it == defaults_.end() ? json(nullptr) : it->second;
  }

  Result<json> ParseValue(bool constant) {
    SkipIgnored();
    const char c = Peek();
    if (c == '$' && !constant) {
      ++pos_;
      LABBOOK_ASSIGN_OR_RETURN(std::string name, ParseName("a variable name"));
      return Variable(name);
    }
    if (c == '[') {
      ++pos_;
      json list = json::array();
      while (!Consume(']')) {
        if (pos_ >= text_.size()) return Error("']'", "end of document");
        LABBOOK_ASSIGN_OR_RETURN(json item, ParseValue(constant));
        list.push_back(std::move(item));
      }
      return list;
    }
    if (c == '{') {
      ++pos_;
      json object = json::object();
      while (!Consume('}')) {
        if (pos_ >= text_.size()) return Error("'}'", "end of document");
        LABBOOK_ASSIGN_OR_RETURN(std::string name, ParseName("an input field name"));
        LABBOOK_RETURN_IF_ERROR(Expect(':'));
        LABBOOK_ASSIGN_OR_RETURN(object[name], ParseValue(constant));
      }
      return object;
    }
    if (c == '"') return ParseString();
    if (c == '-' || std::isdigit(static_cast<unsigned char>(c)) != 0) return ParseNumber();
    if (IsNameStart(c)) {
      LABBOOK_ASSIGN_OR_RETURN(std::string name, ParseName("a value"));
      if (name == "true") return json(true);
      if (name == "false") return json(false);
      if (name == "null") return json(nullptr);
      return json(name);  // an enum value
    }
    return Error("a value", std::string(1, c));
  }

  Result<json> ParseNumber() {
    const size_t start = pos_;
    if (Peek() == '-') ++pos_;
    bool is_float = false;
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (std::isdigit(static_cast<unsigned char>(c)) != 0) {
        ++pos_;
      } else if (c == '.' || c == 'e' || c == 'E' || ((c == '+' || c == '-') && is_float)) {
        is_float = true;
        ++pos_;
      } else {
        break;
      }
    }
    const std::string token(text_.substr(start, pos_ - start));
    SkipIgnored();
    json value = json::parse(token, nullptr, /*allow_exceptions=*/false);
    if (value.is_discarded() || !value.is_number()) return Error("a number", token);
    return value;
  }

  Result<json> ParseString() {
    if (text_.substr(pos_, 3) == "\"\"\"") {
      pos_ += 3;
      const size_t end = text_.find("\"\"\"", pos_);
      if (end == std::string_view::npos) return Error("'\"\"\"' closing a block string");
      std::string value(text_.substr(pos_, end - pos_));
      pos_ = end + 3;
      SkipIgnored();
      return json(std::move(value));
    }
    // GraphQL string escapes are JSON's, so nlohmann's parser decodes them.
    const size_t start = pos_++;
    while (pos_ < text_.size() && text_[pos_] != '"') {
      if (text_[pos_] == '\n') return Error("'\"' before the end of the line");
      pos_ += text_[pos_] == '\\' ? 2 : 1;
    }
    if (pos_ >= text_.size()) return Error("'\"' closing a string", "end of document");
    ++pos_;
    json value = json::parse(text_.substr(start, pos_ - start), nullptr, false);
    if (value.is_discarded()) return Error("a valid string escape");
    SkipIgnored();
    return value;
  }

  Status Expand(const std::vector<RawSelection>& raw, int depth, std::vector<GqlField>& out) const {
    if (depth > kMaxSelectionDepth) {
      return InvalidArgument("GraphQL selection nests deeper than " +
                             std::to_string(kMaxSelectionDepth) + " levels (a fragment cycle?)");
    }
    for (const RawSelection& selection : raw) {
      switch (selection.kind) {
        case RawSelection::Kind::kField: {
          GqlField field = selection.field;
          LABBOOK_RETURN_IF_ERROR(Expand(selection.children, depth + 1, field.selection));
          out.push_back(std::move(field));
          break;
        }
        case RawSelection::Kind::kInline:
          LABBOOK_RETURN_IF_ERROR(Expand(selection.children, depth + 1, out));
          break;
        case RawSelection::Kind::kSpread: {
          auto it = fragments_.find(selection.fragment);
          if (it == fragments_.end()) {
            return InvalidArgument("GraphQL fragment '" + selection.fragment +
                                   "' is spread but not defined");
          }
          LABBOOK_RETURN_IF_ERROR(Expand(it->second, depth + 1, out));
          break;
        }
      }
    }
    return Status::Ok();
  }

  std::string_view text_;
  const json& variables_;
  size_t pos_ = 0;
  std::vector<RawOperation> operations_;
  std::map<std::string, std::vector<RawSelection>> fragments_;
  std::map<std::string, json> defaults_;
};

}  // namespace

const GqlField* GqlField::Child(std::string_view child_name) const {
  for (const GqlField& field : selection) {
    if (field.name == child_name) return &field;
  }
  return nullptr;
}

Result<GqlOperation> ParseGqlOperation(std::string_view document, const json& variables,
                                       std::string_view operation_name) {
  Parser parser(document, variables);
  LABBOOK_RETURN_IF_ERROR(parser.ParseDocument());
  return parser.Select(operation_name);
}

json ProjectSelection(const json& value, const std::vector<GqlField>& selection) {
  if (value.is_array()) {
    json out = json::array();
    for (const json& item : value) out.push_back(ProjectSelection(item, selection));
    return out;
  }
  if (!value.is_object() || selection.empty()) return value;
  json out = json::object();
  for (const GqlField& field : selection) {
    auto it = value.find(field.name);
    // A field selected twice under one alias merges; the first answer stands.
    if (out.contains(field.alias)) continue;
    out[field.alias] = it == value.end() ? json(nullptr) : ProjectSelection(*it, field.selection);
  }
  return out;
}

}  // namespace labbook::server::wandb
