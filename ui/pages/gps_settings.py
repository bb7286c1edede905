"""The Settings section for positioning: system, a serial GPS receiver, or an NMEA file."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QFileDialog,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from fieldclient.settings import parse_gps_source
from ui.patrol_tracker import PatrolTracker
from ui.platform.positioning import make_feed
from ui.widgets.basic import button, label

if TYPE_CHECKING:
    from ui.controller import AppController

KINDS = ("system", "nmea-serial", "nmea-file")


class GpsSettings(QWidget):
    def __init__(self, controller: AppController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("gpsSettings")
        self.controller = controller
        self.heading = label("heading")
        self.hint = label("muted")
        self.current = label("fact")
        self.current.setObjectName("gpsCurrent")
        self.group = QButtonGroup(self)
        self.kind_buttons: dict[str, QPushButton] = {}
        row = QVBoxLayout()  # one per line: the English names are long at large text
        row.setSpacing(12)
        for kind in KINDS:
            btn = button("", f"gps_{kind}")
            btn.setCheckable(True)
            btn.clicked.connect(lambda _=False, k=kind: self._choose(k))
            self.group.addButton(btn)
            self.kind_buttons[kind] = btn
            row.addWidget(btn, 0, Qt.AlignmentFlag.AlignLeft)
        self.detail = QLineEdit()
        self.detail.setObjectName("gpsDetail")
        self.browse_button = button("", "gpsBrowseButton")
        self.browse_button.clicked.connect(self._browse)
        self.apply_button = button("primary", "gpsApplyButton")
        self.apply_button.clicked.connect(self.apply)
        detail_row = QHBoxLayout()
        detail_row.setSpacing(12)
        detail_row.addWidget(self.detail, 1)
        detail_row.addWidget(self.browse_button)
        apply_row = QHBoxLayout()
        apply_row.addWidget(self.apply_button)
        apply_row.addStretch(1)
        self.error = label("error")
        self.error.setVisible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(12)
        layout.addWidget(self.heading)
        layout.addWidget(self.current)
        layout.addWidget(self.hint)
        layout.addLayout(row)
        layout.addLayout(detail_row)
        layout.addLayout(apply_row)
        layout.addWidget(self.error)
        self.chosen = "system"
        self.refresh()

    def spec(self) -> str:
        return self.controller.gps_override or self.controller.settings.gps_source

    def refresh(self) -> None:
        self.heading.setText(self.tr("定位（巡查轨迹）"))
        self.hint.setText(self.tr("巡查轨迹用哪种定位："))
        self.kind_buttons["system"].setText(self.tr("本机定位"))
        self.kind_buttons["nmea-serial"].setText(self.tr("串口GPS接收器"))
        self.kind_buttons["nmea-file"].setText(self.tr("NMEA文件回放（培训用）"))
        self.browse_button.setText(self.tr("选择文件"))
        self.apply_button.setText(self.tr("使用这个定位"))
        spec = self.spec()
        try:
            kind, arg = parse_gps_source(spec)
            name = make_feed(spec, None).name()
        except ValueError:
            kind, arg, name = "system", "", spec
        current = self.tr("现在使用：{source}").format(source=name)
        if self.controller.gps_override:
            current += self.tr("（本次启动时用 --gps 指定）")
        self.current.setText(current)
        self.chosen = kind
        self.kind_buttons[kind].setChecked(True)
        self.detail.setText(arg)
        self._show_detail()

    def _choose(self, kind: str) -> None:
        if kind != self.chosen:
            self.detail.clear()
        self.chosen = kind
        self.error.setVisible(False)
        self._show_detail()
        if kind == "system":
            self.apply()

    def _show_detail(self) -> None:
        self.detail.setVisible(self.chosen != "system")
        self.apply_button.setVisible(self.chosen != "system")
        self.browse_button.setVisible(self.chosen == "nmea-file")
        if self.chosen == "nmea-serial":
            self.detail.setPlaceholderText(self.tr("串口名称，例如 COM3 或 /dev/ttyUSB0"))
        else:
            self.detail.setPlaceholderText(self.tr("NMEA日志文件的位置"))

    def _browse(self) -> None:
        dialog = QFileDialog(self.window())
        dialog.setWindowTitle(self.tr("选择NMEA日志文件"))
        dialog.setOption(QFileDialog.Option.DontUseNativeDialog)
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.resize(1100, 700)
        dialog.fileSelected.connect(lambda path: self.detail.setText(str(Path(path))))
        dialog.open()

    def apply(self) -> None:
        arg = self.detail.text().strip()
        if self.chosen != "system" and not arg:
            self.error.setText(self.tr("请先填写串口名称或文件位置。"))
            self.error.setVisible(True)
            return
        spec = "system" if self.chosen == "system" else f"{self.chosen}:{arg}"
        try:
            self.controller.set_gps_source(spec)
        except ValueError:
            self.error.setText(self.tr("无法使用这个定位来源。"))
            self.error.setVisible(True)
            return
        self.error.setVisible(False)
        PatrolTracker.of(self.controller).restart_feed()
        self.refresh()
