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
follow-up leans on.

natasha is imported and its models loaded only when a follow-up has a pronoun, once per process.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from kzru_rag.language.entities import tagged
from kzru_rag.language.questions import WHICH, expected_answer
from kzru_rag.language.speech import ANAPHORS
from kzru_rag.language.words import WORD, best_parse, content_words, tokens
from kzru_rag.schema import Kind, Query
from kzru_rag.stores.terms import TermIndex

if TYPE_CHECKING:
    from kzru_rag.schema import Message

EntityKind = Literal["person", "place", "organisation", "name"]
Gender = Literal["masc", "femn", "neut"]

SHORT_QUESTION_WORDS = 2  # a question with this few content words is read as a follow-up
EARLIER_QUESTIONS = 3  # at most this many earlier questions are appended to a follow-up without a referent


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

ATTRIBUTE_KINDS: frozenset[Kind] = frozenset({"place", "time", "number", "duration"})
"""Kinds of questions whose answer describes the question's subject rather than naming a new one."""
_NER_KINDS: dict[str, EntityKind] = {"PER": "person", "LOC": "place", "ORG": "organisation"}
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


def is_follow_up(question: str | Query) -> bool:
    """True when the question refers back (a pronoun such as «он», «там», "it") or is too short to stand alone."""
    lemmas = question.lemmas if isinstance(question, Query) else tokens(question)
    return bool(set(_written(question)) & ANAPHORS) or len(lemmas) <= SHORT_QUESTION_WORDS


def pronoun_of(question: str | Query) -> Pronoun | None:
    """The first pronoun of the question that stands for an entity, or None."""
    return next((PRONOUNS[word] for word in _written(question) if word in PRONOUNS), None)


def _written(question: str | Query) -> Sequence[str]:
    """The question's words as written, lower-cased (an earlier question of the conversation is read here)."""
    return question.written if isinstance(question, Query) else tokens(question, lemmas=False)


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
    - Otherwise the entities of the previous answer that agree with the pronoun are ranked: those
      the previous question did not name first (what the answer added), then the most specific
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
    candidates = [entity for entity in entities(turns[last]["content"]) if entity.agrees_with(pronoun)]

    def rank(item: tuple[int, Entity]) -> tuple[bool, int, int]:
        position, entity = item
        words = content_words(entity.text)
        specificity = min((terms.frequency(word) for word in words), default=0) if terms is not None else 0
        return (any(word & named for word in words), specificity, position)

    return min(enumerate(candidates), key=rank, default=(0, None))[1]


def contextual_query(question: str | Query, history: Sequence[Message], terms: TermIndex | None = None) -> str:
    """The question made to stand alone for search: with the entity its pronoun stands for
    (`referent`), or else with the earlier questions it leans on appended (none when it stands alone).

    Walks back through the user's questions and stops at the first one that stands alone, so
    a chain of follow-ups keeps the topic that started it.
    """
    text = question.text if isinstance(question, Query) else question
    if not is_follow_up(question):
        return text
    if carried := referent(question, history, terms):
        return f"{text} {carried.text}"
    context: list[str] = []
    for turn in reversed(history):
        if turn["role"] != "user":
            continue
        context.append(turn["content"].strip())
        if not is_follow_up(turn["content"]) or len(context) == EARLIER_QUESTIONS:
            break
    return " ".join([text, *context])


def _subject_agrees(question: str, pronoun: Pronoun) -> bool:
    """True when a Russian noun of `question`, other than the head of its «какой…» phrase (what it
    asks for), agrees with the pronoun in gender and number."""
    if pronoun.kinds == _PLACE:
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


def _entity(text: str, kind: EntityKind, words: Sequence[Any]) -> Entity:
    """An entity with the gender and number natasha's morphology gives its words (None when they disagree)."""
    genders = {_GENDERS.get(word.feats.get("Gender", "")) for word in words}
    numbers = {word.feats.get("Number") for word in words}
    return Entity(
        text=text,
        kind=kind,
        gender=genders.pop() if len(genders) == 1 else None,
        plural={"Plur": True, "Sing": False}.get(numbers.pop()) if len(numbers) == 1 else None,
    )
