// The store's schema migrations, compiled in from migrations/NNNN_name.sql at build time (see
// CMakeLists.txt), so nothing is read from the source tree at run time. Migration i (from 0)
// brings a database from schema version i to i + 1; SQLite's user_version holds the version.
#pragma once

#include <span>
#include <string_view>

namespace labbook::track::sqlite {

struct Migration {
  std::string_view file;  // "0001_initial.sql"
  std::string_view sql;
};

std::span<const Migration> Migrations();

}  // namespace labbook::track::sqlite
