"""Api: the read side, what `labbook runs` and `labbook artifacts` show, as Python objects.

The C++ module reads the store (SQLite or a team server, the same calls); here the records
become objects and a run's history becomes a pandas DataFrame, or a dict of numpy arrays when
pandas is not installed.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from labbook import _labbook
from labbook._artifact import Artifact
from labbook._errors import make_error
from labbook._run import Config


def _split_path(path: str, parts: int, what: str) -> list[str]:
    """"a/b/c" into `parts` fields, the missing leading ones empty."""
    fields = path.split("/")
    if len(fields) > parts or any(not field for field in fields):
        raise make_error(
            "invalid_argument",
            f"{what} '{path}': expected {' or '.join(_PATH_FORMS[what])}",
        )
    return [""] * (parts - len(fields)) + fields


_PATH_FORMS = {
    "project": ["PROJECT", "ENTITY/PROJECT"],
    "run": ["ID", "ENTITY/PROJECT/ID"],
    "artifact": ["NAME[:VERSION]", "PROJECT/NAME[:VERSION]", "ENTITY/PROJECT/NAME[:VERSION]"],
}


def _pandas() -> Any:
    try:
        import pandas
    except ImportError:
        return None
    return pandas


class RunRecord:
    """A run as the store holds it: `id`, `name`, `entity`, `project`, `state` (running,
    finished, failed, crashed), `config`, `summary`, `tags`, `group`, `notes`, `host`, `pid`,
    `git_commit`, `start_time`, `end_time` (Unix seconds), `exit_code`. A snapshot: read the
    run again (Api.run) for news."""

    def __init__(self, record: dict[str, Any], store: _labbook.Store):
        self._record = record
        self._store = store

    @property
    def id(self) -> str:
        return str(self._record["id"])

    @property
    def name(self) -> str:
        return str(self._record.get("name", ""))

    @property
    def entity(self) -> str:
        return str(self._record.get("entity", ""))

    @property
    def project(self) -> str:
        return str(self._record.get("project", ""))

    @property
    def state(self) -> str:
        """"running", "finished", "failed" or "crashed"."""
        return str(self._record.get("state", ""))

    @property
    def group(self) -> str:
        return str(self._record.get("group", ""))

    @property
    def notes(self) -> str:
        return str(self._record.get("notes", ""))

    @property
    def tags(self) -> list[str]:
        return list(self._record.get("tags", []))

    @property
    def host(self) -> str:
        return str(self._record.get("host", ""))

    @property
    def pid(self) -> int:
        return int(self._record.get("pid") or 0)

    @property
    def git_commit(self) -> str:
        return str(self._record.get("git_commit", ""))

    @property
    def start_time(self) -> float | None:
        """Unix seconds."""
        return self._record.get("start_time")

    @property
    def heartbeat_time(self) -> float | None:
        """Unix seconds."""
        return self._record.get("heartbeat_time")

    @property
    def end_time(self) -> float | None:
        """Unix seconds; None while running."""
        return self._record.get("end_time")

    @property
    def exit_code(self) -> int | None:
        """None while running, or for a crash without one."""
        return self._record.get("exit_code")

    @property
    def path(self) -> str:
        """"entity/project/id", what Api.run takes."""
        return f"{self.entity}/{self.project}/{self.id}"

    @property
    def config(self) -> Config:
        return Config(self._record.get("config") or {})

    @property
    def summary(self) -> dict[str, Any]:
        return dict(self._record.get("summary") or {})

    def history_keys(self) -> list[str]:
        """The keys the run logged, system/* included, in the store's order."""
        return [info["key"] for info in self._store.keys(self.id)]

    def history(
        self,
        keys: str | Sequence[str] | None = None,
        samples: int = 0,
        min_step: int | None = None,
        max_step: int | None = None,
        pandas: bool | None = None,
    ) -> Any:
        """The logged values, one row per step: a column `_step`, one per key (NaN where the
        key has no value at that step) and `_timestamp` (Unix seconds: when the first of the
        keys that has the step logged it, as `labbook runs history --csv` shows).

        keys: default every key except system/*. samples: 0 every point; N downsamples each
        key to at most N points, keeping each bucket's minimum and maximum (so keys may land on
        different steps). min_step, max_step: an inclusive step range. Returns a pandas
        DataFrame, or without pandas (or with pandas=False) a dict of numpy arrays holding the
        same columns. A key the run never logged is NotFound."""
        if isinstance(keys, str):
            keys = [keys]
        elif keys is None:
            keys = [key for key in self.history_keys() if not key.startswith("system/")]
        else:
            keys = list(keys)
        series = [
            self._store.history(self.id, key, samples, min_step, max_step) for key in keys
        ]
        steps = (
            np.unique(np.concatenate([s for s, _, _ in series]))
            if series
            else np.empty(0, dtype=np.int64)
        ).astype(np.int64)
        columns: dict[str, npt.NDArray[Any]] = {"_step": steps}
        timestamp = np.full(len(steps), np.nan)
        for key, (key_steps, values, wall_times) in zip(keys, series):
            at = np.searchsorted(steps, key_steps)
            column = np.full(len(steps), np.nan)
            column[at] = values
            columns[key] = column
            unset = np.isnan(timestamp[at])
            timestamp[at[unset]] = wall_times[unset]
        columns["_timestamp"] = timestamp

        module = _pandas() if pandas is not False else None
        if pandas and module is None:
            raise make_error(
                "failed_precondition",
                "history(pandas=True): pandas is not installed (Debian: python3-pandas)",
            )
        if module is None:
            return columns
        return module.DataFrame(columns)

    def __repr__(self) -> str:
        return f"<labbook.RunRecord {self.path} name={self.name!r} {self.state}>"


class Api:
    """Reads a store: Api() the one `labbook runs` reads (LABBOOK_STORE, else LABBOOK_BASE_URL,
    else sqlite://.labbook/labbook.db), Api(store=URI) another (a SQLite path or URI, or
    http(s)://host:port of a team server, with the API key of LABBOOK_API_KEY, WANDB_API_KEY,
    ./.env or `labbook login`). A store that does not exist is NotFound."""

    def __init__(self, store: str | os.PathLike[str] | None = None):
        self._store = _labbook.Store(os.fspath(store) if store is not None else "")

    @property
    def store_uri(self) -> str:
        return self._store.uri

    def runs(
        self,
        project: str | None = None,
        filter: str | None = None,
        sort: str | None = None,
        entity: str | None = None,
        limit: int = 0,
    ) -> list[RunRecord]:
        """The runs of a project ("PROJECT" or "ENTITY/PROJECT"; None: every project), newest
        first, as `labbook runs list` shows them: `filter` and `sort` are its --filter and
        --sort ("summary.test.accuracy > 0.9", "-summary.test.accuracy"; docs/tracking.md).
        limit: at most that many (0: all)."""
        project_entity, project_name = _split_path(project, 2, "project") if project else ("", "")
        if entity and project_entity and entity != project_entity:
            raise make_error(
                "invalid_argument",
                f"entity '{entity}' and project '{project}' name different entities",
            )
        records = self._store.runs(
            entity=entity or project_entity,
            project=project_name,
            filter=filter or "",
            sort=sort or "",
            limit=limit,
        )
        return [RunRecord(record, self._store) for record in records]

    def run(self, path: str) -> RunRecord:
        """One run: its id, a unique prefix of 3 or more characters, or "ENTITY/PROJECT/ID"."""
        entity, project, run_id = _split_path(path, 3, "run")
        record = RunRecord(self._store.run(run_id), self._store)
        if (entity and entity != record.entity) or (project and project != record.project):
            raise make_error(
                "not_found", f"run '{run_id}' is in {record.entity}/{record.project}, not {entity}/{project}"
            )
        return record

    def artifact(self, name: str, type: str | None = None) -> Artifact:
        """An artifact version: "NAME:VERSION" ("keras-cnn:latest", "keras-cnn:v3",
        "keras-cnn:best"; no version: the latest), with "PROJECT/" or "ENTITY/PROJECT/" in
        front when the name is used in several projects. With `type`, a version of another
        type is InvalidArgument. .download(dir) writes its files."""
        path, _, version = name.partition(":")
        entity, project, artifact_name = _split_path(path, 3, "artifact")
        record = self._store.artifact(entity, project, artifact_name, version or "latest")
        found = Artifact(record, self._store.download)
        if type is not None and found.type != type:
            raise make_error(
                "invalid_argument",
                f"artifact {found.ref} is of type '{found.type}', expected '{type}'",
            )
        return found

    def __repr__(self) -> str:
        return f"<labbook.Api store={self.store_uri!r}>"
