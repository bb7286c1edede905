"""Per-district settings the centre sends to devices (pull feed kind ``config``).

A setting is a JSON value under a known key for one org unit and everything below
it (``org_unit_id`` NULL: the whole deployment). A device gets, per key, the value
of the most specific org unit above its grids. Values are validated strictly here,
before anything is stored, because a device falls back to its defaults when a value
does not parse and a bad value would silently change every worker's quotas.

Keys: ``quota_rules`` (``{"rules": [{"id", "kind", "period", "times", "category"?}]}``),
``review_rules`` (``{"checks": {name: {threshold: n}}, "score": {weight: n}}``: the
monthly review's checks and score, see sync/protocol/review.py and
resources/review/review_rules.json),
``event_categories`` (``{"categories": [{"zh", "en"}]}``), ``quick_phrases``
(``{"visit": [...], "event": [...]}``: phrases a tap writes into a visit or event) and
``pin_policy``
(``{"min_digits": 6-12}``: a device whose PIN is shorter asks the worker to change it at
the next unlock; README, "How the data is protected", gives the cost of each length).

Grid boundaries (``central grids set-boundary``) are kept per grid, not per org unit and
everything below it, and go down the feed as the kind ``grid`` (:func:`grids_page`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from central import db

QUOTA_RULES = "quota_rules"
EVENT_CATEGORIES = "event_categories"
PIN_POLICY = "pin_policy"
REVIEW_RULES = "review_rules"
QUICK_PHRASES = "quick_phrases"
SUPPORT_CONTACT = "support_contact"
PHRASE_KINDS = ("visit", "event")
MAX_PHRASES = 30
MAX_PHRASE_CHARS = 40
PIN_MIN_DIGITS = (6, 12)
QUOTA_KINDS = ("patrol", "visit")
QUOTA_PERIODS = ("day", "week", "month", "quarter", "year")
MAX_RULES = 100
MAX_TIMES = 1000
MAX_CATEGORIES = 100
MAX_CATEGORY_ZH = 20
MAX_CATEGORY_EN = 60


class SettingError(ValueError):
    """A setting refused: the message says what to fix."""


def _object(value: Any, where: str, allowed: set[str], required: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SettingError(f"{where} must be a JSON object")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise SettingError(f"{where}: unknown key(s) {', '.join(unknown)}")
    missing = sorted(required - set(value))
    if missing:
        raise SettingError(f"{where}: missing {', '.join(missing)}")
    return value


def _text(value: Any, where: str, max_len: int) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > max_len:
        raise SettingError(f"{where} must be non-empty text of at most {max_len} characters")
    return value.strip()


def validate_quota_rules(value: Any) -> dict[str, Any]:
    """``{"rules": [...]}``: each rule an id, a kind (patrol/visit), a period, a number
    of times ≥ 1 and, for visits, the household category it applies to."""
    top = _object(value, "quota_rules", {"rules"}, {"rules"})
    rules = top["rules"]
    if not isinstance(rules, list) or not rules or len(rules) > MAX_RULES:
        raise SettingError(f"quota_rules.rules must be a list of 1 to {MAX_RULES} rules")
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, rule in enumerate(rules):
        where = f"quota_rules.rules[{i}]"
        _object(rule, where, {"id", "kind", "category", "period", "times"},
                {"id", "kind", "period", "times"})
        rule_id = _text(rule["id"], f"{where}.id", 40)
        if rule_id in seen:
            raise SettingError(f"{where}.id {rule_id!r} is used twice")
        seen.add(rule_id)
        if rule["kind"] not in QUOTA_KINDS:
            raise SettingError(f"{where}.kind must be one of {', '.join(QUOTA_KINDS)}")
        if rule["period"] not in QUOTA_PERIODS:
            raise SettingError(f"{where}.period must be one of {', '.join(QUOTA_PERIODS)}")
        times = rule["times"]
        if not isinstance(times, int) or isinstance(times, bool) or not 1 <= times <= MAX_TIMES:
            raise SettingError(f"{where}.times must be a whole number from 1 to {MAX_TIMES}")
        clean = {"id": rule_id, "kind": rule["kind"], "period": rule["period"], "times": times}
        if rule["kind"] == "visit":
            if rule.get("category") not in db.CATEGORIES:
                raise SettingError(
                    f"{where}.category must be one of {', '.join(db.CATEGORIES)}")
            clean["category"] = rule["category"]
        elif "category" in rule:
            raise SettingError(f"{where}: a patrol rule has no category")
        out.append(clean)
    return {"rules": out}


def validate_event_categories(value: Any) -> dict[str, Any]:
    """``{"categories": [{"zh": "矛盾纠纷", "en": "Disputes"}, ...]}``: Chinese names of
    at most 20 characters, each once; the English name is optional."""
    top = _object(value, "event_categories", {"categories"}, {"categories"})
    items = top["categories"]
    if not isinstance(items, list) or not items or len(items) > MAX_CATEGORIES:
        raise SettingError(
            f"event_categories.categories must be a list of 1 to {MAX_CATEGORIES} classes")
    out: list[dict[str, str]] = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        where = f"event_categories.categories[{i}]"
        _object(item, where, {"zh", "en"}, {"zh"})
        zh = _text(item["zh"], f"{where}.zh", MAX_CATEGORY_ZH)
        if zh in seen:
            raise SettingError(f"{where}.zh {zh!r} is listed twice")
        seen.add(zh)
        clean = {"zh": zh}
        if item.get("en") is not None:
            clean["en"] = _text(item["en"], f"{where}.en", MAX_CATEGORY_EN)
        out.append(clean)
    return {"categories": out}


def validate_pin_policy(value: Any) -> dict[str, Any]:
    """``{"min_digits": n}``, 6 <= n <= 12: the shortest PIN devices accept."""
    top = _object(value, "pin_policy", {"min_digits"}, {"min_digits"})
    digits = top["min_digits"]
    low, high = PIN_MIN_DIGITS
    if not isinstance(digits, int) or isinstance(digits, bool) or not low <= digits <= high:
        raise SettingError(f"pin_policy.min_digits must be a whole number from {low} to {high}")
    return {"min_digits": digits}


def validate_review_rules(value: Any) -> dict[str, Any]:
    """``{"checks": {...}, "score": {...}}``: the review's checks with their thresholds
    and the score's weights (sync.protocol.review, the one definition devices use)."""
    from sync.protocol import review

    try:
        return review.parse_review_rules(value).as_json()
    except review.InvalidReviewRules as exc:
        raise SettingError(f"review_rules: {exc}") from None


def validate_quick_phrases(value: Any) -> dict[str, Any]:
    """``{"visit": ["按时服药", ...], "event": [...]}``: the phrases a tap writes into a
    visit's situation or an event's description; each list (both optional, at least
    one) up to 30 distinct phrases of at most 40 characters, each a text or
    ``{"zh": ..., "en": ...}`` (shown on English screens; optional). A kind left out keeps
    the product's defaults on the devices."""
    top = _object(value, "quick_phrases", set(PHRASE_KINDS), set())
    if not top:
        raise SettingError(f"quick_phrases needs at least one of {', '.join(PHRASE_KINDS)}")
    out: dict[str, list[Any]] = {}
    for kind, items in top.items():
        where = f"quick_phrases.{kind}"
        if not isinstance(items, list) or len(items) > MAX_PHRASES:
            raise SettingError(f"{where} must be a list of at most {MAX_PHRASES} phrases")
        clean: list[Any] = []
        seen: set[str] = set()
        for i, item in enumerate(items):
            if isinstance(item, dict):
                _object(item, f"{where}[{i}]", {"zh", "en"}, {"zh"})
                zh = " ".join(_text(item["zh"], f"{where}[{i}].zh", MAX_PHRASE_CHARS).split())
                phrase: Any = {"zh": zh}
                if item.get("en") is not None:
                    phrase["en"] = " ".join(
                        _text(item["en"], f"{where}[{i}].en", MAX_PHRASE_CHARS).split())
            else:
                zh = phrase = " ".join(_text(item, f"{where}[{i}]", MAX_PHRASE_CHARS).split())
            if zh in seen:
                raise SettingError(f"{where}[{i}] {zh!r} is listed twice")
            seen.add(zh)
            clean.append(phrase)
        out[kind] = clean
    return out


def validate_support_contact(value: Any) -> dict[str, Any]:
    """``{"name": "区网格中心信息科", "phone": "0574-87654321"}``: whom a worker who
    forgot the PIN calls; the lock screen shows it (before any unlock)."""
    import re

    top = _object(value, "support_contact", {"name", "phone"}, {"name", "phone"})
    name = " ".join(_text(top["name"], "support_contact.name", 40).split())
    phone = _text(top["phone"], "support_contact.phone", 20)
    if not re.fullmatch(r"[0-9+][0-9 -]{2,19}", phone):
        raise SettingError("support_contact.phone must be a phone number "
                           "(digits, spaces, - and a leading +)")
    return {"name": name, "phone": phone}


VALIDATORS: dict[str, Callable[[Any], dict[str, Any]]] = {
    QUOTA_RULES: validate_quota_rules,
    REVIEW_RULES: validate_review_rules,
    EVENT_CATEGORIES: validate_event_categories,
    PIN_POLICY: validate_pin_policy,
    QUICK_PHRASES: validate_quick_phrases,
    SUPPORT_CONTACT: validate_support_contact,
}


def validate(key: str, value: Any) -> dict[str, Any]:
    """The cleaned value for ``key``; SettingError when the key or value is refused."""
    validator = VALIDATORS.get(key)
    if validator is None:
        raise SettingError(f"unknown setting {key!r}; one of: {', '.join(sorted(VALIDATORS))}")
    return validator(value)


def set_setting(
    engine: Engine, key: str, value: Any, org_unit_id: int | None = None
) -> dict[str, Any]:
    """Validate and store; a new feed sequence number, so every device pulls it even
    after it has pulled everything else."""
    clean = validate(key, value)
    s = db.settings
    now = db.now_iso()
    with engine.begin() as conn:
        seq = db.next_seq(conn)  # SQLite: first, it takes the writer lock
        db.lock_key(conn, f"setting:{key}")  # PostgreSQL: no shared counter row to lock
        if org_unit_id is not None:
            unit = conn.execute(
                select(db.org_units.c.id).where(db.org_units.c.id == org_unit_id)).first()
            if unit is None:
                raise SettingError(f"no org unit with id {org_unit_id}")
        where = s.c.org_unit_id.is_(None) if org_unit_id is None else (
            s.c.org_unit_id == org_unit_id)
        existing = conn.execute(select(s.c.id).where(s.c.key == key, where)).first()
        row = {"value": clean, "updated_at": now, "updated_seq": seq}
        if existing is None:
            conn.execute(insert(s).values(key=key, org_unit_id=org_unit_id, **row))
        else:
            conn.execute(update(s).where(s.c.id == existing[0]).values(**row))
    return {"key": key, "org_unit_id": org_unit_id, "value": clean, "updated_at": now,
            "updated_seq": seq}


def list_settings(engine: Engine) -> list[dict[str, Any]]:
    s = db.settings
    with engine.connect() as conn:
        return [
            {"key": r["key"], "org_unit_id": r["org_unit_id"], "value": r["value"],
             "updated_at": r["updated_at"], "updated_seq": r["updated_seq"]}
            for r in conn.execute(select(s).order_by(
                s.c.key, s.c.org_unit_id.is_not(None), s.c.org_unit_id)).mappings()
        ]


def ancestry(conn: Connection, grids: Iterable[int]) -> dict[int, int]:
    """Org unit id -> distance from the nearest of ``grids`` (0 for the grids), for
    the grids and every unit above them."""
    depth: dict[int, int] = {}
    frontier = {int(g) for g in grids}
    level = 0
    while frontier and level < 20:  # the tree has 5 levels; a cycle cannot loop forever
        for unit in frontier:
            depth.setdefault(unit, level)
        rows = conn.execute(
            select(db.org_units.c.parent_id).where(db.org_units.c.id.in_(sorted(frontier)))
        ).all()
        frontier = {int(r[0]) for r in rows if r[0] is not None} - set(depth)
        level += 1
    return depth


def effective(conn: Connection, grids: Iterable[int]) -> dict[str, dict[str, Any]]:
    """Per key, the setting row of the most specific org unit above ``grids``."""
    depth = ancestry(conn, grids)
    s = db.settings
    rows = conn.execute(
        select(s).where(s.c.org_unit_id.in_(sorted(depth)) | s.c.org_unit_id.is_(None))
    ).mappings().all()
    best: dict[str, dict[str, Any]] = {}
    for r in rows:
        rank = depth[r["org_unit_id"]] if r["org_unit_id"] is not None else 10_000
        current = best.get(r["key"])
        if current is None or rank < current["_rank"]:
            best[r["key"]] = {**dict(r), "_rank": rank}
    return best


def config_page(
    conn: Connection, grids: tuple[int, ...], after: int, before: int = 2**63 - 1
) -> list[dict[str, Any]]:
    """The ``config`` changes for a device: each key whose value for its grids was set
    after ``after`` and below the feed's watermark ``before`` (a few rows at most: no
    ``limit`` needed)."""
    s = db.settings
    newer = conn.execute(
        select(s.c.id).where(s.c.updated_seq > db.seq_cursor(after)).limit(1)).first()
    if newer is None:  # the usual case: one indexed-size look-up and nothing else
        return []
    return [
        {"seq": int(r["updated_seq"]), "kind": "config", "id": key,
         "data": {"key": key, "value": r["value"], "org_unit_id": r["org_unit_id"],
                  "updated_at": r["updated_at"]}}
        for key, r in sorted(effective(conn, grids).items())
        if after < int(r["updated_seq"]) < before
    ]


# -- grid boundaries (pull kind ``grid``) ----------------------------------------------------
# A boundary belongs to one grid, not to everything under an org unit: a supervisor's
# device over twenty grids gets twenty, each drawn on the map of its own grid.


def _grid(conn: Connection, grid_id: int) -> Any:
    unit = conn.execute(select(db.org_units.c.id, db.org_units.c.level, db.org_units.c.name)
                        .where(db.org_units.c.id == grid_id)).first()
    if unit is None:
        raise SettingError(f"no org unit with id {grid_id}")
    if unit.level != "grid":
        raise SettingError(f"org unit {grid_id} ({unit.name}) is a {unit.level}, not a grid")
    return unit


def set_boundary(engine: Engine, grid_id: int, value: Any | None, crs: str = "wgs84"
                 ) -> dict[str, Any]:
    """Validate and store a grid's boundary (None: remove it); a new feed number, so the
    grid's devices pull it. :class:`SettingError` (nothing changed) when refused."""
    from sync.protocol import boundary as shared

    clean = None
    if value is not None:
        try:
            clean = shared.normalize_boundary(value, crs)
        except shared.InvalidBoundary as exc:
            raise SettingError(str(exc)) from None
    t = db.grid_boundaries
    now = db.now_iso()
    with engine.begin() as conn:
        seq = db.next_seq(conn)  # SQLite: first, it takes the writer lock
        db.lock_key(conn, f"boundary:{grid_id}")
        unit = _grid(conn, grid_id)
        row = {"boundary": clean, "vertices": 0 if clean is None else shared.vertices(clean),
               "updated_at": now, "updated_seq": seq}
        done = conn.execute(update(t).where(t.c.grid_id == grid_id).values(**row)).rowcount
        if not done:
            conn.execute(insert(t).values(grid_id=grid_id, **row))
    return {"grid_id": grid_id, "name": unit.name, "vertices": row["vertices"],
            "boundary": clean, "updated_at": now, "updated_seq": seq}


def list_grids(engine: Engine) -> list[dict[str, Any]]:
    """Every grid with its boundary's size (0: none) and when it was last set."""
    o, t = db.org_units, db.grid_boundaries
    with engine.connect() as conn:
        rows = conn.execute(
            select(o.c.id, o.c.name, o.c.parent_id, t.c.vertices, t.c.updated_at)
            .select_from(o.outerjoin(t, t.c.grid_id == o.c.id))
            .where(o.c.level == "grid").order_by(o.c.id)).mappings().all()
    return [{"grid_id": int(r["id"]), "name": r["name"], "parent_id": r["parent_id"],
             "boundary_vertices": int(r["vertices"] or 0),
             "boundary_updated_at": r["updated_at"]} for r in rows]


def grids_page(conn: Connection, grids: tuple[int, ...], after: int, limit: int,
               before: int = 2**63 - 1) -> list[dict[str, Any]]:
    """The ``grid`` changes of the device's grids after ``after`` (below the feed's
    watermark ``before``)."""
    o, t = db.org_units, db.grid_boundaries
    rows = conn.execute(
        select(t.c.grid_id, t.c.boundary, t.c.updated_at, t.c.updated_seq, o.c.name)
        .select_from(t.join(o, o.c.id == t.c.grid_id))
        .where(t.c.grid_id.in_(grids), t.c.updated_seq > db.seq_cursor(after),
               t.c.updated_seq < before)
        .order_by(t.c.updated_seq).limit(limit)).mappings().all()
    return [{"seq": int(r["updated_seq"]), "kind": "grid", "id": str(r["grid_id"]),
             "data": {"id": str(r["grid_id"]), "name": str(r["name"])[:100],
                      "boundary": r["boundary"], "updated_at": r["updated_at"]}}
            for r in rows]
