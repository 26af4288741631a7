"""Recording a run from Python: init, log, summary, finish, and how a run ends. What was
recorded is read back with the labbook program, as a user would."""

from __future__ import annotations

import argparse
import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import labbook
from labbook_testing import cli_json, run_cli


def shown(run_id: str) -> dict:
    return cli_json("runs", "show", run_id, "--json")


def history(run_id: str, key: str) -> list[tuple[int, float]]:
    text = run_cli("runs", "history", run_id, "--key", key, "--csv").stdout
    return [(int(row["step"]), float(row[key])) for row in csv.DictReader(io.StringIO(text))]


def test_a_run_records_its_options_values_and_end(store: str) -> None:
    run = labbook.init(
        project="sdk",
        name="first",
        config={"optimizer": {"name": "adam", "lr": 1e-3}, "epochs": 3, "layers": (32, 64)},
        tags=["cpu", "smoke"],
        group="g1",
        notes="a note",
    )
    assert labbook.run is run
    assert len(run.id) == 8 and run.entity == "tester" and run.project == "sdk"
    assert run.name == "first" and run.mode == "online"
    assert run.store_uri == "sqlite://" + store
    assert run.step == 0
    run.log({"loss": 0.5, "acc": np.float32(0.25), "count": 3, "flag": True, "zero_d": np.array(2.5)})
    run.log({"loss": 0.25})
    run.log({"loss": 0.125}, step=10)
    run.log({"loss": 0.0625})
    assert run.step == 12
    run.finish()
    assert run.finished and labbook.run is None

    record = shown(run.id)
    assert record["name"] == "first"
    assert record["group"] == "g1" and record["notes"] == "a note"
    assert record["tags"] == ["cpu", "smoke"]
    assert record["state"] == "finished" and record["exit_code"] == 0
    assert record["config"] == {"optimizer": {"name": "adam", "lr": 1e-3}, "epochs": 3, "layers": [32, 64]}
    assert record["summary"] == {"loss": 0.0625, "acc": 0.25, "count": 3.0, "flag": 1.0, "zero_d": 2.5}
    assert history(run.id, "loss") == [(0, 0.5), (1, 0.25), (10, 0.125), (11, 0.0625)]
    assert history(run.id, "acc") == [(0, 0.25)]


def test_the_config_reads_back_frozen_and_converted(store: str) -> None:
    namespace = argparse.Namespace(lr=np.float64(0.01), sizes=np.array([1, 2]), out=Path("x/y"))
    run = labbook.init(project="sdk", config=namespace)
    assert run.config == {"lr": 0.01, "sizes": [1, 2], "out": "x/y"}
    assert run.config.lr == 0.01 and run.config["sizes"] == [1, 2]
    with pytest.raises(TypeError, match="frozen"):
        run.config.lr = 0.1
    with pytest.raises(TypeError):
        run.config["lr"] = 0.1  # type: ignore[index]
    run.finish()
    assert shown(run.id)["config"] == {"lr": 0.01, "sizes": [1, 2], "out": "x/y"}

    nested = labbook.init(project="sdk", config={"optimizer": {"name": "sgd"}})
    assert nested.config.optimizer.name == "sgd"
    nested.finish()


def test_the_summary_is_the_last_values_unless_set(store: str) -> None:
    with labbook.init(project="sdk") as run:
        run.log({"loss": 0.5, "acc": 0.1})
        run.log({"loss": 0.4, "acc": 0.2})
        run.summary["loss"] = 0.01  # set wins over logged
        run.summary["best"] = {"epoch": np.int64(3), "acc": np.float64(0.9)}
        run.summary.update({"note": "fine"})
        assert run.summary["best"] == {"epoch": 3, "acc": 0.9}
        del run.summary["note"]
        with pytest.raises(KeyError):
            del run.summary["missing"]
        assert dict(run.summary) == {"loss": 0.01, "acc": 0.2, "best": {"epoch": 3, "acc": 0.9}}
    assert shown(run.id)["summary"] == {"loss": 0.01, "acc": 0.2, "best": {"epoch": 3, "acc": 0.9}}


def test_a_with_block_finishes_the_run(store: str) -> None:
    with labbook.init(project="sdk") as run:
        run.log({"x": 1.0})
    assert run.finished
    record = shown(run.id)
    assert record["state"] == "finished" and record["exit_code"] == 0


@pytest.mark.parametrize(
    "error, exit_code, state",
    [
        (ValueError("boom"), 1, "failed"),
        (KeyboardInterrupt(), 130, "failed"),
        (SystemExit(3), 3, "failed"),
        (SystemExit(0), 0, "finished"),
    ],
)
def test_an_exception_leaving_the_block_marks_the_run(
    store: str, error: BaseException, exit_code: int, state: str
) -> None:
    with pytest.raises(type(error)):
        with labbook.init(project="sdk") as run:
            run.log({"x": 1.0})
            raise error
    record = shown(run.id)
    assert (record["state"], record["exit_code"]) == (state, exit_code)
    assert history(run.id, "x") == [(0, 1.0)]


def test_labbook_log_writes_to_the_current_run(store: str) -> None:
    with pytest.raises(labbook.FailedPrecondition) as error:
        labbook.log({"x": 1.0})
    assert str(error.value) == "labbook.log: no current run; call labbook.init() first"
    assert error.value.code == "failed_precondition"
    run = labbook.init(project="sdk")
    labbook.log({"x": 1.0})
    labbook.log({"x": 2.0}, step=5)
    labbook.finish()
    assert labbook.run is None and run.finished
    assert history(run.id, "x") == [(0, 1.0), (5, 2.0)]


def test_init_finishes_the_current_run_first(store: str) -> None:
    first = labbook.init(project="sdk", name="one")
    second = labbook.init(project="sdk", name="two")
    assert first.finished and not second.finished and labbook.run is second
    second.finish()
    assert shown(first.id)["state"] == "finished"


def test_a_run_made_directly_is_not_the_current_one(store: str) -> None:
    run = labbook.Run(project="sdk")
    assert labbook.run is None
    run.finish()
    run.finish()  # later calls do nothing
    assert shown(run.id)["state"] == "finished"


def test_disabled_mode_records_nothing(tmp_path: Path) -> None:
    path = tmp_path / "never.db"
    with labbook.init(project="sdk", mode="disabled", store=path) as run:
        run.log({"x": 1.0})
        run.summary["y"] = 2
    assert run.mode == "disabled"
    assert not path.exists()


def test_offline_mode_records_in_the_offline_store(tmp_path: Path, store: str) -> None:
    with labbook.init(project="sdk", mode="offline") as run:
        run.log({"x": 1.0})
    assert run.store_uri == f"sqlite://{tmp_path}/offline.db"
    record = cli_json("runs", "show", run.id, "--json", "--store", run.store_uri)
    assert record["state"] == "finished"


def _run_script(code: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60,
        env=dict(os.environ),
    )


def test_the_interpreter_exit_finishes_an_open_run(store: str, tmp_path: Path) -> None:
    done = _run_script(
        "import labbook\nrun = labbook.init(project='sdk')\nrun.log({'x': 1.0})\n"
        "print(run.id)\n",
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    record = shown(done.stdout.strip())
    assert (record["state"], record["exit_code"]) == ("finished", 0)

    crashed = _run_script(
        "import labbook\nrun = labbook.init(project='sdk')\nprint(run.id, flush=True)\n"
        "raise RuntimeError('lost')\n",
        tmp_path,
    )
    assert crashed.returncode == 1 and "RuntimeError: lost" in crashed.stderr
    record = shown(crashed.stdout.strip())
    assert (record["state"], record["exit_code"]) == ("failed", 1)


def test_log_accepts_many_keys_and_records_each(store: str) -> None:
    values = {f"k{i:02d}": float(i) for i in range(40)}  # more than fit the fast path's buffer
    with labbook.init(project="sdk") as run:
        run.log(values, step=7)
    record = shown(run.id)
    assert {key["key"]: (key["count"], key["last"]) for key in record["history"]} == {
        key: (1, value) for key, value in values.items()
    }


def test_a_run_dropped_unfinished_is_finished_when_freed(store: str) -> None:
    run = labbook.Run(project="sdk")
    run.log({"x": 1.0})
    run.summary["y"] = 2  # the summary view keeps no cycle that would keep the run alive
    run_id = run.id
    del run
    record = shown(run_id)
    assert (record["state"], record["exit_code"], record["summary"]) == ("finished", 0, {"x": 1.0, "y": 2})


def test_commit_false_adds_keys_to_one_step(store: str) -> None:
    with labbook.init(project="sdk") as run:
        run.log({"a": 1.0}, commit=False)
        run.log({"b": 2.0}, commit=False)
        assert run.step == 0  # the counter waits for the commit
        run.log({"c": 3.0})
        assert run.step == 1
        run.log({"a": 4.0}, step=5, commit=False)
        assert run.step == 1
        labbook.log({"b": 5.0}, step=5)
        assert run.step == 6
    assert history(run.id, "a") == [(0, 1.0), (5, 4.0)]
    assert history(run.id, "b") == [(0, 2.0), (5, 5.0)]
    assert history(run.id, "c") == [(0, 3.0)]


def test_numpy_integers_are_steps_and_other_steps_are_refused(store: str) -> None:
    with labbook.init(project="sdk") as run:
        for epoch in np.arange(3, dtype=np.int64):
            run.log({"loss": float(epoch)}, step=epoch)
        run.log({"loss": 9.0}, step=np.int32(7))
        for bad, expected in [(True, "step: expected an int or None, got <class 'bool'>"),
                              (1.5, "step: expected an int or None, got <class 'float'>"),
                              (-1, "step: expected 0 or more (at most 2^63 - 1), got -1"),
                              (2**63, f"step: expected 0 or more (at most 2^63 - 1), got {2**63}")]:
            with pytest.raises(labbook.InvalidArgument) as error:
                run.log({"loss": 1.0}, step=bad)
            assert str(error.value) == expected
        assert run.step == 8
    assert history(run.id, "loss") == [(0, 0.0), (1, 1.0), (2, 2.0), (7, 9.0)]
