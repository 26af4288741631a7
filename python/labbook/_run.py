"""Run: a run being recorded, the C++ SDK's labbook::Run with W&B's conveniences around it.

Everything that records goes through the C++ module: Run.log is its method as it is (the hot
path, no Python in between); the rest converts Python values (paths, DataFrames, numpy) into
what the C++ calls take. labbook.init keeps the current run that labbook.log writes to, and
finishes runs left open when the interpreter exits: failed after an uncaught exception.
"""

from __future__ import annotations

import atexit
import os
import re
import sys
import weakref
from collections.abc import Iterable, Iterator, Mapping, MutableMapping, Sequence
from types import TracebackType
from typing import Any

from labbook import _labbook
from labbook._artifact import Artifact
from labbook._errors import make_error
from labbook._values import table_csv, to_json


class Config(Mapping[str, Any]):
    """A run's config, read-only (it is frozen when the run starts): `config["lr"]`,
    `config.lr`, and nested dicts the same way (`config.optimizer.name`)."""

    def __init__(self, values: Mapping[str, Any]):
        object.__setattr__(self, "_values", dict(values))

    def __getitem__(self, key: str) -> Any:
        value = self._values[key]
        return Config(value) if isinstance(value, dict) else value

    def __getattr__(self, key: str) -> Any:
        try:
            return self[key]
        except KeyError:
            raise AttributeError(f"config has no key {key!r}") from None

    def __setattr__(self, key: str, value: Any) -> None:
        raise TypeError("a run's config is frozen when it starts: pass it to labbook.init(config=...)")

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def as_dict(self) -> dict[str, Any]:
        """A plain copy, nested dicts included."""
        copy: dict[str, Any] = to_json(self._values, "config")
        return copy

    def __repr__(self) -> str:
        return f"Config({self._values!r})"


class Summary(MutableMapping[str, Any]):
    """A run's summary: the last value logged for each key (system/* excepted), unless set here.
    `summary["best"] = 0.93` sets a key (any JSON-able value), `del summary["best"]` removes one.
    Reads are the summary as it is now."""

    def __init__(self, run: _labbook.Run):
        self._run = run

    def _current(self) -> dict[str, Any]:
        return _labbook.Run.summary(self._run)

    def __getitem__(self, key: str) -> Any:
        return self._current()[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._run.set_summary(key, to_json(value, f"summary.{key}"))

    def __delitem__(self, key: str) -> None:
        if key not in self._current():
            raise KeyError(key)
        self._run.set_summary(key, None)  # a null value removes the key

    def __iter__(self) -> Iterator[str]:
        return iter(self._current())

    def __len__(self) -> int:
        return len(self._current())

    def __repr__(self) -> str:
        return f"Summary({self._current()!r})"


# A valid artifact name made from a file name: [A-Za-z0-9._-] kept, anything else "-".
_NOT_NAME = re.compile(r"[^A-Za-z0-9._-]")


def _artifact_files(path: str) -> list[tuple[str, str]]:
    """(path inside the artifact, local path) for a file or every file under a directory."""
    if not os.path.isdir(path):
        return [(os.path.basename(path.rstrip(os.sep)), path)]  # a missing file: the C++ says so
    files = []
    for directory, subdirectories, names in os.walk(path):
        subdirectories.sort()
        for name in sorted(names):
            local = os.path.join(directory, name)
            files.append((os.path.relpath(local, path).replace(os.sep, "/"), local))
    if not files:
        raise make_error(
            "invalid_argument", f"{path}: the directory holds no files; an artifact needs one"
        )
    return files


class Run(_labbook.Run):
    """A run being recorded. Start one with labbook.init(...) (or Run(...), which does not make
    it the current run). Used from one thread at a time.

    run.log(values, step=None) enqueues one point per key and returns: the store is written by
    a thread of the run's own, with the GIL released. Values are numbers, numpy scalars or 0-d
    arrays. step None is the run's own counter (run.step), which each call advances; an explicit
    step sets the counter to step + 1.

    As a context manager the run finishes when the block ends: finished, or failed with exit
    code 1 when an exception leaves it (130 for KeyboardInterrupt, SystemExit's code for
    sys.exit). A run still open when the interpreter exits is finished then: failed with exit
    code 1 after an uncaught exception, finished otherwise.
    """

    def __init__(
        self,
        *,
        project: str | None = None,
        name: str | None = None,
        config: Mapping[str, Any] | Any = None,
        tags: Iterable[str] = (),
        group: str | None = None,
        notes: str | None = None,
        store: str | os.PathLike[str] | None = None,
        entity: str | None = None,
        mode: str = "online",
        id: str | None = None,
        system_metrics: bool = True,
        handle_signals: bool = False,
    ):
        recorded = {} if config is None else to_json(config, "config")
        if not isinstance(recorded, dict):
            raise make_error(
                "invalid_argument",
                f"config: expected a dict or an argparse.Namespace, got {type(config).__name__}",
            )
        if isinstance(tags, str):
            tags = [tags]
        super().__init__(
            project=project or "",
            name=name or "",
            config=recorded,
            tags=list(tags),
            group=group or "",
            notes=notes or "",
            store=os.fspath(store) if store is not None else "",
            entity=entity or "",
            mode=mode,
            id=id or "",
            system_metrics=system_metrics,
            handle_signals=handle_signals,
        )
        self._config = Config(_labbook.Run.config(self))
        _open_runs.add(self)
        _install_hooks()

    @property
    def config(self) -> Config:  # type: ignore[override]
        """The config, as recorded at the start (read-only)."""
        return self._config

    @property
    def summary(self) -> Summary:  # type: ignore[override]
        """The summary: read it like a dict, set keys with summary["best"] = value."""
        # A new view each time: a view kept here would make a cycle the collector cannot break,
        # and a run dropped unfinished would then never be finished (by its C++ destructor).
        return Summary(self)

    def log_artifact(  # type: ignore[override]
        self,
        path: str | os.PathLike[str],
        name: str | None = None,
        type: str = "unspecified",
        metadata: Mapping[str, Any] | None = None,
        aliases: Sequence[str] = (),
    ) -> Artifact:
        """Stores a file, or every file under a directory (paths relative to it), as a new
        version of the artifact `name` (default: the file or directory name) produced by this
        run. Contents equal to the newest version's add no version. Files are read now; a
        missing one is NotFound. `aliases` ("best") move to this version; "latest" always names
        the newest."""
        local = os.fspath(path)
        if name is None:
            name = _NOT_NAME.sub("-", os.path.basename(local.rstrip(os.sep))) or "artifact"
        record = super().log_artifact(
            name,
            type,
            _artifact_files(local),
            None if metadata is None else to_json(metadata, "metadata"),
            [aliases] if isinstance(aliases, str) else list(aliases),
        )
        return Artifact(record, self.download_artifact)

    def log_table(self, name: str, data: Any) -> Artifact:  # type: ignore[override]
        """Logs a table, an artifact of type "table" holding NAME.csv: a pandas DataFrame (its
        index left out), a dict of equally long columns, or a list of row dicts. Cells: numbers
        in their shortest exact form, true/false, None and NaN as empty fields, text quoted as
        RFC 4180 says."""
        return Artifact(
            super().log_table(name, table_csv(data, f"log_table {name!r}")), self.download_artifact
        )

    def use_artifact(self, reference: str | Artifact, type: str | None = None) -> Artifact:  # type: ignore[override]
        """Records that this run used an artifact version: "name:latest", "name:v3",
        "name:best" or just "name" (the latest), or an Artifact. With `type`, a version of
        another type is InvalidArgument."""
        text = reference.ref if isinstance(reference, Artifact) else reference
        used = Artifact(super().use_artifact(text), self.download_artifact)
        if type is not None and used.type != type:
            raise make_error(
                "invalid_argument",
                f"artifact {used.ref} is of type '{used.type}', expected '{type}'",
            )
        return used

    def finish(self, exit_code: int = 0) -> None:
        """Flushes every point, writes the summary and ends the run: finished for exit code 0,
        failed otherwise. Raises the recording's error (what could not be written); later
        calls do nothing."""
        global _current
        if _current is self:
            _current = None
        _open_runs.discard(self)
        super().finish(exit_code)

    def __enter__(self) -> Run:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if error is None:
            self.finish(0)
            return
        try:
            self.finish(_exit_code_for(error))
        except _labbook.Error as finishing:
            # The block's own exception is the one to see; the recording's error goes with it.
            error.add_note(f"labbook: the run's end was not recorded: {finishing}")

    def __repr__(self) -> str:
        state = "finished" if self.finished else "running"
        return (
            f"<labbook.Run {self.id} name={self.name!r} project={self.entity}/{self.project} "
            f"{state} store={self.store_uri!r}>"
        )


def _exit_code_for(error: BaseException) -> int:
    if isinstance(error, KeyboardInterrupt):
        return 130  # as the shell reports a Ctrl-C
    if isinstance(error, SystemExit):
        code = error.code
        if code is None:
            return 0
        return code if isinstance(code, int) else 1
    return 1


# ---- the current run and the end of the interpreter

_current: Run | None = None
_open_runs: weakref.WeakSet[Run] = weakref.WeakSet()
_uncaught_exit_code = 0
_hooks_installed = False


def current_run() -> Run | None:
    return _current


def _note_uncaught(kind: type[BaseException], error: BaseException, traceback: Any) -> None:
    global _uncaught_exit_code
    _uncaught_exit_code = _exit_code_for(error) or 1
    _previous_excepthook(kind, error, traceback)


_previous_excepthook = sys.excepthook


def _finish_open_runs() -> None:
    for run in list(_open_runs):
        try:
            run.finish(_uncaught_exit_code)
        except _labbook.Error as error:
            print(f"labbook: warning: {error}", file=sys.stderr)


def _install_hooks() -> None:
    global _hooks_installed, _previous_excepthook
    if _hooks_installed:
        return
    _hooks_installed = True
    _previous_excepthook = sys.excepthook
    sys.excepthook = _note_uncaught
    atexit.register(_finish_open_runs)


def init(
    project: str | None = None,
    name: str | None = None,
    config: Mapping[str, Any] | Any = None,
    tags: Iterable[str] = (),
    group: str | None = None,
    notes: str | None = None,
    store: str | os.PathLike[str] | None = None,
    entity: str | None = None,
    mode: str = "online",
    id: str | None = None,
    system_metrics: bool = True,
    handle_signals: bool = False,
) -> Run:
    """Starts a run and makes it the current one (labbook.run, what labbook.log writes to).
    A current run still open is finished first (exit code 0).

    store: a store URI or path; None: LABBOOK_STORE, else LABBOOK_BASE_URL (a team server),
    else sqlite://.labbook/labbook.db, as `labbook train` does. project: default
    LABBOOK_PROJECT, else "uncategorized"; entity: LABBOOK_ENTITY, else the login name. mode:
    "online", "offline" (a local store only) or "disabled" (records nothing). config: a dict or
    argparse.Namespace of JSON-able values (numpy values are converted), frozen from now on.
    handle_signals: end the run as crashed on SIGINT, SIGTERM and SIGHUP (off: Python turns
    SIGINT into KeyboardInterrupt, which a `with` block records as exit code 130).

    Errors: labbook.Error subclasses, with the
    message the command line prints (the store cannot be opened, a bad option).
    """
    global _current
    if _current is not None and not _current.finished:
        _current.finish(0)
    started = Run(
        project=project,
        name=name,
        config=config,
        tags=tags,
        group=group,
        notes=notes,
        store=store,
        entity=entity,
        mode=mode,
        id=id,
        system_metrics=system_metrics,
        handle_signals=handle_signals,
    )
    _current = started
    return started


def _require_current(call: str) -> Run:
    if _current is None:
        raise make_error(
            "failed_precondition", f"labbook.{call}: no current run; call labbook.init() first"
        )
    return _current


def log(data: dict[str, Any], step: int | None = None, commit: bool = True) -> None:
    """run.log on the current run (labbook.init's)."""
    run = _require_current("log")
    if commit:
        run.log(data, step)
    else:
        run.log(data, step, commit=False)


def finish(exit_code: int = 0) -> None:
    """Finishes the current run, if there is one."""
    if _current is not None:
        _current.finish(exit_code)
