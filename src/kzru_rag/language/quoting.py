"""Phrases in quotes, nested ones too («Положение об отпусках ТОО «Степной ветер»»), the one form in which a quoted
phrase and a document's title or name are compared (`plain`), and the names a question quotes whole (`named`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TypeVar

from kzru_rag.schema import Quoted

OPENING = "«„"
CLOSING = "»"
EITHER = '"“”'
"""Quotes that open or close by where they stand (`_opens`): «"…"», Russian «„…“», English «“…”»."""
QUOTES = OPENING + CLOSING + EITHER

_DASHES = re.compile(r"[‐‑‒–—―−]")
_QUOTE = re.compile(f"[{QUOTES}]")

T = TypeVar("T")


def quoted(text: str) -> tuple[Quoted, ...]:
    """Every phrase of `text` in quotes, in the order they open (one holding another first): «О чём документ
    «Положение ТОО «Степной ветер»»?» gives «положение тоо степной ветер» and «степной ветер» within it. A quote left
    open, or closed without an opening, makes no phrase; nor does one with nothing but spaces and quotes inside."""
    opened: list[int] = []
    spans: list[tuple[int, int]] = []
    for place, char in enumerate(text):
        if char not in QUOTES:
            continue
        if char in OPENING or char in EITHER and _opens(text, place, opened):
            opened.append(place)
        elif opened:
            spans.append((opened.pop(), place + 1))
    phrases = (Quoted(plain(text[start + 1 : end - 1]), start, end) for start, end in sorted(spans))
    return tuple(phrase for phrase in phrases if phrase.text)


def _opens(text: str, place: int, opened: list[int]) -> bool:
    """True when the quote at `place` opens a phrase: it follows the start, a space, a bracket or a quote that
    opened, and a word (not a space or the end) follows it."""
    before = text[place - 1] if place else " "
    after = text[place + 1] if place + 1 < len(text) else " "
    return (before.isspace() or before in "([{" or bool(opened) and opened[-1] == place - 1) and not after.isspace()


def plain(phrase: str) -> str:
    """`phrase` as quoted names are compared: lower-cased (ё as е), without quotes (inner ones may be typed or
    not), every dash «-», spaces single."""
    return " ".join(_DASHES.sub("-", _QUOTE.sub(" ", phrase.casefold().replace("ё", "е"))).split())


def named(phrases: tuple[Quoted, ...], names: Mapping[str, T]) -> list[T]:
    """What `names` (keyed by `plain` names) gives for each of the `phrases` that is a name whole, outermost first:
    a phrase within one that is a name is part of that name («Степной ветер» in «Положение ТОО «Степной ветер»»)."""
    found: list[Quoted] = []
    for phrase in phrases:
        if phrase.text in names and not any(phrase.within(name) for name in found):
            found.append(phrase)
    return [names[phrase.text] for phrase in found]
