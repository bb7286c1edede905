"""Plain words for sync facts: record kinds, refusal reasons, fields, times, errors."""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import QCoreApplication

T = QCoreApplication


def kind_text(kind: str) -> str:
    names = {
        "household.create": T.translate("SyncTexts", "新增住户"),
        "household.update": T.translate("SyncTexts", "住户信息修改"),
        "visit.create": T.translate("SyncTexts", "走访记录"),
        "event.report": T.translate("SyncTexts", "事件上报"),
        "event.followup": T.translate("SyncTexts", "事件跟进"),
        "patrol.report": T.translate("SyncTexts", "巡查记录"),
        "checklist.result": T.translate("SyncTexts", "巡查事项结果"),
        "track.segment": T.translate("SyncTexts", "巡查轨迹"),
        "photo.meta": T.translate("SyncTexts", "照片说明"),
        "household.tags": T.translate("SyncTexts", "住户标签修改"),
        "member.create": T.translate("SyncTexts", "新增家庭成员"),
        "member.update": T.translate("SyncTexts", "家庭成员信息修改"),
        "member.remove": T.translate("SyncTexts", "移除家庭成员"),
        "conflict.resolve": T.translate("SyncTexts", "冲突处理决定"),
        "photo": T.translate("SyncTexts", "照片"),
    }
    return names.get(kind, kind)


def pull_kind_text(kind: str) -> str:
    """What a row of the centre's feed is about, for the held rows on the Sync page."""
    names = {
        "household": T.translate("SyncTexts", "住户信息"),
        "conflict": T.translate("SyncTexts", "修改冲突"),
        "event": T.translate("SyncTexts", "事件"),
        "task": T.translate("SyncTexts", "任务"),
        "visit": T.translate("SyncTexts", "同事的走访记录"),
        "config": T.translate("SyncTexts", "中心的设置"),
    }
    if kind in names:
        return names[kind]
    return T.translate("SyncTexts", "新类型的数据")


def held_reason_text(reason: str) -> str:
    """Why a row from the centre is held on this device, in plain words."""
    if reason == "unknown_kind":
        return T.translate("SyncTexts", "本软件版本较旧，还不认识这种数据")
    return T.translate("SyncTexts", "本软件暂时无法保存这条数据")


def reason_text(reason: str | None) -> str:
    reasons = {
        "invalid": T.translate("SyncTexts", "内容不完整或格式不对"),
        "forbidden_grid": T.translate("SyncTexts", "不属于你负责的网格"),
        "unknown_record": T.translate("SyncTexts", "中心找不到这条记录"),
        "content_differs": T.translate("SyncTexts", "中心已有同一编号但内容不同的记录"),
        "not_leader": T.translate("SyncTexts", "只有网格长可以处理冲突"),
        "already_resolved": T.translate("SyncTexts", "这条冲突已经有人处理过了"),
        "stale": T.translate(
            "SyncTexts", "冲突发生后这一项又被改过，您的选择没有生效；请查看住户现在的信息"),
        "read_only": T.translate("SyncTexts", "本设备只能查看，不能上传"),
        "unknown_kind": T.translate("SyncTexts", "中心不认识这种记录，请更新软件"),
        "op_id_in_use": T.translate("SyncTexts", "记录编号已被别的设备使用"),
    }
    if not reason:
        return T.translate("SyncTexts", "原因不明")
    return reasons.get(reason, reason)


def field_text(name: str) -> str:
    names = {
        "head_name": T.translate("SyncTexts", "户主姓名"),
        "address": T.translate("SyncTexts", "地址"),
        "category": T.translate("SyncTexts", "类别"),
        "phone": T.translate("SyncTexts", "电话"),
        "id_number": T.translate("SyncTexts", "身份证号"),
        "tags": T.translate("SyncTexts", "标签"),
        "name": T.translate("SyncTexts", "成员姓名"),
        "relation": T.translate("SyncTexts", "与户主关系"),
        "residence": T.translate("SyncTexts", "居住类型"),
        "removed": T.translate("SyncTexts", "成员移除"),
    }
    return names.get(name, name)


def mask_id_number(value: str) -> str:
    if len(value) <= 8:
        return "*" * len(value)
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def value_text(field: str, value: Any, reveal: bool = False) -> str:
    if field == "removed":  # a member removal conflict
        if value is True:
            return T.translate("SyncTexts", "移除该成员")
        if isinstance(value, dict):
            changes = "，".join(
                f"{field_text(k)}：{value_text(k, v, reveal)}"
                for k, v in (value.get("fields") or {}).items()
            )
            return T.translate("SyncTexts", "保留该成员并修改（{changes}）").format(
                changes=changes)
        return T.translate("SyncTexts", "保留该成员")
    if value is None or value == "" or value == []:
        return T.translate("SyncTexts", "（空）")
    if field == "category":
        categories = {
            "ordinary": T.translate("SyncTexts", "一般家庭"),
            "hardship": T.translate("SyncTexts", "困难家庭"),
            "key": T.translate("SyncTexts", "重点人员家庭"),
        }
        return categories.get(str(value), str(value))
    if field == "tags" and isinstance(value, list):
        return T.translate("SyncTexts", "、").join(str(v) for v in value)
    if field == "id_number" and not reveal:
        return mask_id_number(str(value))
    return str(value)


def when_text(unix: float, now: float | None = None) -> str:
    """"14:32" today, "3月5日 14:32" on another day (the device's calendar)."""
    from fieldclient import devicetime

    moment = devicetime.local(unix)
    clock = moment.strftime("%H:%M")
    today = devicetime.local(now if now is not None else time.time()).date()
    if moment.date() == today:
        return T.translate("SyncTexts", "今天 {time}").format(time=clock)
    return T.translate("SyncTexts", "{month}月{day}日 {time}").format(
        month=moment.month, day=moment.day, time=clock)


def size_text(num: int) -> str:
    if num < 1024 * 1024:
        return T.translate("SyncTexts", "{n} KB").format(n=max(0, round(num / 1024)))
    return T.translate("SyncTexts", "{n} MB").format(n=f"{num / (1024 * 1024):.1f}")


def error_text(exc: BaseException, enrolling: bool = False) -> str:
    """An error of a sync or an enrollment, in plain words."""
    from fieldclient.errors import FieldClientError
    from sync.errors import AuthRefused, ServerFailed
    from ui.errors import error_text as core_error_text

    if isinstance(exc, ServerFailed):
        not_json = exc.params.get("detail") == "response is not JSON"
        if enrolling and (exc.status in (404, 405) or not_json):
            return T.translate("SyncTexts", "这个地址上没有指挥中心的服务，请检查服务器地址。")
        if enrolling and exc.status < 500:
            return T.translate(
                "SyncTexts", "指挥中心拒绝了登记（代码{status}），请向信息管理员询问。"
            ).format(status=exc.status)
        return T.translate(
            "SyncTexts",
            "指挥中心的服务器出了问题（代码{status}）。数据已保存在本机，稍后会自动再试。",
        ).format(status=exc.status)
    if isinstance(exc, AuthRefused):
        return T.translate(
            "SyncTexts", "指挥中心不认可本设备的身份，请联系信息管理员。数据已保存在本机。"
        )
    if isinstance(exc, FieldClientError):
        return core_error_text(exc)
    if enrolling:
        return T.translate("SyncTexts", "指挥中心的回答无法识别，请确认服务器地址是否正确。")
    return T.translate(
        "SyncTexts", "同步时发生了意外错误，已记录下来。数据已保存在本机，稍后会自动再试。"
    )


def duration_text(seconds: float) -> str:
    """A rough duration: under a minute in seconds, then minutes, then hours."""
    if seconds < 60:
        return T.translate("SyncTexts", "{n}秒").format(n=max(1, round(seconds)))
    if seconds < 3600:
        return T.translate("SyncTexts", "{n}分钟").format(n=round(seconds / 60))
    return T.translate("SyncTexts", "{n}小时").format(n=f"{seconds / 3600:.1f}")


def step_text(step: str) -> str:
    """The three steps of a sync, in the worker's words."""
    names = {
        "push": T.translate("SyncTexts", "上传记录"),
        "pull": T.translate("SyncTexts", "接收任务和事件"),
        "photos": T.translate("SyncTexts", "上传照片"),
    }
    return names.get(step, step)


def config_text(config: dict[str, Any] | None) -> str:
    """The signed configuration's outcome of a sync: what came into force, or why it was
    refused (the configuration in force stays); empty when nothing to say."""
    if not config:
        return ""
    if config.get("state") == "applied":
        names = {
            "checklist": T.translate("SyncTexts", "巡查清单"),
            "quota_rules": T.translate("SyncTexts", "走访巡查频次"),
            "review_rules": T.translate("SyncTexts", "督导规则"),
            "event_categories": T.translate("SyncTexts", "事件分类"),
        }
        keys = T.translate("SyncTexts", "、").join(
            names.get(k, k) for k in config.get("applied", []))
        return T.translate("SyncTexts", "已启用指挥中心签名的新配置：{keys}").format(keys=keys)
    from fieldclient.update.config import error_of
    from ui.errors import error_text as core_error_text

    refused = error_of(config)
    return core_error_text(refused) if refused is not None else ""


def left_text(left: dict[str, Any]) -> str:
    """What is still to send and how long it needs at the link's measured speed."""
    records, photo_bytes = int(left.get("records") or 0), int(left.get("photo_bytes") or 0)
    if not records and not photo_bytes:
        return ""
    if records and photo_bytes:
        text = T.translate("SyncTexts", "还要上传{n}条记录和{size}照片").format(
            n=records, size=size_text(photo_bytes))
    elif records:
        text = T.translate("SyncTexts", "还要上传{n}条记录").format(n=records)
    else:
        text = T.translate("SyncTexts", "还要上传{size}照片").format(size=size_text(photo_bytes))
    estimate = left.get("estimate_seconds")
    if isinstance(estimate, int | float) and estimate > 0:
        text += T.translate("SyncTexts", "，按现在的网速约需{time}").format(
            time=duration_text(float(estimate)))
    return text + T.translate("SyncTexts", "。")
