"""Household search: pinyin (full, initials, given name), Chinese substrings, two-character
names, ID and phone tails, filters, ranking, paging, and the index kept right after
edits, member changes and deletes; masking and the audit of reveals."""

from __future__ import annotations

import json
import re

import pytest

from fieldclient.fieldwork import households, search, search_keys
from fieldclient.fieldwork.households import (
    HIDDEN_TAG,
    add_member,
    create_household,
    remove_member,
    update_household,
    update_member,
)
from fieldclient.fieldwork.search import refresh_index, search_households
from fieldclient.fieldwork.search_keys import build_name_keys, name_keys, normalize, sort_key
from fieldclient.security import audit
from fieldclient.storage.session import Session

ID_NUMBER = "33020519800101123X"
PHONE = "13812345678"


def names(session: Session, query: str, **filters: object) -> list[str]:
    return [h.head_name for h in search_households(session, query, **filters)]  # type: ignore[arg-type]


@pytest.fixture()
def village(session: Session) -> dict[str, str]:
    made = {
        "张三丰": create_household(session, "张三丰", "武当山路1号", phone=PHONE,
                                  id_number=ID_NUMBER, category="key", tags=["吸毒人员"]),
        "王五": create_household(session, "王五", "勤勇村3组12号", category="hardship",
                                tags=["低保户"]),
        "张伟": create_household(session, "张伟", "庄市花园2幢"),
        "曾国藩": create_household(session, "曾国藩", "湘乡路8号"),
        "李三": create_household(session, "李三", "三丰路9号"),
    }
    return made


@pytest.mark.parametrize("query", ["zsf", "zhangsanfeng", "三丰", "张三丰", "ZSF", "zhang san feng",
                                   "sanfeng", "sf", "zhangs", "ｚｓｆ"])
def test_pinyin_and_chinese_find_zhang_sanfeng(
        session: Session, village: dict[str, str], query: str) -> None:
    assert names(session, query)[0] == "张三丰"


def test_two_character_names(session: Session, village: dict[str, str]) -> None:
    assert names(session, "王五") == ["王五"]
    assert names(session, "ww") == ["王五"]
    assert names(session, "wangwu") == ["王五"]
    assert names(session, "五") == ["王五"]
    assert names(session, "zw")[0] == "张伟"
    assert names(session, "zhangwei") == ["张伟"]


def test_no_match_inside_a_syllable(session: Session, village: dict[str, str]) -> None:
    """Latin letters match at syllable starts only: "ang" is in zhang but finds nobody."""
    assert names(session, "ang") == []
    assert names(session, "xyz") == []


def test_surname_reading_of_heteronyms(session: Session, village: dict[str, str]) -> None:
    assert names(session, "zengguofan") == ["曾国藩"]
    assert names(session, "zgf") == ["曾国藩"]
    assert "zengguofan" in sort_key("曾国藩")


def test_ranking_whole_name_then_prefix_then_part_then_address(
        session: Session, village: dict[str, str]) -> None:
    create_household(session, "吴十", "东路1号")
    create_household(session, "张三", "东路2号")
    # 王五 comes first by pinyin (wangwu < wushi) but "wu" is only its given name
    assert names(session, "wu") == ["吴十", "王五"]
    hits = search_households(session, "zs")
    assert [(h.head_name, h.rank) for h in hits] == [("张三", 0), ("张三丰", 1)]
    # name substring before address: 李三 lives on 三丰路
    assert names(session, "三丰") == ["张三丰", "李三"]
    assert [h.rank for h in search_households(session, "三丰")] == [2, 3]
    assert names(session, "李三") == ["李三"]


def test_address_and_number_tails(session: Session, village: dict[str, str]) -> None:
    assert names(session, "勤勇村") == ["王五"]
    assert names(session, "12号") == ["王五"]
    assert names(session, "5678") == ["张三丰"]  # phone tail
    assert names(session, "123x") == ["张三丰"]  # ID tail, its final X
    assert names(session, "0101123x") == []  # longer than a tail: no whole ID numbers
    assert names(session, "330205") == []


def test_filters(session: Session, village: dict[str, str]) -> None:
    assert names(session, "", category="hardship") == ["王五"]
    assert names(session, "", tag="低保户") == ["王五"]
    assert names(session, "z", category="key") == ["张三丰"]
    assert names(session, "w", tag="低保户", category="ordinary") == []
    with pytest.raises(ValueError):
        search_households(session, "", category="vip")


def test_empty_query_lists_all_by_pinyin_and_pages(session: Session) -> None:
    for i in range(30):
        create_household(session, f"王{'一二三四五六七八九十'[i % 10]}{i}", f"路{i}号")
    everyone = names(session, "", limit=1000)
    assert len(everyone) == 30
    pages = [names(session, "", limit=7, offset=o) for o in range(0, 35, 7)]
    assert [n for page in pages for n in page] == everyone
    assert names(session, "w", limit=5, offset=28) == everyone[28:]


def test_hits_mask_sensitive_fields(session: Session, village: dict[str, str]) -> None:
    hit = search_households(session, "zsf")[0]
    assert hit.phone == "138****5678"
    assert hit.tags == (HIDDEN_TAG,)
    assert "吸毒人员" not in json.dumps(hit.as_dict(), ensure_ascii=False)


def test_index_follows_edits_members_and_deletes(
        session: Session, village: dict[str, str]) -> None:
    hid = village["王五"]
    update_household(session, hid, {"head_name": "赵六", "address": "新村5号"})
    assert names(session, "ww") == []
    assert names(session, "zl") == ["赵六"]
    assert names(session, "新村") == ["赵六"]
    member = add_member(session, hid, "钱小七", "子女", phone="13900001111")
    assert names(session, "qxq") == ["赵六"]
    assert names(session, "1111") == ["赵六"]
    update_member(session, member, {"name": "孙小八"})
    assert names(session, "qxq") == []
    assert names(session, "sxb") == ["赵六"]
    remove_member(session, member)
    assert names(session, "sxb") == []
    update_household(session, hid, {"category": "key", "tags": ["独居老人"]})
    assert names(session, "", tag="独居老人") == ["赵六"]
    with session.db.conn:  # a household removed (as a reset would): gone from the index
        session.db.execute("DELETE FROM households WHERE id = ?", (village["李三"],))
    assert names(session, "李三") == []
    # a rowid handed out again after the top row went is still indexed
    last = create_household(session, "周九", "东路1号")
    with session.db.conn:
        session.db.execute("DELETE FROM households WHERE id = ?", (last,))
    assert names(session, "zj") == []
    create_household(session, "吴十", "西路2号")
    assert names(session, "wushi") == ["吴十"]
    assert refresh_index(session) == 0


def test_bulk_insert_like_a_first_pull_is_indexed(session: Session) -> None:
    """The sync engine's executemany writes fire no Python: the next search indexes them."""
    rows = [(f"h{i}", "1", n, f"庄市街道{i}号", "ordinary", None, None, "[]", 1, 0.0, 0.0, "{}")
            for i, n in enumerate(["张三丰", "李四", "王五"])]
    with session.db.conn:
        session.db.conn.executemany(
            "INSERT INTO households (id, grid_id, head_name, address, category, phone,"
            " id_number, tags, version, created_at, updated_at, synced)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows)
        session.db.conn.executemany(
            "INSERT INTO members (id, household_id, name, relation, created_at)"
            " VALUES (?,?,?,?,0)", [("m1", "h1", "李小龙", "子女"), ("m2", "h1", "李四", "户主")])
    assert refresh_index(session) == 3
    assert names(session, "lxl") == ["李四"]
    assert names(session, "ls") == ["李四"]
    row = session.db.execute(
        "SELECT names FROM household_search WHERE household_id = 'h1'").fetchone()[0]
    assert row.count("\x1e李四\x1d") == 1  # the head is also member 户主: indexed once


def test_a_second_connection_sees_changes(session: Session, village: dict[str, str]) -> None:
    other = session.fork()
    try:
        assert names(other, "zsf") == ["张三丰"]
        update_household(session, village["张三丰"], {"head_name": "张无忌"})
        assert names(session, "zwj") == ["张无忌"]  # this connection refreshes the index
        assert names(other, "zwj") == ["张无忌"]  # the other's memory re-reads it
        assert names(other, "zsf") == []
    finally:
        other.close()


def _bulk_pull(session: Session, count: int) -> list[str]:
    """``count`` households with members written as a first pull writes them (no
    Python runs per row): heteronyms, punctuation, Latin names, odd numbers, tags."""
    heads = ["曾乐乐", "单长重", "买买提·艾力", "Tom Lee", "张三丰", "朴正", "解重华", "王"]
    households_rows, members_rows = [], []
    for i in range(count):
        hid = f"h{i:05d}"
        head = heads[i % len(heads)] + ("" if i % 3 else "一二三四五六七八九十"[i % 10])
        phone = None if i % 5 == 0 else f"138-0000-{i:04d}" if i % 7 == 0 else f"139{i:08d}"
        id_number = f"33020519800101{i % 1000:03d}X" if i % 2 else None
        tags = json.dumps(["低保户", "吸毒人员"][: i % 3], ensure_ascii=False)
        households_rows.append((hid, "1", head, f"庄市街道{i}号 A座", "ordinary", phone,
                                id_number, tags, 1, 0.0, 0.0, "{}"))
        members_rows.append((f"m{i}a", hid, head, "户主", id_number, phone))
        if i % 2:
            members_rows.append((f"m{i}b", hid, f"曾{'国乐单'[i % 3]}", "子女",
                                 f"3302052000{i:08d}", None))
    with session.db.conn:
        session.db.conn.executemany(
            "INSERT INTO households (id, grid_id, head_name, address, category, phone,"
            " id_number, tags, version, created_at, updated_at, synced)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", households_rows)
        session.db.conn.executemany(
            "INSERT INTO members (id, household_id, name, relation, id_number, phone,"
            " created_at) VALUES (?,?,?,?,?,?,0)", members_rows)
    return [row[0] for row in households_rows]


def _index(session: Session) -> list[tuple[str, ...]]:
    return [tuple(r) for r in session.db.execute(
        "SELECT household_id, category, tags, sort_key, names, place, digits"
        " FROM household_search ORDER BY household_id")]


QUERIES = ("zll", "zengle", "cengle", "shan", "dcz", "mmt", "艾力", "tomlee", "zsf", "乐乐",
           "0001", "001x", "a座", "w", "", "12号")


def test_first_build_by_scans_matches_lookups(session: Session) -> None:
    """A first pull is indexed by two scans (search.py), not look-ups per household:
    the same rows, and this connection's cache (handed the rows) answers as a fresh
    connection (reading them back) does."""
    ids = _bulk_pull(session, search._CHUNK + 150)
    assert refresh_index(session) == len(ids)
    by_scans = _index(session)
    assert by_scans == sorted(search._rows_for(session, ids))
    other = session.fork()
    try:
        for query in QUERIES:
            assert (names(session, query, limit=1000)
                    == names(other, query, limit=1000)), query
        assert names(session, "zll", limit=1000)  # the rows are really there
    finally:
        other.close()


def test_many_changes_rescanned_and_removed(
        session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = _bulk_pull(session, search._CHUNK + 150)
    other = session.fork()
    assert names(other, "qdd") == []  # its cache is loaded before the big change
    with session.db.conn:  # a big update, as a pull of many changes writes it
        session.db.execute("UPDATE households SET head_name = '钱多多' WHERE rowid % 5 != 0")
        session.db.execute("DELETE FROM members WHERE household_id = ?", (ids[4],))
        session.db.execute("DELETE FROM households WHERE id = ?", (ids[4],))
    look_up = search._rows_for
    with monkeypatch.context() as patch:  # rescanned, not looked up one by one
        patch.setattr(search, "_rows_for", lambda *_: pytest.fail("looked up"))
        assert refresh_index(session) == len(ids) * 4 // 5 + 1  # + the one removed
    assert _index(session) == sorted(look_up(session, ids))
    assert ids[4] not in {row[0] for row in _index(session)}
    assert len(names(session, "qdd", limit=1000)) == len(ids) * 4 // 5
    try:  # the other connection's cache reads the rows again
        assert names(other, "qdd", limit=1000) == names(session, "qdd", limit=1000)
        assert names(other, "zll", limit=1000) == names(session, "zll", limit=1000)
    finally:
        other.close()


def test_chinese_names_fast_path_matches_general(monkeypatch: pytest.MonkeyPatch) -> None:
    """Names of Chinese characters only take a short cut through their given names'
    keys; the tokens and their order are those of the general way."""
    people = ["曾乐乐", "单长重", "解重华", "乐乐", "张三丰", "朴正", "翟种长", "曾单解仇区",
              "王", "王五", "欧阳长乐", "曾行乐", "查重", "万俟长重乐"]
    fast = [build_name_keys(p) for p in people]
    monkeypatch.setattr(search_keys, "_HAN_NAME", re.compile("(?!)"))  # matches nothing
    assert [build_name_keys(p) for p in people] == fast


def test_keys() -> None:
    assert normalize(" Xi'an ") == "xian"
    assert "\x1ezsf\x1d" in name_keys("张三丰")
    assert "\x1elvbu\x1d" in name_keys("吕布")  # ü typed as v
    assert name_keys("Tom Lee") == "\x1etomlee\x1d"
    assert name_keys("") == ""


# -- masking and reveals ----------------------------------------------------------------------

def test_masks() -> None:
    assert households.mask_id_number(ID_NUMBER) == "3302**********123X"
    assert households.mask_phone(PHONE) == "138****5678"
    assert households.mask_tags(["低保户", "吸毒人员", "社区矫正人员"]) == ["低保户", HIDDEN_TAG]
    assert households.mask_tags(["低保户"]) == ["低保户"]


def test_role_policy() -> None:
    assert households.can_reveal("worker") and households.can_reveal("leader")
    assert households.can_reveal(None)  # not enrolled: the worker's own device
    assert not households.can_reveal("supervisor")
    assert not households.can_reveal("it_admin") and not households.can_reveal("")


def test_reveals_are_audited(session: Session, village: dict[str, str]) -> None:
    hid = village["张三丰"]
    member = add_member(session, hid, "张翠山", "子女", id_number="330205200001011234")
    before = [e["seq"] for e in session.audit.entries()][-1]
    assert households.reveal_tags(session, hid) == ["吸毒人员"]
    assert households.reveal_member_field(session, member, "id_number") == "330205200001011234"
    assert households.reveal_field(session, hid, "id_number") == ID_NUMBER
    new = [e for e in session.audit.entries() if e["seq"] > before]
    assert [e["action"] for e in new] == [audit.SENSITIVE_VIEWED] * 3
    assert [(e["detail"]["kind"], e["detail"]["field"]) for e in new] == [
        ("household", "tags"), ("member", "id_number"), ("household", "id_number")]
    assert session.audit.verify().ok
    with pytest.raises(ValueError):
        households.reveal_member_field(session, member, "name")
