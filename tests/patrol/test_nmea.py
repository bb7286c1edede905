"""NMEA 0183 parsing with the real BeiDou logs, broken input, fuzzing, and replay."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from patrol_helpers import nmea_log

from fieldclient.geo import nmea
from fieldclient.geo.nmea import FixAssembler, NmeaParser, NmeaReplayer, read_fixes


def with_checksum(body: str) -> str:
    return f"${body}*{nmea.checksum(body):02X}"


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds")


def test_beidou_bd_log_gives_its_fixes() -> None:
    parser = NmeaParser()
    fixes = list(read_fixes(nmea_log("beidou-bd.log"), parser=parser))
    assert [iso(f.t) for f in fixes] == [
        f"2015-02-25T07:41:{s}.799+00:00" for s in (55, 56, 57, 58, 59)
    ]
    first = fixes[0]
    assert first.lat == pytest.approx(31 + 14.8770 / 60)
    assert first.lon == pytest.approx(121 + 35.2463 / 60)
    assert (first.hdop, first.satellites, first.quality, first.alt) == (1.3, 5, 1, 156.9)
    assert first.speed_mps == pytest.approx(0.30 * 1852 / 3600)
    assert all(f.valid for f in fixes)
    for f in fixes:
        assert f.lat == pytest.approx(31.2479, abs=0.001)
        assert f.lon == pytest.approx(121.5874, abs=0.001)
    stats = parser.stats
    assert stats.bad_checksum == 0 and stats.malformed == 0
    assert stats.lines == 94
    text = nmea_log("beidou-bd.log").read_text("ascii").splitlines()
    assert stats.junk == sum(line.startswith("#") for line in text)  # gpsd's header
    wanted = ("GGA", "GNS", "RMC", "GSA")
    # the line with a leading space ($GNRMC) counts too
    assert stats.sentences == sum(line.strip()[3:6] in wanted for line in text) == 50
    assert stats.sentences + stats.ignored + stats.blank + stats.junk == stats.lines


def test_beidou_gb_log_gives_its_fixes() -> None:
    parser = NmeaParser()
    fixes = list(read_fixes(nmea_log("beidou-gb.log"), parser=parser))
    assert [iso(f.t) for f in fixes] == [
        "2015-03-02T05:32:32.438+00:00",
        "2015-03-02T05:32:33.438+00:00",
    ]
    assert fixes[0].lat == pytest.approx(31 + 14.8789 / 60)
    assert fixes[0].hdop == 1.2  # from $GPGGA; $GNGSA has 1.2 too
    assert parser.stats.bad_checksum == parser.stats.malformed == 0


def test_every_line_of_the_real_logs_is_accounted_for() -> None:
    for name in ("beidou-bd.log", "beidou-gb.log"):
        parser = NmeaParser()
        lines = nmea_log(name).read_bytes().splitlines()
        for line in lines:
            parser.feed(line)
        s = parser.stats
        assert s.lines == len(lines)
        assert s.sentences + s.ignored + s.blank + s.junk + s.bad_checksum + s.malformed == s.lines


@pytest.mark.parametrize("talker", ["GP", "BD", "GB", "GN", "GL", "GA"])
def test_every_talker_is_understood(talker: str) -> None:
    lines = [
        with_checksum(f"{talker}GGA,074155.799,3114.8770,N,12135.2463,E,1,05,1.3,156.9,M,8.3,M,,"),
        with_checksum(f"{talker}GSA,A,3,25,32,,,,,,,,,,,5.1,1.3,4.9"),
        with_checksum(f"{talker}RMC,074155.799,A,3114.8770,N,12135.2463,E,0.30,4.94,250215,,,A"),
    ]
    parser = NmeaParser()
    fixes = list(read_fixes(lines, parser=parser))
    assert len(fixes) == 1 and fixes[0].valid
    assert parser.stats.sentences == 3


def test_no_fix_sentences_give_invalid_or_no_fixes() -> None:
    lines = [
        with_checksum("GNGGA,100000.00,3114.8770,N,12135.2463,E,0,00,,,M,,M,,"),
        with_checksum("GNRMC,100000.00,V,3114.8770,N,12135.2463,E,,,250215,,,N"),
        with_checksum("GNGGA,100001.00,,,,,0,00,,,M,,M,,"),
    ]
    fixes = list(read_fixes(lines))
    assert len(fixes) == 1 and not fixes[0].valid


def test_gst_gives_accuracy_and_south_west_hemispheres() -> None:
    lines = [
        with_checksum("GPGGA,120000.00,3351.0000,S,15112.0000,W,2,09,0.9,10.0,M,,M,,"),
        with_checksum("GPGST,120000.00,2.1,3.0,2.0,45.0,3.0,4.0,5.0"),
        with_checksum("GPZDA,120000.00,31,12,2024,00,00"),
    ]
    (fix,) = read_fixes(lines)
    assert fix.lat == pytest.approx(-(33 + 51 / 60)) and fix.lon == pytest.approx(-(151 + 12 / 60))
    assert fix.accuracy_m == pytest.approx(5.0)
    assert iso(fix.t) == "2024-12-31T12:00:00.000+00:00"


def test_day_rolls_over_at_midnight_without_dates() -> None:
    lines = [
        with_checksum("GNGGA,235959.00,3114.8770,N,12135.2463,E,1,05,1.3,1,M,,M,,"),
        with_checksum("GNGGA,000000.00,3114.8770,N,12135.2463,E,1,05,1.3,1,M,,M,,"),
    ]
    fixes = list(read_fixes(lines, default_date=date(2024, 2, 28)))
    assert [iso(f.t)[:19] for f in fixes] == ["2024-02-28T23:59:59", "2024-02-29T00:00:00"]
    assert fixes[1].t - fixes[0].t == pytest.approx(1.0)


def test_without_any_date_fixes_are_held_back() -> None:
    assembler = FixAssembler()
    lines = [with_checksum("GNGGA,120000.00,3114.8770,N,12135.2463,E,1,05,1.3,1,M,,M,,")]
    assert list(read_fixes(lines, assembler=assembler)) == []
    assert assembler.without_date == 1


def corrupt(lines: list[bytes], rng: random.Random) -> list[bytes]:
    out: list[bytes] = []
    for line in lines:
        roll = rng.random()
        if roll < 0.15 and len(line) > 10:
            pos = rng.randrange(1, len(line) - 4)
            out.append(line[:pos] + bytes([line[pos] ^ 0x04]) + line[pos + 1 :])  # flipped bit
        elif roll < 0.25:
            out.append(line[: rng.randrange(0, len(line) + 1)])  # cut short
        elif roll < 0.30:
            out.append(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 120))))
        else:
            out.append(line)
        if rng.random() < 0.05:
            out.append(b"\x00\xff\xfe garbage $$$ ** \r\n")
    return out


def test_corrupted_copy_is_read_without_failing(tmp_path: Path) -> None:
    original = nmea_log("beidou-bd.log").read_bytes().splitlines(keepends=True)
    good = {f.t: f for f in read_fixes(original)}
    rng = random.Random(4)
    for round_ in range(20):
        broken = tmp_path / f"broken-{round_}.log"
        broken.write_bytes(b"".join(corrupt(original, rng)))
        parser = NmeaParser()
        fixes = list(read_fixes(broken, parser=parser))
        assert parser.stats.skipped > 0
        for fix in fixes:  # nothing invented: every fix is one of the real ones
            assert fix.t in good
            assert fix.lat == pytest.approx(good[fix.t].lat, abs=1e-4)


def test_broken_lines_are_counted(tmp_path: Path) -> None:
    good = with_checksum("GNRMC,074155.799,A,3114.8770,N,12135.2463,E,0.30,4.94,250215,,,A")
    lines = [
        good,
        good[:-2] + "00",  # bad checksum
        good[:30],  # truncated
        "junk line without a dollar",
        "$GNRMC,074155.799,A,9914.8770,N,12135.2463,E,0.30,4.94,250215,,,A*00",
        with_checksum("GNRMC,074155.799,A,9914.8770,N,12135.2463,E,0.30,4.94,250215,,,A"),
        with_checksum("GNRMC,256061.000,A,3114.8770,N,12135.2463,E,,,250215,,,A"),
        with_checksum("GNRMC,074155.799,A,3114.8770,N,12135.2463,E,nan,,250215,,,A"),
        with_checksum("GNRMC,074155.799,A,3114.8770,N,12135.2463,E,,,310215,,,A"),
        "",
    ]
    parser = NmeaParser()
    for line in lines:
        parser.feed(line)
    s = parser.stats
    assert (s.sentences, s.bad_checksum, s.blank) == (1, 2, 1)
    assert s.malformed == 5 and s.junk == 1


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=120), max_size=30))
def test_parser_never_raises_on_arbitrary_text(lines: list[str]) -> None:
    parser = NmeaParser()
    list(read_fixes(lines, default_date=date(2024, 1, 1), parser=parser))
    assert parser.stats.lines == len(lines)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_parser_never_raises_on_arbitrary_bytes(blob: bytes) -> None:
    list(read_fixes(blob.splitlines(), default_date=date(2024, 1, 1)))


FIELD = st.one_of(
    st.just(""),
    st.from_regex(r"[0-9]{1,8}(\.[0-9]{0,6})?", fullmatch=True),
    st.sampled_from(["A", "V", "N", "S", "E", "W", "M", "-1", "1e9", "nan", "inf", "ÿ", "*"]),
    st.text(max_size=6),
)


@settings(max_examples=500, deadline=None)
@given(
    st.sampled_from(["GP", "BD", "GB", "GN", "GL", "GA"]),
    st.sampled_from(["RMC", "GGA", "GNS", "GSA", "GST", "ZDA"]),
    st.lists(FIELD, max_size=22),
)
def test_parser_never_raises_on_checksummed_nonsense(
    talker: str, kind: str, fields: list[str]
) -> None:
    """Sentences that pass the checksum but carry any field values at all."""
    line = with_checksum(",".join([talker + kind, *fields]))
    parser = NmeaParser()
    fixes = list(read_fixes([line, line], default_date=date(2024, 1, 1), parser=parser))
    for fix in fixes:
        assert -90 <= fix.lat <= 90 and -180 <= fix.lon <= 180


def test_replayer_yields_fixes_with_their_delays() -> None:
    path = nmea_log("beidou-bd.log")
    steps = list(NmeaReplayer(path).steps())
    assert [round(s.delay_s, 3) for s in steps] == [0.0, 1.0, 1.0, 1.0, 1.0]
    assert [s.fix for s in steps] == list(read_fixes(path))
    assert [round(s.delay_s, 3) for s in NmeaReplayer(path, speed=10).steps()][1] == 0.1
    replayer = NmeaReplayer(path)
    assert len(list(replayer)) == 5
    assert replayer.stats.lines == 94


def test_replayer_plays_in_time_loops_and_rebases() -> None:
    path = nmea_log("beidou-gb.log")
    slept: list[float] = []
    now = iter(range(1_700_000_000, 1_700_000_100))
    replayer = NmeaReplayer(path, loop=True)
    played = []
    for fix in replayer.play(sleep=slept.append, rebase=lambda: float(next(now))):
        played.append(fix)
        if len(played) == 6:
            break
    assert slept == [1.0, 1.0, 1.0, 1.0, 1.0]
    assert [f.t for f in played] == [float(1_700_000_000 + i) for i in range(6)]
    # looped without rebase: time keeps going forward
    times = []
    for step in NmeaReplayer(path, loop=True).steps():
        times.append(step.fix.t)
        if len(times) == 6:
            break
    assert all(b > a for a, b in itertools.pairwise(times))


def test_replayer_accepts_lines_in_memory() -> None:
    lines = nmea_log("beidou-bd.log").read_text("ascii").splitlines()
    assert len(list(NmeaReplayer(lines))) == 5
    assert len(list(NmeaReplayer(lines))) == 5  # can be iterated again
