"""``fieldclient``: the device from the command line (IT provisioning, support, scripts).

PINs are read from standard input, never from arguments (which other users can
see in the process list). Exit codes: 0 ok, 1 error, 2 usage, 3 wrong PIN or
locked out, 4 device erased, 5 device not set up.

One module per command group, each with ``register(parser: CommandParser)``; they share
only :mod:`fieldclient.cli.common`. Groups from the layers above ``fieldclient`` (the sync
commands of :mod:`sync.cli`) cannot be imported from here: they are declared as entry
points in the group ``gridfield.cli`` (``pyproject.toml``) and found at start.

May import every layer of ``fieldclient``; never ``sync``, ``central`` or Qt.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points
from pathlib import Path

from fieldclient import __version__
from fieldclient.cli import (
    audit,
    device,
    events,
    maps,
    patrol,
    photo,
    quota,
    review,
    search,
    tasks,
)
from fieldclient.cli.common import (
    EXIT_ERASED,
    EXIT_ERROR,
    EXIT_NOT_SET_UP,
    EXIT_USAGE,
    EXIT_WRONG_PIN,
    CommandParser,
    HelpParser,
    UsageError,
    data_dir_parent,
)
from fieldclient.errors import (
    DeviceErased,
    FieldClientError,
    NotSetUp,
    PinLockedOut,
    WrongPin,
)
from fieldclient.i18n import QT_TRANSLATE_NOOP
from fieldclient.paths import default_data_dir

ENTRY_POINT_GROUP = "gridfield.cli"
# The core's groups, in the order ``--help`` lists them.
CORE_GROUPS = (device, audit, photo, patrol, quota, review, tasks, events, search, maps)


def plugin_groups() -> list[Callable[[CommandParser], None]]:
    """The ``register`` functions of the command groups installed as entry points."""
    found = sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name)
    return [ep.load() for ep in found]


def build_parser() -> argparse.ArgumentParser:
    common = data_dir_parent()
    parser = HelpParser(
        prog="fieldclient", parents=[common], description=QT_TRANSLATE_NOOP(
            "cliHelp", "网格化服务管理外勤设备：命令行工具")
    )
    parser.add_argument("--version", action="version", version=__version__)
    commands = parser.add_subparsers(dest="command", required=True)
    groups = CommandParser(commands, common)
    for group in CORE_GROUPS:
        group.register(groups)
    for register in plugin_groups():
        register(groups)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The ``fieldclient`` command; run as the program (``argv`` None), it first hardens
    the process (:mod:`fieldclient.security.hardening`). Called with ``argv`` (tests, in
    their own process) it leaves the process as it is."""
    if argv is None:
        from fieldclient.security import hardening

        hardening.apply()
    parser = build_parser()
    args = parser.parse_args(argv)
    if "data_dir" not in args:
        args.data_dir = default_data_dir()
    try:
        return int(args.func(args))
    except UsageError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_USAGE
    except (WrongPin, PinLockedOut) as exc:
        print(exc.message(), file=sys.stderr)
        return EXIT_WRONG_PIN
    except DeviceErased as exc:
        print(exc.message(), file=sys.stderr)
        return EXIT_ERASED
    except NotSetUp as exc:
        print(exc.message(), file=sys.stderr)
        return EXIT_NOT_SET_UP
    except FieldClientError as exc:
        print(exc.message(), file=sys.stderr)
        return EXIT_ERROR
    except Exception as exc:  # a write that failed on a full disk: say so plainly
        from fieldclient.fsutil import storage_full

        full = storage_full(Path(args.data_dir), exc)
        if full is None:
            raise
        print(full.message(), file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
