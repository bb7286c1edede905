"""Signed configuration end to end (issue 14): a real ``central serve`` with the TUF
repository the test makes (``central release keys init``), IT's ``central config publish``
(the config role's offline key), devices (real SQLCipher) that verify and apply it during
sync; and what must be refused: a tampered file, an expired config role, a config signed
by a wrong or rotated-out key, a rollback. A checklist numbered 2³¹−1 does not block a
later one."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from securesystemslib.signer import CryptoSigner
from sync_helpers import PIN, Dev, LiveServer, launch, new_grid
from tuf.api.metadata import Metadata, Targets

from central import settings as central_settings
from central.updates import config as central_config
from central.updates.repository import Repository
from fieldclient.fieldwork import checklist, events, quotas, review, serverconfig
from fieldclient.update import client as updates

ROOT = Path(__file__).resolve().parents[2]
QUOTA = {"rules": [{"id": "patrol-daily", "kind": "patrol", "period": "day", "times": 2},
                   {"id": "key-weekly", "kind": "visit", "category": "key", "period": "week",
                    "times": 3}]}
EVENTS = {"categories": [{"zh": "矛盾纠纷", "en": "Disputes"}, {"zh": "消防安全", "en": "Fire"}]}


def _central(db_url: str, *args: str, check: bool = True) -> Any:
    from central_helpers import central

    return central(db_url, *args, check=check)


class Centre:
    def __init__(self, live: LiveServer, db_url: str, update_dir: Path, keys: Path,
                 tmp: Path) -> None:
        self.live, self.db_url, self.update_dir, self.keys, self.tmp = (
            live, db_url, update_dir, keys, tmp)
        self.repo = Repository(live.engine, update_dir)

    def publish(self, key: str, value: Any, *extra: str, check: bool = True) -> Any:
        """``central config publish KEY FILE --keys DIR`` (IT's command)."""
        path = self.tmp / f"{key}-{len(list(self.tmp.iterdir()))}.json"
        path.write_bytes(value if isinstance(value, bytes)
                         else json.dumps(value, ensure_ascii=False).encode())
        return _central(self.db_url, "config", "publish", key, str(path), "--keys",
                        str(self.keys), "--update-dir", str(self.update_dir), "--json", *extra,
                        check=check)

    def config_md(self) -> Metadata[Any]:
        return Metadata.from_file(str(self.update_dir / "metadata" / "config.json"))

    def resign_config(self, key_file: Path, expires: datetime | None = None) -> None:
        """The config metadata re-signed by ``key_file`` (another key, or a past expiry),
        its version up by one, and a new snapshot naming it: what a server holding a
        leaked or wrong key, or a frozen one, would serve."""
        md = self.config_md()
        md.signed.version += 1
        md.signed.expires = expires or datetime.now(UTC).replace(microsecond=0) + \
            timedelta(days=30)
        md.signatures.clear()
        private = load_pem_private_key(key_file.read_bytes(), None)
        md.sign(CryptoSigner(private))  # type: ignore[arg-type]
        central_config._write_config(self.repo, md)
        self.repo._new_snapshot(self.repo.load(Targets.type).signed.version)


def checklist_bytes(version: int, title: str = "签名下发的清单") -> bytes:
    doc = json.loads((ROOT / "resources" / "checklists" / "default.json").read_bytes())
    doc["version"] = version
    doc["id"] = f"signed-{version}"
    doc["title"] = {"zh": title, "en": "Signed checklist"}
    doc["items"] = doc["items"][:5]
    return json.dumps(doc, ensure_ascii=False, indent=1).encode()


@pytest.fixture()
def centre(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Centre]:
    workdir = tmp_path / "centre"
    workdir.mkdir()
    update_dir, keys = workdir / "updates", tmp_path / "usb-keys"
    db_url = f"sqlite:///{workdir / 'central.db'}"
    _central(db_url, "init")
    _central(db_url, "release", "keys", "init", "--keys", str(keys), "--update-dir",
             str(update_dir))
    assert (keys / "config.pem").is_file()
    monkeypatch.setenv("GRIDFIELD_CENTRAL_RESIGN_CHECK", "3600")
    live = launch(workdir, "--update-dir", str(update_dir), db_url=db_url)
    files = tmp_path / "it-files"
    files.mkdir()
    try:
        yield Centre(live, db_url, update_dir, keys, files)
    finally:
        live.stop()


@pytest.fixture()
def device(centre: Centre, make_device: Callable[..., Dev]) -> Callable[..., Dev]:
    """A device that trusts the centre's root (as if built with it)."""

    def make(grid: dict[str, Any] | None = None, name: str | None = None) -> Dev:
        grid = grid or new_grid(centre.live.engine)
        dev = make_device(centre.live, grid["workers"][0], name)
        meta = updates.UpdatePaths.of(dev.data_dir).metadata
        meta.mkdir(parents=True)
        (meta / "root.json").write_bytes((centre.keys / "root.json").read_bytes())
        dev.engine.update_interval = 0
        dev.engine.config_interval = 0
        return dev

    return make


def sync(dev: Dev) -> dict[str, Any]:
    report = dev.engine.run_once()
    assert report.ok, report.error
    assert report.config is not None
    return report.config


def test_each_kind_published_is_applied_after_sync(
        centre: Centre, device: Callable[..., Dev]) -> None:
    dev = device()
    assert sync(dev)["state"] == "up_to_date"  # the role exists, nothing published yet
    rules = json.loads((ROOT / "resources" / "review" / "review_rules.json").read_bytes())
    rules["checks"]["short_patrol"]["min_minutes"] = 25
    for key, value in (("quota_rules", QUOTA), ("event_categories", EVENTS),
                       ("review_rules", rules), ("checklist", checklist_bytes(5))):
        out = json.loads(centre.publish(key, value).stdout)
        assert out["name"] == f"config-{key}.json"
    result = sync(dev)
    assert result["state"] == "applied", result
    assert result["applied"] == ["checklist", "event_categories", "quota_rules",
                                 "review_rules"]
    db = dev.session.db
    assert [r.id for r in quotas.rules_in_force(db)] == ["patrol-daily", "key-weekly"]
    assert [c.zh for c in events.event_categories(dev.session)] == ["矛盾纠纷", "消防安全"]
    assert review.review_rules_in_force(db).as_json() == \
        central_settings.validate_review_rules(rules)
    in_force = checklist.checklist_in_force(dev.session)
    assert in_force.version == 5 and in_force.title_zh == "签名下发的清单" and len(in_force) == 5
    assert checklist.marker_version(dev.data_dir) == 5
    assert not checklist.bundled_is_in_force(dev.data_dir)
    assert sync(dev)["state"] == "up_to_date"  # nothing fetched twice

    # an unsigned value over the pull feed no longer overrides the signed one
    central_settings.set_setting(centre.live.engine, "quota_rules", {"rules": [
        {"id": "unsigned", "kind": "patrol", "period": "week", "times": 9}]})
    report = dev.engine.run_once()
    assert report.pulled.get("config", 0) >= 1
    assert [r.id for r in quotas.rules_in_force(db)] == ["patrol-daily", "key-weekly"]
    # and IT is told so at the centre
    refused = _central(centre.db_url, "config", "set", "quota_rules",
                       str(next(centre.tmp.glob("quota_rules-*.json"))), "--update-dir",
                       str(centre.update_dir), check=False)
    assert refused.returncode == 1 and "publish" in refused.stderr
    # a checklist file signed with the app's pinned key is refused from now on
    with pytest.raises(checklist.ChecklistSignedOnly):
        checklist.install_checklist(dev.session, checklist.BUNDLED_DEFINITION.read_bytes(),
                                    checklist.signature_path(
                                        checklist.BUNDLED_DEFINITION).read_bytes(), "file")


def test_a_key_never_signed_keeps_todays_pull(
        centre: Centre, device: Callable[..., Dev]) -> None:
    dev = device()
    central_settings.set_setting(centre.live.engine, "event_categories", EVENTS)
    centre.publish("quota_rules", QUOTA)
    assert sync(dev)["applied"] == ["quota_rules"]
    assert [c.zh for c in events.event_categories(dev.session)] == ["矛盾纠纷", "消防安全"]


def test_checklist_2_31_minus_1_then_version_2_is_taken(
        centre: Centre, device: Callable[..., Dev]) -> None:
    dev = device()
    centre.publish("checklist", checklist_bytes(2**31 - 1, "最大版本号"))
    assert sync(dev)["applied"] == ["checklist"]
    assert checklist.checklist_in_force(dev.session).version == 2**31 - 1
    centre.publish("checklist", checklist_bytes(2, "之后发布的第2版"))
    result = sync(dev)
    assert result["state"] == "applied", result
    current = checklist.checklist_in_force(dev.session)
    assert current.version == 2 and current.title_zh == "之后发布的第2版"
    assert checklist.marker_version(dev.data_dir) == 2
    # the patrols that started on 2³¹−1 still find it
    assert checklist.checklist_version(dev.session, 2**31 - 1).title_zh == "最大版本号"
    # a checklist number reused with other content is refused; version 2 stays
    centre.publish("checklist", checklist_bytes(2, "同号不同内容"))
    refused = sync(dev)
    assert refused["error"] == "invalid", refused
    assert checklist.checklist_in_force(dev.session).title_zh == "之后发布的第2版"


def test_a_tampered_file_is_refused_and_the_config_stays(
        centre: Centre, device: Callable[..., Dev]) -> None:
    dev = device()
    centre.publish("quota_rules", QUOTA)
    sync(dev)
    changed = {"rules": [{"id": "evil", "kind": "patrol", "period": "year", "times": 1}]}
    out = json.loads(centre.publish("quota_rules", changed).stdout)
    target = centre.update_dir / "targets" / f"{out['sha256']}.config-quota_rules.json"
    data = bytearray(target.read_bytes())
    data[20] ^= 0x01  # on the server's disk, or on the way
    target.write_bytes(bytes(data))
    result = sync(dev)
    assert result["state"] == "error" and result["error"] == "tampered", result
    assert "篡改" in result["message"] and "quota_rules" in result["message"]
    assert [r.id for r in quotas.rules_in_force(dev.session.db)] == [
        "patrol-daily", "key-weekly"]
    report = dev.engine.run_once()
    from sync.cli import report_lines

    assert any("篡改" in line for line in report_lines(report.as_dict()))


def test_an_expired_config_role_is_refused(
        centre: Centre, device: Callable[..., Dev]) -> None:
    dev = device()
    centre.publish("quota_rules", QUOTA)
    sync(dev)
    centre.publish("event_categories", EVENTS)
    centre.resign_config(centre.keys / "config.pem",
                         expires=datetime.now(UTC) - timedelta(hours=1))
    result = sync(dev)
    assert result["error"] == "expired", result
    assert "过期" in result["message"]
    assert serverconfig.signed(dev.session.db, "event_categories") is None
    assert [r.id for r in quotas.rules_in_force(dev.session.db)] == [
        "patrol-daily", "key-weekly"]
    # IT re-signs: taken again
    _central(centre.db_url, "release", "keys", "refresh-config", "--keys", str(centre.keys),
             "--update-dir", str(centre.update_dir))
    assert sync(dev)["applied"] == ["event_categories"]


def test_a_wrong_key_is_refused_and_after_rotation_the_new_key_is_taken(
        centre: Centre, device: Callable[..., Dev], tmp_path: Path) -> None:
    dev = device()
    centre.publish("quota_rules", QUOTA)
    sync(dev)
    # a key nobody delegated to (an attacker's)
    stranger = tmp_path / "stranger.pem"
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
    )

    stranger.write_bytes(Ed25519PrivateKey.generate().private_bytes(
        Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    shutil.copy(centre.keys / "config.pem", tmp_path / "leaked.pem")
    centre.resign_config(stranger)
    result = sync(dev)
    assert result["error"] == "wrong_key", result
    assert [r.id for r in quotas.rules_in_force(dev.session.db)] == [
        "patrol-daily", "key-weekly"]

    # the config key leaked: IT rotates it (targets key re-delegates); no app rebuild
    _central(centre.db_url, "release", "keys", "rotate-config", "--keys", str(centre.keys),
             "--update-dir", str(centre.update_dir))
    assert sync(dev)["state"] == "up_to_date"  # same files, re-signed by the new key
    changed = {"rules": [{"id": "after-rotation", "kind": "patrol", "period": "week",
                          "times": 4}]}
    centre.publish("quota_rules", changed)
    assert sync(dev)["applied"] == ["quota_rules"]
    assert [r.id for r in quotas.rules_in_force(dev.session.db)] == ["after-rotation"]

    # the leaked (rotated-out) key can no longer sign anything devices take
    old = _central(centre.db_url, "config", "publish", "quota_rules",
                   str(next(centre.tmp.glob("quota_rules-*.json"))), "--keys",
                   str(_keys_with(tmp_path, centre.keys, tmp_path / "leaked.pem")),
                   "--update-dir", str(centre.update_dir), check=False)
    assert old.returncode == 1 and "rotated out" in old.stderr
    centre.resign_config(tmp_path / "leaked.pem")
    result = sync(dev)
    assert result["error"] == "wrong_key", result
    assert [r.id for r in quotas.rules_in_force(dev.session.db)] == ["after-rotation"]


def _keys_with(tmp: Path, keys: Path, config_key: Path) -> Path:
    other = tmp / "old-keys"
    other.mkdir(exist_ok=True)
    for name in ("root.pem", "targets.pem"):
        shutil.copy(keys / name, other / name)
    shutil.copy(config_key, other / "config.pem")
    return other


def test_a_rolled_back_config_is_refused(
        centre: Centre, device: Callable[..., Dev]) -> None:
    dev = device()
    centre.publish("quota_rules", QUOTA)
    sync(dev)
    seen = serverconfig.signed_seen(dev.session.db)
    assert seen is not None
    # the device lost its TUF metadata (restored from an old backup, say): the server
    # serves an older state, signed, yet the device's own record refuses it
    meta = updates.UpdatePaths.of(dev.data_dir).metadata
    shutil.rmtree(meta)
    meta.mkdir()
    (meta / "root.json").write_bytes((centre.keys / "root.json").read_bytes())
    md = centre.config_md()
    md.signed.version = 1
    md.signed.targets.clear()
    md.signatures.clear()
    md.sign(CryptoSigner(load_pem_private_key(  # type: ignore[arg-type]
        (centre.keys / "config.pem").read_bytes(), None)))
    central_config._write_config(centre.repo, md)
    centre.repo._new_snapshot(centre.repo.load(Targets.type).signed.version)
    result = sync(dev)
    assert result["error"] == "rollback", result
    assert [r.id for r in quotas.rules_in_force(dev.session.db)] == [
        "patrol-daily", "key-weekly"]


def test_a_district_setting_goes_to_its_grids_only(
        centre: Centre, device: Callable[..., Dev]) -> None:
    grid = new_grid(centre.live.engine)
    other = new_grid(centre.live.engine)
    dev, far = device(grid, "near"), device(other, "far")
    centre.publish("quota_rules", QUOTA)
    local = {"rules": [{"id": "grid-only", "kind": "patrol", "period": "day", "times": 1}]}
    centre.publish("quota_rules", local, "--district", str(grid["id"]))
    sync(dev), sync(far)
    assert [r.id for r in quotas.rules_in_force(dev.session.db)] == ["grid-only"]
    assert [r.id for r in quotas.rules_in_force(far.session.db)] == [
        "patrol-daily", "key-weekly"]


def test_bad_values_are_refused_at_the_centre(centre: Centre) -> None:
    bad = centre.publish("quota_rules", {"rules": []}, check=False)
    assert bad.returncode == 1 and "nothing was changed" in bad.stderr
    bad = centre.publish("checklist", b"{not json", check=False)
    assert bad.returncode == 1
    bad = centre.publish("pin_policy", {"min_digits": 8}, check=False)
    assert bad.returncode == 1 and "not delivered signed" in bad.stderr
    assert centre.config_md().signed.targets == {}


__all__ = ["PIN"]
