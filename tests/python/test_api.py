"""The read API on runs recorded by `labbook train`: what it returns equals what the labbook
program prints for the same store."""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

import numpy as np
import pandas
import pytest

import labbook
from labbook_testing import cli_json, run_cli


def cli_history(store: str, run_id: str, *keys: str, max_points: int = 0) -> list[dict[str, str]]:
    args = ["runs", "history", run_id, "--store", store, "--csv"]
    for key in keys:
        args += ["--key", key]
    if max_points:
        args += ["--max-points", str(max_points)]
    return list(csv.DictReader(io.StringIO(run_cli(*args).stdout)))


def test_runs_are_filtered_and_sorted_as_by_the_cli(trained) -> None:
    api = labbook.Api(store=trained.store)
    assert api.store_uri == "sqlite://" + trained.store
    for sort in ("-summary.test.accuracy", "summary.test.loss", "name", "-config.epochs"):
        cli = cli_json("runs", "list", "--store", trained.store, "--project", "stripes",
                       "--sort", sort, "--json")
        assert [r.id for r in api.runs("stripes", sort=sort)] == [r["id"] for r in cli]
    fast = api.runs("stripes", filter="config.optimizer.learning_rate > 0.001")
    assert [r.id for r in fast] == [trained.fast]
    assert [r.id for r in api.runs("tester/stripes", filter="tags contains 'slow'")] == [trained.slow]
    assert api.runs("elsewhere") == []
    assert len(api.runs(limit=1)) == 1

    run = fast[0]
    record = cli_json("runs", "show", run.id, "--store", trained.store, "--json")
    assert (run.name, run.state, run.entity, run.project) == ("fast", "finished", "tester", "stripes")
    assert run.path == f"tester/stripes/{run.id}"
    assert run.tags == ["fast"] and run.exit_code == 0
    assert run.config == record["config"] and run.config.optimizer.name == "adam"
    assert run.summary == record["summary"]
    assert run.summary["test/accuracy"] == record["summary"]["test/accuracy"]
    assert run.start_time <= run.end_time


def test_a_run_is_found_by_prefix_or_path(trained) -> None:
    api = labbook.Api(store=trained.store)
    assert api.run(trained.fast[:4]).id == trained.fast
    assert api.run(f"tester/stripes/{trained.fast}").name == "fast"
    with pytest.raises(labbook.NotFound):
        api.run(f"tester/other/{trained.fast}")


def test_history_is_a_dataframe_equal_to_the_cli_csv(trained) -> None:
    run = labbook.Api(store=trained.store).run(trained.fast)
    keys = ["epoch/loss", "epoch/val_accuracy", "batch/loss"]
    frame = run.history(keys=keys)
    assert isinstance(frame, pandas.DataFrame)
    assert list(frame.columns) == ["_step", *keys, "_timestamp"]
    rows = cli_history(trained.store, trained.fast, *keys)
    assert frame["_step"].tolist() == [int(row["step"]) for row in rows]
    for key in keys:
        expected = [float(row[key]) if row[key] else np.nan for row in rows]
        np.testing.assert_array_equal(frame[key].to_numpy(), np.array(expected))
    np.testing.assert_allclose(frame["_timestamp"], [float(r["wall_time"]) for r in rows], atol=1e-6)
    # 320 training images in batches of 32, 2 epochs: steps 1..20; epochs 1 and 2.
    assert frame["batch/loss"].notna().sum() == 20
    assert frame.loc[frame["_step"] == 2, "epoch/loss"].notna().all()


def test_history_without_pandas_is_a_dict_of_numpy_arrays(trained, monkeypatch) -> None:
    run = labbook.Api(store=trained.store).run(trained.fast)
    frame = run.history(keys=["batch/loss", "epoch/val_accuracy"])
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas now fails
    columns = run.history(keys=["batch/loss", "epoch/val_accuracy"])
    assert isinstance(columns, dict)
    assert list(columns) == ["_step", "batch/loss", "epoch/val_accuracy", "_timestamp"]
    assert columns["_step"].dtype == np.int64 and columns["batch/loss"].dtype == np.float64
    for name, column in columns.items():
        np.testing.assert_array_equal(column, frame[name].to_numpy())
    with pytest.raises(labbook.FailedPrecondition):
        run.history(keys=["batch/loss"], pandas=True)
    monkeypatch.undo()
    assert isinstance(run.history(keys=["batch/loss"], pandas=False), dict)


def test_history_keys_default_to_all_but_the_system_metrics(trained) -> None:
    run = labbook.Api(store=trained.store).run(trained.fast)
    shown = cli_json("runs", "show", trained.fast, "--store", trained.store, "--json")
    logged = [key["key"] for key in shown["history"] if not key["key"].startswith("system/")]
    assert sorted(run.history().columns) == sorted(["_step", *logged, "_timestamp"])


def test_history_samples_and_step_ranges(trained) -> None:
    run = labbook.Api(store=trained.store).run(trained.fast)
    full = run.history(keys="batch/loss", pandas=False)
    sampled = run.history(keys="batch/loss", samples=4, pandas=False)
    rows = cli_history(trained.store, trained.fast, "batch/loss", max_points=4)
    assert sampled["_step"].tolist() == [int(row["step"]) for row in rows]
    assert len(sampled["_step"]) <= 4
    assert sampled["batch/loss"].max() == full["batch/loss"].max()
    assert sampled["batch/loss"].min() == full["batch/loss"].min()
    window = run.history(keys="batch/loss", min_step=5, max_step=7, pandas=False)
    assert window["_step"].tolist() == [5, 6, 7]
    np.testing.assert_array_equal(window["batch/loss"], full["batch/loss"][4:7])


def test_an_artifact_of_labbook_train_downloads_as_the_cli_gets_it(trained, tmp_path: Path) -> None:
    api = labbook.Api(store=trained.store)
    model = api.artifact("tiny:latest")
    assert (model.ref, model.type, model.files) == ("tiny:v1", "model", ["model.lbm"])
    assert model.producer_run == trained.slow
    ours = Path(model.download(tmp_path / "ours"))
    run_cli("artifacts", "get", "tiny:latest", "--store", trained.store, "--out", str(tmp_path / "cli"))
    assert (ours / "model.lbm").read_bytes() == (tmp_path / "cli" / "model.lbm").read_bytes()
    assert (ours / "model.lbm").read_bytes() == (Path(trained.store).parent / "slow.lbm").read_bytes()

    confusion = api.artifact("tiny-confusion_matrix:v0")
    table = Path(confusion.download(tmp_path / "confusion")) / "tiny-confusion_matrix.csv"
    rows = list(csv.DictReader(io.StringIO(table.read_text())))
    assert sum(int(row["count"]) for row in rows) == 100  # the test split
