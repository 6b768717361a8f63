"""Chinese personal and company names with their pinyin, drawn from a seeded ``random.Random``."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from evenhand.demo.catalog import BRAND, COMPANY_SUFFIXES, GIVEN_FEMALE, GIVEN_MALE, INDUSTRIES, REGIONS, SURNAMES


@dataclass(frozen=True)
class PersonName:
    hanzi: str
    pinyin: str  # lower-case, no spaces: 王强 -> wangqiang


def person_name(rnd: random.Random) -> PersonName:
    surname, s_py, _ = rnd.choices(SURNAMES, weights=[w for *_, w in SURNAMES])[0]
    pool = GIVEN_MALE if rnd.random() < 0.5 else GIVEN_FEMALE
    given = rnd.sample(pool, 2 if rnd.random() < 0.7 else 1)
    return PersonName(surname + "".join(g for g, _ in given), s_py + "".join(p for _, p in given))


@dataclass
class NameBook:
    """Hands out names nobody else in the company has, and unique ASCII usernames."""

    rnd: random.Random
    taken_names: set[str] = field(default_factory=set)
    taken_usernames: set[str] = field(default_factory=lambda: {"admin"})

    def reserve(self, name: PersonName) -> str:
        self.taken_names.add(name.hanzi)
        return self.username(name.pinyin)

    def fresh(self) -> tuple[PersonName, str]:
        name = person_name(self.rnd)
        while name.hanzi in self.taken_names:
            name = person_name(self.rnd)
        return name, self.reserve(name)

    def username(self, pinyin: str) -> str:
        candidate, n = pinyin, 1
        while candidate in self.taken_usernames:
            n += 1
            candidate = f"{pinyin}{n}"
        self.taken_usernames.add(candidate)
        return candidate


_CITIES = {r.code: r.cities for r in REGIONS}
_WORDS = {i.name: i.word for i in INDUSTRIES}


def company_name(rnd: random.Random, region_code: str, industry: str) -> tuple[str, str]:
    """A plausible company name (杭州恒信智能制造有限公司) and a domain-ish slug for emails."""
    city, city_py = rnd.choice(_CITIES[region_code])
    (b1, p1), (b2, p2) = rnd.sample(BRAND, 2)
    word = _WORDS[industry]
    suffix = rnd.choices(COMPANY_SUFFIXES, weights=(8, 3, 1))[0]
    return f"{city}{b1}{b2}{word}{suffix}", f"{p1}{p2}-{city_py}"
