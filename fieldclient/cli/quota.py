"""``fieldclient quota``: the worker's quota status (progress per rule, who is due).

Registered by :func:`register` (see :mod:`fieldclient.cli`).
"""

from __future__ import annotations

import argparse
from typing import Any

from fieldclient.cli import common as cli
from fieldclient.fieldwork.quotas import CATEGORY_NAMES, PERIOD_NAMES
from fieldclient.i18n import QT_TRANSLATE_NOOP, translate


def tq(text: str, **params: Any) -> str:
    return translate("quota", text).format(**params)

def rule_line(progress: Any) -> str:
    """One rule and its progress, in plain words."""
    rule = progress.rule
    period = tq(PERIOD_NAMES[rule.period])
    if rule.kind == "patrol":
        head = tq(QT_TRANSLATE_NOOP("quota", "巡查网格：{period}至少{times}次"),
                  period=period, times=rule.times)
        line = tq(QT_TRANSLATE_NOOP("quota", "{head}。本期已巡查{done}/{total}个网格；"
                                    "本月{days}天有巡查（已过{so_far}天）"),
                  head=head, done=progress.done, total=progress.total,
                  days=progress.patrol_days, so_far=progress.days_so_far)
        return line
    head = tq(QT_TRANSLATE_NOOP("quota", "走访{category}：{period}至少{times}次"),
              category=tq(CATEGORY_NAMES[rule.category]), period=period, times=rule.times)
    return tq(QT_TRANSLATE_NOOP("quota", "{head}。{start}至{end}已走访{done}/{total}户，"
                                "逾期{overdue}户"),
              head=head, start=progress.span.start.date().isoformat(),
              end=progress.span.last_day.isoformat(), done=progress.done,
              total=progress.total, overdue=progress.overdue)


def cmd_quota(args: argparse.Namespace) -> int:
    from fieldclient.fieldwork import quotas
    from fieldclient.storage.session import unlock_device

    pin = str(cli.require_pin_stdin(args))
    with unlock_device(args.data_dir, pin) as session:
        status = quotas.quota_status(session, sample=args.first)
    lines = [tq(QT_TRANSLATE_NOOP("quota", "今天：{today}"), today=status.today.isoformat())]
    lines += [rule_line(p) for p in status.rules]
    lines.append(tq(QT_TRANSLATE_NOOP("quota", "逾期{overdue}户，本周到期{soon}户。"),
                    overdue=status.overdue, soon=status.due_soon))
    for item in status.due:
        if item.overdue:
            when = tq(QT_TRANSLATE_NOOP("quota", "逾期{days}天"),
                      days=item.days_overdue(status.today))
        else:
            when = tq(QT_TRANSLATE_NOOP("quota", "{date}到期"), date=item.due_date.isoformat())
        lines.append(f"  {item.head_name}  {item.address}  {when}")
    cli.emit(args, status.as_json(), lines)
    return 0


def register(parser: cli.CommandParser) -> None:
    """Add ``quota``."""
    quota = parser.command("quota", cmd_quota,
                           QT_TRANSLATE_NOOP(
                               "cliHelp", "网格员的任务完成情况（PIN码从标准输入读取）"))
    quota.add_argument("--first", type=int, default=20,
                       help=QT_TRANSLATE_NOOP(
                           "cliHelp", "最多列出多少户逾期或到期的住户（默认20）"))
