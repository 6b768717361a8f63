"""The pure honesty checks on hand-built timelines: claims in Chinese and English, the declared type, the window's
edges, another rep's contact, a deal and its lead as one customer, near-copies against stock phrases."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from evenhand.honesty import detect
from evenhand.honesty.detect import Contacts, Notes, Rules

H = 3600
T = 1_780_000_000  # a note's instant
RULES = Rules()  # 12 h before, 2 h after


def notes(*rows: tuple[int, int, int, str, str | None]) -> Notes:
    """(id, customer, at, text, declared type)"""
    return Notes(np.array([r[0] for r in rows], dtype=np.int64), np.array([r[1] for r in rows], dtype=np.int64),
                 np.array([r[2] for r in rows], dtype=np.int64), [r[3] for r in rows], [r[4] for r in rows])


def contacts(*rows: tuple[int, int, int, int, str, bool]) -> Contacts:
    """(id, customer, start, seconds, kind, connected)"""
    start = np.array([r[2] for r in rows], dtype=np.int64)
    return Contacts(np.array([r[0] for r in rows], dtype=np.int64), np.array([r[1] for r in rows], dtype=np.int64),
                    start, start + np.array([r[3] for r in rows], dtype=np.int64), [r[4] for r in rows],
                    np.array([r[5] for r in rows], dtype=np.bool_))


NONE = contacts()


def flagged(n: Notes, c: Contacts = NONE, rules: Rules = RULES) -> list[int]:
    return [u.note_id for u in detect.unbacked(n, c, rules)]


@pytest.mark.parametrize(("text", "kinds"), [
    ("已电话沟通，客户有意向", {"call"}), ("今天致电王总确认预算", {"call"}), ("上门拜访客户，参观产线", {"visit"}),
    ("与客户面谈两小时", {"meeting"}), ("召开需求会议", {"meeting"}), ("Called the buyer about pricing", {"call"}),
    ("Phoned Mr. Li", {"call"}), ("Met with the CFO", {"meeting"}), ("Visited the plant in Suzhou", {"visit"}),
    ("电话沟通后上门拜访", {"call", "visit"}), ("客户要求发送报价", set()), ("Sent the brochure", set()),
])
def test_claims_are_read_from_chinese_and_english_text(text: str, kinds: set[str]) -> None:
    assert detect.claims(text, None, detect.compile_patterns(detect.CLAIM_PATTERNS)) == kinds


def test_the_declared_type_is_a_claim_even_when_the_text_names_none() -> None:
    compiled = detect.compile_patterns(detect.CLAIM_PATTERNS)
    assert detect.claims("约定下周产品演示", "call", compiled) == {"call"}
    assert detect.claims("约定下周产品演示", "email", compiled) == set()  # an e-mail is not a contact a note claims


def test_a_note_claiming_nothing_is_not_checked() -> None:
    assert flagged(notes((1, 7, T, "客户要求发送报价", None))) == []


def test_a_claimed_call_without_a_captured_call_is_unbacked() -> None:
    assert flagged(notes((1, 7, T, "已电话沟通，客户有意向", "call"))) == [1]


def test_a_connected_call_backs_the_claim_an_unanswered_dial_does_not() -> None:
    n = notes((1, 7, T, "已电话沟通，客户有意向", "call"))
    assert flagged(n, contacts((10, 7, T - H, 300, "call", True))) == []
    assert flagged(n, contacts((10, 7, T - H, 0, "call", False))) == [1]


def test_any_reps_contact_backs_the_note_but_only_with_that_customer() -> None:
    n = notes((1, 7, T, "Called the buyer", None))
    assert flagged(n, contacts((10, 7, T - H, 60, "call", True))) == []  # contacts carry no rep: any rep's counts
    assert flagged(n, contacts((10, 8, T - H, 60, "call", True))) == [1]  # another customer
    assert flagged(notes((1, 0, T, "Called the buyer", None)), contacts((10, 0, T - H, 60, "call", True))) == [1]


@pytest.mark.parametrize(("start", "seconds", "backed"), [
    (T - 12 * H, 0, True), (T - 12 * H - 1, 0, False),  # the window opens 12 h before the note
    (T - 13 * H, H, True), (T - 13 * H - 1, H, False),  # a contact counts while it lasts into the window
    (T + 2 * H, 0, True), (T + 2 * H + 1, 0, False),  # and closes 2 h after it
])
def test_the_windows_edges_count(start: int, seconds: int, backed: bool) -> None:
    n = notes((1, 7, T, "与客户面谈", "meeting"))
    assert flagged(n, contacts((10, 7, start, seconds, "meeting", True))) == ([] if backed else [1])


def test_the_window_is_configurable() -> None:
    n, c = notes((1, 7, T, "致电客户", None)), contacts((10, 7, T - 20 * H, 60, "call", True))
    assert flagged(n, c) == [1]
    assert flagged(n, c, Rules(before=24 * H)) == []


def test_a_meeting_and_a_visit_back_each_other_a_message_backs_no_call() -> None:
    assert flagged(notes((1, 7, T, "上门拜访", None)), contacts((10, 7, T - H, 3600, "meeting", True))) == []
    assert flagged(notes((1, 7, T, "见面聊了方案", None)), contacts((10, 7, T - H, 3600, "visit", True))) == []
    assert flagged(notes((1, 7, T, "电话沟通", None)), contacts((10, 7, T - H, 0, "message", True))) == [1]
    assert flagged(notes((1, 7, T, "微信跟进", "message")), contacts((10, 7, T - H, 0, "message", True))) == []


def test_a_note_naming_several_contacts_is_backed_by_one_of_them() -> None:
    assert flagged(notes((1, 7, T, "电话沟通后上门拜访", None)), contacts((10, 7, T - H, 3600, "visit", True))) == []


def test_a_deal_and_the_lead_it_came_from_are_one_customer() -> None:
    lead_call = detect.customer_key(5, None, None)
    deal_note = detect.customer_key(None, 5, 9)
    assert lead_call == deal_note == 5
    assert detect.customer_key(None, None, 9) == -9 and detect.customer_key(None, None, None) == 0
    assert flagged(notes((1, deal_note, T, "致电客户", None)), contacts((10, lead_call, T - H, 60, "call", True))) == []


def test_the_evidence_names_the_window_and_the_nearest_contacts_on_each_side() -> None:
    c = contacts((10, 7, T - 30 * H, 0, "call", False), (11, 7, T - 20 * H, 60, "call", True),
                 (12, 7, T + 5 * H, 0, "message", True), (13, 8, T - H, 60, "call", True))
    [found] = detect.unbacked(notes((1, 7, T, "已电话沟通", "call")), c, RULES)
    assert found.claims == ("call",) and found.window == (T - 12 * H, T + 2 * H)
    assert [x["id"] for x in found.before] == [11, 10] and [x["id"] for x in found.after] == [12]
    assert found.before[0] == {"id": 11, "kind": "call", "start": T - 20 * H, "end": T - 20 * H + 60,
                               "connected": True}


def test_extra_patterns_add_claims() -> None:
    n = notes((1, 7, T, "和客户语音了半小时", None))
    assert flagged(n) == []
    assert flagged(n, rules=Rules(patterns={**detect.CLAIM_PATTERNS, "call": ("语音",)})) == [1]


def test_many_notes_at_once_give_what_each_alone_gives() -> None:
    rng = np.random.default_rng(3)
    rows = [(i + 1, int(rng.integers(1, 30)), T + int(rng.integers(0, 40 * H)), "电话沟通", None) for i in range(300)]
    kinds = ("call", "meeting", "visit", "message")
    c = contacts(*[(1000 + k, int(rng.integers(1, 30)), T + int(rng.integers(-12 * H, 40 * H)),
                    int(rng.integers(0, 2 * H)), kinds[k % 4], bool(rng.random() < 0.6)) for k in range(400)])
    together = set(flagged(notes(*rows), c))
    alone = {r[0] for r in rows if flagged(notes(r), c)}
    assert together == alone and 0 < len(together) < len(rows)


# --- near-duplicates --------------------------------------------------------------------------------------------

BOILERPLATE = ("今日与客户进行了深入沟通，客户对我司产品表现出浓厚兴趣，认可我们的解决方案，计划下周安排技术交流，"
               "预计本季度内推进到商务谈判阶段。")
OTHER = "客户财务总监提出三项顾虑：实施周期过长、与现有ERP的接口费用不明确、售后响应时间，需要在方案中逐条回应。"


def dups(rows: Sequence[tuple[int, int, str]], rules: Rules = RULES,
         checked: Sequence[int] | None = None) -> dict[int, list[int]]:
    found = detect.duplicates(np.array([r[0] for r in rows], dtype=np.int64),
                              np.array([r[1] for r in rows], dtype=np.int64), [r[2] for r in rows], rules,
                              checked=checked)
    return {s.note_id: [i for i, _ in s.similar] for s in found}


def test_boilerplate_across_customers_is_a_near_duplicate() -> None:
    edited = BOILERPLATE.replace("下周", "下下周")
    found = dups([(1, 7, BOILERPLATE), (2, 8, edited), (3, 9, OTHER)])
    assert found == {1: [2], 2: [1]}
    first, _ = detect.duplicates(np.array([1, 2]), np.array([7, 8]), [BOILERPLATE, edited], RULES)
    assert 0.8 <= first.similar[0][1] < 1.0


def test_copies_about_the_same_customer_are_not_duplicates() -> None:
    assert dups([(1, 7, BOILERPLATE), (2, 7, BOILERPLATE)]) == {}


def test_short_stock_phrases_are_never_compared() -> None:
    stock = "客户要求发送报价"
    assert dups([(1, 7, stock), (2, 8, stock), (3, 9, stock)]) == {}
    assert len(detect.normalised(BOILERPLATE)) >= RULES.min_chars > len(detect.normalised(stock))


def test_punctuation_spaces_and_width_do_not_hide_a_copy() -> None:
    spaced = " ".join(BOILERPLATE).replace("，", ",")
    assert detect.normalised(spaced) == detect.normalised(BOILERPLATE)
    assert dups([(1, 7, BOILERPLATE), (2, 8, spaced)]) == {1: [2], 2: [1]}


def test_only_the_checked_notes_are_reported_and_the_threshold_holds() -> None:
    rows = [(1, 7, BOILERPLATE), (2, 8, BOILERPLATE), (3, 9, BOILERPLATE)]
    assert dups(rows, checked=[3]) == {3: [1, 2]}
    half = BOILERPLATE[:40] + OTHER
    assert dups([(1, 7, BOILERPLATE), (2, 8, half)]) == {}
