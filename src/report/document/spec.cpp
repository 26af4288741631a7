#include "report/document/spec.hpp"

namespace labbook::report::document {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r'; }

std::string_view Trim(std::string_view text) {
  while (!text.empty() && IsSpace(text.front())) text.remove_prefix(1);
  while (!text.empty() && IsSpace(text.back())) text.remove_suffix(1);
  return text;
}

bool IsKeyChar(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; }

std::string Place(std::string_view spec_name, int line) {
  return std::string(spec_name) + ":" + std::to_string(line) + ": ";
}

}  // namespace

const DirectiveOption* Directive::Find(std::string_view key) const {
  for (const DirectiveOption& option : options) {
    if (option.key == key) return &option;
  }
  return nullptr;
}

bool IsDirectiveInfo(std::string_view info) {
  info = Trim(info);
  return info == "labbook" || (info.starts_with("labbook") && IsSpace(info[7]));
}

Result<Directive> ParseDirective(std::string_view info, std::string_view body, int line,
                                 std::string_view spec_name) {
  Directive directive;
  directive.line = line;
  std::string_view rest = Trim(Trim(info).substr(7));
  size_t name_end = 0;
  while (name_end < rest.size() && !IsSpace(rest[name_end])) ++name_end;
  directive.name = std::string(rest.substr(0, name_end));
  if (directive.name.empty()) {
    return InvalidArgument(Place(spec_name, line) +
                           "expected a directive name after 'labbook', as in ```labbook runs");
  }
  if (!Trim(rest.substr(name_end)).empty()) {
    return InvalidArgument(Place(spec_name, line) + "unexpected '" +
                           std::string(Trim(rest.substr(name_end))) + "' after 'labbook " +
                           directive.name +
                           "': options go inside the block, one 'key: value' a line");
  }
  int number = line;
  while (!body.empty()) {
    ++number;
    size_t end = body.find('\n');
    std::string_view text = Trim(body.substr(0, end));
    body.remove_prefix(end == std::string_view::npos ? body.size() : end + 1);
    if (text.empty() || text.front() == '#') continue;
    size_t colon = text.find(':');
    std::string_view key = Trim(text.substr(0, colon == std::string_view::npos ? 0 : colon));
    bool valid_key = !key.empty();
    for (char c : key) valid_key = valid_key && IsKeyChar(c);
    if (colon == std::string_view::npos || !valid_key) {
      return InvalidArgument(Place(spec_name, number) +
                             "expected 'key: value' (a key of a-z, 0-9 and '-'), got '" +
                             std::string(text) + "'");
    }
    std::string_view value = Trim(text.substr(colon + 1));
    if (value.empty()) {
      return InvalidArgument(Place(spec_name, number) + "option '" + std::string(key) +
                             "' has no value; leave the line out for the default");
    }
    if (const DirectiveOption* earlier = directive.Find(key)) {
      return InvalidArgument(Place(spec_name, number) + "option '" + std::string(key) +
                             "' is given twice (first on line " + std::to_string(earlier->line) +
                             ")");
    }
    directive.options.push_back({std::string(key), std::string(value), number});
  }
  return directive;
}

}  // namespace labbook::report::document
