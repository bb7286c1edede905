"""Resident identity card numbers (居民身份证号, GB 11643-1999) and phone numbers."""

from __future__ import annotations

import re
from datetime import date

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_ID_RE = re.compile(r"^\d{17}[\dX]$")
MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")
LANDLINE_RE = re.compile(r"^0\d{2,3}-?\d{7,8}$")


def check_char(first17: str) -> str:
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK[total % 11]


def id_number_problem(value: str) -> str | None:
    """None when ``value`` is a well-formed 18-character ID number, else the reason."""
    v = value.strip().upper()
    if not _ID_RE.match(v):
        return "ID number must be 17 digits and a digit or X (18 characters)"
    try:
        date(int(v[6:10]), int(v[10:12]), int(v[12:14]))
    except ValueError:
        return "ID number has an impossible birth date"
    if check_char(v[:17]) != v[17]:
        return "ID number check digit is wrong"
    return None


def make_id_number(area: str, birth: date, serial: int) -> str:
    """A checksum-valid ID number: 6-digit area code, birth date, 3-digit serial."""
    first17 = f"{area}{birth:%Y%m%d}{serial % 1000:03d}"
    return first17 + check_char(first17)


def phone_problem(value: str) -> str | None:
    v = value.strip()
    if MOBILE_RE.match(v) or LANDLINE_RE.match(v):
        return None
    return "phone must be an 11-digit mobile number or a landline like 0574-87654321"
