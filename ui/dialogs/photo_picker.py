"""Pick a photo by touch: big thumbnails of the pictures folder and the removable
drives (U盘, 存储卡), in the app's language and text size.

Qt's desktop file dialog has 30 px rows, English bits and opens in the program
folder; a grid worker with gloves needs a tap on a picture. Folders are tiles too
(tap to open, 上一级 to go back); a tap on a picture picks it. Thumbnails are read
off the UI thread (:func:`ui.tasks.run_task`, ``QImageReader`` scaled while
decoding), a few at a time, so a card full of 12-megapixel photos never freezes
the screen.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QSize, QStandardPaths, Qt
from PySide6.QtGui import QIcon, QImage, QImageReader, QPixmap
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QHBoxLayout,
    QListView,
    QListWidget,
    QListWidgetItem,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from ui.tasks import run_task
from ui.widgets.basic import Retranslatable, button, label

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".heic", ".heif"})
THUMB_PX = 160
BATCH = 12  # thumbnails decoded per background task
MAX_ENTRIES = 2000  # a folder of more is shown in part (newest first)
PATH_ROLE = Qt.ItemDataRole.UserRole
KIND_ROLE = Qt.ItemDataRole.UserRole + 1


@dataclass(frozen=True)
class Source:
    """A place photos come from: ``kind`` is "pictures" or "drive"."""

    kind: str
    name: str
    path: Path


def _mounted_drives(bases: Iterable[Path]) -> list[Source]:
    found: list[Source] = []
    for base in bases:
        try:
            children = sorted(p for p in base.iterdir() if p.is_dir())
        except OSError:
            continue
        for child in children:
            try:
                if os.access(child, os.R_OK | os.X_OK) and any(True for _ in child.iterdir()):
                    found.append(Source("drive", child.name, child))
            except OSError:
                continue
    return found


def photo_sources() -> list[Source]:
    """The pictures folder, then each mounted removable drive (Linux automounts
    them under /media/<user> or /run/media/<user>). ``GRIDFIELD_PHOTO_DIRS``
    (separated by ``os.pathsep``) replaces the list, for kiosks and tests."""
    override = os.environ.get("GRIDFIELD_PHOTO_DIRS")
    if override:
        paths = [Path(p) for p in override.split(os.pathsep) if p]
        return [Source("pictures" if i == 0 else "drive", p.name or str(p), p)
                for i, p in enumerate(paths) if p.is_dir()]
    sources: list[Source] = []
    pictures = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.PicturesLocation)
    if pictures and Path(pictures).is_dir():
        sources.append(Source("pictures", "", Path(pictures)))
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = ""
    bases = [Path("/media") / user, Path("/run/media") / user] if user else []
    sources.extend(_mounted_drives(bases))
    if not sources:
        home = Path.home()
        if home.is_dir():
            sources.append(Source("pictures", "", home))
    return sources


def list_folder(folder: Path) -> tuple[list[Path], list[Path]]:
    """Sub-folders (by name) and pictures (newest first) of ``folder``; hidden ones
    left out. An unreadable folder is empty."""
    folders: list[Path] = []
    pictures: list[tuple[float, Path]] = []
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                try:
                    if entry.is_dir():
                        folders.append(Path(entry.path))
                    elif entry.is_file() and Path(entry.name).suffix.lower() in IMAGE_SUFFIXES:
                        pictures.append((entry.stat().st_mtime, Path(entry.path)))
                except OSError:
                    continue
    except OSError:
        return [], []
    folders.sort(key=lambda p: p.name.lower())
    pictures.sort(key=lambda item: (-item[0], item[1].name))
    return folders[:MAX_ENTRIES], [p for _, p in pictures[:MAX_ENTRIES]]


def load_thumbnail(path: Path, edge: int = THUMB_PX) -> QImage:
    """A picture scaled while decoding (safe off the UI thread: QImage, not QPixmap);
    a null image when it cannot be read."""
    reader = QImageReader(str(path))
    reader.setAutoTransform(True)
    size = reader.size()
    if size.isValid() and size.width() > 0 and size.height() > 0:
        reader.setScaledSize(size.scaled(edge, edge, Qt.AspectRatioMode.KeepAspectRatio))
    return reader.read()


class TouchPhotoPicker(Retranslatable, QDialog):
    """Big thumbnails; a tap on a picture calls ``on_picked(path)`` and closes."""

    def __init__(self, on_picked: Callable[[Path], None],
                 sources: list[Source] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent or QApplication.activeWindow())
        self.setObjectName("photoPicker")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.on_picked = on_picked
        self.sources = photo_sources() if sources is None else sources
        self.root: Path | None = None
        self.folder: Path | None = None
        self.generation = 0  # thumbnails of a folder left behind are dropped
        self.items: dict[str, QListWidgetItem] = {}
        self.closed = False
        self.finished.connect(lambda _r: setattr(self, "closed", True))

        self.heading = label("prompt")
        self.source_row = QHBoxLayout()
        self.source_row.setSpacing(12)
        self.source_buttons: list[tuple[Source, object]] = []
        for source in self.sources:
            btn = button("choice", f"photoSource_{len(self.source_buttons)}")
            btn.setCheckable(True)
            btn.setAutoExclusive(True)
            btn.clicked.connect(lambda _=False, s=source: self.open_source(s))
            self.source_row.addWidget(btn)
            self.source_buttons.append((source, btn))
        self.source_row.addStretch(1)
        self.up_button = button("", "photoUpButton")
        self.up_button.clicked.connect(self.go_up)
        self.where = label("muted")
        self.where.setTextFormat(Qt.TextFormat.PlainText)
        self.grid = QListWidget()
        self.grid.setObjectName("photoGrid")
        self.grid.setViewMode(QListView.ViewMode.IconMode)
        self.grid.setMovement(QListView.Movement.Static)
        self.grid.setResizeMode(QListView.ResizeMode.Adjust)
        self.grid.setUniformItemSizes(True)
        self.grid.setWordWrap(True)
        self.grid.setSpacing(12)
        self.grid.setIconSize(QSize(THUMB_PX, THUMB_PX))
        self.grid.setVerticalScrollMode(QListView.ScrollMode.ScrollPerPixel)
        self.grid.itemClicked.connect(self._tapped)
        self.empty = label("empty")
        self.empty.setVisible(False)
        self.refresh_button = button("", "photoRefreshButton")
        self.refresh_button.clicked.connect(self.refresh)
        self.cancel_button = button("", "cancelButton")
        self.cancel_button.clicked.connect(self.reject)

        nav = QHBoxLayout()
        nav.addWidget(self.up_button)
        nav.addWidget(self.where, 1)
        bottom = QHBoxLayout()
        bottom.addWidget(self.refresh_button)
        bottom.addStretch(1)
        bottom.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 16, 20, 16)
        layout.setSpacing(12)
        layout.addWidget(self.heading)
        layout.addLayout(self.source_row)
        layout.addLayout(nav)
        layout.addWidget(self.grid, 1)
        layout.addWidget(self.empty)
        layout.addLayout(bottom)
        self.retranslate()
        owner = self.parentWidget()
        window = owner.window() if owner is not None else None
        self.resize(max(720, (window.width() if window else 1280) - 40),
                    max(520, (window.height() if window else 800) - 40))
        if self.sources:
            first_button = self.source_buttons[0][1]
            first_button.setChecked(True)  # type: ignore[attr-defined]
            self.open_source(self.sources[0])
        else:
            self._show_folder(None)

    def source_text(self, source: Source) -> str:
        if source.kind == "pictures":
            return self.tr("图片文件夹")
        return self.tr("U盘/存储卡：{name}").format(name=source.name)

    def retranslate(self) -> None:
        self.setWindowTitle(self.tr("选择照片"))
        self.heading.setText(self.tr("点一下要用的照片"))
        for source, btn in self.source_buttons:
            btn.setText(self.source_text(source))  # type: ignore[attr-defined]
        self.up_button.setText(self.tr("上一级"))
        self.refresh_button.setText(self.tr("刷新"))
        self.cancel_button.setText(self.tr("取消"))
        self._retranslate_state()

    def _retranslate_state(self) -> None:
        if not self.sources:
            self.empty.setText(self.tr(
                "没有找到图片文件夹或U盘。插入存储卡或U盘后点“刷新”。"))
        else:
            self.empty.setText(self.tr(
                "这个文件夹里没有照片。可以点上面的其他位置，或插入存储卡后点“刷新”。"))
        if self.folder is not None and self.root is not None:
            inside = self.folder.relative_to(self.root)
            where = self.current_source_text()
            if str(inside) != ".":
                where += " / " + " / ".join(inside.parts)
            self.where.setText(where)

    def current_source_text(self) -> str:
        for source in self.sources:
            if source.path == self.root:
                return self.source_text(source)
        return ""

    # -- navigation ---------------------------------------------------------------
    def open_source(self, source: Source) -> None:
        self.root = source.path
        self._show_folder(source.path)

    def go_up(self) -> None:
        if self.folder is None or self.root is None or self.folder == self.root:
            return
        self._show_folder(self.folder.parent)

    def refresh(self) -> None:
        """Look again: a drive plugged in meanwhile appears."""
        fresh = photo_sources()
        if [s.path for s in fresh] != [s.path for s in self.sources]:
            picked, parent = self.on_picked, self.parentWidget()
            self.reject()
            TouchPhotoPicker(picked, fresh, parent).open()
            return
        self._show_folder(self.folder)

    def _show_folder(self, folder: Path | None) -> None:
        self.generation += 1
        self.folder = folder
        self.grid.clear()
        self.items = {}
        folders, pictures = list_folder(folder) if folder is not None else ([], [])
        folder_icon = self.style().standardIcon(QStyle.StandardPixmap.SP_DirIcon)
        blank = QPixmap(THUMB_PX, THUMB_PX)
        blank.fill(Qt.GlobalColor.lightGray)
        for sub in folders:
            item = QListWidgetItem(folder_icon, sub.name)
            item.setData(PATH_ROLE, str(sub))
            item.setData(KIND_ROLE, "folder")
            self.grid.addItem(item)
        for picture in pictures:
            item = QListWidgetItem(QIcon(blank), picture.name)
            item.setData(PATH_ROLE, str(picture))
            item.setData(KIND_ROLE, "picture")
            self.grid.addItem(item)
            self.items[str(picture)] = item
        self.up_button.setEnabled(folder is not None and folder != self.root)
        self.empty.setVisible(not folders and not pictures)
        self._retranslate_state()
        self._load_thumbnails(pictures, self.generation)

    def _load_thumbnails(self, pictures: list[Path], generation: int) -> None:
        if not pictures:
            return
        batch, rest = pictures[:BATCH], pictures[BATCH:]

        def work() -> list[tuple[str, QImage]]:
            return [(str(p), load_thumbnail(p)) for p in batch]

        def done(images: list[tuple[str, QImage]]) -> None:
            if generation != self.generation or self.closed:
                return
            for path, image in images:
                item = self.items.get(path)
                if item is not None and not image.isNull():
                    item.setIcon(QIcon(QPixmap.fromImage(image)))
            self._load_thumbnails(rest, generation)

        run_task(work, done, lambda _exc: None)

    def _tapped(self, item: QListWidgetItem) -> None:
        path = Path(str(item.data(PATH_ROLE)))
        if item.data(KIND_ROLE) == "folder":
            self._show_folder(path)
            return
        self.accept()
        self.on_picked(path)


def pick_photo(parent: QWidget, on_picked: Callable[[Path], None]) -> TouchPhotoPicker:
    """Open the picker (``open()``: the caller's screen keeps running)."""
    dialog = TouchPhotoPicker(on_picked, parent=parent)
    dialog.open()
    return dialog
