#!/usr/bin/env python3
"""python_log_bench: what run.log costs a Python training loop, beside what Run::Log costs C++.

Rounds of 100 run.log calls of 4 keys each, timed as one interval, with ~200 us of busy work
between rounds (a training step), while the run's writer thread batches the points into a
SQLite store in a temporary directory and the system-metrics sampler runs, as track_log_bench
does for C++. Reports the median, p90 and p99 over rounds of ns per call, for Python floats and
for numpy float32 scalars (what tensor.item() and numpy reductions give); the goal is a median
of at most 1 us per call. With --cxx-bench PATH (build/bin/track_log_bench) it runs the C++
bench's Log measurement too and prints its figure per call beside ours.

    PYTHONPATH=build/python python3 bench/python_log_bench.py [--rounds 2000]
        [--cxx-bench build/bin/track_log_bench]

Exit status: 0; 1 when the run lost points or the C++ bench failed.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import labbook

CALLS_PER_ROUND = 100
GOAL_NS = 1000.0


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def busy(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def measure(run: labbook.Run, rounds: int, make_value) -> list[float]:
    """ns per call of each round; the dicts are made before the timed interval."""
    per_call = []
    step = 0
    for _ in range(rounds):
        batches = [
            {"loss": make_value(1.0 / (step + i + 1)), "accuracy": make_value((step + i) * 1e-6),
             "lr": make_value(1e-3), "epoch": make_value(3.0)}
            for i in range(CALLS_PER_ROUND)
        ]
        log = run.log
        start = time.perf_counter_ns()
        for values in batches:
            log(values)
        per_call.append((time.perf_counter_ns() - start) / CALLS_PER_ROUND)
        step += CALLS_PER_ROUND
        busy(200e-6)
    return per_call


def cxx_figure(bench: str) -> tuple[float, float, float] | None:
    """The C++ bench's median, p90, p99 of one Log call of 4 keys, in ns."""
    result = subprocess.run([bench, "--rounds", "2000", "--steps", "1", "--repeats", "1"],
                            capture_output=True, text=True, timeout=300)
    match = re.search(r"Log\(\{4 keys\}, step\)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)", result.stdout)
    if result.returncode != 0 or match is None:
        print(f"python_log_bench: {bench} failed (exit {result.returncode}): {result.stderr}",
              file=sys.stderr)
        return None
    # It prints ns per point; a call logs 4.
    return tuple(4 * float(match.group(i)) for i in (1, 2, 3))  # type: ignore[return-value]


def main() -> int:
    parser = argparse.ArgumentParser(description="the cost of run.log from Python")
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument("--cxx-bench", default=None, help="track_log_bench, for the C++ figure")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds: expected 1 or more")

    directory = Path(tempfile.mkdtemp(prefix="labbook-python-log-bench-"))
    ok = True
    try:
        run = labbook.Run(project="python-log-bench", entity="bench", name="log-cost",
                          store=str(directory / "bench.db"))
        rows = [
            ("run.log({4 floats})", measure(run, args.rounds, float)),
            ("run.log({4 numpy float32})", measure(run, args.rounds, np.float32)),
        ]
        run.finish()
        stats = run.stats()
        print(f"run.log call cost, {args.rounds} rounds of {CALLS_PER_ROUND} calls, writer into "
              "the sqlite store:")
        print(f"  {'ns per call':<34} {'median':>8} {'p90':>8} {'p99':>8}")
        for label, values in rows:
            print(f"  {label:<34} {percentile(values, 0.5):8.1f} {percentile(values, 0.9):8.1f} "
                  f"{percentile(values, 0.99):8.1f}")
        cxx = cxx_figure(args.cxx_bench) if args.cxx_bench else None
        if args.cxx_bench and cxx is None:
            ok = False
        if cxx is not None:
            label = "C++ Run::Log({4 keys}, step)"
            print(f"  {label:<34} {cxx[0]:8.1f} {cxx[1]:8.1f} {cxx[2]:8.1f}")
            python_median = percentile(rows[0][1], 0.5)
            print(f"  Python / C++ (median): {python_median / cxx[0]:.1f}x")
        met = all(percentile(values, 0.5) <= GOAL_NS for _, values in rows)
        print(f"  goal: median <= {GOAL_NS:.0f} ns per call of 4 keys: {'met' if met else 'MISSED'}")
        print(f"  writer: {stats['points_logged']} points logged, {stats['points_written']} "
              f"written, {stats['points_lost']} lost")
        ok = ok and stats["points_lost"] == 0 and stats["points_written"] == stats["points_logged"]
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
