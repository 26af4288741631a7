"""What the Python tests share: the labbook program, a tiny IDX dataset and training config
(those of tests/cli: stripes, the 4-filter CNN), and a team server on a free port."""

from __future__ import annotations

import json
import os
import re
import struct
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np

SOURCE_DIR = Path(__file__).resolve().parents[2]
CLI = os.environ.get("LABBOOK_CLI") or str(SOURCE_DIR / "build" / "bin" / "labbook")


def run_cli(*args: str, env: dict[str, str] | None = None, check: bool = True,
            cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Runs the labbook program in environment `env` (default: this process's)."""
    result = subprocess.run(
        [CLI, *args],
        env=dict(os.environ) if env is None else env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"labbook {' '.join(args)}: exit {result.returncode}\n{result.stderr}")
    return result


def cli_json(*args: str, env: dict[str, str] | None = None) -> Any:
    return json.loads(run_cli(*args, env=env).stdout)


def cli_error(*args: str, env: dict[str, str] | None = None) -> str:
    """The message of a failing command, without "labbook: error: "."""
    result = run_cli(*args, env=env, check=False)
    assert result.returncode != 0, result.stdout
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("labbook: error: "), result.stderr
    return line[len("labbook: error: "):]


def _write_idx(path: Path, array: np.ndarray) -> None:
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}i", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def stripes(count: int, seed: int, size: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Grey images of horizontal (class 0) or vertical (class 1) stripes with noise."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, count)
    phases = rng.integers(0, 2, count)
    rows, cols = np.indices((size, size))
    images = np.empty((count, size, size), dtype=np.uint8)
    for i in range(count):
        coordinate = rows if labels[i] == 0 else cols
        base = np.where((coordinate + phases[i]) % 2 == 0, 200.0, 40.0)
        images[i] = np.clip(base + (rng.random((size, size)) - 0.5) * 80.0, 0, 255)
    return images, labels.astype(np.uint8)


def write_stripes_dataset(directory: Path, train: int = 400, test: int = 100) -> Path:
    """The four MNIST-named IDX files of a stripes dataset, for idx:DIRECTORY."""
    directory.mkdir(parents=True, exist_ok=True)
    for split, count, seed in (("train", train, 11), ("t10k", test, 12)):
        images, labels = stripes(count, seed)
        _write_idx(directory / f"{split}-images-idx3-ubyte", images)
        _write_idx(directory / f"{split}-labels-idx1-ubyte", labels)
    return directory


def tiny_train_config(data_dir: Path, epochs: int, learning_rate: float = 0.01) -> str:
    return f"""dataset: idx:{data_dir}
validation_split: 0.2
layers:
  - {{type: Conv2D, filters: 4, kernel_size: 3, activation: relu}}
  - {{type: MaxPooling2D, pool_size: 2}}
  - {{type: Flatten}}
  - {{type: Dense, units: 2, activation: softmax}}
loss: sparse_categorical_crossentropy
optimizer:
  name: adam
  learning_rate: {learning_rate}
batch_size: 32
epochs: {epochs}
seed: 3
backend: reference
"""


class Server:
    """`labbook serve` on a free loopback port with a fresh admin: .base_url, .key."""

    def __init__(self, directory: Path):
        self.log_path = directory / "server.log"
        self._log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [CLI, "serve", "--port", "0", "--data", str(directory / "server"), "--init-admin"],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.key = ""
        self.base_url = ""
        deadline = time.monotonic() + 30
        while not (self.key and self.base_url):
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.stop()
                raise AssertionError("labbook serve did not start:\n" + self.log_path.read_text())
            time.sleep(0.05)
            text = self.log_path.read_text()
            key = re.search(r"^(lb-\S+)$", text, re.MULTILINE)
            url = re.search(r"listening on (http://\S+)", text)
            self.key = key.group(1) if key else ""
            self.base_url = url.group(1) if url else ""

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log.close()
