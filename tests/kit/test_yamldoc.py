"""Reading YAML documents: every way a document can be wrong or too costly is a problem with its line.

Each test runs on libyaml's parser (what the server uses) and on PyYAML's own, which ``yamldoc`` falls
back to when PyYAML was built without libyaml.
"""

from __future__ import annotations

import gc
import time
from typing import Any

import pytest

from evenhand.kit import yamldoc
from evenhand.kit.yamldoc import DocumentError, Limits, Problem
from tests.kit.documents import BAD_DATES, BOMB_LINE, BOMBS, BRACKETS, alias_bomb


class DocError(DocumentError):
    pass


@pytest.fixture(params=["libyaml", "python"], autouse=True)
def parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "python":
        monkeypatch.setattr(yamldoc, "_Loader", yamldoc._PyLoader)
    elif yamldoc._Loader is yamldoc._PyLoader:
        pytest.skip("PyYAML was built without libyaml")
    return str(request.param)


def load(text: str | bytes, limits: Limits = yamldoc.LIMITS) -> dict[str, Any]:
    return yamldoc.load(text, error=DocError, not_a_mapping="a mapping, please", limits=limits)[1]


def problem(text: str | bytes, limits: Limits = yamldoc.LIMITS) -> Problem:
    with pytest.raises(DocError) as caught:
        load(text, limits)
    assert len(caught.value.problems) == 1
    return caught.value.problems[0]


@pytest.mark.parametrize("name", BOMBS)
def test_an_alias_bomb_is_refused_at_the_line_that_crosses_the_limit(name: str) -> None:
    found = problem(BOMBS[name])
    assert (found.type, found.line, found.params) == ("too_many_values", BOMB_LINE, {"limit": 20_000})
    assert found.message == "The document holds more than 20000 values (an alias counts as a copy of what it names)."


def test_values_count_once_per_place_an_alias_puts_them() -> None:
    three = alias_bomb(3)  # 1 mapping + 3 keys + 11 + 111 + 1111 values with aliases expanded
    assert load(three, Limits(values=1237))["l2"] == [[["x"] * 10] * 10] * 10
    assert problem(three, Limits(values=1236)).type == "too_many_values"


def test_aliases_within_the_limits_are_read_as_copies() -> None:
    data = load("base: &bands [{min: 0, points: 2}]\nfit: {bands: *bands}\nmore: {<<: {cap: 3}, label: x}\n")
    assert data["fit"]["bands"] == data["base"] == [{"min": 0, "points": 2}]
    assert data["more"] == {"cap": 3, "label": "x"}


def test_an_alias_inside_the_value_it_names_is_refused() -> None:
    found = problem("name: x\nloop: &a\n  - *a\n")
    assert (found.type, found.line, found.params) == ("self_alias", 3, {"alias": "a"})


def test_500_nested_brackets_are_too_deep_at_their_line() -> None:
    found = problem(BRACKETS)
    assert (found.type, found.line, found.params) == ("too_deep", 2, {"limit": 32})


def test_depth_counts_every_level_and_what_an_alias_brings() -> None:
    assert load("a: [[x]]\n", Limits(depth=4)) == {"a": [["x"]]}  # mapping, list, list, scalar
    assert problem("a: [[[x]]]\n", Limits(depth=4)).type == "too_deep"
    deep = "a: &deep [[x]]\nb:\n  - *deep\n"
    assert load(deep, Limits(depth=5))["b"] == [[["x"]]]
    assert (problem(deep, Limits(depth=4)).type, problem(deep, Limits(depth=4)).line) == ("too_deep", 3)


def test_a_recursion_error_is_a_problem_not_a_crash() -> None:
    nested = "a: " + "[" * 900 + "]" * 900 + "\n"  # within libyaml's own limit of 1,000 levels
    found = problem(nested, Limits(depth=1_000_000, values=1_000_000))
    assert (found.type, found.line) == ("too_deep", None)


def test_size_is_counted_in_bytes_and_names_the_line_where_the_limit_falls() -> None:
    text = "name: 默认线索评分\nlabel: 客户画像\n"  # 25 + 20 bytes: a Chinese character takes three
    assert load(text, Limits(bytes=45)) == {"name": "默认线索评分", "label": "客户画像"}
    found = problem(text, Limits(bytes=30))
    assert (found.type, found.line, found.params) == ("too_large", 2, {"size": 45, "limit": 30})


def test_bytes_must_be_utf8() -> None:
    assert load("name: 线索\n".encode()) == {"name": "线索"}
    found = problem(b"name: x\nlabel: \xe7\xba\n")
    assert (found.type, found.line, found.params) == ("not_utf8", 2, {"position": 15})


@pytest.mark.parametrize("character", ["\x00", "\x08", "\x1f", "\x7f", "\x9b", "\ud800", "\ufffe"])
def test_control_characters_and_lone_surrogates_are_problems_with_their_line(character: str) -> None:
    found = problem(f"name: x\nrules:\n  - a{character}\n")
    assert (found.type, found.line) == ("bad_character", 3)
    assert found.params == {"character": f"U+{ord(character):04X}"}


@pytest.mark.parametrize("name", BAD_DATES)
def test_dates_stay_the_strings_they_were_written_as(name: str) -> None:
    text = BAD_DATES[name]
    assert load(text)["starts"] == text.split("starts: ")[1].strip()


def test_valid_dates_and_explicit_timestamps_are_strings_too() -> None:
    data = load("a: 2026-11-27\nb: 2026-11-27T09:30:00+08:00\nc: !!timestamp 2026-02-30\nd: =\n")
    assert data == {"a": "2026-11-27", "b": "2026-11-27T09:30:00+08:00", "c": "2026-02-30", "d": "="}


def test_plain_values_keep_their_yaml_types() -> None:
    data = load("n: ~\nb: yes\ni: 0x1F\nf: 1.5\ns: '12'\nl: [1, two]\nm: {k: v}\n")
    assert data == {"n": None, "b": True, "i": 31, "f": 1.5, "s": "12", "l": [1, "two"], "m": {"k": "v"}}


@pytest.mark.parametrize("text", ["name: x\nrun: !!python/object/apply:os.system [ls]\n", "name: x\nb: !!binary aGk=\n",
                                  "name: x\ns: !!set {a, b}\n", "name: x\nn: !!int abc\n",
                                  "name: x\nn: " + "9" * 5000 + "\n", "name: x\n? [a, b]\n: 1\n"],
                         ids=["python-tag", "binary", "set", "not-an-int", "5000-digits", "list-as-key"])
def test_other_tags_and_values_that_cannot_be_built_are_syntax_problems_on_their_line(text: str) -> None:
    found = problem(text)
    assert (found.type, found.line) == ("yaml_syntax", 2)


def test_duplicate_keys_are_refused_at_the_second() -> None:
    found = problem("name: x\ngroups:\n  fit: {}\n  fit: {}\n")
    assert (found.type, found.line) == ("yaml_syntax", 4) and "fit" in found.message


def test_reading_past_the_time_limit_is_refused() -> None:
    many = "values: [" + ",".join(["x"] * 5000) + "]\n"
    assert load(many)["values"] == ["x"] * 5000
    found = problem(many, Limits(seconds=0.0001))
    assert (found.type, found.params) == ("too_slow", {"seconds": 0.0001}) and found.line == 1



def test_what_the_collector_spends_meanwhile_is_not_the_documents_time() -> None:
    """Collections the reading's allocations start (here one every 10, each made to burn 2 ms of CPU, as a full
    collection of a large process may burn seconds) do not count against the document's time."""
    many = "values: [" + ",".join(["x"] * 2000) + "]\n"

    def busy(phase: str, _info: dict[str, object]) -> None:
        if phase == "start":
            end = time.thread_time() + 0.002
            while time.thread_time() < end:
                pass

    threshold = gc.get_threshold()
    gc.callbacks.append(busy)
    gc.set_threshold(10)
    try:
        began = time.thread_time()
        assert load(many, Limits(seconds=0.2))["values"] == ["x"] * 2000
        spent = time.thread_time() - began
    finally:
        gc.set_threshold(*threshold)
        gc.callbacks.remove(busy)
    assert spent > 0.2  # the check can fail: counted whole, the reading would have been refused

def test_limits_refuse_a_document_for_its_cost_other_problems_do_not() -> None:
    with pytest.raises(DocError) as bomb:
        load(BOMBS["bomb-8"])
    with pytest.raises(DocError) as dup:
        load("a: 1\na: 2\n")
    assert bomb.value.refused and not dup.value.refused
    try:
        raise ValueError("wrapped") from bomb.value
    except ValueError as wrapped:
        assert yamldoc.refused(wrapped)
    assert not yamldoc.refused(ValueError("no document")) and not yamldoc.refused(dup.value)
