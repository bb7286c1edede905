"""``fieldclient``: the device from the command line (IT provisioning, support, scripts).

PINs are read from standard input, never from arguments (which other users can
see in the process list). Exit codes: 0 ok, 1 error, 2 usage, 3 wrong PIN or
locked out, 4 device erased, 5 device not set up.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fieldclient import __version__
from fieldclient.cli import events as cli_events
from fieldclient.cli import patrol as cli_patrol
from fieldclient.cli import photo as cli_photo
from fieldclient.cli import quota as cli_quota
from fieldclient.cli import search as cli_search
from fieldclient.cli import tasks as cli_tasks
from fieldclient.errors import (
    DeviceErased,
    FieldClientError,
    NotSetUp,
    PinLockedOut,
    WrongPin,
)
from fieldclient.i18n import QT_TRANSLATE_NOOP, translate
from fieldclient.paths import default_data_dir
from sync import cli as cli_sync

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_WRONG_PIN, EXIT_ERASED, EXIT_NOT_SET_UP = 0, 1, 2, 3, 4, 5


def t(text: str, **params: Any) -> str:
    return translate("cli", text).format(**params)


class UsageError(Exception):
    pass


def read_pins(count: int) -> list[str]:
    """``count`` PINs, one per line of standard input."""
    pins = []
    for _ in range(count):
        line = sys.stdin.readline()
        if not line:
            raise UsageError(t(QT_TRANSLATE_NOOP("cli", "标准输入中缺少PIN码（每行一个）。")))
        pins.append(line.strip())
    return pins


def require_pin_stdin(args: argparse.Namespace) -> str:
    if not args.pin_stdin:
        raise UsageError(
            t(QT_TRANSLATE_NOOP("cli", "PIN码只能从标准输入读取：请加上 --pin-stdin。"))
        )
    return read_pins(1)[0]


def emit(args: argparse.Namespace, data: dict[str, Any], lines: list[str]) -> None:
    if getattr(args, "json", False):
        print(json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True))
    else:
        print("\n".join(lines))


# -- commands ---------------------------------------------------------------
def cmd_init(args: argparse.Namespace) -> int:
    from fieldclient.storage.session import setup_device

    pin = require_pin_stdin(args)
    with setup_device(args.data_dir, pin) as session:
        from fieldclient.security.vault import Vault

        info = Vault(args.data_dir).info()
        data = {
            "device_id": session.device_id,
            "data_dir": str(args.data_dir),
            "keyring_backend": info["secret_store_name"],
            "keyring_is_fallback": info["secret_store_is_fallback"],
        }
    lines = [t(QT_TRANSLATE_NOOP("cli", "设备已设置：{device_id}"), device_id=data["device_id"])]
    if data["keyring_is_fallback"]:
        lines.append(fallback_warning())
    emit(args, data, lines)
    return EXIT_OK


def fallback_warning() -> str:
    return t(
        QT_TRANSLATE_NOOP(
            "cli",
            "注意：本机没有可用的系统密钥库，设备密钥保存在数据目录的文件中，防护较弱。",
        )
    )


def cmd_status(args: argparse.Namespace) -> int:
    from fieldclient.security.vault import Vault

    vault = Vault(args.data_dir)
    info = vault.info()
    data: dict[str, Any] = {
        "app_version": __version__,
        "data_dir": str(args.data_dir),
        "state": info["state"],
        "device_id": info["device_id"],
        "keyring_backend": info["secret_store_name"],
        "keyring_is_fallback": info["secret_store_is_fallback"],
        "failed_attempts": info["failed_attempts"],
        "attempts_left": info["attempts_left"],
    }
    if info["state"] == "erased":
        raise DeviceErased()
    if info["state"] == "new":
        raise NotSetUp()
    if args.pin_stdin:
        from fieldclient.storage.session import unlock_device

        with unlock_device(args.data_dir, read_pins(1)[0]) as session:
            data.update(
                schema_version=session.schema_version(),
                records=session.records_by_kind(),
                pending_uploads=session.pending_uploads(),
                audit_entries=session.audit.verify().entries,
                unlocked=True,
            )
    else:
        data["unlocked"] = False
    lines = [
        t(QT_TRANSLATE_NOOP("cli", "程序版本：{v}"), v=__version__),
        t(QT_TRANSLATE_NOOP("cli", "数据目录：{d}"), d=data["data_dir"]),
        t(QT_TRANSLATE_NOOP("cli", "设备编号：{d}"), d=data["device_id"]),
        t(QT_TRANSLATE_NOOP("cli", "密钥库：{k}"), k=data["keyring_backend"]),
        t(QT_TRANSLATE_NOOP("cli", "解锁前连续输错PIN码次数：{n}"), n=data["failed_attempts"]),
    ]
    if data["keyring_is_fallback"]:
        lines.append(fallback_warning())
    if data["unlocked"]:
        lines.append(t(QT_TRANSLATE_NOOP("cli", "数据库版本：{v}"), v=data["schema_version"]))
        for kind, count in data["records"].items():
            lines.append(t(QT_TRANSLATE_NOOP("cli", "记录 {kind}：{n}"), kind=kind, n=count))
        lines.append(t(QT_TRANSLATE_NOOP("cli", "待上传：{n}"), n=data["pending_uploads"]))
    emit(args, data, lines)
    return EXIT_OK


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from fieldclient.storage.session import unlock_device

    pin = require_pin_stdin(args)
    with unlock_device(args.data_dir, pin) as session:
        result = session.audit.verify()
    data = {
        "ok": result.ok,
        "entries": result.entries,
        "first_broken": result.first_broken,
        "reason": result.reason,
    }
    if result.ok:
        lines = [t(QT_TRANSLATE_NOOP("cli", "审计日志完整：共{n}条。"), n=result.entries)]
    else:
        lines = [
            t(
                QT_TRANSLATE_NOOP("cli", "审计日志已被篡改：第{seq}条起无法验证（{reason}）。"),
                seq=result.first_broken,
                reason=result.reason,
            )
        ]
    emit(args, data, lines)
    return EXIT_OK if result.ok else EXIT_ERROR


def cmd_audit_export(args: argparse.Namespace) -> int:
    """Write the audit log as JSON lines; the export itself is audited."""
    from fieldclient.fsutil import atomic_write
    from fieldclient.storage.session import unlock_device

    pin = require_pin_stdin(args)
    with unlock_device(args.data_dir, pin) as session:
        entries = list(session.audit.entries())
        body = "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in entries)
        atomic_write(Path(args.out), body.encode("utf-8"), mode=0o600)
        session.record_export("audit_log", str(args.out), len(entries))
    emit(
        args,
        {"exported": len(entries), "file": str(args.out)},
        [t(QT_TRANSLATE_NOOP("cli", "已导出{n}条审计记录到 {f}"), n=len(entries), f=args.out)],
    )
    return EXIT_OK


def cmd_change_pin(args: argparse.Namespace) -> int:
    from fieldclient.security.vault import Vault

    old_pin, new_pin = read_pins(2)
    Vault(args.data_dir).change_pin(old_pin, new_pin)
    emit(args, {"changed": True}, [t(QT_TRANSLATE_NOOP("cli", "PIN码已更改。"))])
    return EXIT_OK


# -- argument parsing -------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data-dir",
        type=Path,
        default=argparse.SUPPRESS,
        help="device data directory (default: the platform's user data directory)",
    )
    parser = argparse.ArgumentParser(
        prog="fieldclient", parents=[common], description="Grid field client: device tools"
    )
    parser.add_argument("--version", action="version", version=__version__)
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, func: Any, help_text: str, pin: bool = True, as_json: bool = True,
                into: Any = commands) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = into.add_parser(name, parents=[common], help=help_text)
        if pin:
            sub.add_argument("--pin-stdin", action="store_true", help="read the PIN from stdin")
        if as_json:
            sub.add_argument("--json", action="store_true", help="machine-readable output")
        sub.set_defaults(func=func)
        return sub

    init = command("init", cmd_init, "set up this device (PIN on stdin)")
    cli_sync.add_enroll_arguments(init, required=False)
    init.set_defaults(func=cli_sync.cmd_init)
    enroll = command("enroll", cli_sync.cmd_enroll, "enroll this device with a central server")
    cli_sync.add_enroll_arguments(enroll, required=True)
    command("sync", cli_sync.cmd_sync, "one full sync with the central server")
    simulate = command("simulate", cli_sync.cmd_simulate, "synthetic field work (training data)")
    cli_sync.add_simulate_arguments(simulate)
    command("status", cmd_status, "show the device state (unlocks with --pin-stdin)")
    audit = commands.add_parser("audit", parents=[common], help="the audit log")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True)
    command("verify", cmd_audit_verify, "check the hash chain", into=audit_commands)
    export = command("export", cmd_audit_export, "export as JSON lines", into=audit_commands)
    export.add_argument("--out", required=True, help="file to write")
    command("change-pin", cmd_change_pin, "old and new PIN as two lines on stdin", pin=False)
    cli_photo.register(commands, common)
    cli_patrol.register(commands, command)
    cli_quota.register(commands, command)
    cli_tasks.register(commands, command)
    cli_events.register(command)
    cli_search.register(command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if "data_dir" not in args:
        args.data_dir = default_data_dir()
    try:
        return int(args.func(args))
    except UsageError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_USAGE
    except (WrongPin, PinLockedOut) as exc:
        print(exc.message(), file=sys.stderr)
        return EXIT_WRONG_PIN
    except DeviceErased as exc:
        print(exc.message(), file=sys.stderr)
        return EXIT_ERASED
    except NotSetUp as exc:
        print(exc.message(), file=sys.stderr)
        return EXIT_NOT_SET_UP
    except FieldClientError as exc:
        print(exc.message(), file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    # Run the imported ``fieldclient.cli``, not this ``__main__`` copy: the command
    # modules (cli_photo, cli_sync) import ``fieldclient.cli``, and its UsageError
    # must be the class main() catches.
    from fieldclient.cli import main as _main

    sys.exit(_main())
