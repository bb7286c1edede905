"""The Review page's charts (QtCharts) and words: a bar per worker for one measure,
the six months' line, month and grid names. Used by the page and its PDF report.

QtCharts is imported inside the functions: loading it costs start-up time, and the
navigation imports every page module at unlock.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QCoreApplication, QMargins, Qt
from PySide6.QtGui import QColor, QFont

from fieldclient.devicetime import device_zone
from fieldclient.i18n import QT_TRANSLATE_NOOP
from ui.style import metrics

if TYPE_CHECKING:
    from PySide6.QtCharts import QChart

CHART_WORKERS = 15  # bars per chart: the worst ones (the table has everyone)
MEASURE_NAMES = {
    "score": QT_TRANSLATE_NOOP("ReviewPage", "得分"),
    "patrol_days": QT_TRANSLATE_NOOP("ReviewPage", "巡查天数"),
    "visits": QT_TRANSLATE_NOOP("ReviewPage", "走访次数"),
    "overdue_households": QT_TRANSLATE_NOOP("ReviewPage", "逾期户数"),
    "events_reported": QT_TRANSLATE_NOOP("ReviewPage", "上报事件"),
    "events_closed": QT_TRANSLATE_NOOP("ReviewPage", "办结事件"),
    "flags": QT_TRANSLATE_NOOP("ReviewPage", "疑点"),
}
CATEGORY_NAMES = {
    "hardship": QT_TRANSLATE_NOOP("ReviewPage", "困难家庭"),
    "key": QT_TRANSLATE_NOOP("ReviewPage", "重点人员"),
    "ordinary": QT_TRANSLATE_NOOP("ReviewPage", "一般家庭"),
}

def translated(text: str) -> str:
    return QCoreApplication.translate("ReviewPage", text)


def measure_value(worker: dict[str, Any], measure: str) -> float:
    value = worker.get(measure, 0)
    return float(len(value)) if isinstance(value, list) else float(value or 0)


def month_text(month: str) -> str:
    year, number = month.split("-")
    return QCoreApplication.translate("ReviewPage", "{year}年{month}月").format(
        year=year, month=int(number))


def grid_text(grid: str | None) -> str:
    if grid is None:
        return QCoreApplication.translate("ReviewPage", "全部网格")
    from ui.patrol_common import grid_name

    return grid_name(grid) or QCoreApplication.translate("ReviewPage", "网格 {grid}").format(
        grid=grid)


def sync_text(value: str | None) -> str:
    if not value:
        return QCoreApplication.translate("ReviewPage", "从未同步")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    return moment.astimezone(device_zone()).strftime("%m-%d %H:%M")


def flag_count_text(count: int) -> str:
    return QCoreApplication.translate("ReviewPage", "{n}条").format(n=count)


def chart_font(scale: float, small: bool = False) -> QFont:
    font = QFont()
    m = metrics(scale)
    font.setPixelSize(m["small"] if small else m["base"])
    return font


def bar_chart(workers: list[dict[str, Any]], measure: str, scale: float = 1.0,
              title: str = "") -> QChart:
    """Bars of ``measure`` per worker (the first :data:`CHART_WORKERS`), worst first."""
    from PySide6.QtCharts import QBarCategoryAxis, QBarSeries, QBarSet, QChart, QValueAxis

    shown = workers[:CHART_WORKERS]
    chart = QChart()
    chart.setTitle(title)
    chart.setTitleFont(chart_font(scale))
    chart.legend().setVisible(False)
    chart.setMargins(QMargins(4, 4, 4, 4))
    chart.setBackgroundRoundness(0)
    bars = QBarSet(MEASURE_NAMES.get(measure, measure))
    bars.setColor(QColor("#003d99"))
    for w in shown:
        bars.append(measure_value(w, measure))
    series = QBarSeries()
    series.append(bars)
    series.setLabelsVisible(True)
    series.setLabelsPosition(QBarSeries.LabelsPosition.LabelsOutsideEnd)
    chart.addSeries(series)
    names = QBarCategoryAxis()
    names.append([w["name"] or w["person_id"] for w in shown] or [" "])
    names.setLabelsFont(chart_font(scale, small=True))
    chart.addAxis(names, Qt.AlignmentFlag.AlignBottom)
    series.attachAxis(names)
    values = QValueAxis()
    top = max([measure_value(w, measure) for w in shown] + [1.0])
    whole_ticks(values, 100 if measure == "score" else top)
    values.setLabelsFont(chart_font(scale, small=True))
    chart.addAxis(values, Qt.AlignmentFlag.AlignLeft)
    series.attachAxis(values)
    return chart


def trend_values(months: list[dict[str, Any]], measure: str, person: str | None
                 ) -> list[float]:
    """Per month: the person's value, or the whole selection's (score: the average;
    counts: the sum)."""
    out = []
    for figures in months:
        workers = figures["workers"]
        if person is not None:
            found = [w for w in workers if w["person_id"] == person]
            out.append(measure_value(found[0], measure) if found else 0.0)
        elif measure == "score":
            out.append(round(sum(w["score"] for w in workers) / len(workers), 1)
                       if workers else 0.0)
        else:
            out.append(sum(measure_value(w, measure) for w in workers))
    return out


def trend_chart(months: list[dict[str, Any]], measure: str, person: str | None,
                scale: float = 1.0, title: str = "") -> QChart:
    """The six months' line of ``measure`` (:func:`trend_values`)."""
    from PySide6.QtCharts import QBarCategoryAxis, QChart, QLineSeries, QValueAxis

    chart = QChart()
    chart.setTitle(title)
    chart.setTitleFont(chart_font(scale))
    chart.legend().setVisible(False)
    chart.setMargins(QMargins(4, 4, 4, 4))
    chart.setBackgroundRoundness(0)
    values = trend_values(months, measure, person)
    line = QLineSeries()
    line.setPointsVisible(True)
    line.setPointLabelsVisible(True)
    line.setPointLabelsFormat("@yPoint")
    line.setPointLabelsFont(chart_font(scale, small=True))
    pen = line.pen()
    pen.setWidth(4)
    pen.setColor(QColor("#003d99"))
    line.setPen(pen)
    for i, value in enumerate(values):
        line.append(i, value)
    chart.addSeries(line)
    axis = QBarCategoryAxis()
    axis.append([month_text(m["month"]) for m in months] or [" "])
    axis.setLabelsFont(chart_font(scale, small=True))
    chart.addAxis(axis, Qt.AlignmentFlag.AlignBottom)
    line.attachAxis(axis)
    y = QValueAxis()
    whole_ticks(y, 100 if measure == "score" and person is not None
                else max([1.0, *values]))
    y.setLabelsFont(chart_font(scale, small=True))
    chart.addAxis(y, Qt.AlignmentFlag.AlignLeft)
    line.attachAxis(y)
    return chart


def whole_ticks(axis: Any, top: float) -> None:
    """0 to a little above ``top`` with ticks on whole numbers (1, 2, 5, 10, 20, …
    apart, at most 8): counts labelled "%d" on fractional ticks read 0, 0, 1, 2, 3."""
    import math

    top = max(1.0, float(top))
    step = next(base * 10 ** power for power in range(12) for base in (1, 2, 5)
                if top / (base * 10 ** power) <= 7)
    high = step * math.ceil(top / step)
    if high == top and top != 100:
        high += step  # a little room above the tallest bar
    axis.setRange(0, high)
    axis.setTickCount(int(high // step) + 1)
    axis.setLabelFormat("%d")
