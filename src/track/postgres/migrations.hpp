// The PostgreSQL store's schema migrations, compiled in from migrations/NNNN_name.sql at build
// time (see CMakeLists.txt), so nothing is read from the source tree at run time. Migration i
// (from 0) brings a database from schema version i to i + 1; the table schema_migrations holds
// one row per migration applied.
#pragma once

#include <span>
#include <string_view>

namespace labbook::track::postgres {

struct Migration {
  std::string_view file;  // "0001_initial.sql"
  std::string_view sql;
};

std::span<const Migration> Migrations();

}  // namespace labbook::track::postgres
