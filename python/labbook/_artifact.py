"""Artifact: one version of an artifact, as a run logged or used it or the store holds it."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any


class Artifact:
    """A version of an artifact: `name`, `type`, `version` ("v3"), `digest` (sha256 over its
    files), `files` (paths inside it), `metadata`, `aliases` and `ref` ("name:v3").

    Made by Run.log_artifact, Run.log_table, Run.use_artifact and Api.artifact, never directly.
    `download()` writes its files, verified against their sha256, under a directory.
    """

    def __init__(self, record: dict[str, Any], download: Callable[[dict[str, Any], str], Any]):
        self._record = record
        self._download = download

    @property
    def name(self) -> str:
        return str(self._record["name"])

    @property
    def type(self) -> str:
        return str(self._record.get("type", ""))

    @property
    def version(self) -> str:
        """"v0", "v1", ..."""
        version = self._record["version"]
        return version if isinstance(version, str) else f"v{version}"

    @property
    def ref(self) -> str:
        """The reference use_artifact and `labbook artifacts get` take: "name:v3"."""
        return f"{self.name}:{self.version}"

    @property
    def digest(self) -> str:
        return str(self._record.get("digest", ""))

    @property
    def files(self) -> list[str]:
        """The paths of its files inside the artifact."""
        return [f if isinstance(f, str) else f["path"] for f in self._record.get("files", [])]

    @property
    def metadata(self) -> dict[str, Any]:
        """The metadata logged with it ({} when only its reference is known)."""
        return dict(self._record.get("metadata") or {})

    @property
    def aliases(self) -> list[str]:
        """Its aliases ("latest", "best"; [] when only its reference is known)."""
        return list(self._record.get("aliases") or [])

    @property
    def entity(self) -> str | None:
        return self._record.get("entity")

    @property
    def project(self) -> str | None:
        return self._record.get("project")

    @property
    def producer_run(self) -> str | None:
        """The id of the run that logged this version, when known."""
        return self._record.get("producer_run") or None

    def download(self, root: str | os.PathLike[str] | None = None) -> str:
        """Writes the files under `root` (default: artifacts/NAME:vN in the working directory),
        creating it, and returns its path. A file whose sha256 does not match is DataLoss."""
        directory = os.fspath(root) if root is not None else os.path.join("artifacts", self.ref)
        os.makedirs(directory, exist_ok=True)
        self._download(self._record, directory)
        return directory

    def __repr__(self) -> str:
        return f"<labbook.Artifact {self.ref} type={self.type!r} digest={self.digest[:12]}>"
