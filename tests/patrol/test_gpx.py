"""GPX import: tracks from GPS loggers, with entity declarations refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from patrol_helpers import nmea_log

from fieldclient.fieldwork import tracks
from fieldclient.fieldwork.tracks import iso_utc
from fieldclient.geo.geometry import Fix
from fieldclient.geo.gpx import GpxInvalid, GpxUnsafe, parse_gpx
from fieldclient.geo.nmea import read_fixes
from fieldclient.storage.session import Session


def gpx_document(segments: list[list[Fix]], ns: str = "http://www.topografix.com/GPX/1/1") -> bytes:
    body = []
    for segment in segments:
        points = "".join(
            f'<trkpt lat="{f.lat:.7f}" lon="{f.lon:.7f}"><ele>{f.alt or 0}</ele>'
            f"<time>{iso_utc(f.t)}</time><hdop>{f.hdop or 1}</hdop><sat>7</sat>"
            "<extensions><speed>0.2</speed></extensions></trkpt>\n"
            for f in segment
        )
        body.append(f"<trkseg>{points}</trkseg>")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<gpx version="1.1" creator="logger" xmlns="{ns}"><metadata><name>巡查</name></metadata>'
        f"<wpt lat=\"1\" lon=\"1\"><time>2015-01-01T00:00:00Z</time></wpt>"
        f"<trk><name>轨迹</name>{''.join(body)}</trk></gpx>"
    ).encode()


def test_gpx_from_the_real_beidou_fixes_round_trips(tmp_path: Path) -> None:
    fixes = list(read_fixes(nmea_log("beidou-bd.log")))
    data = parse_gpx(gpx_document([fixes[:3], fixes[3:]]))
    assert [len(s) for s in data.segments] == [3, 2]
    assert data.points_read == 5 and data.points_skipped == 0
    for got, want in zip(data.fixes, fixes, strict=True):
        assert got.lat == pytest.approx(want.lat, abs=1e-7)
        assert got.lon == pytest.approx(want.lon, abs=1e-7)
        assert got.t == pytest.approx(round(want.t))  # whole seconds in this document
        assert got.satellites == 7 and got.valid


def test_gpx_1_0_and_no_namespace_and_naive_times() -> None:
    doc = (
        b'<gpx version="1.0" xmlns="http://www.topografix.com/GPX/1/0"><trk><trkseg>'
        b'<trkpt lat="31.2479" lon="121.5874"><time>2024-05-01T08:00:00</time><fix>3d</fix>'
        b"<speed>1.5</speed></trkpt>"
        b'<trkpt lat="31.2480" lon="121.5874"><time>2024-05-01T16:00:01+08:00</time>'
        b"<fix>none</fix></trkpt>"
        b"</trkseg></trk></gpx>"
    )
    data = parse_gpx(doc)
    first, second = data.fixes
    assert iso_utc(first.t) == "2024-05-01T08:00:00Z" and first.speed_mps == 1.5
    assert iso_utc(second.t) == "2024-05-01T08:00:01Z" and not second.valid
    bare = doc.replace(b' xmlns="http://www.topografix.com/GPX/1/0"', b"")
    assert len(parse_gpx(bare).fixes) == 2


def test_bad_points_are_skipped_not_fatal() -> None:
    doc = (
        b"<gpx><trk><trkseg>"
        b'<trkpt lat="91" lon="0"><time>2024-05-01T08:00:00Z</time></trkpt>'
        b'<trkpt lat="abc" lon="0"><time>2024-05-01T08:00:00Z</time></trkpt>'
        b'<trkpt lat="31" lon="121"></trkpt>'
        b'<trkpt lat="31" lon="121"><time>yesterday</time></trkpt>'
        b'<trkpt lat="31" lon="121"><time>2024-05-01T08:00:00Z</time><ele>x</ele></trkpt>'
        b"</trkseg></trk></gpx>"
    )
    data = parse_gpx(doc)
    assert data.points_read == 5 and data.points_skipped == 4
    assert data.fixes[0].alt is None


XXE = b"""<?xml version="1.0"?>
<!DOCTYPE gpx [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<gpx><trk><trkseg><trkpt lat="1" lon="1"><time>&xxe;</time></trkpt></trkseg></trk></gpx>"""

LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<gpx><metadata><name>&lol3;</name></metadata></gpx>"""

EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE gpx SYSTEM "http://example.invalid/gpx.dtd"><gpx/>"""

PARAMETER = b"""<?xml version="1.0"?>
<!DOCTYPE gpx [<!ENTITY % remote SYSTEM "http://example.invalid/x.dtd"> %remote;]><gpx/>"""


@pytest.mark.parametrize("document", [XXE, LAUGHS, EXTERNAL_DTD, PARAMETER])
def test_entities_and_doctypes_are_refused(document: bytes) -> None:
    with pytest.raises(GpxUnsafe) as info:
        parse_gpx(document)
    assert "实体" in info.value.message("zh_CN")


@pytest.mark.parametrize(
    "document", [b"", b"<gpx>", b"<kml></kml>", b"\xff\xfe<gpx/>", b"<gpx><trk></gpx>"]
)
def test_broken_or_foreign_xml_is_a_clear_error(document: bytes) -> None:
    with pytest.raises(GpxInvalid):
        parse_gpx(document)


def test_import_gpx_file_as_a_track(session: Session, tmp_path: Path) -> None:
    fixes = list(read_fixes(nmea_log("beidou-gb.log")))
    path = tmp_path / "logger.gpx"
    path.write_bytes(gpx_document([fixes]))
    result = tracks.import_track(session, path, grid_id="101")
    assert result.track.source == "gpx"
    assert result.track.points_kept == 2
    assert result.as_json()["started_at"] == "2015-03-02T05:32:32Z"
    assert result.track.distance_m == pytest.approx(
        tracks.path_length_m(fixes), abs=0.5
    )


def test_import_refuses_an_unsafe_gpx(session: Session, tmp_path: Path) -> None:
    path = tmp_path / "evil.gpx"
    path.write_bytes(XXE)
    with pytest.raises(GpxUnsafe):
        tracks.import_track(session, path)
    assert session.db.execute("SELECT count(*) FROM outbox").fetchone()[0] == 0
