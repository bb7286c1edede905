"""The evidence photo pipeline: size, EXIF, watermark, hash, storage, errors, no plaintext."""

from __future__ import annotations

import hashlib
import io
import json
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from photo_helpers import jpeg_bytes, scene
from PIL import Image, ImageChops, ImageStat

from fieldclient.photos import pipeline as photos
from fieldclient.security import audit
from fieldclient.storage.session import Session

LAT, LON = 29.95312, 121.64875  # Zhuangshi, Ningbo
CAPTURED = datetime(2024, 5, 6, 14, 30, 15, tzinfo=photos.CST).timestamp()


@pytest.fixture(scope="module")
def twelve_mp() -> bytes:
    """A 4000×3000 camera-like JPEG (grain, so it does not compress trivially), stored
    sideways with EXIF orientation 6 as phones do, and a red block in its stored
    top-left corner to check the rotation."""
    image = scene(4000, 3000, noise=0.15)
    image.paste((255, 0, 0), (0, 0, 400, 300))
    exif = Image.Exif()
    exif[photos.TAG_ORIENTATION] = 6
    return jpeg_bytes(image, quality=90, exif=exif)


def mean_diff(a: Image.Image, b: Image.Image, box: tuple[int, int, int, int]) -> float:
    diff = ImageChops.difference(a.crop(box), b.crop(box))
    return sum(ImageStat.Stat(diff).mean) / 3


def add(session: Session, data: bytes, **options: Any) -> photos.Photo:
    defaults: dict[str, Any] = {
        "captured_at": CAPTURED, "lat": LAT, "lon": LON, "worker": "王小红",
        "grid_name": "庄市街道第12网格", "grid_id": "g-12",
    }
    return photos.add_photo(session, data, **{**defaults, **options})


def open_jpeg(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG"
    return image


# -- output -----------------------------------------------------------------
def test_output_fits_1600_and_hash_is_of_the_final_bytes(session: Session) -> None:
    photo = add(session, jpeg_bytes(scene(3000, 2000)))
    data = photos.decode_for_display(session, photo.id)
    image = open_jpeg(data)
    assert image.size == (photo.width, photo.height) == (1600, 1067)
    assert photo.sha256 == hashlib.sha256(data).hexdigest()
    assert photo.bytes == len(data)
    thumb = open_jpeg(photos.decode_for_display(session, photo.id, thumbnail=True))
    assert max(thumb.size) == photos.THUMB_EDGE
    assert thumb.size == (photo.thumb_width, photo.thumb_height)


def test_small_input_is_not_enlarged(session: Session) -> None:
    photo = add(session, jpeg_bytes(scene(640, 480)))
    assert (photo.width, photo.height) == (640, 480)


def test_exif_has_capture_time_gps_device_and_software(session: Session) -> None:
    photo = add(session, jpeg_bytes(scene(2000, 1500)))
    exif = open_jpeg(photos.decode_for_display(session, photo.id)).getexif()
    sub = exif.get_ifd(photos.TAG_EXIF_IFD)
    assert sub[photos.TAG_DATETIME_ORIGINAL] == "2024:05:06 14:30:15"
    assert sub[photos.TAG_OFFSET_TIME_ORIGINAL] == "+08:00"
    assert sub[photos.TAG_BODY_SERIAL_NUMBER] == session.device_id
    assert sub[photos.TAG_IMAGE_UNIQUE_ID] == photo.id
    assert exif[photos.TAG_SOFTWARE].startswith("gridfield")
    assert exif.get(photos.TAG_ORIENTATION, 1) == 1  # pixels are already upright
    gps = exif.get_ifd(photos.TAG_GPS_IFD)
    assert gps[photos.GPS_LATITUDE_REF] == "N" and gps[photos.GPS_LONGITUDE_REF] == "E"
    lat = photos._dms_to_degrees(gps[photos.GPS_LATITUDE], gps[photos.GPS_LATITUDE_REF])
    lon = photos._dms_to_degrees(gps[photos.GPS_LONGITUDE], gps[photos.GPS_LONGITUDE_REF])
    assert lat == pytest.approx(LAT, abs=1e-6) and lon == pytest.approx(LON, abs=1e-6)
    assert photo.captured_at == CAPTURED
    assert photo.captured_local().isoformat() == "2024-05-06T14:30:15+08:00"


def test_southern_western_coordinates_and_no_gps_when_unknown(session: Session) -> None:
    south = add(session, jpeg_bytes(scene(800, 600, seed=1)), lat=-33.5, lon=-70.25)
    gps = open_jpeg(photos.decode_for_display(session, south.id)).getexif().get_ifd(
        photos.TAG_GPS_IFD
    )
    assert (gps[photos.GPS_LATITUDE_REF], gps[photos.GPS_LONGITUDE_REF]) == ("S", "W")
    assert photos._dms_to_degrees(gps[photos.GPS_LATITUDE], "S") == pytest.approx(-33.5)
    nowhere = add(session, jpeg_bytes(scene(800, 600, seed=2)), lat=None, lon=None)
    assert nowhere.lat is None
    exif = open_jpeg(photos.decode_for_display(session, nowhere.id)).getexif()
    assert not exif.get_ifd(photos.TAG_GPS_IFD)


def test_watermark_in_bottom_left_corner_only(session: Session) -> None:
    source = scene(3200, 2400, seed=3)
    photo = add(session, jpeg_bytes(source, quality=95))
    out = open_jpeg(photos.decode_for_display(session, photo.id)).convert("RGB")
    reference = source.resize(out.size, Image.Resampling.LANCZOS)
    w, h = out.size
    corner = (int(w * 0.03), int(h * 0.82), int(w * 0.25), int(h * 0.96))
    opposite = (int(w * 0.75), int(h * 0.04), int(w * 0.97), int(h * 0.18))
    assert mean_diff(out, reference, corner) > 25  # dark band and white text
    assert mean_diff(out, reference, opposite) < 4  # only JPEG noise elsewhere
    # The band darkens the corner.
    assert sum(ImageStat.Stat(out.crop(corner)).mean) < sum(
        ImageStat.Stat(reference.crop(corner)).mean
    )


def test_watermark_text_in_chinese() -> None:
    moment = datetime(2024, 5, 6, 14, 30, 15, tzinfo=photos.CST)
    lines = photos.watermark_lines(moment, LAT, LON, None, "王小红", "第12网格")
    assert lines == [
        "时间：2024-05-06 14:30:15",
        "地点：北纬29.95312° 东经121.64875°",
        "网格员：王小红",
        "网格：第12网格",
    ]
    no_fix = photos.watermark_lines(moment, None, None, None, None, "第12网格")
    assert no_fix[1] == "地点：第12网格"
    assert photos.watermark_lines(moment, None, None, None, None, None)[1] == "地点：未定位"
    with_place = photos.watermark_lines(moment, LAT, LON, "人民路5号", None, None)
    assert with_place[1:] == ["地点：人民路5号", "经纬度：北纬29.95312° 东经121.64875°"]
    other_zone = photos.format_time(datetime(2024, 5, 6, 12, 0, tzinfo=photos.timezone.utc))
    assert other_zone == "2024-05-06 12:00:00 UTC+00:00"


def test_twelve_megapixel_input_with_orientation(session: Session, twelve_mp: bytes) -> None:
    assert len(twelve_mp) > 1_000_000
    photo = add(session, twelve_mp)
    out = open_jpeg(photos.decode_for_display(session, photo.id)).convert("RGB")
    assert out.size == (1200, 1600)  # orientation 6: stored landscape, shown portrait
    # The stored top-left red block is now at the top-right.
    r, g, b = out.getpixel((1150, 50))  # type: ignore[misc]
    assert r > 200 and g < 60 and b < 60
    assert photo.sha256 == hashlib.sha256(photos.decode_for_display(session, photo.id)).hexdigest()


def test_source_exif_time_and_gps_are_used_when_not_given(session: Session) -> None:
    exif = Image.Exif()
    exif.get_ifd(photos.TAG_EXIF_IFD)[photos.TAG_DATETIME_ORIGINAL] = "2021:06:01 09:30:00"
    gps = exif.get_ifd(photos.TAG_GPS_IFD)
    gps[photos.GPS_LATITUDE_REF], gps[photos.GPS_LATITUDE] = "N", photos._dms(30.5)
    gps[photos.GPS_LONGITUDE_REF], gps[photos.GPS_LONGITUDE] = "E", photos._dms(114.25)
    photo = photos.add_photo(session, jpeg_bytes(scene(1000, 750), exif=exif))
    assert photo.captured_local().isoformat() == "2021-06-01T09:30:00+08:00"
    assert photo.lat == pytest.approx(30.5) and photo.lon == pytest.approx(114.25)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_gallery_photo_keeps_when_it_was_taken(session: Session, fmt: str) -> None:
    """A photo picked from the gallery a week later is stamped with when it was taken
    (DateTimeOriginal with its zone; DateTimeDigitized when that is all there is)."""
    exif = Image.Exif()
    sub = exif.get_ifd(photos.TAG_EXIF_IFD)
    sub[photos.TAG_DATETIME_ORIGINAL] = "2024:03:02 07:15:00"
    sub[photos.TAG_OFFSET_TIME_ORIGINAL] = "+08:00"
    out = io.BytesIO()
    scene(1000, 750).save(out, fmt, exif=exif.tobytes())
    photo = photos.add_photo(session, out.getvalue())
    assert photo.captured_local().isoformat() == "2024-03-02T07:15:00+08:00"
    assert photo.captured_at != session.clock()
    digitized = Image.Exif()
    digitized.get_ifd(photos.TAG_EXIF_IFD)[photos.TAG_DATETIME_DIGITIZED] = "2023:11:30 16:00:05"
    photo = photos.add_photo(session, jpeg_bytes(scene(1000, 751), exif=digitized))
    assert photo.captured_local().isoformat() == "2023-11-30T16:00:05+08:00"


def test_capture_time_falls_back_to_the_clock(session: Session) -> None:
    photo = photos.add_photo(session, jpeg_bytes(scene(1000, 750)))
    assert photo.captured_at == session.clock()


def test_png_with_transparency(session: Session) -> None:
    image = scene(1800, 1200).convert("RGBA")
    image.putalpha(128)
    buf = io.BytesIO()
    image.save(buf, "PNG")
    photo = add(session, buf.getvalue())
    out = open_jpeg(photos.decode_for_display(session, photo.id))
    assert out.mode == "RGB" and out.size == (1600, 1067)


# -- storage ----------------------------------------------------------------
def test_row_outbox_and_audit_written_together(session: Session) -> None:
    photo = add(session, jpeg_bytes(scene(1200, 900)))
    assert photos.get_photo(session, photo.id) == photo
    assert [p.id for p in photos.list_photos(session)] == [photo.id]
    assert photos.list_photos(session, []) == []
    (_kind, record_id, payload), = session.db.execute(
        "SELECT kind, record_id, payload FROM outbox WHERE kind = 'photo.meta'"
    ).fetchall()
    meta = json.loads(payload)
    assert record_id == photo.id
    assert meta["sha256"] == photo.sha256 and meta["grid_id"] == "g-12"
    assert meta["media_type"] == "image/jpeg" and meta["bytes"] == photo.bytes
    assert "blob_id" not in meta and "source_sha256" not in meta
    blob = session.db.execute("SELECT sha256, size FROM blobs WHERE blob_id = ?",
                              (photo.blob_id,)).fetchone()
    assert tuple(blob) == (photo.sha256, photo.bytes)
    created = [e for e in session.audit.entries() if e["action"] == audit.RECORD_CREATED]
    assert created[-1]["detail"] == {"kind": "photo", "id": photo.id, "sha256": photo.sha256}
    assert session.audit.verify().ok
    assert session.records_by_kind()["photo"] == 1
    with pytest.raises(Exception, match="insert-only"):
        with session.db.conn:
            session.db.execute("UPDATE photos SET worker = 'x' WHERE id = ?", (photo.id,))


def test_same_source_twice_is_one_photo(session: Session) -> None:
    data = jpeg_bytes(scene(1200, 900))
    first = add(session, data)
    again = add(session, data)
    assert again.duplicate and again.id == first.id
    assert len(photos.list_photos(session)) == 1
    forced = add(session, data, allow_duplicate=True)
    assert forced.id != first.id and len(photos.list_photos(session)) == 2


def test_failed_transaction_leaves_nothing(
    session: Session, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> int:
        raise RuntimeError("disk full")

    monkeypatch.setattr(session.audit, "append", broken)
    with pytest.raises(RuntimeError):
        add(session, jpeg_bytes(scene(1200, 900)))
    assert_nothing_stored(session, data_dir)


def assert_nothing_stored(session: Session, data_dir: Path) -> None:
    assert session.db.execute("SELECT count(*) FROM photos").fetchone()[0] == 0
    assert session.db.execute("SELECT count(*) FROM blobs").fetchone()[0] == 0
    assert session.db.execute(
        "SELECT count(*) FROM outbox WHERE kind = 'photo.meta'"
    ).fetchone()[0] == 0
    blobs = data_dir / "blobs"
    assert not blobs.exists() or not [p for p in blobs.rglob("*") if p.is_file()]


def test_export_is_audited_and_private(session: Session, tmp_path: Path) -> None:
    photo = add(session, jpeg_bytes(scene(1200, 900)))
    target = photos.export_photo(session, photo.id, tmp_path / "out.jpg")
    assert hashlib.sha256(target.read_bytes()).hexdigest() == photo.sha256
    assert target.stat().st_mode & 0o777 == 0o600
    into_folder = photos.export_photo(session, photo.id, tmp_path)
    assert into_folder == tmp_path / f"{photo.id}.jpg"
    exports = [e for e in session.audit.entries() if e["action"] == audit.EXPORT]
    assert [e["detail"]["to"] for e in exports] == [str(target), str(into_folder)]
    assert exports[0]["detail"]["id"] == photo.id
    assert exports[0]["detail"]["sha256"] == photo.sha256
    with pytest.raises(photos.PhotoNotFound):
        photos.export_photo(session, "0" * 32, tmp_path / "none.jpg")
    assert not (tmp_path / "none.jpg").exists()


def test_tampered_blob_is_refused(session: Session, data_dir: Path) -> None:
    photo = add(session, jpeg_bytes(scene(1200, 900)))
    path = data_dir / "blobs" / photo.blob_id[:2] / photo.blob_id
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 1
    path.write_bytes(bytes(raw))
    with pytest.raises(photos.FieldClientError):
        photos.decode_for_display(session, photo.id)


# -- no plaintext on disk ---------------------------------------------------
def test_nothing_unencrypted_on_disk(
    session: Session, data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    twelve_mp: bytes,
) -> None:
    empty_tmp = tmp_path / "tmp"
    empty_tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(empty_tmp))
    monkeypatch.setattr(tempfile, "tempdir", str(empty_tmp))
    photo = add(session, twelve_mp)
    final = photos.decode_for_display(session, photo.id)
    thumb = photos.decode_for_display(session, photo.id, thumbnail=True)
    assert list(empty_tmp.iterdir()) == []

    needles = [b"Exif\x00\x00", b"JFIF\x00", "王小红".encode()]  # device id is public
    for blob in (final, thumb, twelve_mp):
        for offset in (700, len(blob) // 3, len(blob) // 2, len(blob) - 200):
            needles.append(blob[offset : offset + 32])

    def leaks() -> list[str]:
        found = []
        for path in sorted(p for p in data_dir.rglob("*") if p.is_file()):
            content = path.read_bytes()
            found += [f"{path.name}: {n[:8]!r}" for n in needles if n in content]
        return found

    assert leaks() == []
    session.close()
    assert leaks() == []
    assert list(empty_tmp.iterdir()) == []


# -- bad input --------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("empty.jpg", lambda: b""),
        ("text.jpg", lambda: "这不是图片".encode() * 100),
        ("random.jpg", lambda: bytes(range(256)) * 50),
        ("truncated.jpg", lambda: jpeg_bytes(scene(1600, 1200))[:5000]),
        ("header-only.jpg", lambda: jpeg_bytes(scene(64, 64))[:200]),
        ("animation.gif", lambda: gif_bytes()),
    ],
)
def test_bad_input_is_a_clear_error_and_writes_nothing(
    session: Session, data_dir: Path, name: str, make: Any
) -> None:
    with pytest.raises(photos.PhotoError) as caught:
        photos.add_photo(session, make(), name=name)
    assert name in caught.value.message("zh_CN")
    english = caught.value.message("en")
    assert name in english and "nothing was saved" in english.lower()
    assert_nothing_stored(session, data_dir)


def gif_bytes() -> bytes:
    buf = io.BytesIO()
    scene(100, 100).convert("P").save(buf, "GIF")
    return buf.getvalue()


def test_invalid_position_refused(session: Session, data_dir: Path) -> None:
    data = jpeg_bytes(scene(400, 300))
    for lat, lon in ((91.0, 120.0), (30.0, 181.0), (30.0, None), (float("nan"), 120.0)):
        with pytest.raises(photos.InvalidPosition):
            photos.add_photo(session, data, lat=lat, lon=lon)
    assert_nothing_stored(session, data_dir)


def test_no_cjk_font_is_a_clear_error(
    session: Session, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    latin_only = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
    monkeypatch.setattr(photos, "font_candidates", lambda: [latin_only, "/nonexistent.ttc"])
    photos.find_cjk_font.cache_clear()
    try:
        with pytest.raises(photos.CjkFontMissing) as caught:
            photos.add_photo(session, jpeg_bytes(scene(400, 300)))
        assert "fonts-noto-cjk" in caught.value.message("en")
        assert "Chinese" in caught.value.message("en")
        assert_nothing_stored(session, data_dir)
    finally:
        monkeypatch.undo()
        photos.find_cjk_font.cache_clear()
    assert photos.find_cjk_font()[0].endswith((".ttc", ".ttf", ".otf"))


def test_font_from_environment_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    path, _index = photos.find_cjk_font()
    monkeypatch.setenv(photos.FONT_ENV, path)
    assert next(iter(photos.font_candidates())) == path


def _encoded(image: Image.Image, fmt: str, **options: Any) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **options)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("label", "make"),
    [
        ("greyscale JPEG", lambda: _encoded(scene(1800, 1200).convert("L"), "JPEG")),
        ("CMYK JPEG", lambda: _encoded(scene(1800, 1200).convert("CMYK"), "JPEG")),
        ("16-bit PNG", lambda: _encoded(scene(1800, 1200).convert("L").convert("I;16"), "PNG")),
        ("palette PNG", lambda: _encoded(scene(1800, 1200).convert("P"), "PNG")),
        ("multi-picture JPEG", lambda: _encoded(
            scene(1800, 1200), "MPO", save_all=True, append_images=[scene(1800, 1200, seed=9)]
        )),
    ],
)
def test_other_encodings_become_rgb_jpeg(session: Session, label: str, make: Any) -> None:
    photo = add(session, make(), name=label)
    out = open_jpeg(photos.decode_for_display(session, photo.id))
    assert out.mode == "RGB" and out.size == (1600, 1067), label


def test_prepare_in_a_worker_thread_then_save(session: Session) -> None:
    from concurrent.futures import ThreadPoolExecutor

    data = jpeg_bytes(scene(2000, 1500))
    with ThreadPoolExecutor(1) as pool:
        prepared = pool.submit(
            photos.prepare_photo, session.device_id, data, session.clock(), worker="王小红"
        ).result()
    assert session.db.execute("SELECT count(*) FROM photos").fetchone()[0] == 0
    photo = photos.save_prepared(session, prepared)
    assert photos.get_photo(session, photo.id) == photo
    assert photos.find_duplicate(session, data) == photos.Photo(
        **{**photo.to_json(), "duplicate": True}
    )
