"""``fieldclient init``, ``status`` and ``change-pin``: setting the device up, its state,
the PIN (IT provisioning and support)."""

from __future__ import annotations

import argparse
from typing import Any

from fieldclient import __version__
from fieldclient.cli.common import (
    EXIT_OK,
    CommandParser,
    emit,
    fallback_warning,
    no_tpm_warning,
    read_pins,
    require_pin_stdin,
    store_label,
    t,
)
from fieldclient.errors import DeviceErased, NotSetUp
from fieldclient.i18n import QT_TRANSLATE_NOOP


def cmd_init(args: argparse.Namespace) -> int:
    from fieldclient.storage.session import setup_device

    pin = require_pin_stdin(args)
    with setup_device(args.data_dir, pin) as session:
        from fieldclient.security.vault import Vault

        info = Vault(args.data_dir).info()
        data = {
            "device_id": session.device_id,
            "data_dir": str(args.data_dir),
            "secret_store": info["secret_store"],
            "keyring_backend": info["secret_store_name"],
            "keyring_is_fallback": info["secret_store_is_fallback"],
        }
    lines = [t(QT_TRANSLATE_NOOP("cli", "设备已设置：{device_id}"), device_id=data["device_id"]),
             t(QT_TRANSLATE_NOOP("cli", "密钥库：{k}"),
               k=store_label(info["secret_store"], info["secret_store_name"]))]
    if data["keyring_is_fallback"]:
        lines.append(fallback_warning())
    if data["secret_store"] != "tpm":
        lines.append(no_tpm_warning())
    emit(args, data, lines)
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    from fieldclient.security.vault import Vault

    vault = Vault(args.data_dir)
    info = vault.info()
    data: dict[str, Any] = {
        "app_version": __version__,
        "data_dir": str(args.data_dir),
        "state": info["state"],
        "device_id": info["device_id"],
        "secret_store": info["secret_store"],
        "keyring_backend": info["secret_store_name"],
        "keyring_is_fallback": info["secret_store_is_fallback"],
        "failed_attempts": info["failed_attempts"],
        "attempts_left": info["attempts_left"],
        # Wrong PINs since set-up: from the TPM or the keyring, so a reset of
        # vault.json does not lower it (to be reported to the centre at sync).
        "pin_failures_total": info["pin_failures_total"],
    }
    if info["state"] == "erased":
        raise DeviceErased()
    if info["state"] == "new":
        raise NotSetUp()
    if args.pin_stdin:
        from fieldclient.storage.session import unlock_device

        with unlock_device(args.data_dir, read_pins(1)[0]) as session:
            data.update(
                schema_version=session.schema_version(),
                records=session.records_by_kind(),
                pending_uploads=session.pending_uploads(),
                audit_entries=session.audit.verify().entries,
                unlocked=True,
            )
    else:
        data["unlocked"] = False
    lines = [
        t(QT_TRANSLATE_NOOP("cli", "程序版本：{v}"), v=__version__),
        t(QT_TRANSLATE_NOOP("cli", "数据目录：{d}"), d=data["data_dir"]),
        t(QT_TRANSLATE_NOOP("cli", "设备编号：{d}"), d=data["device_id"]),
        t(QT_TRANSLATE_NOOP("cli", "密钥库：{k}"),
          k=store_label(data["secret_store"], data["keyring_backend"])),
        t(QT_TRANSLATE_NOOP("cli", "解锁前连续输错PIN码次数：{n}"), n=data["failed_attempts"]),
        t(QT_TRANSLATE_NOOP("cli", "设置以来输错PIN码总次数：{n}"), n=data["pin_failures_total"]),
    ]
    if data["keyring_is_fallback"]:
        lines.append(fallback_warning())
    if data["secret_store"] != "tpm":
        lines.append(no_tpm_warning())
    if data["unlocked"]:
        lines.append(t(QT_TRANSLATE_NOOP("cli", "数据库版本：{v}"), v=data["schema_version"]))
        for kind, count in data["records"].items():
            lines.append(t(QT_TRANSLATE_NOOP("cli", "记录 {kind}：{n}"), kind=kind, n=count))
        lines.append(t(QT_TRANSLATE_NOOP("cli", "待上传：{n}"), n=data["pending_uploads"]))
    emit(args, data, lines)
    return EXIT_OK


def cmd_change_pin(args: argparse.Namespace) -> int:
    from fieldclient.security.vault import Vault

    old_pin, new_pin = read_pins(2)
    Vault(args.data_dir).change_pin(old_pin, new_pin)
    emit(args, {"changed": True}, [t(QT_TRANSLATE_NOOP("cli", "PIN码已更改。"))])
    return EXIT_OK


def cmd_reset_pin(args: argparse.Namespace) -> int:
    from fieldclient.storage.session import reset_pin_device

    code, new_pin = read_pins(2)
    reset_pin_device(args.data_dir, code, new_pin).close()
    emit(args, {"reset": True}, [t(QT_TRANSLATE_NOOP(
        "cli", "PIN码已用恢复码重设，本机数据都在。恢复码已失效。"))])
    return EXIT_OK


def register(parser: CommandParser) -> None:
    parser.command("init", cmd_init,
                   QT_TRANSLATE_NOOP("cliHelp", "设置本设备（PIN码从标准输入读取）"))
    parser.command("status", cmd_status,
                   QT_TRANSLATE_NOOP("cliHelp", "显示设备状态（加 --pin-stdin 时解锁后显示更多）"))
    parser.command("change-pin", cmd_change_pin,
                   QT_TRANSLATE_NOOP("cliHelp", "修改PIN码：旧PIN码和新PIN码分两行从标准输入读取"),
                   pin=False)
    parser.command("reset-pin", cmd_reset_pin,
                   QT_TRANSLATE_NOOP(
                       "cliHelp", "忘记PIN码：IT给的恢复码和新PIN码分两行从标准输入读取"),
                   pin=False)
