// The PostgreSQL store: the RunStore of a team that shares one database server. Everything lives
// in the database, artifact file contents included (table blob_chunks, 1 MiB pieces of bytea once
// per sha256), so a command line on another machine reads what a training process logged.
//
// Several threads may share one store: it holds a pool of up to `max_connections` libpq
// connections, opened when first needed, and each call runs one transaction on one of them.
// Several processes may open the same database: the schema is migrated under a transaction-scoped
// advisory lock, history writers lock the row of the key they write (so concurrent writers of one
// run lose no point), and a new artifact version locks its artifact's row. Each write is one
// transaction: a failed write changes nothing. A deadlock or serialisation failure is retried a
// few times, as is a call whose pooled connection the server had closed.
//
// History is stored in chunks of up to 512 points per key (track/history/history_chunk.hpp) as
// bytea, with per-chunk statistics beside them, so a downsampled read decodes few chunks.
#pragma once

#include <memory>
#include <string>

#include "labbook/status.hpp"
#include "track/store.hpp"

namespace labbook::track::postgres {

struct PostgresStoreOptions {
  // The most connections the store holds at once; calls beyond that wait for one.
  int max_connections = 8;
};

// Connects to "postgresql://[user[:password]@]host[:port]/database[?param=value...]" (also
// "postgres://"; the parameters are libpq's, e.g. sslmode, connect_timeout) and brings the
// database's schema up to date. uri() and every message show the URI without its password.
// Errors: kInvalidArgument for a malformed URI; kUnavailable naming host, port and database when
// the server cannot be reached; kNotFound when the server has no such database (the store does
// not create it); kUnauthenticated when it refuses the user or the credentials;
// kFailedPrecondition for a database whose schema is newer than this labbook.
[[nodiscard]] Result<std::unique_ptr<RunStore>> OpenPostgresRunStore(
    const std::string& uri, const PostgresStoreOptions& options = {});

// The schema version this labbook writes (the number of its migrations).
int KnownSchemaVersion();

// `uri` with the password of its user part ("user:password@") and any password= parameter
// removed: what may be shown of a URI.
std::string WithoutPassword(const std::string& uri);

}  // namespace labbook::track::postgres
