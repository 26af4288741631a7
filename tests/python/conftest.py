"""Fixtures of the Python SDK's tests: every test runs in its own directory with a clean
labbook environment (no store, key or server from the machine it runs on)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import labbook
from labbook_testing import Server, run_cli, tiny_train_config, write_stripes_dataset

# Variables of the machine that would send runs elsewhere; LABBOOK_CLI and LABBOOK_DATA stay.
_MACHINE_VARIABLES = [
    "LABBOOK_STORE",
    "LABBOOK_BASE_URL",
    "LABBOOK_API_KEY",
    "WANDB_API_KEY",
    "WANDB_BASE_URL",
    "LABBOOK_PROJECT",
    "LABBOOK_ENTITY",
    "LABBOOK_OFFLINE_STORE",
    "LABBOOK_CA_CERT",
]


def _clean_environment(directory: Path) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if name not in _MACHINE_VARIABLES}
    env.update(
        {
            "HOME": str(directory),
            "XDG_CONFIG_HOME": str(directory / ".config"),
            "LABBOOK_ENTITY": "tester",
            "LABBOOK_OFFLINE_STORE": f"sqlite://{directory}/offline.db",
            "NO_COLOR": "1",
        }
    )
    return env


@pytest.fixture(autouse=True)
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    for name in _MACHINE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in _clean_environment(tmp_path).items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    labbook.finish()  # a test that failed half-way leaves no current run to the next


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh SQLite store, also LABBOOK_STORE (so the CLI and Api() read it)."""
    path = str(tmp_path / "runs.db")
    monkeypatch.setenv("LABBOOK_STORE", path)
    return path


class TrainedRuns:
    """Runs recorded by `labbook train` in one store: .store, .fast (lr 0.01, 2 epochs) and
    .slow (lr 0.0001, 1 epoch), their ids."""

    def __init__(self, directory: Path):
        self.store = str(directory / "trained.db")
        data = write_stripes_dataset(directory / "stripes")
        env = _clean_environment(directory)
        env["LABBOOK_STORE"] = self.store
        self.ids = {}
        for name, epochs, rate in (("fast", 2, 0.01), ("slow", 1, 0.0001)):
            config = directory / "tiny.yaml"  # artifacts are named after the config's stem
            config.write_text(tiny_train_config(data, epochs, rate))
            result = run_cli(
                "train", str(config), "--project", "stripes", "--name", name, "--tag", name,
                "--model-out", str(directory / f"{name}.lbm"), env=env, cwd=directory,
            )
            marker = "recorded run "
            line = next(l for l in result.stdout.splitlines() if l.startswith(marker))
            self.ids[name] = line[len(marker):].split(":")[0]
        self.fast = self.ids["fast"]
        self.slow = self.ids["slow"]


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> TrainedRuns:
    return TrainedRuns(tmp_path_factory.mktemp("trained"))


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    """A team server, the store of this test through LABBOOK_BASE_URL and its admin's key."""
    started = Server(tmp_path)
    monkeypatch.setenv("LABBOOK_BASE_URL", started.base_url)
    monkeypatch.setenv("LABBOOK_API_KEY", started.key)
    monkeypatch.setenv("LABBOOK_ENTITY", "admin")
    yield started
    started.stop()
