#include "server/run_access.hpp"

#include <utility>

#include "server/auth/access.hpp"

namespace labbook::server {

Status ScrubStoreUri(const ServerContext& context, Status status) {
  if (status.ok()) return status;
  std::string message = status.message();
  const std::string uri = context.store->uri();
  for (size_t at = message.find(uri); !uri.empty() && at != std::string::npos;
       at = message.find(uri, at + context.base_url.size())) {
    message.replace(at, uri.size(), context.base_url);
  }
  return Status(status.code(), std::move(message));
}

Result<track::RunInfo> ReadableRun(const ServerContext& context, const Request& request,
                                   const std::string& id) {
  Result<track::RunInfo> run = ScrubStoreUri(context, context.store->GetRun(id));
  if (!run.ok()) return run.status();
  if (!CanRead(*context.auth, request.principal(), run->entity, run->project).ok()) {
    return NotFound("run '" + id + "' not found in " + context.base_url);
  }
  return run;
}

}  // namespace labbook::server
