"""``fieldclient`` sync commands: ``init --server --enroll-code``, ``enroll``, ``sync``,
``simulate``.

``sync`` builds on ``fieldclient``, so ``fieldclient.cli`` cannot import this module: it
finds :func:`register` through the entry point ``gridfield.cli: sync`` in
``pyproject.toml``. Messages are Chinese source text (context ``sync``) translated like the
rest of the CLI.
"""

from __future__ import annotations

import argparse
import socket
from typing import Any

from fieldclient.cli import common as cli
from fieldclient.cli import device
from fieldclient.i18n import QT_TRANSLATE_NOOP, translate


def t(text: str, **params: Any) -> str:
    return translate("sync", text).format(**params)


def add_enroll_arguments(parser: argparse.ArgumentParser, required: bool) -> None:
    parser.add_argument("--server", required=required,
                        help=QT_TRANSLATE_NOOP("cliHelp", "指挥中心服务器地址"))
    parser.add_argument("--enroll-code", required=required,
                        help=QT_TRANSLATE_NOOP("cliHelp", "一次性登记码"))
    parser.add_argument("--device-name", default=None,
                        help=QT_TRANSLATE_NOOP("cliHelp", "给管理员看的设备名称"))


def _enroll_lines(info: Any) -> list[str]:
    return [
        t(QT_TRANSLATE_NOOP("sync", "已注册到服务器 {server}，设备编号 {device}"),
          server=info.server_url, device=info.device_id),
        t(QT_TRANSLATE_NOOP("sync", "使用人：{name}，网格：{grids}"),
          name=info.person_name, grids=", ".join(str(g) for g in info.grids)),
    ]


def _enroll_data(info: Any) -> dict[str, Any]:
    return {
        "server": info.server_url,
        "server_device_id": info.device_id,
        "person": {"id": info.person_id, "name": info.person_name, "role": info.role},
        "grids": info.grids,
    }


def cmd_init(args: argparse.Namespace) -> int:
    """``fieldclient init``: set the device up; with ``--server`` also enroll it."""

    if not getattr(args, "server", None):
        return device.cmd_init(args)
    if not args.enroll_code:
        raise cli.UsageError(
            t(QT_TRANSLATE_NOOP("sync", "注册需要同时给出 --server 和 --enroll-code。"))
        )
    from fieldclient.security.vault import Vault
    from fieldclient.storage.session import setup_device
    from sync.engine import enroll_device
    from sync.transport import normalize_server_url

    normalize_server_url(args.server)  # refuse a bad URL before setting anything up
    pin = cli.require_pin_stdin(args)
    with setup_device(args.data_dir, pin) as session:
        vault_info = Vault(args.data_dir).info()
        data: dict[str, Any] = {
            "device_id": session.device_id,
            "data_dir": str(args.data_dir),
            "keyring_backend": vault_info["secret_store_name"],
            "keyring_is_fallback": vault_info["secret_store_is_fallback"],
        }
        lines = [cli.t(QT_TRANSLATE_NOOP("cli", "设备已设置：{device_id}"),
                       device_id=session.device_id)]
        if data["keyring_is_fallback"]:
            lines.append(cli.fallback_warning())
        info = enroll_device(session, args.server, args.enroll_code,
                             args.device_name or socket.gethostname()[:100] or "gridfield")
    data.update(_enroll_data(info))
    cli.emit(args, data, lines + _enroll_lines(info))
    return cli.EXIT_OK


def cmd_enroll(args: argparse.Namespace) -> int:
    """``fieldclient enroll``: enroll an already set-up device."""
    from fieldclient.storage.session import unlock_device
    from sync.engine import enroll_device
    from sync.transport import normalize_server_url

    normalize_server_url(args.server)
    pin = cli.require_pin_stdin(args)
    with unlock_device(args.data_dir, pin) as session:
        info = enroll_device(session, args.server, args.enroll_code,
                             args.device_name or socket.gethostname()[:100] or "gridfield")
    cli.emit(args, _enroll_data(info), _enroll_lines(info))
    return cli.EXIT_OK


def report_lines(data: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    if data["ok"]:
        lines.append(t(QT_TRANSLATE_NOOP("sync", "同步完成。")))
    pushed = data["pushed"]
    if pushed:
        lines.append(t(
            QT_TRANSLATE_NOOP(
                "sync", "上传：成功{applied}，重复{duplicate}，冲突{conflict}，被拒绝{rejected}"
            ),
            applied=pushed.get("applied", 0), duplicate=pushed.get("duplicate", 0),
            conflict=pushed.get("conflict", 0), rejected=pushed.get("rejected", 0),
        ))
    pulled = data["pulled"]
    if pulled:
        lines.append(t(
            QT_TRANSLATE_NOOP(
                "sync", "下载：住户{household}，冲突{conflict}，事件{event}，任务{task}"
            ),
            household=pulled.get("household", 0), conflict=pulled.get("conflict", 0),
            event=pulled.get("event", 0), task=pulled.get("task", 0),
        ))
    if not pushed and not pulled and data["ok"]:
        lines.append(t(QT_TRANSLATE_NOOP("sync", "没有需要同步的内容。")))
    steps = data.get("steps") or {}
    if not data["ok"] and any(v == "ok" for v in steps.values()):
        names = {"push": t(QT_TRANSLATE_NOOP("sync", "上传记录")),
                 "pull": t(QT_TRANSLATE_NOOP("sync", "接收任务和事件")),
                 "photos": t(QT_TRANSLATE_NOOP("sync", "上传照片"))}
        lines.append(t(
            QT_TRANSLATE_NOOP("sync", "已完成：{done}；未完成：{undone}（下次同步接着做）"),
            done="、".join(names.get(k, k) for k, v in steps.items() if v == "ok"),
            undone="、".join(names.get(k, k) for k, v in steps.items() if v != "ok"),
        ))
    if data["pending"]:
        lines.append(t(QT_TRANSLATE_NOOP("sync", "仍待上传：{n}条"), n=data["pending"]))
    left = data.get("left") or {}
    if left.get("photo_bytes"):
        lines.append(t(QT_TRANSLATE_NOOP("sync", "仍待上传的照片：{n}张，{kb}KB"),
                       n=left.get("photos", 0), kb=max(1, round(left["photo_bytes"] / 1024))))
    if (left.get("records") or left.get("photo_bytes")) and left.get("estimate_seconds"):
        lines.append(t(QT_TRANSLATE_NOOP("sync", "按目前网速约需{minutes}分钟"),
                       minutes=max(1, round(left["estimate_seconds"] / 60))))
    if data.get("waiting_for_server"):
        lines.append(t(
            QT_TRANSLATE_NOOP("sync", "其中等指挥中心升级后才能接收：{n}条（已保存在本机）"),
            n=data["waiting_for_server"],
        ))
    held = data.get("held") or {}
    if held.get("total"):
        lines.append(t(
            QT_TRANSLATE_NOOP(
                "sync", "来自指挥中心的{n}条数据暂时无法处理，已保存在本机，软件更新后会再试"
            ),
            n=held["total"],
        ))
        for row in held.get("rows", [])[:20]:
            lines.append(t(
                QT_TRANSLATE_NOOP("sync", "  {kind} {record}：{why}"),
                kind=row["kind"], record=row["record_id"],
                why=t(QT_TRANSLATE_NOOP("sync", "本软件还不认识这种数据"))
                if row["reason"] == "unknown_kind" else row.get("error") or "",
            ))
    if data.get("server_protocol") is not None and data["server_protocol"] > data["protocol"]:
        lines.append(t(
            QT_TRANSLATE_NOOP("sync", "指挥中心的版本比本软件新（协议{server}，本软件{device}）"),
            server=data["server_protocol"], device=data["protocol"],
        ))
    if data["open_conflicts"]:
        lines.append(t(QT_TRANSLATE_NOOP("sync", "待网格长处理的冲突：{n}条"),
                       n=data["open_conflicts"]))
    for item in data["newly_set_aside"]:
        lines.append(t(
            QT_TRANSLATE_NOOP("sync", "已搁置（服务器拒绝）：{kind} {record}，原因：{reason}"),
            kind=item["kind"], record=item["record_id"], reason=item["reason"],
        ))
    if data["set_aside_total"]:
        lines.append(t(QT_TRANSLATE_NOOP("sync", "已搁置的记录共{n}条"), n=data["set_aside_total"]))
    if data["clock_warning"]:
        lines.append(t(
            QT_TRANSLATE_NOOP("sync", "注意：本机时间与服务器相差{seconds}秒，请校准本机时间。"),
            seconds=round(data["clock_skew_seconds"] or 0),
        ))
    config = data.get("config") or {}
    if config.get("state") == "applied":
        names = {"checklist": t(QT_TRANSLATE_NOOP("sync", "巡查清单")),
                 "quota_rules": t(QT_TRANSLATE_NOOP("sync", "走访巡查频次")),
                 "review_rules": t(QT_TRANSLATE_NOOP("sync", "督导规则")),
                 "event_categories": t(QT_TRANSLATE_NOOP("sync", "事件分类"))}
        lines.append(t(QT_TRANSLATE_NOOP("sync", "已启用指挥中心签名的新配置：{keys}"),
                       keys="、".join(names.get(k, k) for k in config.get("applied", []))))
    elif config.get("state") == "error" and config.get("message"):
        lines.append(str(config["message"]))
    if data["error_message"]:
        lines.append(data["error_message"])
    return lines


def cmd_sync(args: argparse.Namespace) -> int:
    """``fieldclient sync``: one full sync, report what moved."""
    from fieldclient.storage.session import unlock_device
    from sync.engine import SyncEngine
    from sync.errors import NotEnrolled

    pin = cli.require_pin_stdin(args)
    session = unlock_device(args.data_dir, pin)
    try:
        engine = SyncEngine(session)
        if engine.enrollment() is None:
            raise NotEnrolled()
        report = engine.run_once()
        data = report.as_dict()
    finally:
        session.close()
    cli.emit(args, data, report_lines(data))
    if report.wiped:
        return cli.EXIT_ERASED
    return cli.EXIT_OK if report.ok else cli.EXIT_ERROR


def add_simulate_arguments(parser: argparse.ArgumentParser) -> None:
    for name in ("visits", "patrols", "photos", "events"):
        parser.add_argument(f"--{name}", type=int, default=0, metavar="N")
    parser.add_argument("--seed", type=int, default=None,
                        help=QT_TRANSLATE_NOOP("cliHelp", "随机种子（输出可重复）"))


def cmd_simulate(args: argparse.Namespace) -> int:
    """``fieldclient simulate``: synthetic field work, marked as training data."""
    from fieldclient.fieldwork.simulate import simulate
    from fieldclient.storage.session import unlock_device

    counts = [args.visits, args.patrols, args.photos, args.events]
    if min(counts) < 0 or max(counts) > 1_000_000:
        raise cli.UsageError(t(QT_TRANSLATE_NOOP("sync", "数量必须在0到1000000之间。")))
    pin = cli.require_pin_stdin(args)
    with unlock_device(args.data_dir, pin) as session:
        result = simulate(session, visits=args.visits, patrols=args.patrols,
                          photos=args.photos, events=args.events, seed=args.seed)
        pending = session.pending_uploads()
    data = {**result.as_dict(), "pending_uploads": pending, "training": True}
    cli.emit(args, data, [t(
        QT_TRANSLATE_NOOP(
            "sync",
            "已生成培训数据：走访{visits}条，巡查{patrols}次，照片{photos}张，事件{events}件"
            "（待上传{pending}条）",
        ),
        visits=result.visits, patrols=result.patrols, photos=result.photos,
        events=result.events, pending=pending,
    )])
    return cli.EXIT_OK


def _size(length: Any) -> str:
    return f"{(length or 0) / 2**20:.1f} MB"


def update_lines(data: dict[str, Any]) -> list[str]:
    """The check's or status's outcome in words (the JSON says it all)."""
    lines = [t(QT_TRANSLATE_NOOP("sync", "当前版本：{installed}，更新通道：{channel}"),
               installed=data.get("installed"), channel=data.get("channel"))]
    check = data.get("last_check", data)
    if not isinstance(check, dict):
        return lines
    target = check.get("target") or {}
    state = check.get("state")
    if check.get("message"):
        lines.append(str(check["message"]))
    elif check.get("action") == "return" and target:
        lines.append(t(QT_TRANSLATE_NOOP(
            "sync", "当前版本已被撤回：应回退到上一个版本 {version}。"),
            version=target.get("version")))
    elif state == "revoked":
        lines.append(t(QT_TRANSLATE_NOOP(
            "sync", "当前版本已被撤回，但没有可回退的更早版本。")))
    elif state == "staged":
        lines.append(t(QT_TRANSLATE_NOOP(
            "sync", "新版本 {version} 已下载并验证（{size}），等待安装。"),
                       version=target.get("version"), size=_size(target.get("length"))))
    elif state in ("downloading", "available"):
        lines.append(t(QT_TRANSLATE_NOOP(
            "sync", "有新版本 {version}（{size}），已下载 {done}。"),
                       version=target.get("version"), size=_size(target.get("length")),
                       done=_size(check.get("downloaded"))))
    elif state == "up_to_date":
        lines.append(t(QT_TRANSLATE_NOOP("sync", "已是最新版本。")))
    reason = data.get("apply_blocked_reason")
    if reason:
        lines.append(str(reason))
    return lines


def cmd_update_check(args: argparse.Namespace) -> int:
    """``fieldclient update check``: ask the centre now, fetch what is found (within
    ``--budget``), verify and stage it."""
    from fieldclient.fieldwork.enrollment import enrollment
    from fieldclient.storage.session import unlock_device
    from fieldclient.update import client as updates
    from fieldclient.update.policy import channel_of
    from sync.engine import transport_for
    from sync.errors import NotEnrolled
    from sync.transport import skew_headers

    if args.budget is not None and args.budget < 0:
        raise cli.UsageError(t(QT_TRANSLATE_NOOP("sync", "--budget 不能是负数。")))
    pin = cli.require_pin_stdin(args)
    with unlock_device(args.data_dir, pin) as session:
        info = enrollment(session)
        if info is None:
            raise NotEnrolled()
        transport = transport_for(session)
        try:
            checker = updates.UpdateClient(args.data_dir, transport.base, transport.http,
                                           skew_headers(), timeout=transport.timeout)
            data = checker.check(channel_of(args.data_dir), info.grids,
                                 updates.Budget(args.budget), download=not args.no_download)
        finally:
            transport.close()
    cli.emit(args, data, update_lines(data))
    return cli.EXIT_ERROR if data["error"] else cli.EXIT_OK


def cmd_update_status(args: argparse.Namespace) -> int:
    """``fieldclient update status``: installed, staged (size), the last check, and
    whether applying is allowed now."""
    from fieldclient.storage.session import unlock_device
    from fieldclient.update.policy import status

    pin = cli.require_pin_stdin(args)
    with unlock_device(args.data_dir, pin) as session:
        data = status(args.data_dir, session)
    cli.emit(args, data, update_lines(data))
    return cli.EXIT_OK


def cmd_update_apply(args: argparse.Namespace) -> int:
    """``fieldclient update apply``: the staged release goes in at the app's next start
    (the launcher installs it, tries it, rolls back if it fails to start) when nothing
    is at risk: no patrol under way, no unsynced records if it migrates the database.
    When the running release was revoked, the same for going back to the version before
    it (installed here or fetched; refused when it cannot open the migrated database).
    Otherwise says why it waits (exit 1)."""
    from fieldclient.storage.session import unlock_device
    from fieldclient.update import install

    pin = cli.require_pin_stdin(args)
    with unlock_device(args.data_dir, pin) as session:
        root = install.install_root()
        back = install.pending_return(args.data_dir, root)
        return_to = install.revoked_check(args.data_dir)
        staged = install.pending(args.data_dir)
        reason = install.note_ready(args.data_dir, session, root)
    if return_to is not None and back is None and reason is None:
        from fieldclient import __version__

        reason = install.ReturnNotHere(version=return_to, revoked=__version__)
    waiting = reason.message() if reason is not None else None
    action = "return" if return_to is not None else "update" if staged is not None else None
    data = {"action": action, "return_to": return_to,
            "staged": staged.version if staged is not None else None,
            "ready": action is not None and reason is None, "waiting": waiting}
    if action is None:
        lines = [t(QT_TRANSLATE_NOOP("sync", "没有待安装的更新。"))]
    elif waiting is not None:
        lines = [waiting]
    elif back is not None:
        lines = [t(QT_TRANSLATE_NOOP(
            "sync", "{revoked}版已被撤回：下次启动程序时退回{version}版。"),
            revoked=back.revoked, version=back.version)]
    else:
        assert staged is not None
        lines = [t(QT_TRANSLATE_NOOP(
            "sync", "更新{version}将在下次启动程序时安装；启动失败会自动退回当前版本。"),
            version=staged.version)]
    cli.emit(args, data, lines)
    return cli.EXIT_ERROR if waiting is not None else cli.EXIT_OK


def register(parser: cli.CommandParser) -> None:
    """Add ``enroll``, ``sync`` and ``simulate``, and ``--server``/``--enroll-code`` to
    the core's ``init``."""
    init = parser.existing("init")
    add_enroll_arguments(init, required=False)
    init.set_defaults(func=cmd_init)
    enroll = parser.command("enroll", cmd_enroll,
                            QT_TRANSLATE_NOOP("cliHelp", "把本设备登记到指挥中心"))
    add_enroll_arguments(enroll, required=True)
    parser.command("sync", cmd_sync, QT_TRANSLATE_NOOP("cliHelp", "与指挥中心完整同步一次"))
    simulate = parser.command("simulate", cmd_simulate,
                              QT_TRANSLATE_NOOP("cliHelp", "生成模拟的外勤数据（培训数据）"))
    add_simulate_arguments(simulate)
    update = parser.commands.add_parser(
        "update", parents=[parser.common],
        help=QT_TRANSLATE_NOOP("cliHelp", "签名的软件更新（检查、状态、安装）"))
    update_commands = update.add_subparsers(dest="update_command", required=True)
    check = parser.command("check", cmd_update_check, QT_TRANSLATE_NOOP(
        "cliHelp", "立即向指挥中心查询新版本，下载、验证并准备安装"), into=update_commands)
    check.add_argument("--budget", type=int, default=None, metavar="BYTES",
                       help=QT_TRANSLATE_NOOP("cliHelp", "最多下载这么多字节（默认不限）"))
    check.add_argument("--no-download", action="store_true",
                       help=QT_TRANSLATE_NOOP("cliHelp", "只说明有什么可更新，不下载"))
    parser.command("status", cmd_update_status, QT_TRANSLATE_NOOP(
        "cliHelp", "已安装、已准备和待安装的更新，以及现在能否安装"), into=update_commands)
    parser.command("apply", cmd_update_apply, QT_TRANSLATE_NOOP(
        "cliHelp", "下次启动时安装已准备好的更新（巡查中或有未同步数据时说明原因）"),
        into=update_commands)
