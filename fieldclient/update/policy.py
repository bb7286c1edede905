"""When an update may be applied, and what the device has: for the Settings page, the
"update now" button and ``fieldclient update status|apply``.

An update restarts the app: never in the middle of a patrol (its track and checklist
are being written) and never while work waits to go to the centre (a failed start of the
new version must not put unsynced records at risk; they go first, then the update).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fieldclient.fieldwork.patrols import active_patrol
from fieldclient.i18n import QT_TRANSLATE_NOOP, translate
from fieldclient.settings import load_settings
from fieldclient.storage.session import Session
from fieldclient.update import client, install

CTX = "update"


def _t(text: str, language: str | None = None, **params: Any) -> str:
    return translate(CTX, text, language).format(**params)


def unsynced(session: Session) -> tuple[int, int]:
    """(records, photos) still to send to the centre."""
    records = session.pending_uploads()
    row = session.db.execute(
        "SELECT count(DISTINCT b.sha256) FROM blobs b LEFT JOIN photo_uploads u"
        " ON u.sha256 = b.sha256 WHERE u.state IS NULL OR u.state = 'pending'").fetchone()
    return records, int(row[0])


def apply_allowed(session: Session, language: str | None = None) -> str | None:
    """None when an update may be applied now; else why not (translated)."""
    if active_patrol(session) is not None:
        return _t(QT_TRANSLATE_NOOP("update", "正在巡查：结束巡查后才能更新。"), language)
    records, photos = unsynced(session)
    if records or photos:
        return _t(QT_TRANSLATE_NOOP(
            "update", "还有{records}条记录、{photos}张照片未同步：同步完成后才能更新。"),
            language, records=records, photos=photos)
    return None


def channel_of(data_dir: Path) -> str:
    """The device's release channel (``update_channel`` in its settings; IT sets it)."""
    return load_settings(Path(data_dir) / "settings.json").update_channel


def status(data_dir: Path, session: Session | None = None,
           language: str | None = None) -> dict[str, Any]:
    """What is installed, staged (with its size), what the last check found, and whether
    applying is allowed now (with a session: the patrol and the outbox are known).

    When the running version was revoked (``return_to``: the version to go back to),
    "applying" is the return: allowed once that version is at hand (``return_ready``:
    installed beside this one or fetched) and :func:`install.can_return` agrees (no
    patrol; the older version opens the database)."""
    found = client.staged(data_dir)
    last = client.last_check(data_dir)
    blocked = None if session is None else apply_allowed(session, language)
    pending = None
    if last is not None and isinstance(last.get("target"), dict):
        target = last["target"]
        pending = {"version": target.get("version"), "length": target.get("length"),
                   "action": last.get("action"), "state": last.get("state"),
                   "downloaded": last.get("downloaded", 0)}
    return_to = install.revoked_check(data_dir, client.installed_version())
    back = None if return_to is None else install.pending_return(
        data_dir, install.install_root(), client.installed_version())
    allowed = found is not None and blocked is None
    if return_to is not None:
        refusal = None if session is None or back is None else install.can_return(session, back)
        blocked = None if refusal is None else refusal.message(language)
        allowed = back is not None and blocked is None
    return {
        "installed": client.installed_version(),
        "channel": channel_of(data_dir),
        "platform": client.this_platform(),
        "staged": found,
        "pending": pending,
        "last_check": last,
        "apply_allowed": allowed,
        "apply_blocked_reason": blocked,
        "return_to": return_to,
        "return_ready": back is not None,
    }
