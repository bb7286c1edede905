"""``fieldclient photo add``, ``photo export`` and ``photo free-synced``.

``add`` runs the same in-memory pipeline as the camera (:mod:`fieldclient.photos.pipeline`)
on image files, e.g. a camera card's folder: each file is resized, watermarked,
hashed and stored encrypted. A bad file is reported and skipped, the rest go on;
the exit code is then 1. ``export`` writes one photo's final JPEG decrypted
(0600, atomic) and records the export in the audit log. ``free-synced`` deletes the
full JPEG of the photos the centre holds (:mod:`fieldclient.photos.space`); ``photos``
is the same command group.

Registered by :func:`register` (see :mod:`fieldclient.cli`); messages are Chinese source
text (context ``photos``) translated like the rest of the CLI.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from fieldclient.cli import common as cli
from fieldclient.i18n import QT_TRANSLATE_NOOP, translate

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".heic", ".heif")


def t(text: str, **params: Any) -> str:
    return translate("photos", text).format(**params)


def _coordinate(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(text)
    return value


def register(parser: cli.CommandParser) -> None:
    """Add ``photo add`` and ``photo export`` to the CLI's sub-commands."""
    commands, common = parser.commands, parser.common
    photo = commands.add_parser("photo", aliases=["photos"], parents=[common],
                                help=QT_TRANSLATE_NOOP("cliHelp", "取证照片"))
    sub = photo.add_subparsers(dest="photo_command", required=True)

    add = sub.add_parser("add", parents=[common],
                         help=QT_TRANSLATE_NOOP("cliHelp", "通过照片处理流程导入图片文件"))
    add.add_argument("paths", nargs="+", type=Path, metavar="PATH",
                     help=QT_TRANSLATE_NOOP(
                         "cliHelp", "图片文件（JPEG、PNG、HEIF）或包含它们的文件夹"))
    add.add_argument("--lat", type=_coordinate,
                     help=QT_TRANSLATE_NOOP("cliHelp", "纬度（WGS-84，度）"))
    add.add_argument("--lon", type=_coordinate,
                     help=QT_TRANSLATE_NOOP("cliHelp", "经度（WGS-84，度）"))
    add.add_argument("--grid", help=QT_TRANSLATE_NOOP("cliHelp", "水印中显示的网格名称"))
    add.add_argument("--grid-id", help=QT_TRANSLATE_NOOP("cliHelp", "照片所属网格编号（用于同步）"))
    add.add_argument("--worker", help=QT_TRANSLATE_NOOP("cliHelp", "水印中显示的网格员姓名"))
    add.add_argument("--place", help=QT_TRANSLATE_NOOP("cliHelp", "水印中显示的地点名称"))
    add.add_argument("--allow-duplicate", action="store_true",
                     help=QT_TRANSLATE_NOOP("cliHelp", "即使以前导入过，也再导入一次"))
    add.add_argument("--pin-stdin", action="store_true",
                     help=QT_TRANSLATE_NOOP("cliHelp", "从标准输入读取PIN码"))
    add.add_argument("--json", action="store_true",
                     help=QT_TRANSLATE_NOOP("cliHelp", "输出JSON，供程序读取"))
    add.set_defaults(func=cmd_photo_add)

    export = sub.add_parser("export", parents=[common],
                            help=QT_TRANSLATE_NOOP("cliHelp", "把照片解密后写成JPEG文件"))
    export.add_argument("photo_id", metavar="ID")
    export.add_argument("out", type=Path, metavar="OUT",
                        help=QT_TRANSLATE_NOOP("cliHelp", "要写入的文件（或文件夹）"))
    export.add_argument("--pin-stdin", action="store_true",
                        help=QT_TRANSLATE_NOOP("cliHelp", "从标准输入读取PIN码"))
    export.add_argument("--json", action="store_true",
                        help=QT_TRANSLATE_NOOP("cliHelp", "输出JSON，供程序读取"))
    export.set_defaults(func=cmd_photo_export)

    free = sub.add_parser(
        "free-synced", parents=[common],
        help=QT_TRANSLATE_NOOP("cliHelp", "释放已上传到中心的照片原图占用的空间（缩略图保留）"))
    free.add_argument("--dry-run", action="store_true",
                      help=QT_TRANSLATE_NOOP("cliHelp", "只显示能释放多少，不删除"))
    free.add_argument("--pin-stdin", action="store_true",
                      help=QT_TRANSLATE_NOOP("cliHelp", "从标准输入读取PIN码"))
    free.add_argument("--json", action="store_true",
                      help=QT_TRANSLATE_NOOP("cliHelp", "输出JSON，供程序读取"))
    free.set_defaults(func=cmd_photo_free_synced)


def expand_paths(paths: list[Path]) -> list[Path]:
    """Files as given; folders replaced by the image files inside them (sorted)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(
                sorted(p for p in path.rglob("*")
                       if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                       and not p.name.startswith("."))
            )
        else:
            files.append(path)
    return files


def cmd_photo_add(args: argparse.Namespace) -> int:
    from fieldclient.errors import FieldClientError
    from fieldclient.photos import pipeline as photos
    from fieldclient.storage.session import unlock_device

    if (args.lat is None) != (args.lon is None):
        raise photos.InvalidPosition()
    if args.lat is not None and not (-90 <= args.lat <= 90 and -180 <= args.lon <= 180):
        raise photos.InvalidPosition()
    files = expand_paths(args.paths)
    if not files:
        raise cli.UsageError(t(QT_TRANSLATE_NOOP("photos", "没有找到可导入的照片文件。")))
    photos.find_cjk_font()  # no font: one clear error before asking for the PIN
    pin = cli.require_pin_stdin(args)
    added: list[dict[str, Any]] = []
    failed: list[dict[str, str]] = []
    lines: list[str] = []
    with unlock_device(args.data_dir, pin) as session:
        for path in files:
            try:
                photo = photos.add_photo_file(
                    session, path, lat=args.lat, lon=args.lon, grid_id=args.grid_id,
                    grid_name=args.grid, worker=args.worker, place=args.place,
                    allow_duplicate=args.allow_duplicate,
                )
            except photos.CjkFontMissing:
                raise
            except FieldClientError as exc:
                failed.append({"path": str(path), "error": exc.message()})
                print(exc.message(), file=sys.stderr)
                continue
            added.append({"path": str(path), **photo.to_json()})
            template = (
                QT_TRANSLATE_NOOP("photos", "已导入过，未重复保存：{path} → {id}  SHA-256 {sha}")
                if photo.duplicate
                else QT_TRANSLATE_NOOP("photos", "已保存：{path} → {id}  SHA-256 {sha}")
            )
            lines.append(t(template, path=path, id=photo.id, sha=photo.sha256))
    lines.append(
        t(QT_TRANSLATE_NOOP("photos", "共导入{n}张照片，失败{failed}张。"),
          n=sum(1 for p in added if not p["duplicate"]), failed=len(failed))
    )
    cli.emit(args, {"photos": added, "failed": failed}, lines)
    return cli.EXIT_ERROR if failed else cli.EXIT_OK


def cmd_photo_export(args: argparse.Namespace) -> int:
    from fieldclient.photos import pipeline as photos
    from fieldclient.storage.session import unlock_device

    pin = cli.require_pin_stdin(args)
    with unlock_device(args.data_dir, pin) as session:
        target = photos.export_photo(session, args.photo_id, args.out)
        photo = photos.get_photo(session, args.photo_id)
    cli.emit(
        args,
        {"id": photo.id, "sha256": photo.sha256, "bytes": photo.bytes, "file": str(target)},
        [t(QT_TRANSLATE_NOOP("photos", "已导出照片 {id} 到 {file}（SHA-256 {sha}）"),
           id=photo.id, file=target, sha=photo.sha256)],
    )
    return cli.EXIT_OK


def cmd_photo_free_synced(args: argparse.Namespace) -> int:
    from fieldclient.fsutil import human_size
    from fieldclient.photos import space
    from fieldclient.storage.session import unlock_device

    pin = cli.require_pin_stdin(args)
    with unlock_device(args.data_dir, pin) as session:
        before = space.photo_space(session)
        freed = None if args.dry_run else space.free_synced(session)
        after = space.photo_space(session)
    lines = [t(QT_TRANSLATE_NOOP(
        "photos", "本机照片{n}张，占用{size}；已上传到中心、可以释放的{free}张（{free_size}）；"
                  "还没上传的{waiting}张，不会释放。"),
        n=before.photos, size=human_size(before.on_disk_bytes), free=before.freeable,
        free_size=human_size(before.freeable_bytes), waiting=before.waiting)]
    if freed is not None:
        lines.append(t(QT_TRANSLATE_NOOP(
            "photos", "已释放{n}张照片的原图，腾出{size}（缩略图保留，原图在中心）。"),
            n=freed.count, size=human_size(freed.bytes)))
    data: dict[str, Any] = {"before": before.to_json(), "after": after.to_json(),
                            "freed": freed.to_json() if freed is not None else None,
                            "dry_run": bool(args.dry_run)}
    cli.emit(args, data, lines)
    return cli.EXIT_OK
