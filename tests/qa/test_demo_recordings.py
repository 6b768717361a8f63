"""The demo's recordings: generated WAV clips stand in for every simulated call, so each sampled call plays."""

from __future__ import annotations

import wave
from pathlib import Path

import pytest
from sqlalchemy import func, select

from evenhand.db import session_scope
from evenhand.demo.recordings import write_clips
from evenhand.models import Activity, QaReview
from evenhand.qa import audio, service
from tests.demo.conftest import build_into


def test_the_clips_are_short_mono_wav_files(tmp_path: Path) -> None:
    paths = write_clips(tmp_path)
    assert [p.name for p in paths] == [f"demo-call-{n}.wav" for n in range(1, 7)]
    for path in paths:
        with wave.open(str(path)) as clip:
            assert (clip.getnchannels(), clip.getsampwidth(), clip.getframerate()) == (1, 2, 8000)
            assert 2 <= clip.getnframes() / clip.getframerate() <= 10
    assert len({p.read_bytes() for p in paths}) == 6  # six different clips


@pytest.mark.slow
def test_every_sampled_demo_call_plays(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> None:
    built = build_into(tmp_path_factory, tmp_path, scale=0.05)
    try:
        with session_scope(built.engine) as session:
            month = session.scalar(select(func.max(Activity.occurred_at)).where(Activity.recording_ref.is_not(None)))
            assert month is not None
            drawn = service.draw(session, service.period_of(month.replace(day=1)), seed=1)
            refs = session.scalars(select(Activity.recording_ref).join(QaReview, QaReview.activity_id == Activity.id)
                                   .where(QaReview.sample_id == drawn.sample.id)).all()
        assert drawn.ids and len(refs) == len(drawn.ids)
        played = {audio.locate(str(ref)) for ref in refs}
        assert all(p.parent.name == audio.STAND_INS and p.suffix == ".wav" for p in played)
    finally:
        built.engine.dispose()
