"""``fieldclient audit verify`` and ``audit export``: the hash-chained audit log."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from fieldclient.cli.common import (
    EXIT_ERROR,
    EXIT_OK,
    CommandParser,
    emit,
    require_pin_stdin,
    t,
)
from fieldclient.i18n import QT_TRANSLATE_NOOP


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


def register(parser: CommandParser) -> None:
    audit = parser.commands.add_parser("audit", parents=[parser.common],
                                       help=QT_TRANSLATE_NOOP("cliHelp", "审计日志"))
    audit_commands = audit.add_subparsers(dest="audit_command", required=True)
    parser.command("verify", cmd_audit_verify,
                   QT_TRANSLATE_NOOP("cliHelp", "检查哈希链是否完整"), into=audit_commands)
    export = parser.command("export", cmd_audit_export,
                            QT_TRANSLATE_NOOP("cliHelp", "导出为JSON Lines文件"),
                            into=audit_commands)
    export.add_argument("--out", required=True, help=QT_TRANSLATE_NOOP("cliHelp", "要写入的文件"))
