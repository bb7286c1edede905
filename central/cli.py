"""The ``central`` command: run and administer the reference central server.

Every command takes ``--db URL`` (default ``sqlite:///central.db`` in the current
directory; ``postgresql://user@host:port/dbname`` for PostgreSQL). Exit status: 0 on
success, 1 when some input was refused (e.g. bad CSV rows, a disallowed event
transition), 2 for usage errors (unknown ids, unreadable files, no schema).
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError, ProgrammingError

from central import audit, auditanchor, db, ops, recovery
from central import limits as defaults
from central.atrest import KEY_FILE_ENV, AtRestError
from central.limits import DEFAULT_READ_TIMEOUT, Limits
from central.shared.blobs import PHOTO_STORES

# What a terminal acts on instead of showing: C0 controls but newline and tab (ESC starts
# colours, a new window title, a screen clear, OSC 52 writes IT's clipboard; CR and BS
# overwrite what was printed), DEL and C1 (U+009B is a CSI), and the bidirectional and
# line-separator format characters (text shown reversed or on a line of its own). Devices
# choose some of what is printed (their name at enrollment, events, households), so every
# line the command writes goes through :class:`_TerminalSafe`.
_TERMINAL_UNSAFE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029"
    "\u202a-\u202e\u2066-\u2069]|\r(?!\n)")  # a CSV's CRLF line ends stay


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    # \u form past ASCII controls: inside --json output it is the same JSON string
    return f"\\x{code:02x}" if code < 0x20 else f"\\u{code:04x}"


def terminal_safe(text: str) -> str:
    """``text`` with every character a terminal would act on written as a visible
    escape (``\\x1b``, ``\\u202e``); newlines, CRLF line ends and tabs kept."""
    return _TERMINAL_UNSAFE.sub(_visible, text)


class _TerminalSafe:
    """A text stream that writes :func:`terminal_safe` text to the one it wraps."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        self.stream.write(terminal_safe(text))
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2) + "\n")


def _fail(message: str, code: int = 2) -> int:
    sys.stderr.write(f"central: {message}\n")
    return code


def _engine(args: argparse.Namespace, require_schema: bool = True) -> Engine:
    """The database's engine with its keys (``--key-file``); with ``require_schema``,
    refuses a database not fully migrated, or whose sealed data the keys do not open."""
    path = db.sqlite_path(args.db)
    if require_schema and path is not None and not path.exists():
        # sqlite would create an empty file here: a typo or a missing --db must not
        # leave a stray central.db behind and answer "nothing" as if all were well
        raise SystemExit(_fail(
            f"no central database at {path} (give --db URL, or run 'central init' to "
            "create one); nothing was created"))
    engine = db.make_engine(args.db, key_file=getattr(args, "key_file", None))
    if require_schema:
        with engine.connect() as conn:
            version = db.current_version(conn)
            pending = db.pending_versions(conn)
            if pending:
                raise SystemExit(_fail(
                    f"database schema is at version {version}, migration(s) "
                    f"{', '.join(map(str, pending))} pending; run `central init` first"
                ))
            _check_keys(conn)
    return engine


def plain(text: str) -> str:
    """Help text as a terminal shows it: no reStructuredText ``literals`` or Markdown
    `code` marks (``central`` reads central, `central init` reads 'central init')."""
    return text.replace("``", "").replace("`", "'")


class _PlainFormatter(argparse.HelpFormatter):
    def _format_text(self, text: str) -> str:
        return super()._format_text(plain(text))

    def _expand_help(self, action: argparse.Action) -> str:
        return plain(super()._expand_help(action))


class _Parser(argparse.ArgumentParser):
    """Every (sub)command's help without raw backticks (subparsers are this class too)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _PlainFormatter)
        super().__init__(*args, **kwargs)


def _check_keys(conn: Any) -> None:
    try:
        db.check_keys(conn)
    except AtRestError as exc:
        raise SystemExit(_fail(f"{exc}; nothing was read or written")) from None


def _audit(engine: Engine, command: str, records: list[str], **arguments: Any) -> None:
    """Record this read of sensitive data before anything is shown."""
    audit.record(engine, command, arguments, records)


class _BackfillProgress:
    """``on_batch`` of :func:`db.run_backfills`: a line on stderr every 10 s while a
    long backfill runs (a large centre's migration 13 takes minutes)."""

    def __init__(self) -> None:
        self.rows: dict[str, int] = {}
        self.last = time.monotonic()

    def __call__(self, name: str, rows: int) -> None:
        self.rows[name] = self.rows.get(name, 0) + rows
        if time.monotonic() - self.last >= 10:
            self.last = time.monotonic()
            sys.stderr.write(f"central: backfill {name}: {self.rows[name]} rows so far\n")


def _finish_backfills(engine: Engine) -> None:
    """Before serving: finish what an interrupted ``central init`` left of a migration's
    backfill (db.run_backfills; resumes where it stopped)."""
    with engine.connect() as conn:
        pending = db.pending_backfills(conn)
    if pending:
        sys.stderr.write(f"central: finishing the backfill of {', '.join(pending)} "
                         "(an interrupted `central init`) before serving\n")
        db.run_backfills(engine, on_batch=_BackfillProgress())


def cmd_init(args: argparse.Namespace) -> int:
    engine = _engine(args, require_schema=False)
    with engine.connect() as conn:
        if db.current_version(conn):
            _check_keys(conn)  # never seal new data with a key that is not this data's
    try:
        before, after = db.migrate(engine, on_batch=_BackfillProgress())
    except AtRestError as exc:
        return _fail(f"{exc}; nothing was changed")
    with engine.connect() as conn:
        _check_keys(conn)
    result = {"schema_version": after, "migrated_from": before}
    if args.json:
        _print_json(result)
    elif before == after:
        print(f"schema already at version {after}")
    else:
        print(f"schema migrated from version {before} to {after}")
    return 0


_SERVE_ARGS = "GRIDFIELD_CENTRAL_SERVE_ARGS"  # the serve options, for worker processes


def cmd_serve(args: argparse.Namespace) -> int:
    from central.server import protocol_base, serve, serve_workers

    try:
        protocol_base(args.http)
    except ValueError as exc:
        return _fail(str(exc))
    if bool(args.certfile) != bool(args.keyfile):
        return _fail("--certfile and --keyfile go together (the certificate and its key)")
    for path in (args.certfile, args.keyfile):
        if path and not os.path.isfile(path):
            return _fail(f"no such file: {path}")
    engine = _engine(args)
    _finish_backfills(engine)
    if args.workers > 1:
        if engine.dialect.name == "sqlite":
            return _fail("--workers needs PostgreSQL: SQLite lets one process write at a "
                         "time, so more server processes only queue on its lock")
        engine.dispose()
        os.environ[_SERVE_ARGS] = json.dumps(vars(args), default=str)
        serve_workers("central.cli:app_from_environment", args.host, args.port,
                      workers=args.workers, log_level=args.log_level,
                      read_timeout=args.read_timeout, certfile=args.certfile,
                      keyfile=args.keyfile, http=args.http)
        return 0
    serve(_serve_app(args, engine), args.host, args.port, log_level=args.log_level,
          read_timeout=args.read_timeout, certfile=args.certfile, keyfile=args.keyfile,
          http=args.http)
    return 0


def app_from_environment() -> Any:
    """The app of one worker process of ``central serve --workers N`` (uvicorn calls
    this factory in each process; the options come from the parent's environment)."""
    from central.server import configure_read_timeout

    configure_read_timeout()
    args = argparse.Namespace(**json.loads(os.environ[_SERVE_ARGS]))
    return _serve_app(args, _engine(args))


def _serve_app(args: argparse.Namespace, engine: Engine) -> Any:
    from central.app import create_app

    limits = Limits(
        rate=args.rate_limit, burst=args.rate_burst, enroll_per_minute=args.enroll_limit,
        enroll_burst=args.enroll_burst,
        photo_quota_bytes=int(args.photo_quota_mb * 1024 * 1024),
        photo_quota_count=args.photo_quota_count,
        partial_max_age=args.partial_max_age_hours * 3600.0,
        max_waiting=args.max_waiting,
        contact_flush=getattr(args, "contact_flush", defaults.DEFAULT_CONTACT_FLUSH),
        warm_snapshots=getattr(args, "warm_snapshots", True),
    )
    return create_app(engine, max_body=args.max_body, limits=limits,
                      update_dir=getattr(args, "update_dir", None),
                      photo_files=_photo_files(args, engine))


def _photo_files(args: argparse.Namespace, engine: Engine) -> Any:
    """Where ``--photo-store`` keeps photos: ``--photo-dir`` (default: next to a SQLite
    file, else ./central-photos) or the database."""
    from central.photos import default_blob_dir
    from central.shared.blobs import photo_files

    root = Path(args.photo_dir) if args.photo_dir else default_blob_dir(args.db)
    return photo_files(getattr(args, "photo_store", "dir"), engine, root)


def cmd_seed_demo(args: argparse.Namespace) -> int:
    from central.seed import seed_demo

    try:
        result = seed_demo(_engine(args), args.grids, args.households_per_grid, args.seed,
                           args.visit_months)
    except ValueError as exc:
        return _fail(str(exc))
    if args.json:
        _print_json(result)
    else:
        print(
            f"seeded {len(result['grids'])} grids, {result['households']} households and "
            f"{len(result['people'])} people in {result['town']['name']} "
            f"(town id {result['town']['id']})"
        )
        for g in result["grids"]:
            print(f"  grid {g['id']} {g['name']}: leader {g['leader']}, workers "
                  f"{', '.join(map(str, g['workers']))}, {g['households']} households")
        print(f"  supervisor {result['supervisor']}, IT administrator {result['it_admin']}")
    return 0


def cmd_import_households(args: argparse.Namespace) -> int:
    from central.importer import ImportFileError, import_households

    try:
        data = Path(args.file).read_bytes()
    except OSError as exc:
        return _fail(f"cannot read {args.file}: {exc.strerror}")
    try:
        result = import_households(_engine(args), data, args.grid, args.crs)
    except ImportFileError as exc:
        if args.json:
            _print_json({"imported": 0, "errors": [{"line": None, "reason": str(exc)}]})
        return _fail(str(exc))
    if args.json:
        _print_json(result.as_dict())
    else:
        print(f"imported {result.imported} households into grid {args.grid} ({result.encoding})")
        for err in result.errors:
            print(f"  line {err['line']}: {err['reason']}")
    return 1 if result.errors else 0


def cmd_enroll(args: argparse.Namespace) -> int:
    from central import identity
    from sync import protocol

    engine = _engine(args)
    try:
        result = ops.create_enrollment_code(engine, args.worker)
    except ops.OpError as exc:
        return _fail(exc.message)
    with engine.begin() as conn:  # the device checks the centre's key against it
        result["server_key_fingerprint"] = protocol.key_fingerprint(
            identity.public_key_b64(conn))
    if args.qr:
        import segno

        payload = f"gridfield://enroll?code={result['code']}"
        if args.server:
            payload += f"&server={args.server}"
        payload += f"&key={result['server_key_fingerprint']}"
        if args.certfile:  # the device pins this certificate (sync/tls.py)
            from cryptography import x509
            from cryptography.hazmat.primitives.hashes import SHA256

            with open(args.certfile, "rb") as fh:
                cert = x509.load_pem_x509_certificate(fh.read())
            result["tls_fingerprint"] = cert.fingerprint(SHA256()).hex()
            payload += f"&tls={result['tls_fingerprint']}"
        segno.make(payload, error="m").save(args.qr, scale=8, border=4)
        result["qr"] = str(args.qr)
    if args.json:
        _print_json(result)
    else:
        print(f"enrollment code for {result['person_name']} (person {args.worker}): "
              f"{result['code']}")
        print(f"single use, valid until {result['expires_at']}")
        print(f"centre key fingerprint: {result['server_key_fingerprint']}")
        if args.qr:
            print(f"QR image written to {args.qr}")
    return 0


def cmd_revoke(args: argparse.Namespace) -> int:
    try:
        result = ops.revoke_device(_engine(args), args.device, args.upload_days)
    except ops.OpError as exc:
        return _fail(exc.message)
    if args.json:
        _print_json(result)
    elif result["already"]:
        print(f"device {args.device} was already revoked")
    elif result["upload_until"]:
        print(f"device {args.device} revoked; at its next contact it uploads what it holds"
              f" (until {result['upload_until']}), then erases its data")
    else:
        print(f"device {args.device} revoked; it will be told to erase its data on next contact")
    return 0


def _operator() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid:{os.getuid()}" if hasattr(os, "getuid") else "unknown"


def cmd_devices(args: argparse.Namespace) -> int:
    engine = _engine(args)
    rows = auditanchor.fleet_overview(engine)
    if args.flagged:
        rows = [r for r in rows if r["flags"]]
    _audit(engine, "devices", [r["device_id"] for r in rows], flagged=bool(args.flagged))
    if args.json:
        _print_json(rows)
        return 0
    if not rows:
        print("no flagged devices" if args.flagged else "no devices enrolled")
        return 0
    sys.stdout.write(auditanchor.render_table(rows))
    return 0


def cmd_devices_history(args: argparse.Namespace) -> int:
    rows = auditanchor.history(_engine(args), args.device)
    if args.json:
        _print_json(rows)
        return 0
    if not rows:
        return _fail(f"device {args.device} has sent no audit anchor")
    for r in rows:
        print(f"{r['received_at']} {r['verdict']:<13} head {r['head_seq']} "
              f"{r['head_hash'][:16]} wrong PINs {r['pin_failures_total']}"
              + (f"  {r['detail']}" if r["detail"] else ""))
    return 0


def cmd_devices_recovery_code(args: argparse.Namespace) -> int:
    engine = _engine(args)
    shown = recovery.reveal(engine, args.device, _operator())
    if shown is None:
        return _fail(f"device {args.device} has no recovery share yet (it sends one at its "
                     "first sync after enrollment)")
    _audit(engine, "devices recovery-code", [args.device])
    if args.json:
        _print_json(shown)
        return 0
    print(f"recovery code of device {args.device}: {shown['code']}")
    print("read it to the worker in person or by phone; on the tablet: 忘记PIN码 → enter it "
          "and a new PIN. It works once; this read is recorded.")
    if shown["previously_revealed_at"]:
        print(f"(read before by {shown['previously_revealed_by']} at "
              f"{shown['previously_revealed_at']})")
    return 0


def cmd_devices_accept(args: argparse.Namespace) -> int:
    if not auditanchor.accept(_engine(args), args.device, _operator()):
        return _fail(f"device {args.device} has sent no audit anchor")
    print(f"flags of device {args.device} acknowledged; only new ones will show")
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    engine = _engine(args)
    result = ops.stats(engine)
    _audit(engine, "stats", [d["id"] for d in result["devices"]])
    if args.json:
        _print_json(result)
        return 0
    for kind in ("org_units", "people", "households", "events"):
        parts = ", ".join(f"{k} {v}" for k, v in result[kind].items()) or "none"
        print(f"{kind}: {parts}")
    print(f"members: {result['members']}")
    print(f"tasks: {result['tasks']}")
    for kind in ("records", "conflicts"):
        parts = ", ".join(f"{k} {v}" for k, v in result[kind].items()) or "none"
        print(f"{kind}: {parts}")
    print(f"photos: {result['photos']}")
    print(f"devices: {len(result['devices'])}")
    for d in result["devices"]:
        print(f"  {d['id']} {auditanchor.one_line(d['name'])} "
              f"({auditanchor.one_line(d['person_name'])}) {d['status']}, "
              f"last contact {d['last_contact'] or 'never'}, "
              f"ops {result['ops_by_device'].get(d['id'], 0)}")
    return 0


def cmd_event_list(args: argparse.Namespace) -> int:
    if args.status is not None and args.status not in db.EVENT_STATUSES:
        return _fail(f"unknown status {args.status!r}; one of: {', '.join(db.EVENT_STATUSES)}")
    engine = _engine(args)
    rows = ops.list_events(engine, status=args.status, grid_id=args.grid)
    _audit(engine, "event list", [r["id"] for r in rows], status=args.status,
           grid=args.grid)
    if args.json:
        _print_json(rows)
        return 0
    for r in rows:
        print(f"{r['id']}  grid {r['grid_id']}  {r['status']:<11}  {r['category']}  "
              f"{r['description']}")
    if not rows:
        print("no events")
    return 0


def cmd_event_show(args: argparse.Namespace) -> int:
    engine = _engine(args)
    try:
        event = ops.show_event(engine, args.id)
    except ops.OpError as exc:
        return _fail(exc.message)
    _audit(engine, "event show", [event["id"]])
    if args.json:
        _print_json(event)
        return 0
    print(f"{event['id']}  grid {event['grid_id']}  {event['status']}  {event['category']}"
          f"  urgency {event.get('urgency') or 'normal'}")
    print(f"  {event['description']}")
    if event.get("address"):
        print(f"  address: {event['address']}")
    if event.get("lat") is not None and event.get("lon") is not None:
        print(f"  position: {event['lat']:.6f}, {event['lon']:.6f}")
    if event.get("photos"):
        print(f"  photos: {', '.join(event['photos'])}")
    print("history:")
    for h in event["history"]:
        note = f"  ({h['note']})" if h["note"] else ""
        print(f"  {h['at']}  {h['from_status'] or '-'} -> {h['to_status']}  {h['actor']}{note}")
    print("follow-ups:" if event["followups"] else "follow-ups: none")
    for f in event["followups"]:
        outcome = f" {f['outcome']}" if f["outcome"] else ""
        print(f"  {f['received_at']}  {f['kind']}{outcome}  person {f['person_id']}"
              f"  {f['result']}  photos {len(f['photos'] or [])}  {f['text']}")
    return 0


def cmd_event_advance(args: argparse.Namespace) -> int:
    engine = _engine(args)
    try:
        result = ops.advance_event(engine, args.id, args.to, args.note)
    except ops.OpError as exc:
        return _fail(exc.message, 2 if exc.status == 404 else 1)
    if args.json:  # the whole event, its history and follow-ups: a read
        _audit(engine, "event advance", [result["id"]], to=args.to)
        _print_json(result)
    else:
        print(f"event {args.id} is now {result['status']}")
    return 0


def cmd_task_push(args: argparse.Namespace) -> int:
    try:
        result = ops.push_task(_engine(args), args.grid, args.title, args.body, args.due)
    except ops.OpError as exc:
        return _fail(exc.message)
    if args.json:
        _print_json(result)
    else:
        print(f"task {result['id']} pushed to grid {args.grid}")
    return 0


def cmd_task_list(args: argparse.Namespace) -> int:
    engine = _engine(args)
    rows = ops.list_tasks(engine, grid_id=args.grid)
    _audit(engine, "task list", [t["id"] for t in rows], grid=args.grid)
    if args.json:
        _print_json(rows)
        return 0
    for t in rows:
        due = f"  due {t['due']}" if t["due"] else ""
        print(f"{t['id']}  grid {t['grid_id']}  {t['title']}{due}  "
              f"acknowledged {len(t['acknowledgements'])}, answers {len(t['answers'])}")
    if not rows:
        print("no tasks")
    return 0


def cmd_task_show(args: argparse.Namespace) -> int:
    engine = _engine(args)
    try:
        t = ops.show_task(engine, args.id)
    except ops.OpError as exc:
        return _fail(exc.message)
    _audit(engine, "task show", [t["id"]])
    if args.json:
        _print_json(t)
        return 0
    print(f"task {t['id']} for grid {t['grid_id']}: {t['title']}")
    print(f"  {t['body']}")
    print(f"  created {t['created_at']}, due {t['due'] or 'none (a notice)'}")
    for a in t["acknowledgements"]:
        print(f"  acknowledged by {a['person_name']} (person {a['person_id']}) at "
              f"{a['at'] or a['received_at']} on device {a['device_id']}")
    for a in t["answers"]:
        print(f"  answer by {a['person_name']} (person {a['person_id']}) at "
              f"{a['at'] or a['received_at']}: {a['text'] or ''}")
        if a["event_id"]:
            print(f"    event {a['event_id']}")
        for p in a["photos"]:
            state = "received" if p["received"] else "not yet received"
            print(f"    photo {p['id']} sha256 {p['sha256'] or 'unknown'} ({state})")
    return 0


def cmd_household_find(args: argparse.Namespace) -> int:
    from central.cnid import id_number_problem

    problem = id_number_problem(args.id_number)
    if problem is not None:
        return _fail(problem, 1)
    engine = _engine(args)
    rows = ops.find_by_id_number(engine, args.id_number)
    # the ID number asked for is kept as its blind index, not in the clear
    _audit(engine, "household find", [r["household_id"] for r in rows],
           id_number_bidx=db.keyring(engine).index(args.id_number.strip().upper()))
    if args.json:
        _print_json(rows)
        return 0
    for r in rows:
        print(f"household {r['household_id']}  grid {r['grid_id']}  {r['head_name']}  "
              f"{r['address']}  ({r['match']}: {r['name']}, {r['relation']})")
    if not rows:
        print("no household holds that ID number")
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    since = args.since
    if since is not None:
        try:
            since = ops.parse_due(since) if len(since) > 10 else since
        except ValueError as exc:
            return _fail(str(exc))
    rows = audit.entries(_engine(args), since)
    if args.json:
        _print_json(rows)
        return 0
    for r in rows:
        shown = ", ".join(r["records"][:5]) + (" ..." if len(r["records"]) > 5 else "")
        print(f"{r['at']}  {r['os_user']}  {r['command']}  {len(r['records'])} record(s)"
              f"{': ' + shown if shown else ''}")
    if not rows:
        print("no operator reads recorded")
    return 0


def cmd_keys_rotate(args: argparse.Namespace) -> int:
    from central.keys import rotate
    from central.photos import PhotoStore

    engine = _engine(args)
    photos = PhotoStore(_photo_files(args, engine), keys=db.keyring(engine))
    say = (lambda _m: None) if args.json else print
    try:
        result = rotate(engine, photos, batch=args.batch, settle=args.settle, progress=say)
    except AtRestError as exc:
        return _fail(f"{exc}; run `central keys rotate` again to resume")
    audit.record(engine, "keys rotate", {"current": result["current"],
                                         "retired": result["retired"]}, [])
    if args.json:
        _print_json(result)
    return 0


# -- release updates (central/updates/repository.py) -----------------------------------

def _repository(args: argparse.Namespace) -> Any:
    from central.updates.repository import Repository, default_update_dir

    return Repository(_engine(args), Path(args.update_dir or default_update_dir(args.db)))


def _districts(text: str | None) -> list[int]:
    if not text:
        return []
    try:
        ids = [int(part) for part in text.replace(" ", ",").split(",") if part]
    except ValueError:
        raise SystemExit(_fail(f"--districts takes org unit ids, e.g. 2,5: {text!r}")) from None
    if any(not 1 <= i <= 2**31 - 1 for i in ids):
        raise SystemExit(_fail("--districts: ids are whole numbers from 1"))
    return ids


def _release_line(r: dict[str, Any]) -> str:
    where = "every district" if not r["districts"] else \
        "districts " + ", ".join(map(str, r["districts"])) + f" ({len(r['grids'] or [])} grids)"
    state = "REVOKED" if r["revoked"] else r["channel"]
    return (f"{r['version']:<12} {r['platform']:<16} {state:<8} {r['length']:>12} bytes  "
            f"{where}  published {r['published_at']}")


def cmd_release(args: argparse.Namespace) -> int:
    """Every ``central release`` command: the repository's errors are exit status 1."""
    from central.updates.repository import ReleaseError
    from sync.protocol.releases import InvalidVersion

    try:
        return int(args.release_func(args))
    except (ReleaseError, InvalidVersion) as exc:
        return _fail(f"{exc}; nothing was changed", 1)


def cmd_release_keys_init(args: argparse.Namespace) -> int:
    result = _repository(args).init_keys(Path(args.keys))
    if args.json:
        _print_json(result)
        return 0
    print(f"update repository made in {result['update_dir']}")
    print(f"root, targets and config keys written to {result['keys_dir']} (keep it "
          "offline, e.g. a USB stick, with a copy in a safe; the centre keeps only the "
          "snapshot and timestamp keys)")
    print(f"the devices' trusted root: {result['root']} -> copy it to "
          "resources/updates/root.json before `make dist`")
    return 0


def cmd_release_keys_rotate_online(args: argparse.Namespace) -> int:
    result = _repository(args).rotate_online_keys(Path(args.keys))
    if args.json:
        _print_json(result)
    else:
        print("new snapshot and timestamp keys; root re-signed to trust only them")
    return 0


def cmd_release_publish(args: argparse.Namespace) -> int:
    result = _repository(args).publish(Path(args.dist), args.version, Path(args.keys),
                                       channel=args.channel,
                                       districts=_districts(args.districts),
                                       platform=args.platform)
    if args.json:
        _print_json(result)
    else:
        print("published " + _release_line(result))
    return 0


def cmd_release_promote(args: argparse.Namespace) -> int:
    result = _repository(args).promote(args.version, Path(args.keys), channel=args.channel,
                                       districts=_districts(args.districts))
    if args.json:
        _print_json(result)
    else:
        for r in result:
            print("now " + _release_line(r))
    return 0


def cmd_release_revoke(args: argparse.Namespace) -> int:
    result = _repository(args).revoke(args.version, Path(args.keys))
    if args.json:
        _print_json(result)
    else:
        for r in result:
            print(f"revoked {r['version']} ({r['platform']}): devices on it return to the "
                  "release before it at their next sync")
    return 0


def cmd_release_list(args: argparse.Namespace) -> int:
    result = _repository(args).listing()
    if args.json:
        _print_json(result)
        return 0
    for r in result["releases"]:
        print(_release_line(r))
    if not result["releases"]:
        print("no releases published")
    print("signed metadata expires: " + ", ".join(
        f"{role} {when}" for role, when in result["expires"].items()))
    for f in result.get("config", {}).get("files", []):
        where = "everywhere" if f.get("org_unit_id") is None else f"org unit {f['org_unit_id']}"
        print(f"config {f.get('key')} for {where}: {f['length']} bytes, published "
              f"{f.get('published_at')}")
    return 0


def cmd_release_keys_rotate_config(args: argparse.Namespace) -> int:
    from central.updates import config

    result = config.rotate_config_key(_repository(args), Path(args.keys))
    if args.json:
        _print_json(result)
    else:
        print(f"new config key written to {result['key_file']} (the old one kept beside it "
              "as .retired); the targets role now delegates to it alone and every signed "
              "configuration was re-signed: devices refuse the old key from their next sync")
    return 0


def cmd_release_keys_refresh_config(args: argparse.Namespace) -> int:
    from central.updates import config

    result = config.refresh_config(_repository(args), Path(args.keys))
    if args.json:
        _print_json(result)
    else:
        print(f"signed configuration re-signed; it now expires {result['expires']}")
    return 0


def _publish_config(args: argparse.Namespace, raw: bytes) -> int:
    from central import settings
    from central.updates import config
    from central.updates.repository import ReleaseError

    try:
        result = config.publish(_repository(args), args.key, raw, Path(args.keys),
                                args.district)
    except settings.SettingError as exc:
        return _fail(f"{args.file}: {exc}; nothing was changed", 1)
    except ReleaseError as exc:
        return _fail(f"{exc}; nothing was changed", 1)
    if args.json:
        _print_json(result)
    else:
        where = "everywhere" if args.district is None else f"org unit {args.district}"
        print(f"{args.key} signed for {where} ({result['name']}, config version "
              f"{result['config_version']}, expires {result['expires']}); devices apply it "
              "on their next sync")
    return 0


def cmd_config_publish(args: argparse.Namespace) -> int:
    try:
        raw = Path(args.file).read_bytes()
    except OSError as exc:
        return _fail(f"cannot read {args.file}: {exc.strerror}")
    return _publish_config(args, raw.removeprefix(b"\xef\xbb\xbf"))  # a Windows editor's BOM


class _Unreadable(Exception):
    """A file IT gave cannot be read as JSON; ``code`` is the command's exit code."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def _json_file(path: str) -> Any:
    """The JSON in ``path`` (UTF-8, a BOM allowed as Windows editors write it); said
    and raised as :class:`_Unreadable` when it cannot be read (nothing was changed)."""
    try:
        return json.loads(Path(path).read_text("utf-8-sig"))
    except OSError as exc:
        raise _Unreadable(_fail(f"cannot read {path}: {exc.strerror}")) from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise _Unreadable(_fail(f"{path} is not valid UTF-8 JSON: {exc}; nothing was "
                                "changed", 1)) from None
    except RecursionError:
        raise _Unreadable(_fail(f"{path} is JSON nested too deeply; nothing was changed",
                                1)) from None


def _store_file(path: str, store: Any) -> dict[str, Any] | int:
    """``store(value)`` of the JSON in ``path``: its result, or the exit code after
    saying why nothing was changed (unreadable file, or a value the centre refuses)."""
    from central import settings

    try:
        return dict(store(_json_file(path)))
    except _Unreadable as exc:
        return exc.code
    except settings.SettingError as exc:
        return _fail(f"{path}: {exc}; nothing was changed", 1)


def cmd_config_set(args: argparse.Namespace) -> int:
    from central import settings
    from central.updates import config

    if args.key in config.SIGNED_KEYS:
        if args.keys:  # signed with IT's config key: the same as `central config publish`
            return cmd_config_publish(args)
        repo = _repository(args)
        if config.is_published(repo, args.key):
            return _fail(f"{args.key} is published signed: devices that had it signed ignore "
                         "an unsigned value. Sign it: `central config publish "
                         f"{args.key} FILE --keys DIR` (or add --keys DIR); nothing was "
                         "changed", 1)
        if args.key == config.CHECKLIST:
            return _fail("a checklist goes to devices signed only: `central release keys "
                         "init --keys DIR`, then `central config publish checklist FILE "
                         "--keys DIR`; nothing was changed", 1)
    result = _store_file(args.file, lambda value: settings.set_setting(
        _engine(args), args.key, value, args.district))
    if isinstance(result, int):
        return result
    if args.json:
        _print_json(result)
    else:
        where = "everywhere" if args.district is None else f"org unit {args.district}"
        print(f"setting {args.key} stored for {where}; devices get it on their next sync")
    return 0


def cmd_config_show(args: argparse.Namespace) -> int:
    from central import settings

    rows = settings.list_settings(_engine(args))
    if args.json:
        _print_json(rows)
        return 0
    for r in rows:
        where = "everywhere" if r["org_unit_id"] is None else f"org unit {r['org_unit_id']}"
        print(f"{r['key']} for {where} (updated {r['updated_at']}):")
        print("  " + json.dumps(r["value"], ensure_ascii=False))
    if not rows:
        print("no settings: devices use their built-in defaults")
    return 0


def cmd_grids_list(args: argparse.Namespace) -> int:
    from central import settings

    rows = settings.list_grids(_engine(args))
    if args.json:
        _print_json(rows)
        return 0
    for r in rows:
        shape = (f"boundary of {r['boundary_vertices']} positions (set "
                 f"{r['boundary_updated_at']})" if r["boundary_vertices"] else "no boundary")
        print(f"grid {r['grid_id']} {r['name']}: {shape}")
    if not rows:
        print("no grids")
    return 0


def cmd_grids_set_boundary(args: argparse.Namespace) -> int:
    from central import settings

    result = _store_file(args.file, lambda value: settings.set_boundary(
        _engine(args), args.grid, value, args.crs))
    if isinstance(result, int):
        return result
    if args.json:
        _print_json({k: v for k, v in result.items() if k != "boundary"})
    else:
        print(f"boundary of grid {args.grid} ({result['name']}) stored: "
              f"{result['vertices']} positions"
              + (" converted from GCJ-02 to WGS-84" if args.crs == "gcj02" else "")
              + "; its devices get it on their next sync")
    return 0


def cmd_grids_clear_boundary(args: argparse.Namespace) -> int:
    from central import settings

    try:
        result = settings.set_boundary(_engine(args), args.grid, None)
    except settings.SettingError as exc:
        return _fail(f"{exc}; nothing was changed", 1)
    if args.json:
        _print_json({k: v for k, v in result.items() if k != "boundary"})
    else:
        print(f"boundary of grid {args.grid} ({result['name']}) removed; its devices drop "
              "it on their next sync")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    import time

    from central import report
    from sync.protocol.review import InvalidMonth

    fmt = "json" if args.json else args.format
    if fmt in ("xlsx", "pdf") and args.out is None:
        return _fail(f"--format {fmt} needs --out FILE")
    engine = _engine(args)
    try:
        result = report.month_report(engine, args.month, time.time(), args.grid)
        data = report.render(result, fmt)
    except InvalidMonth:
        return _fail(f"--month must be YYYY-MM, not {args.month!r}")
    except report.ReportError as exc:
        return _fail(str(exc))
    _audit(engine, "report", [f"person:{w['person_id']}" for w in result["workers"]],
           month=result["month"], grid=args.grid, format=fmt)
    if args.out is None:
        sys.stdout.write(data.decode("utf-8"))
        return 0
    try:
        Path(args.out).write_bytes(data)
    except OSError as exc:
        return _fail(f"cannot write {args.out}: {exc.strerror}")
    print(f"{result['month']}: {len(result['workers'])} people, "
          f"{len(result['grids'])} grids -> {args.out}")
    return 0


def _update_dir_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--update-dir", default=None, metavar="DIR",
                        help="the signed update repository (default: "
                        "$GRIDFIELD_CENTRAL_UPDATE_DIR, else <sqlite file>.updates, else "
                        "./central-updates)")


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", default=argparse.SUPPRESS,
                        help=f"database URL (default {db.DEFAULT_DB})")
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="machine-readable output")
    common.add_argument("--key-file", default=argparse.SUPPRESS, metavar="FILE",
                        help="the keys sealing the database's sensitive data and photos "
                        f"(default: ${KEY_FILE_ENV}, else <sqlite file>.keys.json, else "
                        "./central-keys.json); `central init` makes it if there is none")

    parser = _Parser(prog="central", description=__doc__.splitlines()[0], parents=[common])
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, func: Any, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[common], help=help_text, description=help_text)
        p.set_defaults(func=func)
        return p

    add("init", cmd_init, "create or migrate the schema (idempotent)")

    p = add("serve", cmd_serve, "run the HTTP API")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--certfile", default=None, metavar="CERT.pem",
                   help="serve HTTPS with this certificate (PEM, chain included); devices "
                   "accept plain HTTP only on loopback. Or run behind a TLS reverse proxy")
    p.add_argument("--keyfile", default=None, metavar="KEY.pem",
                   help="the certificate's private key (PEM)")
    p.add_argument("--workers", type=int, default=1, metavar="N",
                   help="server processes (PostgreSQL only; e.g. one per CPU core). Rate "
                   "limits and replay protection are shared through the database; photos "
                   "too with --photo-store database")
    p.add_argument("--max-body", type=int, default=1024 * 1024,
                   help="largest accepted request body in bytes (default 1 MiB)")
    p.add_argument("--photo-dir", default=None,
                   help="where photos are kept by SHA-256 (default: next to a SQLite "
                   "database file, else ./central-photos)")
    p.add_argument("--photo-store", choices=PHOTO_STORES, default="dir",
                   help="dir: photos in --photo-dir (one machine); database: in the "
                   "database, shared by server processes on several machines")
    p.add_argument("--max-waiting", type=int, default=defaults.DEFAULT_MAX_WAITING,
                   metavar="N",
                   help="requests waiting for a server thread past which new ones are "
                   "answered 503 with a random Retry-After (load shedding; default "
                   f"{defaults.DEFAULT_MAX_WAITING}; 0: off)")
    p.add_argument("--no-warm-snapshots", dest="warm_snapshots", action="store_false",
                   help="build a grid's first-pull snapshot at a device's first pull, not "
                   "in the background when a device of it enrolls (measuring; default: "
                   "at enrollment, so a room of new devices syncing at once is served)")
    p.add_argument("--contact-flush", type=float, default=defaults.DEFAULT_CONTACT_FLUSH,
                   metavar="SECONDS",
                   help="devices' last contacts are kept in memory and written this often "
                   "and at shutdown; the fleet view (central devices) is at most this late "
                   f"(default {defaults.DEFAULT_CONTACT_FLUSH:g}; 0: written at every request)")
    p.add_argument("--rate-limit", type=float, default=defaults.DEFAULT_RATE,
                   metavar="PER_SECOND",
                   help="signed requests per second per device, sustained; over it the answer "
                   "is 429 with Retry-After; requests failing authentication are limited per "
                   f"address at ten times this (default {defaults.DEFAULT_RATE:g}; 0: off)")
    p.add_argument("--rate-burst", type=float, default=defaults.DEFAULT_BURST, metavar="N",
                   help="requests a device may make at once before the rate applies "
                   f"(default {defaults.DEFAULT_BURST:g})")
    p.add_argument("--enroll-limit", type=float, default=defaults.DEFAULT_ENROLL_PER_MINUTE,
                   metavar="PER_MINUTE",
                   help="enrollment attempts per minute per client address; a successful "
                   f"one does not count (default {defaults.DEFAULT_ENROLL_PER_MINUTE:g}; "
                   "0: off)")
    p.add_argument("--enroll-burst", type=float, default=defaults.DEFAULT_ENROLL_BURST,
                   metavar="N", help="enrollment attempts at once per address "
                   f"(default {defaults.DEFAULT_ENROLL_BURST:g})")
    p.add_argument("--photo-quota-mb", type=float,
                   default=defaults.DEFAULT_PHOTO_QUOTA_BYTES / (1024 * 1024), metavar="MIB",
                   help="photo bytes one device may store per 24 hours, uploads in progress "
                   "included; over it 413 photo_quota (default "
                   f"{defaults.DEFAULT_PHOTO_QUOTA_BYTES // (1024 * 1024)}; 0: no limit)")
    p.add_argument("--photo-quota-count", type=int, default=defaults.DEFAULT_PHOTO_QUOTA_COUNT,
                   metavar="N", help="photos one device may store per 24 hours (default "
                   f"{defaults.DEFAULT_PHOTO_QUOTA_COUNT}; 0: no limit)")
    p.add_argument("--partial-max-age-hours", type=float,
                   default=defaults.DEFAULT_PARTIAL_MAX_AGE / 3600, metavar="HOURS",
                   help="an upload not continued for this long is deleted; the device starts "
                   f"it again (default {defaults.DEFAULT_PARTIAL_MAX_AGE / 3600:g})")
    p.add_argument("--read-timeout", type=float, default=DEFAULT_READ_TIMEOUT, metavar="SECONDS",
                   help="a request's headers must arrive within this many seconds of its "
                   "first byte, its body within as many more plus 1 s per 8 KiB received; else "
                   "408 and the connection is closed "
                   f"(default {DEFAULT_READ_TIMEOUT:g}; 0: off)")
    p.add_argument("--http", choices=("auto", "httptools", "h11"), default="auto",
                   help="the HTTP parser: httptools (C) where installed, else h11 (pure "
                   "Python); both with the read timeouts (default auto)")
    _update_dir_option(p)
    p.add_argument("--log-level", default="warning",
                   choices=("critical", "error", "warning", "info", "debug"))

    p = add("seed-demo", cmd_seed_demo, "build a deterministic demo district")
    p.add_argument("--grids", type=int, required=True)
    p.add_argument("--households-per-grid", type=int, required=True)
    p.add_argument("--seed", type=int, default=2019)
    p.add_argument("--visit-months", type=int, default=0, metavar="N",
                   help="also a history of the workers' visits over the last N months")

    p = add("import-households", cmd_import_households, "import households from a CSV file")
    p.add_argument("file")
    p.add_argument("--grid", type=int, required=True)
    p.add_argument("--crs", choices=("wgs84", "gcj02"), default="wgs84",
                   help="the coordinate system of the file's 纬度/经度 columns (gcj02: a "
                   "web map's; converted to WGS-84)")

    p = add("enroll", cmd_enroll, "make a one-time enrollment code for a person's device")
    p.add_argument("--worker", type=int, required=True, help="person id")
    p.add_argument("--qr", metavar="FILE.png", help="also write the code as a QR image")
    p.add_argument("--server", help="server URL to put in the QR code with the code")
    p.add_argument("--certfile", metavar="CERT.pem",
                   help="the server's TLS certificate: its fingerprint goes in the QR code "
                   "and the device accepts no other (self-signed certificates included)")

    p = add("revoke", cmd_revoke, "revoke a device; it is told to wipe itself on next contact")
    p.add_argument("--device", required=True)
    p.add_argument("--upload-days", type=float, default=None, metavar="DAYS",
                   help="let it upload what it holds first, for up to DAYS days (then it "
                   "erases itself in any case)")

    p = add("devices", cmd_devices, "the fleet: each device with its person and grids, app "
            "version, update channel, last contact, ops and photo bytes waiting (as reported "
            "at its last sync), audit log anchored at the centre, wrong PINs, secret store, "
            "status, and flags (a log that shrank or was rewritten)")
    p.add_argument("--flagged", action="store_true", help="only devices with open flags")
    dsub = p.add_subparsers(dest="devices_command")
    dp = dsub.add_parser("history", parents=[common],
                         help="every audit anchor a device sent, with the verdicts")
    dp.set_defaults(func=cmd_devices_history)
    dp.add_argument("device")
    dp = dsub.add_parser("recovery-code", parents=[common],
                         help="the code that resets a device's forgotten PIN without losing "
                         "its data (works once; the read is recorded)")
    dp.set_defaults(func=cmd_devices_recovery_code)
    dp.add_argument("device")
    dp = dsub.add_parser("accept", parents=[common],
                         help="acknowledge a device's flags (kept on record; new ones show)")
    dp.set_defaults(func=cmd_devices_accept)
    dp.add_argument("device")

    add("stats", cmd_stats, "records by kind, devices with last contact")

    p = add("event", lambda _a: 2, "list and advance events")
    esub = p.add_subparsers(dest="event_command", required=True)
    ep = esub.add_parser("list", parents=[common], help="list events")
    ep.set_defaults(func=cmd_event_list)
    ep.add_argument("--status")
    ep.add_argument("--grid", type=int)
    ep = esub.add_parser("show", parents=[common],
                         help="one event with its history and the workers' follow-ups")
    ep.set_defaults(func=cmd_event_show)
    ep.add_argument("id")
    ep = esub.add_parser("advance", parents=[common], help="move an event along the closed loop")
    ep.set_defaults(func=cmd_event_advance)
    ep.add_argument("id")
    ep.add_argument("--to", required=True, choices=db.EVENT_STATUSES)
    ep.add_argument("--note")

    p = add("task", lambda _a: 2, "tasks for grids")
    tsub = p.add_subparsers(dest="task_command", required=True)
    tp = tsub.add_parser("push", parents=[common], help="send a task to a grid's devices")
    tp.set_defaults(func=cmd_task_push)
    tp.add_argument("--grid", type=int, required=True)
    tp.add_argument("--title", required=True)
    tp.add_argument("--body", required=True)
    tp.add_argument("--due", help="ISO 8601 date or date-time with zone")
    tp = tsub.add_parser("list", parents=[common],
                         help="tasks with their acknowledgements and answers")
    tp.set_defaults(func=cmd_task_list)
    tp.add_argument("--grid", type=int)
    tp = tsub.add_parser("show", parents=[common],
                         help="one task with its acknowledgements and answers")
    tp.set_defaults(func=cmd_task_show)
    tp.add_argument("id")

    p = add("household", lambda _a: 2, "households (reads are audited)")
    hsub = p.add_subparsers(dest="household_command", required=True)
    hp = hsub.add_parser("find", parents=[common],
                         help="households with a member (or head) of this ID number")
    hp.set_defaults(func=cmd_household_find)
    hp.add_argument("--id-number", required=True)

    p = add("audit", cmd_audit, "operators' reads of sensitive data (who, what, when)")
    p.add_argument("--since", help="ISO 8601 date or date-time with zone")

    p = add("keys", lambda _a: 2, "the keys sealing data at rest")
    ksub = p.add_subparsers(dest="keys_command", required=True)
    kp = ksub.add_parser("rotate", parents=[common],
                         help="a new current key; re-seal rows and photos; retire the old key "
                         "(resumable: run again after an interruption)")
    kp.set_defaults(func=cmd_keys_rotate)
    kp.add_argument("--photo-dir", default=None,
                    help="the server's --photo-dir (default as `central serve`)")
    kp.add_argument("--photo-store", choices=PHOTO_STORES, default="dir",
                    help="the server's --photo-store (default as `central serve`)")
    kp.add_argument("--batch", type=int, default=500, help="rows per transaction")
    kp.add_argument("--settle", type=float, default=2.0, metavar="SECONDS",
                    help="wait after adding the key, so running servers use it")

    p = add("release", lambda _a: 2, "signed release updates for the devices (TUF)")
    rsub = p.add_subparsers(dest="release_command", required=True)

    def release(sub: Any, name: str, func: Any, help_text: str,
                keys: bool = True) -> argparse.ArgumentParser:
        rp: argparse.ArgumentParser = sub.add_parser(name, parents=[common], help=help_text,
                                                     description=help_text)
        rp.set_defaults(func=cmd_release, release_func=func)
        _update_dir_option(rp)
        if keys:
            rp.add_argument("--keys", required=True, metavar="DIR",
                            help="the offline keys directory (root.pem, targets.pem, "
                            "config.pem)")
        return rp

    rp = rsub.add_parser("keys", parents=[common], help="the repository's signing keys")
    ksub2 = rp.add_subparsers(dest="release_keys_command", required=True)
    release(ksub2, "init", cmd_release_keys_init,
            "make the four role keys and the first metadata; root and targets keys go to "
            "--keys DIR (offline), snapshot and timestamp stay with the centre")
    release(ksub2, "rotate-online", cmd_release_keys_rotate_online,
            "new snapshot and timestamp keys, root re-signed (after the centre's database "
            "leaked)")
    rp = release(rsub, "publish", cmd_release_publish,
                 "sign a build (the tar.gz from `make dist`, or the built folder) as a release")
    rp.add_argument("dist", metavar="DIST")
    rp.add_argument("--version", required=True, help="e.g. 1.0.1 (compared as a version)")
    rp.add_argument("--channel", choices=("stable", "pilot"), default="stable",
                    help="pilot devices take pilot and stable releases; stable ones only "
                    "stable (default stable)")
    rp.add_argument("--districts", default=None, metavar="IDS",
                    help="org unit ids (comma-separated): only devices with a grid under "
                    "them take it (default: every district)")
    rp.add_argument("--platform", default=None,
                    help="default: from the archive's name, else this machine's")
    rp = release(rsub, "promote", cmd_release_promote,
                 "widen a release's rollout: another channel and/or districts")
    rp.add_argument("version")
    rp.add_argument("--channel", choices=("stable", "pilot"), default="stable")
    rp.add_argument("--districts", default=None, metavar="IDS",
                    help="org unit ids; default: every district")
    rp = release(rsub, "revoke", cmd_release_revoke,
                 "withdraw a release: devices on it return to the one before it")
    rp.add_argument("version")
    release(rsub, "list", cmd_release_list, "releases, their rollout and the metadata's "
            "expiry", keys=False)
    release(ksub2, "rotate-config", cmd_release_keys_rotate_config,
            "a new key for the signed configuration (after a leak; or the first one for a "
            "repository made before it): the targets key delegates to it, every "
            "configuration is re-signed; no app rebuild")
    release(ksub2, "refresh-config", cmd_release_keys_refresh_config,
            "re-sign the signed configuration before it expires (3 months)")

    p = add("config", lambda _a: 2, "settings sent to devices (quota rules, event classes)")
    csub = p.add_subparsers(dest="config_command", required=True)
    cp = csub.add_parser("set", parents=[common],
                         help="validate and store a setting from a JSON file")
    cp.set_defaults(func=cmd_config_set)
    cp.add_argument("key", help="quota_rules, review_rules, event_categories, pin_policy, "
                    "quick_phrases or support_contact")
    cp.add_argument("file", help="the value as a UTF-8 JSON file")
    cp.add_argument("--district", type=int, default=None, metavar="ORG_UNIT_ID",
                    help="org unit (district, town, ...) it applies to; default: everywhere")
    cp.add_argument("--keys", default=None, metavar="DIR",
                    help="for checklist, quota_rules, review_rules, event_categories: sign "
                    "it with the offline config key in DIR (as `central config publish`)")
    _update_dir_option(cp)
    cp = csub.add_parser("publish", parents=[common],
                         help="validate, then sign a configuration with IT's offline config "
                         "key (TUF): checklist, quota_rules, review_rules or event_categories")
    cp.set_defaults(func=cmd_config_publish)
    cp.add_argument("key", help="checklist, quota_rules, review_rules or event_categories")
    cp.add_argument("file", help="the value as a UTF-8 JSON file (a checklist definition as "
                    "it is, without .sig)")
    cp.add_argument("--keys", required=True, metavar="DIR",
                    help="the offline keys directory (config.pem, targets.pem)")
    cp.add_argument("--district", type=int, default=None, metavar="ORG_UNIT_ID",
                    help="org unit it applies to (and everything under it); default: "
                    "everywhere")
    _update_dir_option(cp)
    cp = csub.add_parser("show", parents=[common], help="the stored settings")
    cp.set_defaults(func=cmd_config_show)

    p = add("grids", lambda _a: 2, "grids and their boundaries (sent to the grids' devices)")
    gsub = p.add_subparsers(dest="grids_command", required=True)
    gp = gsub.add_parser("list", parents=[common], help="every grid, with its boundary's size")
    gp.set_defaults(func=cmd_grids_list)
    gp = gsub.add_parser("set-boundary", parents=[common],
                         help="validate and store a grid's boundary from a GeoJSON file "
                         "(Polygon or MultiPolygon, bare, in a Feature or a "
                         "FeatureCollection; rings closed; at most 20,000 positions)")
    gp.set_defaults(func=cmd_grids_set_boundary)
    gp.add_argument("grid", type=int, help="the grid's org unit id")
    gp.add_argument("file", help="the boundary as a UTF-8 GeoJSON file")
    gp.add_argument("--crs", choices=("wgs84", "gcj02"), default="wgs84",
                    help="the file's coordinates: wgs84 (GPS, BeiDou, CGCS2000; default) or "
                    "gcj02 (drawn on a Chinese web map: converted to WGS-84)")
    gp = gsub.add_parser("clear-boundary", parents=[common], help="remove a grid's boundary")
    gp.set_defaults(func=cmd_grids_clear_boundary)
    gp.add_argument("grid", type=int, help="the grid's org unit id")

    p = add("report", cmd_report, "the monthly assessment per worker (the devices' review "
            "figures), worst first")
    p.add_argument("--month", default=None, metavar="YYYY-MM",
                   help="the month (default: this month, China Standard Time)")
    p.add_argument("--grid", default=None, metavar="G", help="only this grid (its id)")
    p.add_argument("--format", choices=("json", "csv", "xlsx", "pdf"), default="json")
    p.add_argument("--out", default=None, metavar="FILE",
                   help="write here (default: standard output; xlsx and pdf need a file)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not hasattr(args, "db"):
        args.db = db.DEFAULT_DB
    if not hasattr(args, "json"):
        args.json = False
    if not hasattr(args, "key_file"):
        args.key_file = None
    out, err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _TerminalSafe(out), _TerminalSafe(err)
    try:
        return _run(args)
    finally:
        if isinstance(sys.stdout, _TerminalSafe):  # not the null stream of a broken pipe
            sys.stdout = out
        sys.stderr = err


def _run(args: argparse.Namespace) -> int:
    try:
        return int(args.func(args))
    except (OperationalError, ProgrammingError) as exc:
        return _fail(f"database error: {exc.orig}")
    except BrokenPipeError:  # e.g. `central event list | head`
        sys.stdout = open(os.devnull, "w")
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
