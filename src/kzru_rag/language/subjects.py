"""Which thing a question asks about, and whether a sentence speaks of it or of a neighbouring one.

A question names its thing by phrases (`Thing`): a noun with the adjective before it («горячей *воды*», «срочный
*паспорт*», «ближайший *поток*»), a name in quotes («направлению «Информационная безопасность»»), a year («в 2025
году»). A sentence holds the thing when it holds the whole phrase in any form (`holds`); it speaks of *another* thing
(`other_thing`) when it holds the same noun with another adjective and not the question's («холодная вода» asked for
«горячей воды», «Следующий поток» for «ближайший поток»), another name in quotes and not the question's, or another
year and not the question's. A document often gives the same kind of fact (a price, a date) for neighbouring things in
one passage; the quote should be the one about the question's own (`answering.extractive` weighs modified nouns: names
in quotes and years are named in passing too often, «"Доктор Кто"» beside «"Семёрки Блейка"», to choose by them), and
`answering.extractive.quoted_things` tells whether an answer's first quote names a neighbour.
"""

from __future__ import annotations

import re
from functools import lru_cache

from kzru_rag.language.words import WORD, best_parse, cases, word_readings
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


_DESCRIPTION = re.compile(
    r"^\s*(?:(?:кто|что)\s+(?:такой|такая|такое|такие|таков|такова)"
    r"|кем\s+(?:является|являлся|являлась|являются|являлись|был|была|были|работает|работал|работала)"
    r"|что\s+(?:представляет|представляют|представлял|представляла|представляло)\s+собой"
    r"|что\s+(?:значит|означает|означают))\s+(?P<thing>[^?]+?)\s*\??\s*$",
    re.IGNORECASE,
)
_DEFINING = re.compile(
    r"^\s*(?:[—–(]|-\s|\s*(?:это|является|являлся|являлась|являлось|являются|являлись|представляет\s+собой)\b)",
    re.IGNORECASE,
)
"""What follows a thing's name where a sentence says what it is: «X — …», «X (…)», «X является…», «X – это…»."""
_CHAIN = frozenset({"NOUN", "ADJF", "PRTF"})


def described(question: str, language: Language) -> tuple[frozenset[str], ...]:
    """The readings of each word of what a Russian question asks to describe: «Кто такая *Жанар Тулиндинова*?»,
    «Что такое *сепсис*?», «Кем является *Бекмуратов*?», «Что представляет собой *ЕАЭС*?»; empty for others. After
    «кем был…» only a name asks for a description: «Кем был сын Аюрбарибады?» asks who he was, a name."""
    match = _DESCRIPTION.match(question) if language == "ru" else None
    if not match or question.lstrip().lower().startswith("кем") and not match.group("thing")[:1].isupper():
        return ()
    return tuple(_word(w.group()) for w in WORD.finditer(match.group("thing")))


def describes(sentence: str, thing: tuple[frozenset[str], ...]) -> bool:
    """True when `sentence` says what `thing` (`described`) is or does: its words followed by a dash, a bracket,
    «это», «является» («Сепсис — …»), by a comma and a noun in its case («Тулиндинова, руководитель отдела…»), or
    preceded by a noun phrase in its case with no preposition before it («…, – отмечает политолог, руководитель
    отдела КИСИ Жанар Тулиндинова»; not «по мнению Жанар Тулиндиновой»)."""
    words = list(WORD.finditer(sentence))
    for place in range(len(words) - len(thing) + 1):
        if all(_word(words[place + n].group()) & part for n, part in enumerate(thing)):
            end = words[place + len(thing) - 1].end()
            after = words[place + len(thing)] if place + len(thing) < len(words) else None
            if _DEFINING.match(sentence[end:]) or (
                after is not None
                and sentence[end : after.start()].strip() == ","
                and after.group().islower()
                and best_parse(after.group())[1] == "NOUN"
                and cases(after.group()) & cases(words[place + len(thing) - 1].group().lower())
            ):
                return True
            if _named_after_role(sentence, words, place, place + len(thing) - 1):
                return True
    return False


def _named_after_role(sentence: str, words: list[re.Match[str]], place: int, last: int) -> bool:
    """True when the words right before the name `words[place : last + 1]` are a noun phrase (nouns, adjectives;
    nothing but spaces between them, or a comma before a name set off by commas) with a noun in the case of the
    name's last word, not governed by a preposition: «политолог Жанар Тулиндинова», «министр внутренних дел
    Германии, Томас де Мезьер, …»."""
    asked = cases(words[last].group().lower())
    inserted = sentence[words[last].end() :].lstrip().startswith(",")
    chain = []
    for before in range(place - 1, -1, -1):
        gap = sentence[words[before].end() : words[before + 1].start()].strip()
        if gap and not (gap == "," and before == place - 1 and inserted):
            break
        word = words[before].group().lower()
        _, pos, _ = best_parse(word)
        if pos not in _CHAIN:
            if pos == "PREP":
                return False
            break
        chain.append(word)
    return any(best_parse(word)[1] == "NOUN" and cases(word) & asked for word in chain)


def _held(thing: Thing, readings: frozenset[str]) -> bool:
    return all(word & readings for word in thing.words)


@lru_cache(maxsize=4096)
def _readings(text: str) -> frozenset[str]:
    return frozenset(reading for match in WORD.finditer(text) for reading in _word(match.group()))


def phrase(text: str) -> tuple[frozenset[str], ...]:
    """The readings of each word of `text`, as `described` gives them: a thing `describes` can look for."""
    return tuple(_word(match.group()) for match in WORD.finditer(text))


def _word(word: str) -> frozenset[str]:
    return word_readings(word) or frozenset({word.lower()})


def _quoted(text: str) -> list[tuple[str, tuple[frozenset[str], ...]]]:
    """(name as written, the readings of each of its content words) of each name in quotes."""
    names = []
    for match in _QUOTED.finditer(text):
        name = next(group for group in match.groups() if group)
        names.append((name, tuple(readings for w in WORD.finditer(name) if (readings := word_readings(w.group())))))
    return names


@lru_cache(maxsize=4096)
def _pairs(text: str) -> tuple[tuple[str, frozenset[str], str, frozenset[str]], ...]:
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
    return tuple(pairs)


def _is_modifier(word: str) -> bool:
    _, pos, grammemes = best_parse(word.lower())
    return pos in _MODIFIERS and not grammemes & _NOT_MODIFIERS


def _is_noun(word: str) -> bool:
    return best_parse(word.lower())[1] == "NOUN" or len(word) > 1 and word.isupper()
