// Classification metrics: confusion matrix, precision/recall/F1, log loss, top-k accuracy, ROC and
// precision-recall curves, AUROC and average precision, with the semantics of scikit-learn 1.2.1.
//
// Every function is pure: no I/O, no global state, safe to call from several threads at once.
// Inputs are borrowed spans that must stay alive for the call only. Class ids run from 0 to K-1;
// probabilities (or any real-valued scores) are row-major N x K doubles: row i, class k is at
// probabilities[i * K + k]. Functions that can receive invalid input return Result<T>; the error
// is kInvalidArgument and names the argument and index, e.g. "labels[17] = 12 is outside 0..9".
//
// Undefined values. Where scikit-learn warns and substitutes a value, labbook substitutes the same
// value and sets a flag that says why (e.g. ClassScores::precision_undefined). Where scikit-learn
// returns NaN, so does labbook. Where scikit-learn raises for a degenerate but valid input (AUROC
// with one class present), labbook returns NaN and a RankingIssue instead of an error.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "labbook/export.hpp"
#include "labbook/status.hpp"

namespace labbook::metrics {

// ---------------------------------------------------------------------------------------------
// Confusion matrix and the scores derived from it
// ---------------------------------------------------------------------------------------------

// How ConfusionMatrix::Normalized divides the counts (sklearn confusion_matrix(normalize=...)).
enum class ConfusionNormalization {
  kNone,         // counts as doubles
  kByTrue,       // each row sums to 1 ("true")
  kByPredicted,  // each column sums to 1 ("pred")
  kOverAll,      // the whole matrix sums to 1 ("all")
};

// K x K counts; row = true class, column = predicted class.
struct LABBOOK_EXPORT ConfusionMatrix {
  int32_t num_classes = 0;
  std::vector<int64_t> counts;  // row-major (K, K)

  int64_t at(int32_t true_class, int32_t predicted_class) const {
    return counts[static_cast<size_t>(true_class) * static_cast<size_t>(num_classes) +
                  static_cast<size_t>(predicted_class)];
  }
  int64_t total() const;
  // Row-major (K, K) doubles. A row or column with no samples divides 0 by 0; like sklearn's
  // nan_to_num, its entries become 0, never NaN.
  std::vector<double> Normalized(ConfusionNormalization normalization) const;
};

// Counts (labels[i], predicted[i]) pairs into a K x K matrix. Empty inputs give a zero matrix.
// Errors: num_classes < 1, different lengths, or a class id outside 0..K-1 (named by index).
[[nodiscard]] LABBOOK_EXPORT Result<ConfusionMatrix> ComputeConfusionMatrix(
    std::span<const int32_t> labels, std::span<const int32_t> predicted, int32_t num_classes);

// Fraction of samples whose prediction equals the label (sklearn accuracy_score). NaN for a
// matrix that counts no samples, where sklearn averages an empty array.
LABBOOK_EXPORT double Accuracy(const ConfusionMatrix& confusion);

struct BalancedAccuracy {
  double value = 0.0;  // mean recall over classes present in the labels; NaN if none is
  // Classes that were predicted but never occur in the labels. sklearn drops their (0/0) recall
  // from the mean and warns "y_pred contains classes not in y_true"; this list is that warning.
  std::vector<int32_t> ignored_classes;
};

// Mean per-class recall over the classes that occur in the labels (sklearn
// balanced_accuracy_score, adjusted=False). Classes absent from the labels are left out of the
// mean; those that were predicted anyway are listed in ignored_classes.
LABBOOK_EXPORT BalancedAccuracy ComputeBalancedAccuracy(const ConfusionMatrix& confusion);

// Precision, recall, F1 and support of one class, as sklearn precision_recall_fscore_support
// with labels=range(K): a class that occurs in neither labels nor predictions is still reported.
struct ClassScores {
  double precision = 0.0;  // tp / predicted_count; 0 when nothing was predicted as this class
  double recall = 0.0;     // tp / support; 0 when the class never occurs in the labels
  double f1 = 0.0;         // 2pr / (p + r); 0 when p + r == 0
  int64_t support = 0;     // samples whose label is this class
  int64_t predicted_count = 0;
  int64_t true_positives = 0;
  // sklearn's zero_division="warn" cases: the value above is 0 and sklearn warns.
  bool precision_undefined = false;  // predicted_count == 0
  bool recall_undefined = false;     // support == 0
};

struct AveragedScores {
  double precision = 0.0;
  double recall = 0.0;
  double f1 = 0.0;
};

struct ClassificationReport {
  std::vector<ClassScores> per_class;  // K entries
  AveragedScores macro;                // unweighted mean over all K classes
  AveragedScores micro;                // from the summed tp, predicted and true counts
  AveragedScores weighted;  // mean weighted by support; all 0 when no samples are counted
  int64_t total_support = 0;
};

// Per-class and averaged precision, recall and F1 with sklearn's default zero_division ("warn",
// which substitutes 0). Never fails: every ConfusionMatrix is a valid input.
LABBOOK_EXPORT ClassificationReport ComputeClassificationReport(const ConfusionMatrix& confusion);

// ---------------------------------------------------------------------------------------------
// Metrics of probabilities
// ---------------------------------------------------------------------------------------------

// Mean cross-entropy -log(p[i, labels[i]]) after sklearn 1.2.1's log_loss(eps="auto",
// labels=range(K)) preprocessing: each value is clipped to [eps, 1 - eps] with eps = 2^-52
// (the double's machine epsilon), then each row is divided by its sum. Errors: K < 2 (sklearn
// raises), no samples, size mismatches, labels out of range, non-finite probabilities.
[[nodiscard]] LABBOOK_EXPORT Result<double> LogLoss(std::span<const int32_t> labels,
                                                    std::span<const double> probabilities,
                                                    int32_t num_classes);

// Fraction of samples whose label is among the k highest-scored classes (sklearn
// top_k_accuracy_score with labels=range(K)). Ties rank the higher class id first, as sklearn's
// reversed stable argsort does; k >= K counts every sample. For K == 2 sklearn takes the scores of
// class 1 only and, for k == 1, predicts class 1 when that score is > 0.5 (> 0 if any score of
// class 1 lies outside [0, 1]); labbook does the same. Errors: K < 2, k < 1, invalid input.
[[nodiscard]] LABBOOK_EXPORT Result<double> TopKAccuracy(std::span<const int32_t> labels,
                                                         std::span<const double> probabilities,
                                                         int32_t num_classes, int32_t k);

// ---------------------------------------------------------------------------------------------
// Binary ranking metrics: sample i is positive when labels[i] == positive_label
// ---------------------------------------------------------------------------------------------

// Why a ranking metric has a substituted or NaN value.
enum class RankingIssue {
  kNone,
  kNoPositives,  // no sample is positive
  kNoNegatives,  // every sample is positive
};

// sklearn roc_curve(drop_intermediate=True by default): fpr[i], tpr[i] are the rates of samples
// scored >= thresholds[i]. thresholds decrease; thresholds[0] = max score + 1 stands for "predict
// nothing". Ties are one point. fpr is all NaN when there are no negatives, tpr all NaN when there
// are no positives (as sklearn, which warns); issue says which.
struct RocCurve {
  std::vector<double> fpr;
  std::vector<double> tpr;
  std::vector<double> thresholds;
  RankingIssue issue = RankingIssue::kNone;
};

// sklearn 1.2.1 precision_recall_curve: thresholds are the distinct scores, increasing;
// precision and recall have one more entry, the final (1, 0). With no positives recall is 1 at
// every threshold (sklearn warns) and issue is kNoPositives.
struct PrecisionRecallCurve {
  std::vector<double> precision;
  std::vector<double> recall;
  std::vector<double> thresholds;
  RankingIssue issue = RankingIssue::kNone;
};

// A scalar ranking metric and why it may be undefined.
struct RankingScore {
  double value = 0.0;
  RankingIssue issue = RankingIssue::kNone;
};

// Errors for the four functions below: different lengths, no samples, non-finite scores. Labels
// can be any ints; -0.0 and 0.0 are one score, as in sklearn.
[[nodiscard]] LABBOOK_EXPORT Result<RocCurve> ComputeRocCurve(std::span<const int32_t> labels,
                                                              std::span<const double> scores,
                                                              int32_t positive_label = 1,
                                                              bool drop_intermediate = true);

[[nodiscard]] LABBOOK_EXPORT Result<PrecisionRecallCurve> ComputePrecisionRecallCurve(
    std::span<const int32_t> labels, std::span<const double> scores, int32_t positive_label = 1);

// Area under the ROC curve, computed exactly from integer counts (sklearn roc_auc_score, which
// integrates the same curve with the trapezoid rule). sklearn raises when only one class is
// present; labbook returns NaN with issue kNoPositives or kNoNegatives.
[[nodiscard]] LABBOOK_EXPORT Result<RankingScore> RocAuc(std::span<const int32_t> labels,
                                                         std::span<const double> scores,
                                                         int32_t positive_label = 1);

// sklearn average_precision_score: sum over thresholds of (R_n - R_{n-1}) * P_n. With no
// positives sklearn 1.2.1 returns 0 (and warns); so does labbook, with issue kNoPositives.
[[nodiscard]] LABBOOK_EXPORT Result<RankingScore> AveragePrecision(std::span<const int32_t> labels,
                                                                   std::span<const double> scores,
                                                                   int32_t positive_label = 1);

// ---------------------------------------------------------------------------------------------
// Multiclass one-vs-rest ranking metrics
// ---------------------------------------------------------------------------------------------

// One-vs-rest AUROC and average precision of every class k, scoring column k against
// labels == k. sklearn raises for roc_auc_score(multi_class="ovr") when a class is absent; here a
// class with no positives gets NaN AUROC and NaN AP, a class with no negatives NaN AUROC, and the
// macro and weighted means skip NaN entries (NaN when every entry is NaN). When every class occurs,
// the means equal (to 1e-12) sklearn's average_precision_score(one_hot, probabilities, average=...)
// and, for K > 2 and rows summing to 1, roc_auc_score(multi_class="ovr", average=...). Scores need
// not sum to 1 here. For K = 2, sklearn's binary AUROC is auroc[1].
struct OneVsRestReport {
  std::vector<double> auroc;              // K entries
  std::vector<double> average_precision;  // K entries
  std::vector<int64_t> support;           // K entries: samples of each class
  std::vector<RankingIssue> issues;       // K entries: why an entry above is NaN
  double auroc_macro = 0.0;
  double auroc_weighted = 0.0;  // weights are the supports
  double average_precision_macro = 0.0;
  double average_precision_weighted = 0.0;
};

// Sorts each class's scores once (radix sort) and derives both metrics from that order, using
// num_threads threads across classes (0: std::thread::hardware_concurrency()). Each thread holds
// 16 bytes per sample of scratch. Errors: K < 1, no samples, invalid input, non-finite scores
// (kInvalidArgument); kResourceExhausted when the scratch cannot be allocated.
[[nodiscard]] LABBOOK_EXPORT Result<OneVsRestReport> ComputeOneVsRest(
    std::span<const int32_t> labels, std::span<const double> probabilities, int32_t num_classes,
    int num_threads = 0);

// One row of a precision/recall trade-off table: the class is predicted when its score >= t.
struct ThresholdRow {
  double threshold = 0.0;
  double precision = 0.0;  // 0 when nothing is predicted (sklearn zero_division default)
  double recall = 0.0;     // 0 when the class never occurs
  double f1 = 0.0;
  int64_t true_positives = 0;
  int64_t false_positives = 0;
  int64_t false_negatives = 0;
  int64_t true_negatives = 0;
};

// For each threshold t (in the given order), the counts and sklearn's binary precision, recall
// and F1 of predicting class_id when probabilities[i, class_id] >= t. Errors: class_id outside
// 0..K-1, NaN thresholds, no samples, invalid input, non-finite scores.
[[nodiscard]] LABBOOK_EXPORT Result<std::vector<ThresholdRow>> PrecisionRecallAtThresholds(
    std::span<const int32_t> labels, std::span<const double> probabilities, int32_t num_classes,
    int32_t class_id, std::span<const double> thresholds);

// ---------------------------------------------------------------------------------------------
// Everything `labbook eval` prints
// ---------------------------------------------------------------------------------------------

struct TopKScore {
  int32_t k = 1;
  double accuracy = 0.0;
};

struct EvaluationReport {
  int64_t num_samples = 0;
  int32_t num_classes = 0;
  ConfusionMatrix confusion;
  double accuracy = 0.0;
  BalancedAccuracy balanced_accuracy;
  ClassificationReport classification;
  // Present only when probabilities were given:
  std::optional<double> log_loss;  // also needs K >= 2
  std::vector<TopKScore> top_k;    // k = 1, 3, 5 where k < K
  std::optional<OneVsRestReport> one_vs_rest;
};

// Computes every metric above from one set of predictions. probabilities may be empty (then only
// the metrics of labels and predictions are filled) or hold N x K scores. Errors: no samples,
// K < 1, size mismatches, class ids out of range, non-finite probabilities.
[[nodiscard]] LABBOOK_EXPORT Result<EvaluationReport> Evaluate(
    std::span<const int32_t> labels, std::span<const int32_t> predicted,
    std::span<const double> probabilities, int32_t num_classes);

}  // namespace labbook::metrics
