"""Bad input raises a labbook.Error subclass whose message is the one the labbook program
prints for the same mistake; nothing crashes the interpreter."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import labbook
from labbook_testing import cli_error, tiny_train_config, write_stripes_dataset


def test_every_error_class_is_a_labbook_error_with_its_code() -> None:
    classes = {
        "invalid_argument": labbook.InvalidArgument,
        "not_found": labbook.NotFound,
        "already_exists": labbook.AlreadyExists,
        "permission_denied": labbook.PermissionDenied,
        "unauthenticated": labbook.Unauthenticated,
        "failed_precondition": labbook.FailedPrecondition,
        "data_loss": labbook.DataLoss,
        "resource_exhausted": labbook.ResourceExhausted,
        "unavailable": labbook.Unavailable,
        "internal": labbook.Internal,
        "unimplemented": labbook.Unimplemented,
        "payload_too_large": labbook.PayloadTooLarge,
        "method_not_allowed": labbook.MethodNotAllowed,
    }
    for code, kind in classes.items():
        assert issubclass(kind, labbook.Error) and issubclass(labbook.Error, Exception)
        assert kind.__name__ in labbook.__all__


def test_a_store_that_does_not_exist(tmp_path: Path) -> None:
    missing = str(tmp_path / "none.db")
    with pytest.raises(labbook.NotFound) as error:
        labbook.Api(store=missing)
    assert error.value.code == "not_found"
    assert str(error.value) == error.value.message == cli_error("runs", "show", "0000", "--store", missing)


def test_a_store_uri_of_no_known_form(tmp_path: Path) -> None:
    # init says what `labbook train` says after its "cannot record the run: ".
    data = write_stripes_dataset(tmp_path / "stripes", train=40, test=10)
    (tmp_path / "tiny.yaml").write_text(tiny_train_config(data, epochs=1))
    trained = cli_error("train", "tiny.yaml", "--store", "bogus://x")
    with pytest.raises(labbook.InvalidArgument) as error:
        labbook.init(project="e", store="bogus://x")
    assert "cannot record the run: " + str(error.value) == trained
    assert labbook.run is None
    with pytest.raises(labbook.InvalidArgument) as error:
        labbook.Api(store="bogus://x")
    assert str(error.value) == cli_error("runs", "list", "--store", "bogus://x")


def test_an_unknown_run_and_history_key(store: str) -> None:
    with labbook.init(project="e") as run:
        run.log({"x": 1.0})
    api = labbook.Api()
    with pytest.raises(labbook.NotFound) as error:
        api.run("zzzzzzzz")
    assert str(error.value) == cli_error("runs", "show", "zzzzzzzz")
    with pytest.raises(labbook.NotFound) as error:
        api.run(run.id).history(keys=["nope"])
    assert str(error.value) == cli_error("runs", "history", run.id, "--key", "nope")


def test_a_bad_filter_or_sort_names_the_column(store: str) -> None:
    with labbook.init(project="e"):
        pass
    api = labbook.Api()
    with pytest.raises(labbook.InvalidArgument) as error:
        api.runs(filter="state = 'done'")
    # The same message; the CLI names its flag, Python its argument.
    expected = cli_error("runs", "list", "--filter", "state = 'done'")
    assert str(error.value) == expected.replace("--filter:", "filter:", 1)
    assert "column 9: expected a run state" in str(error.value)
    with pytest.raises(labbook.InvalidArgument) as error:
        api.runs(filter="summary.x >")
    assert str(error.value) == cli_error("runs", "list", "--filter", "summary.x >").replace(
        "--filter:", "filter:", 1
    )
    with pytest.raises(labbook.InvalidArgument) as error:
        api.runs(sort="-")
    assert str(error.value) == cli_error("runs", "list", "--sort", "-").replace("--sort:", "sort:", 1)


def test_an_unknown_artifact(store: str) -> None:
    with labbook.init(project="e"):
        pass
    with pytest.raises(labbook.NotFound):
        labbook.Api().artifact("nothing:latest")
    with pytest.raises(labbook.InvalidArgument) as error:
        labbook.Api().artifact("a/b/c/d:latest")
    assert str(error.value) == (
        "artifact 'a/b/c/d': expected NAME[:VERSION] or PROJECT/NAME[:VERSION] or "
        "ENTITY/PROJECT/NAME[:VERSION]"
    )


def test_an_id_already_taken(store: str) -> None:
    with labbook.init(project="e") as first:
        pass
    with pytest.raises(labbook.AlreadyExists) as error:
        labbook.init(project="e", id=first.id)
    assert first.id in str(error.value)


def test_bad_options_of_init(store: str) -> None:
    with pytest.raises(labbook.InvalidArgument) as error:
        labbook.init(project="e", mode="fast")
    assert str(error.value) == "mode: expected online, offline or disabled, got 'fast'"
    with pytest.raises(labbook.InvalidArgument) as error:
        labbook.init(project="e", config=[1, 2])
    assert str(error.value) == "config: expected a dict or an argparse.Namespace, got list"
    with pytest.raises(labbook.InvalidArgument) as error:
        labbook.init(project="e", config={"model": object()})
    assert str(error.value) == (
        "config.model: expected None, a bool, number, string, list or dict, got object"
    )
    with pytest.raises(labbook.InvalidArgument) as error:
        labbook.init(project="e", config={"layers": {1.5: "x"}})
    assert str(error.value) == "config.layers: keys must be strings, got float 1.5"
    assert labbook.run is None


def test_bad_values_for_log_name_the_key(store: str) -> None:
    with labbook.init(project="e") as run:
        with pytest.raises(labbook.InvalidArgument) as error:
            run.log({"loss": 0.1, "name": "adam"})
        assert str(error.value) == "log: 'name': expected a number, got <class 'str'>"
        with pytest.raises(labbook.InvalidArgument) as error:
            run.log({3: 0.1})
        assert str(error.value) == "log: keys must be strings, got <class 'int'>"
        with pytest.raises(labbook.InvalidArgument):
            run.log({"loss": np.array([1.0, 2.0])})  # not a scalar
        with pytest.raises(labbook.InvalidArgument):
            run.log({"loss": 0.1}, step="3")  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            run.log([("loss", 0.1)])  # type: ignore[arg-type]
        with pytest.raises(labbook.InvalidArgument):
            run.summary["x"] = object()
        run.log({"loss": 0.2})  # the run goes on
    assert run.finished


def test_a_finished_run_refuses_to_record(store: str, tmp_path: Path) -> None:
    with labbook.init(project="e") as run:
        pass
    assert run.finished and len(run.id) == 8  # what it was stays readable
    for call in (
        lambda: run.log({"x": 1.0}),
        lambda: run.summary.__setitem__("x", 1),
        lambda: run.log_table("t", {"a": [1]}),
        lambda: run.use_artifact("x:latest"),
    ):
        with pytest.raises(labbook.FailedPrecondition) as error:
            call()
        assert str(error.value) == "the run is finished"
