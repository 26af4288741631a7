// The W&B-compatible ingest: enough of W&B's GraphQL API and file_stream protocol for the
// official clients (the npm package @wandb/sdk, the Python client's wandb-core) to create, log,
// resume and finish runs in labbook. docs/wandb.md lists what is covered and what is not.
//
// Routes:
//   POST /graphql                                       queries and mutations, routed by the
//                                                       fields the document selects
//   POST /files/{entity}/{project}/{run}/file_stream    history, summary, system metrics,
//                                                       console output, completion
//   PUT  /wandb/upload/{run id}/{path}?token=...        files of a run, to the signed URLs that
//                                                       CreateRunFiles hands out
// Auth is the router's: HTTP Basic "api:<key>"; writes need CanWrite on the project. The upload
// route needs no key: its token (HMAC under DIR/wandb/upload-secret, 24 hours) is the proof, so
// its URL must never be logged with its query.
#pragma once

#include "server/context.hpp"
#include "server/router.hpp"

namespace labbook::server {

// Adds the routes above to `router`. They keep `context`'s pointers: the store and the auth
// store must outlive every request. Per-run W&B state lives under context.data_dir / "wandb".
// Thread-safe: requests for different runs proceed in parallel, those of one run in turn.
void AddWandbRoutes(Router& router, const ServerContext& context);

}  // namespace labbook::server
