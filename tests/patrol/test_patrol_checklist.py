"""The 28-item default checklist and its Ed25519 signature; installing new versions."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from patrol_helpers import SigningKey

from fieldclient.fieldwork import checklist
from fieldclient.fieldwork.checklist import (
    ChecklistBadSignature,
    ChecklistInvalid,
    ChecklistNotNewer,
    ChecklistUnsigned,
    ChecklistVersionConflict,
)
from fieldclient.storage.session import Session

DOMAIN = Path(__file__).resolve().parents[3] / "shared" / "domain.md"
GROUPS = {"综治工作", "市场监管", "综合执法", "便民服务"}


def test_default_checklist_is_signed_and_has_the_28_items() -> None:
    default = checklist.bundled_checklist()
    assert default.version >= 1
    assert [i.code for i in default] == [f"P{n:02d}" for n in range(1, 29)]
    assert {i.group.zh for i in default} == GROUPS
    assert len({i.group.en for i in default}) == 4
    for item in default:
        assert item.name_zh and item.name_en and item.hint_zh and item.hint_en
        assert re.search(r"[\u4e00-\u9fff]", item.name_zh + item.hint_zh)
        assert not re.search(r"[\u3000-\u9fff\uff00-\uffef]", item.name_en + item.hint_en)
        assert isinstance(item.photo_required_on_problem, bool)
    assert sum(i.photo_required_on_problem for i in default) >= 14
    assert default.item("P21") and default.item("P21").photo_required_on_problem  # type: ignore[union-attr]
    assert not default.item("P03").photo_required_on_problem  # type: ignore[union-attr]
    assert [g.zh for g, _ in default.groups()] == ["综治工作", "市场监管", "综合执法", "便民服务"]


def test_default_checklist_matches_domain_table() -> None:
    if not DOMAIN.exists():
        pytest.skip("shared domain.md not present")
    rows = re.findall(
        r"^\| (P\d\d) \| ([^|]+) \| ([^|]+) \| ([^|]+) \|$", DOMAIN.read_text("utf-8"), re.M
    )
    assert len(rows) == 28
    default = checklist.bundled_checklist()
    for code, zh, en, platform in rows:
        item = default.item(code)
        assert item is not None
        assert (item.name_zh, item.name_en, item.group.zh) == (
            zh.strip(), en.strip(), platform.strip()
        )


def test_tampered_definition_is_refused() -> None:
    definition = checklist.BUNDLED_DEFINITION.read_bytes()
    signature = checklist.signature_path(checklist.BUNDLED_DEFINITION).read_text()
    checklist.load_checklist(definition, signature)  # the untouched file is fine
    tampered = definition.replace("矛盾纠纷排查".encode(), "矛盾纠纷排查!".encode())
    with pytest.raises(ChecklistBadSignature) as info:
        checklist.load_checklist(tampered, signature)
    assert "签名无效" in info.value.message("zh_CN")
    assert "signature" in info.value.message("en").lower()
    flipped = bytearray(definition)
    flipped[-3] ^= 0x01
    with pytest.raises(ChecklistBadSignature):
        checklist.load_checklist(bytes(flipped), signature)


def test_unsigned_definition_is_refused(tmp_path: Path) -> None:
    copy = tmp_path / "default.json"
    copy.write_bytes(checklist.BUNDLED_DEFINITION.read_bytes())
    with pytest.raises(ChecklistUnsigned) as info:
        checklist.load_checklist_file(copy)
    assert "没有签名" in info.value.message("zh_CN")
    assert "not signed" in info.value.message("en")
    for empty in (None, "", "  \n", b""):
        with pytest.raises(ChecklistUnsigned):
            checklist.load_checklist(copy.read_bytes(), empty)


def test_signature_by_another_key_is_refused() -> None:
    definition = checklist.BUNDLED_DEFINITION.read_bytes()
    stranger = SigningKey()
    with pytest.raises(ChecklistBadSignature):
        checklist.load_checklist(definition, stranger.sign(definition))
    # ...unless that key is the pinned one
    loaded = checklist.load_checklist(
        definition, stranger.sign(definition), (stranger.public_b64,)
    )
    assert len(loaded) == 28
    for garbage in ("not base64!", "QUJD", "A" * 88):
        with pytest.raises(ChecklistBadSignature):
            checklist.load_checklist(definition, garbage)


def test_signature_covers_the_context_label() -> None:
    """A raw signature of the bytes (no label), e.g. one made for a build, does not count."""
    import base64

    key = SigningKey()
    definition = checklist.BUNDLED_DEFINITION.read_bytes()
    raw = base64.b64encode(key.private.sign(definition)).decode()
    with pytest.raises(ChecklistBadSignature):
        checklist.load_checklist(definition, raw, (key.public_b64,))


def new_version(version: int, drop: str | None = None, rename: str | None = None) -> bytes:
    doc = json.loads(checklist.BUNDLED_DEFINITION.read_bytes())
    doc["version"] = version
    if drop:
        doc["items"] = [i for i in doc["items"] if i["code"] != drop]
    if rename:
        doc["items"][0]["name_zh"] = rename
    return json.dumps(doc, ensure_ascii=False, indent=1).encode("utf-8")


def test_signed_but_malformed_definition_is_refused(it_key: SigningKey) -> None:
    doc = json.loads(new_version(2))
    doc["items"][1]["code"] = doc["items"][0]["code"]  # duplicate code
    bad = json.dumps(doc).encode()
    with pytest.raises(ChecklistInvalid) as info:
        checklist.load_checklist(bad, it_key.sign(bad))
    assert "items[1].code" in info.value.message("en")
    for broken in (b"{", b"[]", json.dumps({**doc, "format": "x"}).encode()):
        with pytest.raises(ChecklistInvalid):
            checklist.load_checklist(broken, it_key.sign(broken))


def test_centre_installs_a_new_version_old_ones_kept(
    session: Session, it_key: SigningKey
) -> None:
    assert checklist.checklist_in_force(session).version == 1
    v2 = new_version(2, drop="P28")
    installed = checklist.install_checklist(session, v2, it_key.sign(v2))
    assert installed.version == 2 and len(installed) == 27
    assert checklist.checklist_in_force(session).version == 2
    assert checklist.installed_versions(session) == [2]
    # the same bytes again: nothing happens
    checklist.install_checklist(session, v2, it_key.sign(v2))
    # an older or equal version is refused, and a different v2 too
    v1 = new_version(1, rename="改过的名字")
    with pytest.raises(ChecklistNotNewer):
        checklist.install_checklist(session, v1, it_key.sign(v1))
    other_v2 = new_version(2, rename="改过的名字")
    with pytest.raises(ChecklistVersionConflict):
        checklist.install_checklist(session, other_v2, it_key.sign(other_v2))
    # a tampered v3 is refused before anything is written
    v3 = new_version(3)
    with pytest.raises(ChecklistBadSignature):
        checklist.install_checklist(session, v3.replace(b"P01", b"P99"), it_key.sign(v3))
    assert checklist.installed_versions(session) == [2]
    # the bundled v1 stays available for patrols that started with it
    assert len(checklist.checklist_version(session, 1)) == 28
    entries = [e for e in session.audit.entries() if e["detail"].get("kind") == "checklist"]
    assert [e["detail"]["version"] for e in entries] == [2]


def test_installed_versions_are_never_changed(session: Session, it_key: SigningKey) -> None:
    import sqlcipher3

    v2 = new_version(2)
    checklist.install_checklist(session, v2, it_key.sign(v2))
    with pytest.raises(sqlcipher3.IntegrityError), session.db.conn:
        session.db.execute("UPDATE checklists SET definition = x'00' WHERE version = 2")
    with pytest.raises(sqlcipher3.IntegrityError), session.db.conn:
        session.db.execute("DELETE FROM checklists")


def test_stored_checklist_is_verified_again_when_loaded(
    session: Session, it_key: SigningKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    v2 = new_version(2)
    checklist.install_checklist(session, v2, it_key.sign(v2))
    monkeypatch.setattr(checklist, "PINNED_PUBLIC_KEYS", (checklist.DEVELOPMENT_PUBLIC_KEY,))
    with pytest.raises(ChecklistBadSignature):
        checklist.checklist_in_force(session)


def test_centre_resending_the_bundled_default_is_harmless(session: Session) -> None:
    definition = checklist.BUNDLED_DEFINITION.read_bytes()
    signature = checklist.signature_path(checklist.BUNDLED_DEFINITION).read_text()
    assert checklist.install_checklist(session, definition, signature).version == 1
    assert checklist.installed_versions(session) == []
    assert checklist.checklist_in_force(session).version == 1


def test_sign_checklist_script_round_trip(tmp_path: Path) -> None:
    """IT's tool: keygen, sign, verify (the key is pinned only for the verify step)."""
    import subprocess
    import sys

    script = Path(checklist.__file__).resolve().parents[2] / "scripts" / "sign_checklist.py"
    key = tmp_path / "it.pem"
    out = subprocess.run([sys.executable, str(script), "keygen", "--out", str(key)],
                         capture_output=True, text=True, check=True)
    public = out.stdout.strip()
    assert key.stat().st_mode & 0o077 == 0
    definition = tmp_path / "v2.json"
    definition.write_bytes(new_version(2))
    subprocess.run([sys.executable, str(script), "sign", str(definition), "--key", str(key)],
                   capture_output=True, text=True, check=True)
    loaded = checklist.load_checklist_file(definition, public_keys=(public,))
    assert loaded.version == 2
    verify = subprocess.run(
        [sys.executable, str(script), "verify", str(definition), "--public-key", public],
        capture_output=True, text=True,
    )
    assert verify.returncode == 0 and "version 2" in verify.stdout
    pinned = subprocess.run([sys.executable, str(script), "verify", str(definition)],
                            capture_output=True, text=True)
    assert pinned.returncode == 1 and "signature" in pinned.stderr
    broken = tmp_path / "broken.json"
    broken.write_bytes(b'{"format": "gridfield-checklist"}')
    refused = subprocess.run(
        [sys.executable, str(script), "sign", str(broken), "--key", str(key)],
        capture_output=True, text=True,
    )
    assert refused.returncode == 1 and not checklist.signature_path(broken).exists()
