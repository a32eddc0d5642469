"""Which thing a question asks about, and whether a sentence speaks of it or of a neighbouring one.

A question names its thing by phrases (`Thing`): a noun with the adjective before it («горячей *воды*», «срочный
*паспорт*», «ближайший *поток*»), a name in quotes («направлению «Информационная безопасность»»), a year («в 2025
году»). A sentence holds the thing when it holds the whole phrase in any form (`holds`); it speaks of *another* thing
(`other_thing`) when it holds the same noun with another adjective and not the question's («холодная вода» asked for
«горячей воды», «Следующий поток» for «ближайший поток»), another name in quotes and not the question's, or another
year and not the question's. A document often gives the same kind of fact (a price, a date) for neighbouring things in
one passage; the quote should be the one about the question's own (`answering.extractive` weighs modified nouns: names
in quotes and years are named in passing too often, «"Доктор Кто"» beside «"Семёрки Блейка"», to choose by them), and
an answer whose first quote names a neighbour says so (`Answer.other_thing`).
"""

from __future__ import annotations

import re

from kzru_rag.language.words import WORD, best_parse, word_readings
from kzru_rag.schema import Language, Thing

_QUOTED = re.compile(r"«([^«»]{2,80})»|\"([^\"]{2,80})\"|“([^“”]{2,80})”")
_YEAR = re.compile(r"\b(?:1[5-9]|20)\d{2}\b")
_MODIFIERS = frozenset({"ADJF", "PRTF"})
_NOT_MODIFIERS = frozenset({"Apro", "Anum"})
"""Pronominal adjectives («какой», «этот») and ordinals («первый») do not tell one thing from another by name."""


def question_things(question: str, language: Language) -> tuple[Thing, ...]:
    """The phrases of a Russian `question` that tell which thing it asks about: modified nouns, names in quotes,
    years (none for another language: its words are not those of the documents)."""
    if language != "ru":
        return ()
    things = [Thing(name, words, "quoted") for name, words in _quoted(question) if words]
    names = " ".join(thing.written for thing in things)
    things += [
        Thing(f"{adjective} {noun}", (modifier, head), "modified")
        for adjective, modifier, noun, head in _pairs(question)
        if f"{adjective} {noun}" not in names
    ]
    things += [Thing(year, (frozenset({year}),), "year") for year in dict.fromkeys(_YEAR.findall(question))]
    return tuple(things)


def told_apart(things: tuple[Thing, ...], texts: list[str]) -> tuple[Thing, ...]:
    """The `things` a sentence can name a neighbour of: names in quotes and years, and a modified noun when one of the
    `texts` (the passages) names it so too: the documents then tell it from its neighbours («горячей воды» beside
    «холодной воды»), while an adjective they never put before the noun may be a synonym of theirs («летнее кафе»
    of a decree on «сезонные кафе»)."""
    return tuple(thing for thing in things if thing.shape != "modified" or any(holds(text, thing) for text in texts))


def holds(sentence: str, thing: Thing) -> bool:
    """True when `sentence` holds the phrase `thing`, each word in any form: a modified noun as a phrase (the
    adjective before the noun), a name in quotes or a year anywhere."""
    if thing.shape == "modified":
        modifier, head = thing.words
        return any(
            their_modifier & modifier and their_head & head for _, their_modifier, _, their_head in _pairs(sentence)
        )
    return _held(thing, _readings(sentence))


def other_thing(sentence: str, things: tuple[Thing, ...]) -> str | None:
    """The phrase of `sentence` that names another thing of the same kind as one of the question's `things` while the
    sentence lacks that one: the same noun with another adjective, another name in quotes, another year. None when it
    names none."""
    readings = _readings(sentence)
    for thing in things:
        if _held(thing, readings):
            continue
        if thing.shape == "modified":
            modifier, head = thing.words
            found = next(
                (
                    f"{a} {n}"
                    for a, their_modifier, n, their_head in _pairs(sentence)
                    if their_head & head and not their_modifier & modifier
                ),
                None,
            )
        elif thing.shape == "quoted":
            asked = frozenset().union(*thing.words)
            found = next(
                (name for name, words in _quoted(sentence) if words and not asked & frozenset().union(*words)), None
            )
        else:
            found = next((year for year in _YEAR.findall(sentence) if year not in thing.words[0]), None)
        if found:
            return found
    return None


def _held(thing: Thing, readings: frozenset[str]) -> bool:
    return all(word & readings for word in thing.words)


def _readings(text: str) -> frozenset[str]:
    return frozenset(reading for match in WORD.finditer(text) for reading in _word(match.group()))


def _word(word: str) -> frozenset[str]:
    return word_readings(word) or frozenset({word.lower()})


def _quoted(text: str) -> list[tuple[str, tuple[frozenset[str], ...]]]:
    """(name as written, the readings of each of its content words) of each name in quotes."""
    names = []
    for match in _QUOTED.finditer(text):
        name = next(group for group in match.groups() if group)
        names.append((name, tuple(readings for w in WORD.finditer(name) if (readings := word_readings(w.group())))))
    return names


def _pairs(text: str) -> list[tuple[str, frozenset[str], str, frozenset[str]]]:
    """(adjective, its readings, noun, its readings) of each adjective written right before a noun, or before another
    adjective of it («средняя заработная плата»: both adjectives), within one phrase (nothing but spaces between)."""
    words = list(WORD.finditer(text))
    pairs = []
    for place, match in enumerate(words):
        if not _is_modifier(match.group()):
            continue
        for later, following in enumerate(words[place + 1 : place + 3], start=place + 1):
            if text[words[later - 1].end() : following.start()].strip():
                break
            if _is_noun(following.group()):
                pairs.append((match.group(), _word(match.group()), following.group(), _word(following.group())))
                break
            if not _is_modifier(following.group()):
                break
    return pairs


def _is_modifier(word: str) -> bool:
    _, pos, grammemes = best_parse(word.lower())
    return pos in _MODIFIERS and not grammemes & _NOT_MODIFIERS


def _is_noun(word: str) -> bool:
    return best_parse(word.lower())[1] == "NOUN" or len(word) > 1 and word.isupper()
