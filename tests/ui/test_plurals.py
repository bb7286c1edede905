"""English counts agree with their number (Qt's %n forms): "1 household found", not
"1 households found"; Chinese shows the number alone."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication
from pytestqt.qtbot import QtBot
from uihelpers import PIN

from fieldclient.fieldwork.households import create_household
from fieldclient.storage.session import unlock_device
from ui.controller import AppController
from ui.pages.households import HouseholdsPage


@pytest.mark.parametrize(("count", "english", "chinese"), [
    (1, "1 household found", "找到1户"), (2, "2 households found", "找到2户")])
def test_households_found(
    make_controller: Callable[..., AppController], device: Path, qtbot: QtBot,
    count: int, english: str, chinese: str,
) -> None:
    controller = make_controller("en")
    session = unlock_device(device, PIN)
    for i in range(count):
        create_household(session, f"Wang {i}", f"Lane {i}")
    controller.on_session(session)
    view = controller.main_view
    assert view is not None
    view.show_page("households")
    page = view.pages["households"]
    assert isinstance(page, HouseholdsPage)
    page.run_search()
    qtbot.waitUntil(lambda: page.status.text() == english, timeout=10_000)
    from ui import i18n

    i18n.set_language("zh_CN")
    assert QCoreApplication.translate("HouseholdsPage", "找到%n户", "", count) == chinese


def test_patrol_days_and_problems_in_english(make_controller: Callable[..., AppController],
                                            device: Path) -> None:
    make_controller("en")
    one = QCoreApplication.translate("TodayPage", "本月已有%n天巡查（本月第{so_far}天）", "", 1)
    assert one.format(so_far=3) == "Patrols on 1 day this month (day 3 of the month)"
    many = QCoreApplication.translate("WorkerDialog", "；检查{done}/{total}项，发现问题%n项", "", 1)
    assert many.format(done=28, total=28).endswith("1 problem found")


def test_a_chinese_word_is_not_broken_across_lines(qapp: object) -> None:
    """女婿 on an English screen stays one word: Qt would break between its characters."""
    from PySide6.QtGui import QFont, QTextLayout

    from ui.widgets.basic import keep_together

    def lines(text: str, width: float) -> list[str]:
        layout = QTextLayout(text, QFont())
        layout.beginLayout()
        found = []
        while True:
            line = layout.createLine()
            if not line.isValid():
                break
            line.setLineWidth(width)
            found.append(text[line.textStart():line.textStart() + line.textLength()])
        layout.endLayout()
        return [s.replace("\u2060", "").strip() for s in found]

    from PySide6.QtGui import QFontMetricsF

    width = QFontMetricsF(QFont()).horizontalAdvance("Li Jianguo · 女") + 1
    assert lines("Li Jianguo · 女婿", width)[-1] == "婿"  # what Qt does on its own
    assert lines(keep_together("Li Jianguo · 女婿"), width)[-1] == "女婿"
