// The SweepStore of a team server: the /api/v1/sweeps routes of docs/api.md, sent through the
// HttpRunStore's connection pool, key and retries. A claim retried after its answer was lost
// may leave a trial claimed that no agent runs; its lease expires and the next claim hands it on.
#pragma once

#include <memory>
#include <string>

#include "labbook/status.hpp"
#include "sweep/sweep_store.hpp"

namespace labbook::sweep {

// The server named by `uri` (http:// or https://), with the key the CLI finds for it.
[[nodiscard]] Result<std::unique_ptr<SweepStore>> OpenHttpSweepStore(const std::string& uri);

}  // namespace labbook::sweep
