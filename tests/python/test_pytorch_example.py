"""examples/pytorch_mnist.py for one short epoch on mnist-digits: its run shows in `labbook runs
show` as a run of `labbook train` does (config, batch and epoch history, test results, the
confusion matrix, predictions `labbook eval` reads and the model)."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from labbook_testing import SOURCE_DIR, cli_json, run_cli

DATA_DIR = Path(os.environ.get("LABBOOK_DATA") or SOURCE_DIR / "data")


@pytest.mark.skipif(not (DATA_DIR / "mnist-digits").is_dir(),
                    reason="mnist-digits is not installed: run scripts/install-deps")
def test_the_example_records_a_run_like_labbook_train(store: str, tmp_path: Path) -> None:
    limit, batch = 300, 32  # 300 images of each split; 270 to train, 30 to validate
    result = subprocess.run(
        [sys.executable, str(SOURCE_DIR / "examples" / "pytorch_mnist.py"), "--epochs", "1",
         "--limit", str(limit), "--batch-size", str(batch), "--watch", "3", "--project", "digits",
         "--model-out", str(tmp_path / "model.pt")],
        capture_output=True, text=True, timeout=240,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    marker = "recorded run "
    run_id = next(l for l in result.stdout.splitlines() if l.startswith(marker))[len(marker):][:8]

    shown = cli_json("runs", "show", run_id, "--json")
    assert (shown["state"], shown["project"], shown["exit_code"]) == ("finished", "digits", 0)
    config = shown["config"]
    assert (config["dataset"], config["epochs"], config["batch_size"]) == ("mnist-digits", 1, 32)
    assert config["optimizer"] == {"name": "adam", "learning_rate": 0.001}

    keys = {key["key"]: key for key in shown["history"]}
    steps = -(-270 // batch)  # 9 batches
    for key in ("batch/loss", "batch/epoch_loss", "batch/epoch_accuracy", "batch/learning_rate"):
        assert (keys[key]["count"], keys[key]["first_step"], keys[key]["last_step"]) == (steps, 1, steps)
    for key in ("epoch/loss", "epoch/accuracy", "epoch/val_loss", "epoch/val_accuracy",
                "epoch/seconds", "epoch/samples_per_second"):
        assert (keys[key]["count"], keys[key]["first_step"]) == (1, 1)
    assert 0 <= keys["epoch/val_accuracy"]["last"] <= 1
    assert keys["gradients/total_norm"]["first_step"] == 3 and keys["gradients/total_norm"]["count"] == 3

    summary = shown["summary"]
    assert summary["epoch"] == 1 and summary["test/samples"] == limit
    for key in ("test/loss", "test/accuracy", "test/precision_macro", "test/recall_macro", "test/f1_macro"):
        assert isinstance(summary[key], float)

    produced = {a["name"]: a for a in shown["artifacts"]["produced"]}
    assert produced["pytorch_mnist"]["type"] == "model"
    assert [f["path"] for f in produced["pytorch_mnist"]["files"]] == ["model.pt"]
    assert produced["pytorch_mnist"]["files"][0]["size"] == (tmp_path / "model.pt").stat().st_size
    assert produced["pytorch_mnist-predictions"]["metadata"] == {"samples": limit}
    assert produced["pytorch_mnist-confusion_matrix"]["type"] == "table"

    out = tmp_path / "confusion"
    run_cli("artifacts", "get", "pytorch_mnist-confusion_matrix", "--out", str(out))
    rows = list(csv.DictReader(io.StringIO((out / "pytorch_mnist-confusion_matrix.csv").read_text())))
    assert list(rows[0]) == ["true_class", "true_name", "predicted_class", "predicted_name", "count"]
    assert len(rows) == 100 and sum(int(r["count"]) for r in rows) == limit
    correct = sum(int(r["count"]) for r in rows if r["true_class"] == r["predicted_class"])
    assert summary["test/accuracy"] == pytest.approx(correct / limit, abs=1e-12)

    # The predictions go through `labbook eval` as those of `labbook train` do.
    predictions = tmp_path / "predictions.csv"
    run_cli("runs", "predictions", run_id, "--out", str(predictions))
    evaluated = json.loads(run_cli("eval", str(predictions), "--json").stdout)
    assert evaluated["accuracy"] == pytest.approx(summary["test/accuracy"], abs=1e-12)
