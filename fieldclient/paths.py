"""Where a device keeps its files. One data directory holds everything."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from fieldclient import APP_NAME


def default_data_dir() -> Path:
    override = os.environ.get("GRIDFIELD_DATA_DIR")
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


@dataclass(frozen=True)
class DataPaths:
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
