"""Encrypted blob files: round trip, tamper detection, id binding, atomic writes."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fieldclient.errors import BlobCorrupted, BlobMissing
from fieldclient.security import crypto
from fieldclient.security.blobs import MAGIC, BlobStore

HEADER = len(MAGIC)
NONCE = crypto.NONCE_BYTES
TAG = 16


@pytest.fixture()
def blobs(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "blobs", crypto.random_key())


def _file(blobs: BlobStore, blob_id: str) -> Path:
    return blobs.root / blob_id[:2] / blob_id


def test_round_trip(blobs: BlobStore) -> None:
    for data in (b"", b"x", os.urandom(1000), os.urandom(1 << 20)):
        blob_id = blobs.put(data)
        assert len(blob_id) == 32
        assert blobs.exists(blob_id)
        assert blobs.get(blob_id) == data
        raw = _file(blobs, blob_id).read_bytes()
        assert raw.startswith(MAGIC)
        assert len(raw) == HEADER + NONCE + len(data) + TAG
        if len(data) >= 16:  # (a single byte may turn up by chance)
            assert data not in raw


def test_explicit_id_and_overwrite(blobs: BlobStore) -> None:
    blob_id = "ab" * 16
    assert blobs.put(b"one", blob_id) == blob_id
    blobs.put(b"two", blob_id)
    assert blobs.get(blob_id) == b"two"


def test_same_data_encrypts_differently(blobs: BlobStore) -> None:
    a, b = blobs.put(b"same"), blobs.put(b"same")
    assert _file(blobs, a).read_bytes() != _file(blobs, b).read_bytes()


def test_another_dek_cannot_read(tmp_path: Path, blobs: BlobStore) -> None:
    blob_id = blobs.put(b"secret photo")
    other = BlobStore(blobs.root, crypto.random_key())
    with pytest.raises(BlobCorrupted):
        other.get(blob_id)


@pytest.mark.parametrize(
    "where",
    [
        "magic-first",
        "magic-last",
        "nonce-first",
        "nonce-last",
        "ciphertext-first",
        "ciphertext-middle",
        "ciphertext-last",
        "tag-first",
        "tag-last",
    ],
)
def test_one_flipped_byte_anywhere_is_detected(blobs: BlobStore, where: str) -> None:
    data = bytes(range(256)) * 4
    blob_id = blobs.put(data)
    path = _file(blobs, blob_id)
    raw = bytearray(path.read_bytes())
    body = HEADER + NONCE
    position = {
        "magic-first": 0,
        "magic-last": HEADER - 1,
        "nonce-first": HEADER,
        "nonce-last": body - 1,
        "ciphertext-first": body,
        "ciphertext-middle": body + len(data) // 2,
        "ciphertext-last": body + len(data) - 1,
        "tag-first": len(raw) - TAG,
        "tag-last": len(raw) - 1,
    }[where]
    raw[position] ^= 0x01
    path.write_bytes(bytes(raw))

    with pytest.raises(BlobCorrupted) as info:
        blobs.get(blob_id)
    assert blob_id in str(info.value)
    assert blob_id in info.value.message("en")
    assert blob_id in info.value.message("zh_CN")
    assert "损坏" in info.value.message("zh_CN")


@pytest.mark.parametrize("cut", [0, HEADER, HEADER + NONCE, HEADER + NONCE + TAG - 1, -1])
def test_truncated_file_is_corrupted(blobs: BlobStore, cut: int) -> None:
    blob_id = blobs.put(b"some bytes worth keeping")
    path = _file(blobs, blob_id)
    path.write_bytes(path.read_bytes()[:cut])
    with pytest.raises(BlobCorrupted):
        blobs.get(blob_id)


def test_appended_bytes_are_detected(blobs: BlobStore) -> None:
    blob_id = blobs.put(b"content")
    path = _file(blobs, blob_id)
    path.write_bytes(path.read_bytes() + b"\x00")
    with pytest.raises(BlobCorrupted):
        blobs.get(blob_id)


def test_a_file_moved_onto_another_id_fails(blobs: BlobStore) -> None:
    first = blobs.put(b"photo of house 1")
    second = blobs.put(b"photo of house 2")
    shutil.copyfile(_file(blobs, first), _file(blobs, second))
    with pytest.raises(BlobCorrupted) as info:
        blobs.get(second)
    assert second in info.value.message("en")

    third = "cd" * 16  # a fresh id the store never wrote
    target = _file(blobs, third)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(_file(blobs, first), target)
    with pytest.raises(BlobCorrupted):
        blobs.get(third)
    assert blobs.get(first) == b"photo of house 1"  # the original is unaffected


def test_missing_blob(blobs: BlobStore) -> None:
    blob_id = "0f" * 16
    with pytest.raises(BlobMissing) as info:
        blobs.get(blob_id)
    assert blob_id in info.value.message("zh_CN")
    assert blob_id in info.value.message("en")
    assert not blobs.exists(blob_id)

    stored = blobs.put(b"x")
    blobs.delete(stored)
    with pytest.raises(BlobMissing):
        blobs.get(stored)
    blobs.delete(stored)  # deleting twice is fine


@pytest.mark.parametrize(
    "bad_id",
    [
        "",
        "abc",
        "AB" * 16,
        "g" * 32,
        "0" * 31,
        "0" * 33,
        "../" + "0" * 29,
        "/etc/passwd",
        "0" * 32 + "\n",
        "ab/" + "c" * 29,
    ],
)
def test_invalid_ids_are_missing_and_never_touch_the_disk(
    tmp_path: Path, blobs: BlobStore, bad_id: str
) -> None:
    with pytest.raises(BlobMissing):
        blobs.get(bad_id)
    if bad_id:  # put(data, "") means "pick an id"
        with pytest.raises(BlobMissing):
            blobs.put(b"data", bad_id)
    with pytest.raises(BlobMissing):
        blobs.delete(bad_id)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_atomic_writes_leave_no_temp_files(
    blobs: BlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = [blobs.put(os.urandom(100)) for _ in range(20)]
    files = [p for p in blobs.root.rglob("*") if p.is_file()]
    assert sorted(p.name for p in files) == sorted(ids)

    # A crash at the rename: the old content stays, and no temp file is left behind.
    def failing_replace(src: object, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError):
        blobs.put(b"new content", ids[0])
    monkeypatch.undo()
    assert blobs.get(ids[0]) != b"new content"
    assert sorted(p.name for p in blobs.root.rglob("*") if p.is_file()) == sorted(ids)


def test_closed_store_refuses_to_read_or_write(blobs: BlobStore) -> None:
    blob_id = blobs.put(b"x")
    blobs.close()
    with pytest.raises(RuntimeError):
        blobs.get(blob_id)
    # Above all no write under a key derived from the emptied (publicly known) master.
    with pytest.raises(RuntimeError):
        blobs.put(b"written after lock")
    assert [p.name for p in blobs.root.rglob("*") if p.is_file()] == [blob_id]


@settings(max_examples=60, deadline=None, database=None)
@given(data=st.binary(max_size=4096), flip=st.integers(min_value=0))
def test_property_any_bytes_round_trip_and_any_flip_is_caught(data: bytes, flip: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        blobs = BlobStore(Path(tmp), crypto.random_key())
        blob_id = blobs.put(data)
        assert blobs.get(blob_id) == data
        path = _file(blobs, blob_id)
        raw = bytearray(path.read_bytes())
        raw[flip % len(raw)] ^= 1 << (flip % 8)
        path.write_bytes(bytes(raw))
        with pytest.raises(BlobCorrupted):
            blobs.get(blob_id)
