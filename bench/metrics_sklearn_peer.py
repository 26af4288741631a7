#!/usr/bin/env python3
"""scikit-learn's side of bench/metrics_bench: times the same metrics on the same data.

Usage: metrics_sklearn_peer.py DIR ROWS CLASSES REPEATS
Reads DIR/labels.i32, DIR/predicted.i32 (int32) and DIR/probabilities.f64 (float64, row-major
ROWS x CLASSES) and writes DIR/sklearn.json: the median seconds of each call over REPEATS runs and
the values, for metrics_bench to compare.
"""
import json
import statistics
import sys
import time
import warnings

import numpy as np
import sklearn
from sklearn import metrics


def timed(repeats, fn):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main():
    directory, rows, classes, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(
        sys.argv[4])
    labels = np.fromfile(f"{directory}/labels.i32", dtype=np.int32)
    predicted = np.fromfile(f"{directory}/predicted.i32", dtype=np.int32)
    probabilities = np.fromfile(f"{directory}/probabilities.f64", dtype=np.float64)
    probabilities = probabilities.reshape(rows, classes)
    all_labels = list(range(classes))
    warnings.simplefilter("ignore")

    out = {"sklearn_version": sklearn.__version__, "seconds": {}}
    out["seconds"]["confusion_matrix"], cm = timed(
        repeats, lambda: metrics.confusion_matrix(labels, predicted, labels=all_labels))
    out["seconds"]["precision_recall_fscore_support"], prfs = timed(
        repeats, lambda: metrics.precision_recall_fscore_support(labels, predicted,
                                                                 labels=all_labels))
    out["seconds"]["roc_auc_score_ovr"], auroc = timed(
        repeats, lambda: metrics.roc_auc_score(labels, probabilities, multi_class="ovr",
                                               average="macro", labels=all_labels))
    out["seconds"]["average_precision_score_per_class"], ap = timed(
        repeats, lambda: [metrics.average_precision_score(labels == c, probabilities[:, c])
                          for c in all_labels])
    out["confusion"] = cm.ravel().tolist()
    out["precision"], out["recall"], out["f1"] = (v.tolist() for v in prfs[:3])
    out["support"] = prfs[3].tolist()
    out["auroc_macro"] = float(auroc)
    out["average_precision"] = [float(v) for v in ap]
    with open(f"{directory}/sklearn.json", "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
