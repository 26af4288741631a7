// The internal entry to the SDK behind labbook::Init: the same start, with a store and writer
// settings given by the caller. Tests plug in a MemoryRunStore or a failure-injecting store and
// short intervals; the benchmark picks its store.
#pragma once

#include <memory>
#include <string>

#include "labbook/run.hpp"
#include "track/history_writer.hpp"
#include "track/store.hpp"

namespace labbook::track {

// Starts a run as labbook::Init(options) does, recording into `store` when it is not null (the
// options' mode and store URI are then not consulted, except kDisabled, which records nothing).
[[nodiscard]] Result<Run> StartRun(InitOptions options, std::shared_ptr<RunStore> store,
                                   const WriterOptions& writer_options = {});

// The store URI a run with these options records to: for kOnline options.store, else
// DefaultStoreUri(); for kOffline options.store, else LABBOOK_OFFLINE_STORE, else
// "sqlite://.labbook/offline.db" (a store that is not SQLite is kInvalidArgument); "" for
// kDisabled.
[[nodiscard]] Result<std::string> ResolveStoreUri(const InitOptions& options);

}  // namespace labbook::track
