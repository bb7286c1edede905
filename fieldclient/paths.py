"""Where a device keeps its files. One data directory holds everything."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

from fieldclient import APP_NAME


def default_data_dir() -> Path:
    override = os.environ.get("GRIDFIELD_DATA_DIR")
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


class DataPaths(NamedTuple):
    """The files of one data directory. A named tuple, not a dataclass: it is made
    before the PIN pad shows, and a dataclass costs ~0.3 ms to define (issue 15)."""

    root: Path

    @property
    def vault(self) -> Path:
        return self.root / "vault.json"

    @property
    def database(self) -> Path:
        return self.root / "gridfield.db"

    @property
    def blobs(self) -> Path:
        return self.root / "blobs"

    @property
    def backups(self) -> Path:
        return self.root / "backups"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def maps(self) -> Path:
        """The offline map IT installed (``fieldclient map install``)."""
        return self.root / "maps"

    @property
    def settings(self) -> Path:
        return self.root / "settings.json"

    def ensure(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
