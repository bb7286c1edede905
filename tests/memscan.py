"""Find secrets in this process's own memory (issue 12, fault 1), Linux only.

The secrets to look for ("needles") are written into one anonymous mmap, the
:class:`Arena`, and only ever handled as ints or views of it, so the test itself leaves
no copy of them anywhere else; the scan reads every readable mapping of
``/proc/self/mem`` (a process may always read its own, dumpable or not) into a second
mmap and skips both.
"""

from __future__ import annotations

import mmap
import os
import sys
from collections.abc import Iterable

CHUNK = 4 << 20
SKIPPED = ("[vvar]", "[vsyscall]", "[vvar_vclock]")
HEX = b"0123456789abcdef"


def supported() -> bool:
    return sys.platform.startswith("linux") and os.path.exists("/proc/self/mem")


class Arena:
    """The needles, in memory the scan skips."""

    def __init__(self, size: int = 1 << 16) -> None:
        self.mm = mmap.mmap(-1, size)
        self.used = 0
        self.needles: list[tuple[str, int, int]] = []  # name, offset, length

    def add(self, name: str, codes: Iterable[int]) -> None:
        start = self.used
        for code in codes:
            self.mm[self.used] = code
            self.used += 1
        self.needles.append((name, start, self.used - start))

    def add_secret(self, name: str, secret: bytes | bytearray, text: bool = False) -> None:
        """The raw bytes and their lowercase hex; a text secret as UTF-8/16/32 instead."""
        if text:
            self.add(f"{name} (utf-8)", iter(secret))
            self.add(f"{name} (utf-16)", (b for c in secret for b in (c, 0)))
            self.add(f"{name} (utf-32)", (b for c in secret for b in (c, 0, 0, 0)))
            return
        self.add(f"{name} (raw)", iter(secret))
        self.add(f"{name} (hex)", (HEX[b] for c in secret for b in (c >> 4, c & 15)))

    def view(self, offset: int, length: int) -> memoryview:
        return memoryview(self.mm)[offset:offset + length]

    def close(self) -> None:
        self.mm.close()


def _address(mm: mmap.mmap) -> int:
    import ctypes

    return ctypes.addressof(ctypes.c_char.from_buffer(mm))


def regions(skip: list[tuple[int, int]]) -> list[tuple[int, int, str]]:
    found = []
    with open("/proc/self/maps") as fh:
        lines = fh.read().splitlines()
    for line in lines:
        fields = line.split(maxsplit=5)
        span, perms = fields[0], fields[1]
        name = fields[5] if len(fields) > 5 else ""
        if "r" not in perms or name.strip() in SKIPPED:
            continue
        start, end = (int(x, 16) for x in span.split("-"))
        if any(s < end and start < e for s, e in skip):
            continue
        found.append((start, end, name.strip()))
    return found


def scan(arena: Arena) -> dict[str, list[tuple[int, str]]]:
    """Each needle's hits: (address, mapping name). Empty lists when nothing is found."""
    buffer = mmap.mmap(-1, CHUNK)
    hits: dict[str, list[tuple[int, str]]] = {name: [] for name, _, _ in arena.needles}
    try:
        base = _address(buffer)
        arena_base = _address(arena.mm)
        skip = [(base, base + CHUNK), (arena_base, arena_base + len(arena.mm))]
        longest = max(length for _, _, length in arena.needles)
        step = CHUNK - longest
        view = memoryview(buffer)
        fd = os.open("/proc/self/mem", os.O_RDONLY)
        try:
            for start, end, name in regions(skip):
                pos = start
                while pos < end:
                    want = min(CHUNK, end - pos)
                    try:
                        got = os.preadv(fd, [view[:want]], pos)
                    except OSError:
                        got = 0
                    if got > 0:
                        for needle, offset, length in arena.needles:
                            if length == 0:
                                continue
                            pattern = arena.view(offset, length)
                            at = buffer.find(pattern, 0, got)
                            while at != -1:
                                if at < step or pos + got >= end:  # else next chunk has it
                                    hits[needle].append((pos + at, name))
                                at = buffer.find(pattern, at + 1, got)
                    pos += step
        finally:
            os.close(fd)
        view.release()
    finally:
        buffer.close()
    return hits


def found(hits: dict[str, list[tuple[int, str]]]) -> dict[str, list[str]]:
    """The needles found, with where (for an assertion message)."""
    return {name: [f"{addr:#x} {where}" for addr, where in places[:5]]
            for name, places in hits.items() if places}
