"""The device secret sealed in a TPM 2.0, and a wrong-PIN count a file edit cannot reset.

What lives in the TPM (owner hierarchy), per device, at handles recorded in vault.json:

* **the sealed device secret**: a keyed-hash data object made by the TPM under its
  storage primary key, with ``userAuth`` = a KDF of the PIN (Argon2id, then HKDF:
  never the PIN itself), ``fixedTPM|fixedParent|userWithAuth`` and *not* ``noDA``.
  Every wrong auth value is counted by the TPM's own dictionary-attack protection
  (after ``maxTries`` it refuses every try for ``recoveryTime``), and there is no
  copy anywhere else: its private blob is made persistent with ``EvictControl`` and
  never written to disk. So no offline guessing is possible (a copy of the data
  directory holds nothing to guess against), and a crypto-erase (``EvictControl``
  again, which deletes it) cannot be undone by restoring a copy of the data directory.
* **a failure counter**: an NV counter (``TPM_NT_COUNTER``: it can only go up; even
  a counter defined afresh starts at the highest value any counter ever had). Each
  unlock increments it *before* the PIN is tried, so killing the process or the
  power mid-try still counts the try.
* **a baseline**: an 8-byte-triple NV index (origin at set-up, counter value at the
  last successful unlock, number of successful unlocks), readable by the owner but
  writable only with an auth value derived from the device secret, that is only after
  a successful unseal. Wrong PINs in a row = counter - baseline; failures since
  set-up = counter - origin - successes. Editing or restoring vault.json changes
  neither; only the right PIN moves the baseline.

Delays between tries are measured with the TPM's ``time`` (milliseconds since the
TPM was last reset, which nobody can set), with its reset/restart counts: moving the
wall clock changes nothing; after a reboot the delay starts again in full. The start
of a delay is written in vault.json (the TPM has no place writable without the PIN
that an attacker could not write too): deleting that record restarts the delay, but
forging it can skip delays. That gains at most the ten tries before the erase, and
each try is still counted by the TPM's dictionary-attack lockout.

Limits, stated honestly: whoever holds the owner or lockout authorization of the TPM
(empty on most Linux tablets, so root on a booted tablet) can delete the NV indices
and reset the TPM's dictionary-attack lockout; setting those authorizations is IT's
provisioning step. Even then the PIN can only be tried by the TPM, one try at a time.

Windows: the same design maps onto the Platform Crypto Provider (NCrypt with
``MS_PLATFORM_CRYPTO_PROVIDER``), whose keys are TPM-bound and PIN-protected with the
TPM's lockout. Not implemented here; Windows tablets use the keyring store.

The TPM is ``GRIDFIELD_TPM_TCTI`` (a TCTI string, e.g.
``swtpm:host=127.0.0.1,port=2321``) or the kernel's resource manager ``/dev/tpmrm0``.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from fieldclient.errors import KeystoreError, TpmUnavailable

TCTI_ENV = "GRIDFIELD_TPM_TCTI"
DEVICE_RM = Path("/dev/tpmrm0")
# Owner-range handles: persistent objects 0x81000000-0x817FFFFF, NV 0x01000000-0x01BFFFFF.
PERSISTENT_BASE = 0x81570000
NV_BASE = 0x01570000
HANDLE_SPREAD = 0x10000
_BASELINE = struct.Struct(">QQQ")  # origin, baseline, successes


class TpmAuthFailed(Exception):
    """The TPM refused the auth value: a wrong PIN (counted by the TPM too)."""


class TpmLockedOut(Exception):
    """The TPM's own dictionary-attack lockout is on; no PIN is tried."""

    def __init__(self, wait_seconds: int) -> None:
        super().__init__(wait_seconds)
        self.wait_seconds = wait_seconds


class TpmObjectMissing(Exception):
    """A handle recorded in vault.json is not in the TPM (erased, or another TPM)."""


@dataclass(frozen=True)
class TpmHandles:
    sealed: int
    counter: int
    baseline: int

    def to_json(self) -> dict[str, str]:
        return {"sealed": f"{self.sealed:#010x}", "counter": f"{self.counter:#010x}",
                "baseline": f"{self.baseline:#010x}"}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TpmHandles:
        return cls(int(str(data["sealed"]), 16), int(str(data["counter"]), 16),
                   int(str(data["baseline"]), 16))


@dataclass(frozen=True)
class TpmCount:
    counter: int
    origin: int
    baseline: int
    successes: int

    @property
    def in_a_row(self) -> int:
        """Wrong PINs since the last successful unlock."""
        return max(0, self.counter - self.baseline)

    @property
    def total(self) -> int:
        """Wrong PINs since set-up (every try counted, minus those that succeeded)."""
        return max(0, self.counter - self.origin - self.successes)


@dataclass(frozen=True)
class TpmTime:
    """The TPM's own time: ``ms`` since its last reset; ``epoch`` changes on reset/restart."""

    epoch: str
    ms: int


def configured_tcti() -> str | None:
    """The TCTI to use: the env var, else the kernel's resource manager if present."""
    tcti = os.environ.get(TCTI_ENV, "").strip()
    if tcti:
        return tcti
    if DEVICE_RM.exists():
        return f"device:{DEVICE_RM}"
    return None


def auth_from_stretched(stretched: bytes | bytearray) -> bytes:
    """The sealed object's auth value from the Argon2id-stretched PIN (never the PIN)."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=b"gridfield tpm auth v1").derive(bytes(stretched))


def _baseline_auth(device_secret: bytes | bytearray) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=b"gridfield tpm baseline v1").derive(bytes(device_secret))


def _rc_error(exc: Exception) -> int:
    return int(getattr(exc, "error", 0) or 0)


class TpmSecretStore:
    """The device secret sealed in a TPM 2.0 (see the module docstring)."""

    kind = "tpm"
    is_fallback = False

    def __init__(self, tcti: str) -> None:
        self.tcti = tcti

    def describe(self) -> str:
        return f"TPM 2.0 ({self.tcti})"

    # -- connection ---------------------------------------------------------------------
    @contextmanager
    def _esapi(self) -> Iterator[Any]:
        # The TSS logs every TPM error (a wrong PIN included) to stderr; errors are ours.
        os.environ.setdefault("TSS2_LOG", "all+NONE")
        try:
            from tpm2_pytss import ESAPI
        except ImportError as exc:  # pragma: no cover - a dependency of the package
            raise KeystoreError(reason=f"tpm2-pytss unavailable: {exc}") from exc
        try:
            esys = ESAPI(self.tcti)
        except Exception as exc:
            raise TpmUnavailable(reason=f"{self.tcti}: {exc}") from exc
        try:
            yield esys
        finally:
            esys.close()

    def probe(self) -> bool:
        """Whether this TPM answers and its owner hierarchy can be used (empty owner auth)."""
        try:
            with self._esapi() as esys:
                esys.flush_context(self._primary(esys))
            return True
        except Exception:
            return False

    @staticmethod
    def _primary(esys: Any) -> Any:
        """The storage primary key (ECC P-256, recreated from the owner seed each time)."""
        from tpm2_pytss import TPM2B_PUBLIC, TPM2B_SENSITIVE_CREATE
        from tpm2_pytss.constants import ESYS_TR, TPMA_OBJECT

        public = TPM2B_PUBLIC.parse(
            "ecc256:aes128cfb",
            objectAttributes=TPMA_OBJECT.DEFAULT_TPM2_TOOLS_CREATEPRIMARY_ATTRS,
        )
        handle, *_ = esys.create_primary(TPM2B_SENSITIVE_CREATE(), public,
                                         primary_handle=ESYS_TR.OWNER)
        return handle

    @staticmethod
    def _used_handles(esys: Any, first: int) -> set[int]:
        from tpm2_pytss.constants import TPM2_CAP

        used: set[int] = set()
        more, data = esys.get_capability(TPM2_CAP.HANDLES, first, 256)
        used.update(int(h) for h in data.data.handles)
        while more and data.data.handles:
            last = int(data.data.handles[-1])
            more, data = esys.get_capability(TPM2_CAP.HANDLES, last + 1, 256)
            used.update(int(h) for h in data.data.handles)
        return used

    def _free_handle(self, esys: Any, base: int, count: int = 1) -> int:
        used = self._used_handles(esys, base)
        for _ in range(64):
            start = base + int.from_bytes(os.urandom(2), "big") % (HANDLE_SPREAD - count)
            if all(start + i not in used for i in range(count)):
                return start
        raise KeystoreError(reason="no free TPM handle")

    @staticmethod
    def _tr(esys: Any, handle: int) -> Any:
        try:
            return esys.tr_from_tpmpublic(handle)
        except Exception as exc:
            if _rc_error(exc) in (0x18B, 0x184) or "handle" in str(exc).lower():
                raise TpmObjectMissing(f"{handle:#010x}") from exc
            raise KeystoreError(reason=f"TPM: {exc}") from exc

    # -- set-up ---------------------------------------------------------------------------
    def create(self, device_secret: bytes | bytearray, auth: bytes) -> TpmHandles:
        """Seal the secret, define the counter and the baseline; return their handles."""
        from tpm2_pytss import TPM2B_NV_PUBLIC, TPMS_NV_PUBLIC
        from tpm2_pytss.constants import ESYS_TR, TPM2_ALG, TPM2_NT, TPMA_NV

        try:
            with self._esapi() as esys:
                sealed = self._seal(esys, device_secret, auth)
                nv = self._free_handle(esys, NV_BASE, 2)
                counter_pub = TPM2B_NV_PUBLIC(nvPublic=TPMS_NV_PUBLIC(
                    nvIndex=nv, nameAlg=TPM2_ALG.SHA256,
                    attributes=TPMA_NV.AUTHWRITE | TPMA_NV.AUTHREAD | TPMA_NV.NO_DA
                    | (TPM2_NT.COUNTER << TPMA_NV.TPM2_NT_SHIFT),
                    dataSize=8))
                counter = esys.nv_define_space(b"", counter_pub, auth_handle=ESYS_TR.OWNER)
                esys.nv_increment(counter, auth_handle=counter)
                start = int.from_bytes(bytes(esys.nv_read(counter, 8, 0, auth_handle=counter)),
                                       "big")
                base_pub = TPM2B_NV_PUBLIC(nvPublic=TPMS_NV_PUBLIC(
                    nvIndex=nv + 1, nameAlg=TPM2_ALG.SHA256,
                    attributes=TPMA_NV.AUTHWRITE | TPMA_NV.OWNERREAD | TPMA_NV.NO_DA
                    | (TPM2_NT.ORDINARY << TPMA_NV.TPM2_NT_SHIFT),
                    dataSize=_BASELINE.size))
                baseline = esys.nv_define_space(_baseline_auth(device_secret), base_pub,
                                                auth_handle=ESYS_TR.OWNER)
                esys.nv_write(baseline, _BASELINE.pack(start, start, 0), 0,
                              auth_handle=baseline)
                return TpmHandles(sealed=sealed, counter=nv, baseline=nv + 1)
        except KeystoreError:
            raise
        except Exception as exc:
            raise KeystoreError(reason=f"TPM set-up failed: {exc}") from exc

    def _seal(self, esys: Any, secret: bytes | bytearray, auth: bytes) -> int:
        """A new persistent sealed object holding ``secret`` under ``auth``; its handle."""
        from tpm2_pytss import (
            TPM2B_PUBLIC,
            TPM2B_SENSITIVE_CREATE,
            TPMS_SENSITIVE_CREATE,
            TPMT_PUBLIC,
        )
        from tpm2_pytss.constants import ESYS_TR, TPM2_ALG, TPMA_OBJECT

        primary = self._primary(esys)
        try:
            public = TPM2B_PUBLIC(publicArea=TPMT_PUBLIC(
                type=TPM2_ALG.KEYEDHASH, nameAlg=TPM2_ALG.SHA256,
                # No NODA: every wrong PIN counts against the TPM's lockout.
                objectAttributes=TPMA_OBJECT.FIXEDTPM | TPMA_OBJECT.FIXEDPARENT
                | TPMA_OBJECT.USERWITHAUTH))
            public.publicArea.parameters.keyedHashDetail.scheme.scheme = TPM2_ALG.NULL
            sensitive = TPM2B_SENSITIVE_CREATE(sensitive=TPMS_SENSITIVE_CREATE(
                userAuth=auth, data=bytes(secret)))
            private, pub, *_ = esys.create(primary, sensitive, public)
            loaded = esys.load(primary, private, pub)
            try:
                handle = self._free_handle(esys, PERSISTENT_BASE)
                persistent = esys.evict_control(ESYS_TR.OWNER, loaded, handle)
                esys.tr_close(persistent)
                return handle
            finally:
                esys.flush_context(loaded)
        finally:
            esys.flush_context(primary)

    # -- the count ---------------------------------------------------------------------------
    def count(self, handles: TpmHandles) -> TpmCount:
        from tpm2_pytss.constants import ESYS_TR

        with self._esapi() as esys:
            try:
                counter = self._tr(esys, handles.counter)
                value = int.from_bytes(
                    bytes(esys.nv_read(counter, 8, 0, auth_handle=counter)), "big")
                baseline = self._tr(esys, handles.baseline)
                origin, base, successes = _BASELINE.unpack(bytes(
                    esys.nv_read(baseline, _BASELINE.size, 0, auth_handle=ESYS_TR.OWNER)))
            except (TpmObjectMissing, KeystoreError):
                raise
            except Exception as exc:
                raise KeystoreError(reason=f"TPM counter unreadable: {exc}") from exc
        return TpmCount(counter=value, origin=origin, baseline=base, successes=successes)

    def lockout_wait(self) -> int:
        """Seconds the TPM's own dictionary-attack lockout still refuses tries (0: none)."""
        from tpm2_pytss.constants import TPM2_CAP, TPM2_PT

        with self._esapi() as esys:
            _, data = esys.get_capability(TPM2_CAP.TPM_PROPERTIES, TPM2_PT.LOCKOUT_COUNTER, 4)
        props = {int(p.property): int(p.value) for p in data.data.tpmProperties}
        failures = props.get(int(TPM2_PT.LOCKOUT_COUNTER), 0)
        max_tries = props.get(int(TPM2_PT.MAX_AUTH_FAIL), 0)
        if max_tries and failures >= max_tries:
            return max(1, props.get(int(TPM2_PT.LOCKOUT_INTERVAL), 1))
        return 0

    def now(self) -> TpmTime:
        with self._esapi() as esys:
            info = esys.read_clock()
        clock = info.clockInfo
        return TpmTime(epoch=f"{int(clock.resetCount)}.{int(clock.restartCount)}",
                       ms=int(info.time))

    # -- unlock ---------------------------------------------------------------------------
    def unseal(self, handles: TpmHandles, auth: bytes) -> bytearray:
        """Count the try in the NV counter, then unseal; the counter goes up first."""
        from tpm2_pytss.constants import TPM2_RC

        with self._esapi() as esys:
            counter = self._tr(esys, handles.counter)
            sealed = self._tr(esys, handles.sealed)
            try:
                esys.nv_increment(counter, auth_handle=counter)
            except Exception as exc:
                raise KeystoreError(reason=f"TPM counter: {exc}") from exc
            esys.tr_set_auth(sealed, auth)
            try:
                data = esys.unseal(sealed)
            except Exception as exc:
                error = _rc_error(exc)
                if error in (int(TPM2_RC.AUTH_FAIL), int(TPM2_RC.BAD_AUTH)):
                    raise TpmAuthFailed() from exc
                if error == int(TPM2_RC.LOCKOUT):
                    raise TpmLockedOut(self._interval(esys)) from exc
                raise KeystoreError(reason=f"TPM unseal: {exc}") from exc
            return bytearray(bytes(data))

    @staticmethod
    def _interval(esys: Any) -> int:
        from tpm2_pytss.constants import TPM2_CAP, TPM2_PT

        _, data = esys.get_capability(TPM2_CAP.TPM_PROPERTIES, TPM2_PT.LOCKOUT_INTERVAL, 1)
        return max(1, int(data.data.tpmProperties[0].value))

    def record_success(self, handles: TpmHandles, device_secret: bytes | bytearray) -> None:
        """Move the baseline to the counter: wrong PINs in a row go back to zero."""
        from tpm2_pytss.constants import ESYS_TR

        with self._esapi() as esys:
            try:
                counter = self._tr(esys, handles.counter)
                value = int.from_bytes(
                    bytes(esys.nv_read(counter, 8, 0, auth_handle=counter)), "big")
                baseline = self._tr(esys, handles.baseline)
                origin, _, successes = _BASELINE.unpack(bytes(
                    esys.nv_read(baseline, _BASELINE.size, 0, auth_handle=ESYS_TR.OWNER)))
                esys.tr_set_auth(baseline, _baseline_auth(device_secret))
                esys.nv_write(baseline, _BASELINE.pack(origin, value, successes + 1), 0,
                              auth_handle=baseline)
            except (TpmObjectMissing, KeystoreError):
                raise
            except Exception as exc:
                raise KeystoreError(reason=f"TPM baseline: {exc}") from exc

    def reseal(self, handles: TpmHandles, device_secret: bytes | bytearray,
               auth: bytes) -> TpmHandles:
        """The same secret under a new auth (PIN change), at a new handle.

        The caller records the new handle in vault.json, then :meth:`drop_sealed` the old
        one: a power cut in between leaves the old PIN working, never no secret at all.
        """
        try:
            with self._esapi() as esys:
                sealed = self._seal(esys, device_secret, auth)
        except KeystoreError:
            raise
        except Exception as exc:
            raise KeystoreError(reason=f"TPM reseal failed: {exc}") from exc
        return TpmHandles(sealed=sealed, counter=handles.counter, baseline=handles.baseline)

    def drop_sealed(self, handle: int) -> None:
        from tpm2_pytss.constants import ESYS_TR

        with self._esapi() as esys:
            try:
                tr = self._tr(esys, handle)
            except TpmObjectMissing:
                return
            try:
                esys.evict_control(ESYS_TR.OWNER, tr, handle)
            except Exception as exc:
                raise KeystoreError(reason=f"TPM erase: {exc}") from exc

    def destroy(self, handles: TpmHandles) -> None:
        """Crypto-erase: evict the sealed secret, delete the counter and the baseline."""
        from tpm2_pytss.constants import ESYS_TR

        self.drop_sealed(handles.sealed)
        with self._esapi() as esys:
            for nv in (handles.baseline, handles.counter):
                try:
                    tr = self._tr(esys, nv)
                except TpmObjectMissing:
                    continue
                try:
                    esys.nv_undefine_space(tr, auth_handle=ESYS_TR.OWNER)
                except Exception as exc:
                    raise KeystoreError(reason=f"TPM erase: {exc}") from exc


def available_tpm() -> TpmSecretStore | None:
    """The configured TPM if it answers and its owner hierarchy is usable, else None."""
    tcti = configured_tcti()
    if tcti is None:
        return None
    store = TpmSecretStore(tcti)
    return store if store.probe() else None
