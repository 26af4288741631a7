#!/usr/bin/env python3
"""A plain PyTorch training loop on the bundled mnist-digits, recorded with labbook.

    PYTHONPATH=build/python python3 examples/pytorch_mnist.py --epochs 3
    labbook runs show ID        # config, history, test results and artifacts, as for `labbook train`
    labbook runs predictions ID --out pred.csv && labbook eval pred.csv

The model is the Keras MNIST convnet of examples/keras-cnn.yaml (two 3x3 convolutions with
max pooling, dropout, a dense softmax layer) trained with Adam. The run records what
`labbook train` records, under the same keys: the config; per optimizer step (from 1)
batch/loss, batch/epoch_loss, batch/epoch_accuracy, batch/learning_rate; per epoch (from 1)
epoch/loss, epoch/accuracy, epoch/val_loss, epoch/val_accuracy, epoch/learning_rate,
epoch/seconds, epoch/samples_per_second; the test results in the summary (test/accuracy, ...);
the artifacts pytorch_mnist (the model's state_dict, model.pt), pytorch_mnist-predictions
(the predictions CSV `labbook eval` reads) and pytorch_mnist-confusion_matrix (a table). With
--watch N, labbook.integrations.torch logs the gradient norms every N steps.

Datasets: mnist-digits (LABBOOK_DATA, else data/ of the source tree, where scripts/install-deps
puts it), fashion-mnist, or idx:DIR, four MNIST-format IDX files as docs/datasets.md describes.
"""

from __future__ import annotations

import argparse
import gzip
import os
import struct
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

import labbook
from labbook.integrations.torch import watch

SOURCE_DIR = Path(__file__).resolve().parents[1]
FASHION_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                 "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
ARTIFACT = "pytorch_mnist"


# ---- data: the IDX files of docs/datasets.md

def read_idx(path: Path) -> np.ndarray:
    """An IDX file of unsigned bytes (raw or gzip) as an array of its dimensions."""
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    zero, kind, ndims = struct.unpack(">HBB", raw[:4])
    if zero != 0 or kind != 0x08:
        sys.exit(f"{path}: byte 0: expected an IDX file of unsigned bytes")
    dims = struct.unpack(f">{ndims}i", raw[4:4 + 4 * ndims])
    # A copy: torch tensors made from it may be written to, the bytes object may not.
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndims).reshape(dims).copy()


def find_file(directory: Path, stem: str) -> Path:
    """train-images-idx3-ubyte, with or without .gz, and with '.' before idx as some mirrors."""
    dotted = stem.replace("-idx", ".idx")
    for name in (stem, stem + ".gz", dotted, dotted + ".gz"):
        if (directory / name).is_file():
            return directory / name
    sys.exit(f"{directory}: no {stem} (or .gz); expected the four MNIST-format files")


def load_dataset(name: str) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], list[str]]:
    """{"train": (images N x H x W, labels N), "test": ...} and the class names."""
    data_dir = Path(os.environ.get("LABBOOK_DATA") or SOURCE_DIR / "data")
    if name == "mnist-digits":
        directory = data_dir / "mnist-digits"
    elif name == "fashion-mnist":
        directory = data_dir / "fashion-mnist"
        if not directory.is_dir():
            directory = Path("/usr/share/datasets/fashion-mnist")
    elif name.startswith("idx:"):
        directory = Path(name[len("idx:"):])
    else:
        sys.exit(f"unknown dataset '{name}'; known: fashion-mnist, mnist-digits, idx:DIR")
    if not directory.is_dir():
        sys.exit(f"{name}: {directory} does not exist; run scripts/install-deps")
    splits = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        images = read_idx(find_file(directory, f"{prefix}-images-idx3-ubyte"))
        labels = read_idx(find_file(directory, f"{prefix}-labels-idx1-ubyte"))
        splits[split] = (images, labels)
    classes = int(max(splits["train"][1].max(), splits["test"][1].max())) + 1
    names = FASHION_NAMES if name == "fashion-mnist" else [str(k) for k in range(max(classes, 2))]
    return splits, names


# ---- the model and its evaluation

def make_model(rows: int, cols: int, classes: int) -> nn.Sequential:
    """Conv 32 3x3, ReLU, max pool 2, Conv 64 3x3, ReLU, max pool 2, dropout 0.5, dense."""
    rows_out = ((rows - 2) // 2 - 2) // 2
    cols_out = ((cols - 2) // 2 - 2) // 2
    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.5), nn.Linear(64 * rows_out * cols_out, classes))


def as_batch(images: np.ndarray) -> torch.Tensor:
    # in (N, H, W) uint8, out (N, 1, H, W) float in [0, 1]
    return torch.from_numpy(images).float().div_(255.0).unsqueeze(1)


def evaluate(model: nn.Module, images: np.ndarray, labels: np.ndarray,
             batch_size: int) -> tuple[float, np.ndarray]:
    """Mean cross-entropy and the softmax probabilities (N, classes)."""
    model.eval()
    losses, probabilities = [], []
    with torch.inference_mode():
        for begin in range(0, len(images), batch_size):
            logits = model(as_batch(images[begin:begin + batch_size]))
            target = torch.from_numpy(labels[begin:begin + batch_size].astype(np.int64))
            losses.append(nn.functional.cross_entropy(logits, target, reduction="sum").item())
            probabilities.append(torch.softmax(logits, dim=1).numpy())
    model.train()
    return sum(losses) / max(len(images), 1), np.concatenate(probabilities)


def macro_scores(confusion: np.ndarray) -> tuple[float, float, float]:
    """Macro precision, recall and F1 (0 for a class without predictions or samples)."""
    true_positives = np.diag(confusion).astype(float)
    predicted = confusion.sum(axis=0)
    actual = confusion.sum(axis=1)
    precision = np.divide(true_positives, predicted, out=np.zeros_like(true_positives),
                          where=predicted > 0)
    recall = np.divide(true_positives, actual, out=np.zeros_like(true_positives), where=actual > 0)
    both = precision + recall
    f1 = np.divide(2 * precision * recall, both, out=np.zeros_like(both), where=both > 0)
    return float(precision.mean()), float(recall.mean()), float(f1.mean())


def predictions_csv(labels: np.ndarray, probabilities: np.ndarray) -> str:
    """index,label,predicted,p_0..p_{K-1}: the format `labbook eval` reads."""
    classes = probabilities.shape[1]
    lines = ["index,label,predicted," + ",".join(f"p_{k}" for k in range(classes))]
    predicted = probabilities.argmax(axis=1)
    for i, (label, guess, row) in enumerate(zip(labels, predicted, probabilities)):
        lines.append(f"{i},{label},{guess}," + ",".join(f"{p:.9g}" for p in row))
    return "\n".join(lines) + "\n"


# ---- training

def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default="mnist-digits", help="mnist-digits, fashion-mnist or idx:DIR")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--validation-split", type=float, default=0.1)
    parser.add_argument("--limit", type=int, default=0, help="at most N images of each split (0: all)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--watch", type=int, default=0, metavar="N",
                        help="log the gradient norms every N steps (0: not)")
    parser.add_argument("--project", default="mnist-digits")
    parser.add_argument("--name", default=None)
    parser.add_argument("--tag", action="append", default=[])
    parser.add_argument("--store", default=None, help="default: LABBOOK_STORE, else the default store")
    parser.add_argument("--model-out", default="labbook-out/models/pytorch_mnist.pt")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    splits, class_names = load_dataset(args.data)
    train_images, train_labels = splits["train"]
    test_images, test_labels = splits["test"]
    if args.limit > 0:
        train_images, train_labels = train_images[:args.limit], train_labels[:args.limit]
        test_images, test_labels = test_images[:args.limit], test_labels[:args.limit]
    order = np.random.default_rng(args.seed).permutation(len(train_images))
    validation_count = int(round(args.validation_split * len(train_images)))
    val_index, train_index = order[:validation_count], order[validation_count:]
    val_images, val_labels = train_images[val_index], train_labels[val_index]
    train_images, train_labels = train_images[train_index], train_labels[train_index]
    rows, cols = train_images.shape[1:3]

    model = make_model(rows, cols, len(class_names))
    optimizer = torch.optim.Adam(model.parameters(), lr=args.learning_rate)
    config = {
        "dataset": args.data,
        "framework": f"pytorch {torch.__version__}",
        "model": [str(layer) for layer in model],
        "loss": "cross_entropy",
        "optimizer": {"name": "adam", "learning_rate": args.learning_rate},
        "batch_size": args.batch_size,
        "epochs": args.epochs,
        "validation_split": args.validation_split,
        "limit": args.limit,
        "seed": args.seed,
        "threads": args.threads,
    }
    with labbook.init(project=args.project, name=args.name, config=config,
                      tags=["pytorch", *args.tag], store=args.store) as run:
        print(f"run:       {run.id} ({run.entity}/{run.project}) in {run.store_uri}")
        if args.watch > 0:
            watch(model, run=run, log="all", log_freq=args.watch)
        train(model, optimizer, run, args, train_images, train_labels, val_images, val_labels)
        test(model, run, args, test_images, test_labels, class_names)
        Path(args.model_out).parent.mkdir(parents=True, exist_ok=True)
        torch.save(model.state_dict(), args.model_out)
        run.log_artifact(args.model_out, name=ARTIFACT, type="model",
                         metadata={"format": "torch state_dict", "epochs": args.epochs})
        print(f"wrote {args.model_out}")
    print(f"recorded run {run.id}: labbook runs show {run.id} --store {run.store_uri}")
    return 0


def train(model: nn.Module, optimizer: torch.optim.Optimizer, run: labbook.Run,
          args: argparse.Namespace, images: np.ndarray, labels: np.ndarray,
          val_images: np.ndarray, val_labels: np.ndarray) -> None:
    generator = torch.Generator().manual_seed(args.seed)
    targets = torch.from_numpy(labels.astype(np.int64))
    step = 0
    model.train()
    for epoch in range(1, args.epochs + 1):
        start = time.perf_counter()
        loss_sum, correct, seen = 0.0, 0, 0
        for batch in torch.randperm(len(images), generator=generator).split(args.batch_size):
            x, y = as_batch(images[batch.numpy()]), targets[batch]
            optimizer.zero_grad(set_to_none=True)
            logits = model(x)
            loss = nn.functional.cross_entropy(logits, y)
            loss.backward()
            optimizer.step()
            step += 1
            loss_sum += loss.item() * len(y)
            correct += (logits.argmax(dim=1) == y).sum().item()
            seen += len(y)
            run.log({"batch/loss": loss.item(), "batch/epoch_loss": loss_sum / seen,
                     "batch/epoch_accuracy": correct / seen,
                     "batch/learning_rate": optimizer.param_groups[0]["lr"]}, step=step)
        values = {"epoch/loss": loss_sum / seen, "epoch/accuracy": correct / seen,
                  "epoch/learning_rate": optimizer.param_groups[0]["lr"]}
        if len(val_images):
            val_loss, probabilities = evaluate(model, val_images, val_labels, args.batch_size)
            values["epoch/val_loss"] = val_loss
            values["epoch/val_accuracy"] = float((probabilities.argmax(1) == val_labels).mean())
        seconds = time.perf_counter() - start  # training and validation, as labbook train
        values["epoch/seconds"] = seconds
        values["epoch/samples_per_second"] = seen / seconds
        run.log(values, step=epoch)
        run.summary["epoch"] = epoch
        print(f"epoch {epoch}/{args.epochs}: loss {values['epoch/loss']:.4f}, accuracy "
              f"{values['epoch/accuracy']:.4f}, val_accuracy {values.get('epoch/val_accuracy', float('nan')):.4f}, "
              f"{seconds:.1f} s")


def test(model: nn.Module, run: labbook.Run, args: argparse.Namespace, images: np.ndarray,
         labels: np.ndarray, class_names: list[str]) -> None:
    if not len(images):
        return
    loss, probabilities = evaluate(model, images, labels, args.batch_size)
    predicted = probabilities.argmax(axis=1)
    classes = len(class_names)
    confusion = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(confusion, (labels.astype(np.int64), predicted), 1)
    precision, recall, f1 = macro_scores(confusion)
    accuracy = float((predicted == labels).mean())
    run.summary.update({"test/loss": loss, "test/accuracy": accuracy,
                        "test/precision_macro": precision, "test/recall_macro": recall,
                        "test/f1_macro": f1, "test/samples": len(images)})
    truth, guess = np.indices((classes, classes)).reshape(2, -1)
    run.log_table(f"{ARTIFACT}-confusion_matrix", {
        "true_class": truth, "true_name": [class_names[k] for k in truth],
        "predicted_class": guess, "predicted_name": [class_names[k] for k in guess],
        "count": confusion.reshape(-1)})
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "predictions.csv"
        path.write_text(predictions_csv(labels, probabilities))
        run.log_artifact(path, name=f"{ARTIFACT}-predictions", type="predictions",
                         metadata={"samples": len(images)})
    print(f"test: loss {loss:.4f}, accuracy {accuracy:.4f}, macro F1 {f1:.4f} "
          f"({len(images)} images)")


if __name__ == "__main__":
    sys.exit(main())
