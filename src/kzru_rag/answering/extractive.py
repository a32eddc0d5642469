"""The sentences an extractive answer quotes: every sentence of the retrieved passages scored as the answer, the best
ones chosen and widened to stand alone (`quotes.standalone_span`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from kzru_rag.answering.quotes import antecedent, neighbours, span_text, standalone_span
from kzru_rag.embedding.base import TextEncoder
from kzru_rag.language.questions import holds_answer, holds_role
from kzru_rag.language.speech import names_speaker
from kzru_rag.language.subjects import describes, holds, other_thing, told_apart
from kzru_rag.language.words import content_words, word_readings
from kzru_rag.schema import Hit, Kind, Query, Thing

Span = tuple[int, int]

ANSWER_TYPE_WEIGHT = 0.08
"""Bonus for a sentence holding the kind of phrase the question asks for (a place for «где»…)."""
LEXICAL_WEIGHT = 0.1
"""Weight of the share of question words found in a sentence, added to its cosine similarity."""
RANK_WEIGHT = 0.02
"""Bonus RANK_WEIGHT / rank for sentences of the retriever's higher-ranked passages."""
QUOTE_MARGIN = 0.03
"""Further sentences are quoted when they score within this margin of the best one."""
OWN_THING_WEIGHT = 0.04
"""Bonus for a sentence holding the kind of phrase asked for and the question's modified nouns (their share:
`subjects.question_things`): «Ближайший поток начинается 14 апреля» for «Когда стартует ближайший поток?»."""
FACT_KINDS: frozenset[Kind] = frozenset({"time", "number", "price", "duration"})
"""Kinds of answer that are a fact of one thing (its date, count, price): a sentence giving it for a neighbour of the
question's thing does not count as holding it (`_own_fact`). A person or a place is named with things of many sorts
(«Государственный визит» is the «предстоящий визит» asked about), so those are left alone."""
WHO: frozenset[Kind] = frozenset({"person", "role"})
"""Kinds of answer that a quote of direct speech gives with the words naming its speaker (`quotes.standalone_span`)."""
RESTATES_FROM = 0.5
"""A quote holding at least this share of the question's content words restates it (`word_share`)."""


class Sentence(NamedTuple):
    """A quotable sentence of hit number `hit` at document `span`, and its score as the answer."""

    score: float
    hit: int
    span: Span


class Extractor:
    """Chooses the sentences to quote; embeds those the retriever gave no similarity for (cached)."""

    def __init__(self, embedder: TextEncoder, max_quotes: int) -> None:
        self.embedder = embedder
        self.max_quotes = max_quotes
        self._vectors: dict[tuple[str, int, int], np.ndarray] = {}

    def choose(self, query: Query, hits: list[Hit], focus: Query) -> list[Sentence]:
        """The sentences to quote, best first: those scoring within QUOTE_MARGIN of the best (at most `max_quotes`,
        none overlapping another), each widened to stand alone (`focus`: the question as asked)."""
        scored = self.scored(query, hits, focus)
        chosen: list[Sentence] = []
        for sentence in scored:
            if sentence.score < scored[0].score - QUOTE_MARGIN or len(chosen) == self.max_quotes:
                break
            if not any(overlaps(sentence.span, other.span) for other in chosen):
                chosen.append(sentence)
        scores = {(sentence.hit, sentence.span): sentence.score for sentence in scored}
        return _with_answer(_standalone(chosen, hits, focus.kind in WHO), hits, focus, scores)

    def scored(self, query: Query, hits: list[Hit], focus: Query | None = None) -> list[Sentence]:
        """Every sentence of the hits (`Hit.sentences`; without them, the highlight or else the whole
        passage), scored, best first.

        `query` is what was searched; `focus` (default: the query) is the question as asked.

        Score: cosine similarity of the query and the sentence, plus LEXICAL_WEIGHT times the
        share of the focus's content words that the sentence contains (in any form), plus RANK_WEIGHT / rank
        of its passage (the retriever's view of the whole passage), plus what it holds of what the focus asks:
        the kind of phrase, about the focus's own thing (`_bonus`).
        """
        places = [
            (i, span)
            for i, hit in enumerate(hits)
            for span in ([(a, b) for a, b, _ in hit.sentences] or [hit.highlight or (hit.start, hit.end)])
        ]
        places = [place for place in places if not _unquotable(hits[place[0]], place[1])] or places
        owners = [hits[i] for i, _ in places]
        spans = [span for _, span in places]
        texts = [hit.text[a - hit.start : b - hit.start] for hit, (a, b) in zip(owners, spans)]
        similarities = self.similarities(query.text, owners, spans, texts)
        similarity_of = dict(zip(places, similarities))
        focus = focus or query
        who = focus.kind in WHO
        asked = _asked(focus, hits)
        scored = []
        for (i, _), similarity, span in zip(places, similarities, spans):
            # Scored as the quote it makes with what it needs to stand alone (`quotes.standalone_span`).
            if before := antecedent(hits[i], span):
                similarity = max(similarity, similarity_of.get((i, before), similarity))
            start, end = standalone_span(hits[i], span, who)
            text = hits[i].text[start - hits[i].start : end - hits[i].start]
            score = similarity + LEXICAL_WEIGHT * word_share(text, focus.words) + RANK_WEIGHT / (i + 1)
            scored.append(Sentence(score + _bonus(text, asked), i, span))
        scored.sort(key=lambda sentence: -sentence.score)
        return scored

    def similarities(self, query: str, hits: list[Hit], spans: list[Span], texts: list[str]) -> list[float]:
        """Cosine similarity of the query and `texts[i]` (document span `spans[i]` of `hits[i]`): the
        retriever's own when it has it, else embedded here (and cached)."""
        known = [_known_similarity(hit, span) for hit, span in zip(hits, spans)]
        if all(value is not None for value in known):
            return [float(value) for value in known]
        keys = [(hit.doc_id, *span) for hit, span in zip(hits, spans)]
        missing = {
            key: text for key, text, value in zip(keys, texts, known) if value is None and key not in self._vectors
        }
        if missing:
            self._vectors.update(zip(missing, self.embedder.encode_passages(list(missing.values()))))
        question = self.embedder.encode_queries([query])[0]
        return [
            float(value) if value is not None else float(np.dot(question, self._vectors[key]))
            for key, value in zip(keys, known)
        ]


def word_share(text: str, words: tuple[frozenset[str], ...]) -> float:
    """The share of `words` (a question's content words, as readings) that `text` holds in any form; 0 without words."""
    readings = frozenset().union(*content_words(text))
    return sum(bool(word & readings) for word in words) / len(words) if words else 0.0


def quote_text(hit: Hit, span: Span) -> str:
    """The sentence at `span`, without a leading dash of direct speech."""
    return hit.text[span[0] - hit.start : span[1] - hit.start].strip().lstrip("–—- ").strip()


def quoted_things(quote: Hit, focus: Query, hits: list[Hit]) -> tuple[str | None, str | None]:
    """What `quote`'s highlighted sentence says of the thing `focus` asks about (`language.subjects`): the first of
    the question's phrases that the passages `hits` hold and the sentence does not («временную выставку»), and the
    phrase of the sentence that names a neighbour instead (`subjects.other_thing`; of a modified noun only when the
    passages name the question's one too: «холодная вода»). None for either when there is none."""
    sentence = span_text(quote, quote.highlight or (quote.start, quote.end))
    texts = [hit.text for hit in hits]
    named = [thing for thing in focus.things if any(holds(text, thing) for text in texts)]
    missing = next((thing.written for thing in named if not holds(sentence, thing)), None)
    return missing, other_thing(sentence, told_apart(focus.things, texts))


def overlaps(a: Span, b: Span) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def _standalone(chosen: list[Sentence], hits: list[Hit], who: bool) -> list[Sentence]:
    """The chosen sentences as quotes that stand alone (`quotes.standalone_span`; `who`: the question asks who);
    a quote that comes to take in another chosen sentence of its passage is joined with it, in the place of the
    better one."""
    quotes: list[Sentence] = []
    for sentence in chosen:
        span = standalone_span(hits[sentence.hit], sentence.span, who)
        joined = next((n for n, q in enumerate(quotes) if q.hit == sentence.hit and overlaps(q.span, span)), None)
        if joined is None:
            quotes.append(sentence._replace(span=span))
        else:
            other = quotes[joined]
            quotes[joined] = other._replace(span=(min(other.span[0], span[0]), max(other.span[1], span[1])))
    return quotes


def _with_answer(
    quotes: list[Sentence], hits: list[Hit], focus: Query, scores: dict[tuple[int, Span], float]
) -> list[Sentence]:
    """The quotes, the first joined with the sentence next to it in its passage that holds the kind of answer asked
    for and scores within QUOTE_MARGIN of it (`scores`; the better, when both neighbours do), when the first restates
    the question (RESTATES_FROM) without holding one itself; a further quote it comes to take in is joined with it."""
    if not quotes or (kind := focus.kind) is None:
        return quotes
    first, hit = quotes[0], hits[quotes[0].hit]
    text = span_text(hit, first.span)
    if word_share(text, focus.words) < RESTATES_FROM or _answers(text, kind, focus):
        return quotes
    near = [s for s in neighbours(hit, first.span) if scores.get((first.hit, s), -1.0) >= first.score - QUOTE_MARGIN]
    answering = [s for s in near if _answers(span_text(hit, s), kind, focus)]
    if not answering:
        return quotes
    neighbour = max(answering, key=lambda s: scores[(first.hit, s)])
    span = (min(first.span[0], neighbour[0]), max(first.span[1], neighbour[1]))
    joined = [q for q in quotes[1:] if q.hit == first.hit and overlaps(q.span, span)]
    span = (min([span[0], *(q.span[0] for q in joined)]), max([span[1], *(q.span[1] for q in joined)]))
    return [first._replace(span=span), *(q for q in quotes[1:] if q not in joined)]


def _unquotable(hit: Hit, span: Span) -> bool:
    """True when the sentence at `span` answers nothing: it is itself a question (an FAQ's «Сколько стоит…?»), or the
    document's title (its first line, without a full stop: «АО «Степной хлеб»: годовой отчёт за 2025 год»)."""
    text = quote_text(hit, span).rstrip(' »"”)')
    return text.endswith("?") or span[0] == 0 and not text.endswith((".", "!", "…", ":", ";"))


def _answers(text: str, kind: Kind, focus: Query) -> bool:
    """True when `text` holds a phrase of `kind` that `focus` lacks, by morphology (`questions.holds_answer`), or,
    asked who, the words that name who speaks, or, asked for a person's role, a person described by it
    (`questions.holds_role`)."""
    if kind == "role":
        return holds_role(text, focus)
    return holds_answer(text, kind, focus) or kind == "person" and names_speaker(text, focus)


class _Asked(NamedTuple):
    """What a question asks, read once for weighing its passages' sentences (`_bonus`)."""

    focus: Query
    facts: tuple[Thing, ...]
    """Its modified nouns when it asks for a fact of one thing (FACT_KINDS), else none."""
    apart: tuple[Thing, ...]
    """Those of `facts` the passages name too (`subjects.told_apart`)."""
    named: tuple[Thing, ...]
    """Its modified nouns headed by the noun it asks for («Какая *чистая прибыль*…?»)."""


def _asked(focus: Query, hits: list[Hit]) -> _Asked:
    modified = tuple(thing for thing in focus.things if thing.shape == "modified")
    facts = modified if focus.word_kind in FACT_KINDS else ()
    noun = word_readings(focus.asked_noun) if focus.asked_noun else frozenset()
    named = tuple(thing for thing in modified if thing.words[1] & noun)
    return _Asked(focus, facts, told_apart(facts, [hit.text for hit in hits]), named)


def _bonus(text: str, asked: _Asked) -> float:
    """ANSWER_TYPE_WEIGHT when `text` holds the kind of phrase asked for (asked what X is, says what it is:
    `subjects.describes`; asked for a person's role, a person described: `questions.holds_role`) about the
    question's own thing, not a neighbour the passages tell from it (`_own_fact`: «Следующий поток стартует 15
    сентября» asked about «ближайший поток»); OWN_THING_WEIGHT times the share of the question's modified nouns it
    holds, of those whose fact it gives, else of those naming what is asked («Чистая прибыль составила…» for «Какая
    чистая прибыль…?»)."""
    focus, kind = asked.focus, asked.focus.word_kind
    if focus.described:  # «Кто такая X?»: the sentence that says what X is, not one naming another person
        typed = describes(text, focus.described)
    elif focus.kind == "role":  # «Какую должность она занимает?»: a person in apposition with a post
        typed = holds_role(text, focus)
    else:
        typed = bool(kind) and holds_answer(text, kind, focus) or focus.kind == "person" and names_speaker(text, focus)
    own = 0.0
    if typed and asked.facts:
        typed, own = _own_fact(text, asked.facts, asked.apart)
    elif asked.named:
        own = sum(holds(text, thing) for thing in asked.named) / len(asked.named)
    return ANSWER_TYPE_WEIGHT * typed + OWN_THING_WEIGHT * own


def _own_fact(text: str, things: tuple[Thing, ...], apart: tuple[Thing, ...]) -> tuple[bool, float]:
    """Whether `text`, which holds the kind of fact asked for, gives it about the question's own thing: False when it
    names a neighbour of one of the question's `things` that the passages tell apart (`apart`) instead
    (`language.subjects.other_thing`); and the share of the `things` it holds."""
    if other_thing(text, apart) is not None:
        return False, 0.0
    return True, sum(holds(text, thing) for thing in things) / len(things)


def _known_similarity(hit: Hit, span: Span) -> float | None:
    """The retriever's cosine similarity of the query and the sentence at `span` of `hit`, if it has one."""
    for start, end, similarity in hit.sentences:
        if (start, end) == span:
            return similarity
    return hit.signals.get("sentence") if span == hit.highlight else None
