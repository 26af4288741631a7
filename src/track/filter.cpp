#include "track/filter.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>
#include <optional>
#include <span>
#include <string>
#include <utility>

#include "core/status_macros.hpp"

namespace labbook::track {
namespace {

using nlohmann::json;

// The run attributes, in the order help texts list them.
enum class Attribute {
  kId,
  kName,
  kState,
  kProject,
  kEntity,
  kGroup,
  kTags,
  kNotes,
  kHost,
  kPid,
  kGitCommit,
  kStartTime,
  kHeartbeatTime,
  kEndTime,
  kDuration,
  kExitCode,
};

constexpr std::string_view kAttributeNames[] = {
    "id",       "name",      "state", "project",    "entity",     "group",          "tags",
    "notes",    "host",      "pid",   "git_commit", "start_time", "heartbeat_time", "end_time",
    "duration", "exit_code",
};

std::optional<int> FindAttribute(std::string_view name) {
  for (size_t i = 0; i < std::size(kAttributeNames); ++i) {
    if (kAttributeNames[i] == name) return static_cast<int>(i);
  }
  return std::nullopt;
}

// Characters of an unquoted key: ASCII letters, digits, '_', '/', '-', and any byte of a
// multi-byte UTF-8 character.
bool IsKeyChar(char c) {
  unsigned char u = static_cast<unsigned char>(c);
  return std::isalnum(u) || c == '_' || c == '/' || c == '-' || u >= 0x80;
}

bool IsFieldStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }

std::string Join(std::span<const std::string> parts, char separator) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out.push_back(separator);
    out += parts[i];
  }
  return out;
}

// The value at `path` inside `node`. At an object, the longest run of keys joined by '.' or '/'
// that names a member is tried first, so flat keys such as "test/accuracy" are found as well as
// nested objects.
const json* Walk(const json& node, std::span<const std::string> path) {
  if (path.empty()) return &node;
  if (node.is_object()) {
    for (size_t n = path.size(); n >= 1; --n) {
      for (char separator : {'.', '/'}) {
        if (n == 1 && separator == '/') continue;
        auto it = node.find(Join(path.first(n), separator));
        if (it == node.end()) continue;
        if (const json* found = Walk(*it, path.subspan(n))) return found;
      }
    }
    return nullptr;
  }
  if (node.is_array()) {
    const std::string& text = path.front();
    size_t index = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), index);
    if (ec != std::errc() || end != text.data() + text.size() || index >= node.size()) {
      return nullptr;
    }
    return Walk(node[index], path.subspan(1));
  }
  return nullptr;
}

// Seconds since the Unix epoch of "YYYY-MM-DD", optionally followed by 'T' or ' ' and
// "HH:MM[:SS[.fff]]", optionally ended by 'Z' (all UTC).
std::optional<double> ParseDate(std::string_view text) {
  auto number = [&](size_t pos, size_t digits) -> std::optional<int> {
    if (pos + digits > text.size()) return std::nullopt;
    int value = 0;
    for (size_t i = pos; i < pos + digits; ++i) {
      if (!std::isdigit(static_cast<unsigned char>(text[i]))) return std::nullopt;
      value = value * 10 + (text[i] - '0');
    }
    return value;
  };
  auto year = number(0, 4);
  auto month = number(5, 2);
  auto day = number(8, 2);
  if (!year || !month || !day || text[4] != '-' || text[7] != '-') return std::nullopt;
  std::chrono::year_month_day date{std::chrono::year(*year),
                                   std::chrono::month(static_cast<unsigned>(*month)),
                                   std::chrono::day(static_cast<unsigned>(*day))};
  if (!date.ok()) return std::nullopt;
  double seconds =
      static_cast<double>(std::chrono::sys_days(date).time_since_epoch().count()) * 86400.0;
  std::string_view rest = text.substr(10);
  if (!rest.empty() && rest.back() == 'Z') rest.remove_suffix(1);
  if (rest.empty()) return seconds;
  if (rest[0] != 'T' && rest[0] != ' ') return std::nullopt;
  text = rest.substr(1);
  auto hour = number(0, 2);
  auto minute = number(3, 2);
  if (!hour || !minute || text[2] != ':' || *hour > 23 || *minute > 59) return std::nullopt;
  seconds += *hour * 3600.0 + *minute * 60.0;
  if (text.size() == 5) return seconds;
  if (text[5] != ':') return std::nullopt;
  double second = 0;
  const char* begin = text.data() + 6;
  auto [end, ec] = std::from_chars(begin, text.data() + text.size(), second);
  if (ec != std::errc() || end != text.data() + text.size() || end - begin < 2 || second < 0 ||
      second >= 61) {
    return std::nullopt;
  }
  return seconds + second;
}

enum class CompareOp { kEq, kNe, kLt, kLe, kGt, kGe, kContains };

bool Holds(CompareOp op, const json& a, const json& b);

bool Contains(const json& haystack, const json& needle) {
  if (haystack.is_string() && needle.is_string()) {
    return haystack.get_ref<const std::string&>().find(needle.get_ref<const std::string&>()) !=
           std::string::npos;
  }
  if (haystack.is_array()) {
    return std::any_of(haystack.begin(), haystack.end(), [&](const json& element) {
      return !element.is_null() && Holds(CompareOp::kEq, element, needle);
    });
  }
  if (haystack.is_object() && needle.is_string()) {
    return haystack.contains(needle.get_ref<const std::string&>());
  }
  return false;
}

template <typename T>
bool Ordered(CompareOp op, const T& a, const T& b) {
  switch (op) {
    case CompareOp::kEq:
      return a == b;
    case CompareOp::kNe:
      return a != b;
    case CompareOp::kLt:
      return a < b;
    case CompareOp::kLe:
      return a <= b;
    case CompareOp::kGt:
      return a > b;
    case CompareOp::kGe:
      return a >= b;
    case CompareOp::kContains:
      return false;
  }
  return false;
}

// `a op b` for two present, non-null values.
bool Holds(CompareOp op, const json& a, const json& b) {
  if (op == CompareOp::kContains) return Contains(a, b);
  if (a.is_number() && b.is_number()) return Ordered(op, a.get<double>(), b.get<double>());
  if (a.is_string() && b.is_string()) {
    return Ordered(op, a.get_ref<const std::string&>(), b.get_ref<const std::string&>());
  }
  if (a.type() != b.type()) return false;
  if (op == CompareOp::kEq) return a == b;
  if (op == CompareOp::kNe) return a != b;
  return false;
}

}  // namespace

std::string RunAttributeNames() {
  std::string out;
  for (std::string_view name : kAttributeNames) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

Result<RunField> RunField::Parse(std::string_view name) {
  auto expected = [] {
    return "expected config.<path>, summary.<path> or one of " + RunAttributeNames();
  };
  std::vector<std::string> segments;
  size_t pos = 0;
  while (true) {
    if (pos < name.size() && name[pos] == '`') {
      size_t close = name.find('`', pos + 1);
      if (close == std::string_view::npos) {
        return InvalidArgument("field '" + std::string(name) + "': a key opened with '`' at " +
                               "character " + std::to_string(pos + 1) + " is not closed");
      }
      segments.emplace_back(name.substr(pos + 1, close - pos - 1));
      pos = close + 1;
    } else {
      size_t end = pos;
      while (end < name.size() && IsKeyChar(name[end])) ++end;
      if (end == pos) {
        std::string what = segments.empty() ? "a field name" : "a key after '.'";
        return InvalidArgument("field '" + std::string(name) + "': expected " + what + " at " +
                               "character " + std::to_string(pos + 1) + "; " + expected());
      }
      segments.emplace_back(name.substr(pos, end - pos));
      pos = end;
    }
    if (pos == name.size()) break;
    if (name[pos] != '.') {
      return InvalidArgument("field '" + std::string(name) + "': unexpected '" +
                             std::string(1, name[pos]) + "' at character " +
                             std::to_string(pos + 1) + "; keys are separated by '.'");
    }
    ++pos;
    if (pos == name.size()) {
      return InvalidArgument("field '" + std::string(name) +
                             "': expected a key after the last '.'");
    }
  }
  const std::string& head = segments.front();
  std::vector<std::string> path(segments.begin() + 1, segments.end());
  if (head == "config") return RunField(std::string(name), Source::kConfig, 0, std::move(path));
  if (head == "summary") return RunField(std::string(name), Source::kSummary, 0, std::move(path));
  std::optional<int> attribute = FindAttribute(head);
  if (!attribute) return InvalidArgument("unknown field '" + head + "'; " + expected());
  if (!path.empty()) {
    return InvalidArgument("field '" + std::string(name) + "': the run attribute '" + head +
                           "' has no keys inside it (only config and summary do)");
  }
  return RunField(std::string(name), Source::kAttribute, *attribute, {});
}

bool RunField::is_time() const {
  if (source_ != Source::kAttribute) return false;
  auto attribute = static_cast<Attribute>(attribute_);
  return attribute == Attribute::kStartTime || attribute == Attribute::kHeartbeatTime ||
         attribute == Attribute::kEndTime;
}

const json* RunField::Find(const RunInfo& run, json& scratch) const {
  switch (source_) {
    case Source::kConfig:
      return Walk(run.config, path_);
    case Source::kSummary:
      return Walk(run.summary, path_);
    case Source::kAttribute:
      break;
  }
  // A time of 0 is "not set": such a field is missing.
  auto time = [&](double seconds) -> const json* {
    if (seconds == 0) return nullptr;
    scratch = seconds;
    return &scratch;
  };
  switch (static_cast<Attribute>(attribute_)) {
    case Attribute::kId:
      scratch = run.id;
      break;
    case Attribute::kName:
      scratch = run.name;
      break;
    case Attribute::kState:
      scratch = RunStateName(run.state);
      break;
    case Attribute::kProject:
      scratch = run.project;
      break;
    case Attribute::kEntity:
      scratch = run.entity;
      break;
    case Attribute::kGroup:
      scratch = run.group;
      break;
    case Attribute::kTags:
      scratch = run.tags;
      break;
    case Attribute::kNotes:
      scratch = run.notes;
      break;
    case Attribute::kHost:
      scratch = run.host;
      break;
    case Attribute::kPid:
      if (run.pid == 0) return nullptr;
      scratch = run.pid;
      break;
    case Attribute::kGitCommit:
      scratch = run.git_commit;
      break;
    case Attribute::kStartTime:
      return time(run.start_time);
    case Attribute::kHeartbeatTime:
      return time(run.heartbeat_time);
    case Attribute::kEndTime:
      return time(run.end_time);
    case Attribute::kDuration: {
      double last = run.end_time != 0 ? run.end_time : run.heartbeat_time;
      if (run.start_time == 0 || last == 0) return nullptr;
      scratch = std::max(0.0, last - run.start_time);
      break;
    }
    case Attribute::kExitCode:
      if (!run.exit_code) return nullptr;
      scratch = *run.exit_code;
      break;
  }
  return &scratch;
}

// ---------------------------------------------------------------------------------------------
// Filter expressions
// ---------------------------------------------------------------------------------------------

struct RunFilter::Node {
  enum class Kind { kAnd, kOr, kNot, kCompare, kTruthy };
  struct Operand {
    std::optional<RunField> field;
    json literal;  // when there is no field
    bool IsNullLiteral() const { return !field && literal.is_null(); }
  };

  Kind kind = Kind::kCompare;
  std::unique_ptr<Node> left;   // kAnd, kOr, kNot
  std::unique_ptr<Node> right;  // kAnd, kOr
  CompareOp op = CompareOp::kEq;
  Operand lhs;  // kCompare, kTruthy
  Operand rhs;  // kCompare
};

namespace {

using Node = RunFilter::Node;
using Operand = Node::Operand;

// The operand's value in `run`; nullptr for a missing field or a null value.
const json* ValueOf(const Operand& operand, const RunInfo& run, json& scratch) {
  const json* value = operand.field ? operand.field->Find(run, scratch) : &operand.literal;
  return value == nullptr || value->is_null() ? nullptr : value;
}

bool Evaluate(const Node& node, const RunInfo& run) {
  switch (node.kind) {
    case Node::Kind::kAnd:
      return Evaluate(*node.left, run) && Evaluate(*node.right, run);
    case Node::Kind::kOr:
      return Evaluate(*node.left, run) || Evaluate(*node.right, run);
    case Node::Kind::kNot:
      return !Evaluate(*node.left, run);
    case Node::Kind::kTruthy: {
      json scratch;
      const json* value = ValueOf(node.lhs, run, scratch);
      return value != nullptr && value->is_boolean() && value->get<bool>();
    }
    case Node::Kind::kCompare:
      break;
  }
  json lhs_scratch;
  json rhs_scratch;
  const json* a = ValueOf(node.lhs, run, lhs_scratch);
  const json* b = ValueOf(node.rhs, run, rhs_scratch);
  // `= null` and `!= null` test presence; null meets nothing else.
  if (node.lhs.IsNullLiteral() || node.rhs.IsNullLiteral()) {
    const json* other = node.lhs.IsNullLiteral() ? b : a;
    if (node.op == CompareOp::kEq) return other == nullptr;
    if (node.op == CompareOp::kNe) return other != nullptr;
    return false;
  }
  if (a == nullptr || b == nullptr) return false;
  return Holds(node.op, *a, *b);
}

enum class TokenKind {
  kEnd,
  kField,
  kString,
  kNumber,
  kOperator,
  kOpenParen,
  kCloseParen,
  kAnd,
  kOr,
  kNot,
  kTrue,
  kFalse,
  kNull,
};

struct Token {
  TokenKind kind = TokenKind::kEnd;
  size_t offset = 0;  // in bytes
  size_t length = 0;
  std::string text;  // kString: the unescaped value
  double number = 0;
  CompareOp op = CompareOp::kEq;
};

constexpr int kMaxDepth = 100;

class Parser {
 public:
  explicit Parser(std::string_view input) : input_(input) {}

  Result<std::unique_ptr<Node>> ParseFilter() {
    LABBOOK_RETURN_IF_ERROR(Advance());
    if (current_.kind == TokenKind::kEnd) {
      return Error(current_,
                   "expected a condition such as summary.accuracy > 0.9, found an "
                   "empty filter");
    }
    LABBOOK_ASSIGN_OR_RETURN(std::unique_ptr<Node> root, ParseOr("", 0));
    if (current_.kind == TokenKind::kCloseParen) {
      return Error(current_, "found ')' without a matching '('");
    }
    if (current_.kind != TokenKind::kEnd) {
      return Error(current_,
                   "expected 'and', 'or' or the end of the filter, found " + Describe(current_));
    }
    return root;
  }

 private:
  // 1-based column of a byte offset, counting UTF-8 characters.
  size_t Column(size_t offset) const {
    size_t column = 1;
    for (size_t i = 0; i < offset && i < input_.size(); ++i) {
      if ((static_cast<unsigned char>(input_[i]) & 0xC0) != 0x80) ++column;
    }
    return column;
  }

  Status Error(const Token& at, const std::string& message) const {
    return InvalidArgument("column " + std::to_string(Column(at.offset)) + ": " + message);
  }

  std::string Source(const Token& token) const {
    std::string text(input_.substr(token.offset, token.length));
    if (text.size() > 40) text = text.substr(0, 37) + "...";
    return text;
  }

  // How an error names a token: strings keep their own quotes.
  std::string Describe(const Token& token) const {
    if (token.kind == TokenKind::kEnd) return "the end of the filter";
    if (token.kind == TokenKind::kString) return Source(token);
    return "'" + Source(token) + "'";
  }

  static bool StartsOperand(TokenKind kind) {
    return kind == TokenKind::kField || kind == TokenKind::kString || kind == TokenKind::kNumber ||
           kind == TokenKind::kTrue || kind == TokenKind::kFalse || kind == TokenKind::kNull;
  }

  Result<std::unique_ptr<Node>> ParseOr(std::string_view after, int depth) {
    LABBOOK_ASSIGN_OR_RETURN(std::unique_ptr<Node> left, ParseAnd(after, depth));
    while (current_.kind == TokenKind::kOr) {
      LABBOOK_RETURN_IF_ERROR(Advance());
      LABBOOK_ASSIGN_OR_RETURN(std::unique_ptr<Node> right, ParseAnd("after 'or'", depth));
      left = Join(Node::Kind::kOr, std::move(left), std::move(right));
    }
    return left;
  }

  Result<std::unique_ptr<Node>> ParseAnd(std::string_view after, int depth) {
    LABBOOK_ASSIGN_OR_RETURN(std::unique_ptr<Node> left, ParseUnary(after, depth));
    while (current_.kind == TokenKind::kAnd) {
      LABBOOK_RETURN_IF_ERROR(Advance());
      LABBOOK_ASSIGN_OR_RETURN(std::unique_ptr<Node> right, ParseUnary("after 'and'", depth));
      left = Join(Node::Kind::kAnd, std::move(left), std::move(right));
    }
    return left;
  }

  static std::unique_ptr<Node> Join(Node::Kind kind, std::unique_ptr<Node> left,
                                    std::unique_ptr<Node> right) {
    auto node = std::make_unique<Node>();
    node->kind = kind;
    node->left = std::move(left);
    node->right = std::move(right);
    return node;
  }

  Result<std::unique_ptr<Node>> ParseUnary(std::string_view after, int depth) {
    if (depth > kMaxDepth) {
      return Error(current_, "expected at most " + std::to_string(kMaxDepth) +
                                 " nested 'not' and '(', found more");
    }
    if (current_.kind == TokenKind::kNot) {
      LABBOOK_RETURN_IF_ERROR(Advance());
      LABBOOK_ASSIGN_OR_RETURN(std::unique_ptr<Node> child, ParseUnary("after 'not'", depth + 1));
      auto node = std::make_unique<Node>();
      node->kind = Node::Kind::kNot;
      node->left = std::move(child);
      return node;
    }
    if (current_.kind == TokenKind::kOpenParen) {
      Token open = current_;
      LABBOOK_RETURN_IF_ERROR(Advance());
      LABBOOK_ASSIGN_OR_RETURN(std::unique_ptr<Node> inner, ParseOr("after '('", depth + 1));
      if (current_.kind != TokenKind::kCloseParen) {
        return Error(current_, "expected 'and', 'or' or ')' to close the '(' at column " +
                                   std::to_string(Column(open.offset)) + ", found " +
                                   Describe(current_));
      }
      LABBOOK_RETURN_IF_ERROR(Advance());
      return inner;
    }
    if (StartsOperand(current_.kind)) return ParseComparison();
    std::string what = after.empty() ? "a condition such as summary.accuracy > 0.9"
                                     : "a condition " + std::string(after);
    return Error(current_, "expected " + what + ", found " + Describe(current_));
  }

  Operand MakeOperand(Token& token) {
    Operand operand;
    switch (token.kind) {
      case TokenKind::kField:
        operand.field = std::move(field_);
        break;
      case TokenKind::kString:
        operand.literal = std::move(token.text);
        break;
      case TokenKind::kNumber:
        operand.literal = token.number;
        break;
      case TokenKind::kTrue:
        operand.literal = true;
        break;
      case TokenKind::kFalse:
        operand.literal = false;
        break;
      default:
        break;
    }
    return operand;
  }

  Result<std::unique_ptr<Node>> ParseComparison() {
    Token lhs_token = current_;
    auto node = std::make_unique<Node>();
    node->lhs = MakeOperand(lhs_token);
    LABBOOK_RETURN_IF_ERROR(Advance());
    if (current_.kind != TokenKind::kOperator) {
      bool alone_ok = lhs_token.kind == TokenKind::kField || lhs_token.kind == TokenKind::kTrue ||
                      lhs_token.kind == TokenKind::kFalse;
      bool ends = current_.kind == TokenKind::kEnd || current_.kind == TokenKind::kAnd ||
                  current_.kind == TokenKind::kOr || current_.kind == TokenKind::kCloseParen;
      if (alone_ok && ends) {
        node->kind = Node::Kind::kTruthy;
        return node;
      }
      return Error(current_, "expected an operator (=, !=, <, <=, >, >=, contains) after " +
                                 Describe(lhs_token) + ", found " + Describe(current_));
    }
    Token op_token = current_;
    node->op = op_token.op;
    LABBOOK_RETURN_IF_ERROR(Advance());
    if (!StartsOperand(current_.kind)) {
      return Error(current_, "expected a value after " + Describe(op_token) + ", found " +
                                 Describe(current_));
    }
    Token rhs_token = current_;
    node->rhs = MakeOperand(rhs_token);
    LABBOOK_RETURN_IF_ERROR(Advance());
    LABBOOK_RETURN_IF_ERROR(CheckLiteral(*node, node->lhs, node->rhs, rhs_token));
    LABBOOK_RETURN_IF_ERROR(CheckLiteral(*node, node->rhs, node->lhs, lhs_token));
    return node;
  }

  // A date compared with a time field becomes that instant; a state compared with a name that
  // is no state is a typo worth reporting rather than a filter that matches nothing.
  Status CheckLiteral(const Node& node, const Operand& field, Operand& literal,
                      const Token& literal_token) const {
    if (!field.field || literal.field || !literal.literal.is_string() ||
        node.op == CompareOp::kContains) {
      return Status::Ok();
    }
    const std::string& text = literal.literal.get_ref<const std::string&>();
    if (field.field->is_time()) {
      std::optional<double> seconds = ParseDate(text);
      if (!seconds) {
        return Error(literal_token,
                     "expected a date such as '2024-05-01' or '2024-05-01T12:30:00Z' to compare "
                     "with " +
                         field.field->name() + ", found " + Describe(literal_token));
      }
      literal.literal = *seconds;
    } else if (field.field->name() == "state" && !ParseRunState(text)) {
      return Error(literal_token,
                   "expected a run state (running, finished, failed, crashed), "
                   "found " +
                       Describe(literal_token));
    }
    return Status::Ok();
  }

  // Reads the next token into current_ (and a field's parse into field_).
  Status Advance() {
    while (pos_ < input_.size() && std::isspace(static_cast<unsigned char>(input_[pos_]))) ++pos_;
    current_ = Token();
    current_.offset = pos_;
    if (pos_ == input_.size()) {
      current_.kind = TokenKind::kEnd;
      return Status::Ok();
    }
    char c = input_[pos_];
    auto single = [&](TokenKind kind, size_t length) {
      current_.kind = kind;
      current_.length = length;
      pos_ += length;
      return Status::Ok();
    };
    auto op = [&](CompareOp compare, size_t length) {
      current_.op = compare;
      return single(TokenKind::kOperator, length);
    };
    char next = pos_ + 1 < input_.size() ? input_[pos_ + 1] : '\0';
    switch (c) {
      case '(':
        return single(TokenKind::kOpenParen, 1);
      case ')':
        return single(TokenKind::kCloseParen, 1);
      case '=':
        return op(CompareOp::kEq, next == '=' ? 2 : 1);
      case '<':
        return next == '=' ? op(CompareOp::kLe, 2) : op(CompareOp::kLt, 1);
      case '>':
        return next == '=' ? op(CompareOp::kGe, 2) : op(CompareOp::kGt, 1);
      case '!':
        if (next == '=') return op(CompareOp::kNe, 2);
        current_.length = 1;
        return Error(current_, "expected '!=' after '!' (negate a condition with 'not')");
      case '\'':
      case '"':
        return LexString(c);
      default:
        break;
    }
    bool sign =
        (c == '-' || c == '+') && (std::isdigit(static_cast<unsigned char>(next)) || next == '.');
    if (std::isdigit(static_cast<unsigned char>(c)) || sign ||
        (c == '.' && std::isdigit(static_cast<unsigned char>(next)))) {
      return LexNumber();
    }
    if (IsFieldStart(c)) return LexWord();
    current_.length = 1;
    return Error(current_, "unexpected character '" + std::string(1, c) +
                               "'; expected a field, a value, an operator, 'and', 'or', 'not' or "
                               "a parenthesis");
  }

  Status LexString(char quote) {
    std::string value;
    size_t i = pos_ + 1;
    while (i < input_.size() && input_[i] != quote) {
      if (input_[i] == '\\' && i + 1 < input_.size()) ++i;
      value.push_back(input_[i]);
      ++i;
    }
    if (i == input_.size()) {
      current_.length = input_.size() - pos_;
      return Error(current_, std::string("expected a closing ") + quote +
                                 " for the string that starts here, found the end of the filter");
    }
    current_.kind = TokenKind::kString;
    current_.text = std::move(value);
    current_.length = i + 1 - pos_;
    pos_ = i + 1;
    return Status::Ok();
  }

  Status LexNumber() {
    size_t i = pos_;
    if (input_[i] == '-' || input_[i] == '+') ++i;
    auto digits = [&] {
      while (i < input_.size() && std::isdigit(static_cast<unsigned char>(input_[i]))) ++i;
    };
    digits();
    if (i < input_.size() && input_[i] == '.') {
      ++i;
      digits();
    }
    if (i < input_.size() && (input_[i] == 'e' || input_[i] == 'E')) {
      ++i;
      if (i < input_.size() && (input_[i] == '-' || input_[i] == '+')) ++i;
      digits();
    }
    size_t end = i;
    while (end < input_.size() && (IsKeyChar(input_[end]) || input_[end] == '.')) ++end;
    current_.kind = TokenKind::kNumber;
    current_.length = end - pos_;
    std::string_view text = input_.substr(pos_, i - pos_);
    if (text.front() == '+') text.remove_prefix(1);
    double value = 0;
    auto [parsed_end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (end != i || ec != std::errc() || parsed_end != text.data() + text.size()) {
      return Error(current_,
                   "expected a number such as 42, -0.5 or 1e-3, found " + Describe(current_));
    }
    current_.number = value;
    pos_ = end;
    return Status::Ok();
  }

  // A keyword, or a field: keys separated by '.', a key in backquotes taken as written.
  Status LexWord() {
    size_t i = pos_;
    while (true) {
      if (i < input_.size() && input_[i] == '`') {
        size_t close = input_.find('`', i + 1);
        if (close == std::string_view::npos) {
          Token open;
          open.offset = i;
          return Error(open,
                       "expected a closing ` for the key that starts here, found the end "
                       "of the filter");
        }
        i = close + 1;
      } else {
        while (i < input_.size() && IsKeyChar(input_[i])) ++i;
      }
      if (i + 1 < input_.size() && input_[i] == '.' &&
          (IsKeyChar(input_[i + 1]) || input_[i + 1] == '`')) {
        ++i;
        continue;
      }
      break;
    }
    current_.length = i - pos_;
    std::string_view word = input_.substr(pos_, current_.length);
    if (i < input_.size() && input_[i] == '.') {
      Token dot;
      dot.offset = i;
      return Error(dot, "expected a key after '" + std::string(word) + ".'");
    }
    pos_ = i;
    std::string lower;
    for (char ch : word)
      lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(ch))));
    static constexpr std::pair<std::string_view, TokenKind> kKeywords[] = {
        {"and", TokenKind::kAnd},   {"or", TokenKind::kOr},       {"not", TokenKind::kNot},
        {"true", TokenKind::kTrue}, {"false", TokenKind::kFalse}, {"null", TokenKind::kNull},
    };
    for (const auto& [keyword, kind] : kKeywords) {
      if (lower == keyword) {
        current_.kind = kind;
        return Status::Ok();
      }
    }
    if (lower == "contains") {
      current_.kind = TokenKind::kOperator;
      current_.op = CompareOp::kContains;
      return Status::Ok();
    }
    Result<RunField> field = RunField::Parse(word);
    if (!field.ok()) return Error(current_, field.status().message());
    current_.kind = TokenKind::kField;
    field_ = std::move(field).value();
    return Status::Ok();
  }

  std::string_view input_;
  size_t pos_ = 0;
  Token current_;
  std::optional<RunField> field_;  // the parse of current_ when it is a field
};

}  // namespace

Result<RunFilter> RunFilter::Compile(std::string_view expression) {
  Parser parser(expression);
  LABBOOK_ASSIGN_OR_RETURN(std::unique_ptr<Node> root, parser.ParseFilter());
  return RunFilter(std::string(expression), std::shared_ptr<const Node>(std::move(root)));
}

bool RunFilter::Matches(const RunInfo& run) const { return Evaluate(*root_, run); }

// ---------------------------------------------------------------------------------------------
// Sorting
// ---------------------------------------------------------------------------------------------

Result<RunSortKey> RunSortKey::Parse(std::string_view spec) {
  bool descending = !spec.empty() && spec.front() == '-';
  if (descending || (!spec.empty() && spec.front() == '+')) spec.remove_prefix(1);
  if (spec.empty()) {
    return InvalidArgument("expected a field to sort by, such as -summary.accuracy or start_time");
  }
  LABBOOK_ASSIGN_OR_RETURN(RunField field, RunField::Parse(spec));
  return RunSortKey{std::move(field), descending};
}

void SortRuns(std::vector<RunInfo>& runs, const RunSortKey& key) {
  // 0: a number, 1: a string, 2: anything else or nothing, last in either direction.
  struct SortValue {
    int rank = 2;
    double number = 0;
    std::string text;
  };
  std::vector<SortValue> values(runs.size());
  for (size_t i = 0; i < runs.size(); ++i) {
    json scratch;
    const json* value = key.field.Find(runs[i], scratch);
    if (value == nullptr) continue;
    if (value->is_number() && !std::isnan(value->get<double>())) {
      values[i].rank = 0;
      values[i].number = value->get<double>();
    } else if (value->is_string()) {
      values[i].rank = 1;
      values[i].text = value->get<std::string>();
    }
  }
  std::vector<size_t> order(runs.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const SortValue& x = values[a];
    const SortValue& y = values[b];
    if (x.rank != y.rank) return x.rank < y.rank;
    if (x.rank == 0) return key.descending ? y.number < x.number : x.number < y.number;
    if (x.rank == 1) return key.descending ? y.text < x.text : x.text < y.text;
    return false;
  });
  std::vector<RunInfo> sorted;
  sorted.reserve(runs.size());
  for (size_t i : order) sorted.push_back(std::move(runs[i]));
  runs = std::move(sorted);
}

}  // namespace labbook::track
