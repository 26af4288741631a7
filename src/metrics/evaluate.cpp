// Evaluate: every metric `labbook eval` prints, from one call.
#include "core/status_macros.hpp"
#include "labbook/metrics.hpp"
#include "metrics/validation.hpp"

namespace labbook::metrics {

Result<EvaluationReport> Evaluate(std::span<const int32_t> labels,
                                  std::span<const int32_t> predicted,
                                  std::span<const double> probabilities, int32_t num_classes) {
  LABBOOK_RETURN_IF_ERROR(internal::CheckNotEmpty(labels.size()));
  EvaluationReport report;
  LABBOOK_ASSIGN_OR_RETURN(report.confusion,
                           ComputeConfusionMatrix(labels, predicted, num_classes));
  report.num_samples = static_cast<int64_t>(labels.size());
  report.num_classes = num_classes;
  report.accuracy = Accuracy(report.confusion);
  report.balanced_accuracy = ComputeBalancedAccuracy(report.confusion);
  report.classification = ComputeClassificationReport(report.confusion);
  if (probabilities.empty()) return report;

  LABBOOK_RETURN_IF_ERROR(
      internal::CheckProbabilitiesShape(probabilities.size(), labels.size(), num_classes));
  // The one-vs-rest pass checks that every probability is finite before anything else uses them.
  LABBOOK_ASSIGN_OR_RETURN(report.one_vs_rest,
                           ComputeOneVsRest(labels, probabilities, num_classes));
  if (num_classes >= 2) {
    LABBOOK_ASSIGN_OR_RETURN(report.log_loss, LogLoss(labels, probabilities, num_classes));
    for (int32_t k : {1, 3, 5}) {
      if (k >= num_classes) break;
      LABBOOK_ASSIGN_OR_RETURN(double top_k, TopKAccuracy(labels, probabilities, num_classes, k));
      report.top_k.push_back({k, top_k});
    }
  }
  return report;
}

}  // namespace labbook::metrics
