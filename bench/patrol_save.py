"""Saving a finished patrol: 28 results, 5 photos' metadata, 2,000 track points.

Times ``fieldclient.fieldwork.patrols.finish_patrol`` alone (simplifying the track, the
immutable records, the outbox entries, the audit entry, one SQLCipher
transaction) on a real encrypted device. The drafts, photos (through the real
pipeline) and live fixes are made beforehand. Target: median <= 100 ms.
Prints one JSON object.
"""

from __future__ import annotations

import io
import json
import math
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("GRIDFIELD_SECRET_STORE", "file")

from fieldclient.fieldwork import patrols
from fieldclient.geo.geometry import Fix
from fieldclient.photos import pipeline as photos
from fieldclient.security.keystore import FileSecretStore
from fieldclient.storage.session import setup_device

ROUNDS = 9
POINTS = 2_000
PHOTOS = 5
TARGET_MS = 100.0


def walk(rng: random.Random, t0: float) -> list[Fix]:
    """A patrol on foot: 1.2 m/s along streets, turning now and then, 1-2 m GNSS jitter."""
    lat, lon, bearing = 31.2479, 121.5874, 0.0
    fixes = []
    for i in range(POINTS):
        if i % 120 == 0:
            bearing += rng.choice((-90.0, 0.0, 90.0))
        b = math.radians(bearing)
        lat += 1.2 * math.cos(b) / 111_195.0
        lon += 1.2 * math.sin(b) / (111_195.0 * math.cos(math.radians(lat)))
        jitter_lat = rng.gauss(0, 1.0) / 111_195.0
        jitter_lon = rng.gauss(0, 1.0) / 95_000.0
        fixes.append(Fix(t=t0 + i, lat=lat + jitter_lat, lon=lon + jitter_lon, hdop=1.1,
                         accuracy_m=4.0))
    return fixes


def jpeg(rng: random.Random) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
    Image.new("RGB", (1600, 1200), colour).save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def main() -> int:
    rng = random.Random(7)
    timings: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "device"
        session = setup_device(data_dir, "246810", store=FileSecretStore(data_dir))
        try:
            photo_ids = [
                photos.add_photo(session, jpeg(rng), grid_id="101").id for _ in range(PHOTOS)
            ]
            for _ in range(ROUNDS):
                patrol = patrols.start_patrol(session, "101")
                recorder = patrols.TrackRecorder(session, patrol.id)
                recorder.add_many(walk(rng, session.clock() - POINTS))
                for n in range(1, 29):
                    code = f"P{n:02d}"
                    if n in (2, 7, 18, 21, 27):
                        shots = [photo_ids[n % PHOTOS]]
                        patrols.record_item(session, patrol.id, code, "problem",
                                            note="发现问题，已拍照", photos=shots)
                    else:
                        patrols.record_item(session, patrol.id, code, "normal")
                start = time.perf_counter()
                summary = patrols.finish_patrol(session, patrol.id)
                timings.append((time.perf_counter() - start) * 1000)
        finally:
            session.close()
    median = statistics.median(timings)
    print(json.dumps({
        "bench": "patrol_save",
        "rounds": ROUNDS,
        "results": 28,
        "photos": PHOTOS,
        "track_points": POINTS,
        "track_points_kept": summary.track_points,
        "median_ms": round(median, 2),
        "max_ms": round(max(timings), 2),
        "target_ms": TARGET_MS,
        "ok": median <= TARGET_MS,
    }))
    return 0 if median <= TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
