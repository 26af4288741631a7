// The native REST API under /api/v1/ (docs/api.md): one handler per route, each parsing and
// validating its input at the door, asking the access rules (auth/access.hpp) before it touches
// the store, and calling the store through the RunStore interface only.
#pragma once

#include <string>

#include "server/context.hpp"
#include "server/router.hpp"

namespace labbook::server {

// Adds every /api/v1/ route to `router`. `context` (and what it points to) must outlive the
// router. `version` is what GET /api/v1/health reports.
void AddRestRoutes(Router& router, const ServerContext& context, const std::string& version);

}  // namespace labbook::server
