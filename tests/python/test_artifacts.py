"""Artifacts and tables from Python: versions, aliases, lineage and downloads, checked with
`labbook runs show` and `labbook artifacts get`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas
import pytest

import labbook
from labbook_testing import cli_json, run_cli


def get(reference: str, out: Path, *extra: str) -> Path:
    run_cli("artifacts", "get", reference, "--out", str(out), *extra)
    return out


def test_files_and_directories_become_versions_with_lineage(store: str, tmp_path: Path) -> None:
    model = tmp_path / "model.bin"
    model.write_bytes(b"weights v0")
    with labbook.init(project="art") as producer:
        first = producer.log_artifact(model, name="cnn", type="model", metadata={"epochs": 3},
                                      aliases=["best"])
        again = producer.log_artifact(model, name="cnn", type="model")  # same contents
        model.write_bytes(b"weights v1")
        second = producer.log_artifact(model, name="cnn", type="model")
    assert (first.name, first.type, first.version, first.ref) == ("cnn", "model", "v0", "cnn:v0")
    assert first.files == ["model.bin"] and len(first.digest) == 64
    assert (again.version, again.digest) == ("v0", first.digest)
    assert second.version == "v1" and second.digest != first.digest

    with labbook.init(project="art") as consumer:
        latest = consumer.use_artifact("cnn:latest")
        best = consumer.use_artifact("cnn:best", type="model")
        assert latest.ref == "cnn:v1" and best.ref == "cnn:v0"
        written = latest.download(tmp_path / "latest")
        assert (Path(written) / "model.bin").read_bytes() == b"weights v1"

    produced = cli_json("runs", "show", producer.id, "--json")["artifacts"]["produced"]
    assert [(a["reference"], a["metadata"]) for a in produced if a["name"] == "cnn"] == [
        ("cnn:v0", {"epochs": 3}),
        ("cnn:v1", {}),
    ]
    assert "best" in next(a for a in produced if a["reference"] == "cnn:v0")["aliases"]
    used = cli_json("runs", "show", consumer.id, "--json")["artifacts"]["used"]
    assert sorted(a["reference"] for a in used) == ["cnn:v0", "cnn:v1"]
    assert (get("cnn:v0", tmp_path / "v0") / "model.bin").read_bytes() == b"weights v0"


def test_a_directory_is_logged_with_relative_paths(store: str, tmp_path: Path) -> None:
    directory = tmp_path / "bundle"
    (directory / "sub").mkdir(parents=True)
    (directory / "a.txt").write_text("a")
    (directory / "sub" / "b.txt").write_text("b")
    with labbook.init(project="art") as run:
        bundle = run.log_artifact(directory, type="dataset")
    assert (bundle.name, bundle.files) == ("bundle", ["a.txt", "sub/b.txt"])
    out = get("bundle:latest", tmp_path / "out")
    assert (out / "a.txt").read_text() == "a" and (out / "sub" / "b.txt").read_text() == "b"


def test_the_api_reads_an_artifact_and_downloads_it(store: str, tmp_path: Path) -> None:
    (tmp_path / "model.bin").write_bytes(b"\x00\x01 model")
    with labbook.init(project="art") as run:
        run.log_artifact(tmp_path / "model.bin", name="cnn", type="model", metadata={"k": [1, 2]})
    api = labbook.Api()
    for reference in ("cnn:latest", "cnn", "cnn:v0", "art/cnn:latest", "tester/art/cnn:v0"):
        artifact = api.artifact(reference)
        assert (artifact.ref, artifact.type, artifact.files) == ("cnn:v0", "model", ["model.bin"])
        assert artifact.metadata == {"k": [1, 2]}
        assert artifact.producer_run == run.id
        assert (artifact.entity, artifact.project) == ("tester", "art")
        assert "latest" in artifact.aliases
    out = api.artifact("cnn:latest", type="model").download(tmp_path / "dl")
    assert (Path(out) / "model.bin").read_bytes() == b"\x00\x01 model"
    with pytest.raises(labbook.InvalidArgument) as error:
        api.artifact("cnn:latest", type="dataset")
    assert str(error.value) == "artifact cnn:v0 is of type 'model', expected 'dataset'"


def test_a_file_path_leaving_the_directory_is_refused(store: str, tmp_path: Path) -> None:
    # What a store (or a server) answering "../x" for a file's path would make download do.
    (tmp_path / "model.bin").write_bytes(b"weights")
    with labbook.init(project="art") as run:
        run.log_artifact(tmp_path / "model.bin", name="cnn", type="model")
    record = labbook.Api()._store.artifact("", "", "cnn", "latest")
    for path in ("../outside.bin", str(tmp_path / "absolute.bin"), "a/../../outside.bin"):
        record["files"][0]["path"] = path
        with pytest.raises(labbook.DataLoss) as error:
            labbook.Api()._store.download(record, str(tmp_path / "dl"))
        assert str(error.value) == (f"artifact cnn:v0 names a file '{path}' outside its own "
                                    "directory; expected a relative path without '..'")
    assert not (tmp_path / "outside.bin").exists() and not (tmp_path / "absolute.bin").exists()


def test_a_missing_file_is_not_found_and_the_run_goes_on(store: str, tmp_path: Path) -> None:
    with labbook.init(project="art") as run:
        with pytest.raises(labbook.NotFound) as error:
            run.log_artifact(tmp_path / "missing.bin", type="model")
        assert "missing.bin" in str(error.value) and error.value.code == "not_found"
        empty = tmp_path / "empty"
        empty.mkdir()
        with pytest.raises(labbook.InvalidArgument) as error:
            run.log_artifact(empty, type="dataset")
        assert str(error.value) == f"{empty}: the directory holds no files; an artifact needs one"
        with pytest.raises(labbook.NotFound):
            run.use_artifact("nothing:latest")
        run.log({"x": 1.0})
    assert cli_json("runs", "show", run.id, "--json")["state"] == "finished"


TABLE_CSV = (
    "id,text,score,ok,missing\n"
    '1,"a, b",0.1,true,\n'
    '2,"say ""hi""",2.5,false,\n'
    '3,"two\nlines",1e-07,true,\n'
)
TABLE_COLUMNS: dict[str, list[Any]] = {
    "id": [1, 2, 3],
    "text": ["a, b", 'say "hi"', "two\nlines"],
    "score": [0.1, 2.5, 1e-7],
    "ok": [True, False, True],
    "missing": [None, None, float("nan")],
}


@pytest.mark.parametrize(
    "data",
    [
        TABLE_COLUMNS,
        pandas.DataFrame(TABLE_COLUMNS, index=[7, 8, 9]),  # the index is left out
        [dict(zip(TABLE_COLUMNS, row)) for row in zip(*TABLE_COLUMNS.values())],
    ],
    ids=["dict", "dataframe", "rows"],
)
def test_tables_are_csv_artifacts(store: str, tmp_path: Path, data: object) -> None:
    with labbook.init(project="art") as run:
        table = run.log_table("predictions", data)
    assert (table.ref, table.type, table.files) == ("predictions:v0", "table", ["predictions.csv"])
    out = get("predictions:latest", tmp_path / "table")
    assert (out / "predictions.csv").read_text() == TABLE_CSV
    read = pandas.read_csv(out / "predictions.csv")
    assert read["text"].tolist() == TABLE_COLUMNS["text"]


def test_numpy_columns_keep_their_shortest_form(store: str, tmp_path: Path) -> None:
    import numpy as np

    with labbook.init(project="art") as run:
        run.log_table("t", {"f32": np.array([0.1, 0.25], dtype=np.float32),
                            "i64": np.array([3, -4])})
    assert (get("t", tmp_path / "t") / "t.csv").read_text() == "f32,i64\n0.1,3\n0.25,-4\n"


def test_a_bad_table_says_what_is_wrong(store: str) -> None:
    with labbook.init(project="art") as run:
        with pytest.raises(labbook.InvalidArgument) as error:
            run.log_table("t", {"a": [1, 2], "b": [1]})
        assert str(error.value) == (
            "log_table 't': column 'b' has 1 values but column 'a' has 2; columns must be "
            "equally long"
        )
        with pytest.raises(labbook.InvalidArgument) as error:
            run.log_table("t", 42)
        assert str(error.value) == (
            "log_table 't': expected a pandas DataFrame, a dict of columns or a list of row "
            "dicts, got int"
        )
        with pytest.raises(labbook.InvalidArgument) as error:
            run.log_table("t", {"a": "text"})
        assert str(error.value) == (
            "log_table 't': column 'a': expected a sequence of values, got str"
        )
