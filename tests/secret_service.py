"""A private, throw-away Secret Service (gnome-keyring) for tests.

``private_secret_service()`` starts its own D-Bus session bus and a
``gnome-keyring-daemon`` (secrets component only) on it, with HOME and the XDG
directories pointed at a fresh temporary directory. The daemon is unlocked
non-interactively by piping a password on stdin, which creates an unlocked
"login" collection that is also the default alias, so no prompt ever appears.

While the context is active ``os.environ["DBUS_SESSION_BUS_ADDRESS"]`` points at
the private bus (so ``keyring``/``secretstorage``/``jeepney`` use it); the
previous value is restored on exit, the daemons are stopped and the temporary
directory is removed. Nothing here touches the developer's real keyring.

Plain Python (no Qt); needs ``dbus-daemon`` and ``gnome-keyring-daemon`` on
PATH (Debian packages ``dbus`` and ``gnome-keyring``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

_DBUS_DAEMON = "dbus-daemon"
_KEYRING_DAEMON = "gnome-keyring-daemon"
_SECRETS_NAME = "org.freedesktop.secrets"
_SECRETS_PATH = "/org/freedesktop/secrets"


class SecretServiceError(RuntimeError):
    """The private Secret Service could not be started."""


def secret_service_available() -> bool:
    """True if the binaries needed by ``private_secret_service`` are on PATH."""
    return shutil.which(_DBUS_DAEMON) is not None and shutil.which(_KEYRING_DAEMON) is not None


def _stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


def _read_log(path: Path) -> str:
    try:
        return path.read_text(errors="replace").strip()
    except OSError:
        return ""


def _default_collection_ready(address: str) -> bool:
    """True once the keyring daemon owns the name and the default alias is set."""
    from jeepney import DBusAddress, new_method_call
    from jeepney.bus_messages import message_bus
    from jeepney.io.blocking import open_dbus_connection

    with open_dbus_connection(bus=address) as conn:
        reply = conn.send_and_get_reply(message_bus.NameHasOwner(_SECRETS_NAME), timeout=5)
        if not reply.body[0]:
            return False
        service = DBusAddress(_SECRETS_PATH, bus_name=_SECRETS_NAME,
                              interface="org.freedesktop.Secret.Service")
        msg = new_method_call(service, "ReadAlias", "s", ("default",))
        reply = conn.send_and_get_reply(msg, timeout=5)
        return bool(reply.body) and reply.body[0] not in ("", "/")


@contextlib.contextmanager
def private_secret_service(
    password: str = "gridfield-test-keyring", timeout: float = 20.0
) -> Iterator[str]:
    """Run a private session bus + unlocked gnome-keyring; yield the bus address."""
    if not secret_service_available():
        raise SecretServiceError(
            f"{_DBUS_DAEMON} and {_KEYRING_DAEMON} must be on PATH "
            "(Debian: apt-get install dbus gnome-keyring)"
        )

    root = Path(tempfile.mkdtemp(prefix="gf-ss-"))
    dirs = {name: root / name for name in ("home", "runtime", "data", "config", "cache")}
    for d in dirs.values():
        d.mkdir(mode=0o700)
    dbus_log = root / "dbus-daemon.log"
    keyring_log = root / "gnome-keyring-daemon.log"

    env = dict(os.environ)
    for var in ("DBUS_SESSION_BUS_ADDRESS", "GNOME_KEYRING_CONTROL", "SSH_AUTH_SOCK"):
        env.pop(var, None)
    env.update(
        HOME=str(dirs["home"]),
        XDG_RUNTIME_DIR=str(dirs["runtime"]),
        XDG_DATA_HOME=str(dirs["data"]),
        XDG_CONFIG_HOME=str(dirs["config"]),
        XDG_CACHE_HOME=str(dirs["cache"]),
        GSETTINGS_BACKEND="memory",  # don't let the daemon activate dconf on our bus
    )

    dbus: subprocess.Popen[bytes] | None = None
    gkd: subprocess.Popen[bytes] | None = None
    old_address = os.environ.get("DBUS_SESSION_BUS_ADDRESS")
    try:
        bus_socket = dirs["runtime"] / "bus"
        with open(dbus_log, "wb") as log:
            # "Failed to set fd limit" warnings as root go to the log: harmless.
            dbus = subprocess.Popen(
                [_DBUS_DAEMON, "--session", "--nofork", "--nopidfile", "--nosyslog",
                 f"--address=unix:path={bus_socket}", "--print-address=1"],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log, env=env,
            )
        assert dbus.stdout is not None
        address = dbus.stdout.readline().decode().strip()
        dbus.stdout.close()
        if not address:
            raise SecretServiceError(f"dbus-daemon did not start: {_read_log(dbus_log)}")
        env["DBUS_SESSION_BUS_ADDRESS"] = address

        with open(keyring_log, "wb") as log:
            gkd = subprocess.Popen(
                [_KEYRING_DAEMON, "--foreground", "--unlock", "--components=secrets"],
                stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT, env=env,
            )
        assert gkd.stdin is not None
        gkd.stdin.write(password.encode())
        gkd.stdin.close()

        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while True:
            if gkd.poll() is not None:
                raise SecretServiceError(
                    f"gnome-keyring-daemon exited with {gkd.returncode}: {_read_log(keyring_log)}"
                )
            try:
                if _default_collection_ready(address):
                    break
            except Exception as exc:  # bus not answering yet, daemon still starting
                last_error = exc
            if time.monotonic() > deadline:
                raise SecretServiceError(
                    f"Secret Service not ready after {timeout}s (last error: {last_error!r}); "
                    f"gnome-keyring-daemon log: {_read_log(keyring_log)}"
                )
            time.sleep(0.05)

        os.environ["DBUS_SESSION_BUS_ADDRESS"] = address
        yield address
    finally:
        if old_address is None:
            os.environ.pop("DBUS_SESSION_BUS_ADDRESS", None)
        else:
            os.environ["DBUS_SESSION_BUS_ADDRESS"] = old_address
        _stop(gkd)
        _stop(dbus)
        shutil.rmtree(root, ignore_errors=True)
