// The sweep routes under /api/v1/sweeps (docs/api.md): what `labbook sweep` and `labbook agent`
// send to a team server. A sweep belongs to a project and has its access rules: reading it needs
// read access, and creating, claiming and reporting need write access.
#pragma once

#include "server/context.hpp"
#include "server/router.hpp"

namespace labbook::server {

// Adds the routes to `router`; without a sweep store in `context` they answer 501.
void AddSweepRoutes(Router& router, const ServerContext& context);

}  // namespace labbook::server
