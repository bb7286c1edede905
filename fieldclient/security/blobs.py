"""Encrypted files for binary data (photos): one file per blob, written atomically.

Each file: magic, then AES-256-GCM(nonce || ciphertext+tag) under a per-blob key
derived from the DEK; the blob id is the associated data, so a file renamed onto
another id fails to open just like a flipped byte.
"""

from __future__ import annotations

import re
from pathlib import Path

from fieldclient.errors import BlobCorrupted, BlobMissing
from fieldclient.fsutil import atomic_write
from fieldclient.ids import new_id
from fieldclient.security import crypto

MAGIC = b"GFB1"
_ID = re.compile(r"^[0-9a-f]{32}$")


class BlobStore:
    def __init__(self, root: Path, dek: bytes | bytearray) -> None:
        self.root = root
        # A bytearray, wiped by close(): the per-blob keys are short-lived bytes
        self._master = crypto.subkey_into(dek, b"gridfield blobs v1")

    def _path(self, blob_id: str) -> Path:
        if not _ID.fullmatch(blob_id):  # not match(): "$" also matches before a final "\n"
            raise BlobMissing(blob_id=blob_id)
        return self.root / blob_id[:2] / blob_id

    def _key(self, blob_id: str) -> bytes:
        # After close() the master is empty, and HKDF of b"" is a key anyone can
        # compute: refuse, rather than silently write blobs under it.
        if not self._master:
            raise RuntimeError("blob store is closed (device locked)")
        return crypto.subkey(self._master, b"blob:" + blob_id.encode("ascii"))

    def put(self, data: bytes, blob_id: str | None = None) -> str:
        blob_id = blob_id or new_id()
        aad = blob_id.encode("ascii")
        key = self._key(blob_id)
        try:
            atomic_write(self._path(blob_id), MAGIC + crypto.seal(key, data, aad))
        finally:
            crypto.wipe_bytes(key)
        return blob_id

    def get(self, blob_id: str) -> bytes:
        path = self._path(blob_id)
        try:
            raw = path.read_bytes()
        except FileNotFoundError as exc:
            raise BlobMissing(blob_id=blob_id) from exc
        if not raw.startswith(MAGIC):
            raise BlobCorrupted(blob_id=blob_id)
        key = self._key(blob_id)
        try:
            return crypto.open_sealed(key, raw[len(MAGIC) :], blob_id.encode())
        except crypto.InvalidTag as exc:
            raise BlobCorrupted(blob_id=blob_id) from exc
        finally:
            crypto.wipe_bytes(key)

    def delete(self, blob_id: str) -> None:
        self._path(blob_id).unlink(missing_ok=True)

    def exists(self, blob_id: str) -> bool:
        return self._path(blob_id).exists()

    def close(self) -> None:
        crypto.wipe(self._master)
        self._master = bytearray()
