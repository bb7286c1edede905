"""``fieldclient search QUERY [--json] [--category C] [--tag T] [--due] --pin-stdin``:
the Households page's search from the command line (the same function, the same
ranking; sensitive fields masked). Registered by :func:`register` (see
:mod:`fieldclient.cli`).
"""

from __future__ import annotations

import argparse
import unicodedata
from typing import Any

from fieldclient.cli import common as cli
from fieldclient.i18n import QT_TRANSLATE_NOOP, translate

CATEGORY_TEXT = {
    "ordinary": QT_TRANSLATE_NOOP("search", "一般"),
    "hardship": QT_TRANSLATE_NOOP("search", "困难"),
    "key": QT_TRANSLATE_NOOP("search", "重点"),
}


def ts(text: str, **params: Any) -> str:
    return translate("search", text).format(**params)




def _width(text: str) -> int:
    """Columns on a terminal: Chinese characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - _width(text))


def table(rows: list[list[str]]) -> list[str]:
    """Rows as aligned columns (the last one left ragged)."""
    if not rows:
        return []
    widths = [max(_width(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(_pad(cell, widths[i]) if i < len(row) - 1 else cell
                      for i, cell in enumerate(row)) for row in rows]


def cmd_search(args: argparse.Namespace) -> int:
    from fieldclient.fieldwork.households import HIDDEN_TAG
    from fieldclient.fieldwork.search import search_households
    from fieldclient.storage.session import unlock_device

    if args.limit < 1:
        raise cli.UsageError(ts(QT_TRANSLATE_NOOP("search", "--limit 至少为1。")))
    pin = cli.require_pin_stdin(args)
    with unlock_device(args.data_dir, pin) as session:
        hits = search_households(session, args.query, category=args.category, tag=args.tag,
                                 due_only=args.due, limit=args.limit, offset=args.offset)
    hidden = ts(QT_TRANSLATE_NOOP("search", "特殊人群（已隐藏）"))
    rows = [[ts(QT_TRANSLATE_NOOP("search", "户主")), ts(QT_TRANSLATE_NOOP("search", "类别")),
             ts(QT_TRANSLATE_NOOP("search", "电话")), ts(QT_TRANSLATE_NOOP("search", "标签")),
             ts(QT_TRANSLATE_NOOP("search", "地址"))]]
    for hit in hits:
        rows.append([hit.head_name, ts(CATEGORY_TEXT.get(hit.category, hit.category)),
                     hit.phone or "-",
                     "、".join(hidden if t == HIDDEN_TAG else t for t in hit.tags) or "-",
                     hit.address])
    lines = table(rows) if hits else []
    lines.append(ts(QT_TRANSLATE_NOOP("search", "找到{n}户。"), n=len(hits)))
    cli.emit(args, {"query": args.query, "count": len(hits),
                    "households": [h.as_dict() for h in hits]}, lines)
    return 0


def register(parser: cli.CommandParser) -> None:
    """Add ``search``."""
    sub = parser.command("search", cmd_search,
                         QT_TRANSLATE_NOOP(
                             "cliHelp", "按姓名、拼音、首字母、地址或号码尾号查找住户"))
    sub.add_argument("query", help=QT_TRANSLATE_NOOP("cliHelp", "要查找的内容（留空：全部住户）"))
    sub.add_argument("--category", choices=("ordinary", "hardship", "key"))
    sub.add_argument("--tag", help=QT_TRANSLATE_NOOP("cliHelp", "只查有这个标签的住户"))
    sub.add_argument("--due", action="store_true",
                     help=QT_TRANSLATE_NOOP("cliHelp", "只查需要走访的住户"))
    sub.add_argument("--limit", type=int, default=50,
                     help=QT_TRANSLATE_NOOP("cliHelp", "最多显示多少户（默认50）"))
    sub.add_argument("--offset", type=int, default=0,
                     help=QT_TRANSLATE_NOOP("cliHelp", "跳过前面多少户"))
