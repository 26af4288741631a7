#!/usr/bin/env python3
"""PyTorch peer of train_bench: the reference CNN of issue 3, trained and evaluated on the raw
bytes train_bench wrote (same images, labels, batch size and thread count).

Model: Conv2d 32 3x3, ReLU, MaxPool 2, Conv2d 64 3x3, ReLU, MaxPool 2, Flatten, Dropout 0.5,
Linear 10 (the softmax is inside CrossEntropyLoss); Adam 1e-3. Written as a PyTorch user would
write it: default NCHW tensors, a shuffled index permutation per epoch, uint8 batches converted
with .float() / 255. Timing covers the training loop only (not the import or data loading).
Writes one JSON object to --out.
"""
import argparse
import json
import resource
import time

import numpy as np
import torch
from torch import nn


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--train", type=int, required=True)
    parser.add_argument("--test", type=int, required=True)
    parser.add_argument("--rows", type=int, default=28)
    parser.add_argument("--cols", type=int, default=28)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--eval-batch", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    # Debian's build defaults to one thread.
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    def load(name, count, per_sample):
        raw = np.fromfile(f"{args.data}/{name}", dtype=np.uint8, count=count * per_sample)
        return torch.from_numpy(raw.reshape(count, *((1, args.rows, args.cols) if per_sample > 1
                                                     else ())).copy())

    pixels = args.rows * args.cols
    train_x = load("train_images.u8", args.train, pixels)
    train_y = load("train_labels.u8", args.train, 1).long()
    test_x = load("test_images.u8", args.test, pixels)
    test_y = load("test_labels.u8", args.test, 1).long()

    rows_out = ((args.rows - 2) // 2 - 2) // 2
    cols_out = ((args.cols - 2) // 2 - 2) // 2
    model = nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.5), nn.Linear(64 * rows_out * cols_out, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()

    model.train()
    start = time.perf_counter()
    last_loss = float("nan")
    for _ in range(args.epochs):
        order = torch.randperm(args.train)
        for begin in range(0, args.train, args.batch):
            idx = order[begin:begin + args.batch]
            x = train_x[idx].float().div_(255.0)
            y = train_y[idx]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
        last_loss = loss.item()
    train_seconds = time.perf_counter() - start

    model.eval()
    correct = 0
    start = time.perf_counter()
    with torch.inference_mode():
        for begin in range(0, args.test, args.eval_batch):
            x = test_x[begin:begin + args.eval_batch].float().div_(255.0)
            correct += (model(x).argmax(1) == test_y[begin:begin + args.eval_batch]).sum().item()
    eval_seconds = time.perf_counter() - start

    with open(args.out, "w") as out:
        json.dump({
            "train_seconds": train_seconds,
            "train_samples_per_s": args.train * args.epochs / train_seconds,
            "eval_samples_per_s": args.test / eval_seconds,
            "test_accuracy": correct / args.test,
            "last_loss": last_loss,
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        }, out)


if __name__ == "__main__":
    main()
