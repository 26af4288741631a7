// The ids labbook makes up for runs and sweeps: 8 characters of [0-9a-z] (36^8, about 2.8e12
// ids), short enough to type and to show in a table.
#pragma once

#include <cstddef>
#include <string>

namespace labbook {

inline constexpr size_t kRandomIdLength = 8;

// A fresh id from a per-thread generator seeded by std::random_device. Callers that store it
// still check it is unused.
std::string RandomId();

}  // namespace labbook
