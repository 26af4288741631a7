// What every group of routes is given: the run store, its sweeps, the auth store, the server's data
// directory and the address clients reach it at. Owned by the Server; outlives every request.
#pragma once

#include <filesystem>
#include <string>

#include "server/auth/auth_store.hpp"
#include "track/store.hpp"

namespace labbook::sweep {
class SweepStore;
}  // namespace labbook::sweep

namespace labbook::server {

struct ServerContext {
  track::RunStore* store = nullptr;
  AuthStore* auth = nullptr;
  std::filesystem::path data_dir;  // auth.db, uploads/ (blobs being received), ...
  // The base URL clients reach the server at, e.g. "http://127.0.0.1:8080" (for URLs the server
  // hands out, such as W&B upload URLs).
  std::string base_url;
  // The sweeps beside the runs (sweep/sweep_store.hpp); null when the run store keeps none.
  sweep::SweepStore* sweeps = nullptr;
};

}  // namespace labbook::server
