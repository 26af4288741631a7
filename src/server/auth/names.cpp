#include "server/auth/names.hpp"

#include <string>

namespace labbook::server {
namespace {

// Echoes a rejected name, cut short: a name can be a whole request body.
std::string Quoted(std::string_view name) {
  constexpr size_t kMaxEcho = 80;
  std::string quoted = "'";
  quoted.append(name.substr(0, kMaxEcho));
  if (name.size() <= kMaxEcho) return quoted.append("'");
  return quoted.append("...' (").append(std::to_string(name.size())).append(" bytes)");
}

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

}  // namespace

Status CheckEntityName(std::string_view field, std::string_view name) {
  bool ok = !name.empty() && name.size() <= 64 && IsLowerAlnum(name.front());
  for (size_t i = 1; ok && i < name.size(); ++i) {
    const char c = name[i];
    ok = IsLowerAlnum(c) || c == '.' || c == '_' || c == '-';
  }
  if (ok) return Status::Ok();
  return InvalidArgument(std::string(field) + " " + Quoted(name) + ": expected " +
                         std::string(kEntityNameRule));
}

Status CheckProjectName(std::string_view field, std::string_view name) {
  size_t chars = 0;
  for (const char c : name) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '/' || byte < 0x20 || byte == 0x7f) {
      return InvalidArgument(std::string(field) + " " + Quoted(name) +
                             ": expected no '/' and no control characters");
    }
    // Continuation bytes of UTF-8 (10xxxxxx) do not start a character.
    if ((byte & 0xc0) != 0x80) ++chars;
  }
  if (chars == 0 || chars > kMaxProjectNameChars) {
    return InvalidArgument(std::string(field) + " " + Quoted(name) + ": expected 1 to " +
                           std::to_string(kMaxProjectNameChars) + " characters, not " +
                           std::to_string(chars));
  }
  return Status::Ok();
}

}  // namespace labbook::server
