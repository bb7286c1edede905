"""gridfield: start the field client. ``python main.py --help`` for options."""

import time

_STARTED = time.perf_counter()  # before any heavy import: start-up time counts from here

import sys  # noqa: E402

from fieldclient.security import hardening  # noqa: E402

hardening.restart_with_scrubbing_allocator()  # freed memory overwritten (glibc); may exec
hardening.apply()  # not dumpable, no core files, umask 0o077: before anything is unlocked

from ui.app import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(sys.argv, t0=_STARTED))
