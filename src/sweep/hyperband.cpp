#include "sweep/hyperband.hpp"

#include <algorithm>
#include <cmath>

namespace labbook::sweep {

std::vector<int64_t> HyperbandBrackets(const Hyperband& hyperband) {
  std::vector<int64_t> out;
  for (int k = 0; k < hyperband.brackets; ++k) {
    const auto at = static_cast<int64_t>(
        std::llround(static_cast<double>(hyperband.min_iter) * std::pow(hyperband.eta, k)));
    if (out.empty() || at > out.back()) out.push_back(at);
  }
  return out;
}

BracketDecision JudgeAtBracket(Goal goal, double eta, double value,
                               std::span<const double> earlier) {
  BracketDecision decision;
  decision.compared = static_cast<int64_t>(earlier.size()) + 1;
  decision.kept = static_cast<int64_t>(std::ceil(static_cast<double>(decision.compared) / eta));
  if (std::isnan(value)) {
    decision.rank = decision.compared;
    decision.stop = true;
    return decision;
  }
  // Strictly better earlier values rank ahead; ties go to the trial being judged.
  int64_t better = 0;
  for (double other : earlier) {
    if (std::isnan(other)) continue;
    if (goal == Goal::kMaximize ? other > value : other < value) ++better;
  }
  decision.rank = better + 1;
  decision.stop = decision.rank > decision.kept;
  return decision;
}

}  // namespace labbook::sweep
