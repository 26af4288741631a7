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
// Without one, a kOnline run whose store is a server records through a SpoolingRunStore
// (track/http/spooling_store.hpp) that falls back to DefaultOfflineStoreUri().
[[nodiscard]] Result<Run> StartRun(InitOptions options, std::shared_ptr<RunStore> store,
                                   const WriterOptions& writer_options = {});

// The store URI a run with these options records to: for kOnline options.store, else
// DefaultStoreUri(); for kOffline options.store, else LABBOOK_OFFLINE_STORE, else
// "sqlite://.labbook/offline.db" (a store that is not SQLite is kInvalidArgument); "" for
// kDisabled.
[[nodiscard]] Result<std::string> ResolveStoreUri(const InitOptions& options);

// LABBOOK_OFFLINE_STORE, else "sqlite://.labbook/offline.db": where offline runs are recorded
// and where runs of a server that could not be reached are spooled until `labbook sync`.
std::string DefaultOfflineStoreUri();

}  // namespace labbook::track
