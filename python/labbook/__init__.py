"""labbook from Python: record runs and read them back, W&B style, on labbook's C++ SDK.

    import labbook

    with labbook.init(project="mnist", config={"lr": 1e-3, "epochs": 5}) as run:
        for step in range(steps):
            run.log({"loss": loss, "acc": acc})       # enqueues; a thread writes the store
        run.summary["test/accuracy"] = 0.912
        run.log_artifact("model.pt", name="cnn", type="model")

    api = labbook.Api()
    for r in api.runs("mnist", filter="summary.test.accuracy > 0.9", sort="-summary.test.accuracy"):
        print(r.id, r.name, r.summary["test/accuracy"], r.history(keys=["loss"]))

Runs go to the store `labbook train` uses: LABBOOK_STORE, else LABBOOK_BASE_URL (a team
server), else ./.labbook/labbook.db; `labbook runs` and `labbook artifacts` show them. Errors are
labbook.Error subclasses (NotFound, InvalidArgument, ...) whose message is the command line's.
docs/python.md has the whole surface.
"""

from __future__ import annotations

from typing import Any

from labbook import _labbook
from labbook._api import Api, RunRecord
from labbook._artifact import Artifact
from labbook._errors import (
    AlreadyExists,
    DataLoss,
    Error,
    FailedPrecondition,
    Internal,
    InvalidArgument,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
    Unimplemented,
)
from labbook._run import Config, Run, Summary, current_run, finish, init, log

__all__ = [
    "AlreadyExists",
    "Api",
    "Artifact",
    "Config",
    "DataLoss",
    "Error",
    "FailedPrecondition",
    "Internal",
    "InvalidArgument",
    "MethodNotAllowed",
    "NotFound",
    "PayloadTooLarge",
    "PermissionDenied",
    "ResourceExhausted",
    "Run",
    "RunRecord",
    "Summary",
    "Unauthenticated",
    "Unavailable",
    "Unimplemented",
    "default_store_uri",
    "finish",
    "init",
    "log",
    "run",
]


def default_store_uri() -> str:
    """The store init() and Api() use without store=: LABBOOK_STORE, LABBOOK_BASE_URL or the
    default, as `labbook runs` resolves it."""
    return _labbook.default_store_uri()


def __getattr__(name: str) -> Any:
    # labbook.run: the current run, read when asked for (it changes with init and finish).
    if name == "run":
        return current_run()
    raise AttributeError(f"module 'labbook' has no attribute {name!r}")
