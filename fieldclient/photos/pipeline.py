"""Evidence photos: decode, resize, watermark, EXIF, hash, encrypt, record.

One pipeline for the camera, a picked file and ``fieldclient photo add``. It runs
entirely in memory: Pillow reads from and writes to ``BytesIO``, so neither the
original nor any intermediate image ever touches the disk unencrypted (no temp
folder either). What reaches the disk is two encrypted blobs (the final JPEG and
a thumbnail for lists) and, in one transaction, a ``photos`` row, an immutable
``photo.meta`` outbox entry and an audit entry.

Speed: a 12-megapixel JPEG is decoded with ``Image.draft``, which lets libjpeg
scale by 1/2, 1/4 or 1/8 while decoding (the DCT does the work), so a 4000×3000
photo is decoded straight to 2000×1500 in a quarter of the memory and time,
then resampled to at most 1600 px on the long edge.

The watermark (水印) is burnt into the bottom-left corner: time (China Standard
Time by default), place (coordinates, else a place or grid name), worker and
grid, in Chinese, drawn with a CJK font found at run time. Without one the
pipeline refuses (:class:`CjkFontMissing`) instead of drawing empty boxes.
"""

from __future__ import annotations

import functools
import glob
import hashlib
import io
import math
import os
import shutil
import subprocess
import unicodedata
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from fractions import Fraction
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont, JpegImagePlugin, MpoImagePlugin, PngImagePlugin

from fieldclient import __version__
from fieldclient.devicetime import CST
from fieldclient.errors import FieldClientError
from fieldclient.fsutil import atomic_write
from fieldclient.i18n import QT_TRANSLATE_NOOP, translate
from fieldclient.ids import new_id
from fieldclient.security import audit
from fieldclient.storage.session import Session

CTX = "photos"

MAX_EDGE = 1600  # px, long edge of the final photo
THUMB_EDGE = 320  # px, long edge of the list thumbnail
JPEG_QUALITY = 80
THUMB_QUALITY = 70
MEDIA_TYPE = "image/jpeg"
MAX_INPUT_BYTES = 64 * 1024 * 1024
# Decoded pixels we accept. JPEG decodes scaled down (draft), so it may be large;
# PNG/HEIF decode at full size, so they get a lower ceiling (memory).
MAX_JPEG_PIXELS = 150_000_000  # Pillow itself refuses above ~179 MP
MAX_OTHER_PIXELS = 40_000_000
FONT_ENV = "GRIDFIELD_CJK_FONT"  # an explicit font file wins over discovery
MAX_LABEL_CHARS = 40

# Pillow formats allowed to open untrusted input (others are not even tried).
# Importing the plugins registers them. Multi-picture JPEGs (MPO, from some
# cameras) open through the JPEG factory, which returns an MpoImageFile.
_FORMATS: tuple[str, ...] = (JpegImagePlugin.JpegImageFile.format,
                             PngImagePlugin.PngImageFile.format)
_DRAFTABLE = (JpegImagePlugin.JpegImageFile.format, MpoImagePlugin.MpoImageFile.format)
try:  # HEIF/HEIC from phones, when the optional plugin is installed
    import pillow_heif

    pillow_heif.register_heif_opener()
    _FORMATS = (*_FORMATS, "HEIF")
except ImportError:  # pragma: no cover - depends on the installation
    pass


# EXIF tags used (numbers from the EXIF 2.32 specification).
TAG_ORIENTATION = 0x0112
TAG_DATETIME = 0x0132
TAG_SOFTWARE = 0x0131
TAG_EXIF_IFD = 0x8769
TAG_GPS_IFD = 0x8825
TAG_DATETIME_ORIGINAL = 0x9003
TAG_OFFSET_TIME_ORIGINAL = 0x9011
TAG_DATETIME_DIGITIZED = 0x9004
TAG_OFFSET_TIME_DIGITIZED = 0x9012
TAG_SUBSEC_TIME_ORIGINAL = 0x9291
TAG_IMAGE_UNIQUE_ID = 0xA420
TAG_BODY_SERIAL_NUMBER = 0xA431
GPS_VERSION_ID = 0x00
GPS_LATITUDE_REF = 0x01
GPS_LATITUDE = 0x02
GPS_LONGITUDE_REF = 0x03
GPS_LONGITUDE = 0x04
GPS_MAP_DATUM = 0x12

# The watermark's wording: Chinese as the field apps (水印相机) burn it in.
LABEL_TIME = QT_TRANSLATE_NOOP("photos", "时间：{value}")
LABEL_PLACE = QT_TRANSLATE_NOOP("photos", "地点：{value}")
LABEL_COORDS = QT_TRANSLATE_NOOP("photos", "经纬度：{value}")
LABEL_WORKER = QT_TRANSLATE_NOOP("photos", "网格员：{value}")
LABEL_GRID = QT_TRANSLATE_NOOP("photos", "网格：{value}")
PLACE_UNKNOWN = QT_TRANSLATE_NOOP("photos", "未定位")
COORDS = QT_TRANSLATE_NOOP("photos", "{lat_ref}{lat}° {lon_ref}{lon}°")
NORTH = QT_TRANSLATE_NOOP("photos", "北纬")
SOUTH = QT_TRANSLATE_NOOP("photos", "南纬")
EAST = QT_TRANSLATE_NOOP("photos", "东经")
WEST = QT_TRANSLATE_NOOP("photos", "西经")
WATERMARK_LANGUAGE = "zh_CN"  # evidence is read by Chinese authorities: always Chinese


# -- errors -----------------------------------------------------------------
class PhotoError(FieldClientError):
    text = QT_TRANSLATE_NOOP("errors", "照片处理失败。")


class PhotoEmpty(PhotoError):
    text = QT_TRANSLATE_NOOP("errors", "照片“{name}”是空文件，没有保存。")


class PhotoUnreadable(PhotoError):
    text = QT_TRANSLATE_NOOP(
        "errors", "无法读取照片“{name}”：文件已损坏，或不是支持的格式（{formats}）。没有保存。"
    )


class PhotoTooLarge(PhotoError):
    text = QT_TRANSLATE_NOOP(
        "errors", "照片“{name}”太大（{megapixels}百万像素或{megabytes}MB），无法处理。没有保存。"
    )


class PhotoFileUnreadable(PhotoError):
    text = QT_TRANSLATE_NOOP("errors", "无法打开文件“{name}”：{reason}")


class CjkFontMissing(PhotoError):
    text = QT_TRANSLATE_NOOP(
        "errors",
        "找不到能显示中文的字体，无法给照片加水印，照片没有保存。"
        "请安装中文字体（例如 fonts-noto-cjk）。",
    )


class InvalidPosition(PhotoError):
    text = QT_TRANSLATE_NOOP(
        "errors", "位置无效：纬度须在-90到90之间，经度须在-180到180之间，且两者要同时提供。"
    )


class PhotoNotFound(PhotoError):
    text = QT_TRANSLATE_NOOP("errors", "找不到照片“{photo_id}”。")


class PhotoIntegrityError(PhotoError):
    text = QT_TRANSLATE_NOOP(
        "errors", "照片“{photo_id}”的内容与记录的校验值不一致，可能已被篡改。"
    )


class PhotoFreed(PhotoError):
    """The full photo was freed here to make space (:mod:`fieldclient.photos.space`):
    the centre holds it; the thumbnail is still on the device."""

    text = QT_TRANSLATE_NOOP(
        "errors", "照片“{photo_id}”已上传到中心，为腾出空间已从本机释放原图；"
                  "本机只留有缩略图，原图请在中心查看。"
    )


def supported_formats() -> str:
    return "、".join("HEIF/HEIC" if f == "HEIF" else f for f in _FORMATS)


# -- records ----------------------------------------------------------------
@dataclass(frozen=True)
class Photo:
    """One stored evidence photo (the ``photos`` row)."""

    id: str
    sha256: str
    blob_id: str
    thumb_blob_id: str
    width: int
    height: int
    bytes: int
    thumb_width: int
    thumb_height: int
    captured_at: float
    tz_offset_minutes: int
    lat: float | None
    lon: float | None
    place: str | None
    grid_id: str | None
    grid_name: str | None
    worker: str | None
    device_id: str
    source_sha256: str
    created_at: float
    training: bool = False  # synthetic (fieldclient simulate), marked here and at the centre
    duplicate: bool = False  # add_photo: this source had been imported already

    def captured_local(self) -> datetime:
        return datetime.fromtimestamp(
            self.captured_at, timezone(timedelta(minutes=self.tz_offset_minutes))
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


COLUMNS = (
    "id", "sha256", "blob_id", "thumb_blob_id", "width", "height", "bytes", "thumb_width",
    "thumb_height", "captured_at", "tz_offset_minutes", "lat", "lon", "place", "grid_id",
    "grid_name", "worker", "device_id", "source_sha256", "created_at", "training",
)  # fmt: skip


def _photo_from_row(row: Sequence[Any], duplicate: bool = False) -> Photo:
    values = dict(zip(COLUMNS, row, strict=True))
    values["training"] = bool(values["training"])
    return Photo(**values, duplicate=duplicate)


# -- fonts ------------------------------------------------------------------
_NOTO_GLOBS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-*.ttc",  # Debian/Ubuntu fonts-noto-cjk
    "/usr/share/fonts/noto-cjk/NotoSansCJK-*.ttc",  # Arch
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-*.ttc",  # Fedora
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-*.ttc",
)
_KNOWN_FONTS = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",  # Kylin, UOS, Debian
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/wqy-microhei/wqy-microhei.ttc",
    "/usr/share/fonts/wqy-zenhei/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/System/Library/Fonts/PingFang.ttc",
    "/System/Library/Fonts/STHeiti Medium.ttc",
    "/Library/Fonts/Arial Unicode.ttf",
)
_WINDOWS_FONTS = ("msyh.ttc", "msyh.ttf", "simhei.ttf", "simsun.ttc", "Deng.ttf")
# Characters the watermark always needs; a font lacking any of them is refused.
_GLYPH_PROBE = "时间地点网格员北纬东经未定位：0123456789-°"
_NOT_A_CHAR = "\U000f0000"  # Plane 15 private use: no font has it, it draws .notdef


def _fc_candidates() -> list[str]:
    """Fonts fontconfig knows cover Simplified Chinese (Linux; absent elsewhere)."""
    fc_list = shutil.which("fc-list")
    if not fc_list:
        return []
    try:
        out = subprocess.run(
            [fc_list, ":lang=zh-cn", "file"], capture_output=True, text=True, timeout=10
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    files = sorted({line.split(":")[0].strip() for line in out.splitlines() if line.strip()})
    # Sans fonts first: they read better small and on busy backgrounds.
    return sorted(files, key=lambda f: (("Sans" not in f and "hei" not in f.lower()), f))


def font_candidates() -> Iterator[str]:
    """Font files to try, best first (``$GRIDFIELD_CJK_FONT`` always first).

    Lazy: fontconfig is only asked when no known font file works.
    """

    def ordered() -> Iterator[str]:
        explicit = os.environ.get(FONT_ENV)
        if explicit:
            yield explicit
        for pattern in _NOTO_GLOBS:
            # Regular before Bold/Black/Light etc.
            yield from sorted(glob.glob(pattern), key=lambda f: ("Regular" not in f, f))
        yield from _KNOWN_FONTS
        windir = os.environ.get("WINDIR") or os.environ.get("SystemRoot")
        if windir:
            yield from (str(Path(windir) / "Fonts" / name) for name in _WINDOWS_FONTS)
        yield from _fc_candidates()

    seen: set[str] = set()
    for path in ordered():
        if path not in seen:
            seen.add(path)
            yield path


def _draws(font: ImageFont.FreeTypeFont, text: str) -> bool:
    """True when every character of ``text`` has a real glyph (no tofu)."""
    notdef = bytes(font.getmask(_NOT_A_CHAR))
    for ch in set(text):
        if ch.isspace():
            continue
        if bytes(font.getmask(ch)) == notdef:
            return False
    return True


def _pick_face(path: str) -> int | None:
    """The face index of a font file that draws Chinese (Simplified preferred).

    A collection (.ttc) holds several faces; Simplified Chinese ones (SC, CN, GB)
    are tried as soon as they are seen, the others only if none of those works.
    """
    others: list[tuple[bool, int]] = []
    for index in range(32):
        try:
            font = ImageFont.truetype(path, 24, index=index)
        except OSError:
            break
        family = " ".join(str(part) for part in font.getname())
        monospaced = "Mono" in family
        if any(k in family for k in ("SC", "CN", "GB")) and not monospaced:
            if _draws(font, _GLYPH_PROBE):
                return index
        else:
            others.append((monospaced, index))
    for _monospaced, index in sorted(others):
        if _draws(ImageFont.truetype(path, 24, index=index), _GLYPH_PROBE):
            return index
    return None


@functools.lru_cache(maxsize=1)
def find_cjk_font() -> tuple[str, int]:
    """(font file, face index) of a font that draws Chinese; :class:`CjkFontMissing` if none.

    Cached for the process; ``find_cjk_font.cache_clear()`` forgets the choice.
    """
    for path in font_candidates():
        if not os.path.isfile(path):
            continue
        index = _pick_face(path)
        if index is not None:
            return path, index
    raise CjkFontMissing()


@functools.lru_cache(maxsize=8)
def _font(path: str, index: int, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size, index=index)


# -- reading the source -----------------------------------------------------
@dataclass(frozen=True)
class SourceInfo:
    """What the source file's own EXIF says (all optional)."""

    orientation: int = 1
    captured_at: float | None = None
    lat: float | None = None
    lon: float | None = None


def _rational(value: Any) -> float:
    if isinstance(value, tuple) and len(value) == 2:  # (numerator, denominator)
        return float(value[0]) / float(value[1])
    return float(value)


def _dms_to_degrees(dms: Any, ref: Any) -> float | None:
    try:
        d, m, s = (_rational(v) for v in dms)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    value = d + m / 60 + s / 3600
    if isinstance(ref, bytes):
        ref = ref.decode("ascii", "replace")
    if str(ref).strip().upper() in ("S", "W"):
        value = -value
    return value if math.isfinite(value) else None


def _parse_exif_time(text: Any, offset: Any, tz: timezone) -> float | None:
    if isinstance(text, bytes):  # some writers store ASCII as UNDEFINED
        text = text.decode("ascii", "replace")
    if isinstance(offset, bytes):
        offset = offset.decode("ascii", "replace")
    if not isinstance(text, str) or text.startswith("0000"):
        return None
    try:
        naive = datetime.strptime(text.strip("\x00 ")[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    zone: timezone = tz
    if isinstance(offset, str):
        try:
            parsed = datetime.strptime(offset.strip("\x00 "), "%z").tzinfo
            if isinstance(parsed, timezone):
                zone = parsed
        except ValueError:
            pass
    return naive.replace(tzinfo=zone).timestamp()


def _source_info(image: Image.Image, tz: timezone) -> SourceInfo:
    """Orientation, capture time and GPS from the source's EXIF; junk is ignored."""
    try:
        exif = image.getexif()
    except Exception:  # malformed EXIF must not stop the photo itself
        return SourceInfo()
    try:
        orientation = int(exif.get(TAG_ORIENTATION, 1))
    except (TypeError, ValueError):
        orientation = 1
    if orientation not in range(1, 9):
        orientation = 1
    captured_at = lat = lon = None
    try:
        sub = exif.get_ifd(TAG_EXIF_IFD)
        # When it was taken (a gallery photo keeps it, whenever it is imported):
        # DateTimeOriginal, else DateTimeDigitized (some phones write only that),
        # else the file's DateTime.
        captured_at = (
            _parse_exif_time(sub.get(TAG_DATETIME_ORIGINAL), sub.get(TAG_OFFSET_TIME_ORIGINAL), tz)
            or _parse_exif_time(
                sub.get(TAG_DATETIME_DIGITIZED), sub.get(TAG_OFFSET_TIME_DIGITIZED), tz)
            or _parse_exif_time(exif.get(TAG_DATETIME), None, tz)
        )
    except Exception:
        captured_at = None
    try:
        gps = exif.get_ifd(TAG_GPS_IFD)
        if GPS_LATITUDE in gps and GPS_LONGITUDE in gps:
            lat = _dms_to_degrees(gps[GPS_LATITUDE], gps.get(GPS_LATITUDE_REF, "N"))
            lon = _dms_to_degrees(gps[GPS_LONGITUDE], gps.get(GPS_LONGITUDE_REF, "E"))
            if lat is None or lon is None or not _valid_position(lat, lon):
                lat = lon = None
    except Exception:
        lat = lon = None
    return SourceInfo(orientation, captured_at, lat, lon)


def _valid_position(lat: float, lon: float) -> bool:
    return (
        math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180
    )


def _fit(width: int, height: int, edge: int) -> tuple[int, int]:
    scale = min(1.0, edge / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode == "RGB":
        return image
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):  # 16-bit greyscale PNG
        return image.point(lambda v: v * (1 / 256)).convert("L").convert("RGB")
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def decode(data: bytes, name: str = "", tz: timezone = CST) -> tuple[Image.Image, SourceInfo]:
    """The source decoded in memory, upright, RGB, at most :data:`MAX_EDGE` px long.

    Raises :class:`PhotoEmpty`, :class:`PhotoTooLarge` or :class:`PhotoUnreadable`.
    """
    if not data:
        raise PhotoEmpty(name=name)
    megabytes = round(len(data) / 1e6, 1)
    if len(data) > MAX_INPUT_BYTES:
        raise PhotoTooLarge(name=name, megapixels="?", megabytes=megabytes)
    try:
        with warnings.catch_warnings():
            # We enforce our own pixel limits below (JPEG decodes scaled down).
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            source = Image.open(io.BytesIO(data), formats=_FORMATS)
        width, height = source.size
        fmt = source.format or ""
        limit = MAX_JPEG_PIXELS if fmt in _DRAFTABLE else MAX_OTHER_PIXELS
        if width * height > limit:
            raise PhotoTooLarge(
                name=name, megapixels=round(width * height / 1e6), megabytes=megabytes
            )
        info = _source_info(source, tz)
        target = _fit(width, height, MAX_EDGE)
        if fmt in _DRAFTABLE:
            # Let libjpeg scale by 1/2, 1/4 or 1/8 while decoding: the result is
            # still at least ``target`` on both sides, so no detail is lost.
            source.draft("RGB", target)
        source.load()
        image = _to_rgb(source)
        if image.size != target:
            image = image.resize(target, Image.Resampling.LANCZOS, reducing_gap=3.0)
    except PhotoError:
        raise
    except Image.DecompressionBombError as exc:
        raise PhotoTooLarge(name=name, megapixels=">179", megabytes=megabytes) from exc
    except Exception as exc:  # any decoder failure on untrusted input: one clear error
        raise PhotoUnreadable(name=name, formats=supported_formats()) from exc
    method = {
        2: Image.Transpose.FLIP_LEFT_RIGHT,
        3: Image.Transpose.ROTATE_180,
        4: Image.Transpose.FLIP_TOP_BOTTOM,
        5: Image.Transpose.TRANSPOSE,
        6: Image.Transpose.ROTATE_270,
        7: Image.Transpose.TRANSVERSE,
        8: Image.Transpose.ROTATE_90,
    }.get(info.orientation)
    if method is not None:
        image = image.transpose(method)
    return image, info


# -- the watermark ----------------------------------------------------------
def _clean_label(text: str | None) -> str | None:
    if text is None:
        return None
    cleaned = "".join(
        ch if unicodedata.category(ch)[0] != "C" else " " for ch in text
    ).strip()
    cleaned = " ".join(cleaned.split())
    if len(cleaned) > MAX_LABEL_CHARS:
        cleaned = cleaned[: MAX_LABEL_CHARS - 1] + "…"
    return cleaned or None


def _tr(text: str, **params: Any) -> str:
    return translate(CTX, text, WATERMARK_LANGUAGE).format(**params)


def format_position(lat: float, lon: float) -> str:
    """Coordinates as the watermark shows them, e.g. 北纬30.27410° 东经120.15510°."""
    return _tr(
        COORDS,
        lat_ref=_tr(NORTH if lat >= 0 else SOUTH),
        lat=f"{abs(lat):.5f}",
        lon_ref=_tr(EAST if lon >= 0 else WEST),
        lon=f"{abs(lon):.5f}",
    )


def format_time(moment: datetime) -> str:
    text = moment.strftime("%Y-%m-%d %H:%M:%S")
    offset = moment.utcoffset()
    if offset is not None and offset != timedelta(hours=8):
        text += " UTC" + moment.strftime("%z")[:3] + ":" + moment.strftime("%z")[3:]
    return text


def watermark_lines(
    moment: datetime,
    lat: float | None,
    lon: float | None,
    place: str | None,
    worker: str | None,
    grid_name: str | None,
) -> list[str]:
    """The watermark's text, line by line (Chinese, whatever the UI language)."""
    lines = [_tr(LABEL_TIME, value=format_time(moment))]
    if lat is not None and lon is not None and place:
        lines.append(_tr(LABEL_PLACE, value=place))
        lines.append(_tr(LABEL_COORDS, value=format_position(lat, lon)))
    elif lat is not None and lon is not None:
        lines.append(_tr(LABEL_PLACE, value=format_position(lat, lon)))
    else:
        lines.append(_tr(LABEL_PLACE, value=place or grid_name or _tr(PLACE_UNKNOWN)))
    if worker:
        lines.append(_tr(LABEL_WORKER, value=worker))
    if grid_name:
        lines.append(_tr(LABEL_GRID, value=grid_name))
    return lines


def _ellipsize(draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont,
               width: float) -> str:
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…"


def burn_watermark(image: Image.Image, lines: list[str]) -> Image.Image:
    """Draw ``lines`` on a semi-opaque dark band in the bottom-left corner (in place)."""
    path, index = find_cjk_font()
    width, height = image.size
    size = max(12, round(min(width, height) * 0.03))
    font = _font(path, index, size)
    bold = _font(path, index, round(size * 1.15))
    margin = max(4, round(size * 0.6))
    pad = max(3, round(size * 0.5))
    accent = max(3, round(size * 0.18))
    line_height = round(size * 1.4)
    measure = ImageDraw.Draw(image)
    max_text = width - 2 * margin - 2 * pad - accent
    fonts = [bold, *([font] * (len(lines) - 1))]
    texts = [_ellipsize(measure, t, f, max_text) for t, f in zip(lines, fonts, strict=True)]
    text_width = max(measure.textlength(t, font=f) for t, f in zip(texts, fonts, strict=True))
    band_w = min(width - 2 * margin, round(text_width) + 2 * pad + accent)
    band_h = min(height - 2 * margin, line_height * len(lines) + round(size * 0.15) + 2 * pad)
    left, top = margin, height - margin - band_h
    box = (left, top, left + band_w, top + band_h)
    band = image.crop(box)
    band = Image.blend(band, Image.new("RGB", band.size, (0, 0, 0)), 0.58)
    draw = ImageDraw.Draw(band)
    draw.rectangle((0, 0, accent - 1, band_h), fill=(255, 176, 0))  # amber bar, as 水印相机
    y = pad
    for text, f in zip(texts, fonts, strict=True):
        draw.text((accent + pad, y), text, font=f, fill=(255, 255, 255))
        y += line_height if f is font else round(line_height * 1.1)
    image.paste(band, box)
    return image


# -- EXIF for the final JPEG ------------------------------------------------
def _dms(value: float) -> tuple[Fraction, Fraction, Fraction]:
    value = abs(value)
    degrees = int(value)
    minutes_full = (value - degrees) * 60
    minutes = int(minutes_full)
    seconds = round((minutes_full - minutes) * 60, 4)
    return Fraction(degrees), Fraction(minutes), Fraction(seconds).limit_denominator(10_000)


def build_exif(
    moment: datetime,
    photo_id: str,
    device_id: str,
    lat: float | None,
    lon: float | None,
) -> bytes:
    exif = Image.Exif()
    stamp = moment.strftime("%Y:%m:%d %H:%M:%S")
    offset = moment.strftime("%z")
    exif[TAG_SOFTWARE] = f"gridfield {__version__}"
    exif[TAG_DATETIME] = stamp
    sub = exif.get_ifd(TAG_EXIF_IFD)
    sub[TAG_DATETIME_ORIGINAL] = stamp
    sub[TAG_OFFSET_TIME_ORIGINAL] = f"{offset[:3]}:{offset[3:]}"
    sub[TAG_SUBSEC_TIME_ORIGINAL] = f"{moment.microsecond // 1000:03d}"
    sub[TAG_IMAGE_UNIQUE_ID] = photo_id  # 32 hex digits, exactly the tag's format
    sub[TAG_BODY_SERIAL_NUMBER] = device_id
    if lat is not None and lon is not None:
        gps = exif.get_ifd(TAG_GPS_IFD)
        gps[GPS_VERSION_ID] = b"\x02\x03\x00\x00"
        gps[GPS_LATITUDE_REF] = "N" if lat >= 0 else "S"
        gps[GPS_LATITUDE] = _dms(lat)
        gps[GPS_LONGITUDE_REF] = "E" if lon >= 0 else "W"
        gps[GPS_LONGITUDE] = _dms(lon)
        gps[GPS_MAP_DATUM] = "WGS-84"
    return exif.tobytes()


def _jpeg(image: Image.Image, quality: int, exif: bytes | None = None) -> bytes:
    out = io.BytesIO()
    options: dict[str, Any] = {"quality": quality, "optimize": True, "subsampling": "4:2:0"}
    if exif is not None:
        options["exif"] = exif
    image.save(out, "JPEG", **options)
    return out.getvalue()


# -- the pipeline -----------------------------------------------------------
@dataclass(frozen=True)
class Rendered:
    """The pipeline's output before anything is stored."""

    jpeg: bytes
    thumbnail: bytes
    sha256: str
    width: int
    height: int
    thumb_width: int
    thumb_height: int
    captured_at: float
    lat: float | None
    lon: float | None


def render(
    data: bytes,
    photo_id: str,
    device_id: str,
    *,
    name: str = "",
    captured_at: float | None = None,
    fallback_time: float,
    lat: float | None = None,
    lon: float | None = None,
    place: str | None = None,
    worker: str | None = None,
    grid_name: str | None = None,
    tz: timezone = CST,
) -> Rendered:
    """Decode, resize, watermark and encode in memory; nothing is written anywhere.

    Capture time: ``captured_at`` if given, else the source's EXIF
    DateTimeOriginal, else ``fallback_time``. Position: ``lat``/``lon`` if given,
    else the source's EXIF GPS, else none.
    """
    if (lat is None) != (lon is None) or (
        lat is not None and lon is not None and not _valid_position(lat, lon)
    ):
        raise InvalidPosition()
    find_cjk_font()  # fail before decoding when the watermark cannot be drawn
    image, info = decode(data, name, tz)
    when = captured_at if captured_at is not None else info.captured_at
    when = fallback_time if when is None else when
    if lat is None and info.lat is not None:
        lat, lon = info.lat, info.lon
    moment = datetime.fromtimestamp(when, tz)
    burn_watermark(image, watermark_lines(moment, lat, lon, place, worker, grid_name))
    jpeg = _jpeg(image, JPEG_QUALITY, build_exif(moment, photo_id, device_id, lat, lon))
    thumb_size = _fit(image.width, image.height, THUMB_EDGE)
    thumb = image.resize(thumb_size, Image.Resampling.BICUBIC, reducing_gap=2.0)
    return Rendered(
        jpeg=jpeg,
        thumbnail=_jpeg(thumb, THUMB_QUALITY),
        sha256=hashlib.sha256(jpeg).hexdigest(),
        width=image.width,
        height=image.height,
        thumb_width=thumb.width,
        thumb_height=thumb.height,
        captured_at=when,
        lat=lat,
        lon=lon,
    )


@dataclass(frozen=True)
class Prepared:
    """A processed photo not stored yet: the record to be and its bytes."""

    photo: Photo
    rendered: Rendered


def find_duplicate(session: Session, data: bytes) -> Photo | None:
    """The photo made earlier from exactly these source bytes, if any."""
    row = session.db.execute(
        f"SELECT {', '.join(COLUMNS)} FROM photos WHERE source_sha256 = ?"
        " ORDER BY created_at LIMIT 1",
        (hashlib.sha256(data).hexdigest(),),
    ).fetchone()
    return None if row is None else _photo_from_row(row, duplicate=True)


def prepare_photo(
    device_id: str,
    data: bytes,
    now: float,
    *,
    name: str = "",
    captured_at: float | None = None,
    lat: float | None = None,
    lon: float | None = None,
    place: str | None = None,
    grid_id: str | None = None,
    grid_name: str | None = None,
    worker: str | None = None,
    tz: timezone = CST,
) -> Prepared:
    """The whole pipeline except storage; touches no session, so the UI can run
    it in a worker thread and then call :func:`save_prepared` on its own thread.
    ``now`` is the device clock (``session.clock()``)."""
    place, worker, grid_name = _clean_label(place), _clean_label(worker), _clean_label(grid_name)
    photo_id = new_id(now)
    out = render(
        data,
        photo_id,
        device_id,
        name=name,
        captured_at=captured_at,
        fallback_time=now,
        lat=lat,
        lon=lon,
        place=place,
        worker=worker,
        grid_name=grid_name,
        tz=tz,
    )
    photo = Photo(
        id=photo_id,
        sha256=out.sha256,
        blob_id=new_id(now),
        thumb_blob_id=new_id(now),
        width=out.width,
        height=out.height,
        bytes=len(out.jpeg),
        thumb_width=out.thumb_width,
        thumb_height=out.thumb_height,
        captured_at=out.captured_at,
        tz_offset_minutes=int(tz.utcoffset(None).total_seconds() // 60),
        lat=out.lat,
        lon=out.lon,
        place=place,
        grid_id=grid_id,
        grid_name=grid_name,
        worker=worker,
        device_id=device_id,
        source_sha256=hashlib.sha256(data).hexdigest(),
        created_at=now,
    )
    return Prepared(photo, out)


def save_prepared(session: Session, prepared: Prepared) -> Photo:
    """Store a :func:`prepare_photo` result: two encrypted blobs, then the
    ``photos`` row, the blob index row, the ``photo.meta`` outbox entry and the
    audit entry in one transaction. On any error nothing stays behind."""
    if prepared.photo.device_id != session.device_id:
        raise ValueError("prepared for another device")
    _store(session, prepared.photo, prepared.rendered)
    return prepared.photo


def add_photo(
    session: Session,
    data: bytes,
    *,
    name: str = "",
    captured_at: float | None = None,
    lat: float | None = None,
    lon: float | None = None,
    place: str | None = None,
    grid_id: str | None = None,
    grid_name: str | None = None,
    worker: str | None = None,
    tz: timezone = CST,
    allow_duplicate: bool = False,
    training: bool = False,
) -> Photo:
    """Run the pipeline on ``data`` (JPEG/PNG/HEIF bytes) and store the result.

    :func:`prepare_photo` then :func:`save_prepared`. The same source bytes
    imported again return the first photo with ``duplicate=True`` (nothing is
    written) unless ``allow_duplicate``.
    """
    if not allow_duplicate:
        earlier = find_duplicate(session, data)
        if earlier is not None:
            return earlier
    prepared = prepare_photo(
        session.device_id, data, session.clock(), name=name, captured_at=captured_at,
        lat=lat, lon=lon, place=place, grid_id=grid_id, grid_name=grid_name, worker=worker,
        tz=tz,
    )
    if training:
        from dataclasses import replace

        prepared = replace(prepared, photo=replace(prepared.photo, training=True))
    return save_prepared(session, prepared)


def _store(session: Session, photo: Photo, out: Rendered) -> None:
    written: list[str] = []
    try:
        written.append(session.blobs.put(out.jpeg, photo.blob_id))
        written.append(session.blobs.put(out.thumbnail, photo.thumb_blob_id))
        row = {name: getattr(photo, name) for name in COLUMNS}
        row["training"] = int(photo.training)
        payload = {
            k: v
            for k, v in row.items()
            if k not in ("blob_id", "thumb_blob_id", "source_sha256", "thumb_width",
                         "thumb_height", "training")
        }
        if photo.training:
            payload["training"] = True
        payload["media_type"] = MEDIA_TYPE
        with session.db.conn:
            session.db.execute(
                f"INSERT INTO photos ({', '.join(COLUMNS)})"
                f" VALUES ({', '.join('?' for _ in COLUMNS)})",
                [row[name] for name in COLUMNS],
            )
            session.db.execute(
                "INSERT INTO blobs (blob_id, sha256, size, media_type, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (photo.blob_id, photo.sha256, photo.bytes, MEDIA_TYPE, photo.created_at),
            )
            session.enqueue("photo.meta", photo.id, payload)
            session.audit.append(
                audit.RECORD_CREATED, {"kind": "photo", "id": photo.id, "sha256": photo.sha256}
            )
    except BaseException:
        for blob_id in written:
            session.blobs.delete(blob_id)
        raise


def read_source(path: Path) -> bytes:
    """A source image file's bytes (size-checked), for :func:`add_photo`."""
    try:
        size = path.stat().st_size
        if size > MAX_INPUT_BYTES:
            raise PhotoTooLarge(name=path.name, megapixels="?", megabytes=round(size / 1e6, 1))
        return path.read_bytes()
    except OSError as exc:
        raise PhotoFileUnreadable(name=str(path), reason=exc.strerror or str(exc)) from exc


def add_photo_file(session: Session, path: Path, **options: Any) -> Photo:
    """:func:`add_photo` on a file (a picked image or a camera card's JPEG)."""
    return add_photo(session, read_source(path), name=path.name, **options)


# -- reading back -----------------------------------------------------------
def get_photo(session: Session, photo_id: str) -> Photo:
    row = session.db.execute(
        f"SELECT {', '.join(COLUMNS)} FROM photos WHERE id = ?", (photo_id,)
    ).fetchone()
    if row is None:
        raise PhotoNotFound(photo_id=photo_id)
    return _photo_from_row(row)


def list_photos(session: Session, ids: Iterable[str] | None = None) -> list[Photo]:
    """Photos newest first; only ``ids`` when given (e.g. a patrol item's photos)."""
    query = f"SELECT {', '.join(COLUMNS)} FROM photos"
    params: list[str] = []
    if ids is not None:
        params = list(ids)
        if not params:
            return []
        query += f" WHERE id IN ({', '.join('?' for _ in params)})"
    query += " ORDER BY captured_at DESC, id DESC"
    return [_photo_from_row(row) for row in session.db.execute(query, params)]


def decode_for_display(session: Session, photo_id: str, thumbnail: bool = False) -> bytes:
    """The decrypted JPEG bytes (final photo or thumbnail) for showing on screen.

    The final photo is checked against its recorded SHA-256. Never write these
    bytes to disk; Qt loads them with ``QImage.fromData``.
    """
    photo = get_photo(session, photo_id)
    if thumbnail:
        return session.blobs.get(photo.thumb_blob_id)
    if session.db.execute("SELECT 1 FROM photos_freed WHERE photo_id = ?",
                          (photo_id,)).fetchone() is not None:
        raise PhotoFreed(photo_id=photo_id)
    data = session.blobs.get(photo.blob_id)
    if hashlib.sha256(data).hexdigest() != photo.sha256:
        raise PhotoIntegrityError(photo_id=photo_id)
    return data


def export_photo(session: Session, photo_id: str, destination: Path) -> Path:
    """Write the final JPEG decrypted to ``destination`` (a file, or a folder to put
    ``<id>.jpg`` in), atomically with mode 0600; the export is audited."""
    data = decode_for_display(session, photo_id)
    target = destination / f"{photo_id}.jpg" if destination.is_dir() else destination
    photo = get_photo(session, photo_id)
    # The audit entry commits only if the file was written (a failed write rolls
    # it back); the file is never left without its audit entry.
    with session.db.conn:
        session.audit.append(
            audit.EXPORT,
            {"what": "photo", "id": photo_id, "sha256": photo.sha256, "to": str(target),
             "count": 1},
        )
        atomic_write(target, data, mode=0o600)
    return target
