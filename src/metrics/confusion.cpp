// Confusion matrix and the scores derived from it: accuracy, balanced accuracy, P/R/F1.
#include <limits>

#include "core/status_macros.hpp"
#include "labbook/metrics.hpp"
#include "metrics/validation.hpp"

namespace labbook::metrics {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// sklearn's _prf_divide with zero_division="warn": 0 where the denominator is 0.
double DivideOrZero(int64_t numerator, int64_t denominator) {
  return denominator == 0 ? 0.0 : static_cast<double>(numerator) / static_cast<double>(denominator);
}

// F-beta with beta = 1, from precision and recall as sklearn computes it.
double F1(double precision, double recall) {
  const double denominator = precision + recall;
  return denominator == 0.0 ? 0.0 : 2.0 * precision * recall / denominator;
}

}  // namespace

int64_t ConfusionMatrix::total() const {
  int64_t sum = 0;
  for (int64_t c : counts) sum += c;
  return sum;
}

std::vector<double> ConfusionMatrix::Normalized(ConfusionNormalization normalization) const {
  const auto k = static_cast<size_t>(num_classes);
  std::vector<double> out(counts.size());
  std::vector<int64_t> divisor(counts.size(), 1);
  switch (normalization) {
    case ConfusionNormalization::kNone:
      break;
    case ConfusionNormalization::kByTrue:
      for (size_t r = 0; r < k; ++r) {
        int64_t row = 0;
        for (size_t c = 0; c < k; ++c) row += counts[r * k + c];
        for (size_t c = 0; c < k; ++c) divisor[r * k + c] = row;
      }
      break;
    case ConfusionNormalization::kByPredicted:
      for (size_t c = 0; c < k; ++c) {
        int64_t column = 0;
        for (size_t r = 0; r < k; ++r) column += counts[r * k + c];
        for (size_t r = 0; r < k; ++r) divisor[r * k + c] = column;
      }
      break;
    case ConfusionNormalization::kOverAll: {
      const int64_t all = total();
      for (int64_t& d : divisor) d = all;
      break;
    }
  }
  // A zero divisor means a zero count: sklearn's 0/0 = NaN becomes 0 through nan_to_num.
  for (size_t i = 0; i < counts.size(); ++i) {
    out[i] =
        divisor[i] == 0 ? 0.0 : static_cast<double>(counts[i]) / static_cast<double>(divisor[i]);
  }
  return out;
}

Result<ConfusionMatrix> ComputeConfusionMatrix(std::span<const int32_t> labels,
                                               std::span<const int32_t> predicted,
                                               int32_t num_classes) {
  LABBOOK_RETURN_IF_ERROR(internal::CheckNumClasses(num_classes));
  LABBOOK_RETURN_IF_ERROR(internal::CheckSameLength("predicted", predicted.size(), labels.size()));
  LABBOOK_RETURN_IF_ERROR(internal::CheckClassIds("labels", labels, num_classes));
  LABBOOK_RETURN_IF_ERROR(internal::CheckClassIds("predicted", predicted, num_classes));
  ConfusionMatrix confusion;
  confusion.num_classes = num_classes;
  const auto k = static_cast<size_t>(num_classes);
  confusion.counts.assign(k * k, 0);
  int64_t* counts = confusion.counts.data();
  for (size_t i = 0; i < labels.size(); ++i) {
    ++counts[static_cast<size_t>(labels[i]) * k + static_cast<size_t>(predicted[i])];
  }
  return confusion;
}

double Accuracy(const ConfusionMatrix& confusion) {
  const int64_t n = confusion.total();
  if (n == 0) return kNaN;
  int64_t correct = 0;
  for (int32_t c = 0; c < confusion.num_classes; ++c) correct += confusion.at(c, c);
  return static_cast<double>(correct) / static_cast<double>(n);
}

BalancedAccuracy ComputeBalancedAccuracy(const ConfusionMatrix& confusion) {
  const int32_t k = confusion.num_classes;
  BalancedAccuracy result;
  double sum = 0.0;
  int32_t present = 0;
  for (int32_t r = 0; r < k; ++r) {
    int64_t support = 0;
    int64_t predicted = 0;
    for (int32_t c = 0; c < k; ++c) {
      support += confusion.at(r, c);
      predicted += confusion.at(c, r);
    }
    if (support > 0) {
      sum += static_cast<double>(confusion.at(r, r)) / static_cast<double>(support);
      ++present;
    } else if (predicted > 0) {
      result.ignored_classes.push_back(r);
    }
  }
  result.value = present > 0 ? sum / present : kNaN;
  return result;
}

ClassificationReport ComputeClassificationReport(const ConfusionMatrix& confusion) {
  const int32_t k = confusion.num_classes;
  ClassificationReport report;
  report.per_class.resize(static_cast<size_t>(k));
  int64_t tp_sum = 0;
  int64_t predicted_sum = 0;
  for (int32_t r = 0; r < k; ++r) {
    ClassScores& s = report.per_class[static_cast<size_t>(r)];
    for (int32_t c = 0; c < k; ++c) {
      s.support += confusion.at(r, c);
      s.predicted_count += confusion.at(c, r);
    }
    s.true_positives = confusion.at(r, r);
    s.precision = DivideOrZero(s.true_positives, s.predicted_count);
    s.recall = DivideOrZero(s.true_positives, s.support);
    s.f1 = F1(s.precision, s.recall);
    s.precision_undefined = s.predicted_count == 0;
    s.recall_undefined = s.support == 0;
    tp_sum += s.true_positives;
    predicted_sum += s.predicted_count;
    report.total_support += s.support;
  }

  for (const ClassScores& s : report.per_class) {
    report.macro.precision += s.precision;
    report.macro.recall += s.recall;
    report.macro.f1 += s.f1;
  }
  report.macro.precision /= k;
  report.macro.recall /= k;
  report.macro.f1 /= k;

  report.micro.precision = DivideOrZero(tp_sum, predicted_sum);
  report.micro.recall = DivideOrZero(tp_sum, report.total_support);
  report.micro.f1 = F1(report.micro.precision, report.micro.recall);

  // With no samples sklearn returns zero_division (0) for the weighted scores.
  if (report.total_support > 0) {
    const auto total = static_cast<double>(report.total_support);
    for (const ClassScores& s : report.per_class) {
      const auto weight = static_cast<double>(s.support);
      report.weighted.precision += s.precision * weight;
      report.weighted.recall += s.recall * weight;
      report.weighted.f1 += s.f1 * weight;
    }
    report.weighted.precision /= total;
    report.weighted.recall /= total;
    report.weighted.f1 /= total;
  }
  return report;
}

}  // namespace labbook::metrics
