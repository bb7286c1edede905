"""gridfield: start the field client. ``python main.py --help`` for options."""

import time

_STARTED = time.perf_counter()  # before any heavy import: start-up time counts from here

import gc  # noqa: E402
import sys  # noqa: E402

# No garbage collection until the PIN pad is painted (ui.app turns it back on then): start-up
# creates tens of thousands of objects (Qt's modules and enums, ours) and no garbage worth
# a scan of them all, which Python would otherwise run several times (issue 15).
gc.disable()

# The packages the app cannot start without (import names): looked for, not imported,
# so a Python without them (the system's, outside `make run`) gets a plain answer
# instead of a traceback.
REQUIRED = ("PySide6", "sqlcipher3", "sqlite_utils", "cryptography", "keyring", "platformdirs",
            "PIL", "pypinyin", "requests")


def missing_packages() -> list[str]:
    import importlib.util

    if getattr(sys, "frozen", False):  # a built bundle carries what it imports
        return []
    return [name for name in REQUIRED if importlib.util.find_spec(name) is None]


if __name__ == "__main__" and (absent := missing_packages()):
    sys.stderr.write(
        f"gridfield: this Python ({sys.executable}) does not have the packages the app "
        f"needs: {', '.join(absent)}.\n"
        "Start it with `make run` (sets everything up, with demo data), or set it up once\n"
        "with `make setup` and then run `.venv/bin/python main.py --data-dir DIR`.\n")
    sys.exit(1)

from fieldclient.security import hardening  # noqa: E402

hardening.restart_with_scrubbing_allocator()  # freed memory overwritten (glibc); may exec
hardening.apply()  # not dumpable, no core files, umask 0o077: before anything is unlocked

from ui.app import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(sys.argv, t0=_STARTED))
