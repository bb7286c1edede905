"""``fieldclient events``: this device's events with their current closed-loop status.

Registered by :func:`register` (see :mod:`fieldclient.cli`). Support
staff use it to answer "did my report arrive, and where is it now?" without the
tablet's screen.
"""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any

from fieldclient.cli import common as cli
from fieldclient.devicetime import CST
from fieldclient.i18n import QT_TRANSLATE_NOOP, translate


def te(text: str, **params: Any) -> str:
    return translate("events", text).format(**params)




def register(parser: cli.CommandParser) -> None:
    """Add ``events`` with the CLI's own ``command`` helper (``--pin-stdin``, ``--json``)."""
    parser.command("events", cmd_events,
                   QT_TRANSLATE_NOOP("cliHelp", "本设备上报的事件及其当前状态"))


def _local_time(moment: float) -> str:
    return datetime.fromtimestamp(moment, CST).strftime("%Y-%m-%d %H:%M")


def cmd_events(args: argparse.Namespace) -> int:
    from fieldclient.fieldwork import events
    from fieldclient.storage.session import unlock_device

    pin = str(cli.require_pin_stdin(args))
    with unlock_device(args.data_dir, pin) as session:
        found = events.my_events(session)
    data = [
        {
            "id": e.id,
            "category": e.category,
            "description": e.description,
            "urgency": e.urgency,
            "status": e.status,
            "status_text": te(events.STATUS_TEXT.get(e.status, e.status)),
            "reported_at": e.reported_at,
            "last_change": e.last_change,
            "pending_upload": e.pending_upload,
            "action": e.action,
            "training": e.training,
        }
        for e in found
    ]
    lines = [te(QT_TRANSLATE_NOOP("events", "共{count}个事件"), count=len(found))]
    for e, row in zip(found, data, strict=True):
        mark = te(QT_TRANSLATE_NOOP("events", "（待上传）")) if e.pending_upload else ""
        if e.training:
            mark += te(QT_TRANSLATE_NOOP("events", "（培训数据）"))
        lines.append(f"{_local_time(e.reported_at)}  {row['status_text']}{mark}  "
                     f"{e.category}  {e.description[:40]}  {e.id}")
    cli.emit(args, data, lines)
    return 0
