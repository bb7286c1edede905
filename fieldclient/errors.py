"""Errors the user may see. Each carries translatable Chinese text plus parameters.

The message is kept as (context, source text, params) so the UI can translate it
with Qt and the CLI with :func:`fieldclient.i18n.translate`.
"""

from __future__ import annotations

from typing import Any

from fieldclient.i18n import QT_TRANSLATE_NOOP, translate

CTX = "errors"


class FieldClientError(Exception):
    """Base class: ``text`` is the Chinese source; ``params`` fill its ``{placeholders}``."""

    text: str = QT_TRANSLATE_NOOP("errors", "发生了未知错误。")

    def __init__(self, text: str | None = None, **params: Any) -> None:
        if text is not None:
            self.text = text
        self.params = params
        super().__init__(self.text.format(**params))

    def message(self, language: str | None = None) -> str:
        return translate(CTX, self.text, language).format(**self.params)


class NotSetUp(FieldClientError):
    text = QT_TRANSLATE_NOOP("errors", "本设备尚未设置，请先设置PIN码。")


class AlreadySetUp(FieldClientError):
    text = QT_TRANSLATE_NOOP("errors", "本设备已经设置过，不能重复设置。")


class DeviceErased(FieldClientError):
    text = QT_TRANSLATE_NOOP(
        "errors", "本设备的数据已被销毁（连续输错PIN码或远程擦除），需要重新设置。"
    )


class SessionLocked(FieldClientError):
    text = QT_TRANSLATE_NOOP("errors", "设备已锁定，请先解锁。")


class WrongPin(FieldClientError):
    text = QT_TRANSLATE_NOOP(
        "errors", "PIN码错误。还可以尝试{attempts_left}次，之后本设备的数据将被销毁。"
    )

    def __init__(self, attempts_left: int, wait_seconds: int = 0) -> None:
        super().__init__(attempts_left=attempts_left, wait_seconds=wait_seconds)
        self.attempts_left = attempts_left
        self.wait_seconds = wait_seconds


class PinLockedOut(FieldClientError):
    text = QT_TRANSLATE_NOOP("errors", "PIN码错误次数过多，请{wait_seconds}秒后再试。")

    def __init__(self, wait_seconds: int, attempts_left: int) -> None:
        super().__init__(wait_seconds=wait_seconds, attempts_left=attempts_left)
        self.wait_seconds = wait_seconds
        self.attempts_left = attempts_left


class InvalidPin(FieldClientError):
    text = QT_TRANSLATE_NOOP("errors", "PIN码必须是至少6位数字。")


class PinTooShortForPolicy(FieldClientError):
    text = QT_TRANSLATE_NOOP("errors", "按IT的要求，PIN码至少需要{digits}位数字。")

    def __init__(self, digits: int) -> None:
        super().__init__(digits=digits)
        self.digits = digits


class RecoveryCodeInvalid(FieldClientError):
    """The recovery code IT read out does not open this device's recovery share."""

    text = QT_TRANSLATE_NOOP(
        "errors", "恢复码不正确或已用过。请核对后重新输入，或请信息管理员重新查询本机的恢复码。")


class PinMismatch(FieldClientError):
    text = QT_TRANSLATE_NOOP("errors", "两次输入的PIN码不一致，请重新输入。")


class KeystoreError(FieldClientError):
    text = QT_TRANSLATE_NOOP("errors", "无法读取设备密钥：{reason}")


class TpmUnavailable(KeystoreError):
    """A vault set up with a TPM, and that TPM cannot be reached now."""

    text = QT_TRANSLATE_NOOP(
        "errors",
        "找不到设置本设备时使用的TPM 2.0安全芯片，无法解锁。请联系IT人员。（{reason}）",
    )


class TpmSecretMissing(KeystoreError):
    """The TPM answers but no longer holds this device's secret (erased, or cleared)."""

    text = QT_TRANSLATE_NOOP(
        "errors",
        "TPM 2.0安全芯片中已没有本设备的密钥（设备已被擦除或芯片已被清除），数据无法恢复。",
    )


class VaultCorrupted(FieldClientError):
    text = QT_TRANSLATE_NOOP("errors", "设备密钥文件已损坏，无法解锁：{reason}")


class BlobCorrupted(FieldClientError):
    text = QT_TRANSLATE_NOOP(
        "errors", "文件“{blob_id}”已损坏或被篡改，无法打开。其他数据不受影响。"
    )


class BlobMissing(FieldClientError):
    text = QT_TRANSLATE_NOOP("errors", "找不到文件“{blob_id}”。")


class DatabaseLocked(FieldClientError):
    text = QT_TRANSLATE_NOOP("errors", "数据库无法打开：密钥不正确或文件已损坏。")


class StorageFull(FieldClientError):
    """The disk is full: said plainly, never as "wrong key or damaged" (the data is
    all there and no wrong PIN was counted). Made by :func:`fieldclient.fsutil.storage_full`."""

    text = QT_TRANSLATE_NOOP(
        "errors",
        "设备的存储空间已满，现在无法打开或保存数据。数据都还在，这也不是PIN码错误"
        "（没有计入错误次数）。设备还剩{free}，至少需要再腾出{needed}。本机照片共占{photos}："
        "程序能打开时，在“设置”的“照片占用的空间”里点“释放已同步照片”，删掉已上传到中心的"
        "照片原图（IT可用命令 fieldclient photos free-synced）；打不开时，请先删除不需要的"
        "文件（如下载的视频）。",
    )


class SchemaTooNew(FieldClientError):
    text = QT_TRANSLATE_NOOP(
        "errors", "数据库版本（{found}）比本程序支持的版本（{supported}）新，请升级程序。"
    )


class MigrationFailed(FieldClientError):
    text = QT_TRANSLATE_NOOP(
        "errors", "数据库升级到第{version}版失败，数据已保持原样。备份在：{backup}"
    )
