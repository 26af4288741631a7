// What every route that reads runs needs, in one place: the run when the caller may read it
// (a run they may not read does not exist, as for a private project), and store errors told in
// the server's terms.
#pragma once

#include <string>

#include "labbook/status.hpp"
#include "server/context.hpp"
#include "server/router.hpp"
#include "track/store.hpp"

namespace labbook::server {

// Store errors name the store's URI, a path on the server; clients know the server by its
// address, so that replaces it.
Status ScrubStoreUri(const ServerContext& context, Status status);
template <typename T>
Result<T> ScrubStoreUri(const ServerContext& context, Result<T> result) {
  if (result.ok()) return result;
  return ScrubStoreUri(context, result.status());
}

// The run `id` (an id or unique prefix) when the request's caller may read its project;
// kNotFound otherwise, the same message whether the run is missing or private.
Result<track::RunInfo> ReadableRun(const ServerContext& context, const Request& request,
                                   const std::string& id);

}  // namespace labbook::server
