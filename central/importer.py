"""``central import-households FILE.csv --grid G``: load a district's household roster.

CSV columns (header row required; English or Chinese names; order free; unknown
columns are ignored):

====================  ===========================  ===================================
column                also accepted                content
====================  ===========================  ===================================
``name`` (required)   户主姓名, 户主, 姓名          head of household
``address`` (req.)    地址, 住址                    address
``category``          类别, 户类别, 人员类别         一般/困难/重点 or ordinary/hardship/key
                                                    (empty: ordinary)
``phone``             电话, 联系电话, 手机           11-digit mobile or landline 0574-87654321
``id_number``         身份证号, 身份证号码           18 characters, check digit verified
``members``           家庭成员, 成员                 members separated by ``;`` or ``；``, each
                                                    ``姓名:关系[:身份证号[:电话[:户籍]]]``
                                                    (``:`` or ``：``); 户籍 is 户籍/registered,
                                                    流动/floating or 租住/tenant (default 户籍)
``tags``              标签                           tags separated by ``;``, ``；`` or ``、``
``lat``, ``lon``      纬度, 经度                     where the household lives, in decimal
                                                    degrees (both or neither), WGS-84 /
                                                    CGCS2000 as BeiDou gives them; with
                                                    ``--crs gcj02`` (a web map's 火星坐标)
                                                    converted to WGS-84
====================  ===========================  ===================================

Positions feed the review's far-from-home check (a home visit recorded far from the
household's known position is flagged), at the centre and on the grid's devices.

The file may be UTF-8 (with or without BOM) or GBK/GB18030. Every row is checked;
rows with problems are reported with their line number in the file (the header is
line 1) and skipped, the good rows are stored in one transaction. The head of
household is stored as a member with relation 户主 too.
"""

from __future__ import annotations

import csv
import io
import math
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, insert

from central import cnid, db
from central.ops import OpError, get_grid
from sync.protocol import boundary

HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "name": ("name", "户主姓名", "户主", "姓名"),
    "address": ("address", "地址", "住址"),
    "category": ("category", "类别", "户类别", "人员类别"),
    "phone": ("phone", "电话", "联系电话", "手机"),
    "id_number": ("id_number", "身份证号", "身份证号码"),
    "members": ("members", "家庭成员", "成员"),
    "tags": ("tags", "标签"),
    "lat": ("lat", "纬度", "latitude"),
    "lon": ("lon", "经度", "longitude"),
}
CATEGORY_VALUES = {
    "一般": "ordinary", "一般家庭": "ordinary", "ordinary": "ordinary",
    "困难": "hardship", "困难家庭": "hardship", "hardship": "hardship",
    "重点": "key", "重点人员": "key", "key": "key",
}
RESIDENCE_VALUES = {
    "户籍": "registered", "registered": "registered",
    "流动": "floating", "流动人口": "floating", "floating": "floating",
    "租住": "tenant", "租户": "tenant", "tenant": "tenant",
}
MAX_BYTES = 50 * 1024 * 1024


class ImportFileError(Exception):
    """The file as a whole cannot be imported (encoding, headers, size)."""


@dataclass
class ImportResult:
    imported: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    encoding: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"imported": self.imported, "errors": self.errors, "encoding": self.encoding}


def decode(data: bytes) -> tuple[str, str]:
    """Text and encoding name: UTF-8 with BOM, UTF-8, else GB18030 (a superset of GBK)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="strict"), "utf-8-sig"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030"), "gbk"
    except UnicodeDecodeError as exc:
        raise ImportFileError("the file is neither UTF-8 nor GBK text") from exc


def _split(value: str, seps: str) -> list[str]:
    for sep in seps[1:]:
        value = value.replace(sep, seps[0])
    return [part.strip() for part in value.split(seps[0]) if part.strip()]


def _parse_members(value: str) -> list[dict[str, Any]]:
    out = []
    for n, entry in enumerate(_split(value, ";；"), start=1):
        parts = [p.strip() for p in entry.replace("：", ":").split(":")]
        if len(parts) < 2 or len(parts) > 5 or not parts[0] or not parts[1]:
            raise ValueError(f"member {n} ({entry!r}) must be 姓名:关系[:身份证号[:电话[:户籍]]]")
        name, relation = parts[0], parts[1]
        if len(name) > 50 or len(relation) > 20:
            raise ValueError(f"member {n}: name or relation too long")
        id_number = parts[2].upper() if len(parts) > 2 and parts[2] else None
        if id_number and (problem := cnid.id_number_problem(id_number)):
            raise ValueError(f"member {n}: {problem}")
        phone = parts[3] if len(parts) > 3 and parts[3] else None
        if phone and (problem := cnid.phone_problem(phone)):
            raise ValueError(f"member {n}: {problem}")
        residence = "registered"
        if len(parts) > 4 and parts[4]:
            if parts[4].lower() not in RESIDENCE_VALUES:
                raise ValueError(f"member {n}: residence must be 户籍, 流动 or 租住")
            residence = RESIDENCE_VALUES[parts[4].lower()]
        out.append({"name": name, "relation": relation, "id_number": id_number,
                    "phone": phone, "residence": residence})
    return out


def _parse_position(lat_text: str, lon_text: str, crs: str
                    ) -> tuple[float | None, float | None]:
    """The household's position from its two cells (both or neither), as WGS-84."""
    if not lat_text and not lon_text:
        return None, None
    if not lat_text or not lon_text:
        raise ValueError("give both 纬度 (lat) and 经度 (lon), or neither")
    try:
        lat, lon = float(lat_text), float(lon_text)
    except ValueError:
        raise ValueError(f"position {lat_text!r}, {lon_text!r} is not two decimal numbers "
                         "(degrees, e.g. 29.95, 121.58)") from None
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90
            and -180 <= lon <= 180):
        raise ValueError(f"position {lat_text}, {lon_text} is out of range "
                         "(纬度 -90..90, 经度 -180..180)")
    if crs == "gcj02":
        lat, lon = boundary.gcj02_to_wgs84(lat, lon)
    return lat, lon


def _parse_row(row: dict[str, str], crs: str = "wgs84") -> dict[str, Any]:
    def get(key: str) -> str:
        return (row.get(key) or "").strip()

    # runs of whitespace (line breaks inside quoted cells included) become one space
    name, address = " ".join(get("name").split()), " ".join(get("address").split())
    if not name:
        raise ValueError("name (户主姓名) is empty")
    if len(name) > 50:
        raise ValueError("name (户主姓名) is longer than 50 characters")
    if not address:
        raise ValueError("address (地址) is empty")
    if len(address) > 200:
        raise ValueError("address (地址) is longer than 200 characters")
    category = "ordinary"
    if raw := get("category"):
        if raw.lower() not in CATEGORY_VALUES:
            raise ValueError(f"category {raw!r} must be 一般, 困难 or 重点")
        category = CATEGORY_VALUES[raw.lower()]
    phone = get("phone") or None
    if phone and (problem := cnid.phone_problem(phone)):
        raise ValueError(problem)
    id_number = get("id_number").upper() or None
    if id_number and (problem := cnid.id_number_problem(id_number)):
        raise ValueError(problem)
    tags = _split(get("tags"), ";；、")
    if any(len(t) > 50 for t in tags):
        raise ValueError("a tag is longer than 50 characters")
    lat, lon = _parse_position(get("lat"), get("lon"), crs)
    return {
        "head_name": name, "address": address, "category": category, "phone": phone,
        "id_number": id_number, "tags": tags, "members": _parse_members(get("members")),
        "lat": lat, "lon": lon,
    }


def import_households(engine: Engine, data: bytes, grid_id: int, crs: str = "wgs84"
                      ) -> ImportResult:
    """Import the roster in ``data`` into grid ``grid_id``; ``crs``: the positions'
    coordinate system, ``wgs84`` or ``gcj02`` (module docstring)."""
    if crs not in ("wgs84", "gcj02"):
        raise ImportFileError(f"unknown coordinate system {crs!r}: wgs84 or gcj02")
    if len(data) > MAX_BYTES:
        raise ImportFileError(f"the file is larger than {MAX_BYTES // (1024 * 1024)} MiB")
    text, encoding = decode(data)
    result = ImportResult(encoding=encoding)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration as exc:
        raise ImportFileError("the file is empty") from exc
    except csv.Error as exc:
        raise ImportFileError(f"line 1: {exc}") from exc
    columns: dict[int, str] = {}
    for i, raw in enumerate(header):
        label = raw.strip().lstrip("\ufeff").lower()
        for key, aliases in HEADER_ALIASES.items():
            if label in aliases and key not in columns.values():
                columns[i] = key
    missing = [k for k in ("name", "address") if k not in columns.values()]
    if missing:
        raise ImportFileError(
            "missing required column(s): "
            + ", ".join(f"{k} ({HEADER_ALIASES[k][1]})" for k in missing)
            + f"; found: {', '.join(header)}"
        )
    parsed: list[dict[str, Any]] = []
    line = reader.line_num
    while True:
        start = line + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            result.errors.append({"line": start, "reason": f"unreadable CSV: {exc}"})
            line = reader.line_num
            continue
        line = reader.line_num
        if not any(c.strip() for c in cells):
            continue  # blank line
        row = {key: cells[i] for i, key in columns.items() if i < len(cells)}
        try:
            parsed.append(_parse_row(row, crs))
        except ValueError as exc:
            result.errors.append({"line": start, "reason": str(exc)})
    with engine.begin() as conn:
        try:
            get_grid(conn, grid_id)
        except OpError as exc:
            raise ImportFileError(exc.message) from exc
        if parsed:
            last = db.next_seq(conn, len(parsed))
            first = last - len(parsed) + 1
            hh_rows: list[dict[str, Any]] = []
            member_rows: list[dict[str, Any]] = []
            registered_at = time.time()
            for i, p in enumerate(parsed):
                hid = str(uuid.uuid4())
                hh_rows.append({
                    "id": hid, "grid_id": grid_id, "head_name": p["head_name"],
                    "address": p["address"], "category": p["category"], "phone": p["phone"],
                    "id_number": p["id_number"], "tags": p["tags"], "version": 1,
                    "updated_seq": first + i, "registered_at": registered_at,
                    "lat": p["lat"], "lon": p["lon"],
                })
                family = [{"name": p["head_name"], "relation": "户主", "id_number": p["id_number"],
                           "phone": p["phone"], "residence": "registered"}, *p["members"]]
                for m in family:
                    member_rows.append({"id": str(uuid.uuid4()), "household_id": hid, **m})
            conn.execute(insert(db.households), hh_rows)
            conn.execute(insert(db.members), member_rows)
    result.imported = len(parsed)
    return result
