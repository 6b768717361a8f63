"""What a reviewee is shown of their reviews: nothing below the threshold, then the trimmed means and the comments
in the order of the reviews' random ids, never the order of writing."""

from __future__ import annotations

from evenhand.models import PeerReviewCycle
from evenhand.performance.peer_repository import Person, Rating
from evenhand.performance.peer_service import summary

CYCLE = PeerReviewCycle(period="2026-03", seed=1, per_reviewer=5, threshold=4)
PERSON = Person(7, "张伟", "大客户一组")
WRITTEN = [Rating("c3", 5, 2, "second"), Rating("0a", 1, 4, ""), Rating("f1", 4, 4, "third"),
           Rating("7b", 4, 5, "first")]


def test_below_the_threshold_nothing_is_told() -> None:
    shown = summary(CYCLE, PERSON, WRITTEN[:3])
    assert shown.enough is False and shown.reviews is None and shown.comments == []
    assert shown.professionalism is None and shown.collaboration is None


def test_from_the_threshold_the_means_and_the_comments_by_random_id() -> None:
    shown = summary(CYCLE, PERSON, WRITTEN)
    assert (shown.enough, shown.reviews, shown.trimmed) == (True, 4, False)
    assert (shown.professionalism, shown.collaboration) == (3.5, 3.75)
    assert shown.comments == ["first", "second", "third"]  # ids 7b, c3, f1; the one without a comment left out


def test_from_five_reviews_the_extremes_are_left_out() -> None:
    shown = summary(CYCLE, PERSON, [*WRITTEN, Rating("9d", 3, 1, "")])
    assert shown.trimmed is True and (shown.professionalism, shown.collaboration) == (3.67, 3.33)
