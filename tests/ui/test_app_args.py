"""main.py's options are read without argparse when they are plain (issue 15, start-up):
that reading must give what argparse gives, and leave everything else to argparse."""

from __future__ import annotations

import argparse
import contextlib
import io
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from ui.app import _parse_plain, _parser, parse_args

OPTIONS = ["--data-dir", "--lang", "--gps", "--exit-after-startup", "--fullscreen",
           "--version", "-h", "--help", "--data", "--full", "--", "-"]
VALUES = ["/tmp/device", "", "zh_CN", "en", "fr", "system", "nmea-serial:/dev/ttyUSB0",
          "nmea-file:", " system ", "-1", "--lang", "a=b", "设备", "x y"]
token = st.one_of(
    st.sampled_from(OPTIONS), st.sampled_from(VALUES),
    st.builds(lambda o, v: f"{o}={v}", st.sampled_from(OPTIONS), st.sampled_from(VALUES)),
    st.text(max_size=6),
)


def _argparse(argv: list[str]) -> argparse.Namespace | None:
    """argparse's answer, None where it would exit (help, version, an error)."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            return _parser().parse_args(argv)
        except SystemExit:
            return None


@settings(max_examples=400, deadline=None)
@given(st.lists(token, max_size=6))
def test_the_plain_reading_gives_what_argparse_gives(argv: list[str]) -> None:
    plain = _parse_plain(argv)
    if plain is not None:
        assert plain == _argparse(argv)


def test_a_usual_start_is_read_plainly_and_the_rest_by_argparse() -> None:
    usual = ["--data-dir", "/srv/device", "--lang=en", "--fullscreen", "--gps", "system",
             "--exit-after-startup"]
    assert _parse_plain(usual) == _argparse(usual) == argparse.Namespace(
        data_dir=Path("/srv/device"), lang="en", exit_after_startup=True, fullscreen=True,
        gps="system")
    assert _parse_plain([]) == _argparse([])
    for other in (["--version"], ["--help"], ["--data", "x"], ["--lang", "fr"],
                  ["--fullscreen", "--fullscreen"], ["--gps", "bluetooth"], ["--data-dir"],
                  ["stray"]):
        assert _parse_plain(other) is None, other
    assert parse_args(["--data", "x"]).data_dir == Path("x")  # argparse's abbreviation
