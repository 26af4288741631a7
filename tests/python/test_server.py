"""The SDK against a team server (`labbook serve` on a free port, LABBOOK_BASE_URL and an API
key) behaves as against the local store; the CLI reads the same run back from the server."""

from __future__ import annotations

from pathlib import Path

import pytest

import labbook
from labbook_testing import cli_error, cli_json


def test_a_run_on_the_server_reads_back_as_from_the_local_store(server, tmp_path: Path) -> None:
    (tmp_path / "model.bin").write_bytes(b"remote weights")
    with labbook.init(project="remote", name="over-http", config={"lr": 0.5}, tags=["http"]) as run:
        assert run.store_uri == server.base_url and run.entity == "admin"
        for step in range(50):
            run.log({"loss": 1.0 / (step + 1), "acc": step / 50})
        run.summary["best"] = 0.98
        model = run.log_artifact(tmp_path / "model.bin", name="cnn", type="model")
        run.log_table("scores", {"k": [1, 2], "v": [0.5, 0.25]})
    assert model.ref == "cnn:v0"

    api = labbook.Api()
    assert api.store_uri == server.base_url
    [found] = api.runs("remote")
    assert (found.id, found.name, found.state, found.entity) == (run.id, "over-http", "finished", "admin")
    assert found.config == {"lr": 0.5} and found.tags == ["http"]
    shown = cli_json("runs", "show", run.id, "--json")
    assert found.summary == shown["summary"]
    assert found.summary["best"] == 0.98 and found.summary["loss"] == 1.0 / 50
    history = found.history(keys=["loss", "acc"], pandas=False)
    assert history["_step"].tolist() == list(range(50))
    assert history["loss"].tolist() == [1.0 / (s + 1) for s in range(50)]
    assert {a["reference"] for a in shown["artifacts"]["produced"]} == {"cnn:v0", "scores:v0"}

    out = Path(api.artifact("remote/cnn:latest").download(tmp_path / "dl"))
    assert (out / "model.bin").read_bytes() == b"remote weights"
    table = Path(api.artifact("admin/remote/scores:v0").download(tmp_path / "t")) / "scores.csv"
    assert table.read_text() == "k,v\n1,0.5\n2,0.25\n"

    with labbook.init(project="remote") as consumer:
        used = consumer.use_artifact("cnn:latest")
        assert (Path(used.download(tmp_path / "used")) / "model.bin").read_bytes() == b"remote weights"


def test_a_wrong_key_is_unauthenticated_with_the_cli_message(server, monkeypatch) -> None:
    monkeypatch.setenv("LABBOOK_API_KEY", "lb-not-a-key")
    expected = cli_error("runs", "list")
    with pytest.raises(labbook.Unauthenticated) as error:
        labbook.Api().runs()
    assert str(error.value) == expected
    assert "lb-not-a-key" not in str(error.value)
