// The naming rules of the server's entities and projects, shared by the auth store and the routes
// that validate names at the door.
#pragma once

#include <cstddef>
#include <string_view>

#include "labbook/status.hpp"

namespace labbook::server {

// The rule of user and team names (one namespace): they appear in URLs and W&B paths unquoted.
inline constexpr std::string_view kEntityNameRule = "[a-z0-9][a-z0-9._-]{0,63}";
inline constexpr size_t kMaxProjectNameChars = 128;

// kInvalidArgument "<field> '<name>': expected [a-z0-9][a-z0-9._-]{0,63}" unless `name` follows
// the rule; `field` is e.g. "user name" or "team name".
[[nodiscard]] Status CheckEntityName(std::string_view field, std::string_view name);

// Project names: 1 to 128 characters (UTF-8 code points), none of them '/' (it separates entity
// and project in paths) or a control character. kInvalidArgument naming `field` otherwise.
[[nodiscard]] Status CheckProjectName(std::string_view field, std::string_view name);

}  // namespace labbook::server
