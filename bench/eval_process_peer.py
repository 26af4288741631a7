#!/usr/bin/env python3
"""The pandas + scikit-learn side of bench/eval_process_bench: one whole process per evaluation.

Usage: eval_process_peer.py FILE
       eval_process_peer.py --write FILE ROWS CLASSES SEED
Reads the predictions CSV FILE (index,label,predicted,p_0..p_{K-1}) with pandas.read_csv and
prints, as JSON on stdout, what `labbook eval FILE --json` reports of the same metrics: the
confusion matrix, precision/recall/F1/support per class, and one-vs-rest AUROC and average
precision per class. The imports count: the bench times this script as a process, as a user
would run it.

With --write it instead writes the bench's input: ROWS predictions over CLASSES classes (random
labels, softmax probabilities that favour the label, predicted = argmax), written by pandas with
float_format '%.6f' as a notebook would save them.
"""
import json
import sys
import warnings

import numpy as np
import pandas as pd
from sklearn import metrics


def write(path, rows, classes, seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, rows)
    logits = rng.normal(0.0, 1.0, (rows, classes))
    logits[np.arange(rows), labels] += 1.5
    probabilities = np.exp(logits)
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    frame = pd.DataFrame({"index": np.arange(rows), "label": labels,
                          "predicted": probabilities.argmax(axis=1)})
    for c in range(classes):
        frame[f"p_{c}"] = probabilities[:, c]
    frame.to_csv(path, index=False, float_format="%.6f")


def main():
    if sys.argv[1] == "--write":
        write(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
        return
    frame = pd.read_csv(sys.argv[1])
    labels = frame["label"].to_numpy()
    predicted = frame["predicted"].to_numpy()
    columns = [c for c in frame.columns if c.startswith("p_")]
    probabilities = frame[columns].to_numpy(dtype=np.float64)
    classes = list(range(len(columns)))
    warnings.simplefilter("ignore")

    cm = metrics.confusion_matrix(labels, predicted, labels=classes)
    precision, recall, f1, support = metrics.precision_recall_fscore_support(
        labels, predicted, labels=classes, zero_division=0)
    auroc = [metrics.roc_auc_score(labels == c, probabilities[:, c]) for c in classes]
    ap = [metrics.average_precision_score(labels == c, probabilities[:, c]) for c in classes]
    json.dump({
        "num_samples": int(len(frame)),
        "confusion_matrix": cm.tolist(),
        "precision": precision.tolist(),
        "recall": recall.tolist(),
        "f1": f1.tolist(),
        "support": support.tolist(),
        "auroc": [float(v) for v in auroc],
        "average_precision": [float(v) for v in ap],
    }, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
