"""The shared review computation's fast paths (issue 13: the device's month in 500 ms)
give exactly what the plain one-by-one versions give: the same-text normalisation of a
month's notes in one pass, the visit checks with their distance shortcuts and local
hours from quarter-hour offsets, the visits counted per category in C. Each is compared
with a reference written the obvious way, on random data built to hit the edges (final
sigma, NFKC across text ends, NUL in a note, high latitudes, the box around a home,
minute and hour boundaries, a zone with daylight saving time)."""

from __future__ import annotations

import math
import random
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from sync.protocol import quotarules
from sync.protocol import review as rv

# letters that change under NFKC or lower() in context, combining marks that compose
# across a text's end, NUL, fullwidth punctuation and symbols that NFKC turns to words
_TRICKY = ("aZΣσςΟΔΟΣ\u0301\u0308\u0345ｱﾞＡ①：，；！？（）_ \t\nİẞﬁ가ᄀ하ᅡᆨǅ\x00＿︳㏂™"
           "情况稳定老人身体好")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet=_TRICKY, max_size=8), max_size=6)
       | st.lists(st.text(max_size=8), max_size=6))
def test_normal_texts_is_normal_text_of_each(texts: list[str]) -> None:
    assert rv._normal_texts(texts) == [rv._normal_text(t) for t in texts]


def _reference_visit_checks(visits: list[rv.Visit], households: dict[str, rv.Household],
                            rules: rv.ReviewRules, zone: Any) -> list[tuple[str, dict]]:
    """The visit checks the plain way: exact distances always, local time from a
    datetime for every visit."""
    out: list[tuple[str, dict[str, Any]]] = []
    checks = rules.checks
    far, night, rapid = (checks.get("far_from_home"), checks.get("night"),
                         checks.get("rapid_visits"))
    previous: dict[str, rv.Visit] = {}
    clock = rv._LocalClock(zone)
    for v in visits:
        if v.visit_type not in rv.ON_SITE_TYPES:
            continue
        if v.lat is None or v.lon is None:
            if "no_position" in checks:
                out.append((v.person_id, rv._flag("no_position", v.id)))
        else:
            home = households.get(v.household_id)
            if far is not None and home is not None and home.lat is not None \
                    and home.lon is not None:
                gap = rv.distance_m(v.lat, v.lon, home.lat, home.lon)
                if gap > far["max_distance_m"]:
                    out.append((v.person_id, rv._flag(
                        "far_from_home", v.id, distance_m=round(gap),
                        limit_m=far["max_distance_m"])))
            last = previous.get(v.person_id)
            if rapid is not None and last is not None:
                assert last.lat is not None and last.lon is not None
                minutes = (v.visited_at - last.visited_at) / 60
                gap = rv.distance_m(v.lat, v.lon, last.lat, last.lon)
                if minutes <= rapid["within_minutes"] and gap >= rapid["min_distance_m"]:
                    out.append((v.person_id, rv._flag(
                        "rapid_visits", v.id, minutes=round(minutes), distance_m=round(gap),
                        previous=last.id)))
            previous[v.person_id] = v
        if night is not None:
            low, high = int(night["from_hour"]), int(night["to_hour"])
            moment = clock.at(v.visited_at)
            hour = clock.hour(v.visited_at)  # as it always was (at() may round up a µs)
            if (hour >= low or hour < high) if low > high else (low <= hour < high):
                out.append((v.person_id, rv._flag("night", v.id,
                                                  time=moment.strftime("%H:%M"))))
    return out


def _random_visits(rng: random.Random, zone: Any, n: int = 400
                   ) -> tuple[list[rv.Visit], dict[str, rv.Household]]:
    """Visits around homes at all latitudes (most at the door, some a box's width off,
    some far), at times near minute and hour boundaries and a daylight-saving change."""
    homes: dict[str, rv.Household] = {}
    for i in range(30):
        lat = rng.choice([30.0, 52.5, 69.9, 70.1, 78.0, -45.0, 89.99]) + rng.uniform(-0.1, 0.1)
        position = (None, None) if i % 9 == 0 else (lat, rng.uniform(-179.0, 179.0))
        homes[f"h{i}"] = rv.Household(f"h{i}", "g1", "hardship", 0.0, None, *position)
    base = datetime(2026, 3, 28, 20, tzinfo=zone).timestamp()  # Europe: DST on the 29th
    visits = []
    for i in range(n):
        hid = f"h{rng.randrange(30)}"
        home = homes[hid]
        if home.lat is None or home.lon is None or rng.random() < 0.1:
            lat, lon = ((None, None) if rng.random() < 0.5
                        else (rng.uniform(-80, 80), rng.uniform(-179, 179)))
        else:
            metres = rng.choice([0.0, 5.0, 150.0, 189.0, 191.0, 250.0, 269.0, 271.0, 299.0,
                                 301.0, 2000.0, 90_000.0])
            bearing = rng.uniform(0, 2 * math.pi)
            lat = home.lat + metres * math.cos(bearing) / 111_195.0
            lon = home.lon + metres * math.sin(bearing) / 111_195.0 / max(
                0.01, math.cos(math.radians(home.lat)))
        when = base + rng.choice([rng.uniform(0, 3 * 86400),
                                  rng.randrange(0, 3 * 86400, 60) - rng.choice(
                                      [0.0, 1e-7, 4e-7, 6e-7, 1e-6, 2e-6]),
                                  rng.randrange(0, 3 * 86400, 3600) + rng.choice(
                                      [-1e-6, 0.0, 1e-6])])
        visits.append(rv.Visit(f"v{i:04d}", rng.choice("123"), hid,
                               rng.choice(["home", "home", "revisit", "phone", "other"]),
                               when, lat, lon))
    visits.sort(key=lambda v: (v.visited_at, v.id))
    return visits, homes


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32), st.sampled_from(["Asia/Shanghai", "Europe/Berlin"]),
       st.sampled_from([(300, 10, 800, 22, 6), (1, 1, 1, 0, 23), (100_000, 1440, 1, 6, 22),
                        (50, 30, 100, 5, 5)]))
def test_visit_checks_are_those_of_the_plain_version(
        seed: int, zone_name: str, limits: tuple[int, int, int, int, int]) -> None:
    far, within, apart, night_from, night_to = limits
    rules = rv.parse_review_rules({
        "checks": {"far_from_home": {"max_distance_m": far}, "no_position": {},
                   "rapid_visits": {"within_minutes": within, "min_distance_m": apart},
                   "night": {"from_hour": night_from, "to_hour": night_to}},
        "score": rv.default_review_rules().as_json()["score"]})
    zone = ZoneInfo(zone_name)
    visits, homes = _random_visits(random.Random(seed), zone)
    assert rv._visit_checks(visits, homes, rules, zone) == \
        _reference_visit_checks(visits, homes, rules, zone)


def test_the_box_never_passes_a_visit_beyond_the_limit() -> None:
    """The box that spares the flat estimate lies inside its circle, at every latitude."""
    rng = random.Random(13)
    for _ in range(20_000):
        limit = rng.choice([1, 30, 300, 5000, 100_000])
        box = math.degrees(0.9 * limit / math.sqrt(2) / 6_371_008.8)
        lat = rng.uniform(-89.9, 89.9)
        lat2 = lat + rng.uniform(-box, box) * 0.999999
        lon = rng.uniform(-179, 179)
        lon2 = lon + rng.uniform(-box, box) * 0.999999
        assert rv.distance_m(lat, lon, lat2, lon2) < limit


def test_visits_by_category_keep_their_first_seen_order() -> None:
    """Categories outside the rules' (and unknown households) come after the rules'
    three in the order the month's visits first show them, as when counted one by one."""
    homes = [rv.Household("h1", "g1", "elderly", 0.0, None, 30.0, 120.0),
             rv.Household("h2", "g1", "key", 0.0, None, 30.0, 120.0)]
    start = datetime(2026, 3, 2, 10, tzinfo=rv.CHINA).timestamp()
    visits = [rv.Visit("v1", "1", "gone", "phone", start),
              rv.Visit("v2", "1", "h1", "phone", start + 60),
              rv.Visit("v3", "1", "h2", "phone", start + 120),
              rv.Visit("v4", "2", "h1", "phone", start + 180)]
    result = rv.month_figures(
        "2026-03", people=[rv.Person("1", "甲", ("g1",)), rv.Person("2", "乙", ("g1",))],
        households=homes, visits=visits, patrols=[], events=[],
        quota_rules=quotarules.default_rules(), review_rules=rv.default_review_rules(),
        now=datetime(2026, 4, 1, tzinfo=rv.CHINA).timestamp())
    by_person = {w["person_id"]: w for w in result["workers"]}
    assert list(by_person["1"]["visits_by_category"].items()) == [
        ("ordinary", 0), ("hardship", 0), ("key", 1), ("unknown", 1), ("elderly", 1)]
    assert by_person["1"]["visits"] == 3 and by_person["2"]["visits"] == 1
