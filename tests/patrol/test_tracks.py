"""Fix filtering, Douglas-Peucker simplification, distance, and encrypted track storage."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from patrol_helpers import nmea_log

from fieldclient.fieldwork import tracks
from fieldclient.geo import geometry as geo
from fieldclient.geo.geometry import (
    Fix,
    FixFilter,
    LocalProjection,
    haversine_m,
    path_length_m,
    simplify,
)
from fieldclient.storage.session import Session

LAT0, LON0 = 31.2479, 121.5874  # Shanghai, where the BeiDou logs were recorded


def walk(
    steps: list[tuple[float, float]], t0: float = 1_700_000_000.0, dt: float = 1.0
) -> list[Fix]:
    """A track from (bearing degrees, metres) steps, one fix per ``dt`` seconds."""
    lat, lon = LAT0, LON0
    fixes = [Fix(t=t0, lat=lat, lon=lon, hdop=1.0)]
    for i, (bearing, metres) in enumerate(steps, start=1):
        b = math.radians(bearing)
        lat += metres * math.cos(b) / 111_195.0
        lon += metres * math.sin(b) / (111_195.0 * math.cos(math.radians(lat)))
        fixes.append(Fix(t=t0 + i * dt, lat=lat, lon=lon, hdop=1.0))
    return fixes


def test_haversine_known_distances() -> None:
    # one degree of latitude ~ 111.2 km; Shanghai to Beijing ~ 1,067 km
    assert haversine_m(0, 0, 1, 0) == pytest.approx(111_195, rel=1e-4)
    assert haversine_m(31.2304, 121.4737, 39.9042, 116.4074) == pytest.approx(1_067_000, rel=0.01)
    assert haversine_m(LAT0, LON0, LAT0, LON0) == 0


def test_filter_drops_poor_fixes_and_jumps() -> None:
    track = walk([(90, 1.2)] * 20)
    bad = list(track)
    bad[5] = Fix(t=bad[5].t, lat=bad[5].lat + 0.05, lon=bad[5].lon, hdop=1.0)  # 5.5 km spike
    bad[8] = Fix(t=bad[8].t, lat=bad[8].lat, lon=bad[8].lon, hdop=9.0)
    bad[10] = Fix(t=bad[10].t, lat=bad[10].lat, lon=bad[10].lon, quality=0)
    bad[12] = Fix(t=bad[12].t, lat=bad[12].lat, lon=bad[12].lon, valid=False)
    bad[14] = Fix(t=bad[14].t, lat=bad[14].lat, lon=bad[14].lon, accuracy_m=120.0)
    bad.insert(16, Fix(t=bad[3].t, lat=bad[15].lat, lon=bad[15].lon))  # time going back
    bad.insert(17, Fix(t=bad[17].t - 0.5, lat=0.0, lon=0.0))  # "null island"
    f = FixFilter()
    kept = f.run(bad)
    assert len(kept) == len(track) - 5
    assert dict(f.rejected) == {
        geo.REJECT_SPEED: 1, geo.REJECT_HDOP: 1, geo.REJECT_NO_FIX: 2, geo.REJECT_ACCURACY: 1,
        geo.REJECT_TIME: 1, geo.REJECT_BAD_COORDINATES: 1,
    }
    assert path_length_m(kept) == pytest.approx(20 * 1.2, rel=0.02)


def test_filter_recovers_when_the_first_fix_was_the_outlier() -> None:
    track = walk([(0, 1.0)] * 10)
    wild = Fix(t=track[0].t - 1, lat=LAT0 + 0.3, lon=LON0)  # 33 km away, a second earlier
    kept = FixFilter().run([wild, *track])
    assert len(kept) >= len(track) - 2
    assert kept[-1] == track[-1]


steps_strategy = st.lists(
    st.tuples(st.floats(0, 360), st.floats(0, 40)), min_size=1, max_size=250
)


@settings(max_examples=150, deadline=None)
@given(steps_strategy, st.floats(0.5, 25))
def test_simplified_track_stays_within_tolerance(
    steps: list[tuple[float, float]], tolerance: float
) -> None:
    original = walk(steps)
    simple = simplify(original, tolerance)
    assert simple[0] is original[0] and simple[-1] is original[-1]
    assert len(simple) <= len(original)
    proj = LocalProjection.around(original)
    index = {id(p): i for i, p in enumerate(original)}
    kept = [index[id(p)] for p in simple]
    assert kept == sorted(kept)  # a subsequence, in order
    for a, b in itertools.pairwise(kept):
        pa = proj.xy(original[a].lat, original[a].lon)
        pb = proj.xy(original[b].lat, original[b].lon)
        for i in range(a + 1, b):
            p = proj.xy(original[i].lat, original[i].lon)
            assert geo.point_segment_distance(p, pa, pb) <= tolerance + 1e-6
    # never longer than the original (triangle inequality)
    assert path_length_m(simple) <= path_length_m(original) + 1e-6


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.floats(-150, 150), st.floats(50, 400)), min_size=1, max_size=12),
    st.floats(0.5, 5),
)
def test_simplified_distance_is_close_on_a_real_walk(
    legs: list[tuple[float, float]], tolerance: float
) -> None:
    """Street legs of 50 m or more walked at 1.2 m/s (turning, never straight back, as
    a patrol does): the simplified distance is within 2 % of the original."""
    steps = []
    bearing = 0.0
    for turn, length in legs:
        bearing += turn
        n = int(length / 1.2)
        steps += [(bearing, 1.2)] * n
    original = walk(steps)
    simple = simplify(original, tolerance)
    assert len(simple) < len(original) / 5
    assert path_length_m(simple) == pytest.approx(path_length_m(original), rel=0.02)


def test_simplify_is_iterative_for_long_tracks() -> None:
    zigzag = walk([(0 if i % 2 else 90, 30.0) for i in range(3_000)])
    assert len(simplify(zigzag, 1.0)) == len(zigzag)  # every corner matters, no recursion error


def test_process_real_log_and_store_encrypted(session: Session, tmp_path: Path) -> None:
    data = tracks.read_track_file(nmea_log("beidou-bd.log"))
    assert data.source == "nmea" and len(data.segments[0]) == 5
    processed = tracks.process(data.segments, tolerance_m=0.5)
    assert processed.points_read == 5 and processed.points_kept >= 2
    with session.db.conn:
        info = tracks.store_track(session, processed, "nmea", grid_id="101")
    assert tracks.get_track(session, info.track_id) == tracks.TrackInfo(
        info.track_id, None, "101", "nmea", 5, processed.points_kept, info.distance_m,
        processed.started_at, processed.ended_at,
    )
    (points,) = tracks.load_track_points(session, info.track_id)
    assert [round(p.lat, 6) for p in points] == [
        round(p.lat, 6) for p in processed.segments[0]
    ]
    ops = session.db.execute(
        "SELECT kind, record_id, payload FROM outbox WHERE kind = 'track.segment'"
    ).fetchall()
    assert len(ops) == 1 and ops[0][1] == info.segment_ids[0]
    payload = json.loads(ops[0][2])
    assert payload["grid_id"] == "101" and len(payload["points"]) == processed.points_kept
    # encrypted at rest: no coordinate text in the database file
    session.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw = session.paths.database.read_bytes()
    assert b"31.24" not in raw and b"121.58" not in raw and b"track.segment" not in raw


def test_long_tracks_are_split_into_chunks_that_join_up(session: Session) -> None:
    original = walk([(0 if i % 2 else 90, 5.0) for i in range(2_600)])
    processed = tracks.process([original], tolerance_m=0.1)
    assert processed.points_kept > 2 * tracks.SEGMENT_POINTS
    with session.db.conn:
        info = tracks.store_track(session, processed, "live")
    assert len(info.segment_ids) == 3
    (points,) = tracks.load_track_points(session, info.track_id)
    assert len(points) == processed.points_kept
    assert path_length_m(points) == pytest.approx(info.distance_m, rel=1e-6)


def test_stored_tracks_cannot_be_changed(session: Session) -> None:
    import sqlcipher3

    processed = tracks.process([walk([(0, 10.0)] * 10)])
    with session.db.conn:
        info = tracks.store_track(session, processed, "gpx")
    for sql in ("UPDATE tracks SET distance_m = 0", "DELETE FROM track_segments",
                "DELETE FROM tracks"):
        with pytest.raises(sqlcipher3.IntegrityError), session.db.conn:
            session.db.execute(sql)
    assert tracks.get_track(session, info.track_id) is not None


def test_import_nmea_log_as_a_track(session: Session) -> None:
    result = tracks.import_track(session, nmea_log("beidou-gb.log"), grid_id="7")
    assert result.track.source == "nmea" and result.track.points_kept == 2
    assert result.lines_skipped == 9  # the header comments
    assert result.as_json()["started_at"] == "2015-03-02T05:32:32Z"


def test_import_refuses_files_without_usable_fixes(session: Session, tmp_path: Path) -> None:
    empty = tmp_path / "nofix.nmea"
    empty.write_text("$GNGGA,074150.799,,,,,0,00,,,M,0.0,M,,0000,*64\n", "ascii")
    with pytest.raises(tracks.TrackEmpty):
        tracks.import_track(session, empty)
    unknown = tmp_path / "photo.jpg"
    unknown.write_bytes(b"\xff\xd8\xff\xe0 not a track")
    with pytest.raises(tracks.TrackFormatUnknown):
        tracks.import_track(session, unknown)
    with pytest.raises(tracks.TrackFileUnreadable):
        tracks.import_track(session, tmp_path / "missing.gpx")
    assert session.db.execute("SELECT count(*) FROM tracks").fetchone()[0] == 0
