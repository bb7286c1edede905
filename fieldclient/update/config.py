"""Signed configuration: the centre's TUF config role, verified and applied on the device.

During sync (after the release check, sync.engine), :class:`ConfigClient` refreshes the
same TUF metadata the release updates use (``<data_dir>/updates/metadata``, the same
trusted root and its rotations), loads the delegated role ``config`` (central/updates/
config.py) and, for each of :data:`serverconfig.SIGNED_KEYS`, takes the target of the
most specific org unit above the device's grids. A target whose hash differs from the
one applied is downloaded through TUF (length and SHA-256 checked), its content checked
by the parser that will use it, and applied in one transaction: table ``signed_config``
(fieldclient.fieldwork.serverconfig.get prefers it) and, for the checklist, the
``checklists`` table with the pointer that puts it in force.

Order is TUF's only: what the newest verified config metadata names is in force (a
config version older than the one this device applied is a rollback), never the files'
own version numbers. A key the config role no longer names for this device returns to
the product default.

Rule for a centre without signed configuration (no TUF repository, one made before the
config role, or a key IT has not published signed): the device keeps taking the pulled
``config`` value as before. Once a key has come signed, it is taken signed only, for
good: the pulled value of that key is ignored (a signed key withdrawn means the product
default), and once the checklist has come signed a checklist file signed with the
pinned keys is refused. The newest config version verified is noted (meta
``signed_config_version``): an older one later is a rollback even if the TUF metadata on
disk were lost.

Refusals (tampered file, expired or wrongly signed metadata, rollback, content that does
not parse) leave the configuration in force untouched and come back as a
:class:`ConfigError` with a translated message, shown with the sync's outcome.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests
from tuf.api import exceptions as tuf_errors
from tuf.api._payload import TargetFile, Targets

from fieldclient.errors import FieldClientError
from fieldclient.fieldwork import serverconfig
from fieldclient.i18n import QT_TRANSLATE_NOOP
from fieldclient.update.client import BUNDLED_ROOT, TIMEOUT, UpdateClient, UpdatePaths

if TYPE_CHECKING:
    from fieldclient.storage.session import Session

ROLE = "config"
MAX_CONFIG_BYTES = 1 << 20
EVERYWHERE_RANK = 9


class ConfigError(FieldClientError):
    text = QT_TRANSLATE_NOOP("errors", "获取签名配置失败，当前配置不变，下次同步时再试。")
    code = "config_failed"
    retryable = True


class ConfigUnreachable(ConfigError):
    text = QT_TRANSLATE_NOOP("errors", "无法从服务器获取签名配置，当前配置不变，下次同步时再试。")
    code = "unreachable"


class ConfigTampered(ConfigError):
    text = QT_TRANSLATE_NOOP(
        "errors", "下载的配置文件（{key}）与签名不符（可能被篡改），已拒绝，当前配置不变。")
    code = "tampered"


class ConfigExpired(ConfigError):
    text = QT_TRANSLATE_NOOP(
        "errors", "指挥中心的配置签名已过期，已拒绝，当前配置不变。请联系信息管理员重新签名。")
    code = "expired"


class ConfigRollback(ConfigError):
    text = QT_TRANSLATE_NOOP(
        "errors", "服务器的配置比本机已验证过的还旧（可能是回滚攻击），已拒绝，当前配置不变。")
    code = "rollback"


class ConfigWrongKey(ConfigError):
    text = QT_TRANSLATE_NOOP(
        "errors",
        "配置的签名无效或不是受信任的密钥签的，已拒绝，当前配置不变。请联系信息管理员。")
    code = "wrong_key"


class ConfigInvalid(ConfigError):
    text = QT_TRANSLATE_NOOP(
        "errors", "签名配置（{key}）的内容无法使用，已拒绝，当前配置不变：{reason}")
    code = "invalid"


def _refusal(exc: BaseException, key: str = "") -> ConfigError:
    if isinstance(exc, ConfigError):
        return exc
    if isinstance(exc, tuf_errors.ExpiredMetadataError):
        return ConfigExpired()
    if isinstance(exc, tuf_errors.BadVersionNumberError):
        return ConfigRollback()
    if isinstance(exc, tuf_errors.UnsignedMetadataError):
        return ConfigWrongKey()
    if isinstance(exc, tuf_errors.LengthOrHashMismatchError):
        return ConfigTampered(key=key or "?")
    if isinstance(exc, tuf_errors.DownloadError | requests.RequestException | OSError):
        return ConfigUnreachable()
    if isinstance(exc, tuf_errors.RepositoryError):
        return ConfigWrongKey()
    if isinstance(exc, FieldClientError):  # a checklist number taken by other content
        return ConfigInvalid(key=key or serverconfig.CHECKLIST, reason=exc.message())
    return ConfigError()


ERRORS: dict[str, type[ConfigError]] = {cls.code: cls for cls in (
    ConfigError, ConfigUnreachable, ConfigTampered, ConfigExpired, ConfigRollback,
    ConfigWrongKey, ConfigInvalid)}


def error_of(result: dict[str, Any] | None) -> ConfigError | None:
    """The refusal a check's outcome records (``error`` code, ``params``), for a screen
    to word in its own language; None when there was none."""
    if not result or result.get("state") != "error":
        return None
    cls = ERRORS.get(str(result.get("error")), ConfigError)
    params = result.get("params")
    params = {str(k): str(v) for k, v in params.items()} if isinstance(params, dict) else {}
    if "{key}" in cls.text:
        params.setdefault("key", "?")
    if "{reason}" in cls.text:
        params.setdefault("reason", "?")
    return cls(**params)


def _custom(target: TargetFile) -> dict[str, Any]:
    custom = target.unrecognized_fields.get("custom")
    info = custom.get("gridfield_config") if isinstance(custom, dict) else None
    return info if isinstance(info, dict) else {}


def choose(targets: dict[str, TargetFile], grids: list[int] | tuple[int, ...]
           ) -> dict[str, tuple[str, TargetFile]]:
    """Per signed key, the target for a device of ``grids``: among those for every
    district or for an org unit whose grids include one of the device's, the one of the
    lowest ``level_rank`` (most specific); ties to the name, for the same answer on every
    device."""
    mine = {int(g) for g in grids}
    best: dict[str, tuple[int, str, TargetFile]] = {}
    for name, target in targets.items():
        info = _custom(target)
        key = info.get("key")
        if key not in serverconfig.SIGNED_KEYS or not fnmatch.fnmatch(name, "config-*.json"):
            continue
        covered = info.get("grids")
        if covered is not None:
            if not isinstance(covered, list) or not mine & {
                    g for g in covered if isinstance(g, int)}:
                continue
        rank = info.get("level_rank")
        rank = rank if isinstance(rank, int) and not isinstance(rank, bool) else EVERYWHERE_RANK
        if covered is None:
            rank = EVERYWHERE_RANK
        current = best.get(key)
        if current is None or (rank, name) < (current[0], current[1]):
            best[key] = (rank, name, target)
    return {key: (name, target) for key, (_, name, target) in best.items()}


def check_value(key: str, data: bytes) -> Any:
    """The parsed value of a signed file, checked by what will use it; ConfigInvalid."""
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigInvalid(key=key, reason="size")
    if key == serverconfig.CHECKLIST:
        from fieldclient.fieldwork.checklist import parse_definition

        try:
            checklist = parse_definition(data)
        except FieldClientError as exc:
            raise ConfigInvalid(key=key, reason=exc.message()) from None
        return {"version": checklist.version, "id": checklist.checklist_id}
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ConfigInvalid(key=key, reason="JSON") from None
    try:
        if key == serverconfig.QUOTA_RULES:
            from sync.protocol.quotarules import parse_rules

            parse_rules(value)
        elif key == serverconfig.REVIEW_RULES:
            from sync.protocol.review import parse_review_rules

            parse_review_rules(value)
        elif key == serverconfig.EVENT_CATEGORIES:
            from fieldclient.fieldwork.events import _parse_categories

            if _parse_categories(value) is None:
                raise ValueError("categories")
    except ValueError as exc:
        raise ConfigInvalid(key=key, reason=str(exc)[:200]) from None
    return value


class ConfigClient:
    """One device's signed configuration, fetched through the release repository's TUF
    metadata (``http``: the sync transport's session; ``headers``: the protocol's)."""

    def __init__(self, session: Session, base: str, http: requests.Session,
                 headers: dict[str, str] | None = None, *,
                 bundled_root: Path = BUNDLED_ROOT,
                 timeout: tuple[float, float] = TIMEOUT) -> None:
        self.session = session
        self.data_dir = Path(session.paths.root)
        self.paths = UpdatePaths.of(self.data_dir)
        self.tuf = UpdateClient(self.data_dir, base, http, headers, bundled_root=bundled_root,
                                timeout=timeout)

    @property
    def bytes_received(self) -> int:
        return self.tuf.bytes_received

    def check(self, grids: list[int] | tuple[int, ...]) -> dict[str, Any]:
        """Refresh, verify and apply; never raises. ``state``: ``none`` (the centre has
        no config role), ``up_to_date``, ``applied`` (``applied`` lists the keys), or
        ``error`` (``error`` code, translated ``message``; what is in force stays)."""
        result: dict[str, Any] = {"checked_at": time.time(), "state": "none", "applied": [],
                                  "config_version": None, "error": None, "message": None}
        key = ""
        try:
            updater = self.tuf._updater()
            updater.refresh()
            top: Targets = updater._trusted_set.targets
            roles = top.delegations.roles if top.delegations is not None else None
            if not roles or ROLE not in roles:
                return result  # a centre without signed configuration: as before
            updater.get_targetinfo(f"config-{serverconfig.CHECKLIST}.json")  # loads it
            config = updater._trusted_set[ROLE]
            assert isinstance(config, Targets)
            version = int(config.version)
            seen = serverconfig.signed_seen(self.session.db)
            if seen is not None and version < seen:
                raise ConfigRollback()
            result["config_version"] = version
            chosen = choose(config.targets, grids)
            fetched: dict[str, tuple[str, TargetFile, bytes, Any]] = {}
            for key, (name, target) in sorted(chosen.items()):
                have = serverconfig.signed(self.session.db, key)
                sha = str(target.hashes.get("sha256", ""))
                if have is not None and have["sha256"] == sha:
                    continue
                data = self._download(updater, target)
                fetched[key] = (name, target, data, check_value(key, data))
            key = serverconfig.CHECKLIST  # the one apply may refuse (a number's clash)
            result["applied"] = self._apply(version, chosen, fetched)
            result["state"] = "applied" if result["applied"] else "up_to_date"
        except Exception as exc:  # every failure is an answer, never a crash of the sync
            error = _refusal(exc, key)
            result["state"] = "error"
            result["error"] = error.code
            result["message"] = error.message()
            result["params"] = {k: str(v) for k, v in error.params.items()}
            result["detail"] = str(exc)[:300]
        return result

    def _download(self, updater: Any, target: TargetFile) -> bytes:
        key = str(_custom(target).get("key") or target.path)
        if target.length > MAX_CONFIG_BYTES:  # not fetched at all: no config is that big
            raise ConfigInvalid(key=key, reason="size")
        folder = self.paths.root / "config"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / target.path
        try:
            updater.download_target(target, str(path))
            data = path.read_bytes()
        finally:
            path.unlink(missing_ok=True)
        if hashlib.sha256(data).hexdigest() != target.hashes.get("sha256"):
            raise tuf_errors.LengthOrHashMismatchError(target.path)
        return data

    def _apply(self, version: int, chosen: dict[str, tuple[str, TargetFile]],
               fetched: dict[str, tuple[str, TargetFile, bytes, Any]]) -> list[str]:
        """All in one transaction: the new values, the keys no longer named removed,
        the config version noted."""
        from fieldclient.fieldwork import checklist
        from fieldclient.security import audit

        db = self.session.db
        now = time.time()
        applied: list[str] = []
        with db.conn:
            for key, (name, target, data, value) in fetched.items():
                if key == serverconfig.CHECKLIST:
                    checklist.store_signed(self.session, data)
                db.execute(
                    "INSERT INTO signed_config (key, value, name, sha256, config_version,"
                    " applied_at) VALUES (?,?,?,?,?,?) ON CONFLICT(key) DO UPDATE SET"
                    " value = excluded.value, name = excluded.name, sha256 = excluded.sha256,"
                    " config_version = excluded.config_version,"
                    " applied_at = excluded.applied_at",
                    (key, json.dumps(value, ensure_ascii=False), name,
                     str(target.hashes.get("sha256")), version, now))
                applied.append(key)
            gone = [k for (k,) in db.execute(
                "SELECT key FROM signed_config WHERE name != ''").fetchall() if k not in chosen]
            for key in gone:  # withdrawn: the product default, never the unsigned value
                db.execute("UPDATE signed_config SET value = 'null', name = '', sha256 = '',"
                           " config_version = ?, applied_at = ? WHERE key = ?",
                           (version, now, key))
                applied.append(key)
            db.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key)"
                       " DO UPDATE SET value = excluded.value",
                       (serverconfig.SIGNED_SEEN, str(version)))
            if applied:
                self.session.audit.append(audit.RECORD_CREATED, {
                    "kind": "signed_config", "keys": sorted(applied),
                    "config_version": version})
        if serverconfig.CHECKLIST in applied:  # note it for the command line (no PIN)
            current = checklist.current_version(self.session)
            if current is not None:
                checklist.write_marker(self.data_dir, current,
                                       signed=checklist.signed_version(self.session) is not None)
        return sorted(applied)
