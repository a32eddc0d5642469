"""Named things in text: the specifics a question names, and the named entities a sentence holds.

- `named_specifics(question)`: the words that name one particular thing — proper names, surnames,
  places, organisations and abbreviations (pymorphy3's Name/Surn/Geox/Orgn/Abbr tags, or a capital
  letter inside the sentence), Roman numerals (XXI) and numbers (2024). A question naming one the
  documents never mention cannot be answered from them («Назарбаев», «США», «Китая»).
- `entities(sentence)`: the named entities (PER, LOC, ORG) natasha's bundled Russian NER
  finds in a sentence; `tagged(text)`: natasha's tagged document, for callers that need more (the follow-ups'
  pronoun agreement). The models are loaded on first use (about a second), once per process.
- `described_people(sentence)`: the people (NER PER) that natasha's syntax parser puts in apposition with a common
  noun: a post, a title, an occupation («политолог, руководитель отдела … Жанар Тулиндинова», «X, американский физик»).
- `kazakh_stem(word)`: a Kazakh word without its case ending, to compare its embedding with Russian words.
- `spells(abbreviation, words)`: whether consecutive words spell an abbreviation («АЭС»: «атомные электростанции»).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from kzru_rag.language.words import KAZAKH_LETTERS, WORD, Readings, best_parse, word_readings

_ROMAN = re.compile(r"^(?=[MDCLXVI]{2,}$)M*(?:C[MD]|D?C{0,3})(?:X[CL]|L?X{0,3})(?:I[XV]|V?I{0,3})$")
_NAMED_GRAMMEMES = frozenset({"Name", "Surn", "Patr", "Geox", "Orgn", "Abbr"})
# Kazakh case and possessive endings (longest first): «Мәскеуде» → «Мәскеу», «Ресейдің» → «Ресей».
_KAZAKH_ENDINGS = tuple(
    sorted(
        "ның нің дың дің тың тің нан нен дан ден тан тен мен бен пен нда нде ға ге қа ке на не да де та те "
        "ды ді ты ті ны ні сы сі ы і".split(),
        key=len,
        reverse=True,
    )
)


def named_specifics(question: str) -> list[tuple[str, Readings]]:
    """(word as written, its readings) of each word of `question` that names one particular thing.

    A proper name, surname, place, organisation or abbreviation by pymorphy3's tags (Cyrillic
    words), any capitalised word that does not open a sentence (Latin script or Kazakh; a follow-up
    searched with an earlier question holds several), a Roman numeral, or a word with digits. Kazakh
    words are folded to Russian letters by `word_readings`.
    """
    found: dict[str, tuple[str, Readings]] = {}
    for match in WORD.finditer(question):
        word = match.group()
        if not _is_specific(word, _opens_sentence(question, match.start())):
            continue
        readings = word_readings(word) or frozenset({word.lower()})
        found.setdefault(min(readings), (word, readings))
    return list(found.values())


def is_roman(word: str) -> bool:
    """True for a Roman numeral of two letters or more (XXI, IV)."""
    return bool(_ROMAN.match(word))


def _opens_sentence(text: str, start: int) -> bool:
    before = text[:start].rstrip()
    return not before or before[-1] in ".?!…"


def _is_specific(word: str, opens: bool) -> bool:
    if any(c.isdigit() for c in word) or is_roman(word):
        return True
    if len(word) < 2 or not word[0].isupper():
        return False
    lower = word.lower()
    if not all("а" <= c <= "я" or c in "ё-" for c in lower) or KAZAKH_LETTERS & set(lower):
        return not opens or word.isupper()
    if word.isupper():
        return True
    _, pos, grammemes = best_parse(lower)
    return pos in ("NOUN", "ADJF", None) and bool(_NAMED_GRAMMEMES & grammemes)


def spells(abbreviation: str, words: list[str]) -> bool:
    """True when some consecutive `words` (lower-case) spell the abbreviation: each word gives its first
    letter and then possibly more of its letters in order («АЭС»: «атомные электростанции», «АПК»:
    «агропромышленный комплекс»), and the abbreviation takes at most as many words as it has letters."""
    letters = abbreviation.lower()
    for first in range(len(words)):
        if words[first][:1] == letters[0] and _spelled(letters, words[first : first + len(letters)]):
            return True
    return False


def _spelled(letters: str, words: list[str]) -> bool:
    """`letters` from the start of words[0]: each next letter starts the next word or comes later in the current one."""
    word, place = 0, 1
    for letter in letters[1:]:
        found = words[word].find(letter, place)
        if word + 1 < len(words) and words[word + 1][:1] == letter:
            word, place = word + 1, 1
        elif found >= 0:
            place = found + 1
        else:
            return False
    return True


def kazakh_stem(word: str) -> str:
    """`word` without one Kazakh case or possessive ending, when at least three letters remain."""
    lower = word.lower()
    for ending in _KAZAKH_ENDINGS:
        if lower.endswith(ending) and len(lower) - len(ending) >= 3:
            return word[: len(word) - len(ending)]
    return word


@lru_cache(maxsize=1)
def _embedding() -> Any:
    from natasha import NewsEmbedding

    return NewsEmbedding()


@lru_cache(maxsize=1)
def _ner_tools() -> tuple[Any, Any]:
    """natasha's segmenter and NER tagger, loaded on first use, once per process (the NER and
    `_morph_tagger` share one embedding table, about 100 MiB)."""
    from natasha import NewsNERTagger, Segmenter

    return Segmenter(), NewsNERTagger(_embedding())


@lru_cache(maxsize=1)
def _syntax_parser() -> Any:
    """natasha's syntax parser, loaded on first use, once per process."""
    from natasha import NewsSyntaxParser

    return NewsSyntaxParser(_embedding())


@lru_cache(maxsize=1)
def _morph_tagger() -> Any:
    """natasha's morphology tagger, loaded on first use, once per process."""
    from natasha import NewsMorphTagger

    return NewsMorphTagger(_embedding())


def tagged(text: str, morphology: bool = False, syntax: bool = False) -> Any:
    """natasha's `Doc` of Russian `text`, segmented and tagged by its NER (`doc.spans`: PER, LOC, ORG), with
    `morphology` by its morphology tagger (`token.pos`, `token.feats`), with `syntax` by its syntax parser
    (`token.head_id`, `token.rel`)."""
    from natasha import Doc

    segmenter, ner = _ner_tools()
    doc = Doc(text)
    doc.segment(segmenter)
    doc.tag_ner(ner)
    if morphology:
        doc.tag_morph(_morph_tagger())
    if syntax:
        doc.parse_syntax(_syntax_parser())
    return doc


@lru_cache(maxsize=4096)
def entities(sentence: str) -> tuple[tuple[str, str], ...]:
    """(type, text) of each named entity natasha's Russian NER finds in `sentence`; type is PER, LOC or ORG."""
    return tuple((span.type, span.text) for span in tagged(sentence).spans)


@lru_cache(maxsize=4096)
def described_people(sentence: str) -> tuple[str, ...]:
    """The people (NER PER) of `sentence` that its syntax puts together with a common noun describing them: in
    apposition («политолог, руководитель отдела КИСИ Жанар Тулиндинова», «Фейнман, американский физик»), as the
    subject of a noun predicate («Тесла — изобретатель…») or of a verb with a noun complement («Петров работает
    инженером»). Not a person merely mentioned («по мнению Жанар Тулиндиновой»)."""
    doc = tagged(sentence, syntax=True)
    people = []
    for span in doc.spans:
        if span.type != "PER":
            continue
        own = {token.id for token in doc.tokens if span.start <= token.start and token.stop <= span.stop}
        if any(_describes(token, own, doc.tokens) for token in doc.tokens if token.id not in own):
            people.append(span.text)
    return tuple(people)


def _describes(token: Any, person: set[str], tokens: list[Any]) -> bool:
    """True when `token`, a word outside the `person`'s tokens, is a common noun that describes the person."""
    if not token.text[:1].islower() or best_parse(token.text.lower())[1] != "NOUN":
        return False
    for other in tokens:
        if other.id not in person:
            continue
        if token.rel == "appos" and token.head_id == other.id or other.rel == "appos" and other.head_id == token.id:
            return True
        if other.rel == "nsubj" and (
            other.head_id == token.id or token.rel == "xcomp" and other.head_id == token.head_id
        ):
            return True
    return False
