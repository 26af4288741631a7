#include <cstdlib>

#include "track/http/credentials.hpp"
#include "track/http/http_store.hpp"
#include "track/postgres/postgres_store.hpp"
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
  if (scheme == "http" || scheme == "https") {
    auto opened = http::OpenHttpRunStore(uri);
    if (!opened.ok()) return opened.status();
    return std::unique_ptr<RunStore>(std::move(*opened));
  }
  if (scheme == "postgresql" || scheme == "postgres") {
    return postgres::OpenPostgresRunStore(uri);
  }
  // The URI is not repeated: an unknown scheme may be a mistyped server URL holding a key.
  return InvalidArgument("store URI has an unknown scheme '" + scheme +
                         "'; known: sqlite:///absolute/path.db, sqlite://relative/path.db, a "
                         "plain file path, http://host:port, https://host:port or "
                         "postgresql://user@host:port/database");
}

std::string RedactedStoreUri(const std::string& uri) { return postgres::WithoutPassword(uri); }

bool IsServerUri(const std::string& uri) {
  return uri.rfind("http://", 0) == 0 || uri.rfind("https://", 0) == 0;
}

std::string DefaultStoreUri() {
  const char* from_environment = std::getenv("LABBOOK_STORE");
  if (from_environment != nullptr && *from_environment != '\0') return from_environment;
  // A malformed .env is reported when the server's key is looked up; here it names no server.
  Result<std::optional<std::string>> base_url =
      http::ResolveBaseUrl(http::CredentialContext::FromProcess());
  if (base_url.ok() && base_url->has_value()) return **base_url;
  return "sqlite://.labbook/labbook.db";
}

}  // namespace labbook::track
