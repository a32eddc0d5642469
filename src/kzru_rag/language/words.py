"""Lexical matching with Russian morphology: words, their readings (lemmas), BM25 and term coverage.

A word's *readings* are the forms under which it can match: its lower-cased surface form and every
lemma `pymorphy3` proposes (so «вузов» matches «вуз», and «Токаев» matches «Токаева» although
pymorphy3 reads the first as a form of «токай»). Abbreviations (МИФИ, КИСИ) and words with digits
or Latin letters (ГРЭС-2, 2025, XXI) stay as written; a hyphenated word also matches its parts
(«ГРЭС-2» → «грэс», «аль-Фараби» → «фараби»). Kazakh-only letters are folded to their Russian
look-alikes (қ → к, ә → а …) so Kazakh spellings of shared names meet the Russian ones.
"""

from __future__ import annotations

import re
from functools import lru_cache

WORD = re.compile(r"\w+(?:[-‐‑]\w+)*")
_HYPHENS = re.compile(r"[-‐‑]")
LATIN = re.compile(r"[A-Za-z]")
_FUNCTION_WORDS = frozenset({"PREP", "CONJ", "PRCL", "INTJ"})
# Grammemes of words that carry no topic: pronouns, pronominal adjectives (какой, этот), question adverbs.
_NON_CONTENT = frozenset({"NPRO", "Apro", "Ques"})
_FOLD = str.maketrans("ёәғқңөұүһі", "еагкноуухи")
KAZAKH_LETTERS = frozenset("әғқңөұүһі")
"""Letters Kazakh Cyrillic has and Russian lacks."""
# English and Kazakh function and question words (Kazakh folded as above): like Russian ones, they carry no topic,
# so they neither count as a question's words nor go through the word bridge.
_FOREIGN_FUNCTION_WORDS = frozenset(
    (
        "a an the and or but nor not no yes of to in on at by for from with within without about as into onto over "
        "under between among through during before after above below up down out off than then so such too very "
        "is are was were be been being am do does did done doing have has had having will would shall should can "
        "could may might must what which who whom whose when where why how whether if that this these those there "
        "here it its they them their theirs he she him his her hers we our ours us you your yours i me my mine "
        "all any some each every both either neither other another more most few own same just also only "
        "ал әлде және мен пен бен да де та те ма ме ба бе па пе ғой қой ше шы ші не кім кімнің кімге кімді қандай "
        "қай қайда қайдан қашан қалай қанша неше неге нешінші бұл осы сол ол олар оның оны мұнда сонда"
    )
    .translate(_FOLD)
    .split()
)

Readings = frozenset[str]


@lru_cache(maxsize=1)
def _morph():
    import pymorphy3

    return pymorphy3.MorphAnalyzer()


def counted(number: int, noun: str) -> str:
    """«2001 символ», «41 фрагмент», «5 фрагментов»: `number` and the Russian `noun` agreeing with it (pymorphy3)."""
    parsed = _morph().parse(noun)[0].make_agree_with_number(abs(number))
    return f"{number:,}".replace(",", "\u00a0") + " " + (parsed.word if parsed else noun)


def _parses(word: str) -> list:
    """pymorphy3's readings of `word`; none when it has a letter Unicode gives no name (pymorphy3 asks the names of
    the letters of a word it does not know, and a Tangut ideograph, U+17000…, has none: ValueError)."""
    try:
        return _morph().parse(word)
    except ValueError:
        return []


@lru_cache(maxsize=200_000)
def best_parse(word: str) -> tuple[str, str | None, frozenset[str]]:
    """pymorphy3's likeliest reading of a lower-cased word: (normal form, part of speech, grammemes); the word itself,
    with no part of speech, when pymorphy3 cannot read it."""
    parses = _parses(word)
    if not parses:
        return word, None, frozenset()
    return parses[0].normal_form, parses[0].tag.POS, frozenset(parses[0].tag.grammemes)


_CASES = frozenset({"nomn", "gent", "datv", "accs", "ablt", "loct", "voct", "gen2", "acc2", "loc2"})


@lru_cache(maxsize=200_000)
def cases(word: str) -> frozenset[str]:
    """Every grammatical case pymorphy3 reads a lower-cased word in («Тулиндинова»: nominative, or genitive of
    «Тулиндинов»); empty for a word without case."""
    return frozenset(g for parse in _parses(word) for g in parse.tag.grammemes if g in _CASES)


@lru_cache(maxsize=200_000)
def _lemma(word: str) -> str | None:
    """Lemma of a lower-cased Cyrillic word; None for function words (prepositions, conjunctions…)."""
    parse = _morph().parse(word)[0]
    if parse.tag.POS in _FUNCTION_WORDS:
        return None
    return parse.normal_form.replace("ё", "е")


def tokens(text: str, lemmas: bool = True) -> list[str]:
    """Lower-cased words; with `lemmas`, Cyrillic words become lemmas and function words are dropped.

    Abbreviations (МИФИ, РФ) and words with digits or Latin letters (ГРЭС-2, 2025) stay as written.
    """
    out = []
    for match in WORD.finditer(text):
        word = match.group()
        lower = word.lower()
        if not lemmas or (len(word) > 1 and word.isupper()) or not is_cyrillic_word(lower):
            out.append(lower)
        elif lemma := _lemma(lower):
            out.append(lemma)
    return out


def is_cyrillic_word(word: str) -> bool:
    return all("а" <= ch <= "я" or ch in "ё-" for ch in word)


def content_words(text: str) -> list[Readings]:
    """The readings of each content word of `text`, in order (function words and pronouns left out)."""
    return [readings for match in WORD.finditer(text) if (readings := word_readings(match.group()))]


@lru_cache(maxsize=200_000)
def word_readings(word: str) -> Readings:
    """Every form under which `word` can match (empty for function words and pronouns)."""
    folded = word.lower().translate(_FOLD)
    if folded in _FOREIGN_FUNCTION_WORDS and (KAZAKH_LETTERS & set(word.lower()) or not _morph().word_is_known(folded)):
        return frozenset()
    parts = [part for part in _HYPHENS.split(folded) if len(part) > 1 or part.isdigit()]
    if (len(word) > 1 and word.isupper()) or not is_cyrillic_word(folded):
        return frozenset({folded, *parts})
    parses = _morph().parse(folded)
    tag = parses[0].tag
    if tag.POS in _FUNCTION_WORDS or _NON_CONTENT & tag.grammemes:
        return frozenset()
    readings = {folded, *(parse.normal_form.replace("ё", "е") for parse in parses)}
    if len(parts) > 1:
        readings.update(reading for part in parts for reading in word_readings(part))
    return frozenset(readings)


def query_words(text: str) -> list[Readings]:
    """The distinct content words of a query: forms of one word («форум», «форума») count once."""
    words: list[Readings] = []
    for readings in content_words(text):
        same = [i for i, known in enumerate(words) if known & readings]
        if same:
            words[same[0]] |= readings
        else:
            words.append(readings)
    return words


def in_dictionary(readings: Readings) -> bool:
    """True when pymorphy3's Russian dictionary knows one of the readings (a Russian word)."""
    return any(_morph().word_is_known(reading) for reading in readings)


def specifics(text: str) -> list[Readings]:
    """The numbers of `text` (2024, 11–12, ГРЭС-2), by their readings with digits: exact facts that
    no paraphrase replaces and that dense embeddings barely tell apart (2024 ≈ 2025), so a lexical
    check must."""
    numbers = (word_readings(m.group()) for m in WORD.finditer(text) if any(c.isdigit() for c in m.group()))
    return list(
        dict.fromkeys(
            _with_roman(frozenset(r for r in readings if any(c.isdigit() for c in r))) for readings in numbers
        )
    )


_YEAR = re.compile(r"(?<![\d.,])(1\d{3}|20\d{2})(?!\d|[.,]\d)")


def years(text: str) -> frozenset[str]:
    """The years `text` names: four-digit numbers from 1000 to 2099 standing alone («в 1959 году», «2025/26»,
    «1971–1988»), not parts of longer numbers or decimals («41 300», «1,4»)."""
    return frozenset(_YEAR.findall(text))


_ORDINAL = re.compile(r"(\d+)(?:st|nd|rd|th|-?[а-яё]{1,3})?")
_ROMAN_DIGITS = (
    (1000, "m"),
    (900, "cm"),
    (500, "d"),
    (400, "cd"),
    (100, "c"),
    (90, "xc"),
    (50, "l"),
    (40, "xl"),
    (10, "x"),
    (9, "ix"),
    (5, "v"),
    (4, "iv"),
    (1, "i"),
)


def _with_roman(readings: Readings) -> Readings:
    """`readings` of a number plus the number alone and its Roman numeral: "21st", «21-й» also read as "21"
    and «xxi», as documents write forums and centuries («XXI форум»)."""
    extra = set()
    for reading in readings:
        if (match := _ORDINAL.fullmatch(reading)) and 0 < (value := int(match.group(1))) < 4000:
            roman = ""
            for amount, letters in _ROMAN_DIGITS:
                count, value = divmod(value, amount)
                roman += letters * count
            extra |= {match.group(1), roman}
    return readings | extra
