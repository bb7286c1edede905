"""Settings: language, text size, auto-lock, positioning, release updates, lock now,
change PIN, device information."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from fieldclient.i18n import QT_TRANSLATE_NOOP
from fieldclient.settings import AUTOLOCK_MINUTES, TEXT_SCALES
from ui.pages.base import Page
from ui.widgets.basic import breakable, button, label

if TYPE_CHECKING:
    from ui.controller import AppController



class SettingsPage(Page):
    key = "settings"
    title_source = QT_TRANSLATE_NOOP("SettingsPage", "设置")

    def __init__(self, controller: AppController, parent: QWidget | None = None) -> None:
        super().__init__(controller, parent)
        self.language_group = QButtonGroup(self)
        self.scale_group = QButtonGroup(self)
        self.autolock_group = QButtonGroup(self)
        self.language_buttons: dict[str, QPushButton] = {}
        self.scale_buttons: dict[float, QPushButton] = {}
        self.autolock_buttons: dict[int, QPushButton] = {}
        self.headings: dict[str, QLabel] = {}

        body = QWidget()
        body.setObjectName("scrollBody")
        column = QVBoxLayout(body)
        column.setContentsMargins(48, 24, 48, 40)
        column.setSpacing(16)

        # language
        column.addWidget(self._heading("language"))
        row = QHBoxLayout()
        for code in ("zh_CN", "en"):
            btn = self._choice(self.language_group, f"lang_{code}")
            btn.clicked.connect(lambda _=False, c=code: self.controller.set_language(c))
            self.language_buttons[code] = btn
            row.addWidget(btn)
        row.addStretch(1)
        column.addLayout(row)

        # text size
        column.addWidget(self._heading("text"))
        row = QHBoxLayout()
        for scale in TEXT_SCALES:
            btn = self._choice(self.scale_group, f"scale_{int(scale * 100)}")
            btn.setText(f"{int(scale * 100)}%")
            btn.clicked.connect(lambda _=False, s=scale: self.controller.set_text_scale(s))
            self.scale_buttons[scale] = btn
            row.addWidget(btn)
        row.addStretch(1)
        column.addLayout(row)

        # auto-lock
        column.addWidget(self._heading("autolock"))
        self.autolock_hint = label("muted")
        column.addWidget(self.autolock_hint)
        grid = QGridLayout()
        grid.setHorizontalSpacing(12)
        grid.setVerticalSpacing(12)
        for index, minutes in enumerate(AUTOLOCK_MINUTES):
            btn = self._choice(self.autolock_group, f"autolock_{minutes}")
            btn.clicked.connect(lambda _=False, m=minutes: self.controller.set_autolock(m))
            self.autolock_buttons[minutes] = btn
            grid.addWidget(btn, index // 3, index % 3)
        grid.setColumnStretch(3, 1)
        column.addLayout(grid)

        # photos' storage, 释放已同步照片 (ui/pages/photo_space.py)
        from ui.pages.photo_space import PhotoSpaceSettings

        self.photo_space = PhotoSpaceSettings(controller)
        column.addWidget(self.photo_space)

        # positioning for patrol tracks (ui/gps_settings.py)
        from ui.pages.gps_settings import GpsSettings

        self.gps = GpsSettings(controller)
        column.addWidget(self.gps)

        # release updates (ui/pages/update_settings.py)
        from ui.pages.update_settings import UpdateSettings

        self.updates = UpdateSettings(controller)
        column.addWidget(self.updates)

        # security
        column.addWidget(self._heading("security"))
        row = QHBoxLayout()
        self.lock_button = button("primary", "lockNowButton")
        self.lock_button.clicked.connect(lambda: self.controller.lock("manual"))
        self.change_pin_button = button("", "changePinButton")
        self.change_pin_button.clicked.connect(self.controller.open_change_pin)
        row.addWidget(self.lock_button)
        row.addWidget(self.change_pin_button)
        row.addStretch(1)
        column.addLayout(row)

        # device information
        column.addWidget(self._heading("device"))
        self.store_warning = label("warning")
        self.store_warning.setObjectName("keystoreWarning")
        column.addWidget(self.store_warning)
        self.form = QFormLayout()
        self.form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapAllRows)
        self.form.setVerticalSpacing(2)
        self.fact_labels: dict[str, tuple[QLabel, QLabel]] = {}
        for key in ("version", "data_dir", "map", "keystore", "device_id", "schema", "failed",
                    "failed_total"):
            name = label("factName")
            value = label("fact")
            value.setTextFormat(Qt.TextFormat.PlainText)
            value.setObjectName(f"fact_{key}")
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.fact_labels[key] = (name, value)
            self.form.addRow(name, value)
        column.addLayout(self.form)
        column.addStretch(1)

        scroll = QScrollArea()
        scroll.setWidget(body)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll)
        self.scroll = scroll
        self.refresh()

    def _heading(self, key: str) -> QLabel:
        lab = label("heading")
        self.headings[key] = lab
        return lab

    def _choice(self, group: QButtonGroup, name: str) -> QPushButton:
        btn = button("", name)
        btn.setCheckable(True)
        btn.setMinimumWidth(120)
        group.addButton(btn)
        return btn


    # -- contents --------------------------------------------------------------
    def _device_info(self) -> dict[str, Any]:
        from fieldclient.security.vault import Vault

        try:
            return Vault(self.controller.data_dir).info()
        except Exception:  # damaged vault file: show what we can
            return {}

    def refresh(self) -> None:
        settings = self.controller.settings
        self.headings["language"].setText(self.tr("语言"))
        self.headings["text"].setText(self.tr("文字大小"))
        self.headings["autolock"].setText(self.tr("自动锁定"))
        self.headings["security"].setText(self.tr("安全"))
        self.headings["device"].setText(self.tr("设备信息"))
        self.language_buttons["zh_CN"].setText(self.tr("中文"))
        self.language_buttons["en"].setText(self.tr("英语 English"))
        self.autolock_hint.setText(self.tr("多长时间不操作后自动锁定："))
        for minutes, btn in self.autolock_buttons.items():
            btn.setText(self.tr("{n}分钟").format(n=minutes))
        self.lock_button.setText(self.tr("立即锁定"))
        self.change_pin_button.setText(self.tr("修改PIN码"))
        from ui import i18n

        self.language_buttons[i18n.current_language()].setChecked(True)
        if settings.text_scale in self.scale_buttons:
            self.scale_buttons[settings.text_scale].setChecked(True)
        if settings.autolock_minutes in self.autolock_buttons:
            self.autolock_buttons[settings.autolock_minutes].setChecked(True)
        self.photo_space.refresh()
        self.gps.refresh()
        self.updates.refresh()
        self._refresh_facts()

    def _map_text(self) -> str:
        from datetime import datetime

        from fieldclient.geo.maps import installed_map

        found = installed_map(self.controller.data_dir)
        if found is None:
            return self.tr("没有安装（地图只显示浅色网格和比例尺）。"
                           "由信息管理员用 fieldclient map install 安装。")
        info = found.info
        return self.tr("{name}（缩放级别{low}-{high}，{size:.0f} MB，{date}安装）").format(
            name=info.name, low=info.min_zoom, high=info.max_zoom, size=found.size / 1e6,
            date=datetime.fromtimestamp(found.installed_at).strftime("%Y-%m-%d"))

    def _refresh_facts(self) -> None:
        from fieldclient import __version__

        info = self._device_info()
        session = self.controller.session
        kind = info.get("secret_store")
        if kind == "tpm":
            store = self.tr("TPM 2.0 安全芯片（{name}）").format(
                name=info.get("secret_store_name", ""))
        elif kind == "keyring":
            store = self.tr("系统密钥环（{name}）").format(name=info.get("secret_store_name", ""))
        elif kind == "file":
            store = self.tr("数据目录里的一个文件（本机没有可用的系统密钥环）")
        else:
            store = self.tr("未知")
        self.store_warning.setVisible(kind in ("keyring", "file"))
        if kind == "file":
            self.store_warning.setText(self.tr(
                "注意：本机没有可用的系统密钥环，设备密钥只能保存在数据目录里的一个文件中，"
                "保护较弱：如果有人复制了整个数据目录，数据就只靠PIN码保护。"
            ))
        else:
            self.store_warning.setText(self.tr(
                "注意：本机没有TPM安全芯片：有人复制了数据（和系统密钥环）后，可以离线反复猜PIN码。"
                "请使用更长的PIN码。"
            ))
        schema = "—"
        if session is not None and session.is_open:
            schema = str(session.schema_version())
        failed = int(info.get("failed_attempts", 0))
        values = {
            "version": (self.tr("程序版本"), __version__),
            "data_dir": (self.tr("数据位置"), breakable(str(self.controller.data_dir))),
            "map": (self.tr("离线地图"), self._map_text()),
            "keystore": (self.tr("设备密钥保存在"), store),
            "device_id": (self.tr("设备编号"), breakable(str(info.get("device_id") or "—"))),
            "schema": (self.tr("数据库版本"), schema),
            "failed": (
                self.tr("PIN码连续输错次数"),
                self.tr("{failed}次（还可以尝试{left}次）").format(
                    failed=failed, left=info.get("attempts_left", "—")
                ),
            ),
            "failed_total": (
                self.tr("设置以来输错PIN码总次数"),
                str(info.get("pin_failures_total", "—")),
            ),
        }
        for key, (name, value) in values.items():
            name_label, value_label = self.fact_labels[key]
            name_label.setText(name)
            value_label.setText(value)
