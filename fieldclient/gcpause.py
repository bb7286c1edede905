"""No cyclic garbage collection while a computation builds many short-lived containers.

CPython's cyclic collector runs after every 700 container allocations and walks the
live ones; work that builds hundreds of thousands of tuples and lists that hold no
reference cycles (a month's review figures, the search index's first build) pays for
walks that free nothing: measured 100-160 ms of a review month's ~450 ms, a third of a
search build. Reference counting still frees everything as usual.

The collector is one switch for the whole process, and such work runs on background
threads (the UI's task helper) while other work may too, so pauses are counted: the
collector comes back when the last one ends, and only if it was on when the first
began (the app keeps it off until its first paint).
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0
_was_enabled = False


@contextmanager
def paused_gc() -> Iterator[None]:
    """The block runs without cyclic collections (see the module docstring)."""
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.enable()
