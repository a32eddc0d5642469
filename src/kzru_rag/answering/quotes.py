"""What a quoted sentence needs beside it to stand alone: the sentence its opening pronoun points back to, the words
that name who is speaking when it is direct speech, and the sentence beside it that holds the kind of answer asked for
when it only restates the question.

A passage's sentences are `Hit.sentences` (document spans, in order); a sentence's neighbours are looked for only
among them, so nothing outside the retrieved passage is quoted. (For a question asking who, the retriever carries a
passage on to the words that name its speaker: `attributes_speech`.)
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from kzru_rag.language.speech import ANAPHORS, SPEECH_REACH, attributes_speech
from kzru_rag.language.words import tokens

if TYPE_CHECKING:
    from kzru_rag.schema import Hit

Span = tuple[int, int]

_SPEECH_OPENING = re.compile(r"^\s*[–—]")
OPENING_WORDS = 3
"""A sentence points back when one of its first this many words is an anaphor: «Они формируют…», «К ним
относятся…», «Сегодня она известна как…», «Как правило, эти школы…»."""


def antecedent(hit: Hit, span: Span) -> Span | None:
    """The span of the sentence before the one at `span` in `hit` when that one opens by pointing back (an anaphor
    among its first OPENING_WORDS words: «Его тема – …», «Во главе их были…», "It will…"), else None."""
    position = _position(hit, span)
    if not position:
        return None
    opening = tokens(span_text(hit, span), lemmas=False)[:OPENING_WORDS]
    return _span(hit, position - 1) if set(opening) & ANAPHORS else None


def speaker(hit: Hit, span: Span) -> Span | None:
    """The span of the sentence that names who says the direct speech at `span` («Они формируют основу…» →
    «Эти встречи позволяют…, – отмечает эксперт КИСИ.»): a later sentence of the same paragraph, or the one
    before when this one resumes the speech after the author's words («…, – акцентирует … Тулиндинова. – Это
    высший формат…»). None when `span` names its speaker itself or is not direct speech that `hit` attributes."""
    position = _position(hit, span)
    if position is None or attributes_speech(span_text(hit, span)):
        return None
    for later in range(position + 1, min(position + 1 + SPEECH_REACH, len(hit.sentences))):
        if "\n" in hit.text[hit.sentences[later - 1][1] - hit.start : hit.sentences[later][0] - hit.start]:
            break
        if attributes_speech(span_text(hit, _span(hit, later))):
            return _span(hit, later)
    if (
        position
        and _SPEECH_OPENING.match(span_text(hit, span))
        and attributes_speech(span_text(hit, _span(hit, position - 1)))
    ):
        return _span(hit, position - 1)
    return None


def standalone_span(hit: Hit, span: Span, who: bool = False) -> Span:
    """`span` widened to take in its `antecedent` and, when the question asks who (`who`), its `speaker`."""
    start, end = span
    if before := antecedent(hit, span):
        start = before[0]
    if who and (said_by := speaker(hit, span)):
        start, end = min(start, said_by[0]), max(end, said_by[1])
    return start, end


def neighbours(hit: Hit, span: Span) -> list[Span]:
    """The spans of the sentences right before and right after `span` in `hit` (those it has)."""
    before = [(a, b) for a, b, _ in hit.sentences if b <= span[0]][-1:]
    after = [(a, b) for a, b, _ in hit.sentences if a >= span[1]][:1]
    return before + after


def _position(hit: Hit, span: Span) -> int | None:
    return next((n for n, (a, _, _) in enumerate(hit.sentences) if a == span[0]), None)


def _span(hit: Hit, position: int) -> Span:
    start, end, _ = hit.sentences[position]
    return start, end


def span_text(hit: Hit, span: Span) -> str:
    """The text of `hit` at document span `span`."""
    return hit.text[span[0] - hit.start : span[1] - hit.start]
