#include "core/random_id.hpp"

#include <random>

namespace labbook {

std::string RandomId() {
  static constexpr char kAlphabet[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  thread_local std::mt19937_64 engine{std::random_device{}()};
  std::uniform_int_distribution<int> pick(0, 35);
  std::string id(kRandomIdLength, '0');
  for (char& c : id) c = kAlphabet[pick(engine)];
  return id;
}

}  // namespace labbook
