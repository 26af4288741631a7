// Evaluate: every metric `labbook eval` prints, from one call.
#include <thread>

#include "core/status_macros.hpp"
#include "labbook/metrics.hpp"
#include "metrics/curves.hpp"
#include "metrics/probability.hpp"
#include "metrics/validation.hpp"

namespace labbook::metrics {
namespace {

Result<EvaluationReport> EvaluateImpl(std::span<const int32_t> labels,
                                      std::span<const int32_t> predicted,
                                      std::span<const double> probabilities, int32_t num_classes,
                                      const CurveThinning& thinning, OneVsRestCurves* curves) {
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
  const int threads = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  // The one-vs-rest pass checks that every probability is finite (and the class ids) before
  // anything else uses them, so the metrics after it take the inputs as checked.
  LABBOOK_ASSIGN_OR_RETURN(
      report.one_vs_rest,
      internal::OneVsRest(labels, probabilities, num_classes, threads, thinning, curves));
  if (num_classes >= 2) {
    report.log_loss = internal::LogLossOfChecked(labels, probabilities, num_classes, threads);
    std::vector<int32_t> ks;
    for (int32_t k : {1, 3, 5}) {
      if (k >= num_classes) break;
      ks.push_back(k);
    }
    const std::vector<double> top_k =
        internal::TopKAccuraciesOfChecked(labels, probabilities, num_classes, ks, threads);
    for (size_t j = 0; j < ks.size(); ++j) report.top_k.push_back({ks[j], top_k[j]});
  }
  return report;
}

}  // namespace

Result<EvaluationReport> Evaluate(std::span<const int32_t> labels,
                                  std::span<const int32_t> predicted,
                                  std::span<const double> probabilities, int32_t num_classes) {
  return EvaluateImpl(labels, predicted, probabilities, num_classes, CurveThinning{}, nullptr);
}

Result<EvaluationReport> EvaluateWithCurves(std::span<const int32_t> labels,
                                            std::span<const int32_t> predicted,
                                            std::span<const double> probabilities,
                                            int32_t num_classes, const CurveThinning& thinning,
                                            OneVsRestCurves* curves) {
  if (curves != nullptr) *curves = {};
  return EvaluateImpl(labels, predicted, probabilities, num_classes, thinning, curves);
}

}  // namespace labbook::metrics
