"""``fieldclient review``: the month's review figures per worker (督导考核), worst first.

The same figures as the Review page and the centre's ``central report``
(:mod:`fieldclient.fieldwork.review`). Registered by :func:`register`.
"""

from __future__ import annotations

import argparse
import re
from typing import Any

from fieldclient.cli import common as cli
from fieldclient.fieldwork.quotas import CATEGORY_NAMES
from fieldclient.i18n import QT_TRANSLATE_NOOP, translate

MONTH_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def tr(text: str, **params: Any) -> str:
    return translate("review", text).format(**params)


def worker_lines(worker: dict[str, Any]) -> list[str]:
    """One worker's figures and flags, in plain words."""
    from fieldclient.fieldwork.review import flag_reason

    by_category = "，".join(
        tr(QT_TRANSLATE_NOOP("review", "{category}{n}次"),
           category=translate("quota", CATEGORY_NAMES[c]), n=n)
        for c, n in worker["visits_by_category"].items() if c in CATEGORY_NAMES)
    lines = [
        tr(QT_TRANSLATE_NOOP("review", "{name}（得分{score}）：巡查{days}天（应{target}），"
                             "走访{visits}次（{by_category}），逾期未走访{overdue}户，"
                             "上报事件{reported}件、办结{closed}件"),
           name=worker["name"], score=worker["score"], days=worker["patrol_days"],
           target=worker["patrol_target"], visits=worker["visits"], by_category=by_category,
           overdue=worker["overdue_households"], reported=worker["events_reported"],
           closed=worker["events_closed"])]
    for flag in worker["flags"]:
        lines.append(f"  ! {flag['record_id']}: {flag_reason(flag)}")
    return lines


def cmd_review(args: argparse.Namespace) -> int:
    from fieldclient.fieldwork import review
    from fieldclient.storage.session import unlock_device

    if args.month is not None and not MONTH_RE.match(args.month):
        raise cli.UsageError(tr(QT_TRANSLATE_NOOP(
            "review", "月份应写成“年-月”，例如 2026-03：{month}"), month=args.month))
    pin = str(cli.require_pin_stdin(args))
    with unlock_device(args.data_dir, pin) as session:
        figures = review.month_figures(session, args.month, args.grid)
    lines = [tr(QT_TRANSLATE_NOOP("review", "{month}月考核（{start}至{until}）"),
                month=figures["month"], start=figures["from"], until=figures["until"])]
    for worker in figures["workers"]:
        lines += worker_lines(worker)
    if not figures["workers"]:
        lines.append(tr(QT_TRANSLATE_NOOP("review", "本机没有这个网格的人员。")))
    cli.emit(args, figures, lines)
    return 0


def register(parser: cli.CommandParser) -> None:
    """Add ``review``."""
    command = parser.command("review", cmd_review,
                             QT_TRANSLATE_NOOP(
                                 "cliHelp", "本月每位网格员的督导数据（PIN码从标准输入读取）"))
    command.add_argument("--month", default=None, metavar="YYYY-MM",
                         help=QT_TRANSLATE_NOOP("cliHelp", "月份（默认：本月）"))
    command.add_argument("--grid", default=None,
                         help=QT_TRANSLATE_NOOP("cliHelp", "只看这个网格（默认：全部）"))
