"""The monthly assessment from the Review page: PDF (QPdfWriter, a page per grid: its
workers' table, the score chart and the flags) and XLSX
(:func:`fieldclient.fieldwork.review_detail.to_xlsx`), the same numbers as the page.

:func:`export_report` opens :class:`SaveDialog`: the places to save in as big buttons
(an IT-set folder ``GRIDFIELD_EXPORT_DIR``, Documents, Downloads, a USB drive); the file
is written on the thread pool and the export goes into the audit log
(``session.record_export``). The charts are drawn on the UI thread (QtCharts) into
images first; writing the PDF happens off it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCharts import QChart
from PySide6.QtCore import (
    QBuffer,
    QByteArray,
    QCoreApplication,
    QIODevice,
    QMarginsF,
    QRectF,
    QSizeF,
    QStandardPaths,
    QStorageInfo,
    Qt,
)
from PySide6.QtGui import (
    QColor,
    QFont,
    QImage,
    QPageLayout,
    QPageSize,
    QPainter,
    QPdfWriter,
    QPen,
)
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QGraphicsScene,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from fieldclient.fieldwork import review, review_detail
from fieldclient.i18n import QT_TRANSLATE_NOOP
from ui.patrol_common import grid_label, known_grid_names
from ui.style import FONT_FAMILIES
from ui.tasks import run_task
from ui.widgets.basic import Retranslatable, breakable, button, label, scroll_area
from ui.widgets.patrol import ButtonGrid

if TYPE_CHECKING:
    from ui.controller import AppController

PDF_WORDS = {
    "title": QT_TRANSLATE_NOOP("ReviewReport", "{grid} · {month} 月度考核"),
    "period": QT_TRANSLATE_NOOP("ReviewReport",
                                "统计时段：{start} 至 {until}；共{n}人；从最需要关注的排起"),
    "more": QT_TRANSLATE_NOOP("ReviewReport", "（续）"),
    "flags": QT_TRANSLATE_NOOP("ReviewReport", "疑点（共{n}条）"),
    "more_flags": QT_TRANSLATE_NOOP("ReviewReport", "另有{n}条疑点见Excel报表"),
    "none": QT_TRANSLATE_NOOP("ReviewReport", "{month}：没有可统计的人员"),
    "month": QT_TRANSLATE_NOOP("ReviewReport", "{year}年{month}月"),
    "score": QT_TRANSLATE_NOOP("ReviewReport", "得分"),
    "exports": QT_TRANSLATE_NOOP("ReviewReport", "导出文件夹"),
    "documents": QT_TRANSLATE_NOOP("ReviewReport", "文档"),
    "downloads": QT_TRANSLATE_NOOP("ReviewReport", "下载"),
    "usb": QT_TRANSLATE_NOOP("ReviewReport", "U盘 {name}"),
}
PDF_HEADS = (
    QT_TRANSLATE_NOOP("ReviewReport", "姓名"), QT_TRANSLATE_NOOP("ReviewReport", "得分"),
    QT_TRANSLATE_NOOP("ReviewReport", "巡查天数"), QT_TRANSLATE_NOOP("ReviewReport", "应巡查"),
    QT_TRANSLATE_NOOP("ReviewReport", "走访"), QT_TRANSLATE_NOOP("ReviewReport", "一般"),
    QT_TRANSLATE_NOOP("ReviewReport", "困难"), QT_TRANSLATE_NOOP("ReviewReport", "重点"),
    QT_TRANSLATE_NOOP("ReviewReport", "逾期户"), QT_TRANSLATE_NOOP("ReviewReport", "上报"),
    QT_TRANSLATE_NOOP("ReviewReport", "办结"), QT_TRANSLATE_NOOP("ReviewReport", "疑点"),
)
PDF_DPI = 150
ROWS_PER_PAGE = 16
FLAG_LINES = 6


def _word(key: str) -> str:
    return QCoreApplication.translate("ReviewReport", PDF_WORDS[key])


def chart_image(chart: QChart, width: int, height: int) -> QImage:
    """A chart drawn into an image (UI thread: QtCharts lives in a graphics scene)."""
    scene = QGraphicsScene()
    chart.resize(QSizeF(width, height))
    scene.addItem(chart)
    image = QImage(width, height, QImage.Format.Format_ARGB32)
    image.fill(QColor("#ffffff"))
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    scene.render(painter, QRectF(0, 0, width, height), QRectF(0, 0, width, height))
    painter.end()
    scene.removeItem(chart)
    return image


def grid_charts(figures: dict[str, Any]) -> dict[str, QImage]:
    """The score chart of each grid's workers (UI thread)."""
    from ui.widgets.review_charts import bar_chart

    out = {}
    for grid in review_detail.grids_of(figures):
        workers = [w for w in figures["workers"] if grid in w["grid_ids"]]
        out[grid] = chart_image(bar_chart(workers, "score", 1.0, _word("score")), 1500, 560)
    return out


def pdf_texts() -> dict[str, Any]:
    """The report's words in the user's language (read on the UI thread)."""
    def t(text: str) -> str:
        return QCoreApplication.translate("ReviewReport", text)

    return {
        "title": t(PDF_WORDS["title"]),
        "period": t(PDF_WORDS["period"]),
        "heads": [t(h) for h in PDF_HEADS],
        "more": t(PDF_WORDS["more"]),
        "flags": t(PDF_WORDS["flags"]),
        "more_flags": t(PDF_WORDS["more_flags"]),
        "none": t(PDF_WORDS["none"]),
        "month": t(PDF_WORDS["month"]),
    }


def _font(px: int, bold: bool = False) -> QFont:
    font = QFont()
    font.setFamilies(FONT_FAMILIES)
    font.setPixelSize(px)
    font.setBold(bold)
    return font


def to_pdf(figures: dict[str, Any], charts: dict[str, QImage], texts: dict[str, Any]
           ) -> bytes:
    """The assessment as PDF: a page per grid (a grid with more workers than a page holds
    goes on over more). Safe off the UI thread (QPainter on a QPdfWriter)."""
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    writer = QPdfWriter(buffer)
    writer.setResolution(PDF_DPI)
    writer.setPageLayout(QPageLayout(QPageSize(QPageSize.PageSizeId.A4),
                                     QPageLayout.Orientation.Landscape, QMarginsF(12, 12, 12, 12),
                                     QPageLayout.Unit.Millimeter))
    writer.setTitle(texts["title"].format(grid="", month=figures["month"]).lstrip(" ·"))
    writer.setCreator("gridfield")
    painter = QPainter(writer)
    page = writer.pageLayout().paintRectPixels(PDF_DPI)
    width, height = page.width(), page.height()
    year, number = figures["month"].split("-")
    month = texts["month"].format(year=year, month=int(number))
    grids = review_detail.grids_of(figures)
    first = True

    def new_page() -> None:
        nonlocal first
        if not first:
            writer.newPage()
        first = False

    for grid in grids:
        people = [w for w in figures["workers"] if grid in w["grid_ids"]]
        chunks = [people[i:i + ROWS_PER_PAGE] for i in range(0, len(people), ROWS_PER_PAGE)]
        for index, chunk in enumerate(chunks or [[]]):
            new_page()
            y = 0
            painter.setFont(_font(34, bold=True))
            title = texts["title"].format(grid=grid_label(grid), month=month)
            painter.drawText(QRectF(0, y, width, 50), Qt.AlignmentFlag.AlignLeft,
                             title + (texts["more"] if index else ""))
            y += 56
            painter.setFont(_font(20))
            painter.drawText(QRectF(0, y, width, 30), Qt.AlignmentFlag.AlignLeft,
                             texts["period"].format(start=figures["from"],
                                                    until=figures["until"][:10], n=len(people)))
            y += 40
            y = _table(painter, chunk, texts["heads"], width, y)
            if index == len(chunks) - 1 or not chunks:
                image = charts.get(grid)
                room = height - y - 10
                flags = [(w["name"], f) for w in people for f in w["flags"]]
                text_h = 30 * (min(FLAG_LINES, len(flags)) + 2) if flags else 0
                if image is not None and room - text_h > 150:
                    target_h = min(room - text_h, image.height() * width / image.width())
                    target_w = image.width() * target_h / image.height()
                    painter.drawImage(QRectF(0, y + 6, target_w, target_h), image)
                    y += int(target_h) + 12
                if flags:
                    painter.setFont(_font(22, bold=True))
                    painter.drawText(QRectF(0, y, width, 30), Qt.AlignmentFlag.AlignLeft,
                                     texts["flags"].format(n=len(flags)))
                    y += 32
                    painter.setFont(_font(18))
                    for name, f in flags[:FLAG_LINES]:
                        painter.drawText(QRectF(0, y, width, 28), Qt.AlignmentFlag.AlignLeft,
                                         f"{name}：{review.flag_reason(f)}（{f['record_id']}）")
                        y += 28
                    if len(flags) > FLAG_LINES:
                        painter.drawText(QRectF(0, y, width, 28), Qt.AlignmentFlag.AlignLeft,
                                         texts["more_flags"].format(n=len(flags) - FLAG_LINES))
    if not grids:
        painter.setFont(_font(30, bold=True))
        painter.drawText(QRectF(0, 0, width, 50), Qt.AlignmentFlag.AlignLeft,
                         texts["none"].format(month=month))
    painter.end()
    buffer.close()
    return bytes(data.data())


def _table(painter: QPainter, workers: list[dict[str, Any]], heads: list[str], width: int,
           y: int) -> int:
    columns = [3.2] + [1.0] * (len(heads) - 1)
    unit = width / sum(columns)
    xs = [0.0]
    for c in columns:
        xs.append(xs[-1] + c * unit)
    row_h = 34
    painter.setPen(QPen(QColor("#000000"), 1.5))
    painter.setFont(_font(19, bold=True))
    painter.fillRect(QRectF(0, y, width, row_h), QColor("#e6e6e6"))
    for i, head in enumerate(heads):
        painter.drawRect(QRectF(xs[i], y, xs[i + 1] - xs[i], row_h))
        painter.drawText(QRectF(xs[i], y, xs[i + 1] - xs[i], row_h),
                         Qt.AlignmentFlag.AlignCenter, head)
    y += row_h
    painter.setFont(_font(19))
    for w in workers:
        by = w["visits_by_category"]
        values = [w["name"] or w["person_id"], f"{w['score']:g}", w["patrol_days"],
                  w["patrol_target"], w["visits"], by.get("ordinary", 0), by.get("hardship", 0),
                  by.get("key", 0), w["overdue_households"], w["events_reported"],
                  w["events_closed"], len(w["flags"])]
        if w["score"] < 60:
            painter.fillRect(QRectF(xs[1], y, xs[2] - xs[1], row_h), QColor("#fff0f0"))
        for i, value in enumerate(values):
            painter.drawRect(QRectF(xs[i], y, xs[i + 1] - xs[i], row_h))
            painter.drawText(QRectF(xs[i] + 6, y, xs[i + 1] - xs[i] - 12, row_h),
                             (Qt.AlignmentFlag.AlignLeft if i == 0 else
                              Qt.AlignmentFlag.AlignCenter) | Qt.AlignmentFlag.AlignVCenter,
                             str(value))
        y += row_h
    return y


# -- saving ---------------------------------------------------------------------------------

def save_places() -> list[tuple[str, Path]]:
    """(what to call it, folder): IT's export folder, Documents, Downloads, USB drives."""
    places: list[tuple[str, Path]] = []
    override = os.environ.get("GRIDFIELD_EXPORT_DIR")
    if override:
        places.append((_word("exports"), Path(override)))
    for kind, name in ((QStandardPaths.StandardLocation.DocumentsLocation, _word("documents")),
                       (QStandardPaths.StandardLocation.DownloadLocation, _word("downloads"))):
        folder = QStandardPaths.writableLocation(kind)
        if folder and Path(folder).is_dir() and all(Path(folder) != p for _, p in places):
            places.append((name, Path(folder)))
    for volume in QStorageInfo.mountedVolumes():
        root = volume.rootPath()
        if (volume.isValid() and volume.isReady() and not volume.isReadOnly()
                and (root.startswith(("/media/", "/run/media/"))
                     or (len(root) <= 3 and root[:1].upper() not in ("C", "/", "")))):
            places.append((_word("usb").format(name=volume.displayName()), Path(root)))
    return places


class SaveDialog(Retranslatable, QDialog):
    """Where to save the report: one big button per place; then where it went."""

    def __init__(self, controller: AppController, filename: str, what: str, count: int,
                 produce: Callable[[], bytes], parent: QWidget | None = None) -> None:
        super().__init__(parent or QApplication.activeWindow())
        self.setObjectName("saveDialog")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.controller = controller
        self.filename = filename
        self.what = what
        self.count = count
        self.produce = produce
        self.saved: Path | None = None
        self.busy = False
        self.heading = label("prompt")
        self.file_label = label("fact")
        self.file_label.setObjectName("saveFileName")
        self.state = label("info")
        self.state.setObjectName("saveState")
        self.state.setVisible(False)
        self.places = save_places()
        self.place_buttons: list[QPushButton] = []
        grid = ButtonGrid((2, 1))
        for i, (_name, _folder) in enumerate(self.places):
            btn = button("", f"place_{i}")
            btn.clicked.connect(lambda _=False, k=i: self.save_to(k))
            self.place_buttons.append(btn)
            grid.add_button(btn)
        self.grid = grid
        self.none = label("warning")
        self.none.setVisible(not self.places)
        body = QWidget()
        box = QVBoxLayout(body)
        box.setContentsMargins(0, 0, 12, 0)
        box.addWidget(self.file_label)
        box.addWidget(grid)
        box.addWidget(self.none)
        box.addWidget(self.state)
        box.addStretch(1)
        self.close_button = button("", "closeButton")
        self.close_button.clicked.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 16, 24, 16)
        layout.addWidget(self.heading)
        layout.addWidget(scroll_area(body), 1)
        layout.addWidget(self.close_button, 0, Qt.AlignmentFlag.AlignRight)
        self.retranslate()
        owner = self.parentWidget()
        window = owner.window() if owner is not None else None
        self.resize(min((window.width() if window else 1280) - 60, 1000),
                    min((window.height() if window else 800) - 80, 620))

    def retranslate(self) -> None:
        self.setWindowTitle(self.tr("保存报表"))
        self.heading.setText(self.tr("保存到哪里？点一个位置就保存。"))
        self.file_label.setText(self.tr("文件名：{name}").format(name=self.filename))
        for btn, (name, folder) in zip(self.place_buttons, self.places, strict=True):
            btn.setText(f"{name}\n{breakable(str(folder))}")
        self.grid.texts = [b.text() for b in self.place_buttons]
        self.grid.arrange(force=True)
        self.none.setText(self.tr("没有可以保存的位置。请插入U盘，或请信息管理员设置导出文件夹。"))
        self.close_button.setText(self.tr("关闭") if self.saved else self.tr("取消"))

    def save_to(self, index: int) -> None:
        if self.busy:
            return
        session = self.controller.session
        if session is None or not session.is_open:
            return
        folder = self.places[index][1]
        target = _free_name(folder / self.filename)
        self.busy = True
        for btn in self.place_buttons:
            btn.setEnabled(False)
        self.state.setText(self.tr("正在保存…"))
        self.state.setVisible(True)
        produce = self.produce

        def work() -> Path:
            data = produce()
            folder.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(target.name + ".part")
            partial.write_bytes(data)
            partial.replace(target)
            return target

        run_task(work, self._saved, self._failed)

    def _saved(self, path: Path) -> None:
        self.busy = False
        self.saved = path
        session = self.controller.session
        if session is not None and session.is_open:
            session.record_export(self.what, str(path), self.count)
        self.state.setText(self.tr("已保存：{path}").format(path=breakable(str(path))))
        for btn in self.place_buttons:
            btn.setEnabled(True)
        self.retranslate()

    def _failed(self, exc: BaseException) -> None:
        self.busy = False
        for btn in self.place_buttons:
            btn.setEnabled(True)
        self.state.setText(self.tr("没有保存成功，请换一个位置再试。（{error}）").format(
            error=type(exc).__name__))


def _free_name(path: Path) -> Path:
    if not path.exists():
        return path
    for n in range(2, 1000):
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
        if not candidate.exists():
            return candidate
    return path


def export_report(controller: AppController, figures: dict[str, Any], kind: str,
                  parent: QWidget) -> SaveDialog:
    """Open the save dialog for the month's assessment as ``kind`` (pdf or xlsx)."""
    scope = figures["grid"] or "all"
    filename = f"review-{figures['month']}-{scope}.{kind}"
    if kind == "pdf":
        charts = grid_charts(figures)
        texts = pdf_texts()

        def produce() -> bytes:
            return to_pdf(figures, charts, texts)
    else:
        names = known_grid_names()

        def produce() -> bytes:
            return review_detail.to_xlsx(figures, grid_names=names)
    dialog = SaveDialog(controller, filename, f"review_{kind}", len(figures["workers"]),
                        produce, parent)
    dialog.open()
    return dialog
