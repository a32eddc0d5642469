"""Follow-up questions: recognising them, and what their pronoun refers to in the conversation.

A follow-up («А где она работает?», "Which ports will its eastern branch connect to?", «Ол қашан
өтеді?») leans on the previous turn. Its pronoun usually stands for what the previous *answer* was
about: the person, place or organisation the answer names that the question before it did not
(«Кто сказал…?» → «…подчеркивает Жанар Тулиндинова» → «она» is Тулиндинова). `referent` finds that
entity: natasha's Russian NER (PER, LOC, ORG) and «quoted» names in the previous answer, kept only
when they agree with the pronoun in gender and number (natasha's morphology tags the entity in its
sentence: «она» takes «Жанар Тулиндинова», never «Владимир Путин») and in kind («там» / "there"
take a place, "she" / "he" a person, "it" anything but a person). `contextual_query` puts the
referent into the search in place of the pronoun; without one it appends the earlier questions the
follow-up leans on, as context the search weighs less than the follow-up itself (`Standalone.lead`).

natasha is imported and its models loaded only when a follow-up has a pronoun, once per process.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from kzru_rag.answering.wording import quotes_of
from kzru_rag.language.entities import named_specifics, tagged
from kzru_rag.language.questions import WHICH, expected_answer, key_nouns, question_language
from kzru_rag.language.speech import ANAPHORS
from kzru_rag.language.words import (
    WORD,
    Readings,
    best_parse,
    content_words,
    is_cyrillic_word,
    specifics,
    tokens,
    word_readings,
)
from kzru_rag.schema import Kind, Query
from kzru_rag.stores.terms import TermIndex

if TYPE_CHECKING:
    from kzru_rag.schema import Message

EntityKind = Literal["person", "place", "organisation", "name"]
Gender = Literal["masc", "femn", "neut"]

SHORT_QUESTION_WORDS = 2  # a question with this few content words is read as a follow-up
EARLIER_QUESTIONS = 3  # at most this many earlier questions are appended to a follow-up without a referent
DEMONSTRATED_WITHIN = 2  # a demonstrative's noun is looked for among this many words after it («этот новый мост»)
DEMONSTRATIVES = frozenset(
    "этот эта это эти этого этой этом этих этим тот та те того той this that these those осы сол бұл".split()
)
"""Demonstratives among `speech.ANAPHORS`: with a noun they name what they point to («этот мост»)."""
_BE = frozenset("is are was were be been will".split())
CONTINUING = frozenset("а и ну and also so ал және".split())
"""Words that open a question as a continuation of the conversation («А по чьей инициативе?»)."""
_ADJECTIVES = frozenset({"ADJF", "PRTF"})


@dataclass(frozen=True)
class Pronoun:
    """What a pronoun can stand for: entity kinds, genders (None: any) and number (None: either)."""

    kinds: frozenset[EntityKind]
    genders: frozenset[Gender] | None = None
    plural: bool | None = None


_ANY: frozenset[EntityKind] = frozenset({"person", "place", "organisation", "name"})
_THING: frozenset[EntityKind] = frozenset({"place", "organisation", "name"})
_PLACE: frozenset[EntityKind] = frozenset({"place"})
_PERSON: frozenset[EntityKind] = frozenset({"person"})
_FEMININE: frozenset[Gender] = frozenset({"femn"})
_MASCULINE: frozenset[Gender] = frozenset({"masc", "neut"})

PRONOUNS: dict[str, Pronoun] = {
    **dict.fromkeys("она её ее ей ней неё нее ею нею".split(), Pronoun(_ANY, _FEMININE, False)),
    **dict.fromkeys("он его ему нему него ним нём нем".split(), Pronoun(_ANY, _MASCULINE, False)),
    "оно": Pronoun(_THING, frozenset({"neut"}), False),
    **dict.fromkeys("они их них ими ними".split(), Pronoun(_ANY, None, True)),
    **dict.fromkeys("там туда оттуда there онда сонда мұнда".split(), Pronoun(_PLACE)),
    **dict.fromkeys("she her hers".split(), Pronoun(_PERSON, _FEMININE, False)),
    **dict.fromkeys("he him his".split(), Pronoun(_PERSON, frozenset({"masc"}), False)),
    **dict.fromkeys("it its".split(), Pronoun(_THING, None, False)),
    **dict.fromkeys("they them their theirs".split(), Pronoun(_ANY, None, True)),
    **dict.fromkeys("ол оның оны оған одан".split(), Pronoun(_ANY, None, False)),
    **dict.fromkeys("олар олардың оларды".split(), Pronoun(_ANY, None, True)),
}
"""Personal pronouns and pro-adverbs that stand for an entity. Demonstratives («этот форум») name their
own noun and are left to the earlier questions."""

ATTRIBUTE_KINDS: frozenset[Kind] = frozenset({"place", "time", "number", "price", "duration"})
"""Kinds of questions whose answer describes the question's subject rather than naming a new one."""
_NER_KINDS: dict[str, EntityKind] = {"PER": "person", "LOC": "place", "ORG": "organisation"}
_ENTITY_OF_KIND: dict[Kind, EntityKind] = {"person": "person", "organisation": "organisation"}
"""The entity an answer to a question of that kind names («Кто…?» → a person)."""
_GENDERS: dict[str, Gender] = {"Masc": "masc", "Fem": "femn", "Neut": "neut"}
QUOTE_HEAD_TOKENS = 3
"""A «quoted» name takes the gender of a noun among the tokens just before it («коридора «Север – Юг»»)."""
_QUOTED = re.compile(r"«[^«»]{2,80}»")
_MARKER = re.compile(r"\[\d+\]")


@dataclass(frozen=True)
class Entity:
    """A named entity as written in a text, with its gender and number there (None: unknown)."""

    text: str
    kind: EntityKind
    gender: Gender | None = None
    plural: bool | None = None

    def agrees_with(self, pronoun: Pronoun) -> bool:
        """True when `pronoun` can stand for this entity (kind, gender and number agree or are unknown)."""
        if self.kind not in pronoun.kinds:
            return False
        if pronoun.genders is not None and self.gender is not None and self.gender not in pronoun.genders:
            return False
        return pronoun.plural is None or self.plural is None or self.plural == pronoun.plural


def is_follow_up(question: str | Query, history: Sequence[Message] = ()) -> bool:
    """True when the question refers back to the conversation `history` or is too short to stand alone: of at most
    `SHORT_QUESTION_WORDS` words, with no noun («А когда?», «Почему?») or opening as a continuation («А по чьей
    инициативе?», "And how long?"); a short question naming a new thing stands alone («Где находится зоопарк?»).

    It refers back with a pronoun («он», «там», "it"), a demonstrative standing alone («Кто это сказал?»), or a
    demonstrative whose noun an earlier turn named («этот мост» after «…второго моста через Иртыш»), or it names
    only what the previous exchange named (`_continues`: a common noun standing for it). A demonstrative
    with a Russian noun the conversation never named points elsewhere («в этой статье»), "there" of "is
    there" points nowhere, and a pronoun after a comma whose noun the question names before it points within the
    question (`_points_within`): such a question stands alone.
    """
    if _pointers(question):
        return True
    demonstrated = _demonstrated(question)
    named = [noun for noun in demonstrated if noun is not None]
    if len(named) < len(demonstrated):
        return True
    earlier = frozenset().union(*(r for turn in history for r in content_words(turn["content"])))
    if any(noun & earlier for noun in named) or _continues(question, history):
        return True
    if len(content_words(question.text if isinstance(question, Query) else question)) > SHORT_QUESTION_WORDS:
        return False
    return bool(set(_written(question)[:1]) & CONTINUING) or not _own_nouns(question)[0]


def _continues(question: str | Query, history: Sequence[Message]) -> bool:
    """True when every noun of the question was named in the previous exchange (its question and answer) and the
    question names nothing of its own (a name, a number): it goes on about the same thing without pointing
    («Когда закончат набережную?» after a turn about that embankment)."""
    previous = list(history)[-2:]
    if not previous:
        return False
    nouns, names = _own_nouns(question)
    if names or not nouns:
        return False
    said = frozenset().union(*(r for turn in previous for r in content_words(turn["content"])))
    return all(readings & said for _, readings in nouns)


def _own_nouns(question: str | Query) -> tuple[Sequence[tuple[str, Readings]], bool]:
    """The question's nouns (`Query.key_nouns`), and whether it names a thing of its own (a name or a number)."""
    if isinstance(question, Query):
        return question.key_nouns, bool(question.named or question.numbers)
    return key_nouns(question), bool(named_specifics(question) or specifics(question))


def pronoun_of(question: str | Query) -> Pronoun | None:
    """The first pronoun of the question that stands for an entity, or None."""
    return next((PRONOUNS[word] for word in _pointers(question) if word in PRONOUNS), None)


def _written(question: str | Query) -> Sequence[str]:
    """The question's words as written, lower-cased (an earlier question of the conversation is read here)."""
    return question.written if isinstance(question, Query) else tokens(question, lemmas=False)


def _pointers(question: str | Query) -> list[str]:
    """The question's pronouns and pro-adverbs that point back, in order (demonstratives are `_demonstrated`);
    "there" next to a form of "be" ("is there", "there are") says that something exists and points nowhere."""
    words = _written(question)
    text = question.text if isinstance(question, Query) else question
    return [
        word
        for i, word in enumerate(words)
        if word in ANAPHORS
        and word not in DEMONSTRATIVES
        and not (word == "there" and {*words[max(0, i - 1) : i], *words[i + 1 : i + 2]} & _BE)
        and not _points_within(text, word)
    ]


def _points_within(text: str, word: str) -> bool:
    """True when the pronoun `word` stands in a clause after a comma and a Russian noun of the question before that
    comma agrees with it: it points within the question («Кто платит за ремонт стиральной машины, если она
    сломалась?»), not back to the conversation."""
    pronoun = PRONOUNS.get(word)
    found = re.search(rf"(?<!\w){re.escape(word)}(?!\w)", text, re.IGNORECASE)
    if pronoun is None or found is None or "," not in text[: found.start()]:
        return False
    return _subject_agrees(text[: found.start()].rpartition(",")[0], pronoun)


def _demonstrated(question: str | Query) -> list[Readings | None]:
    """For each demonstrative of the question, the readings of the Russian noun it points with («этот *мост*», «эти
    новые *мосты*»: the next word, or the one after an adjective), or None when it points without one («для этого
    развивают…», «Кто это сказал?») or in a question in another language ("that direction", «бұл бастама»: not
    comparable with the Russian of the conversation)."""
    words = _written(question)
    russian = (question.language if isinstance(question, Query) else question_language(question)) == "ru"
    found: list[Readings | None] = []
    for i, word in enumerate(words):
        if word not in DEMONSTRATIVES:
            continue
        if not russian:
            found.append(None)
            continue
        following = list(words[i + 1 : i + 3])
        if following and following[0] not in ANAPHORS and _pos(following[0]) in _ADJECTIVES:
            following = following[1:]
        noun = following[0] if following and _pos(following[0]) == "NOUN" else None
        found.append(word_readings(noun) if noun is not None else None)
    return found


def _pos(word: str) -> str | None:
    """pymorphy3's likeliest part of speech of a Russian word; None for a word in other letters."""
    return best_parse(word)[1] if is_cyrillic_word(word) else None


def entities(text: str) -> list[Entity]:
    """The people, places and organisations natasha's NER finds in Russian `text`, and «quoted» names, in order."""
    doc = tagged(_MARKER.sub(" ", text), morphology=True)
    found = [
        (span.start, _entity(span.text, _NER_KINDS[span.type], span.tokens))
        for span in doc.spans
        if span.type in _NER_KINDS
    ]
    taken = [(span.start, span.stop) for span in doc.spans]
    for match in _QUOTED.finditer(doc.text):
        if not any(start < match.end() and match.start() < stop for start, stop in taken):
            before = [token for token in doc.tokens if token.stop <= match.start()][-QUOTE_HEAD_TOKENS:]
            head = [token for token in before if token.pos == "NOUN"][-1:]
            found.append((match.start(), _entity(match.group(), "name", head)))
    return [entity for _, entity in sorted(found, key=lambda item: item[0])]


def referent(question: str | Query, history: Sequence[Message], terms: TermIndex | None = None) -> Entity | None:
    """The entity of the conversation's previous answer that the question's pronoun stands for, or None.

    - A pronoun that repeats the previous question's («А какая у него тема?» → «А когда он
      проходит?») keeps that question's referent.
    - When the previous question asked for a place, time or quantity, its answer is an attribute
      of what the question was about, so only «там» / "there" takes an entity from it.
    - When a Russian noun of the previous question agrees with the pronoun and is not the one it
      asked for («Какова тема форума?» → «А где он пройдёт?»), the pronoun continues that question.
    - Otherwise the entities of what the previous answer claimed (`claimed`: its first quote, or all its leads when
      it was uncertain; not the further quotes given as context) that agree with the pronoun are ranked: those of
      the kind the previous question asked for first («Кто…?»: a person), then those it did not name
      (what the answer added), then the most specific
      (the rarest in the indexed sentences, by `terms`), then in the answer's order.
    None when the question has no such pronoun or nothing agrees with it.
    """
    pronoun = pronoun_of(question)
    turns = list(history)
    answers = [i for i, turn in enumerate(turns) if turn["role"] == "assistant"]
    if pronoun is None or not answers:
        return None
    last = answers[-1]
    asked_at = next((i for i in range(last - 1, -1, -1) if turns[i]["role"] == "user"), None)
    asked = "" if asked_at is None else turns[asked_at]["content"]
    if asked_at is not None and pronoun_of(asked) == pronoun:
        return referent(asked, turns[:asked_at], terms)
    kind = expected_answer(asked)
    if kind in ATTRIBUTE_KINDS and pronoun.kinds != _PLACE:
        return None
    if kind != "person" and _subject_agrees(asked, pronoun):
        return None
    named = frozenset().union(*content_words(asked))
    candidates = [entity for entity in entities(claimed(turns[last]["content"])) if entity.agrees_with(pronoun)]

    wanted = _ENTITY_OF_KIND.get(kind) if kind is not None else None

    def rank(item: tuple[int, Entity]) -> tuple[bool, bool, int, int]:
        position, entity = item
        words = content_words(entity.text)
        specificity = min((terms.frequency(word) for word in words), default=0) if terms is not None else 0
        return (
            wanted is not None and entity.kind != wanted,
            any(word & named for word in words),
            specificity,
            position,
        )

    return min(enumerate(candidates), key=rank, default=(0, None))[1]


@dataclass(frozen=True)
class Standalone:
    """A question made to stand alone for search: `text` is searched; `lead` is what the question itself says
    (with its pronoun's referent): all of `text`, or its beginning when earlier questions are appended as context,
    which `Retriever.search` then weighs less than the question's own meaning (`finds`: in finding the passages too)."""

    text: str
    lead: str
    finds: bool = True
    """False when the question says too little of its own (at most `SHORT_QUESTION_WORDS` content words: «В каком
    году это было?», "And to replace it?") for its meaning to lead the search for passages: they are then found by the
    whole `text`, and only their sentences compared with the led meaning (`Lead.finds`)."""


def standalone(question: str | Query, history: Sequence[Message], terms: TermIndex | None = None) -> Standalone:
    """The question made to stand alone for search: with the entity its pronoun stands for
    (`referent`), or else with the earlier questions it leans on appended (none when it stands alone).

    A person carried in does not lead the search (`Standalone.lead`): what they did is often said without their name
    («…Ткач» → «…с 1947 года он выпускал сеялки…»); a place's or organisation's name says what is asked about.

    Walks back through the user's questions and stops at the first one that stands alone, so
    a chain of follow-ups keeps the topic that started it.
    """
    text = question.text if isinstance(question, Query) else question
    if not is_follow_up(question, history):
        return Standalone(text, text)
    if carried := referent(question, history, terms):
        searched = f"{text} {carried.text}"
        return Standalone(searched, text if carried.kind == "person" else searched)
    context: list[str] = []
    turns = list(history)
    for at in range(len(turns) - 1, -1, -1):
        if turns[at]["role"] != "user":
            continue
        context.append(turns[at]["content"].strip())
        if not is_follow_up(turns[at]["content"], turns[:at]) or len(context) == EARLIER_QUESTIONS:
            break
    return Standalone(" ".join([text, *context]), text, len(content_words(text)) > SHORT_QUESTION_WORDS)


def contextual_query(question: str | Query, history: Sequence[Message], terms: TermIndex | None = None) -> str:
    """What `standalone` searches for the question."""
    return standalone(question, history, terms).text


def _subject_agrees(question: str, pronoun: Pronoun) -> bool:
    """True when a Russian noun of `question`, other than the head of its «какой…» phrase (what it
    asks for), agrees with the pronoun in gender and number (never for a question in another language: pymorphy3
    would guess a gender for Kazakh words)."""
    if pronoun.kinds == _PLACE or question_language(question) != "ru":
        return False
    words = [match.group().lower() for match in WORD.finditer(question)]
    head_taken = False
    after_which = False
    for word in words:
        _, pos, grammemes = best_parse(word)
        if word in WHICH:
            after_which = True
            continue
        if pos != "NOUN":
            continue
        if after_which and not head_taken:
            head_taken = True
            continue
        genders = grammemes & {"masc", "femn", "neut"}
        plural = "plur" in grammemes
        if (pronoun.genders is None or genders & pronoun.genders) and pronoun.plural in (None, plural):
            return True
    return False


def first_claim(answer: str) -> str:
    """An answer's first claim: its text up to the first citation marker (all of it when it has none).

    The further quotes of an extractive answer are context, not what the question was answered with.
    """
    return _MARKER.split(answer, maxsplit=1)[0].strip()


def claimed(answer: str) -> str:
    """What an earlier answer gave as the answer: its first claim (`first_claim`) when it was presented as one, all its
    quotes when it was uncertain (leads, any of which the user may take up)."""
    quotes = quotes_of(answer)
    return quotes if quotes != answer else first_claim(answer)


def _entity(text: str, kind: EntityKind, words: Sequence[Any]) -> Entity:
    """An entity with the gender and number natasha's morphology gives its head word (None when unknown).

    The head is its first noun («Казахстанского *института* стратегических исследований»: masculine singular,
    whatever its dependent words), else its last word: a person's surname carries the gender («Жанар
    *Тулиндинова*»; a Kazakh first name is often tagged masculine)."""
    head = next((word for word in words if word.pos == "NOUN"), words[-1] if words else None)
    feats = head.feats if head is not None else {}
    return Entity(
        text=text,
        kind=kind,
        gender=_GENDERS.get(feats.get("Gender", "")),
        plural={"Plur": True, "Sing": False}.get(feats.get("Number", "")),
    )
