"""``central release``: IT's commands on the signed update repository, the keys kept
apart (root and targets offline, snapshot and timestamp sealed in the centre's
database), the rules a release's metadata follows, and ``central serve`` serving it."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from central_helpers import central, start_server, stop_process
from sqlalchemy import select
from tuf.api.metadata import Metadata, Root, Snapshot, Targets, Timestamp

from central import db
from central.updates.repository import Repository, _now
from sync.protocol import releases


def _dist(tmp_path: Path, name: str = "gridfield", size: int = 50_000) -> Path:
    folder = tmp_path / "dist" / name
    folder.mkdir(parents=True)
    (folder / "gridfield").write_bytes(bytes(range(256)) * (size // 256))
    (folder / "_internal").mkdir()
    (folder / "_internal" / "lib.so").write_bytes(b"\x7fELF" + b"\0" * 1000)
    return folder


def test_keys_init_keeps_root_and_targets_keys_offline(sqlite_db: str, tmp_path: Path) -> None:
    keys, updates = tmp_path / "usb", tmp_path / "updates"
    out = central(sqlite_db, "release", "keys", "init", "--keys", str(keys), "--update-dir",
                  str(updates), "--json")
    made = json.loads(out.stdout)
    assert sorted(p.name for p in keys.iterdir()) == ["config.pem", "root.json", "root.pem",
                                                      "targets.pem"]
    assert (keys / "targets.pem").stat().st_mode & 0o777 == 0o600
    assert (keys / "config.pem").stat().st_mode & 0o777 == 0o600
    # the signed configuration's role, delegated by targets to a fifth key (offline too)
    delegated = Metadata.from_file(str(updates / "metadata" / "targets.json")).signed
    assert delegated.delegations.roles["config"].paths == ["config-*"]
    assert made["keyids"]["config"] in delegated.delegations.roles["config"].keyids
    root = Metadata.from_file(str(keys / "root.json")).signed
    assert isinstance(root, Root) and root.consistent_snapshot
    keyids = {role: root.roles[role].keyids for role in ("root", "targets", "snapshot",
                                                          "timestamp")}
    assert len({next(iter(k)) for k in keyids.values()}) == 4  # a key per role
    assert all(root.roles[role].threshold == 1 for role in keyids)
    assert made["keyids"]["targets"] in keyids["targets"]
    # the centre's database holds the online keys only, sealed at rest
    engine = db.make_engine(sqlite_db)
    with engine.connect() as conn:
        names = set(conn.execute(select(db.server_keys.c.name)).scalars())
        raw = conn.exec_driver_sql("SELECT private_key FROM server_keys WHERE name LIKE 'tuf-%'"
                                   ).scalars().all()
    assert {"tuf-snapshot", "tuf-timestamp"} <= names and "tuf-targets" not in names
    assert all(str(v).startswith("gf1:") for v in raw) and len(raw) == 2
    # expiry as TUF intends: root a year, targets ~3 months, snapshot a week, timestamp a day
    repo = Repository(engine, updates)
    lifetimes = {role: repo.load(role).signed.expires - _now() for role in
                 ("root", "targets", "snapshot", "timestamp")}
    assert timedelta(days=364) < lifetimes["root"] <= timedelta(days=365)
    assert timedelta(days=89) < lifetimes["targets"] <= timedelta(days=90)
    assert timedelta(days=6) < lifetimes["snapshot"] <= timedelta(days=7)
    assert timedelta(hours=23) < lifetimes["timestamp"] <= timedelta(days=1)
    config_md = Metadata.from_file(str(updates / "metadata" / "config.json")).signed
    assert timedelta(days=89) < config_md.expires - _now() <= timedelta(days=90)
    again = central(sqlite_db, "release", "keys", "init", "--keys", str(tmp_path / "other"),
                    "--update-dir", str(updates), check=False)
    assert again.returncode == 1 and "already holds" in again.stderr
    assert Metadata.from_file(str(updates / "metadata" / "root.json")).signed.version == 1
    engine.dispose()


def test_publish_list_promote_revoke(sqlite_db: str, tmp_path: Path) -> None:
    keys, updates = tmp_path / "usb", tmp_path / "updates"
    args = ["--update-dir", str(updates)]
    central(sqlite_db, "release", "keys", "init", "--keys", str(keys), *args)
    central(sqlite_db, "seed-demo", "--grids", "2", "--households-per-grid", "1")
    engine = db.make_engine(sqlite_db)
    with engine.connect() as conn:
        grids = sorted(conn.execute(select(db.org_units.c.id)
                                    .where(db.org_units.c.level == "grid")).scalars())
        town = conn.execute(select(db.org_units.c.id)
                            .where(db.org_units.c.level == "town")).scalar_one()
    dist = _dist(tmp_path)
    out = central(sqlite_db, "release", "publish", str(dist), "--version", "1.0.1", "--keys",
                  str(keys), "--channel", "pilot", "--districts", str(town),
                  "--platform", "linux-x86_64", "--json", *args)
    published = json.loads(out.stdout)
    assert published["version"] == "1.0.1" and published["channel"] == "pilot"
    assert published["districts"] == [town] and published["grids"] == grids
    archive = updates / "targets" / f"{published['sha256']}.gridfield-1.0.1-linux-x86_64.tar.gz"
    assert archive.stat().st_size == published["length"]
    # the folder tarred the same way twice gives the same archive (same hash)
    repo = Repository(engine, updates)
    assert repo.publish(dist, "1.0.2", keys, platform="linux-x86_64")["sha256"] == \
        published["sha256"]
    # refused, nothing changed: the same version again, an absurd version, a wrong key
    # directory, an unknown district
    before = repo.load(Targets.type).signed.version
    for bad, says in [
        (["--version", "1.0.1"], "published already"),
        (["--version", "2147483648.0"], "not a version"),
        (["--version", "1.0.3", "--districts", "99999"], "no org unit 99999"),
    ]:
        result = central(sqlite_db, "release", "publish", str(dist), "--keys", str(keys),
                         "--platform", "linux-x86_64", *bad, *args, check=False)
        assert result.returncode == 1 and says in result.stderr, result.stderr
    other = tmp_path / "other-keys"
    central(sqlite_db, "release", "keys", "init", "--keys", str(other), "--update-dir",
            str(tmp_path / "other-updates"))
    wrong = central(sqlite_db, "release", "publish", str(dist), "--version", "1.0.3",
                    "--keys", str(other), *args, check=False)
    assert wrong.returncode == 1 and "not the one this repository's root trusts" in wrong.stderr
    assert repo.load(Targets.type).signed.version == before
    central(sqlite_db, "release", "promote", "1.0.1", "--keys", str(keys), *args)
    central(sqlite_db, "release", "revoke", "1.0.2", "--keys", str(keys), *args)
    listed = json.loads(central(sqlite_db, "release", "list", "--json", *args).stdout)
    rows = {r["version"]: r for r in listed["releases"]}
    assert rows["1.0.1"]["channel"] == "stable" and rows["1.0.1"]["grids"] is None
    assert rows["1.0.2"]["revoked"] is True
    assert listed["versions"]["targets"] == before + 2
    text = central(sqlite_db, "release", "list", *args).stdout
    assert "REVOKED" in text and "timestamp" in text
    engine.dispose()


def test_online_roles_are_resigned_before_they_expire(sqlite_db: str, tmp_path: Path) -> None:
    engine = db.make_engine(sqlite_db)
    repo = Repository(engine, tmp_path / "updates")
    repo.init_keys(tmp_path / "usb")
    assert repo.refresh_online() == []  # fresh: nothing to do
    ts = repo.load(Timestamp.type).signed.version
    assert repo.refresh_online(_now() + timedelta(hours=13)) == [Timestamp.type]
    assert repo.load(Timestamp.type).signed.version == ts + 1
    snap = repo.load(Snapshot.type).signed.version
    assert repo.refresh_online(_now() + timedelta(days=4)) == [Snapshot.type, Timestamp.type]
    assert repo.load(Snapshot.type).signed.version == snap + 1
    assert repo.load(Timestamp.type).signed.snapshot_meta.version == snap + 1
    # a leaked centre database: new online keys, root re-signed by the offline root key
    old = repo.load(Root.type).signed.roles["timestamp"].keyids
    repo.rotate_online_keys(tmp_path / "usb")
    root = repo.load(Root.type).signed
    assert root.version == 2 and set(root.roles["timestamp"].keyids).isdisjoint(old)
    engine.dispose()


def test_versions_compare_as_versions_and_stay_bounded() -> None:
    assert releases.parse_version("1.0.10") > releases.parse_version("1.0.9")
    assert releases.parse_version("1.0") == releases.parse_version("1.0.0")
    for bad in ("", "1.0.0.0.0", "01.0", "1.0.-1", "99999999", "1e5", "１.0", None, 10):
        with pytest.raises(releases.InvalidVersion):
            releases.parse_version(bad)
    assert releases.version_text(releases.parse_version("99999.99999.99999.99999")) == \
        "99999.99999.99999.99999"


def test_serve_gives_metadata_and_archives_with_ranges(sqlite_db: str, tmp_path: Path) -> None:
    engine = db.make_engine(sqlite_db)
    updates = tmp_path / "updates"
    repo = Repository(engine, updates)
    repo.init_keys(tmp_path / "usb")
    info = repo.publish(_dist(tmp_path), "1.0.1", tmp_path / "usb", platform="linux-x86_64")
    engine.dispose()
    proc, base = start_server(sqlite_db, tmp_path, "--update-dir", str(updates))
    try:
        root = requests.get(f"{base}{releases.UPDATES_METADATA_PATH}/1.root.json", timeout=10)
        assert root.status_code == 200 and root.json()["signed"]["_type"] == "root"
        stamp = requests.get(f"{base}{releases.UPDATES_METADATA_PATH}/timestamp.json",
                             timeout=10)
        assert stamp.status_code == 200 and stamp.headers["cache-control"] == "no-cache"
        name = f"{info['sha256']}.gridfield-1.0.1-linux-x86_64.tar.gz"
        url = f"{base}{releases.UPDATES_TARGETS_PATH}/{name}"
        whole = requests.get(url, headers={"Accept-Encoding": "identity"}, timeout=10)
        assert whole.status_code == 200 and len(whole.content) == info["length"]
        piece = requests.get(url, headers={"Range": "bytes=100-199"}, timeout=10)
        assert piece.status_code == 206 and piece.content == whole.content[100:200]
        assert piece.headers["content-range"] == f"bytes 100-199/{info['length']}"
        for bad in (f"{releases.UPDATES_TARGETS_PATH}/../central.db",
                    f"{releases.UPDATES_TARGETS_PATH}/{'0' * 64}.gridfield-9.tar.gz",
                    f"{releases.UPDATES_METADATA_PATH}/..%2Fcentral.db",
                    f"{releases.UPDATES_METADATA_PATH}/7.root.json"):
            answer = requests.get(base + bad, timeout=10)
            assert answer.status_code in (404, 422), (bad, answer.status_code)
            assert "error" in answer.json()
    finally:
        stop_process(proc)


def test_config_commands_sign_validate_and_refuse_unsigned(sqlite_db: str,
                                                          tmp_path: Path) -> None:
    """``central config publish`` signs (delegated role ``config``, snapshot naming it);
    ``config set`` stays plain for a key not yet signed, refuses one published signed,
    signs with --keys; a checklist never goes unsigned; a wrong key directory, an
    unknown key or a bad value change nothing."""
    keys, updates = tmp_path / "usb", tmp_path / "updates"
    cats = tmp_path / "cats.json"
    cats.write_text(json.dumps({"categories": [{"zh": "消防", "en": "Fire"}]}), "utf-8")
    refused = central(sqlite_db, "config", "set", "checklist", str(cats), "--update-dir",
                      str(updates), check=False)
    assert refused.returncode == 1 and "signed only" in refused.stderr
    central(sqlite_db, "config", "set", "event_categories", str(cats), "--update-dir",
            str(updates))  # no repository yet: as before
    central(sqlite_db, "release", "keys", "init", "--keys", str(keys), "--update-dir",
            str(updates))
    args = ["--update-dir", str(updates)]
    central(sqlite_db, "config", "set", "event_categories", str(cats), *args)  # not signed yet
    out = json.loads(central(sqlite_db, "config", "set", "event_categories", str(cats),
                             "--keys", str(keys), *args, "--json").stdout)
    assert out["name"] == "config-event_categories.json" and out["config_version"] == 2
    refused = central(sqlite_db, "config", "set", "event_categories", str(cats), *args,
                      check=False)
    assert refused.returncode == 1 and "published signed" in refused.stderr
    engine = db.make_engine(sqlite_db)
    repo = Repository(engine, updates)
    snap = repo.load(Snapshot.type).signed
    assert snap.meta["config.json"].version == 2
    config_md = Metadata.from_file(str(updates / "metadata" / "2.config.json")).signed
    target = config_md.targets["config-event_categories.json"]
    stored = updates / "targets" / f"{target.hashes['sha256']}.config-event_categories.json"
    assert json.loads(stored.read_bytes()) == {"categories": [{"zh": "消防", "en": "Fire"}]}
    for bad_args, why in (
            (["pin_policy", str(cats), "--keys", str(keys)], "not delivered signed"),
            (["quota_rules", str(cats), "--keys", str(keys)], "unknown key"),
            (["event_categories", str(cats), "--keys", str(tmp_path / "nothing")],
             "no config key")):
        bad = central(sqlite_db, "config", "publish", *bad_args, *args, check=False)
        assert bad.returncode == 1 and why in bad.stderr and "nothing was changed" in bad.stderr
    # rotation: the old key is refused, the new one signs; refresh re-signs
    old = tmp_path / "old-keys"
    old.mkdir()
    for name in ("root.pem", "targets.pem", "config.pem"):
        (old / name).write_bytes((keys / name).read_bytes())
    central(sqlite_db, "release", "keys", "rotate-config", "--keys", str(keys), *args)
    assert len(list(keys.glob("config.pem.*.retired"))) == 1
    bad = central(sqlite_db, "config", "publish", "event_categories", str(cats), "--keys",
                  str(old), *args, check=False)
    assert bad.returncode == 1 and "rotated out" in bad.stderr
    central(sqlite_db, "config", "publish", "event_categories", str(cats), "--keys", str(keys),
            *args)
    listed = json.loads(central(sqlite_db, "release", "list", *args, "--json").stdout)
    assert listed["config"]["version"] == 4 and "config" in listed["expires"]
    assert [f["key"] for f in listed["config"]["files"]] == ["event_categories"]
    central(sqlite_db, "release", "keys", "refresh-config", "--keys", str(keys), *args)
    assert repo.load(Snapshot.type).signed.meta["config.json"].version == 5
    engine.dispose()
