"""Qt-free core of the grid field client, in layers (each subpackage says what it may
import; ``tests/test_layers.py`` checks it):

- the foundation, plain modules here: errors, i18n, ids, fsutil, devicetime, paths,
  settings; they import nothing of ours above them;
- ``security`` (vault, keystore, crypto, blobs, audit) and ``geo`` (positions, NMEA, GPX);
- ``storage`` (SQLCipher store, migrations, the unlocked session);
- ``photos`` (the evidence photo pipeline);
- ``fieldwork`` (the field-work domain);
- ``update`` (release updates: installing, trying, rolling back; beside ``cli``);
- ``cli`` (the ``fieldclient`` command).

Nothing here imports Qt, ``sync``, ``central`` or ``ui``.
"""

import json as _json
import sys as _sys
from pathlib import Path as _Path

__version__ = "0.1.0"
APP_NAME = "gridfield"
# `make dist` writes the release's manifest into the bundle (``make dist VERSION=1.0.1``):
# a built app reports the version it was built as, whatever this file says.
RELEASE_MANIFEST = "release.json"


def _built_version() -> str | None:
    """The version baked into a PyInstaller bundle, or None when run from source."""
    bundle = getattr(_sys, "_MEIPASS", None)
    if not getattr(_sys, "frozen", False) or bundle is None:
        return None
    try:
        version = _json.loads((_Path(bundle) / RELEASE_MANIFEST).read_text("utf-8"))["version"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return str(version)


__version__ = _built_version() or __version__
