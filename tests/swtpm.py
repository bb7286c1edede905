"""A private, throw-away software TPM 2.0 (Debian's swtpm) for tests.

``private_swtpm()`` starts ``swtpm socket --tpm2`` on two free consecutive loopback
ports (the swtpm TCTI talks to the control channel on port + 1) with its state in a
fresh temporary directory, already started up (``--flags
not-need-init,startup-clear``), and yields the TCTI string for it. The TPM's
dictionary-attack parameters are set to what rugged tablets ship with (32 tries)
instead of swtpm's 3, so ten wrong PINs reach the app's own erase. The process is
killed and the directory removed on exit.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator

SWTPM = "swtpm"


class SwtpmError(RuntimeError):
    """The software TPM could not be started."""


def swtpm_available() -> bool:
    return shutil.which(SWTPM) is not None


def _free_port_pair() -> int:
    for _ in range(50):
        with socket.socket() as first:
            first.bind(("127.0.0.1", 0))
            port = first.getsockname()[1]
            if port >= 65535:
                continue
            with socket.socket() as second:
                try:
                    second.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
        return int(port)
    raise SwtpmError("no two free consecutive ports")


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


@contextlib.contextmanager
def private_swtpm(max_tries: int = 32, recovery_time: int = 10) -> Iterator[str]:
    state_dir = tempfile.mkdtemp(prefix="gridfield-swtpm-")
    process = None
    try:
        for _ in range(5):  # a port taken between the check and swtpm's bind: retry
            port = _free_port_pair()
            process = subprocess.Popen(
                [SWTPM, "socket", "--tpm2",
                 "--server", f"type=tcp,port={port},bindaddr=127.0.0.1",
                 "--ctrl", f"type=tcp,port={port + 1},bindaddr=127.0.0.1",
                 "--tpmstate", f"dir={state_dir}",
                 "--flags", "not-need-init,startup-clear"],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            )
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and process.poll() is None:
                if _answers(port) and _answers(port + 1):
                    break
                time.sleep(0.02)
            if process.poll() is None:
                break
            process = None
        if process is None:
            raise SwtpmError("swtpm did not start")
        tcti = f"swtpm:host=127.0.0.1,port={port}"
        _set_lockout(tcti, max_tries, recovery_time)
        yield tcti
    finally:
        if process is not None:
            process.kill()
            process.wait(timeout=10)
            if process.stderr is not None:
                process.stderr.close()
        shutil.rmtree(state_dir, ignore_errors=True)


def _set_lockout(tcti: str, max_tries: int, recovery_time: int) -> None:
    os.environ.setdefault("TSS2_LOG", "all+NONE")
    from tpm2_pytss import ESAPI
    from tpm2_pytss.constants import ESYS_TR

    esys = ESAPI(tcti)
    try:
        esys.dictionary_attack_parameters(max_tries, recovery_time, recovery_time,
                                          lock_handle=ESYS_TR.LOCKOUT)
    finally:
        esys.close()
