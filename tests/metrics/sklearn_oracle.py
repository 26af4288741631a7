#!/usr/bin/env python3
"""Generates metric test cases and scikit-learn's answers for them, as JSON.

The C++ golden test (metrics_golden_test.cpp) runs this with the project's oracle interpreter
(LABBOOK_PYTHON) into a temporary directory and compares every value labbook computes with the
ones written here. Cases come from a fixed seed: small and large N, ties (scores rounded to 1 or 2
decimals, float32 rounding), constant scores, arbitrary real scores, classes missing from the
labels or from the predictions, a single class.

NaN is written as null. A metric that scikit-learn refuses to compute (it raises) is written as
{"raised": "<message>"}. Warnings are captured, never printed; the ones that correspond to a flag
in labbook's API are recorded.

Usage: sklearn_oracle.py OUT.json [--cases N] [--seed S] [--max-rows R]
The checked-in set: sklearn_oracle.py tests/golden/metrics/sklearn_cases.json --cases 30 \
    --max-rows 30 --seed 7
"""
import argparse
import json
import math
import warnings

import numpy as np
import sklearn
from sklearn import metrics


def clean(value):
    """JSON-able copy of value with NaN as None."""
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "f":
            assert np.isfinite(value[~np.isnan(value)]).all()
            if np.isnan(value).any():
                return [None if math.isnan(v) else v for v in value.tolist()]
        return value.tolist()
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if math.isnan(value):
            return None
        assert math.isfinite(value), value
        return value
    return value


def call(fn, *args, **kwargs):
    """(result, warning messages) or ({"raised": message}, warnings) when fn raises."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = fn(*args, **kwargs)
        except ValueError as e:
            result = {"raised": str(e)}
    return result, [str(w.message) for w in caught]


def make_scores(rng, labels, num_classes, mode):
    n = len(labels)
    if mode == "constant":
        return np.full((n, num_classes), 1.0 / num_classes)
    if mode == "real":
        # Arbitrary real-valued scores with ties and both signs of zero.
        scores = np.round(rng.normal(0.0, 2.0, size=(n, num_classes)), 1)
        scores[rng.random(size=scores.shape) < 0.1] = -0.0
        scores[rng.random(size=scores.shape) < 0.1] = 0.0
        return scores
    if mode == "dirichlet":
        return rng.dirichlet(np.full(num_classes, 0.7), size=n)
    strength = rng.uniform(0.0, 3.0)
    logits = rng.normal(0.0, 1.0, size=(n, num_classes))
    logits[np.arange(n), labels] += strength
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    if mode == "round1":
        return np.round(p, 1)
    if mode == "round2":
        return np.round(p, 2)
    if mode == "float32":
        return p.astype(np.float32).astype(np.float64)
    return p


def make_case(rng, index, max_rows):
    num_classes = int(rng.integers(2, 11)) if index % 40 != 7 else 1
    size_kind = rng.random()
    if index < 6:
        n = 1 + index % 3
    elif size_kind < 0.15:
        n = int(rng.integers(1, 6))
    elif size_kind < 0.55:
        n = int(rng.integers(min(6, max_rows), min(51, max_rows + 1)))
    else:
        n = int(rng.integers(min(51, max_rows), max_rows + 1))

    present = np.arange(num_classes)
    label_kind = rng.random()
    if label_kind < 0.1:
        present = rng.choice(num_classes, size=1)
    elif label_kind < 0.4:
        present = np.sort(rng.choice(num_classes, size=int(rng.integers(1, num_classes + 1)),
                                     replace=False))
    labels = rng.choice(present, size=n)

    mode = rng.choice(["softmax", "round1", "round2", "float32", "constant", "real", "dirichlet"],
                      p=[0.2, 0.2, 0.2, 0.1, 0.07, 0.13, 0.1])
    scores = make_scores(rng, labels, num_classes, mode)

    predicted_kind = rng.random()
    if predicted_kind < 0.5:
        predicted = scores.argmax(axis=1)
        predicted_kind = "argmax"
    elif predicted_kind < 0.8:
        allowed = rng.choice(num_classes, size=int(rng.integers(1, num_classes + 1)),
                             replace=False)
        predicted = rng.choice(allowed, size=n)
        predicted_kind = "random"
    elif predicted_kind < 0.9:
        predicted = labels.copy()
        predicted_kind = "perfect"
    else:
        predicted = np.full(n, int(rng.integers(0, num_classes)))
        predicted_kind = "constant"
    labels = labels.astype(np.int64)
    predicted = predicted.astype(np.int64)
    name = (f"case {index}: K={num_classes} N={n} scores={mode} predicted={predicted_kind} "
            f"label classes={len(np.unique(labels))}")
    return name, num_classes, labels, predicted, scores


def classification_part(labels, predicted, k):
    out = {}
    all_labels = list(range(k))
    out["confusion"] = metrics.confusion_matrix(labels, predicted, labels=all_labels)
    for norm in ("true", "pred", "all"):
        out["confusion_" + norm] = metrics.confusion_matrix(labels, predicted, labels=all_labels,
                                                            normalize=norm)
    out["accuracy"] = metrics.accuracy_score(labels, predicted)
    value, caught = call(metrics.balanced_accuracy_score, labels, predicted)
    out["balanced_accuracy"] = value
    out["balanced_accuracy_warned"] = any("not in y_true" in w for w in caught)
    (p, r, f, s), caught = call(metrics.precision_recall_fscore_support, labels, predicted,
                                labels=all_labels, average=None)
    out["precision"], out["recall"], out["f1"], out["support"] = p, r, f, s
    out["precision_warned"] = any(w.startswith("Precision") for w in caught)
    out["recall_warned"] = any(w.startswith("Recall") for w in caught)
    for average in ("macro", "micro", "weighted"):
        (p, r, f, _), _ = call(metrics.precision_recall_fscore_support, labels, predicted,
                               labels=all_labels, average=average)
        out[average] = [p, r, f]
    return out


def top_k_part(labels, scores, k_classes):
    """sklearn's top_k_accuracy_score for several k, with labels=range(K)."""
    results = []
    for k in sorted({1, 2, 3, 5, k_classes - 1, k_classes, k_classes + 1}):
        if k < 1:
            continue
        if k_classes == 2:
            # sklearn's binary branch takes the scores of the greater label.
            value, _ = call(metrics.top_k_accuracy_score, labels, scores[:, 1], k=k,
                            labels=[0, 1])
        elif k_classes > 2 and len(np.unique(labels)) <= 2:
            # type_of_target calls such labels "binary" and sklearn refuses 2-D scores. Adding
            # rows that are certain hits (one-hot on their own label) makes y_true multiclass
            # without changing which real rows are hits; their count is subtracted again.
            extra = np.arange(3)
            y = np.concatenate([labels, extra])
            s = np.vstack([scores, np.eye(k_classes)[extra]])
            hits, _ = call(metrics.top_k_accuracy_score, y, s, k=k, labels=range(k_classes),
                           normalize=False)
            value = (hits - len(extra)) / len(labels) if not isinstance(hits, dict) else hits
        else:
            value, _ = call(metrics.top_k_accuracy_score, labels, scores, k=k,
                            labels=range(k_classes))
        results.append({"k": k, "value": value})
    return results


def one_vs_rest_part(labels, scores, k):
    support = np.bincount(labels, minlength=k)
    auroc = np.full(k, np.nan)
    ap = np.full(k, np.nan)
    one_hot = np.eye(k, dtype=np.int64)[labels]
    # average=None scores each column as its own binary problem, in one call.
    defined = np.flatnonzero((support > 0) & (support < len(labels)))
    if len(defined) >= 2:
        auroc[defined], _ = call(metrics.roc_auc_score, one_hot[:, defined], scores[:, defined],
                                 average=None)
    for c in defined if len(defined) < 2 else []:
        auroc[c], _ = call(metrics.roc_auc_score, one_hot[:, c], scores[:, c])
    present = np.flatnonzero(support > 0)
    if len(present) >= 2:
        ap[present], _ = call(metrics.average_precision_score, one_hot[:, present],
                              scores[:, present], average=None)
    for c in present if len(present) < 2 else []:
        ap[c], _ = call(metrics.average_precision_score, one_hot[:, c], scores[:, c])
    out = {"auroc": auroc, "average_precision": ap, "support": support}
    for name, values in (("auroc", auroc), ("average_precision", ap)):
        defined = ~np.isnan(values)
        out[name + "_macro"] = values[defined].mean() if defined.any() else np.nan
        weights = support[defined]
        out[name + "_weighted"] = (np.average(values[defined], weights=weights)
                                   if weights.sum() > 0 else np.nan)
    # Where labbook's mapping coincides with sklearn's multiclass calls, record those too.
    everything_present = (support > 0).all()
    for average in ("macro", "weighted"):
        value = None
        if everything_present and k > 2:
            value, _ = call(metrics.roc_auc_score, labels, scores, multi_class="ovr",
                            average=average, labels=range(k))
            if isinstance(value, dict):
                value = None  # rows that do not sum to 1: sklearn refuses, labbook does not
        out["sklearn_auroc_" + average] = value
        value = None
        if everything_present and k >= 2:
            value, _ = call(metrics.average_precision_score, np.eye(k, dtype=np.int64)[labels],
                            scores, average=average)
        out["sklearn_average_precision_" + average] = value
    return out


def curve_part(labels, scores, c):
    y = labels
    out = {"class": c}
    (fpr, tpr, thr), caught = call(metrics.roc_curve, y, scores[:, c], pos_label=c)
    out["roc"] = {"fpr": fpr, "tpr": tpr, "thresholds": thr,
                  "no_positives_warned": any("No positive samples" in w for w in caught),
                  "no_negatives_warned": any("No negative samples" in w for w in caught)}
    (fpr, tpr, thr), _ = call(metrics.roc_curve, y, scores[:, c], pos_label=c,
                              drop_intermediate=False)
    out["roc_all"] = {"fpr": fpr, "tpr": tpr, "thresholds": thr}
    (precision, recall, thr), caught = call(metrics.precision_recall_curve, y, scores[:, c],
                                            pos_label=c)
    out["pr"] = {"precision": precision, "recall": recall, "thresholds": thr,
                 "no_positives_warned": any("No positive class" in w for w in caught)}
    binary = (y == c).astype(np.int64)
    out["auroc"], _ = call(metrics.roc_auc_score, binary, scores[:, c])
    out["average_precision"], _ = call(metrics.average_precision_score, binary, scores[:, c])
    return out


def threshold_part(rng, labels, scores, k):
    c = int(rng.integers(0, k))
    column = scores[:, c]
    values = [-1.0, -0.0, 0.0, 0.05, 0.1, 0.25, 1.0 / 3.0, 0.5, 0.75, 0.9, 1.0, 1.5]
    values += [float(v) for v in rng.choice(column, size=min(4, len(column)))]
    rng.shuffle(values)
    # One binary problem per threshold, as the columns of one multilabel problem: sklearn scores
    # each column as the binary problem with positive label 1.
    y = np.repeat((labels == c).astype(np.int64)[:, None], len(values), axis=1)
    pred = (column[:, None] >= np.array(values)[None, :]).astype(np.int64)
    (p, r, f, _), _ = call(metrics.precision_recall_fscore_support, y, pred, average=None)
    matrices = metrics.multilabel_confusion_matrix(y, pred)
    rows = []
    for i in range(len(values)):
        (tn, fp), (fn, tp) = matrices[i]
        rows.append({"precision": p[i], "recall": r[i], "f1": f[i],
                     "tp": tp, "fp": fp, "fn": fn, "tn": tn})
    return {"class": c, "values": values, "rows": rows}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--cases", type=int, default=240)
    parser.add_argument("--seed", type=int, default=20230201)
    parser.add_argument("--max-rows", type=int, default=300)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)

    cases = []
    for index in range(args.cases):
        name, k, labels, predicted, scores = make_case(rng, index, args.max_rows)
        case = {"name": name, "num_classes": k, "labels": labels, "predicted": predicted,
                "probabilities": scores.ravel()}
        case.update(classification_part(labels, predicted, k))
        case["log_loss"], _ = call(metrics.log_loss, labels, scores, labels=range(k))
        case["top_k"] = top_k_part(labels, scores, k)
        case["one_vs_rest"] = one_vs_rest_part(labels, scores, k)
        # Curves for a few classes: an absent one when there is one, then others.
        absent = [c for c in range(k) if not (labels == c).any()]
        chosen = absent[:1] + [c for c in rng.permutation(k).tolist() if c not in absent[:1]]
        case["curves"] = [curve_part(labels, scores, c) for c in chosen[:3]]
        case["thresholds"] = threshold_part(rng, labels, scores, k)
        cases.append(case)

    # One case per line, so that a diff of a checked-in file points at the cases that changed.
    lines = [json.dumps(case, allow_nan=False, separators=(",", ":")) for case in clean(cases)]
    with open(args.out, "w") as f:
        f.write('{"sklearn_version": "%s", "seed": %d, "cases": [\n' % (sklearn.__version__,
                                                                      args.seed))
        f.write(",\n".join(lines))
        f.write("\n]}\n")


if __name__ == "__main__":
    main()
