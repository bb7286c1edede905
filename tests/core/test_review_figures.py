"""The shared monthly review figures (sync.protocol.review): each check fires on a
constructed case and stays quiet on a clean one; counts, overdue households and the
score follow the rules as data."""

from __future__ import annotations

import copy
import json
from datetime import datetime
from typing import Any

import pytest

from sync.protocol import quotarules
from sync.protocol import review as rv

ZONE = rv.CHINA
HOME = (30.0, 120.0)  # the household's known position
MONTH = "2026-03"


def at(day: int, hour: int, minute: int = 0, month: int = 3) -> float:
    return datetime(2026, month, day, hour, minute, tzinfo=ZONE).timestamp()


NOW = at(31, 23, 59)


def north(metres: float) -> tuple[float, float]:
    return HOME[0] + metres / 111_195.0, HOME[1]


def households(n: int = 4, grid: str = "g1") -> list[rv.Household]:
    return [rv.Household(f"h{i}", grid, "hardship", at(1, 0, month=1), at(2, 10, month=3),
                         *north(i * 2000)) for i in range(n)]


def visit(vid: str, hid: str, when: float, pos: tuple[float, float] | None, **kw: Any
          ) -> rv.Visit:
    lat, lon = pos if pos is not None else (None, None)
    return rv.Visit(vid, kw.pop("person_id", "1"), hid, kw.pop("visit_type", "home"), when,
                    lat, lon, **kw)


def clean_visits() -> list[rv.Visit]:
    """One visit a day to each household, at its door, in daytime, each its own text."""
    return [visit(f"v{i}", f"h{i}", at(2 + i, 10), north(i * 2000),
                  text=f"第{i}户情况稳定，老人身体{'好' * (i + 1)}，无新需求。",
                  photo_sha256=(f"{i:064x}",)) for i in range(4)]


def clean_patrols() -> list[rv.Patrol]:
    return [rv.Patrol(f"p{d}", "1", "g1", at(d, 8), at(d, 9), 2500.0, 120)
            for d in range(1, 32)]


def figures(visits: list[rv.Visit] | None = None, patrols: list[rv.Patrol] | None = None,
            events: list[rv.Event] | None = None, rules: rv.ReviewRules | None = None,
            homes: list[rv.Household] | None = None, now: float = NOW) -> dict[str, Any]:
    return rv.month_figures(
        MONTH, people=[rv.Person("1", "张三", ("g1",)), rv.Person("2", "李四", ("g1",))],
        households=households() if homes is None else homes,
        visits=clean_visits() if visits is None else visits,
        patrols=clean_patrols() if patrols is None else patrols,
        events=events or [], quota_rules=quotarules.default_rules(),
        review_rules=rules or rv.default_review_rules(), now=now, zone=ZONE)


def worker(result: dict[str, Any], person_id: str = "1") -> dict[str, Any]:
    return next(w for w in result["workers"] if w["person_id"] == person_id)


def checks(result: dict[str, Any], person_id: str = "1") -> list[tuple[str, str]]:
    return [(f["check"], f["record_id"]) for f in worker(result, person_id)["flags"]]


def test_a_clean_month_has_no_flags_and_full_marks() -> None:
    result = figures()
    me = worker(result)
    assert me["flags"] == []
    assert me["visits"] == 4 and me["visits_by_category"]["hardship"] == 4
    assert me["patrol_days"] == 31 and me["patrol_target"] == 31 and me["patrol_done"] == 31
    assert me["overdue_households"] == 0 and me["score"] == 100.0
    assert me["quota"]["hardship"] == {"households": 4, "visited": 4, "overdue": 0}


def test_far_from_home_and_no_position() -> None:
    visits = clean_visits()
    visits[1] = visit("v1", "h1", at(3, 10), north(2000 + 1200), text="一")
    visits[2] = visit("v2", "h2", at(4, 10), None, text="二")
    visits.append(visit("v9", "h3", at(9, 10), None, visit_type="phone"))  # no place needed
    result = figures(visits)
    assert checks(result) == [("far_from_home", "v1"), ("no_position", "v2")]
    flag = worker(result)["flags"][0]
    assert flag["detail"]["distance_m"] == 1200 and "1200米" in flag["reason"]
    near = clean_visits()
    near[1] = visit("v1", "h1", at(3, 10), north(2000 + 250), text="一")  # inside 300 m
    assert checks(figures(near)) == []


def test_visits_minutes_apart_far_from_each_other() -> None:
    visits = clean_visits()
    visits[1] = visit("v1", "h1", visits[0].visited_at + 5 * 60, north(2000), text="甲")
    result = figures(visits)
    assert checks(result) == [("rapid_visits", "v1")]
    assert worker(result)["flags"][0]["detail"] == {"minutes": 5, "distance_m": 2000,
                                                   "previous": "v0"}
    # the same two visits an hour apart: plausible
    visits[1] = visit("v1", "h1", visits[0].visited_at + 60 * 60, north(2000), text="甲")
    assert checks(figures(visits)) == []
    # minutes apart next door (neighbours): plausible
    homes = households()
    homes[1] = rv.Household("h1", "g1", "hardship", at(1, 0, month=1), None, *north(100))
    visits[1] = visit("v1", "h1", visits[0].visited_at + 5 * 60, north(100), text="甲")
    assert checks(figures(visits, homes=homes)) == []


def test_short_patrol_and_patrol_without_track() -> None:
    patrols = clean_patrols()
    patrols[3] = rv.Patrol("p4", "1", "g1", at(4, 8), at(4, 8, 6), 2500.0, 120)
    patrols[4] = rv.Patrol("p5", "1", "g1", at(5, 8), at(5, 9), 30.0, 3)
    result = figures(patrols=patrols)
    assert checks(result) == [("no_track", "p5"), ("short_patrol", "p4")]
    assert worker(result)["flags"][1]["detail"]["minutes"] == 6


def test_the_same_photo_in_several_records() -> None:
    visits = clean_visits()
    visits[3] = visit("v3", "h3", at(5, 10), north(6000), text="独立的内容，第三户很好。",
                      photo_sha256=("0" * 64,))
    patrols = clean_patrols()
    patrols[9] = rv.Patrol("p10", "1", "g1", at(10, 8), at(10, 9), 2500.0, 120,
                           photo_sha256=("0" * 64,))
    result = figures(visits, patrols)
    assert checks(result) == [("same_photo", "p10"), ("same_photo", "v3")]
    assert {f["detail"]["first"] for f in worker(result)["flags"]} == {"v0"}


def test_the_same_text_pasted_across_visits() -> None:
    pasted = "入户走访，家中一切正常，老人身体健康，无困难诉求。"
    visits = clean_visits()
    for i in (1, 2):
        visits[i] = visit(f"v{i}", f"h{i}", at(2 + i, 10), north(i * 2000),
                          text=pasted.replace("，", " , ") if i == 2 else pasted)
    result = figures(visits)
    assert checks(result) == [("same_text", "v2")]
    # a short formula ("正常") repeats honestly; the same household's own follow-up too
    visits = clean_visits()
    visits[1] = visit("v1", "h1", at(3, 10), north(2000), text="正常")
    visits[2] = visit("v2", "h2", at(4, 10), north(4000), text="正常")
    visits.append(visit("v5", "h0", at(20, 10), north(0), text=visits[0].text))
    assert checks(figures(visits)) == []


def test_visits_at_night() -> None:
    visits = clean_visits()
    visits[2] = visit("v2", "h2", at(4, 23, 30), north(4000), text="夜里")
    visits[3] = visit("v3", "h3", at(5, 5, 10), north(6000), text="清晨")
    visits.append(visit("v8", "h1", at(6, 23), None, visit_type="phone", text="电话"))
    result = figures(visits)
    assert checks(result) == [("night", "v2"), ("night", "v3")]
    visits[2] = visit("v2", "h2", at(4, 21, 59), north(4000), text="傍晚")
    visits[3] = visit("v3", "h3", at(5, 6, 0), north(6000), text="早上")
    assert checks(figures(visits)) == []


def test_corrections_training_and_other_months_do_not_count() -> None:
    visits = [*clean_visits(),
              visit("c1", "h1", at(10, 10), None, correction=True),
              visit("t1", "h1", at(10, 23), None, training=True),
              visit("old", "h1", at(28, 10, month=2), None)]
    result = figures(visits)
    assert worker(result)["visits"] == 4 and checks(result) == []


def test_overdue_households_follow_the_quota_rules() -> None:
    homes = households()
    homes[0] = rv.Household("h0", "g1", "hardship", at(1, 0, month=1), at(20, 10, month=1))
    homes[1] = rv.Household("h1", "g1", "ordinary", at(1, 0, month=1), None)  # half year
    homes[2] = rv.Household("h2", "g1", "key", at(15, 0), None)  # new this month
    homes[3] = rv.Household("h3", "g2", "hardship", 0.0, None)  # another grid
    result = figures(visits=[], patrols=[], homes=homes)
    me = worker(result)
    assert me["overdue_households"] == 1 and me["quota"]["hardship"]["overdue"] == 1
    assert me["quota"]["ordinary"] == {"households": 1, "visited": 0, "overdue": 0}
    # the same verdicts as the Today page's quotas (household_due_date)
    moment = quotarules.local_time(NOW, ZONE)
    for h in homes[:3]:
        rule = next(r for r in quotarules.default_rules() if r.category == h.category)
        _, overdue = quotarules.household_due_date(
            rule, quotarules.span_at(rule, moment), h.last_visit_at, h.registered_at, ZONE)
        assert overdue is (h.id == "h0")


def test_events_and_the_score() -> None:
    events = [rv.Event("e1", "1", at(3, 9), at(9, 9)), rv.Event("e2", "1", at(4, 9)),
              rv.Event("e0", "1", at(20, 9, month=2), at(2, 9)),
              rv.Event("et", "1", at(4, 9), training=True)]
    patrols = [p for p in clean_patrols() if p.id not in ("p1", "p2", "p3")]
    result = figures(patrols=patrols, events=events)
    me = worker(result)
    assert (me["events_reported"], me["events_closed"]) == (2, 2)
    assert me["patrol_days"] == 28
    # 40 × 28/31 + 40 + 20 × min(1, 2/2)
    assert me["score"] == round(40 * 28 / 31 + 60, 1)
    other = worker(result, "2")
    assert other["patrol_days"] == 0 and other["score"] == 60.0
    assert [w["person_id"] for w in result["workers"]] == ["2", "1"]  # worst first


def test_flags_cost_points_up_to_the_cap() -> None:
    visits = [visit(f"n{i}", "h0", at(2 + i, 23), HOME, text=f"夜{i}") for i in range(12)]
    me = worker(figures(visits))
    assert len(me["flags"]) == 12 and me["score"] == 60.0  # 100 - min(40, 12 × 5)


def test_the_current_month_counts_up_to_now() -> None:
    now = at(10, 12)
    result = figures(now=now)
    me = worker(result)
    assert (me["patrol_target"], me["patrol_days"], me["visits"]) == (10, 10, 4)
    assert result["until"] == "2026-03-10T12:00:00" and me["score"] == 100.0
    early = worker(figures(now=at(10, 8, 30)))  # the 10th's patrol is not done yet
    assert (early["patrol_target"], early["patrol_days"]) == (10, 9)


def test_review_rules_are_data_and_checked() -> None:
    data = json.loads(rv.DEFAULT_REVIEW_RULES_FILE.read_text("utf-8"))
    assert rv.parse_review_rules(data) == rv.default_review_rules()
    fewer = copy.deepcopy(data)
    del fewer["checks"]["night"]
    visits = clean_visits()
    visits[0] = visit("v0", "h0", at(2, 23), HOME, text="夜")
    assert checks(figures(visits, rules=rv.parse_review_rules(fewer))) == []
    stricter = copy.deepcopy(data)
    stricter["checks"]["far_from_home"]["max_distance_m"] = 10
    visits = clean_visits()
    visits[0] = visit("v0", "h0", at(2, 10), north(50), text="近")
    assert checks(figures(visits, rules=rv.parse_review_rules(stricter))) == [
        ("far_from_home", "v0")]
    for broken, message in [
        ({"checks": {}}, "expected"),
        ({**data, "checks": {"psychic": {}}}, "unknown check"),
        ({**data, "checks": {"night": {"from_hour": 25, "to_hour": 6}}}, "from 0 to 23"),
        ({**data, "checks": {"night": {"from_hour": 22}}}, "with from_hour, to_hour"),
        ({**data, "score": {**data["score"], "events": 30}}, "must be 100"),
        ({**data, "score": {**data["score"], "patrol": True}}, "a number"),
    ]:
        with pytest.raises(rv.InvalidReviewRules, match=message):
            rv.parse_review_rules(broken)


@pytest.mark.parametrize("month", ["2026-13", "2026-3", "26-03", "march", "1969-12"])
def test_a_bad_month_is_refused(month: str) -> None:
    with pytest.raises(rv.InvalidMonth):
        rv.month_window(month, NOW)


def test_a_grid_narrows_people_and_households() -> None:
    homes = [*households(), rv.Household("x", "g2", "key", 0.0, None)]
    result = rv.month_figures(
        MONTH, people=[rv.Person("1", "张三", ("g1", "g2")), rv.Person("3", "王五", ("g3",))],
        households=homes, visits=clean_visits(), patrols=[], events=[],
        quota_rules=quotarules.default_rules(), review_rules=rv.default_review_rules(),
        now=NOW, zone=ZONE, grid="g2")
    assert [w["person_id"] for w in result["workers"]] == ["1"]
    me = result["workers"][0]
    assert me["grid_ids"] == ["g2"] and me["visits"] == 0 and me["overdue_households"] == 1


def test_closed_at_reads_the_history() -> None:
    assert rv.closed_at([("accepted", "2026-03-02T01:00:00+00:00"),
                         ("resolved", "2026-03-04T01:00:00+00:00"),
                         ("closed", "2026-03-05T01:00:00+00:00")]) == datetime.fromisoformat(
        "2026-03-04T01:00:00+00:00").timestamp()
    assert rv.closed_at([("returned", "2026-03-02T01:00:00Z"), ("resolved", "junk")]) is None


def test_the_device_translates_every_reason() -> None:
    from fieldclient.fieldwork import review

    assert review.REASONS == rv.REASONS
    flag = rv._flag("far_from_home", "v1", distance_m=1200, limit_m=300)
    assert review.flag_reason(flag, "zh_CN") == flag["reason"]
    assert review.flag_reason(flag, "en") == (
        "Recorded 1200 m from the household's known position (more than 300 m)")
