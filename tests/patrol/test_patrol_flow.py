"""A patrol start to finish: save as you go, crash and resume, photos, one-transaction finish."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlcipher3
from patrol_helpers import PIN, FakeClock, SigningKey, nmea_log

from fieldclient.errors import BlobMissing
from fieldclient.fieldwork import checklist, patrols
from fieldclient.fieldwork.patrols import ItemResult
from fieldclient.geo.geometry import Fix
from fieldclient.geo.nmea import NmeaReplayer
from fieldclient.storage.session import Session, unlock_device


def outbox_kinds(session: Session) -> Counter[str]:
    return Counter(r[0] for r in session.db.execute("SELECT kind FROM outbox").fetchall())


def record_replayed_track(session: Session, patrol_id: str, clock: FakeClock) -> int:
    """Feed the real BeiDou fixes through the recorder, as the GPS source would."""
    recorder = patrols.TrackRecorder(session, patrol_id)
    kept = 0
    for step in NmeaReplayer(nmea_log("beidou-bd.log")).steps():
        clock.advance(step.delay_s)
        kept += recorder.add(Fix(**{**_fields(step.fix), "t": clock()}))
    return kept


def _fields(fix: Fix) -> dict[str, object]:
    return {name: getattr(fix, name) for name in fix.__slots__}


def test_start_gives_all_28_items_grouped(session: Session) -> None:
    patrol = patrols.start_patrol(session, "101", worker_id="w-7")
    assert patrol.active and patrol.grid_id == "101" and patrol.checklist.version == 1
    assert list(patrol.items) == [f"P{n:02d}" for n in range(1, 29)]
    assert patrol.items_done == 0 and patrol.missing == list(patrol.items)
    assert patrols.active_patrol(session) == patrol
    with pytest.raises(patrols.PatrolAlreadyActive) as info:
        patrols.start_patrol(session, "102")
    assert "101" in info.value.message("zh_CN")


def test_save_as_you_go_survives_a_crash(
    session: Session, data_dir: Path, clock: FakeClock, take_photo: Callable[..., str]
) -> None:
    patrol = patrols.start_patrol(session, "101")
    photo = take_photo()
    patrols.record_item(session, patrol.id, "P01", ItemResult.NORMAL)
    patrols.record_item(session, patrol.id, "P02", "not_applicable", note="无监控点")
    patrols.add_photo(session, patrol.id, "P07", photo)
    patrols.record_item(session, patrol.id, "P07", ItemResult.PROBLEM, note="楼道堆放杂物")
    patrols.save_note(session, patrol.id, "P20", "垃圾桶满了，正在")  # typing, no result yet
    kept = record_replayed_track(session, patrol.id, clock)
    assert kept == 5
    session.close()  # the app dies here: no finish, nothing else saved

    again = unlock_device(data_dir, PIN, clock=clock)
    try:
        resumed = patrols.active_patrol(again)
        assert resumed is not None and resumed.id == patrol.id
        items = resumed.items
        assert items["P01"].result is ItemResult.NORMAL
        assert (items["P02"].result, items["P02"].note) == (ItemResult.NOT_APPLICABLE, "无监控点")
        assert items["P07"].result is ItemResult.PROBLEM and items["P07"].photos == (photo,)
        assert items["P07"].note == "楼道堆放杂物"
        assert (items["P20"].result, items["P20"].note) == (None, "垃圾桶满了，正在")
        assert resumed.items_done == 3 and resumed.problems == 1 and resumed.fixes == 5
        # carry on where we left off: the recorder continues from the last saved fix
        recorder = patrols.TrackRecorder(again, patrol.id)
        assert recorder.last is not None
        patrols.record_item(again, patrol.id, "P20", ItemResult.NORMAL)  # note kept
        assert patrols.get_patrol(again, patrol.id).items["P20"].note == "垃圾桶满了，正在"
    finally:
        again.close()


def test_problem_needs_a_photo_where_the_item_requires_one(
    session: Session, take_photo: Callable[..., str]
) -> None:
    patrol = patrols.start_patrol(session, "101")
    with pytest.raises(patrols.PhotoRequired) as info:
        patrols.record_item(session, patrol.id, "P21", ItemResult.PROBLEM, note="田里冒烟")
    assert info.value.message("zh_CN") == (
        "“秸秆与垃圾露天焚烧”发现问题时必须拍照留证：请先拍照，再保存。"
    )
    english = info.value.message("en")
    assert "open burning of straw or garbage" in english and "photo" in english
    refused = patrols.get_patrol(session, patrol.id).items["P21"]
    assert (refused.result, refused.note) == (None, "田里冒烟")  # the typed note is kept
    # a problem on an item without that rule needs no photo (P03: do not photograph people)
    patrols.record_item(session, patrol.id, "P03", ItemResult.PROBLEM, note="情绪不稳定")
    # with a photo it saves; the last photo of such a problem cannot be removed
    photo = take_photo()
    patrols.record_item(session, patrol.id, "P21", ItemResult.PROBLEM, photos=[photo])
    with pytest.raises(patrols.PhotoRequired):
        patrols.remove_photo(session, patrol.id, "P21", photo)
    # unknown photos and items are refused
    with pytest.raises(BlobMissing):
        patrols.add_photo(session, patrol.id, "P22", "0" * 32)
    with pytest.raises(patrols.UnknownItem):
        patrols.record_item(session, patrol.id, "P99", ItemResult.NORMAL)


def answer_all(session: Session, patrol_id: str, photo: str) -> None:
    for n in range(1, 29):
        code = f"P{n:02d}"
        if code in ("P07", "P21"):
            patrols.record_item(session, patrol_id, code, ItemResult.PROBLEM, note=f"{code} 问题",
                                photos=[photo])
        elif n % 5 == 0:
            patrols.record_item(session, patrol_id, code, ItemResult.NOT_APPLICABLE)
        else:
            patrols.record_item(session, patrol_id, code, ItemResult.NORMAL)


def test_finish_writes_immutable_records_and_outbox_in_one_go(
    session: Session, clock: FakeClock, take_photo: Callable[..., str]
) -> None:
    patrol = patrols.start_patrol(session, "101")
    photo = take_photo()
    before = outbox_kinds(session)
    clock.advance(60)
    record_replayed_track(session, patrol.id, clock)
    answer_all(session, patrol.id, photo)
    clock.advance(1800)
    summary = patrols.finish_patrol(session, patrol.id)
    assert (summary.items_total, summary.items_done, summary.problems) == (28, 28, 2)
    assert summary.not_applicable == 5 and summary.normal == 21
    assert summary.duration_s == pytest.approx(60 + 4 + 1800)
    assert 20 < summary.distance_m < 60  # the real fixes wander ~40 m
    added = outbox_kinds(session) - before
    assert added == Counter({"checklist.result": 28, "track.segment": 1, "patrol.report": 1})
    report = json.loads(
        session.db.execute(
            "SELECT payload FROM outbox WHERE kind = 'patrol.report' AND record_id = ?",
            (patrol.id,),
        ).fetchone()[0]
    )
    assert report["grid_id"] == "101" and len(report["results"]) == 28
    assert report["photos"] == [photo] and report["problems"] == 2
    result = json.loads(
        session.db.execute(
            "SELECT payload FROM outbox WHERE kind = 'checklist.result' AND payload LIKE '%P21%'"
        ).fetchone()[0]
    )
    sha = session.db.execute("SELECT sha256 FROM photos WHERE id = ?", (photo,)).fetchone()[0]
    assert result["photos"] == [{"id": photo, "sha256": sha}] and result["note"] == "P21 问题"
    # drafts are gone, the finished patrol reads from its records
    assert session.db.execute("SELECT count(*) FROM patrol_item_drafts").fetchone()[0] == 0
    assert session.db.execute("SELECT count(*) FROM patrol_fixes").fetchone()[0] == 0
    done = patrols.get_patrol(session, patrol.id)
    assert done.state == "finished" and done.items_done == 28
    assert all(s.record_id for s in done.items.values())
    assert patrols.active_patrol(session) is None
    assert patrols.progress(session, patrol.id) == summary
    assert patrols.list_patrols(session, "101") == [summary]
    # immutable from now on
    with pytest.raises(patrols.PatrolClosed):
        patrols.record_item(session, patrol.id, "P01", ItemResult.PROBLEM)
    with pytest.raises(patrols.PatrolClosed):
        patrols.finish_patrol(session, patrol.id)
    for sql in ("UPDATE checklist_results SET note = 'x'", "DELETE FROM checklist_results",
                "UPDATE patrols SET grid_id = '9'", "DELETE FROM patrols",
                f"INSERT INTO patrol_item_drafts (patrol_id, code, updated_at)"
                f" VALUES ('{patrol.id}', 'P01', 0)"):
        with pytest.raises(sqlcipher3.IntegrityError), session.db.conn:
            session.db.execute(sql)
    audit = [e["detail"] for e in session.audit.entries() if e["detail"].get("kind") == "patrol"]
    assert audit[-1]["id"] == patrol.id and audit[-1]["problems"] == 2


def test_a_failure_during_finish_leaves_the_patrol_as_it_was(
    session: Session, clock: FakeClock, take_photo: Callable[..., str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    patrol = patrols.start_patrol(session, "101")
    record_replayed_track(session, patrol.id, clock)
    answer_all(session, patrol.id, take_photo())
    before = outbox_kinds(session)
    real_enqueue = session.enqueue

    def failing(kind: str, record_id: str, payload: dict[str, object]) -> str:
        if kind == "patrol.report":
            raise OSError("disk full")
        return real_enqueue(kind, record_id, payload)

    monkeypatch.setattr(session, "enqueue", failing)
    with pytest.raises(OSError):
        patrols.finish_patrol(session, patrol.id)
    monkeypatch.undo()
    assert outbox_kinds(session) == before
    for table in ("checklist_results", "tracks", "track_segments"):
        assert session.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0
    still = patrols.active_patrol(session)
    assert still is not None and still.items_done == 28 and still.fixes == 5
    patrols.finish_patrol(session, patrol.id)  # and it can be finished after all
    assert outbox_kinds(session)["patrol.report"] == 1


def test_unanswered_items_need_confirmation(session: Session) -> None:
    patrol = patrols.start_patrol(session, "101")
    patrols.record_item(session, patrol.id, "P01", ItemResult.NORMAL)
    with pytest.raises(patrols.PatrolIncomplete) as info:
        patrols.finish_patrol(session, patrol.id)
    assert "27" in info.value.message("zh_CN") and "27" in info.value.message("en")
    summary = patrols.finish_patrol(session, patrol.id, allow_incomplete=True)
    assert (summary.items_done, summary.items_total, summary.distance_m) == (1, 28, 0.0)
    assert outbox_kinds(session)["checklist.result"] == 1


def test_patrol_keeps_its_checklist_version(session: Session, it_key: SigningKey) -> None:
    patrol = patrols.start_patrol(session, "101")
    doc = json.loads(checklist.BUNDLED_DEFINITION.read_bytes())
    doc["version"] = 2
    doc["items"] = doc["items"][:10]
    v2 = json.dumps(doc, ensure_ascii=False).encode()
    checklist.install_checklist(session, v2, it_key.sign(v2))
    assert checklist.checklist_in_force(session).version == 2
    patrols.record_item(session, patrol.id, "P28", ItemResult.NORMAL)  # only in v1
    resumed = patrols.active_patrol(session)
    assert resumed is not None and resumed.checklist.version == 1 and len(resumed.items) == 28
    patrols.finish_patrol(session, patrol.id, allow_incomplete=True)
    nxt = patrols.start_patrol(session, "101")
    assert nxt.checklist.version == 2 and len(nxt.items) == 10


def test_report_as_event_fills_category_note_photos_position(
    session: Session, clock: FakeClock, take_photo: Callable[..., str]
) -> None:
    patrol = patrols.start_patrol(session, "101")
    record_replayed_track(session, patrol.id, clock)
    photo = take_photo()
    patrols.record_item(session, patrol.id, "P21", ItemResult.PROBLEM, note="村口焚烧秸秆",
                        photos=[photo])
    draft = patrols.event_draft(session, patrol.id, "P21")
    assert (draft.category, draft.description) == ("环境保护", "村口焚烧秸秆")
    assert draft.photos == (photo,)
    assert draft.lat == pytest.approx(31.2482, abs=1e-3) and draft.located_at == clock()
    payload = draft.as_payload()
    assert payload["source"] == {"kind": "patrol", "patrol_id": patrol.id, "item": "P21"}
    assert payload["grid_id"] == "101"
    empty = patrols.event_draft(session, patrol.id, "P14", position=Fix(t=1.0, lat=30, lon=120))
    assert empty.category == "食品药品" and empty.description == "巡查发现问题：食品安全"
    assert empty.lat == 30
    default = checklist.bundled_checklist()
    classes = {patrols.event_category(item) for item in default}
    domain_classes = set(
        "矛盾纠纷 治安隐患 安全生产 消防安全 食品药品 市场监管 违法建设 市容环卫 环境保护 道路交通 "
        "公共设施 民政救助 特殊人群 流动人口 信访维稳 自然灾害 卫生防疫 教育与未成年人 劳动保障 "
        "住房与物业 政策咨询 其他".split()
    )
    assert classes <= domain_classes
    assert patrols.EVENT_CATEGORY_BY_CODE == {i.code: i.event_category for i in default}


def test_patrol_done_today_in_china_standard_time(session: Session, clock: FakeClock) -> None:
    # 2024-03-10 23:30 in Beijing is 15:30 UTC: already "tomorrow" nowhere, "today" in China
    clock.now = datetime(2024, 3, 10, 15, 0, tzinfo=UTC).timestamp()
    patrol = patrols.start_patrol(session, "101")
    assert not patrols.patrol_done_today(session, "101")
    clock.advance(1800)
    patrols.finish_patrol(session, patrol.id, allow_incomplete=True)
    assert patrols.patrol_done_today(session, "101")
    assert not patrols.patrol_done_today(session, "102")
    assert patrols.today_status(session, ["101", "102"]) == {"101": True, "102": False}
    # 00:10 Beijing time on the 11th (16:10 UTC on the 10th): a new day, not done yet
    next_day = datetime(2024, 3, 10, 16, 10, tzinfo=UTC).timestamp()
    assert not patrols.patrol_done_today(session, "101", now=next_day)
    # ...while by UTC's calendar it is still the same day
    assert patrols.patrol_done_today(session, "101", tz=UTC, now=next_day)  # type: ignore[arg-type]
    start, end = patrols.day_bounds(next_day)
    assert end - start == timedelta(days=1).total_seconds()


def test_abandoned_patrol_is_kept_but_never_sent(session: Session) -> None:
    patrol = patrols.start_patrol(session, "101")
    patrols.record_item(session, patrol.id, "P01", ItemResult.NORMAL)
    patrols.abandon_patrol(session, patrol.id)
    assert patrols.active_patrol(session) is None
    assert patrols.get_patrol(session, patrol.id).state == "abandoned"
    assert outbox_kinds(session) == Counter()
    assert not patrols.patrol_done_today(session, "101")
    patrols.start_patrol(session, "101")  # a new one can start


def test_rest_normal_marks_only_the_unanswered(session: Session) -> None:
    patrol = patrols.start_patrol(session, "101")
    patrols.record_item(session, patrol.id, "P01", ItemResult.NOT_APPLICABLE)
    patrols.save_note(session, patrol.id, "P02", "路灯暗")  # a note, no result yet
    marked = patrols.mark_rest_normal(session, patrol.id, ["P01", "P02", "P03"])
    assert marked == ["P02", "P03"]
    items = patrols.get_patrol(session, patrol.id).items
    assert items["P01"].result is ItemResult.NOT_APPLICABLE  # kept
    assert items["P02"].result is ItemResult.NORMAL and items["P02"].note == "路灯暗"
    assert items["P03"].result is ItemResult.NORMAL and items["P04"].result is None
    with pytest.raises(patrols.UnknownItem):
        patrols.mark_rest_normal(session, patrol.id, ["P99"])


def test_cancelled_patrol_discards_drafts_and_fixes(session: Session) -> None:
    from fieldclient.geo.geometry import Fix

    patrol = patrols.start_patrol(session, "101")
    patrols.record_item(session, patrol.id, "P01", ItemResult.NORMAL)
    recorder = patrols.TrackRecorder(session, patrol.id)
    t0 = session.clock()
    assert recorder.add_many(Fix(t=t0 + i, lat=31.2 + i * 1e-5, lon=121.5) for i in range(5)) == 5
    counts = patrols.abandon_patrol(session, patrol.id)
    assert counts == {"items_discarded": 1, "fixes_discarded": 5}
    assert session.db.execute("SELECT count(*) FROM patrol_fixes").fetchone()[0] == 0
    assert session.db.execute("SELECT count(*) FROM patrol_item_drafts").fetchone()[0] == 0
    assert outbox_kinds(session) == Counter()  # never sent
    entry = [e for e in session.audit.entries() if e["action"] == "record_created"][-1]
    assert entry["detail"] == {"kind": "patrol", "id": patrol.id, "state": "abandoned",
                               "items_discarded": 1, "fixes_discarded": 5}


def test_live_path_distance_is_the_finished_one_and_kept_incrementally(
    session: Session,
) -> None:
    """The running figures follow each fix without re-reading the day; the finished
    track is the live path, so the distance reported is the one shown while walking."""
    import math
    import random

    from fieldclient.geo.geometry import Fix, path_length_m

    rng = random.Random(3)
    patrol = patrols.start_patrol(session, "101")
    recorder = patrols.TrackRecorder(session, patrol.id)
    live = patrols.live_path(session, patrol.id)
    t0, lat, lon, walked = session.clock(), 31.2, 121.5, 0.0
    raw: list[Fix] = []
    for i in range(3000):
        bearing = math.radians(90.0 * ((i // 120) % 4))
        lat += 1.2 * math.cos(bearing) / 111_195.0
        lon += 1.2 * math.sin(bearing) / 95_000.0
        walked += 1.2
        raw.append(Fix(t=t0 + i, lat=lat + rng.gauss(0, 1.2) / 111_195.0,
                       lon=lon + rng.gauss(0, 1.2) / 95_000.0, accuracy_m=4.0))
    for start in range(0, len(raw), 100):
        live.add(recorder.record(raw[start:start + 100]), recorder.last_id)
    assert live.points == 3000
    assert path_length_m(raw) > 1.5 * walked  # the raw path reads far too high
    assert live.distance_m < 1.15 * walked  # the simplified one does not
    assert live.catch_up(session) == 0  # nothing missed: no re-read needed
    rebuilt = patrols.live_path(session, patrol.id)  # after a restart: the same figures
    assert rebuilt.distance_m == pytest.approx(live.distance_m)
    shown = patrols.live_summary(patrols.get_patrol(session, patrol.id), live, session.clock())
    summary = patrols.finish_patrol(session, patrol.id, allow_incomplete=True, live=live,
                                    purge_fixes=False)
    assert summary.distance_m == pytest.approx(shown.distance_m, rel=0.05)
    assert summary.distance_m == pytest.approx(live.distance_m)
    assert patrols.purge_finished_fixes(session, batch=700) == 3000
    assert session.db.execute("SELECT count(*) FROM patrol_fixes").fetchone()[0] == 0
