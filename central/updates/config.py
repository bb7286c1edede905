"""Signed configuration on the release repository's trust (TUF delegated role ``config``).

Checklists, quota rules, review rules and event classes reach devices as TUF targets
signed by the role ``config``, which the targets role delegates to (paths
``config-*``, terminating). Its Ed25519 key is IT's, offline beside the others
(``--keys DIR``, ``config.pem``):

========== ============ ============================================================
role       expires      signs
========== ============ ============================================================
config     3 months     each configuration file's hash and length, and to whom it
                        applies (custom ``gridfield_config``: key, org unit, grids)
========== ============ ============================================================

Devices take a key signed only once it has come signed (fieldclient/update/config.py);
``central config set`` refuses a key published here, since devices would ignore it.

Target names: ``config-<key>.json`` (every district) and ``config-u<org unit>-<key>.json``
(an org unit and everything under it; its grids are listed when published, as a
release's districts are). A device takes, per key, the target of the most specific
org unit above its grids (``level_rank``: grid 0 ... city 4, every district 9).

A leaked config key is replaced without rebuilding the app: ``central release keys
rotate-config --keys DIR`` makes a new key, the targets key re-delegates to it (targets
version + 1) and every config target is re-signed by it (config version + 1); devices
follow through the snapshot, and metadata signed by the old key is refused from then
on. The same command adds the role to a repository made before it existed.

The order of configurations is TUF's: a device applies what the newest verified config
metadata names (a rollback is refused by version), never comparing the files' own
numbers, so a checklist numbered 2³¹−1 does not block a later one numbered 2.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
)
from securesystemslib.signer import CryptoSigner
from sqlalchemy import select
from tuf.api.metadata import DelegatedRole, Delegations, Metadata, Root, TargetFile, Targets

from central import db
from central.updates.repository import (
    EXPIRY,
    ReleaseError,
    Repository,
    _atomic,
    _iso,
    _now,
    offline_key,
)

ROLE = "config"
KEY_FILE = "config.pem"
CONFIG_EXPIRY = EXPIRY[Targets.type]  # 3 months, as the targets role
PATH_PATTERN = "config-*"
CHECKLIST = "checklist"
SIGNED_KEYS = (CHECKLIST, "quota_rules", "review_rules", "event_categories")
MAX_CONFIG_BYTES = 1 << 20
LEVEL_RANK = {"grid": 0, "village": 1, "town": 2, "county": 3, "city": 4}
EVERYWHERE_RANK = 9
_NAME_RE = re.compile(r"^config-(?:u([1-9][0-9]{0,9})-)?([a-z_]{1,40})\.json$")


def target_name(key: str, org_unit_id: int | None) -> str:
    return f"config-{key}.json" if org_unit_id is None else f"config-u{org_unit_id}-{key}.json"


def has_config_role(repo: Repository) -> bool:
    """True when the repository's targets delegate to the config role."""
    if not repo.initialized():
        return False
    targets: Targets = repo.load(Targets.type).signed
    return targets.delegations is not None and targets.delegations.roles is not None \
        and ROLE in targets.delegations.roles


def is_published(repo: Repository, key: str) -> bool:
    """True when the config role signs ``key`` for some org unit (devices then take it
    signed only: an unsigned value for it would be ignored)."""
    if not has_config_role(repo):
        return False
    md = _load_config(repo)
    return md is not None and any(
        (t.unrecognized_fields.get("custom") or {}).get("gridfield_config", {}).get("key")
        == key for t in md.signed.targets.values())


def _new_key(keys_dir: Path) -> CryptoSigner:
    """A new config key written to ``keys_dir/config.pem`` (the old one, if any, kept
    as ``config.pem.<time>.retired`` so IT can see what was replaced)."""
    path = Path(keys_dir) / KEY_FILE
    if path.exists():
        os.replace(path, path.with_name(f"{KEY_FILE}.{_now():%Y%m%dT%H%M%SZ}.retired"))
    key = Ed25519PrivateKey.generate()
    _atomic(path, key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()),
            mode=0o600)
    return CryptoSigner(key)


def _config_signer(repo: Repository, keys_dir: Path) -> CryptoSigner:
    path = Path(keys_dir) / KEY_FILE
    signer = offline_key(path, f"no config key in {keys_dir} ({KEY_FILE}): give the "
                               "directory `central release keys init` (or `rotate-config`) "
                               "wrote")
    targets: Targets = repo.load(Targets.type).signed
    if not has_config_role(repo):
        raise ReleaseError("this repository has no config role yet: run `central release "
                           "keys rotate-config --keys DIR` first")
    assert targets.delegations is not None and targets.delegations.roles is not None
    if signer.public_key.keyid not in targets.delegations.roles[ROLE].keyids:
        raise ReleaseError(f"the config key in {path} is not the one the targets role "
                           "delegates to: wrong key directory, or a key rotated out")
    return signer


def _targets_signer(repo: Repository, keys_dir: Path) -> CryptoSigner:
    return repo._offline_signer(keys_dir, Targets.type, repo.load(Root.type).signed)


def _write_config(repo: Repository, md: Metadata[Any]) -> None:
    """``<version>.config.json`` (consistent snapshot), then ``config.json``, each
    atomically (the role's type is ``targets``: repo._write would name it so)."""
    data = md.to_bytes(repo._serializer)
    repo.metadata_dir.mkdir(parents=True, exist_ok=True)
    for name in (f"{md.signed.version}.{ROLE}.json", f"{ROLE}.json"):
        _atomic(repo.metadata_dir / name, data)


def _sign_config(repo: Repository, md: Metadata[Any], signer: CryptoSigner) -> None:
    md.signed.version += 1
    md.signed.expires = _now() + CONFIG_EXPIRY
    md.signatures.clear()
    md.sign(signer)
    _write_config(repo, md)


def _load_config(repo: Repository) -> Metadata[Any] | None:
    path = repo.metadata_dir / f"{ROLE}.json"
    return Metadata.from_file(str(path)) if path.is_file() else None


def rotate_config_key(repo: Repository, keys_dir: Path) -> dict[str, Any]:
    """A new config key (or the first one): the targets key delegates to it alone, the
    config metadata is re-signed by it (same targets, version + 1)."""
    keys_dir = Path(keys_dir)
    with repo._locked():
        repo._require()
        targets_md = repo.load(Targets.type)
        tsigner = _targets_signer(repo, keys_dir)
        signer = _new_key(keys_dir)
        targets: Targets = targets_md.signed
        targets.delegations = Delegations(
            keys={signer.public_key.keyid: signer.public_key},
            roles={ROLE: DelegatedRole(name=ROLE, keyids=[signer.public_key.keyid],
                                       threshold=1, terminating=True,
                                       paths=[PATH_PATTERN])})
        config_md = _load_config(repo)
        if config_md is None:  # the first config key of this repository
            config_md = Metadata(Targets(version=1, expires=_now() + CONFIG_EXPIRY))
            config_md.sign(signer)
            _write_config(repo, config_md)
        else:
            _sign_config(repo, config_md, signer)  # written first: the snapshot names it
        targets.version += 1
        targets.expires = _now() + EXPIRY[Targets.type]
        targets_md.signatures.clear()
        targets_md.sign(tsigner)
        repo._write(targets_md)
        repo._new_snapshot(targets.version)
    return {"keyid": signer.public_key.keyid, "key_file": str(keys_dir / KEY_FILE),
            "config_version": config_md.signed.version, "targets_version": targets.version}


def refresh_config(repo: Repository, keys_dir: Path) -> dict[str, Any]:
    """Re-sign the config metadata with a new expiry (3 months from now)."""
    with repo._locked():
        repo._require()
        signer = _config_signer(repo, keys_dir)
        md = _load_config(repo)
        assert md is not None
        _sign_config(repo, md, signer)
        repo._new_snapshot(repo.load(Targets.type).signed.version)
    return {"config_version": md.signed.version, "expires": _iso(md.signed.expires)}


def _org_unit(repo: Repository, org_unit_id: int | None) -> tuple[str | None, int]:
    """(level, rank) of the org unit (None, 9 for every district)."""
    if org_unit_id is None:
        return None, EVERYWHERE_RANK
    with repo.engine.connect() as conn:
        row = conn.execute(select(db.org_units.c.level)
                           .where(db.org_units.c.id == org_unit_id)).first()
    if row is None:
        raise ReleaseError(f"no org unit {org_unit_id} at this centre")
    return str(row[0]), LEVEL_RANK.get(str(row[0]), EVERYWHERE_RANK - 1)


def validate_checklist(raw: bytes) -> dict[str, Any]:
    """The checks the centre can make of a checklist definition (the device parses it
    fully again before using it): a gridfield-checklist JSON object with a version and
    items."""
    from central.settings import SettingError

    if len(raw) > MAX_CONFIG_BYTES:
        raise SettingError("checklist: larger than 1 MiB")
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise SettingError(f"checklist is not UTF-8 JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != "gridfield-checklist" \
            or doc.get("format_version") != 1:
        raise SettingError("checklist: format must be gridfield-checklist, format_version 1")
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or not 0 < version < 1 << 31:
        raise SettingError("checklist.version must be a whole number from 1 to 2147483647")
    if not isinstance(doc.get("items"), list) or not doc["items"]:
        raise SettingError("checklist.items must be a non-empty list")
    if not isinstance(doc.get("id"), str) or not doc["id"].strip():
        raise SettingError("checklist.id must be non-empty text")
    return doc


def prepare(key: str, raw: bytes) -> bytes:
    """The bytes to sign for ``key``: a checklist exactly as given (its own bytes are
    what devices keep); a setting validated by central.settings and written canonically.
    SettingError when refused."""
    from central import settings

    if key not in SIGNED_KEYS:
        raise settings.SettingError(
            f"{key!r} is not delivered signed; one of: {', '.join(SIGNED_KEYS)}")
    if key == CHECKLIST:
        validate_checklist(raw)
        return raw
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise settings.SettingError(f"not valid UTF-8 JSON: {exc}") from None
    clean = settings.validate(key, value)
    return json.dumps(clean, ensure_ascii=False, sort_keys=True, indent=1).encode("utf-8")


def publish(repo: Repository, key: str, raw: bytes, keys_dir: Path,
            org_unit_id: int | None = None) -> dict[str, Any]:
    """Sign ``raw`` (validated first: :func:`prepare`) as the configuration ``key`` for
    ``org_unit_id`` (None: every district). Nothing changes when refused."""
    data = prepare(key, raw)
    level, rank = _org_unit(repo, org_unit_id)
    grids = repo._grids_under([org_unit_id]) if org_unit_id is not None else None
    name = target_name(key, org_unit_id)
    with repo._locked():
        repo._require()
        signer = _config_signer(repo, keys_dir)
        md = _load_config(repo)
        assert md is not None
        repo.targets_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=".config-", dir=repo.targets_dir)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            target = TargetFile.from_file(name, str(tmp), ["sha256"])
            os.chmod(tmp, 0o644)
            os.replace(tmp, repo.targets_dir / f"{target.hashes['sha256']}.{name}")
        finally:
            tmp.unlink(missing_ok=True)
        target.unrecognized_fields["custom"] = {"gridfield_config": {
            "key": key, "org_unit_id": org_unit_id, "level": level, "level_rank": rank,
            "grids": grids, "published_at": _iso(_now())}}
        md.signed.targets[name] = target
        _sign_config(repo, md, signer)
        repo._new_snapshot(repo.load(Targets.type).signed.version)
    return {"name": name, "key": key, "org_unit_id": org_unit_id, "grids": grids,
            "length": target.length, "sha256": target.hashes["sha256"],
            "config_version": md.signed.version, "expires": _iso(md.signed.expires)}


def listing(repo: Repository) -> dict[str, Any]:
    """The signed configuration files and the config role's version and expiry."""
    repo._require()
    md = _load_config(repo)
    if md is None or not has_config_role(repo):
        return {"role": False, "files": []}
    files = []
    for name, target in sorted(md.signed.targets.items()):
        custom = (target.unrecognized_fields.get("custom") or {}).get("gridfield_config", {})
        files.append({"name": name, "length": target.length,
                      "sha256": target.hashes.get("sha256"), **custom})
    return {"role": True, "version": md.signed.version, "expires": _iso(md.signed.expires),
            "files": files}


def parse_name(name: str) -> tuple[int | None, str] | None:
    match = _NAME_RE.match(name)
    if match is None:
        return None
    return (int(match.group(1)) if match.group(1) else None), match.group(2)

