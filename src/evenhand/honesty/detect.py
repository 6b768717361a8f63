"""The honesty checks on CRM notes, pure: which notes claim a contact nothing captured backs, and which notes are
near-copies of notes written about other customers. No database here; times are epoch seconds.

Unbacked: a note *claims* the kinds of contact it declares (``declared_type``: call, meeting, visit, message) and
those its text names (``CLAIM_PATTERNS``, Chinese and English, configurable). A claim is backed by a captured
contact (never another note, never a call, meeting or visit typed into the CRM by hand) with the same customer,
by any rep, whose span (start to start + duration) touches the window from ``before`` seconds before the note to
``after`` seconds after it. What backs which claim (``BACKS``): a call only a call that connected (answered, or
with talk time) — an unanswered dial does not back "talked to the customer by phone"; a meeting or a visit
either of the two (an on-site meeting is checked in as one or the other); a message a message. A note with
several claims is backed when one of them is (it is one write-up). A note with no claim is not checked.

The customer: a lead and the deals made from it are one customer, so a note on a deal is backed by a call logged
on the deal's lead and the other way round (``customer_key``).

Near-duplicate: notes of at least ``min_chars`` characters once spaces and punctuation are dropped (stock phrases
such as "客户要求发送报价" are the vocabulary of a CRM, not boilerplate, and are never compared) whose character
``shingle``-grams overlap with a note about another customer by a Jaccard similarity of ``threshold`` or more.
Candidates come from MinHash signatures banded into an LSH index (so the work grows with the notes, not their
pairs); each candidate pair's similarity is then computed exactly.
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

I64 = NDArray[np.int64]
KINDS = ("call", "meeting", "visit", "message")  # what a note can claim
BACKS: dict[str, frozenset[str]] = {"call": frozenset({"call"}), "meeting": frozenset({"meeting", "visit"}),
                                    "visit": frozenset({"visit", "meeting"}), "message": frozenset({"message"})}
CLAIM_PATTERNS: dict[str, tuple[str, ...]] = {
    "call": ("电话沟通", "电话联系", "电话回访", "致电", "通话", "打电话", "电联", "来电", r"\bcall(?:ed|ing)?\b",
             r"\bphoned?\b", r"\brang\b", r"\bspoke (?:to|with)\b"),
    "visit": ("拜访", "上门", "到访", "走访", "实地", r"\bvisit(?:ed|ing)?\b", r"\bon[- ]site\b"),
    "meeting": ("面谈", "见面", "会议", "会面", "开会", "面聊", r"\bmet (?:with|the)\b", r"\bmeeting\b"),
}
SHIFT = np.int64(1) << np.int64(40)  # customer rank above any epoch second, so one sorted key orders both
NUM_HASHES, BANDS = 64, 16
_SEEDS = np.random.default_rng(20260).integers(0, np.iinfo(np.int64).max, NUM_HASHES, dtype=np.int64).astype(np.uint64)
_MIX1, _MIX2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_DROP = re.compile(r"[\s\W_]+", re.UNICODE)


@dataclass(frozen=True)
class Rules:
    """How the checks read: the window around a note, the claim patterns, and the duplicate thresholds."""

    before: int = 12 * 3600
    after: int = 2 * 3600
    patterns: Mapping[str, Sequence[str]] = field(default_factory=lambda: CLAIM_PATTERNS)
    min_chars: int = 40
    shingle: int = 3
    threshold: float = 0.8


@dataclass(frozen=True)
class Notes:
    """The notes checked (columns, one row per note)."""

    id: I64
    customer: I64
    at: I64
    text: Sequence[str]
    declared: Sequence[str | None]


@dataclass(frozen=True)
class Contacts:
    """Captured contacts (not notes): calls only where they connected are ``connected``."""

    id: I64
    customer: I64
    start: I64
    end: I64
    kind: Sequence[str]
    connected: NDArray[np.bool_]


def customer_key(lead_id: int | None, deal_lead_id: int | None, deal_id: int | None) -> int:
    """A lead (or the lead a deal came from) is the customer; a deal without a lead stands for itself."""
    lead = lead_id or deal_lead_id
    if lead:
        return int(lead)
    return -int(deal_id) if deal_id else 0


def compile_patterns(patterns: Mapping[str, Sequence[str]]) -> dict[str, re.Pattern[str]]:
    return {kind: re.compile("|".join(f"(?:{p})" for p in found), re.IGNORECASE)
            for kind, found in patterns.items() if found}


def claims(text: str, declared: str | None, compiled: Mapping[str, re.Pattern[str]]) -> frozenset[str]:
    """The kinds of contact a note says happened: its declared type, and every kind its text names."""
    said = {kind for kind, pattern in compiled.items() if pattern.search(text)}
    if declared in BACKS:
        said.add(declared)
    return frozenset(said)


# --- unbacked ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Unbacked:
    note_id: int
    claims: tuple[str, ...]
    window: tuple[int, int]  # the span searched, epoch seconds
    before: list[dict[str, object]]  # the nearest contacts with the customer before the note, nearest first
    after: list[dict[str, object]]  # and after it


def unbacked(notes: Notes, contacts: Contacts, rules: Rules, *, nearest: int = 3) -> list[Unbacked]:
    """The notes none of whose claims a contact in their window backs, with the evidence."""
    compiled = compile_patterns(rules.patterns)
    said = [claims(t, d, compiled) for t, d in zip(notes.text, notes.declared, strict=True)]
    index = _Index.over(contacts, notes.customer)
    backed = np.zeros(len(notes.id), dtype=bool)
    for kind in KINDS:
        asked = np.array([kind in s for s in said], dtype=bool)
        if asked.any():
            backed |= asked & index.restricted(_backing(contacts, kind)).any_within(notes, rules)
    checked = np.array([bool(s) for s in said], dtype=bool)
    return [_evidence(notes, i, said[i], index, rules, nearest) for i in np.flatnonzero(checked & ~backed).tolist()]


def _backing(contacts: Contacts, claim: str) -> NDArray[np.bool_]:
    kinds = np.asarray(contacts.kind, dtype=object)
    mask = np.isin(kinds, list(BACKS[claim])) & (contacts.customer != 0)
    return mask & contacts.connected if claim == "call" else mask


class _Index:
    """Contacts sorted by (customer, start) as one int64 key (the customer's rank times ``SHIFT`` plus the
    instant), with a running maximum of their ends: whether a contact with a customer touches a window is then
    two bisections, for every note at once."""

    def __init__(self, contacts: Contacts, universe: I64, mask: NDArray[np.bool_]) -> None:
        self.contacts, self.universe = contacts, universe
        picked = np.flatnonzero(mask)
        rank = self.rank(contacts.customer[picked])
        order = np.lexsort((contacts.start[picked], rank))
        self.rows = picked[order]
        self.key = rank[order] * SHIFT + contacts.start[self.rows]
        self.ends = np.maximum.accumulate(rank[order] * SHIFT + contacts.end[self.rows]) if len(order) else self.key

    def rank(self, customers: I64) -> I64:
        return np.searchsorted(self.universe, customers).astype(np.int64)

    @classmethod
    def over(cls, contacts: Contacts, customers: I64) -> _Index:
        """Every contact with a customer, ranked among the customers of the contacts and of the notes."""
        return cls(contacts, np.unique(np.concatenate([contacts.customer, customers])), contacts.customer != 0)

    def restricted(self, mask: NDArray[np.bool_]) -> _Index:
        return _Index(self.contacts, self.universe, mask)

    def any_within(self, notes: Notes, rules: Rules) -> NDArray[np.bool_]:
        base = self.rank(notes.customer) * SHIFT
        hi = np.searchsorted(self.key, base + notes.at + rules.after, side="right")
        if not len(self.key):
            return np.zeros(len(notes.id), dtype=bool)
        reach = self.ends[np.maximum(hi - 1, 0)]
        return (hi > 0) & (reach >= base + notes.at - rules.before) & (notes.customer != 0)

    def around(self, customer: int, at: int, nearest: int) -> tuple[list[int], list[int]]:
        """Rows of the contacts with ``customer`` just before ``at`` (nearest first) and from ``at`` on."""
        base = int(self.rank(np.array([customer]))[0]) * int(SHIFT)
        lo, hi = np.searchsorted(self.key, [base, base + int(SHIFT)])
        mid = int(np.searchsorted(self.key, base + at))
        before = self.rows[max(int(lo), mid - nearest):mid][::-1]
        return before.tolist(), self.rows[mid:min(int(hi), mid + nearest)].tolist()


def _evidence(notes: Notes, i: int, said: frozenset[str], index: _Index, rules: Rules, nearest: int) -> Unbacked:
    at, customer = int(notes.at[i]), int(notes.customer[i])
    before, after = index.around(customer, at, nearest) if customer else ([], [])
    return Unbacked(int(notes.id[i]), tuple(sorted(said)), (at - rules.before, at + rules.after),
                    [_contact(index.contacts, r) for r in before], [_contact(index.contacts, r) for r in after])


def _contact(c: Contacts, row: int) -> dict[str, object]:
    return {"id": int(c.id[row]), "kind": c.kind[row], "start": int(c.start[row]), "end": int(c.end[row]),
            "connected": bool(c.connected[row])}


# --- near-duplicates --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Similar:
    note_id: int
    similar: list[tuple[int, float]]  # (note id, Jaccard similarity), most similar first


def normalised(text: str) -> str:
    """Letters and digits only, case- and width-folded: what two copies of a boilerplate share."""
    return _DROP.sub("", unicodedata.normalize("NFKC", text).casefold())


def shingles(text: str, size: int) -> frozenset[int]:
    """The note's character ``size``-grams, each as a stable 32-bit hash (CRC-32: the same in every process)."""
    return frozenset(zlib.crc32(text[k:k + size].encode()) for k in range(max(len(text) - size + 1, 1)))


def duplicates(ids: I64, customers: I64, texts: Sequence[str], rules: Rules, *,
               checked: Iterable[int] | None = None, most: int = 10) -> list[Similar]:
    """The notes (of ``checked``, default all) with near-copies about other customers among ``ids``."""
    long_ = [(int(i), int(c), normalised(t)) for i, c, t in zip(ids.tolist(), customers.tolist(), texts, strict=True)]
    long_ = [(i, c, t) for i, c, t in long_ if len(t) >= rules.min_chars]
    sets = {i: shingles(t, rules.shingle) for i, _, t in long_}
    customer = {i: c for i, c, _ in long_}
    pairs = _candidates({i: _minhash(s) for i, s in sets.items()})
    found: dict[int, list[tuple[int, float]]] = defaultdict(list)
    for a, b in pairs:
        if customer[a] == customer[b] and customer[a] != 0:
            continue
        score = len(sets[a] & sets[b]) / len(sets[a] | sets[b])
        if score >= rules.threshold:
            found[a].append((b, round(score, 4)))
            found[b].append((a, round(score, 4)))
    wanted = set(found) if checked is None else set(checked) & set(found)
    return [Similar(i, sorted(found[i], key=lambda p: (-p[1], p[0]))[:most]) for i in sorted(wanted)]


def _minhash(values: frozenset[int]) -> NDArray[np.uint64]:
    """The least of each of ``NUM_HASHES`` seeded SplitMix64 hashes over the shingles (unsigned arithmetic wraps,
    as the mix intends). A linear hash modulo a prime would keep the shingles nearly in order and agree far
    more rarely than the similarity says."""
    z = np.fromiter(values, dtype=np.uint64, count=len(values))[None, :] + _SEEDS[:, None]
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return (z ^ (z >> np.uint64(31))).min(axis=1)


def _candidates(signatures: Mapping[int, NDArray[np.uint64]]) -> set[tuple[int, int]]:
    """Pairs of notes whose signatures agree on a whole band; notes near the threshold almost surely do
    (at 0.8 similarity, 16 bands of 4 miss a pair about once in 5,000)."""
    rows = NUM_HASHES // BANDS
    pairs: set[tuple[int, int]] = set()
    for band in range(BANDS):
        buckets: dict[bytes, list[int]] = defaultdict(list)
        for note, signature in signatures.items():
            buckets[signature[band * rows:(band + 1) * rows].tobytes()].append(note)
        for members in buckets.values():
            pairs.update((a, b) for k, a in enumerate(members) for b in members[k + 1:])
    return pairs
