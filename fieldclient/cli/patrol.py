"""``fieldclient checklist ...`` and ``fieldclient track ...``: patrol data from the command line.

Registered by :func:`register` (see :mod:`fieldclient.cli`).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from fieldclient.cli import common as cli
from fieldclient.i18n import QT_TRANSLATE_NOOP, translate


def tp(text: str, **params: Any) -> str:
    return translate("patrol", text).format(**params)




def _pin(args: argparse.Namespace) -> str:
    return str(cli.require_pin_stdin(args))


def _emit(args: argparse.Namespace, data: Any, lines: list[str]) -> None:
    cli.emit(args, data, lines)


def _language() -> str:
    from fieldclient.i18n import cli_language

    return cli_language()


# -- checklist ----------------------------------------------------------------
def cmd_checklist_show(args: argparse.Namespace) -> int:
    from fieldclient.fieldwork import checklist

    if args.pin_stdin:
        from fieldclient.storage.session import unlock_device

        with unlock_device(args.data_dir, _pin(args)) as session:
            current = checklist.checklist_in_force(session)
    else:
        if not checklist.bundled_is_in_force(args.data_dir):
            raise cli.UsageError(
                tp(
                    QT_TRANSLATE_NOOP(
                        "patrol",
                        "本机已安装第{version}版巡查清单，查看它需要PIN码：请加上 --pin-stdin。",
                    ),
                    version=checklist.marker_version(args.data_dir),
                )
            )
        current = checklist.bundled_checklist()
    language = _language()
    lines = [
        tp(
            QT_TRANSLATE_NOOP("patrol", "{title}（第{version}版，共{count}项）"),
            title=current.title(language),
            version=current.version,
            count=len(current),
        )
    ]
    for group, items in current.groups():
        lines.append("")
        lines.append(group.name(language))
        for item in items:
            mark = tp(QT_TRANSLATE_NOOP("patrol", "（发现问题须拍照）")) if (
                item.photo_required_on_problem
            ) else ""
            lines.append(f"  {item.code}  {item.name(language)}{mark}")
    _emit(args, [item.as_json() for item in current.items], lines)
    return 0


def cmd_checklist_install(args: argparse.Namespace) -> int:
    from fieldclient.fieldwork import checklist
    from fieldclient.storage.session import unlock_device

    pin = _pin(args)
    path = Path(args.file)
    definition = path.read_bytes()
    sig_path = Path(args.sig) if args.sig else checklist.signature_path(path)
    signature = sig_path.read_bytes() if sig_path.exists() else None
    with unlock_device(args.data_dir, pin) as session:
        installed = checklist.install_checklist(session, definition, signature, source="file")
    _emit(
        args,
        {"version": installed.version, "items": len(installed)},
        [tp(QT_TRANSLATE_NOOP("patrol", "已安装巡查清单第{version}版（{count}项）。"),
            version=installed.version, count=len(installed))],
    )
    return 0


# -- tracks -------------------------------------------------------------------
def cmd_track_import(args: argparse.Namespace) -> int:
    from fieldclient.fieldwork.tracks import import_track
    from fieldclient.storage.session import unlock_device

    pin = _pin(args)
    with unlock_device(args.data_dir, pin) as session:
        result = import_track(
            session,
            Path(args.file),
            patrol_id=args.patrol,
            grid_id=args.grid,
            fmt=args.format,
            tolerance_m=args.tolerance,
        )
    data = result.as_json()
    lines = [
        tp(QT_TRANSLATE_NOOP("patrol", "已导入轨迹：{track_id}"), track_id=data["track_id"]),
        tp(QT_TRANSLATE_NOOP("patrol", "保留定位点：{kept}（共读到{read}个）"),
           kept=data["points_kept"], read=data["points_read"]),
        tp(QT_TRANSLATE_NOOP("patrol", "距离：{m}米"), m=data["distance_m"]),
        tp(QT_TRANSLATE_NOOP("patrol", "开始时间：{t}"), t=data["started_at"]),
        tp(QT_TRANSLATE_NOOP("patrol", "结束时间：{t}"), t=data["ended_at"]),
    ]
    if result.lines_skipped:
        lines.append(tp(QT_TRANSLATE_NOOP("patrol", "跳过损坏的行：{n}"), n=result.lines_skipped))
    _emit(args, data, lines)
    return 0


def register(parser: cli.CommandParser) -> None:
    """Add ``checklist show|install`` and ``track import``."""
    commands, common, command = parser.commands, parser.common, parser.command
    checklist = commands.add_parser("checklist", parents=[common],
                                    help=QT_TRANSLATE_NOOP("cliHelp", "巡查检查清单"))
    checklist_commands = checklist.add_subparsers(dest="checklist_command", required=True)
    command("show", cmd_checklist_show,
            QT_TRANSLATE_NOOP("cliHelp", "显示当前使用的检查清单（已安装的版本需要 --pin-stdin）"),
            into=checklist_commands)
    install = command("install", cmd_checklist_install,
                      QT_TRANSLATE_NOOP("cliHelp", "安装签名的检查清单（FILE和FILE.sig）"),
                      into=checklist_commands)
    install.add_argument("file", help=QT_TRANSLATE_NOOP("cliHelp", "检查清单定义（JSON）"))
    install.add_argument("--sig",
                         help=QT_TRANSLATE_NOOP("cliHelp", "单独的签名文件（默认：FILE.sig）"))
    track = commands.add_parser("track", parents=[common],
                                help=QT_TRANSLATE_NOOP("cliHelp", "GPS轨迹"))
    track_commands = track.add_subparsers(dest="track_command", required=True)
    imp = command("import", cmd_track_import,
                  QT_TRANSLATE_NOOP("cliHelp", "把GPS记录仪的NMEA或GPX记录导入为轨迹"),
                  into=track_commands)
    imp.add_argument("file", help=QT_TRANSLATE_NOOP("cliHelp", "NMEA记录或GPX文件"))
    imp.add_argument("--patrol", help=QT_TRANSLATE_NOOP("cliHelp", "把轨迹附到这次巡查"))
    imp.add_argument("--grid",
                     help=QT_TRANSLATE_NOOP("cliHelp", "轨迹所属网格编号（默认：巡查的网格）"))
    imp.add_argument("--format", choices=("nmea", "gpx"),
                     help=QT_TRANSLATE_NOOP("cliHelp", "默认：自动识别"))
    imp.add_argument("--tolerance", type=float, default=3.0,
                     help=QT_TRANSLATE_NOOP("cliHelp", "轨迹简化容差，单位米（默认3）"))
