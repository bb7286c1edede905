"""The Review page's drill-down: one worker's month (走访 / 巡查) with the map, a
household's history; photos open full size in the shared viewer (ui.dialogs.photo).

* :class:`WorkerDialog`: the worker's visits of the month (content, photos, position
  against the household's known one) and patrols (times, distance, checklist, the
  track); flagged records carry their reason; the map shows the visit positions
  (flagged ones red) and the chosen patrol's track with that day's visits. 审核 opens
  :class:`ui.dialogs.review.ReviewDialog` (合格 / 有问题 / 不合格), 这户的走访 the
  household's history.
* :class:`HouseholdHistoryDialog`: every visit of one household here, oldest first,
  with their positions and the household on the map.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from fieldclient.fieldwork import review, review_detail, reviews, serverconfig
from fieldclient.fieldwork.review_detail import PatrolRow, VisitRow
from fieldclient.geo.boundary import BoundaryInvalid
from fieldclient.geo.geometry import Fix
from sync.protocol.review import distance_m
from ui.widgets.basic import Retranslatable, button, label, photo_thumbnail, scroll_area
from ui.widgets.map_view import MapMarker, MapView, installed_archive
from ui.widgets.patrol import ButtonGrid

if TYPE_CHECKING:
    from fieldclient.storage.session import Session
    from ui.controller import AppController
    from ui.dialogs.photo import PhotoStrip

log = logging.getLogger("gridfield.ui")


def _fit(dialog: QDialog, margin: int = 24) -> None:
    owner = dialog.parentWidget()
    window = owner.window() if owner is not None else None
    w = window.width() if window is not None else 1280
    h = window.height() if window is not None else 800
    dialog.resize(max(640, w - margin), max(480, h - margin))


def when_text(at: float, fmt: str = "%m-%d %H:%M") -> str:
    """In the device's zone, as the month's figures count days and nights."""
    from datetime import datetime

    from fieldclient.devicetime import device_zone

    return datetime.fromtimestamp(at, device_zone()).strftime(fmt)


class _RecordList(QWidget):
    """Cards of visits or patrols in a scroll area, next to a map."""

    def __init__(self) -> None:
        super().__init__()
        self.body = QWidget()
        self.box = QVBoxLayout(self.body)
        self.box.setContentsMargins(0, 0, 12, 0)
        self.box.setSpacing(10)
        self.area = scroll_area(self.body)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.area)

    def clear(self) -> None:
        while self.box.count():
            item = self.box.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()


class _Drill(Retranslatable, QDialog):
    """What the worker and household dialogs share: session, cards, photos, review."""

    def __init__(self, controller: AppController, parent: QWidget | None) -> None:
        super().__init__(parent or QApplication.activeWindow())
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.controller = controller
        self.dialog: QDialog | None = None
        self.review_buttons: dict[str, QPushButton] = {}
        self.cards: dict[str, QFrame] = {}
        self.strips: list[PhotoStrip] = []
        self.map = MapView(archive=installed_archive(controller.data_dir))
        self.map.setObjectName("reviewMap")
        self.map.marker_activated.connect(self.marker_tapped)
        self.reviewer = False
        self.me = ""
        session = self.session()
        if session is not None:
            self.reviewer = reviews.can_review(session)
            self.me = review._me(session.db)[0]

    def session(self) -> Session | None:
        session = self.controller.session
        return session if session is not None and session.is_open else None

    def show_boundary(self, grids: list[str]) -> bool:
        """Draw the boundaries the centre sent for ``grids`` (central grids
        set-boundary); True when there was one to draw."""
        session = self.session()
        shape = serverconfig.grid_boundary(session.db, grids) if session is not None else None
        try:
            self.map.set_boundary(shape)
        except BoundaryInvalid:  # checked when pulled; a damaged copy is not drawn
            log.warning("grid boundary of %s not drawn", grids)
            self.map.set_boundary(None)
            return False
        return shape is not None

    def boundary_note(self) -> str:
        return self.tr("虚线：网格边界。") if self.map.boundary_polygons else ""

    def card(self, key: str, flagged: bool) -> tuple[QFrame, QVBoxLayout]:
        card = QFrame()
        card.setObjectName("itemCard")
        card.setProperty("role", "problem" if flagged else "")
        box = QVBoxLayout(card)
        box.setContentsMargins(14, 10, 14, 10)
        box.setSpacing(6)
        self.cards[key] = card
        return card, box

    def text_line(self, box: QVBoxLayout, text: str, role: str = "") -> QLabel:
        line = label(role)
        line.setTextFormat(Qt.TextFormat.PlainText)
        line.setText(text)
        box.addWidget(line)
        return line

    def flag_lines(self, box: QVBoxLayout, flags: tuple[dict[str, Any], ...]) -> None:
        for flag in flags:
            line = self.text_line(box, self.tr("疑点：{reason}").format(
                reason=review.flag_reason(flag)), "warning")
            line.setObjectName(f"flag_{flag['check']}_{flag['record_id']}")

    def photo_row(self, box: QVBoxLayout, photos: tuple[str, ...]) -> None:
        """The record's photos as the app's one strip: a tap shows one full size (a
        photo held only at the centre says so there); nothing is removable here."""
        from ui.dialogs.photo import PhotoStrip, stored_photo

        session = self.session()
        if not photos or session is None:
            return
        strip = PhotoStrip(removable=False)
        strip.setObjectName(f"photos_{photos[0]}")
        strip.set_photos(
            [photo_thumbnail(session, p) if _has_photo(session, p) else QPixmap()
             for p in photos],
            [(lambda p=p: stored_photo(self.session(), p)) for p in photos])
        self.strips.append(strip)
        row = QHBoxLayout()
        row.addWidget(strip)
        row.addStretch(1)
        box.addLayout(row)

    def review_button(self, row: ButtonGrid, kind: str, record_id: str,
                      person: str | None) -> None:
        session = self.session()
        if session is None or not self.reviewer or person in (None, self.me):
            return
        found = reviews.latest(session, kind, [record_id]).get(record_id)
        btn = button("primary", f"review_{record_id}")
        btn.setText(self.tr("审核") if found is None else self.tr("再审核（现为{state}）").format(
            state=_state_text(found.state)))
        btn.clicked.connect(lambda: self.open_review(kind, record_id))
        row.add_button(btn)
        self.review_buttons[record_id] = btn

    def open_review(self, kind: str, record_id: str) -> None:
        from ui.dialogs.review import ReviewDialog

        dialog = ReviewDialog(self.controller, kind, record_id, self)
        dialog.accepted.connect(self.reload)
        self.dialog = dialog
        dialog.open()

    def visit_card(self, v: VisitRow, history: bool = True) -> QFrame:
        from ui.dialogs.visit import visit_type_text

        card, box = self.card(v.id, bool(v.flags))
        who = f" · {v.worker}" if v.worker else ""
        self.text_line(box, self.tr("{when} {how}{who}").format(
            when=when_text(v.visited_at, "%Y-%m-%d %H:%M"), how=visit_type_text(v.visit_type),
            who=who), "itemName")
        self.text_line(box, self.tr("{name}（{address}）").format(name=v.head_name,
                                                                 address=v.address))
        if v.corrects:
            self.text_line(box, self.tr("这是对 {id} 的更正").format(id=v.corrects), "muted")
        if v.training:
            self.text_line(box, self.tr("培训记录，不计入考核"), "muted")
        if v.people_met:
            self.text_line(box, self.tr("见到的人：{text}").format(text=v.people_met))
        self.text_line(box, self.tr("走访情况：{text}").format(text=v.situation))
        if v.needs:
            self.text_line(box, self.tr("需求和问题：{text}").format(text=v.needs))
        if v.follow_up:
            self.text_line(box, self.tr("承诺跟进：{text}").format(text=v.follow_up))
        self.text_line(box, self.place_text(v), "muted")
        self.flag_lines(box, v.flags)
        self.photo_row(box, v.photos)
        row = ButtonGrid((3, 1))
        if v.lat is not None and v.lon is not None:
            show = button("", f"showOnMap_{v.id}")
            show.setText(self.tr("在地图上看"))
            show.clicked.connect(lambda: self.map.center_on(float(v.lat or 0), float(v.lon or 0),
                                                            17))
            row.add_button(show)
        if history:
            past = button("", f"household_{v.id}")
            past.setText(self.tr("这户的走访"))
            past.clicked.connect(lambda: self.open_household(v.household_id))
            row.add_button(past)
        self.review_button(row, "visit", v.id, v.person_id)
        box.addWidget(row)
        return card

    def place_text(self, v: VisitRow) -> str:
        if v.lat is None or v.lon is None:
            return self.tr("没有定位")
        if v.home_lat is None or v.home_lon is None:
            return self.tr("有定位（住户没有登记位置）")
        return self.tr("定位距住户登记位置{distance}米").format(
            distance=round(distance_m(v.lat, v.lon, v.home_lat, v.home_lon)))

    def visit_markers(self, rows: list[VisitRow]) -> list[MapMarker]:
        return [MapMarker(v.lat, v.lon, when_text(v.visited_at, "%m-%d %H:%M"), v.id,
                          bool(v.flags)) for v in rows if v.lat is not None and v.lon is not None]

    def home_markers(self, rows: list[VisitRow]) -> list[MapMarker]:
        seen: dict[str, MapMarker] = {}
        for v in rows:
            if v.home_lat is not None and v.home_lon is not None:
                seen.setdefault(v.household_id, MapMarker(v.home_lat, v.home_lon, v.head_name,
                                                          "home:" + v.household_id))
        return list(seen.values())

    def marker_tapped(self, key: str) -> None:
        card = self.cards.get(key)
        if card is None:
            return
        for area in self.findChildren(QScrollArea):
            inner = area.widget()
            if inner is not None and inner.isAncestorOf(card):
                area.ensureWidgetVisible(card)

    def open_household(self, household_id: str) -> None:
        dialog = HouseholdHistoryDialog(self.controller, household_id, self.figures_for_flags(),
                                        self)
        self.dialog = dialog
        dialog.open()

    def figures_for_flags(self) -> dict[str, Any] | None:
        return None

    def reload(self) -> None:
        raise NotImplementedError


def _state_text(state: str) -> str:
    from ui.dialogs.review import state_text

    return state_text(state)


def _has_photo(session: Session, photo_id: str) -> bool:
    return session.db.execute("SELECT 1 FROM photos WHERE id = ?", (photo_id,)).fetchone() \
        is not None


class WorkerDialog(_Drill):
    """One worker's month: visits and patrols, the map beside them."""

    def __init__(self, controller: AppController, worker: dict[str, Any],
                 figures: dict[str, Any], month: str, grid: str | None,
                 parent: QWidget | None = None) -> None:
        super().__init__(controller, parent)
        self.setObjectName("workerDialog")
        self.worker = worker
        self.figures = figures
        self.month = month
        self.grid = grid
        self.visits: list[VisitRow] = []
        self.patrols: list[PatrolRow] = []
        self.patrol_buttons: dict[str, QPushButton] = {}
        self.shown_patrol: str | None = None
        self.heading = label("prompt")
        self.heading.setTextFormat(Qt.TextFormat.PlainText)
        self.tab_buttons: dict[str, QPushButton] = {}
        tabs = QHBoxLayout()
        for key in ("visits", "patrols"):
            btn = button("groupTab", f"tab_{key}")
            btn.setCheckable(True)
            btn.clicked.connect(lambda _=False, k=key: self.show_tab(k))
            self.tab_buttons[key] = btn
            tabs.addWidget(btn)
        tabs.addStretch(1)
        self.visit_list = _RecordList()
        self.patrol_list = _RecordList()
        self.lists = QStackedWidget()
        self.lists.addWidget(self.visit_list)
        self.lists.addWidget(self.patrol_list)
        self.map_note = label("muted")
        self.map_note.setObjectName("mapNote")
        right = QVBoxLayout()
        right.addWidget(self.map_note)
        right.addWidget(self.map, 1)
        body = QHBoxLayout()
        body.setSpacing(12)
        body.addWidget(self.lists, 11)
        body.addLayout(right, 9)
        self.close_button = button("", "closeButton")
        self.close_button.clicked.connect(self.accept)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 12, 20, 12)
        layout.setSpacing(8)
        layout.addWidget(self.heading)
        layout.addLayout(tabs)
        layout.addLayout(body, 1)
        layout.addWidget(self.close_button, 0, Qt.AlignmentFlag.AlignRight)
        self.tab = "visits"
        self.reload()
        _fit(self)

    def figures_for_flags(self) -> dict[str, Any] | None:
        return self.figures

    def reload(self) -> None:
        session = self.session()
        if session is None:
            return
        pid = self.worker["person_id"]
        self.visits = review_detail.worker_visits(session, pid, self.month, self.grid,
                                                  figures=self.figures)
        self.patrols = review_detail.worker_patrols(session, pid, self.month, self.grid,
                                                    figures=self.figures)
        self.cards.clear()
        self.review_buttons.clear()
        self.strips.clear()
        self.patrol_buttons.clear()
        self.visit_list.clear()
        self.patrol_list.clear()
        for v in self.visits:
            self.visit_list.box.addWidget(self.visit_card(v))
        if not self.visits:
            self.visit_list.box.addWidget(self._empty(self.tr("这个月没有走访记录。")))
        for p in self.patrols:
            self.patrol_list.box.addWidget(self.patrol_card(p))
        if not self.patrols:
            self.patrol_list.box.addWidget(self._empty(self.tr("这个月没有巡查记录。")))
        self.visit_list.box.addStretch(1)
        self.patrol_list.box.addStretch(1)
        self.show_boundary([self.grid] if self.grid else
                           [str(g) for g in self.worker.get("grid_ids") or []])
        self.retranslate()
        self.show_tab(self.tab)

    def _empty(self, text: str) -> QLabel:
        empty = label("empty")
        empty.setText(text)
        return empty

    def patrol_card(self, p: PatrolRow) -> QFrame:
        card, box = self.card(p.id, bool(p.flags))
        minutes = round((p.finished_at - p.started_at) / 60)
        self.text_line(box, self.tr("{day} {start}–{end} 巡查 · {minutes}分钟").format(
            day=when_text(p.started_at, "%Y-%m-%d"), start=when_text(p.started_at, "%H:%M"),
            end=when_text(p.finished_at, "%H:%M"), minutes=minutes), "itemName")
        facts = self.tr("走了{km}公里，轨迹{points}个点").format(
            km=f"{p.distance_m / 1000:.1f}", points=p.points)
        if p.items_total:
            facts += self.tr("；检查{done}/{total}项，发现问题%n项", "", p.problems or 0).format(
                done=p.items_done or 0, total=p.items_total)
        self.text_line(box, facts)
        problems = [r for r in p.results if r.get("result") == "problem"]
        for item in problems[:5]:
            note = f"：{item['note']}" if item.get("note") else ""
            self.text_line(box, self.tr("发现问题 {code}{note}").format(
                code=item.get("code", ""), note=note), "muted")
        self.flag_lines(box, p.flags)
        row = ButtonGrid((2, 1))
        show = button("", f"showPatrol_{p.id}")
        show.setText(self.tr("看轨迹"))
        show.clicked.connect(lambda: self.show_patrol(p.id))
        row.add_button(show)
        self.patrol_buttons[p.id] = show
        self.review_button(row, "patrol", p.id, p.person_id)
        box.addWidget(row)
        return card

    def retranslate(self) -> None:
        w = self.worker
        from ui.widgets.review_charts import month_text

        self.setWindowTitle(self.tr("督导：{name}").format(name=w["name"]))
        self.heading.setText(self.tr("{name} · {month} · 得分{score:g} · 疑点{flags}条").format(
            name=w["name"], month=month_text(self.month), score=w["score"],
            flags=len(w["flags"])))
        self.tab_buttons["visits"].setText(self.tr("走访（{n}）").format(n=len(self.visits)))
        self.tab_buttons["patrols"].setText(self.tr("巡查（{n}）").format(n=len(self.patrols)))
        self.close_button.setText(self.tr("关闭"))

    def show_tab(self, tab: str) -> None:
        self.tab = tab
        for key, btn in self.tab_buttons.items():
            btn.setChecked(key == tab)
            btn.updateGeometry()  # a chosen tab's border is thicker
        self.lists.setCurrentIndex(0 if tab == "visits" else 1)
        if tab == "visits":
            self.shown_patrol = None
            self.map.set_tracks([])
            self.map.set_points(self.visit_markers(self.visits))
            self.map.set_households(self.home_markers(self.visits))
            self.map_note.setText(self.tr("圆点：走访位置（红色有疑点）；小房子：住户登记位置。")
                                  + self.boundary_note())
            self.map.fit()
        elif self.patrols and self.shown_patrol is None:
            self.show_patrol(self.patrols[0].id)
        elif not self.patrols:
            self.map.set_tracks([])
            self.map.set_points([])
            self.map.set_households([])
            self.map_note.setText("")

    def show_patrol(self, patrol_id: str) -> None:
        patrol = next((p for p in self.patrols if p.id == patrol_id), None)
        if patrol is None:
            return
        self.tab = "patrols"
        for key, btn in self.tab_buttons.items():
            btn.setChecked(key == "patrols")
            btn.updateGeometry()  # a chosen tab's border is thicker
        self.lists.setCurrentIndex(1)
        self.shown_patrol = patrol_id
        for pid, btn in self.patrol_buttons.items():
            btn.setProperty("role", "primary" if pid == patrol_id else "")
            btn.style().unpolish(btn)
            btn.style().polish(btn)
        self.map.set_tracks([[Fix(t, lat, lon) for t, lat, lon in part]
                             for part in patrol.track])
        day = when_text(patrol.started_at, "%Y-%m-%d")
        same_day = [v for v in self.visits if when_text(v.visited_at, "%Y-%m-%d") == day]
        self.map.set_points(self.visit_markers(same_day))
        self.map.set_households(self.home_markers(same_day))
        self.map_note.setText((self.tr("{day}的巡查轨迹（{points}个点）和当天的走访位置。").format(
            day=day, points=patrol.points) if patrol.points
            else self.tr("这次巡查没有轨迹。")) + self.boundary_note())
        self.map.fit()
        card = self.cards.get(patrol_id)
        if card is not None:
            self.patrol_list.area.ensureWidgetVisible(card)


class HouseholdHistoryDialog(_Drill):
    """Every visit of one household here, oldest first, with the map."""

    def __init__(self, controller: AppController, household_id: str,
                 figures: dict[str, Any] | None = None, parent: QWidget | None = None) -> None:
        super().__init__(controller, parent)
        self.setObjectName("householdHistoryDialog")
        self.household_id = household_id
        self.figures = figures
        self.rows: list[VisitRow] = []
        self.heading = label("prompt")
        self.heading.setTextFormat(Qt.TextFormat.PlainText)
        self.list = _RecordList()
        body = QHBoxLayout()
        body.addWidget(self.list, 11)
        body.addWidget(self.map, 9)
        self.close_button = button("", "closeButton")
        self.close_button.clicked.connect(self.accept)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 12, 20, 12)
        layout.addWidget(self.heading)
        layout.addLayout(body, 1)
        layout.addWidget(self.close_button, 0, Qt.AlignmentFlag.AlignRight)
        self.reload()
        _fit(self, 48)

    def figures_for_flags(self) -> dict[str, Any] | None:
        return self.figures

    def reload(self) -> None:
        session = self.session()
        if session is None:
            return
        self.rows = review_detail.household_history(session, self.household_id,
                                                    figures=self.figures)
        self.cards.clear()
        self.review_buttons.clear()
        self.strips.clear()
        self.list.clear()
        for v in self.rows:
            self.list.box.addWidget(self.visit_card(v, history=False))
        self.list.box.addStretch(1)
        self.show_boundary(serverconfig.household_grids(session.db, self.household_id))
        self.map.set_points(self.visit_markers(self.rows))
        self.map.set_households(self.home_markers(self.rows))
        self.map.fit()
        self.retranslate()

    def retranslate(self) -> None:
        first = self.rows[0] if self.rows else None
        self.setWindowTitle(self.tr("这户的走访"))
        self.heading.setText(self.tr("{name}（{address}）：{n}次走访，从早到晚").format(
            name=first.head_name if first else "", address=first.address if first else "",
            n=len(self.rows)))
        self.close_button.setText(self.tr("关闭"))
