"""``fieldclient tasks``: the task inbox from the command line; ``tasks ack ID`` and
``tasks answer ID --text T`` act on one task (sent to the centre on the next sync).

Registered by :func:`register` (see :mod:`fieldclient.cli`).
"""

from __future__ import annotations

import argparse
from typing import Any

from fieldclient.cli import common as cli
from fieldclient.i18n import QT_TRANSLATE_NOOP, translate


def tt(text: str, **params: Any) -> str:
    return translate("tasks", text).format(**params)


def _task_json(task: Any) -> dict[str, Any]:
    return {
        "id": task.id, "grid_id": task.grid_id, "title": task.title, "body": task.body,
        "due": task.due.isoformat() if task.due else None,
        "notice": task.is_notice, "unread": task.unread, "acknowledged": task.acknowledged,
        "overdue": task.overdue,
        "answers": [{"id": a.id, "text": a.text, "photos": list(a.photos),
                     "event_id": a.event_id, "created_at": a.created_at} for a in task.answers],
    }


def _task_line(task: Any) -> str:
    state = (tt(QT_TRANSLATE_NOOP("tasks", "已回复")) if task.answered
             else tt(QT_TRANSLATE_NOOP("tasks", "已确认")) if task.acknowledged
             else tt(QT_TRANSLATE_NOOP("tasks", "未读")) if task.unread
             else tt(QT_TRANSLATE_NOOP("tasks", "已读")))
    due = ""
    if task.due is not None:
        when = task.due.strftime("%Y-%m-%d %H:%M")
        due = tt(QT_TRANSLATE_NOOP("tasks", "截止 {when}"), when=when)
        if task.overdue:
            due += tt(QT_TRANSLATE_NOOP("tasks", "（已过期）"))
    else:
        due = tt(QT_TRANSLATE_NOOP("tasks", "通知"))
    return f"{task.id}  [{state}]  {task.title}  {due}"


def cmd_tasks(args: argparse.Namespace) -> int:
    from fieldclient.fieldwork import tasks
    from fieldclient.storage.session import unlock_device

    pin = cli.require_pin_stdin(args)
    with unlock_device(args.data_dir, pin) as session:
        items = tasks.inbox(session)
    lines = [_task_line(t) for t in items] or [tt(QT_TRANSLATE_NOOP("tasks", "没有任务。"))]
    cli.emit(args, {"tasks": [_task_json(t) for t in items]}, lines)
    return 0


def cmd_ack(args: argparse.Namespace) -> int:
    from fieldclient.fieldwork import tasks
    from fieldclient.storage.session import unlock_device

    pin = cli.require_pin_stdin(args)
    with unlock_device(args.data_dir, pin) as session:
        record = tasks.acknowledge(session, args.id)
    line = (tt(QT_TRANSLATE_NOOP("tasks", "已确认收到，下次同步时发送给指挥中心。"))
            if record else tt(QT_TRANSLATE_NOOP("tasks", "这条任务之前已经确认过了。")))
    cli.emit(args, {"task_id": args.id, "acknowledged": True, "record_id": record}, [line])
    return 0


def cmd_answer(args: argparse.Namespace) -> int:
    from fieldclient.fieldwork import tasks
    from fieldclient.storage.session import unlock_device

    pin = cli.require_pin_stdin(args)
    with unlock_device(args.data_dir, pin) as session:
        answer_id = tasks.answer(session, args.id, args.text, photos=args.photo or (),
                                 event_id=args.event)
    cli.emit(args, {"task_id": args.id, "answer_id": answer_id},
             [tt(QT_TRANSLATE_NOOP("tasks", "回复已保存，下次同步时发送给指挥中心。"))])
    return 0


def register(parser: cli.CommandParser) -> None:
    """Add ``tasks`` (list) with ``ack`` and ``answer``."""
    inbox = parser.command("tasks", cmd_tasks,
                           QT_TRANSLATE_NOOP("cliHelp", "任务收件箱（未读的在前）"))
    sub = inbox.add_subparsers(dest="tasks_command", required=False)
    ack = parser.command("ack", cmd_ack, QT_TRANSLATE_NOOP("cliHelp", "确认收到任务"), into=sub)
    ack.add_argument("id", help=QT_TRANSLATE_NOOP("cliHelp", "任务编号"))
    ans = parser.command("answer", cmd_answer,
                         QT_TRANSLATE_NOOP("cliHelp", "回复任务（文字，可附照片和事件）"), into=sub)
    ans.add_argument("id", help=QT_TRANSLATE_NOOP("cliHelp", "任务编号"))
    ans.add_argument("--text", default="", help=QT_TRANSLATE_NOOP("cliHelp", "回复内容"))
    ans.add_argument("--photo", action="append",
                     help=QT_TRANSLATE_NOOP("cliHelp", "已保存照片的编号（可重复）"))
    ans.add_argument("--event", help=QT_TRANSLATE_NOOP("cliHelp", "为这个任务上报的事件编号"))
