"""``central keys rotate``: a new current key, everything re-sealed under it, then the
old key retired and removed from the key file.

Steps, each safe to interrupt and run again (``rotate`` resumes):

1. A new key is added to the key file as the current one, the old kept; the database
   records the new key's check. Running servers re-read the key file within a second
   and seal new data under the new key (``rotate`` waits ``settle`` seconds for them).
2. Rows not sealed under the current key are re-sealed in batches, each batch its own
   transaction (blind indexes recomputed with them); photos are re-sealed file by file
   (written beside, renamed over), and partial uploads under an old key dropped (those
   uploads start over from byte 0), as are first-pull snapshots (``pull_snapshots``,
   sealed whole: the next first pull of their view builds them again).
3. Once nothing is left under an old key (counted again after a last pass), the old
   keys' checks are deleted, the database compacted (SQLite VACUUM, PostgreSQL
   VACUUM FULL of the sealed tables: no free page keeps an old ciphertext) and the old
   keys removed from the key file.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, delete, func, select

from central import atrest, db
from central.photos import PhotoStore


def rotate(engine: Engine, photos: PhotoStore, batch: int = 500, settle: float = 2.0,
           progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    ring = db.keyring(engine)
    say = progress or (lambda _m: None)
    with engine.connect() as conn:
        db.check_keys(conn)
    keyset = ring.keyset()
    old = [k for k in keyset.keys if k != keyset.current]
    with engine.connect() as conn:
        current_stale = db.stale_rows(conn, keyset.current)
    resumed = bool(old)
    if not old:  # no rotation under way: start one
        new_id = atrest.new_key_id()
        keys = dict(keyset.keys)
        keys[new_id] = secrets.token_bytes(32)
        created = dict(keyset.created)
        created[new_id] = db.now_iso()
        old = list(keyset.keys)
        ring.provider.store(atrest.KeySet(new_id, keys, created))
        ring.forget()
        say(f"new current key {new_id}; old key(s) {', '.join(old)} kept until done")
        with engine.begin() as conn:
            db.add_key_check(conn, new_id)
        time.sleep(settle)  # running servers pick the new key up
    else:
        say(f"resuming the rotation to key {keyset.current} ({current_stale} rows to go)")
        with engine.begin() as conn:
            db.add_key_check(conn, keyset.current)
    current = ring.current_id
    rows = 0
    photo_counts: dict[str, int] = {}
    while True:
        while True:
            with engine.begin() as conn:
                done = db.reseal(conn, current, batch=batch)
            rows += done
            if not done:
                break
            say(f"re-sealed {rows} rows")
        photo_counts = photos.reseal()
        with engine.begin() as conn:  # first-pull snapshots: dropped, built again on demand
            s = db.pull_snapshots
            conn.execute(delete(s).where(s.c.body.not_like(f"{atrest.PREFIX}{current}:%")))
        with engine.connect() as conn:
            left = db.stale_rows(conn, current)
            left += int(conn.execute(  # one a server built meanwhile under the old key
                select(func.count()).select_from(s)
                .where(s.c.body.not_like(f"{atrest.PREFIX}{current}:%"))).scalar() or 0)
        if not left and not photos.stale_files():
            break
    with engine.begin() as conn:
        # the old keys' checks go too (sealed under them; nothing is left to check)
        conn.execute(delete(db.key_checks).where(db.key_checks.c.key_id != current))
    db.compact(engine)  # no page keeps a value under the old key
    keyset = ring.keyset()
    ring.provider.store(atrest.KeySet(current, {current: keyset.keys[current]},
                                      {current: keyset.created.get(current, "")}))
    ring.forget()
    say(f"old key(s) {', '.join(old)} removed; everything is sealed under {current}")
    return {"current": current, "retired": old, "rows_resealed": rows,
            "photos": photo_counts, "resumed": resumed}
