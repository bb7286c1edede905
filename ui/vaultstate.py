"""Light look-ups the first screen needs, without importing the crypto stack.

``fieldclient.vault`` imports ``cryptography``; start-up must not pay for that
before the first window is painted, so the vault state file is read here.
The constants mirror ``fieldclient.vault`` (a test checks they agree).
"""

from __future__ import annotations

import json
from pathlib import Path

MIN_PIN_LENGTH = 6
MAX_PIN_LENGTH = 12
MAX_ATTEMPTS = 10
VAULT_FILE = "vault.json"


def vault_status(data_dir: Path) -> str:
    """'new', 'active' or 'erased', like ``Vault.status()``; a damaged file counts as active.

    A damaged vault file is reported by the unlock attempt itself (VaultCorrupted),
    so the worker sees a clear message instead of a silent reset to set-up.
    """
    try:
        raw = (Path(data_dir) / VAULT_FILE).read_bytes()
    except FileNotFoundError:
        return "new"
    except OSError:
        return "active"
    try:
        state = json.loads(raw)
    except ValueError:
        return "active"
    if isinstance(state, dict) and state.get("state") == "erased":
        return "erased"
    return "active"


SETTINGS_FILE = "settings.json"
LANGUAGES = ("zh_CN", "en")
TEXT_SCALES = (1.0, 1.25, 1.5, 1.75)


def display_prefs(data_dir: Path) -> tuple[str, float]:
    """(language, text scale) for the first screen, read like ``load_settings`` would.

    ``fieldclient.settings`` pulls in ``tempfile``/``hashlib`` through its writer;
    the first paint only needs these two values. The full settings load later.
    """
    try:
        raw = json.loads((Path(data_dir) / SETTINGS_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        raw = {}
    if not isinstance(raw, dict):
        raw = {}
    language = raw.get("language")
    if language not in LANGUAGES:
        language = "zh_CN"
    try:
        scale = float(raw.get("text_scale", 1.0))
    except (TypeError, ValueError):
        scale = 1.0
    if scale not in TEXT_SCALES:
        scale = min(TEXT_SCALES, key=lambda s: abs(s - scale))
    return str(language), scale


def lockout_seconds(data_dir: Path, now: float | None = None) -> int:
    """Seconds a PIN lock-out still runs (``Vault.info()["wait_seconds"]``), read cheaply."""
    import time

    try:
        state = json.loads((Path(data_dir) / VAULT_FILE).read_bytes())
        not_before = float(state.get("not_before", 0)) if isinstance(state, dict) else 0.0
    except (OSError, ValueError, TypeError):
        return 0
    now = time.time() if now is None else now
    return max(0, int(not_before - now + 0.999))
