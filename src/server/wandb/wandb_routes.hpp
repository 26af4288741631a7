// The W&B-compatible ingest: enough of W&B's GraphQL API and file_stream protocol for the
// official clients (the npm package @wandb/sdk, the Python client's wandb-core) to create, log,
// resume and finish runs in labbook. docs/wandb.md lists what is covered and how a W&B run maps
// to a labbook run.
//
// Routes:
//   POST /graphql                                       queries and mutations, routed by the
//                                                       fields the document selects (clients
//                                                       may send no operationName)
//   POST /files/{entity}/{project}/{run}/file_stream    history, summary, system metrics,
//                                                       console output, completion
//   PUT  /wandb/upload/{run id}/{path}?token=...        files of a run, to the signed URLs that
//                                                       CreateRunFiles hands out
// Auth is the router's: HTTP Basic "api:<key>" (or Bearer); every read and write asks
// CanRead/CanWrite (auth/access.hpp). The upload route needs no key: its token (HMAC under
// DIR/wandb/upload-secret, 24 hours, one file of one run) is the proof, and the router's log
// leaves query strings out.
#pragma once

#include "server/context.hpp"
#include "server/router.hpp"

namespace labbook::server {

// Adds the routes above to `router`. They keep a copy of `context`: the store and the auth store
// it points to must outlive every request. Per-run W&B state lives under
// context.data_dir / "wandb" (created here, with the upload secret); when the secret cannot be
// read or created, the routes that hand out or accept upload URLs answer that error and the rest
// work. Requests for different runs proceed in parallel, those of one run in turn.
void AddWandbRoutes(Router& router, const ServerContext& context);

}  // namespace labbook::server
