#include <cstdlib>

#include "track/sqlite/sqlite_store.hpp"
#include "track/store.hpp"

namespace labbook::track {

Result<std::unique_ptr<RunStore>> OpenStore(const std::string& uri) {
  if (uri.empty()) return InvalidArgument("store URI is empty");
  const size_t scheme_end = uri.find("://");
  if (scheme_end == std::string::npos) return sqlite::OpenSqliteRunStore(uri);
  const std::string scheme = uri.substr(0, scheme_end);
  if (scheme == "sqlite") {
    const std::string path = uri.substr(scheme_end + 3);
    if (path.empty()) return InvalidArgument("store URI '" + uri + "' names no database file");
    return sqlite::OpenSqliteRunStore(path);
  }
  return InvalidArgument("store URI '" + uri + "' has an unknown scheme '" + scheme +
                         "'; known: sqlite:///absolute/path.db, sqlite://relative/path.db or "
                         "a plain file path");
}

std::string DefaultStoreUri() {
  const char* from_environment = std::getenv("LABBOOK_STORE");
  if (from_environment != nullptr && *from_environment != '\0') return from_environment;
  return "sqlite://.labbook/labbook.db";
}

}  // namespace labbook::track
