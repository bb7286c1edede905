"""Sync: enrollment (address and code, or a QR image), sync now, progress, what waits
(and what waits for the centre's upgrade), errors in plain words, set-aside records,
rows from the centre this app cannot handle yet, and conflicts the grid leader settles."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLineEdit,
    QProgressBar,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from fieldclient.i18n import QT_TRANSLATE_NOOP
from sync.errors import UpgradeRequired
from ui import sync_texts
from ui.pages.base import Page
from ui.tasks import run_task
from ui.widgets.basic import breakable, button, label, set_role

if TYPE_CHECKING:
    from ui.controller import AppController
    from ui.platform.enroll_qr import EnrollLink
    from ui.sync_controller import SyncController

ImagePicker = Callable[[QWidget, Callable[[Path], None]], None]


def pick_qr_file(parent: QWidget, on_picked: Callable[[Path], None]) -> None:
    """Qt's own file dialog (it follows the app's big text), never blocking."""
    dialog = QFileDialog(parent)
    dialog.setWindowTitle(QCoreApplication.translate("SyncPage", "选择注册二维码图片"))
    dialog.setOption(QFileDialog.Option.DontUseNativeDialog)
    dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
    images = QCoreApplication.translate("SyncPage", "图片")
    dialog.setNameFilter(f"{images} (*.png *.jpg *.jpeg *.bmp *.gif *.webp)")
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.resize(1100, 700)
    dialog.fileSelected.connect(lambda path: on_picked(Path(path)))
    dialog.open()


def _clear(layout: QVBoxLayout) -> None:
    while layout.count():
        item = layout.takeAt(0)
        widget = item.widget()
        if widget is not None:
            widget.setParent(None)
            widget.deleteLater()


class ConflictCard(QFrame):
    """One conflict: household, field, both values and who; the leader's two buttons."""

    def __init__(self, page: SyncPage, conflict: dict[str, Any], leader: bool,
                 me: tuple[str, int]) -> None:
        super().__init__()
        self.setObjectName("conflictCard")
        self.conflict = conflict
        field = str(conflict["field"])
        kept = sync_texts.value_text(field, conflict["kept_value"], reveal=leader)
        other = sync_texts.value_text(field, conflict["other_value"], reveal=leader)
        household = conflict.get("head_name") or self.tr("（本机还没有这户）")
        address = conflict.get("address") or ""
        title = self.tr("住户 {name}（{address}）：{field}").format(
            name=household, address=address, field=sync_texts.field_text(field)
        ) if address else self.tr("住户 {name}：{field}").format(
            name=household, field=sync_texts.field_text(field))
        if conflict.get("member_id"):
            title += self.tr("（家庭成员 {member}）").format(
                member=conflict.get("member_name") or self.tr("已移除的成员"))
        self.title = label("itemName")
        self.title.setText(title)
        self.kept = label()
        self.kept.setText(self.tr("先到中心的值：{value}（{who}）").format(
            value=kept, who=self._who(conflict["kept_device"], conflict["kept_person"], me,
                                conflict.get("kept_person_name"))))
        self.other = label()
        self.other.setText(self.tr("后到的值：{value}（{who}）").format(
            value=other,
            who=self._who(conflict["other_device"], conflict["other_person"], me,
                          conflict.get("other_person_name"))))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.setSpacing(8)
        layout.addWidget(self.title)
        layout.addWidget(self.kept)
        layout.addWidget(self.other)
        self.keep_button = button("", "keepButton")
        self.other_button = button("", "otherButton")
        self.waiting = label("muted")
        choice = conflict.get("local_choice")
        if choice:
            chosen = kept if choice == "kept" else other
            self.waiting.setText(self.tr("已决定用“{value}”，下次同步时告诉中心。").format(value=chosen))
            layout.addWidget(self.waiting)
        elif leader:
            self.keep_button.setText(self.tr("保留“{value}”").format(value=_short(kept)))
            self.other_button.setText(self.tr("改用“{value}”").format(value=_short(other)))
            cid = str(conflict["id"])
            self.keep_button.clicked.connect(lambda: page.resolve(cid, "kept"))
            self.other_button.clicked.connect(lambda: page.resolve(cid, "other"))
            for btn in (self.keep_button, self.other_button):  # one above the other: any
                btn.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
                layout.addWidget(btn)  # value length fits, and each is a big target
        else:
            self.waiting.setText(self.tr("等待网格长决定"))
            layout.addWidget(self.waiting)

    def _who(self, device: str | None, person: int | None,
             me: tuple[str, int], name: str | None = None) -> str:
        if device and device == me[0]:
            return self.tr("本设备")
        if person is not None and person == me[1]:
            return self.tr("你的另一台设备")
        if person is None:
            return self.tr("中心")
        if name:
            return name
        return self.tr("人员编号{id}").format(id=person)


def _short(text: str, limit: int = 14) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class SyncPage(Page):
    key = "sync"
    title_source = QT_TRANSLATE_NOOP("SyncPage", "同步")

    def __init__(self, controller: AppController, parent: QWidget | None = None) -> None:
        super().__init__(controller, parent)
        self.image_picker: ImagePicker = pick_qr_file
        self._connected: SyncController | None = None
        # (code, centre key fingerprint, TLS certificate fingerprint) read from a QR
        self._qr_key: tuple[str, str | None, str | None] | None = None
        self.enroll_message_text: Callable[[], str] | None = None
        self.enroll_message_role = "error"
        self.conflict_cards: list[ConflictCard] = []

        body = QWidget()
        body.setObjectName("scrollBody")
        column = QVBoxLayout(body)
        column.setContentsMargins(40, 20, 40, 32)
        column.setSpacing(14)

        # -- enrollment (not enrolled yet) --
        self.enroll_box = QWidget()
        enroll = QVBoxLayout(self.enroll_box)
        enroll.setContentsMargins(0, 0, 0, 0)
        enroll.setSpacing(12)
        self.enroll_heading = label("heading")
        self.enroll_intro = label()
        self.server_label = label("factName")
        self.server_edit = QLineEdit()
        self.server_edit.setObjectName("serverEdit")
        self.server_edit.setInputMethodHints(Qt.InputMethodHint.ImhUrlCharactersOnly)
        self.code_label = label("factName")
        self.code_edit = QLineEdit()
        self.code_edit.setObjectName("codeEdit")
        self.code_edit.setInputMethodHints(Qt.InputMethodHint.ImhPreferUppercase
                                           | Qt.InputMethodHint.ImhNoPredictiveText)
        self.code_edit.setPlaceholderText("XXXX-XXXX-XXXX")
        self.code_edit.setMaxLength(20)
        self.enroll_button = button("primary", "enrollButton")
        self.enroll_button.clicked.connect(self.enroll)
        self.qr_button = button("", "qrButton")
        self.qr_button.clicked.connect(self.pick_qr)
        self.enroll_message = label("error")
        self.enroll_message.setObjectName("enrollMessage")
        self.enroll_message.setVisible(False)
        for widget in (self.enroll_heading, self.enroll_intro, self.server_label,
                       self.server_edit, self.code_label, self.code_edit):
            enroll.addWidget(widget)
        row = QHBoxLayout()
        row.setSpacing(16)
        row.addWidget(self.enroll_button, 1)
        row.addWidget(self.qr_button, 1)
        enroll.addLayout(row)
        enroll.addWidget(self.enroll_message)
        column.addWidget(self.enroll_box)

        # -- enrolled --
        self.status_box = QWidget()
        status = QVBoxLayout(self.status_box)
        status.setContentsMargins(0, 0, 0, 0)
        status.setSpacing(12)
        self.who = label("fact")
        self.who.setObjectName("syncWho")
        self.server_fact = label("muted")
        row = QHBoxLayout()
        row.setSpacing(20)
        self.sync_button = button("primary", "syncNowButton")
        self.sync_button.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.sync_button.clicked.connect(self.sync_now)
        self.last_sync = label("prompt")
        self.last_sync.setObjectName("lastSync")
        row.addWidget(self.sync_button)
        row.addWidget(self.last_sync, 1)
        self.clock_warning = label("warning")
        self.clock_warning.setObjectName("clockWarning")
        self.error = label("error")
        self.error.setObjectName("syncError")
        self.result = label("info")
        self.result.setObjectName("syncResult")

        self.progress_box = QWidget()
        progress = QVBoxLayout(self.progress_box)
        progress.setContentsMargins(0, 0, 0, 0)
        progress.setSpacing(6)
        self.records_label = label()
        self.records_bar = QProgressBar()
        self.records_bar.setObjectName("recordsBar")
        self.records_bar.setTextVisible(False)
        self.photos_label = label()
        self.photos_bar = QProgressBar()
        self.photos_bar.setObjectName("photosBar")
        self.photos_bar.setTextVisible(False)
        for widget in (self.records_label, self.records_bar, self.photos_label, self.photos_bar):
            progress.addWidget(widget)

        self.pending_heading = label("heading")
        self.pending_list = label()
        self.pending_list.setObjectName("pendingList")
        self.left_fact = label("info")
        self.left_fact.setObjectName("leftFact")
        self.waiting_hint = label("info")
        self.waiting_hint.setObjectName("waitingHint")
        self.aside_heading = label("heading")
        self.aside_list = label()
        self.aside_list.setObjectName("setAsideList")
        self.held_heading = label("heading")
        self.held_heading.setObjectName("heldHeading")
        self.held_hint = label("info")
        self.held_hint.setObjectName("heldHint")
        self.held_list = label()
        self.held_list.setObjectName("heldList")
        self.conflict_heading = label("heading")
        self.conflict_hint = label("muted")
        self.conflict_box = QVBoxLayout()
        self.conflict_box.setSpacing(12)

        status.addWidget(self.who)
        status.addWidget(self.server_fact)
        status.addLayout(row)
        for widget in (self.clock_warning, self.error, self.result, self.progress_box,
                       self.pending_heading, self.pending_list, self.left_fact,
                       self.waiting_hint,
                       self.aside_heading, self.aside_list, self.held_heading,
                       self.held_hint, self.held_list, self.conflict_heading,
                       self.conflict_hint):
            status.addWidget(widget)
        status.addLayout(self.conflict_box)
        column.addWidget(self.status_box)
        column.addStretch(1)

        self.scroll = QScrollArea()
        self.scroll.setWidget(body)
        self.scroll.setWidgetResizable(True)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.scroll)
        self.refresh()


    # -- the controller --------------------------------------------------------------
    def sync(self) -> SyncController | None:
        sync = self.controller.sync
        if sync is not None and sync is not self._connected and not sync.closed:
            sync.changed.connect(self.refresh)
            sync.progress.connect(self._show_progress)
            sync.enrolled.connect(self._enrolled)
            sync.enroll_failed.connect(self._enroll_failed)
            self._connected = sync
        return sync if sync is not None and sync.usable() else None

    # -- actions ---------------------------------------------------------------------
    def sync_now(self) -> None:
        sync = self.sync()
        if sync is not None:
            sync.sync_now()

    def enroll(self) -> None:
        from ui.platform.enroll_qr import looks_like_code, normalize_code

        sync = self.sync()
        if sync is None or sync.busy():
            return
        server = self.server_edit.text().strip()
        code = normalize_code(self.code_edit.text())
        self.code_edit.setText(code)
        if not server:
            self._enroll_note(lambda: self.tr("请填写服务器地址（信息管理员会告诉你）。"))
            return
        if "://" not in server:  # HTTPS, but for a server on this very machine
            from sync.tls import is_loopback

            host = server.split("/", 1)[0].rsplit(":", 1)[0] if server.count(":") <= 1 \
                else server
            server = ("http://" if is_loopback(host) else "https://") + server
            self.server_edit.setText(server)
        if not looks_like_code(code):
            self._enroll_note(lambda: self.tr(
                "注册码应该是12个字母或数字，像 ABCD-EFGH-JKMN 这样。请再核对一遍。"))
            return
        self._enroll_note(lambda: self.tr("正在登记，请稍候……"), role="info")
        # the centre's key fingerprint read from the QR, for the code read with it
        key = self._qr_key if self._qr_key and self._qr_key[0] == code else None
        sync.enroll(server, code, key_fingerprint=key[1] if key else None,
                    tls_fingerprint=key[2] if key else None)

    def pick_qr(self) -> None:
        self.image_picker(self.window(), self.read_qr)

    def read_qr(self, path: Path) -> None:
        from ui.platform.enroll_qr import read_enroll_qr

        self._enroll_note(lambda: self.tr("正在读取二维码……"), role="info")
        run_task(lambda: read_enroll_qr(path), self._qr_read, self._qr_failed)

    def _qr_read(self, link: EnrollLink) -> None:
        self._qr_key = (link.code, link.key, link.tls) if link.key or link.tls else None
        self.code_edit.setText(link.code)
        if link.server:
            self.server_edit.setText(link.server)
        if not self.server_edit.text().strip():
            self._enroll_note(lambda: self.tr(
                "已读出注册码。二维码里没有服务器地址，请填写服务器地址后点“登记本设备”。"),
                role="info")
            return
        self.enroll()

    def _qr_failed(self, exc: BaseException) -> None:
        from ui.platform.enroll_qr import QrError

        reason = exc.reason if isinstance(exc, QrError) else "unreadable"
        if reason == "no_code":
            self._enroll_note(lambda: self.tr(
                "这张图片里找不到二维码。请选择信息管理员给你的注册二维码图片。"))
        elif reason == "not_ours":
            self._enroll_note(lambda: self.tr(
                "这个二维码不是本系统的注册码。请选择信息管理员给你的注册二维码图片。"))
        else:
            self._enroll_note(lambda: self.tr("这个文件打不开，可能不是图片。"))

    def _enrolled(self, _info: object) -> None:
        self.enroll_message_text = None
        self.code_edit.clear()
        self.refresh()

    def _enroll_failed(self, exc: BaseException) -> None:
        self._enroll_note(lambda: sync_texts.error_text(exc, enrolling=True))

    def _enroll_note(self, text: Callable[[], str] | None, role: str = "error") -> None:
        self.enroll_message_text = text
        self.enroll_message_role = role
        self._show_enroll_note()

    def _show_enroll_note(self) -> None:
        text = self.enroll_message_text
        self.enroll_message.setVisible(text is not None)
        if text is not None:
            self.enroll_message.setText(text())
            set_role(self.enroll_message, self.enroll_message_role)

    def resolve(self, conflict_id: str, choice: str) -> None:
        sync = self.sync()
        if sync is None:
            return
        try:
            sync.resolve_conflict(conflict_id, choice)
        except Exception as exc:  # not a leader, already settled: say so plainly
            from fieldclient.errors import FieldClientError

            if not isinstance(exc, FieldClientError):
                raise
            from ui.dialogs.message import show_message

            show_message(sync_texts.error_text(exc), parent=self.window(), role="error")
        self.refresh()

    # -- showing ---------------------------------------------------------------------
    def refresh(self) -> None:
        sync = self.sync()
        info = sync.enrollment() if sync is not None else None
        enrolled = info is not None
        self.enroll_box.setVisible(not enrolled)
        self.status_box.setVisible(enrolled)
        self._retranslate_static()
        if sync is None or info is None:
            busy = sync is not None and sync.enrolling
            self.enroll_button.setEnabled(not busy)
            self.qr_button.setEnabled(not busy)
            self._show_enroll_note()
            return
        role = self.tr("网格长") if info.role == "leader" else (
            self.tr("网格指导员") if info.role == "supervisor" else self.tr("网格员"))
        from ui.patrol_common import grid_label

        grids = self.tr("、").join(grid_label(g) for g in info.grids) or self.tr("无")
        self.who.setText(self.tr("使用人：{name}（{role}）　负责网格：{grids}").format(
            name=info.person_name, role=role, grids=grids))
        self.server_fact.setText(breakable(self.tr("指挥中心：{server}").format(
            server=info.server_url)))
        # sync now + last success
        self.sync_button.setEnabled(not sync.running)
        self.sync_button.setText(self.tr("正在同步…") if sync.running else self.tr("立即同步"))
        last = sync.last_success()
        if sync.running:
            text = self.tr("正在和指挥中心同步，请稍候。可以继续做别的事。")
        elif last is None:
            text = self.tr("还没有成功同步过。")
        else:
            text = self.tr("上次成功同步：{when}").format(when=sync_texts.when_text(last))
        # an app too old for the centre needs an update, not a later try: say only that
        if not sync.running and sync.next_run_ms is not None and sync.last_error is not None \
                and not isinstance(sync.last_error, UpgradeRequired):
            minutes = max(1, round(sync.next_run_ms / 60_000))
            text += "\n" + self.tr("约{n}分钟后自动再试。").format(n=minutes)
        self.last_sync.setText(text)
        # clock
        skew = sync.facts.clock_skew()
        if sync.facts.clock_warning() and skew is not None:
            minutes = max(1, round(abs(skew) / 60))
            self.clock_warning.setText(
                (self.tr("本机时间比指挥中心快约{n}分钟，请校准本机时间。") if skew > 0
                 else self.tr("本机时间比指挥中心慢约{n}分钟，请校准本机时间。")).format(n=minutes)
                + self.tr("记录的先后以中心为准，不会出错。"))
            self.clock_warning.setVisible(True)
        else:
            self.clock_warning.setVisible(False)
        # error / offline
        error_text = ""
        if sync.last_error is not None and not sync.running:
            error_text = sync_texts.error_text(sync.last_error)
        elif sync.online is False and not sync.running:
            error_text = self.tr("现在没有网络。记录都保存在本机，有网络时会自动上传。")
        self.error.setText(error_text)
        self.error.setVisible(bool(error_text))
        self.result.setVisible(False)
        report = sync.last_report
        if report is not None and not report.ok and not sync.running and any(
                v == "ok" for v in report.steps.values()):
            # a step failed, others went through: say what did (nothing is lost)
            done = [sync_texts.step_text(k) for k, v in report.steps.items() if v == "ok"]
            undone = [sync_texts.step_text(k) for k, v in report.steps.items() if v != "ok"]
            self.result.setText(self.tr("这次已完成：{done}。没完成的（{undone}）下次同步接着做。")
                                .format(done=self.tr("、").join(done),
                                        undone=self.tr("、").join(undone)))
            self.result.setVisible(True)
        if report is not None and report.ok and not sync.running:
            # what actually went in: not the records the centre said to send later,
            # nor the rows kept aside here (both are shown below)
            sent = sum(n for status, n in report.pushed.items() if status != "retry_later")
            got = max(0, sum(report.pulled.values()) - report.held_new)
            text = self.tr("刚才的同步：上传{sent}条，下载{got}条，照片{photos}张。").format(
                sent=sent, got=got, photos=report.photos_uploaded)
            config = sync_texts.config_text(report.config)  # signed configuration
            self.result.setText(text + ("\n" + config if config else ""))
            self.result.setVisible(True)
        # progress
        self.progress_box.setVisible(sync.running)
        if sync.running:
            self._show_progress(None)
        # pending
        counts = sync.pending_counts()
        waiting = sync.facts.waiting_for_server()
        self.pending_heading.setText(self.tr("等待上传"))
        if counts:
            lines = [
                self.tr("{kind}：{n}（其中{m}条要等指挥中心升级）").format(
                    kind=sync_texts.kind_text(k), n=n, m=waiting[k]) if waiting.get(k)
                else self.tr("{kind}：{n}").format(kind=sync_texts.kind_text(k), n=n)
                for k, n in counts.items()]
            self.pending_list.setText("\n".join(lines))
        else:
            self.pending_list.setText(self.tr("没有等待上传的记录。"))
        left = sync.facts.backlog() if counts else {}
        left_text = sync_texts.left_text(left)
        self.left_fact.setText(left_text)
        self.left_fact.setVisible(bool(left_text))
        self.waiting_hint.setVisible(bool(waiting))
        if waiting:
            self.waiting_hint.setText(self.tr(
                "指挥中心的软件暂时还收不了其中{n}条记录。记录保存在本机，不会丢失，"
                "中心升级以后会自动上传，不用重新填写。").format(n=sum(waiting.values())))
        # set aside
        aside = sync.facts.set_aside()
        self.aside_heading.setVisible(bool(aside))
        self.aside_list.setVisible(bool(aside))
        if aside:
            self.aside_heading.setText(self.tr("被中心拒收的记录（{n}条，已放在一边，不影响其他记录）")
                                       .format(n=len(aside)))
            lines = [self.tr("{kind}：{reason}").format(kind=sync_texts.kind_text(a["kind"]),
                                                   reason=sync_texts.reason_text(a["reason"]))
                     for a in aside[-20:]]
            if len(aside) > 20:
                lines.insert(0, self.tr("（只列出最近20条）"))
            self.aside_list.setText("\n".join(lines))
        self._show_held(sync)
        # conflicts
        self._show_conflicts(sync, info)

    def _show_held(self, sync: SyncController) -> None:
        """Rows from the centre this app could not apply: how many, what, when, why."""
        total = sync.facts.held_count()
        for widget in (self.held_heading, self.held_hint, self.held_list):
            widget.setVisible(bool(total))
        if not total:
            return
        self.held_heading.setText(self.tr("来自指挥中心的{n}条数据暂时无法处理").format(n=total))
        self.held_hint.setText(self.tr(
            "这些数据保存在本机，不会丢失，也不影响其他数据。更新本软件以后会自动再处理；"
            "如果一直这样，请告诉信息管理员。"))
        shown = 10
        lines = ["• " + self.tr("{kind}，{when}收到：{why}。").format(
            kind=sync_texts.pull_kind_text(str(row["kind"])),
            when=sync_texts.when_text(float(row["held_at"])),
            why=sync_texts.held_reason_text(str(row["reason"])))
            for row in sync.facts.held_rows(shown)]
        if total > shown:
            lines.insert(0, self.tr("（只列出最近{n}条）").format(n=shown))
        self.held_list.setText("\n".join(lines))

    def _show_conflicts(self, sync: SyncController, info: Any) -> None:
        conflicts = sync.facts.conflicts()
        leader = sync.facts.can_resolve()
        _clear(self.conflict_box)
        self.conflict_cards = []
        self.conflict_heading.setVisible(bool(conflicts))
        self.conflict_hint.setVisible(bool(conflicts))
        if not conflicts:
            return
        self.conflict_heading.setText(self.tr("同一项被两人改成了不同的值（{n}处）").format(
            n=len(conflicts)))
        self.conflict_hint.setText(
            self.tr("两个值都保存着，不会丢。请选择要保留哪一个。") if leader
            else self.tr("两个值都保存着，不会丢。由网格长决定用哪一个。"))
        me = (info.device_id, info.person_id)
        for conflict in conflicts:
            card = ConflictCard(self, conflict, leader, me)
            self.conflict_cards.append(card)
            self.conflict_box.addWidget(card)

    def _show_progress(self, _step: object) -> None:
        sync = self.controller.sync
        if sync is None or not sync.running:
            return
        self.progress_box.setVisible(True)
        steps = sync.progress_by_phase
        push, photos, pull = steps.get("push"), steps.get("photos"), steps.get("pull")
        if pull is not None:
            self.records_label.setText(self.tr("正在下载中心的新数据：{n}条").format(n=pull.done))
            self.records_bar.setRange(0, 0)  # busy: the total is not known
        elif push is not None and push.total:
            self.records_label.setText(self.tr("上传记录：{done} / {total}").format(
                done=push.done, total=push.total))
            self.records_bar.setRange(0, max(1, push.total))
            self.records_bar.setValue(min(push.done, push.total))
        else:
            self.records_label.setText(self.tr("正在连接指挥中心……"))
            self.records_bar.setRange(0, 0)
        show_photos = photos is not None and bool(photos.total)
        self.photos_label.setVisible(show_photos)
        self.photos_bar.setVisible(show_photos)
        if photos is not None and photos.total:
            self.photos_label.setText(self.tr("上传照片：{done} / {total}").format(
                done=sync_texts.size_text(photos.done), total=sync_texts.size_text(photos.total)))
            scale = max(1, photos.total // 1_000_000 + 1)  # QProgressBar takes int32
            self.photos_bar.setRange(0, photos.total // scale)
            self.photos_bar.setValue(min(photos.done, photos.total) // scale)

    def _retranslate_static(self) -> None:
        self.enroll_heading.setText(self.tr("登记到指挥中心"))
        self.enroll_intro.setText(self.tr(
            "登记以后，本设备的记录会自动上传到指挥中心，新的任务和住户信息会自动下载。"
            "请填写信息管理员给你的服务器地址和注册码，或者选择注册码的二维码图片。"))
        self.server_label.setText(self.tr("服务器地址"))
        self.server_edit.setPlaceholderText(self.tr("例如 https://wgh.example.gov.cn"))
        self.code_label.setText(self.tr("注册码（12位，只能用一次）"))
        busy = self.controller.sync is not None and self.controller.sync.enrolling
        self.enroll_button.setText(self.tr("正在登记…") if busy else self.tr("登记本设备"))
        self.qr_button.setText(self.tr("读取二维码图片"))

    def retranslate(self) -> None:
        self.refresh()
