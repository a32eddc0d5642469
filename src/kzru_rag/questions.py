"""What a question asks for: its language, and the kind of phrase that can answer it.

«Где…?» asks for a place («в Уральске»), «Когда…?» for a time («11–12 ноября»), «Кто…?» for a
person, «Сколько…?» / "How many…?" / «Қанша…?» for a quantity. The retriever uses the quantity
check to recognise questions the document cannot answer; the assistant uses all kinds to pick
the sentence to quote.
"""

from __future__ import annotations

import re
from typing import Literal

from .lexical import KAZAKH_LETTERS, best_parse, tokens

Language = Literal["ru", "en", "kk"]
Kind = Literal["place", "time", "person", "number", "duration"]

QUESTION_WORDS: dict[str, Kind] = {
    **dict.fromkeys("где куда where қайда қайдан".split(), "place"),
    **dict.fromkeys("когда when қашан".split(), "time"),
    **dict.fromkeys("кто кого кому кем ком who whom кім кімді кімге кіммен".split(), "person"),
    **dict.fromkeys("сколько қанша".split(), "number"),
}
_HOW: dict[str, Kind] = {"many": "number", "much": "number", "long": "duration"}
_DATE = re.compile(
    r"\b\d{1,2}(?:\s*[–-]\s*\d{1,2})?\s+(?:январ|феврал|март|апрел|ма[йя]|июн|июл|август|сентябр|октябр|ноябр|декабр)\w*"
    r"|\b(?:1[89]|20)\d{2}\b",
    re.IGNORECASE,
)
WHICH = frozenset(
    "какой какая какое какие какого какую каком каких каков какова каково каковы "
    "который которая которое которые чей чья чьё чье чьи".split()
)
"""Words that ask for the noun that follows them: that noun is what the question asks for, not its topic."""
ASKED_NOUN_WINDOW = 3
"""The asked-for noun is looked for among this many words after «какой…» or «сколько» («Какие практические механизмы…»)."""
_WORD = re.compile(r"\w+(?:[-‐‑]\w+)*")
_PLACE_PREPOSITIONS = frozenset({"в", "во", "на"})
_NOT_QUANTITIES = frozenset({"оба"})  # pymorphy3 reads «оба», «обеим» as numerals


def question_language(text: str) -> Language:
    """Kazakh when Kazakh-only letters occur, English when Latin letters outnumber Cyrillic, else Russian."""
    if KAZAKH_LETTERS & set(text.lower()):
        return "kk"
    latin = sum(1 for ch in text if "a" <= ch.lower() <= "z")
    cyrillic = sum(1 for ch in text if "а" <= ch.lower() <= "я" or ch in "ёЁ")
    return "en" if latin > cyrillic else "ru"


def expected_answer(question: str) -> Kind | None:
    """The kind of phrase the question asks for, from its first question word (None: no such word)."""
    words = tokens(question, lemmas=False)
    for word, after in zip(words, [*words[1:], ""]):
        if word == "how" and after in _HOW:
            return _HOW[after]
        if word in QUESTION_WORDS:
            return QUESTION_WORDS[word]
    return None


def asked_noun(question: str) -> str | None:
    """The noun a Russian question asks for, as written: the first noun just after «какой…», «каков…»,
    «чей…» or «сколько» («Какой бюджет выделен…?» → «бюджет», «Сколько студентов…?» → «студентов»);
    None when it has none."""
    words = [match.group().lower() for match in _WORD.finditer(question)]
    for place, word in enumerate(words):
        if word in WHICH or word == "сколько":
            following = words[place + 1 : place + 1 + ASKED_NOUN_WINDOW]
            if noun := next((w for w in following if best_parse(w)[1] == "NOUN"), None):
                return noun
    return None


def holds_answer(sentence: str, kind: Kind, question: str) -> bool:
    """True when `sentence` contains a phrase of `kind` that the question does not already contain.

    A quantity is a number or a numeral («девяти», «трех»; not «обеим»); dates are times, not quantities. A
    duration is either («более чем трех десятилетий», «11–12 ноября»).
    """
    if kind == "time":
        return any(match.group() not in question for match in _DATE.finditer(sentence))
    if kind == "duration":
        return holds_answer(sentence, "time", question) or holds_answer(sentence, "number", question)
    if kind == "number":
        sentence = _DATE.sub(" ", sentence)
    known = set(tokens(question))
    words = [match.group() for match in _WORD.finditer(sentence)]
    for before, word in zip(["", *words], words):
        normal, pos, grammemes = best_parse(word.lower())
        if normal in known:
            continue
        if kind == "number" and (word.isdigit() or (pos == "NUMR" and normal not in _NOT_QUANTITIES)):
            return True
        if kind == "person" and word[:1].isupper() and ({"Name", "Surn"} & grammemes):
            return True
        if kind == "place" and word[:1].isupper() and "Geox" in grammemes and before.lower() in _PLACE_PREPOSITIONS:
            return True
    return False
