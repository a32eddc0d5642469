"""Answers with citations: retrieve passages, then quote them (extractive) or let an LLM answer from them.

`Assistant.ask` returns an `Answer`; `Assistant.stream` yields the answer text in pieces and the
`Answer` last. Citation markers [1], [2], … in `Answer.text` number `Answer.citations` in order.

- Extractive mode (no LLM): the answer is the best-matching sentences of the retrieved passages,
  quoted word for word, each followed by its marker. Nothing is invented.
- LLM mode: the model answers from the numbered passages (prompts/system.ru.md). Markers that
  point at no passage are removed and the answer is flagged; the remaining ones are renumbered
  in order of first use, so the sources shown are exactly the passages cited. When the model
  fails (unreachable, timeout, HTTP error, garbage) or its reply says nothing (empty, only
  markers such as «[1]», a word or less), the extractive answer is given with a notice.
- Abstention: when the retriever says the document has no answer, the answer says so plainly in
  the question's language and cites the closest passages.
- Follow-ups: a question that leans on the conversation («А где она работает?») is made
  self-contained (dialogue.py): its pronoun's referent in the previous answer («Жанар
  Тулиндинова») is searched with it, or else the earlier questions it leans on; with an LLM,
  prompts/condense.ru.md rewrites it and is told the same referent.
- Confidence: an extractive answer carries the calibrated probability that its first quote answers
  the question (`confidence.ConfidenceModel`, from the index manifest); below the model's
  `answer_from` it is presented as *uncertain*: a warning first, the quotes below it as leads.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Generator, Iterator, Sequence
from dataclasses import replace
from typing import NamedTuple

import numpy as np

from kzru_rag.answering.confidence import ConfidenceModel, measure, shipped_model
from kzru_rag.answering.followups import contextual_query, first_claim, referent
from kzru_rag.answering.llm import LLM, render_prompt
from kzru_rag.answering.quotes import antecedent, standalone_span
from kzru_rag.errors import KzruRagError
from kzru_rag.language.questions import answer_kind, expected_answer, holds_answer, question_language
from kzru_rag.language.speech import names_speaker
from kzru_rag.language.words import content_words, query_words
from kzru_rag.retrieval.retriever import Retriever, validate_query
from kzru_rag.schema import AbstentionReason, Answer, Hit, Message

log = logging.getLogger(__name__)

Span = tuple[int, int]

NO_ANSWER: dict[str, str] = {
    "ru": "В документе нет ответа на этот вопрос.",
    "en": "The document does not answer this question.",
    "kk": "Құжатта бұл сұраққа жауап жоқ.",
}
CLOSEST: dict[str, str] = {
    "ru": "Ближайшие по смыслу фрагменты",
    "en": "The closest passages",
    "kk": "Мағынасы жағынан ең жақын үзінділер",
}
# Why there is no answer, by `AbstentionReason.kind`, in the question's language ({detail}: the reason's detail).
REASONS: dict[str, dict[str, str]] = {
    "no_passages": {"ru": "Ничего не найдено.", "en": "Nothing was found.", "kk": "Ештеңе табылмады."},
    "low_score": {
        "ru": "Ни один фрагмент не близок к вопросу по смыслу.",
        "en": "No passage is close to the question.",
        "kk": "Сұраққа мағынасы жақын үзінді жоқ.",
    },
    "unknown_numbers": {
        "ru": "В документе не упоминается: {detail}.",
        "en": "The document never mentions {detail}.",
        "kk": "Құжатта мыналар айтылмайды: {detail}.",
    },
    "unknown_names": {
        "ru": "В документе не упоминается: {detail}.",
        "en": "The document never mentions {detail}.",
        "kk": "Құжатта мыналар айтылмайды: {detail}.",
    },
    "no_quantity": {
        "ru": "Вопрос о количестве, а в найденных фрагментах нет чисел.",
        "en": "The question asks for a quantity, and the passages found hold none.",
        "kk": "Сұрақ санды сұрайды, ал табылған үзінділерде сан жоқ.",
    },
}
UNCERTAIN: dict[str, str] = {
    "ru": "Прямого ответа в документе может не быть. Ближайшие фрагменты: {markers}.",
    "en": "The document may not answer this directly. The closest passages: {markers}.",
    "kk": "Құжатта тікелей жауап болмауы мүмкін. Ең жақын үзінділер: {markers}.",
}
FOUND: dict[str, str] = {"ru": "Найденные фрагменты", "en": "Passages found", "kk": "Табылған үзінділер"}
_NO_ANSWER_PATTERN = re.compile(r"нет ответа|не отвечает|does not answer|no answer|not answer|жауап жоқ", re.IGNORECASE)

_MARKER = re.compile(r"(\s*)\[(\s*\d+(?:\s*[,;]\s*\d+)*\s*)\]")
_MARKER_PREFIX = re.compile(r"\s*(\[[\d\s,;]*)?$")
_MAX_MARKER_CHARS = 24
_PASSAGE_TAG = re.compile(r"</?\s*passages\s*>", re.IGNORECASE)

ANSWER_TYPE_WEIGHT = 0.08
"""Bonus for a sentence holding the kind of phrase the question asks for (a place for «где»…)."""
LEXICAL_WEIGHT = 0.1
"""Weight of the share of question words found in a sentence, added to its cosine similarity."""
RANK_WEIGHT = 0.02
"""Bonus RANK_WEIGHT / rank for sentences of the retriever's higher-ranked passages."""
QUOTE_MARGIN = 0.03
"""Further sentences are quoted when they score within this margin of the best one."""
MIN_REPLY_WORDS = 2
"""An LLM reply with fewer words than this besides its markers says nothing («[1]», «Да.»); «В Астане [1]» is kept."""
_REPLY_WORD = re.compile(r"\w+")
CONDENSE_HISTORY_TURNS = 6
CONDENSE_ANSWER_CHARS = 600


def check_history(history: Sequence[Message] | None) -> list[Message]:
    """The conversation as a list of role/content dicts; ValueError when a turn is malformed."""
    turns = list(history or [])
    for turn in turns:
        if not (
            isinstance(turn, dict)
            and turn.get("role") in ("user", "assistant")
            and isinstance(turn.get("content"), str)
        ):
            raise ValueError(f"history turns must be {{'role': 'user'|'assistant', 'content': str}}, got {turn!r}")
    return turns


class Assistant:
    """Answers questions about the indexed documents with cited passages."""

    def __init__(
        self,
        retriever: Retriever,
        llm: LLM | None = None,
        k: int = 5,
        max_quotes: int = 3,
        llm_timeout: float | None = None,
        calibrated: bool = True,
    ) -> None:
        """`calibrated=False` ignores the confidence model (answers then carry signals, no confidence). The model is
        the index's own when its user calibrated one (`kzru-rag calibrate --write`), else the shipped one."""
        if k < 1:
            raise ValueError("k (passages per answer) must be at least 1")
        if max_quotes < 1:
            raise ValueError("max_quotes must be at least 1")
        if llm_timeout is not None and not llm_timeout > 0:
            raise ValueError("llm_timeout must be a positive number of seconds")
        self.retriever = retriever
        self.llm = llm
        self.k = k
        self.max_quotes = max_quotes
        self.llm_timeout = llm_timeout
        own = retriever.index.manifest.confidence
        self.confidence = (ConfidenceModel.from_dict(own) if own else shipped_model()) if calibrated else None
        self._vectors: dict[tuple[str, int, int], np.ndarray] = {}
        self._terms = retriever.index.sentences.terms if retriever.index.sentences is not None else None

    def ask(
        self, question: str, history: Sequence[Message] | None = None, *, k: int | None = None, use_llm: bool = True
    ) -> Answer:
        """The whole answer to `question`, given the conversation so far."""
        answer = None
        for item in self.stream(question, history, k=k, use_llm=use_llm):
            if isinstance(item, Answer):
                answer = item
        assert answer is not None
        return answer

    def stream(
        self, question: str, history: Sequence[Message] | None = None, *, k: int | None = None, use_llm: bool = True
    ) -> Iterator[str | Answer]:
        """Yield the answer text in pieces, then the `Answer`.

        The `Answer` is authoritative: when the LLM fails part-way, its text (the extractive
        answer) replaces the pieces streamed so far.
        """
        question = validate_query(question)
        turns = check_history(history)
        k = self.k if k is None else k
        if k < 1:
            raise ValueError("k (passages per answer) must be at least 1")
        llm = self.llm if use_llm else None
        notice = None
        query = question
        if turns:
            query, notice = self._standalone(question, turns, llm)
            if notice:
                llm = None
        hits = self.retriever.search(query, k=k)
        language = question_language(question)
        base = Answer("", [], False, query, hits, language=language)
        if reasons := self.retriever.abstention_reasons(query, hits):
            answer = self._abstain(base, reasons)
        elif llm is None:
            said = (
                [first_claim(_quotes_of(t["content"])) for t in turns if t["role"] == "assistant"]
                if query != question
                else []
            )
            answer = self._extract(base, query, focus=question, said=said)
        else:
            answer = yield from self._generate(base, query, llm)
        if notice and not answer.notice:
            answer = replace(answer, notice=notice)
        if answer.mode == "extractive":
            yield answer.text
        yield answer

    def _standalone(self, question: str, turns: list[Message], llm: LLM | None) -> tuple[str, str | None]:
        """The question rewritten to stand alone, and a notice when the LLM could not do it."""
        if llm is None:
            return contextual_query(question, turns, self._terms), None
        recent = turns[-CONDENSE_HISTORY_TURNS:]
        lines = [
            f"{'Пользователь' if t['role'] == 'user' else 'Ассистент'}: {_one_line(t['content'])[:CONDENSE_ANSWER_CHARS]}"
            for t in recent
        ]
        messages: list[Message] = [
            {"role": "system", "content": render_prompt("condense.ru")},
            {"role": "user", "content": render_prompt("condense.ru#user", history="\n".join(lines), question=question)},
        ]
        if carried := referent(question, turns, self._terms):
            messages[1]["content"] += "\n\n" + render_prompt("condense.ru#referent", referent=carried.text)
        try:
            rewritten = _one_line(self._complete(llm, messages)).strip(" «»\"'")
        except KzruRagError as err:
            return contextual_query(question, turns, self._terms), _failure_notice(err)
        if says_nothing(rewritten) or len(rewritten) > 4 * len(question) + 300:
            log.warning(
                "LLM condensed %r to an unusable question %r; using the conversation instead", question, rewritten
            )
            return contextual_query(question, turns, self._terms), None
        return rewritten, None

    def _complete(self, llm: LLM, messages: list[Message]) -> str:
        """The LLM's whole reply; any failure is raised as KzruRagError."""
        try:
            return llm.complete(messages, timeout=self.llm_timeout)
        except KzruRagError:
            raise
        except Exception as err:  # a plugin backend broke its contract: report it, keep the user's answer
            log.warning("LLM backend %s failed", type(llm).__name__, exc_info=True)
            raise KzruRagError(f"LLM backend {type(llm).__name__} failed: {type(err).__name__}: {err}") from err

    def _abstain(self, base: Answer, reasons: Sequence[AbstentionReason] = ()) -> Answer:
        """Say plainly that the document does not answer, and why, and cite the closest passages."""
        closest = base.hits[: self.max_quotes]
        markers = ", ".join(f"[{n}]" for n in range(1, len(closest) + 1))
        why = [REASONS[reason.kind][base.language].format(detail=reason.detail) for reason in reasons]
        text = " ".join([NO_ANSWER[base.language], *why]) + (
            f" {CLOSEST[base.language]}: {markers}." if closest else ""
        )
        return replace(base, text=text, citations=closest, abstained=True, reasons=list(reasons), status="abstained")

    def _extract(self, base: Answer, query: str, focus: str | None = None, said: Sequence[str] = ()) -> Answer:
        """Quote the best sentences of the hits, each with its passage's citation marker.

        `focus` is the question as asked when `query` adds the conversation to it: its own words
        and question word («где») decide which sentence answers. A sentence an earlier answer already
        quoted competes as any other: the detail a follow-up asks for is often in it («Чем он будет
        заниматься?» of the council «…который станет площадкой для координации…»). The earlier answers'
        first claims (`said`) only keep passages out of the confidence's retrieval signals (`_judged`).
        """
        scored = self._scored_sentences(query, base.hits, focus)
        if not scored:
            return self._abstain(base)
        chosen: list[_Sentence] = []
        for sentence in scored:
            if sentence.score < scored[0].score - QUOTE_MARGIN or len(chosen) == self.max_quotes:
                break
            if not any(_overlaps(sentence.span, other.span) for other in chosen):
                chosen.append(sentence)
        chosen = _standalone(chosen, base.hits, answer_kind(focus or query) == "person")
        # One marker per passage; its highlight becomes its best quoted sentence.
        markers: dict[int, int] = {}
        citations: list[Hit] = []
        for sentence in chosen:
            if sentence.hit not in markers:
                markers[sentence.hit] = len(citations) + 1
                citations.append(replace(base.hits[sentence.hit], highlight=sentence.span))
        lines = [f"{self._quote(base.hits[s.hit], s.span)} [{markers[s.hit]}]" for s in chosen]
        quoted = base.hits[chosen[0].hit]
        in_play = [
            hit for hit in base.hits if hit is quoted or not (hit.highlight and self._said(hit, hit.highlight, said))
        ]
        return self._judged(replace(base, text="\n\n".join(lines), citations=citations), focus, in_play)

    def _said(self, hit: Hit, span: Span, said: Sequence[str]) -> bool:
        """True when the sentence at `span` of `hit` is in one of the earlier answers' claims `said`."""
        return any(self._quote(hit, span) in text for text in said)

    def _judged(self, answer: Answer, focus: str | None, in_play: list[Hit]) -> Answer:
        """The extractive answer with its confidence; below the model's threshold it is presented as
        uncertain: a warning that the document may not answer, then the quotes as leads.

        For a follow-up the kind of answer asked for is read from the question as asked (`focus`), and
        the retrieval signals from the passages still in play (`in_play`: the quoted one, and no other
        whose best sentence an earlier answer already gave)."""
        signals = measure(self.retriever, answer.query_used, in_play, answer.citations[0], asked=focus)
        answer = replace(answer, signals=signals.to_dict())
        if self.confidence is None:
            return answer
        confidence = self.confidence.probability(signals)
        status = self.confidence.status(confidence)
        if status == "answered":
            return replace(answer, confidence=confidence)
        markers = ", ".join(f"[{n}]" for n in range(1, len(answer.citations) + 1))
        text = f"{UNCERTAIN[answer.language].format(markers=markers)}\n\n{answer.text}"
        return replace(answer, text=text, confidence=confidence, status=status)

    def _generate(self, base: Answer, query: str, llm: LLM) -> Generator[str, None, Answer]:
        """Stream the LLM's answer with its markers checked; the extractive answer when it fails."""
        passages = "\n\n".join(self._passage_line(n, hit) for n, hit in enumerate(base.hits, start=1))
        messages: list[Message] = [
            {"role": "system", "content": render_prompt("system.ru")},
            {"role": "user", "content": render_prompt("system.ru#user", passages=passages, question=query)},
        ]
        checker = CitationChecker(len(base.hits))
        try:
            for piece in llm.stream(messages, timeout=self.llm_timeout):
                if shown := checker.feed(piece):
                    yield shown
            if tail := checker.finish():
                yield tail
        except Exception as err:
            if not isinstance(err, KzruRagError):
                log.warning("LLM backend %s failed", type(llm).__name__, exc_info=True)
            answer = self._extract(base, query)
            return replace(answer, notice=_failure_notice(err))
        if says_nothing(checker.text):
            log.warning("LLM reply %r says nothing; giving the extractive answer", checker.text)
            answer = self._extract(base, query)
            return replace(answer, notice=_empty_reply_notice(checker.text))
        text = checker.text.strip()
        cited = [base.hits[i] for i in checker.cited]
        notices = []
        if checker.dropped:
            wrong = ", ".join(f"[{n}]" for n in checker.dropped)
            notices.append(f"Модель сослалась на несуществующие фрагменты ({wrong}); эти ссылки удалены.")
        abstained = not cited and bool(_NO_ANSWER_PATTERN.search(text))
        if not cited and not abstained:
            notices.append("Модель не сослалась ни на один фрагмент: сверьте ответ с найденными фрагментами.")
        if not cited:
            cited = base.hits[: self.max_quotes]
            markers = ", ".join(f"[{n}]" for n in range(1, len(cited) + 1))
            label = (CLOSEST if abstained else FOUND)[base.language]
            tail = f"\n\n{label}: {markers}." if cited else ""
            text += tail
            yield tail
        return replace(
            base,
            text=text,
            citations=cited,
            abstained=abstained,
            status="abstained" if abstained else "answered",
            mode="llm",
            notice=" ".join(notices) or None,
            flagged=bool(checker.dropped) or not checker.cited,
        )

    def _passage_line(self, number: int, hit: Hit) -> str:
        place = f"абзац {hit.metadata.get('paragraph', '?')}"
        if page := hit.metadata.get("page"):
            place = f"стр. {page}, {place}"
        if len(self.retriever.index.documents) > 1:
            place = f"«{hit.metadata.get('title', hit.doc_id)}», {place}"
        return f"[{number}] ({place}) {_PASSAGE_TAG.sub(' ', hit.text)}"

    def _quote(self, hit: Hit, span: Span) -> str:
        """The sentence at `span`, without a leading dash of direct speech."""
        return hit.text[span[0] - hit.start : span[1] - hit.start].strip().lstrip("–—- ").strip()

    def _scored_sentences(self, query: str, hits: list[Hit], focus: str | None = None) -> list[_Sentence]:
        """Every sentence of the hits (`Hit.sentences`; without them, the highlight or else the whole
        passage), scored, best first.

        `query` is what was searched; `focus` (default: the query) is the question as asked.

        Score: cosine similarity of the query and the sentence, plus LEXICAL_WEIGHT times the
        share of the focus's content words that the sentence contains (in any form), plus RANK_WEIGHT / rank
        of its passage (the retriever's view of the whole passage), plus ANSWER_TYPE_WEIGHT when it
        holds the kind of phrase the focus asks for.
        """
        places = [
            (i, span)
            for i, hit in enumerate(hits)
            for span in ([(a, b) for a, b, _ in hit.sentences] or [hit.highlight or (hit.start, hit.end)])
        ]
        owners = [hits[i] for i, _ in places]
        spans = [span for _, span in places]
        texts = [hit.text[a - hit.start : b - hit.start] for hit, (a, b) in zip(owners, spans)]
        similarities = self._similarities(query, owners, spans, texts)
        similarity_of = dict(zip(places, similarities))
        focus = focus or query
        question_words = query_words(focus)
        kind = expected_answer(focus)
        who = answer_kind(focus) == "person"
        scored = []
        for (i, _), similarity, span, text in zip(places, similarities, spans, texts):
            # Scored as the quote it makes with what it needs to stand alone (`quotes.standalone_span`).
            if before := antecedent(hits[i], span):
                similarity = max(similarity, similarity_of.get((i, before), similarity))
            start, end = standalone_span(hits[i], span, who)
            text = hits[i].text[start - hits[i].start : end - hits[i].start]
            readings = frozenset().union(*content_words(text))
            overlap = (
                sum(bool(word & readings) for word in question_words) / len(question_words) if question_words else 0.0
            )
            typed = bool(kind) and holds_answer(text, kind, focus) or who and names_speaker(text, focus)
            score = similarity + LEXICAL_WEIGHT * overlap + RANK_WEIGHT / (i + 1) + ANSWER_TYPE_WEIGHT * typed
            scored.append(_Sentence(score, i, span))
        scored.sort(key=lambda sentence: -sentence.score)
        return scored

    def _similarities(self, query: str, hits: list[Hit], spans: list[Span], texts: list[str]) -> list[float]:
        """Cosine similarity of the query and `texts[i]` (document span `spans[i]` of `hits[i]`): the
        retriever's own when it has it, else embedded here (and cached)."""
        known = [_known_similarity(hit, span) for hit, span in zip(hits, spans)]
        if all(value is not None for value in known):
            return [float(value) for value in known]
        embedder = self.retriever.embedder
        keys = [(hit.doc_id, *span) for hit, span in zip(hits, spans)]
        missing = {
            key: text for key, text, value in zip(keys, texts, known) if value is None and key not in self._vectors
        }
        if missing:
            self._vectors.update(zip(missing, embedder.encode_passages(list(missing.values()))))
        question = embedder.encode_queries([query])[0]
        return [
            float(value) if value is not None else float(np.dot(question, self._vectors[key]))
            for key, value in zip(keys, known)
        ]


def _standalone(chosen: list[_Sentence], hits: list[Hit], who: bool) -> list[_Sentence]:
    """The chosen sentences as quotes that stand alone (`quotes.standalone_span`; `who`: the question asks who);
    a quote that comes to take in another chosen sentence of its passage is joined with it, in the place of the
    better one."""
    quotes: list[_Sentence] = []
    for sentence in chosen:
        span = standalone_span(hits[sentence.hit], sentence.span, who)
        joined = next((n for n, q in enumerate(quotes) if q.hit == sentence.hit and _overlaps(q.span, span)), None)
        if joined is None:
            quotes.append(sentence._replace(span=span))
        else:
            other = quotes[joined]
            quotes[joined] = other._replace(span=(min(other.span[0], span[0]), max(other.span[1], span[1])))
    return quotes


def _known_similarity(hit: Hit, span: Span) -> float | None:
    """The retriever's cosine similarity of the query and the sentence at `span` of `hit`, if it has one."""
    for start, end, similarity in hit.sentences:
        if (start, end) == span:
            return similarity
    return hit.signals.get("sentence") if span == hit.highlight else None


class _Sentence(NamedTuple):
    """A quotable sentence of hit number `hit` at document `span`, and its score as the answer."""

    score: float
    hit: int
    span: Span


class CitationChecker:
    """Filters streamed LLM text: checks [n] markers against the passages and renumbers them.

    A marker naming passages 1..`passages` is rewritten with numbers given in order of first
    use; numbers that name no passage are dropped (recorded in `dropped`). A possible marker
    cut between two pieces is held back until it is complete.
    """

    def __init__(self, passages: int) -> None:
        if passages < 0:
            raise ValueError("passages must be 0 or more")
        self.passages = passages
        self.cited: list[int] = []
        """Passage indexes (0-based) in the order they were first cited."""
        self.dropped: list[int] = []
        self.text = ""
        self._pending = ""

    def feed(self, piece: str) -> str:
        """The part of the text so far that can be shown; a trailing partial marker is held back."""
        self._pending += piece
        held = _MARKER_PREFIX.search(self._pending)
        cut = held.start() if held and len(self._pending) - held.start() <= _MAX_MARKER_CHARS else len(self._pending)
        ready, self._pending = self._pending[:cut], self._pending[cut:]
        return self._emit(ready)

    def finish(self) -> str:
        """Whatever was held back."""
        ready, self._pending = self._pending, ""
        return self._emit(ready)

    def _emit(self, text: str) -> str:
        checked = _MARKER.sub(self._renumber, text)
        self.text += checked
        return checked

    def _renumber(self, match: re.Match[str]) -> str:
        markers = []
        for number in (int(n) for n in re.findall(r"\d+", match.group(2))):
            if not 1 <= number <= self.passages:
                self.dropped.append(number)
                continue
            if number - 1 not in self.cited:
                self.cited.append(number - 1)
            marker = f"[{self.cited.index(number - 1) + 1}]"
            if marker not in markers:
                markers.append(marker)
        return match.group(1) + "".join(markers) if markers else ""


def _quotes_of(answer: str) -> str:
    """An earlier answer's text without the warning an uncertain answer opens with (its quotes follow it)."""
    head, blank, rest = answer.partition("\n\n")
    if blank and any(head.startswith(warning.split("{markers}")[0]) for warning in UNCERTAIN.values()):
        return rest
    return answer


def says_nothing(reply: str) -> bool:
    """True when an LLM reply is empty, holds only citation markers («[1]») or has fewer than
    MIN_REPLY_WORDS words besides them: it is treated like a failed call."""
    return len(_REPLY_WORD.findall(_MARKER.sub(" ", reply))) < MIN_REPLY_WORDS


def _overlaps(a: Span, b: Span) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _empty_reply_notice(reply: str) -> str:
    shown = _one_line(reply)[:40] or "пустой ответ"
    return f"Языковая модель не дала содержательного ответа («{shown}»); показан ответ из цитат документа."


def _failure_notice(err: BaseException) -> str:
    return f"Языковая модель не ответила ({err}); показан ответ из цитат документа."
