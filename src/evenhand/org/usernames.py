"""Usernames: the rule, stated in words wherever a username is refused, and the one derived from a person's
display name when an import or a command is given none.

A derived username is lowercase ASCII, its parts joined by dots: a Chinese name is written in pinyin, surname
first and the given name as one word (张伟 → zhang.wei, 王小明 → wang.xiaoming, 欧阳娜娜 → ouyang.nana); any other
script is folded to ASCII word by word (José Núñez → jose.nunez, Владимир Ильин → vladimir.ilin). A name that
gives nothing usable falls back to the e-mail's local part; a username already taken gets a number (zhang.wei2).
Polyphonic characters are read the common way (单 is "dan", not the surname "shan"): a username is only a
default, which the file's own username column or ``--username`` overrides."""

from __future__ import annotations

import re
from collections.abc import Collection

from anyascii import anyascii

from evenhand.i18n import N_
from evenhand.kit import text

MIN_LENGTH, MAX_LENGTH = 2, 64
RULE = N_("A username has 2–64 characters: letters, digits, '.', '_', '-' or '@', with no spaces (for example "
          "zhang.wei).")
PATTERN = r"^[A-Za-z0-9_.@-]{2,64}$"  # for the API's schema; people read ``RULE``
_VALID = re.compile(PATTERN)
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]+")
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")
_APOSTROPHES = re.compile(r"['’`´]")
# Two-character surnames, so that the given name is not split from them (欧阳娜娜 → ouyang.nana, not ou.yangnana).
_COMPOUND_SURNAMES = frozenset((
    "欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "令狐",
    "长孙", "宇文", "司徒", "夏侯", "轩辕", "端木", "独孤", "南宫", "西门", "百里",
    "呼延", "澹台", "太史", "申屠", "钟离", "闻人", "赫连", "濮阳", "淳于", "公冶",
    "太叔", "仲孙", "宗政", "拓跋", "司空",
))


def is_valid(value: str) -> bool:
    return bool(_VALID.match(value))


def check(value: str) -> str:
    """The pydantic check of a username: the rule in words, never the pattern (a control character is named as
    such, as in any other text)."""
    if not is_valid(value):
        raise ValueError(text.refusal(value) or RULE)
    return value


def looks_like_a_name(value: str) -> bool:
    """Not a username but a person's name: letters outside ASCII (``张伟``, ``José``), or words each written with a
    capital (``Anna Lee``). ``anna lee`` is neither: a username typed wrong, refused with the rule."""
    text = value.strip()
    if not text or is_valid(text):
        return False
    words = text.split()
    return any(c.isalpha() and not c.isascii() for c in text) or (len(words) > 1 and all(w[0].isupper()
                                                                                       for w in words))


def derive(display_name: str, email: str | None = None) -> str | None:
    """The username a person's name suggests (see the module's rules), else the e-mail's local part; None when
    neither gives at least two characters."""
    for candidate in (_from_name(display_name), _from_email(email)):
        candidate = candidate[:MAX_LENGTH - 4].strip("._-")  # room for a number
        if len(candidate) >= MIN_LENGTH:
            return candidate
    return None


def unique(base: str, taken: Collection[str]) -> str:
    """``base``, or ``base2``, ``base3``… whichever is free; ``taken`` holds the usernames in use, in lower case."""
    if base.lower() not in taken:
        return base
    n = 2
    while f"{base}{n}".lower() in taken:
        n += 1
    return f"{base}{n}"


def _from_name(name: str) -> str:
    parts: list[str] = []
    position = 0
    text = name
    for han in _HAN.finditer(text):
        parts += _words(text[position:han.start()])
        parts += _pinyin(han.group(), first=not parts)
        position = han.end()
    parts += _words(text[position:])
    return ".".join(p for p in parts if p)


def _words(text: str) -> list[str]:
    return _NOT_ALNUM.split(_APOSTROPHES.sub("", anyascii(text)).lower()) if text.strip() else []


def _pinyin(han: str, *, first: bool) -> list[str]:
    """A run of Chinese characters: surname, then the given name as one word, when it starts the name."""
    syllables = [anyascii(c).lower() for c in han]
    if not first or len(han) < 2:
        return ["".join(syllables)]
    cut = 2 if han[:2] in _COMPOUND_SURNAMES and len(han) > 2 else 1
    return ["".join(syllables[:cut]), "".join(syllables[cut:])]


def _from_email(email: str | None) -> str:
    if not email or "@" not in email:
        return ""
    local = email.rsplit("@", 1)[0].lower()
    return ".".join(w for w in re.split(r"[^a-z0-9_-]+", anyascii(local)) if w)
