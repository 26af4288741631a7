// The routes the dashboard analyses with (docs/api.md): the built-in datasets (their list,
// statistics and images as PNG) and a run's evaluation computed from the predictions it logged.
//
// Datasets are public data on the server's disk: anyone may read them, with or without a key;
// `idx:` paths are never reachable. A run's evaluation follows the run's visibility (a run the
// caller may not read is 404). Loaded datasets (one per built-in name, loaded once) and
// evaluations (the most recent few, keyed by run and artifact version, whose contents never
// change) are kept in memory, so repeated calls are fast; the routes are thread-safe.
#pragma once

#include "server/context.hpp"
#include "server/router.hpp"

namespace labbook::server {

// Adds /api/v1/datasets... and /api/v1/runs/{id}/evaluation to `router`. `context` (and what it
// points to) must outlive the router.
void AddAnalysisRoutes(Router& router, const ServerContext& context);

}  // namespace labbook::server
