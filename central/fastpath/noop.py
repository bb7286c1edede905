"""The pull with nothing new (issue 16), answered by one indexed read.

Most pulls are a device at its grids' head asking every few minutes. The full pull
(:func:`central.syncops.pull`) opens a REPEATABLE READ snapshot and asks each kind of
feed row for its page: a dozen statements to find nothing. Here one statement asks
first "is anything newer than the cursor for these grids?": an ``EXISTS`` per kind of
feed row, each a range of the index on (grid, sequence) the full pull reads too, and
in the same statement (one snapshot) the feed's head, the highest number below which
no row can still appear. Nothing newer: the answer is an empty page whose cursor is
that head, so the next no-op look is a range of a few index entries again. Something
(maybe) newer: the full pull as before.

The look is a superset of the pull: it leaves out only what the pull's own conditions
leave out cheaply (the device's own visits and patrols; others' reviews on a worker's
device). When it finds a row the pull then does not hand out (a setting of another
district, a device that is not a worker's or leader's), the full pull's empty answer
carries the head as its cursor too, so such a row costs one full pull, not every pull.

Why moving the cursor to the head loses nothing: the head is read in the statement's
snapshot. PostgreSQL: numbers below the snapshot's ``xmin`` watermark
(:func:`central.db.feed_watermark`) belong to transactions that have committed (and
are in the snapshot) or rolled back. SQLite: writers take the change counter first and
hold the write lock until they commit, so every number up to the counter's value in
the snapshot is committed. So no row numbered after the cursor and up to the head can
appear later, and none was in the snapshot (the look found nothing).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any, Protocol

from sqlalchemy import (
    BigInteger,
    Connection,
    Engine,
    Integer,
    String,
    Text,
    any_,
    bindparam,
    cast,
    exists,
    func,
    literal_column,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY, psycopg

from central import db, syncops
from central.shared import ratelimit
from sync import protocol

# a page as a dict (central.syncops.pull's), or one encoded already (a snapshot's:
# central.shared.snapshots.EncodedPage, never empty)
Page = Any


def _newer_exists(reviewer: bool, grids: Any) -> Any:
    """One boolean: any feed row of the grids ``grids`` stands for numbered after the
    bound ``cursor`` (module docstring: a superset of what the full pull hands out);
    ``me`` and ``person`` are the device and its person."""
    cursor = bindparam("cursor", type_=BigInteger())
    me = bindparam("me", type_=String())
    looks = [
        exists().where(grids(t.c.grid_id), t.c.updated_seq > cursor)
        for t in (db.households, db.conflicts, db.events, db.tasks, db.grid_boundaries)
    ]
    r = db.records
    looks.append(exists().where(r.c.kind == "visit.create", grids(r.c.grid_id),
                                r.c.seq > cursor, r.c.device_id != me))
    looks.append(exists().where(db.settings.c.updated_seq > cursor))
    rv = db.reviews
    mine = [] if reviewer else [rv.c.worker_id == bindparam("person", type_=Integer())]
    looks.append(exists().where(grids(rv.c.grid_id), rv.c.updated_seq > cursor, *mine))
    if reviewer:
        p = db.patrols
        looks.append(exists().where(grids(p.c.grid_id), p.c.updated_seq > cursor,
                                    p.c.device_id != me))
        d, g = db.devices, db.grid_assignments
        people = select(g.c.person_id).where(grids(g.c.grid_id))
        looks.append(exists().where(d.c.feed_seq > cursor, d.c.id != me,
                                    d.c.person_id.in_(people)))
    return or_(*looks)


_PG_XMIN = literal_column("pg_snapshot_xmin(pg_current_snapshot())::text::bigint")


def _in_grids(dialect: str) -> Callable[[Any], Any]:
    """``column IN (the bound grids)``: one array parameter on PostgreSQL, an expanding
    list on SQLite."""
    if dialect == "postgresql":
        grids = bindparam("grids", type_=ARRAY(Integer()))
        return lambda column: column == any_(grids)
    listed = bindparam("grids", expanding=True, type_=Integer())
    return lambda column: column.in_(listed)


@functools.cache
def _statements(dialect: str, reviewer: bool) -> tuple[Any, Any]:
    """The look (with the grids' names in the same statement) and the names alone,
    built once per dialect and kind of device: every no-op pull binds its own values
    (building and keying the statement anew cost more of a no-op's CPU than the
    database's work)."""
    grids = _in_grids(dialect)
    newer = _newer_exists(reviewer, grids).label("newer")
    o = db.org_units
    if dialect == "postgresql":  # the watermark's offset read along, no extra trip
        named = func.json_agg(func.json_build_array(o.c.id, o.c.name))
        look_stmt = select(newer, _PG_XMIN, _counter(db.TXID_OFFSET),
                           select(cast(named, Text)).where(grids(o.c.id)).scalar_subquery())
    else:
        named = func.json_group_array(func.json_array(o.c.id, o.c.name))
        look_stmt = select(newer, _counter("change_seq"),
                           select(named).where(grids(o.c.id)).scalar_subquery())
    names = select(o.c.id, o.c.name).where(grids(o.c.id)).order_by(o.c.id)
    return look_stmt, names


def _values(device: Any, grids: tuple[int, ...], after: int) -> dict[str, Any]:
    return {"grids": list(grids), "cursor": after, "me": device.device_id,
            "person": device.person_id}


def look(conn: Connection, device: Any, grids: tuple[int, ...], after: int
         ) -> tuple[bool, int]:
    """Whether anything may be newer than ``after`` for the device, and the feed's
    head (module docstring), from one statement's snapshot."""
    newer, head, _names = look_and_names(conn, device, grids, after)
    return newer, head


def look_and_names(conn: Connection, device: Any, grids: tuple[int, ...], after: int,
                   taking: Taking | None = None) -> tuple[bool, int, list[dict[str, Any]]]:
    """:func:`look`, and the grids' names as :func:`central.syncops._grid_names` gives
    them, read in the same statement (a no-op pull's one trip to the database).
    ``taking`` (PostgreSQL, rate limits in the database): the device's rate-limit token
    is taken in that statement too (:func:`_taking_look`), and ``taking.settle`` refuses
    the request (429) before anything else is done when the limits say so."""
    dialect = conn.dialect.name
    reviewer = device.role in protocol.REVIEW_ROLES
    if taking is not None and dialect == "postgresql":
        sql, fixed = _taking_look(reviewer)
        row = conn.exec_driver_sql(
            sql, {**fixed, **_values(device, grids, after), **taking.params()}).one()
        taking.settle(row[-3], row[-2], row[-1])
        row = row[:-3]
    else:
        if taking is not None:
            taking.separately()
        statement, _ = _statements(dialect, reviewer)
        row = conn.execute(statement, _values(device, grids, after)).one()
    if dialect == "postgresql":
        newer, head = bool(row[0]), db.watermark_of(int(row[1] or 0), int(row[2] or 0)) - 1
    else:
        newer, head = bool(row[0]), int(row[1] or 0)
    pairs = json.loads(row[-1]) if row[-1] else []
    names = [{"id": int(gid), "name": str(name)} for gid, name in sorted(pairs)]
    return newer, head, names


class Taking(Protocol):
    """A signed request's rate-limit token still to take (``central.app``): with the
    look (:meth:`params`, then :meth:`settle` with the statement's ``granted``, ``tokens``
    and the address's refilled failure tokens), or in a statement of its own
    (:meth:`separately`). Both raise the 429 when the limits refuse."""

    def params(self) -> dict[str, Any]: ...

    def settle(self, granted: Any, tokens: Any, address_tokens: Any) -> None: ...

    def separately(self) -> None: ...


@functools.cache
def _taking_look(reviewer: bool, with_device: bool = False) -> tuple[str, dict[str, Any]]:
    """PostgreSQL: the look of :func:`_statements` with the rate-limit token taken in
    the same statement (a CTE; ``central.shared.ratelimit``), as the driver's SQL and
    the look's own fixed parameters. The token is taken whatever the look finds; a
    refused request has only cost the look. ``with_device``: the device's row read in
    the same statement too (:data:`ME_COLUMNS`, after the token's), so that a device
    whose key this process knows costs one statement in all: the caller checks its
    signature with the known key and then, against this row, that nothing it went by
    has changed."""
    look_stmt, _ = _statements("postgresql", reviewer)
    compiled = look_stmt.compile(dialect=psycopg.dialect())
    fixed = {k: v for k, v in compiled.params.items()
             if k not in ("grids", "cursor", "me", "person")}
    me_cte, me_columns, me_join = "", "", ""
    if with_device:
        me_cte = f", me AS ({_ME})"
        me_columns = "".join(f", me.{c}" for c in ME_COLUMNS)
        me_join = " LEFT JOIN me ON true"
    sql = (f"WITH taken AS ({ratelimit.TAKE_CTE}){me_cte}"
           f" SELECT look.*, taken.granted, taken.tokens, ({ratelimit.PEEK_OTHER}){me_columns}"
           f" FROM taken CROSS JOIN ({compiled}) AS look{me_join}")
    return sql, fixed


# The device's row as the signature check reads it (``central.app._DEVICE_AND_GRIDS``),
# for the look of a device whose key this process knows: its grids as one array.
_ME = (f"SELECT d.status, d.public_key, d.person_id, d.contact_sent, p.role,"
       f" ARRAY(SELECT g.grid_id FROM {db.grid_assignments.name} g"
       f" WHERE g.person_id = d.person_id ORDER BY g.grid_id) AS grids"
       f" FROM {db.devices.name} d LEFT JOIN {db.people.name} p ON p.id = d.person_id"
       f" WHERE d.id = %(me)s")
ME_COLUMNS = ("status", "public_key", "person_id", "contact_sent", "role", "grids")


def look_as_known(conn: Connection, device: Any, after: int, taking: Taking
                  ) -> tuple[Callable[[], tuple[bool, int, list[dict[str, Any]]]],
                             dict[str, Any] | None, bool]:
    """PostgreSQL: :func:`look_and_names` for ``device`` as this process knows it (its
    grids and role), with the rate-limit token taken and the device's row read, all
    in one statement. Returns what finishes the look (it settles the token, 429 when
    the limits refuse, and gives ``(newer, head, names)``), the device's row as it is
    now (None: no such device), and whether a token was taken. The caller finishes
    the look only once the row showed the device as it knew it (else the look answered
    for grids it may no longer have)."""
    sql, fixed = _taking_look(device.role in protocol.REVIEW_ROLES, with_device=True)
    row = conn.exec_driver_sql(
        sql, {**fixed, **_values(device, tuple(device.grids), after), **taking.params()}
    ).one()
    n = len(ME_COLUMNS)
    me = dict(zip(ME_COLUMNS, row[-n:], strict=True)) if row[-n] is not None else None
    look_row = row[:-n]

    def finish() -> tuple[bool, int, list[dict[str, Any]]]:
        taking.settle(look_row[-3], look_row[-2], look_row[-1])
        newer = bool(look_row[0])
        head = db.watermark_of(int(look_row[1] or 0), int(look_row[2] or 0)) - 1
        pairs = json.loads(look_row[-4]) if look_row[-4] else []
        return newer, head, [{"id": int(gid), "name": str(name)} for gid, name in sorted(pairs)]

    return finish, me, bool(look_row[-3])


def grid_names(conn: Connection, device: Any, grids: tuple[int, ...]) -> list[dict[str, Any]]:
    """:func:`central.syncops._grid_names` by the statement built once."""
    _, statement = _statements(conn.dialect.name, device.role in protocol.REVIEW_ROLES)
    return [{"id": int(r[0]), "name": str(r[1])}
            for r in conn.execute(statement, {"grids": list(grids)})]


def _counter(name: str) -> Any:
    c = db.counters
    return select(c.c.value).where(c.c.name == name).scalar_subquery()


def pull(engine: Engine, device: Any, after: int, limit: int,
         full: Callable[[Any, int, int], Page] | None = None,
         taking: Taking | None = None,
         looked: tuple[bool, int, list[dict[str, Any]]] | None = None) -> Page:
    """A pull page as :func:`central.syncops.pull` answers it, cheaply when nothing is
    new: the look with the grids' names (one statement, no transaction opened);
    otherwise the full pull (``full(device, after, limit)``: the feed's, or a first
    pull's snapshot, whose pages may come encoded already), whose empty answer moves
    the cursor to the head too. A first pull (``after`` 0) has its grids' rows to get:
    no look first, unless its answer is empty. ``looked``: the look's answer, read
    already (:func:`look_as_known`; a later pull of a device with grids)."""
    def feed(device: Any, after: int, limit: int) -> dict[str, Any]:
        return syncops.pull(engine, device, after, limit)

    full = full or feed
    grids = tuple(device.grids)
    if taking is not None and (not grids or after == 0):
        taking.separately()  # no look first: the token on its own
        taking = None
    if not grids:
        return full(device, after, limit)
    if after == 0:
        page = full(device, after, limit)
        if isinstance(page, dict) and not page["changes"] and not page["has_more"]:
            with engine.connect() as conn:  # read after the pull: only when still empty
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                newer, head = look(conn, device, grids, after)
            if not newer:
                page["next_after"] = max(after, head)
        return page
    if looked is not None and after > 0:
        newer, head, names = looked
    else:
        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            newer, head, names = look_and_names(conn, device, grids, after, taking)
    if not newer:
        return {"changes": [], "next_after": max(after, head), "has_more": False,
                "grids": names}
    page = full(device, after, limit)
    if isinstance(page, dict) and not page["changes"] and not page["has_more"]:
        page["next_after"] = max(after, head)  # read before the pull's later snapshot
    return page

