"""Errors of the sync engine the user may see (translatable, context ``errors``).

``retryable`` tells the engine whether trying again later may help; every one of
them leaves the device's data as it was: nothing is lost, the next run resumes.
"""

from __future__ import annotations

from typing import Any

from fieldclient.errors import FieldClientError
from fieldclient.i18n import QT_TRANSLATE_NOOP


class SyncError(FieldClientError):
    """Base class of the sync engine's errors."""

    text = QT_TRANSLATE_NOOP("errors", "同步失败。数据已保存在本机，下次同步会继续。")
    retryable = False
    code = "sync_failed"


class SyncCancelled(SyncError):
    """The run was stopped on purpose (locking, quitting) between two steps; what was
    committed stays, the rest goes next time."""

    text = QT_TRANSLATE_NOOP("errors", "同步已停止。数据已保存在本机，下次同步会继续。")
    code = "cancelled"


class ServerUnreachable(SyncError):
    text = QT_TRANSLATE_NOOP(
        "errors", "无法连接服务器，请检查网络后再试。数据已保存在本机，下次同步会继续。"
    )
    retryable = True
    code = "unreachable"


class ConnectionDropped(ServerUnreachable):
    """The connection was made and then dropped mid-transfer (a 2G link): the next,
    smaller request may well get through."""

    text = QT_TRANSLATE_NOOP(
        "errors", "网络中途断开。已传完的部分已保存，下次同步从断点继续。"
    )
    code = "dropped"


class ServerTimeout(SyncError):
    text = QT_TRANSLATE_NOOP(
        "errors", "服务器响应超时，网络可能太慢。数据已保存在本机，下次同步会继续。"
    )
    retryable = True
    code = "timeout"


class ServerBusy(SyncError):
    text = QT_TRANSLATE_NOOP("errors", "服务器繁忙，请约{seconds}秒后再试。数据已保存在本机。")
    retryable = True
    code = "busy"

    def __init__(self, seconds: int) -> None:
        super().__init__(seconds=seconds)
        self.retry_after = seconds


class ServerFailed(SyncError):
    text = QT_TRANSLATE_NOOP("errors", "服务器出错（{status}）：{detail}")
    code = "server_error"

    def __init__(self, status: int, detail: str, retryable: bool = False, **extra: Any) -> None:
        super().__init__(status=status, detail=detail)
        self.status = status
        self.retryable = retryable
        self.extra = extra


class UpgradeRequired(SyncError):
    """The server no longer serves this app's protocol level (``426``). Nothing is
    sent or changed: the outbox waits until the app is updated."""

    text = QT_TRANSLATE_NOOP(
        "errors",
        "本软件版本太旧，指挥中心已不再接收。请更新本软件。"
        "数据已保存在本机，不会丢失，更新后会自动上传。",
    )
    code = "upgrade_required"

    def __init__(self, server_level: int | None = None, min_level: int | None = None) -> None:
        super().__init__()
        self.server_level = server_level
        self.min_level = min_level


class AuthRefused(SyncError):
    text = QT_TRANSLATE_NOOP(
        "errors", "服务器拒绝了本设备的身份验证（{reason}），请联系信息管理员。"
    )
    code = "auth_refused"

    def __init__(self, reason: str) -> None:
        super().__init__(reason=reason)


class ClockRejected(SyncError):
    """The server refused the request's timestamp; carries the server's Unix time."""

    text = QT_TRANSLATE_NOOP("errors", "本机时间与服务器相差太大，请校准本机时间。")
    retryable = True
    code = "clock_skew"

    def __init__(self, server_unix: float) -> None:
        super().__init__()
        self.server_unix = server_unix


class DeviceRevoked(SyncError):
    text = QT_TRANSLATE_NOOP(
        "errors", "本设备已被信息管理员注销，本机数据已按要求销毁。请交回设备或重新注册。"
    )
    code = "revoked"


class RevokedUploading(SyncError):
    """Revoked with "upload first" (signed): the device sends what it holds, then erases
    itself; this sync did not finish the upload, so the data is still here."""

    text = QT_TRANSLATE_NOOP(
        "errors", "本设备已被信息管理员注销。未上传的记录和照片正在上传，"
        "上传完成后本机数据将被销毁。请保持联网。"
    )
    code = "revoked_uploading"


class CommandUnverified(SyncError):
    """The server said this device is revoked and must erase itself, without a command
    signed by the centre's pinned key: nothing is erased (a fake server or a wrong
    address could say it); IT looks into it."""

    text = QT_TRANSLATE_NOOP(
        "errors", "服务器要求清除本机数据，但这个指令没有指挥中心的有效签名，已忽略。"
        "数据仍在本机。请联系信息管理员。"
    )
    code = "command_unverified"


class ServerKeyMismatch(SyncError):
    """Enrollment: the centre's key does not match the fingerprint in the QR code."""

    text = QT_TRANSLATE_NOOP(
        "errors", "这个服务器的身份和二维码上的不一致，没有登记。请向信息管理员确认服务器地址。"
    )
    code = "server_key_mismatch"


class EnrollCodeRefused(SyncError):
    text = QT_TRANSLATE_NOOP(
        "errors", "注册码无效、已过期或已被使用，请向信息管理员索取新的注册码。"
    )
    code = "enroll_code_refused"


class NotEnrolled(SyncError):
    text = QT_TRANSLATE_NOOP("errors", "本设备尚未在服务器注册，请先用注册码注册。")
    code = "not_enrolled"


class AlreadyEnrolled(SyncError):
    text = QT_TRANSLATE_NOOP("errors", "本设备已经注册到服务器 {server}，不能重复注册。")
    code = "already_enrolled"

    def __init__(self, server: str) -> None:
        super().__init__(server=server)


class BadServerUrl(SyncError):
    text = QT_TRANSLATE_NOOP("errors", "服务器地址无效：{url}（应以 http:// 或 https:// 开头）")
    code = "bad_url"

    def __init__(self, url: str) -> None:
        super().__init__(url=url)


class InsecureServerUrl(SyncError):
    """A plain http:// address other than this machine: refused (records would cross
    the network readable and unauthenticated)."""

    text = QT_TRANSLATE_NOOP(
        "errors", "为了数据安全，服务器地址必须以 https:// 开头（只有本机测试可以用 http://）：{url}"
    )
    code = "insecure_url"

    def __init__(self, url: str) -> None:
        super().__init__(url=url)


class ServerIdentityChanged(SyncError):
    """The server's TLS certificate is not the one pinned at enrollment (or not valid):
    nothing is sent to it."""

    text = QT_TRANSLATE_NOOP(
        "errors", "服务器的安全证书和登记时的不一致，为保护数据已停止同步，什么也没有发送。"
        "请联系信息管理员。"
    )
    code = "server_identity_changed"


class NotLeader(SyncError):
    text = QT_TRANSLATE_NOOP("errors", "只有网格长可以处理冲突。")
    code = "not_leader"


class UnknownConflict(SyncError):
    text = QT_TRANSLATE_NOOP("errors", "找不到这条冲突记录，或它已经处理过了。")
    code = "unknown_conflict"
