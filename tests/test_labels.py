"""Display labels: the predictive model's inputs read as words in either language, never as column names."""

from __future__ import annotations

from functools import partial

from evenhand.i18n import t
from evenhand.web.labels import FEATURES, feature_text

zh, en = partial(t, locale="zh-CN"), partial(t, locale="en")


def test_known_inputs_are_named_and_channel_codes_translated() -> None:
    assert feature_text("source", "trade_show", zh) == "来源：展会"
    assert feature_text("source", "trade_show", en) == "Source: Trade show"
    assert feature_text("dwell_seconds", "1085", zh) == "官网停留秒数：1085"
    assert feature_text("page_views", None, en) == "Page views: —"


def test_every_input_the_intake_rows_carry_has_a_label() -> None:
    from evenhand.leads.predict.repository import _COUNTERS, INTAKE_COLUMNS

    read = {c.key for c in INTAKE_COLUMNS} | set(_COUNTERS.values()) | {"dwell_seconds"}
    unlabelled = read - set(FEATURES) - {"id", "created_at", "email", "phone"}  # identifiers: dropped as ID-like
    assert not unlabelled


def test_a_column_from_a_trained_file_shows_under_its_own_name() -> None:
    assert feature_text("渠道评级", "A", zh) == "渠道评级：A"
