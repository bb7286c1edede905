"""``fieldclient map install FILE | show | remove``: the offline map of the district.

IT installs the tile archive it made for the district (MBTiles or PMTiles, PNG or
JPEG tiles); the file is copied into the data directory and validated there first
(:mod:`fieldclient.geo.maps`). No PIN: map tiles are not personal data. A refused
file prints a translated reason and exits 1, leaving the installed map as it was.

Registered by :func:`register` (see :mod:`fieldclient.cli`).
"""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from fieldclient.cli import common as cli
from fieldclient.i18n import QT_TRANSLATE_NOOP

if TYPE_CHECKING:
    from fieldclient.geo.maps import InstalledMap


def register(parser: cli.CommandParser) -> None:
    """Add ``map install``, ``map show`` and ``map remove``."""
    group = parser.commands.add_parser("map", parents=[parser.common],
                                       help=QT_TRANSLATE_NOOP(
                                           "cliHelp", "辖区的离线地图（瓦片文件）"))
    sub = group.add_subparsers(dest="map_command", required=True)
    install = parser.command("install", cmd_install,
                             QT_TRANSLATE_NOOP("cliHelp", "安装MBTiles或PMTiles地图文件"),
                             pin=False, into=sub)
    install.add_argument("file", type=Path, metavar="FILE",
                         help=QT_TRANSLATE_NOOP("cliHelp", ".mbtiles或.pmtiles文件"))
    parser.command("show", cmd_show,
                   QT_TRANSLATE_NOOP("cliHelp", "显示已安装的地图"), pin=False, into=sub)
    parser.command("remove", cmd_remove,
                   QT_TRANSLATE_NOOP("cliHelp", "卸载地图"), pin=False, into=sub)


def describe(installed: InstalledMap) -> list[str]:
    info = installed.info
    lines = [
        cli.t(QT_TRANSLATE_NOOP("cli", "离线地图：{name}（{kind}，{format}图片）"),
              name=info.name, kind=info.kind.upper(), format=info.tile_format.upper()),
        cli.t(QT_TRANSLATE_NOOP("cli", "缩放级别：{low}-{high}"),
              low=info.min_zoom, high=info.max_zoom),
        cli.t(QT_TRANSLATE_NOOP("cli", "文件：{path}（{size:.1f} MB）"),
              path=str(installed.path), size=installed.size / 1e6),
        cli.t(QT_TRANSLATE_NOOP("cli", "安装时间：{when}"),
              when=datetime.fromtimestamp(installed.installed_at).strftime("%Y-%m-%d %H:%M")),
    ]
    if info.bounds is not None:
        b = info.bounds
        lines.append(cli.t(QT_TRANSLATE_NOOP("cli", "范围：北纬{south:.4f}-{north:.4f}，"
                                             "东经{west:.4f}-{east:.4f}"),
                           south=b.south, north=b.north, west=b.west, east=b.east))
    if info.attribution:
        lines.append(cli.t(QT_TRANSLATE_NOOP("cli", "来源：{source}"), source=info.attribution))
    return lines


def cmd_install(args: argparse.Namespace) -> int:
    from fieldclient.geo.maps import install_map

    installed = install_map(args.data_dir, args.file)
    lines = [cli.t(QT_TRANSLATE_NOOP("cli", "已安装离线地图。")), *describe(installed)]
    cli.emit(args, installed.as_json(), lines)
    return cli.EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    from fieldclient.geo.maps import installed_map

    installed = installed_map(args.data_dir)
    if installed is None:
        text = QT_TRANSLATE_NOOP("cli", "没有安装离线地图：地图只显示浅色网格和比例尺。")
        cli.emit(args, {"installed": None}, [cli.t(text)])
        return cli.EXIT_OK
    cli.emit(args, {"installed": installed.as_json()}, describe(installed))
    return cli.EXIT_OK


def cmd_remove(args: argparse.Namespace) -> int:
    from fieldclient.geo.maps import remove_map

    removed = remove_map(args.data_dir)
    text = (QT_TRANSLATE_NOOP("cli", "已删除离线地图。") if removed
            else QT_TRANSLATE_NOOP("cli", "没有安装离线地图。"))
    cli.emit(args, {"removed": removed}, [cli.t(text)])
    return cli.EXIT_OK
