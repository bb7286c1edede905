"""Lock and unlock 200 times during a working day: what the process keeps.

Runs the real GUI (offscreen unless a display is set) on a real encrypted device with
a patrol running and a day's track recorded (``--fixes``, default 8 hours at 1 Hz: the
walk of bench/patrol_day.py), under the app's allocator (the bench starts itself again
with its start settings, like ``main.py`` without the launcher; freed memory is filled
from the controller's start on, as in the app). Each cycle
locks, unlocks and, every other cycle, locks again before the pages' background loads
are back, every third shows the Patrol page. After each lock it returns to Qt's event
loop until the app says it has freed the locked state (``AppController.memory_released``:
a full garbage collection once the locked pages are deleted and their loads are back,
within ~0.1 s in an app left locked; waits at most 15 s, then goes on and counts it in
``release_waits_missed``). At cycles 20, 50, 100, 150 and 200, before the bench collects
anything itself: RSS, glibc's own account (``mallinfo2``: bytes in use, bytes free but
kept in the heap, bytes in separate mappings; the bench calls no ``malloc_trim``, nor
does the app); then, after ``gc.collect()``: Python objects, widgets, open sessions.
Target (issue 15): RSS grows by <= 1 MB from cycle 20 to 200. Prints one JSON object;
``--cycles``/``--fixes`` shorten it.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["GRIDFIELD_SECRET_STORE"] = "file"

import ctypes
from typing import TYPE_CHECKING

from patrol_day import rss_kib, settle, walk

if TYPE_CHECKING:
    from PySide6.QtWidgets import QApplication

PIN = "246810"
TARGET_KIB = 1024.0
SAMPLES = (20, 50, 100, 150, 200)


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]


def heap_kib() -> dict[str, int]:
    """glibc's malloc, all arenas: in use, free but kept, in separate mappings (KiB)."""
    try:
        mallinfo2 = ctypes.CDLL(None).mallinfo2
    except (OSError, AttributeError):  # not glibc >= 2.33
        return {}
    mallinfo2.restype = _MallInfo2
    info = mallinfo2()
    return {"heap_in_use_kib": info.uordblks // 1024, "heap_free_kib": info.fordblks // 1024,
            "mmapped_kib": info.hblkhd // 1024}


def wait_for_release(app: QApplication, released: list[int], locks: int) -> bool:
    """Back to the event loop until the app has freed the state of its ``locks``-th lock,
    as an app sitting locked does."""
    deadline = time.monotonic() + 15.0
    while len(released) < locks and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.005)
    return len(released) >= locks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=200)
    parser.add_argument("--fixes", type=int, default=8 * 3600, help="the track recorded")
    args = parser.parse_args()
    from fieldclient.security import crypto, hardening

    hardening.restart_with_scrubbing_allocator()  # the allocator the app runs with
    from PySide6.QtWidgets import QApplication

    from fieldclient.fieldwork import patrols
    from fieldclient.storage.session import Session, setup_device, unlock_device
    from ui import i18n, style
    from ui.app import create_app
    from ui.controller import AppController

    crypto.KdfParams.fresh = classmethod(  # type: ignore[method-assign,assignment]
        lambda cls: cls(salt=os.urandom(16), memory_kib=1024, iterations=1, lanes=1))
    app = create_app([sys.argv[0]])
    samples_at = sorted({c for c in SAMPLES if c <= args.cycles} | {args.cycles})
    samples: list[dict[str, int]] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "device"
        session = setup_device(data_dir, PIN)
        patrol = patrols.start_patrol(session, "101")
        fixes, _walked = walk(random.Random(15), session.clock() - 8 * 3600, 31.2479, 121.5874)
        patrols.TrackRecorder(session, patrol.id).add_many(fixes[:args.fixes])
        session.close()
        del fixes[args.fixes:]
        i18n.set_language("zh_CN")
        style.apply_style(app, 1.0)
        controller = AppController(data_dir)
        controller.gps_override = f"nmea-file:{Path(tmp) / 'none.nmea'}"  # no receiver
        released: list[int] = []
        controller.memory_released.connect(lambda: released.append(1))
        missed = 0
        controller.start()
        controller.window.resize(1280, 800)
        controller.window.show()
        for cycle in range(1, args.cycles + 1):
            controller.on_session(unlock_device(data_dir, PIN))
            assert controller.main_view is not None
            if cycle % 3 == 0:
                controller.main_view.show_page("patrol")
            app.processEvents()
            if cycle % 2 == 0:
                settle(app)
            controller.lock("manual")
            settle(app)
            if not wait_for_release(app, released, cycle):
                missed += 1
            if cycle in samples_at:
                memory = {"rss_kib": round(rss_kib()), **heap_kib()}  # as the app left it
                gc.collect()
                objects = gc.get_objects()
                samples.append({
                    "cycle": cycle, **memory,
                    "python_objects": len(objects),
                    "widgets": len(QApplication.allWidgets()),
                    "open_sessions": sum(1 for o in objects
                                         if isinstance(o, Session) and o.is_open),
                })
                del objects
        controller.close_session()
        settle(app)
    first, last = samples[0], samples[-1]
    grown = last["rss_kib"] - first["rss_kib"]
    out = {
        "benchmark": "lock_cycles",
        "cycles": args.cycles,
        "fixes": len(fixes),
        "allocator": "scrubbing" if hardening.freed_memory_scrubbed() else "default",
        "glibc_tunables": os.environ.get("GLIBC_TUNABLES", ""),
        "seconds": round(time.perf_counter() - started, 1),
        "rss_growth_kib": grown,
        "heap_in_use_growth_kib": last.get("heap_in_use_kib", 0)
        - first.get("heap_in_use_kib", 0),
        "release_waits_missed": missed,
        "python_objects_growth": last["python_objects"] - first["python_objects"],
        "widgets_growth": last["widgets"] - first["widgets"],
        "samples": samples,
        "target_rss_growth_kib": TARGET_KIB,
        "ok": grown <= TARGET_KIB and missed == 0,
    }
    print(json.dumps(out))
    return 0 if out["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
