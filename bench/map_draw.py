"""The map widget drawing a 10,000-point track over a 3×3 tile view.

A 768×768 ``MapView`` (3×3 tiles of 256 px; parts of up to 4×4 as the centre falls)
over an MBTiles archive built here (tests/map_fixtures.py),
its tiles already decoded in the cache, a random-walk track of 10,000 fixes and 50
visit points. Timed: ``paint_ms``, one repaint into an offscreen image (tiles, the
track layer image moved with the map, markers, scale bar), median of 30: what a pan
costs; ``first_paint_at_new_zoom_ms``, the first repaint after a zoom change (the track's
screen polyline and its layer image are made again then; also after a pan of more than
half the view); and ``paint_no_map_ms`` (plain grid). Prints one JSON object.

  QT_QPA_PLATFORM=offscreen .venv/bin/python bench/map_draw.py
"""

from __future__ import annotations

import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from map_fixtures import CENTER, tiles_around, write_mbtiles  # noqa: E402
from PySide6.QtCore import QThreadPool  # noqa: E402
from PySide6.QtGui import QImage  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from fieldclient.geo.archive import open_archive  # noqa: E402
from fieldclient.geo.geometry import Fix  # noqa: E402
from ui.widgets.map_view import MapMarker, MapView  # noqa: E402

POINTS = 10_000
SIDE = 768  # 3 tiles


def walk(count: int) -> list[Fix]:
    rng = random.Random(7)
    lat, lon = CENTER
    fixes = []
    for i in range(count):  # about 1.5 m per second, wandering in a few hundred metres
        lat += rng.uniform(-1.4e-5, 1.4e-5) - (lat - CENTER[0]) * 0.002
        lon += rng.uniform(-1.6e-5, 1.6e-5) - (lon - CENTER[1]) * 0.002
        fixes.append(Fix(float(i), lat, lon))
    return fixes


def paint_ms(view: MapView) -> float:
    image = QImage(view.size(), QImage.Format.Format_ARGB32_Premultiplied)
    start = time.perf_counter()
    view.render(image)
    return (time.perf_counter() - start) * 1000


def warm(app: QApplication, view: MapView) -> None:
    for _ in range(30):
        paint_ms(view)
        QThreadPool.globalInstance().waitForDone(5000)
        app.processEvents()
        if not view._loading and not view._wanted:
            return


def main() -> int:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    with tempfile.TemporaryDirectory() as tmp:
        path = write_mbtiles(Path(tmp) / "bench.mbtiles",
                             tiles_around(*CENTER, zooms=(16, 17), radius=3))
        archive = open_archive(path)
        track = walk(POINTS)
        results: dict[str, object] = {"track_points": POINTS, "view_px": [SIDE, SIDE]}
        for key, source in (("paint_ms", archive), ("paint_no_map_ms", None)):
            view = MapView(source)
            view.resize(SIDE, SIDE)
            view.set_track(track)
            view.set_points([MapMarker(f.lat, f.lon, f"{i:02d}:00", key=str(i))
                             for i, f in enumerate(track[::200])])
            view.center_on(*CENTER, zoom=17)
            warm(app, view)
            times = [paint_ms(view) for _ in range(30)]
            results[key] = round(statistics.median(times), 2)
            if source is not None:
                level = view._tile_level()
                results["tiles_drawn"] = sum(1 for k in view.tiles if k[0] == level)
                results["track_points_drawn_at_zoom_17"] = sum(
                    p.size() for p in view.tracks.polylines(view.view_scale(17)))
                firsts = []
                for zoom in (16, 17, 16, 17):
                    view.tracks.changed()
                    view.zoom_at(zoom)
                    warm(app, view)
                    view.tracks.changed()
                    view._overlay_cache = None
                    firsts.append(paint_ms(view))
                results["first_paint_at_new_zoom_ms"] = round(statistics.median(firsts), 2)
        archive.close()
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
