"""Helpers for the central server tests: running ``central``, a PostgreSQL server, a
signing test device."""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine

from sync import protocol

REPO = Path(__file__).resolve().parents[2]
CENTRAL = [sys.executable, "-m", "central.cli"]
SEED_ARGS = ["seed-demo", "--grids", "3", "--households-per-grid", "6", "--seed", "7", "--json"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def central(db_url: str, *args: str, cwd: Path | None = None,
            check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``central --db URL ARGS`` as a real process."""
    result = subprocess.run(
        [*CENTRAL, "--db", db_url, *args],
        capture_output=True, text=True, timeout=60, cwd=cwd or REPO,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"central {' '.join(args)} exited {result.returncode}:\n"
            f"{result.stdout}\n{result.stderr}"
        )
    return result


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """Stop a server process: politely, then for good after 10 s."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def seeded_database(backend: str, workdir: Path, request: Any) -> tuple[str, dict[str, Any]]:
    """A database on ``backend`` (``sqlite`` in ``workdir``, or a new one on the test
    session's PostgreSQL server), after ``central init`` and ``seed-demo``: its URL and
    the demo district."""
    if backend == "sqlite":
        db_url = f"sqlite:///{workdir / 'central.db'}"
    else:
        db_url = request.getfixturevalue("pg_server").new_database()
    central(db_url, "init")
    return db_url, json.loads(central(db_url, *SEED_ARGS).stdout)


def central_json(db_url: str, *args: str) -> Any:
    return json.loads(central(db_url, *args, "--json").stdout)


# -- PostgreSQL ---

def _pg_bindir() -> str | None:
    for initdb in sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True):
        return os.path.dirname(initdb)
    found = shutil.which("initdb")
    return os.path.dirname(found) if found else None


@dataclass
class PgServer:
    port: int
    admin_url: str

    def new_database(self) -> str:
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"


@dataclass
class Server:
    backend: str
    base: str
    db_url: str
    demo: dict[str, Any]
    engine: Engine  # the test's own connection to the server's database

    def grid(self, i: int = 0) -> dict[str, Any]:
        return dict(self.demo["grids"][i])


def start_server(db_url: str, workdir: Path, *extra: str
                 ) -> tuple[subprocess.Popen[bytes], str]:
    """``central serve`` on a free loopback port (64 KiB body limit), ``extra`` options."""
    port = free_port()
    log = open(workdir / f"serve-{port}.log", "wb")
    proc = subprocess.Popen(
        [*CENTRAL, "--db", db_url, "serve", "--host", "127.0.0.1", "--port", str(port),
         "--max-body", "65536", *extra],
        cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.close()
            raise AssertionError(
                "central serve exited:\n" + (workdir / f"serve-{port}.log").read_text()
            )
        try:
            if requests.get(base + "/api/v1/health", timeout=1).status_code == 200:
                return proc, base
        except (requests.ConnectionError, requests.Timeout):  # still starting (or busy)
            pass
        time.sleep(0.1)
    proc.kill()
    raise AssertionError("central serve did not answer /api/v1/health within 30 s")


class Device:
    """A test device: an Ed25519 key pair and the signing scheme of sync/protocol.py."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.key = Ed25519PrivateKey.generate()
        self.device_id = ""
        self.session = requests.Session()

    def enroll(self, code: str, name: str = "测试平板") -> requests.Response:
        body = {"code": code, "public_key": protocol.public_key_b64(self.key), "device_name": name}
        resp = self.session.post(self.base + "/api/v1/enroll", json=body, timeout=10)
        if resp.status_code == 200:
            self.device_id = resp.json()["device_id"]
        return resp

    def request(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                body: bytes = b"", timestamp: int | None = None, nonce: str | None = None,
                key: Ed25519PrivateKey | None = None,
                extra_headers: dict[str, str] | None = None) -> requests.Response:
        req = requests.Request(method, self.base + path, params=params, data=body or None)
        prepared = self.session.prepare_request(req)
        headers = protocol.sign_headers(
            key or self.key, self.device_id, method, prepared.path_url, body,
            timestamp=timestamp, nonce=nonce,
        )
        prepared.headers.update(headers)
        if extra_headers:
            prepared.headers.update(extra_headers)
        return self.session.send(prepared, timeout=10)

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.request("GET", path, **kw)


@contextlib.contextmanager
def served_in_thread(app: Any) -> Iterator[str]:
    """``app`` (``central.app.create_app``'s) served by uvicorn on a free loopback port
    in a thread of this process, its lifespan run; yields the base URL."""
    import threading

    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


@contextlib.contextmanager
def throwaway_postgres(*, durable: bool = False) -> Iterator[PgServer]:
    """A throw-away PostgreSQL server in a temp dir (tests' ``pg_server``, benchmarks).

    Tests run it without flushing to disk; ``durable`` keeps PostgreSQL's defaults (a
    commit is on disk before it is answered), as benchmarks measure a real deployment."""
    bindir = _pg_bindir()
    if bindir is None:
        raise RuntimeError("PostgreSQL binaries not found (run scripts/install-sysdeps.sh)")
    root = os.geteuid() == 0
    prefix = ["runuser", "-u", "postgres", "--"] if root else []
    base = tempfile.mkdtemp(prefix="gridfield-pg-")
    if root:
        shutil.chown(base, "postgres", "postgres")
    data = os.path.join(base, "data")
    port = free_port()
    subprocess.run(
        [*prefix, f"{bindir}/initdb", "-D", data, "-A", "trust", "-U", "postgres",
         "--no-sync", "-E", "UTF8", "--locale", "C"],
        check=True, capture_output=True, timeout=120,
    )
    opts = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c max_connections=200"
    if not durable:
        opts += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    subprocess.run(
        [*prefix, f"{bindir}/pg_ctl", "-D", data, "-o", opts, "-l",
         os.path.join(base, "log"), "-w", "-t", "60", "start"],
        check=True, capture_output=True, timeout=90,
    )
    try:
        yield PgServer(port, f"postgresql://postgres@127.0.0.1:{port}/postgres")
    finally:
        subprocess.run([*prefix, f"{bindir}/pg_ctl", "-D", data, "-m", "immediate", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(base, ignore_errors=True)
