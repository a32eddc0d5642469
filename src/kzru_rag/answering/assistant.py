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
  self-contained (followups.py): its pronoun's referent in the previous answer («Жанар
  Тулиндинова») is searched with it, or else the earlier questions it leans on (weighed less than the
  follow-up itself: `Retriever.search`'s `lead`); with an LLM,
  prompts/condense.ru.md rewrites it and is told the same referent.
- The question is analysed once (`questions.analyse` → `Query`); a follow-up made self-contained is analysed
  once more, as the different text it then is.
- Confidence: an extractive answer carries the calibrated probability that its first quote answers
  the question (`confidence.ConfidenceModel`, from the index manifest); below the model's
  `answer_from` it is presented as *uncertain*: a warning first, the quotes below it as leads.
  An LLM answer is judged by the same model on its evidence: the sentence of the passages it cites that
  would be quoted first (`Extractor.choose` over them), with the retrieval signals of all passages found. It is
  the probability that the cited passages hold the answer, not a check of the model's wording; below
  `answer_from` the answer is *uncertain* and ends with a warning in the question's language.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Generator, Iterator, Sequence
from dataclasses import replace

from kzru_rag.answering.citations import CitationChecker, says_nothing
from kzru_rag.answering.confidence import ConfidenceModel, measure, other_year, quoted_sentence, shipped_model
from kzru_rag.answering.extractive import RESTATES_FROM, Extractor, Span, quote_text, word_share
from kzru_rag.answering.followups import Standalone, first_claim, referent, standalone
from kzru_rag.answering.llm import LLM, render_prompt
from kzru_rag.answering.wording import (
    UNCITED_NOTICE,
    doubt,
    dropped_notice,
    empty_reply_notice,
    failure_notice,
    no_answer,
    one_line,
    quotes_of,
    says_no_answer,
    uncertain,
    uncertain_tail,
    uncited_tail,
)
from kzru_rag.embedding.base import DEFAULT_MODEL
from kzru_rag.errors import KzruRagError
from kzru_rag.language.questions import analyse
from kzru_rag.retrieval.retriever import Retriever
from kzru_rag.schema import AbstentionReason, Answer, Hit, Lead, Message, Query

log = logging.getLogger(__name__)

_PASSAGE_TAG = re.compile(r"</?\s*passages\s*>", re.IGNORECASE)
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
        the index's own when its user calibrated one (`kzru-rag calibrate --write`), else the shipped one when the
        index was built with the bundled model (the one it was fitted for), else none."""
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
        self.confidence = (
            _judge(retriever.index.manifest.confidence, retriever.index.manifest.model_id) if calibrated else None
        )
        self.extractor = Extractor(retriever.embedder, max_quotes)
        self._terms = retriever.index.sentences.terms if retriever.index.sentences is not None else None

    def ask(
        self,
        question: str,
        history: Sequence[Message] | None = None,
        *,
        k: int | None = None,
        use_llm: bool = True,
        documents: Collection[str] | None = None,
    ) -> Answer:
        """The whole answer to `question`, given the conversation so far (from the named `documents` alone when
        given: `Retriever.search`)."""
        answer = None
        for item in self.stream(question, history, k=k, use_llm=use_llm, documents=documents):
            if isinstance(item, Answer):
                answer = item
        assert answer is not None
        return answer

    def stream(
        self,
        question: str,
        history: Sequence[Message] | None = None,
        *,
        k: int | None = None,
        use_llm: bool = True,
        documents: Collection[str] | None = None,
    ) -> Iterator[str | Answer]:
        """Yield the answer text in pieces, then the `Answer` (from the named `documents` alone when given).

        The `Answer` is authoritative: when the LLM fails part-way, its text (the extractive
        answer) replaces the pieces streamed so far.
        """
        asked = analyse(question)
        turns = check_history(history)
        k = self.k if k is None else k
        if k < 1:
            raise ValueError("k (passages per answer) must be at least 1")
        llm = self.llm if use_llm else None
        notice = None
        query = asked
        lead = None
        if turns:
            alone, notice = self._standalone(asked, turns, llm)
            query = asked if alone.text == asked.text else analyse(alone.text)
            lead = Lead(alone.lead, alone.finds) if alone.lead != alone.text else None
            if notice:
                llm = None
        hits = self.retriever.search(query, k=k, documents=documents, lead=lead)
        base = Answer("", [], False, query.text, hits, language=asked.language)
        if reasons := self.retriever.abstention_reasons(query, hits):
            answer = self._abstain(base, reasons)
        elif llm is None:
            said = (
                [first_claim(quotes_of(t["content"])) for t in turns if t["role"] == "assistant"]
                if query is not asked
                else []
            )
            answer = self._extract(base, query, focus=asked, said=said)
        else:
            answer = yield from self._generate(base, query, llm)
        if notice and not answer.notice:
            answer = replace(answer, notice=notice)
        if answer.mode == "extractive":
            yield answer.text
        yield answer

    def _standalone(self, question: Query, turns: list[Message], llm: LLM | None) -> tuple[Standalone, str | None]:
        """The question rewritten to stand alone, and a notice when the LLM could not do it."""
        if llm is None:
            return standalone(question, turns, self._terms), None
        recent = turns[-CONDENSE_HISTORY_TURNS:]
        speakers = {"user": "Пользователь", "assistant": "Ассистент"}
        lines = [f"{speakers[t['role']]}: {one_line(t['content'])[:CONDENSE_ANSWER_CHARS]}" for t in recent]
        prompt = render_prompt("condense.ru#user", history="\n".join(lines), question=question.text)
        messages: list[Message] = [
            {"role": "system", "content": render_prompt("condense.ru")},
            {"role": "user", "content": prompt},
        ]
        if carried := referent(question, turns, self._terms):
            messages[1]["content"] += "\n\n" + render_prompt("condense.ru#referent", referent=carried.text)
        try:
            rewritten = one_line(self._complete(llm, messages)).strip(" «»\"'")
        except KzruRagError as err:
            return standalone(question, turns, self._terms), failure_notice(err)
        if says_nothing(rewritten) or len(rewritten) > 4 * len(question.text) + 300:
            log.warning(
                "LLM condensed %r to an unusable question %r; using the conversation instead", question.text, rewritten
            )
            return standalone(question, turns, self._terms), None
        return Standalone(rewritten, rewritten), None

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
        text = no_answer(base.language, reasons, len(closest))
        return replace(base, text=text, citations=closest, abstained=True, reasons=list(reasons), status="abstained")

    def _extract(self, base: Answer, query: Query, focus: Query, said: Sequence[str] = ()) -> Answer:
        """Quote the best sentences of the hits (`Extractor.choose`), each with its passage's citation marker.

        `focus` is the question as asked when `query` adds the conversation to it: its own words
        and question word («где») decide which sentence answers. A sentence an earlier answer already
        quoted competes as any other: the detail a follow-up asks for is often in it («Чем он будет
        заниматься?» of the council «…который станет площадкой для координации…»). The earlier answers'
        first claims (`said`) only keep passages out of the confidence's retrieval signals (`_judged`).
        """
        chosen = self.extractor.choose(query, base.hits, focus)
        if not chosen:
            return self._abstain(base)
        # One marker per passage; its highlight becomes its best quoted sentence.
        numbers: dict[int, int] = {}
        citations: list[Hit] = []
        for sentence in chosen:
            if sentence.hit not in numbers:
                numbers[sentence.hit] = len(citations) + 1
                citations.append(replace(base.hits[sentence.hit], highlight=sentence.span))
        lines = [f"{quote_text(base.hits[s.hit], s.span)} [{numbers[s.hit]}]" for s in chosen]
        quoted = base.hits[chosen[0].hit]
        in_play = [hit for hit in base.hits if hit is quoted or not (hit.highlight and _said(hit, hit.highlight, said))]
        return self._judged(replace(base, text="\n\n".join(lines), citations=citations), query, focus, in_play)

    def _judged(self, answer: Answer, query: Query, focus: Query, in_play: list[Hit]) -> Answer:
        """The extractive answer with its confidence; below the model's threshold it is presented as
        uncertain: a warning that the document may not answer, and why when the first quote shows it (the kind of
        answer or the noun asked for is missing from it, or it repeats the question), then the quotes as leads.

        For a follow-up the kind of answer asked for is read from the question as asked (`focus`), and
        the retrieval signals from the passages still in play (`in_play`: the quoted one, and no other
        whose best sentence an earlier answer already gave)."""
        evidence = self.retriever.evidence(query, in_play)
        signals = measure(query, in_play, answer.citations[0], evidence, asked=focus)
        answer = replace(answer, signals=signals)
        if self.confidence is None:
            return answer
        confidence = self.confidence.probability(signals)
        status = self.confidence.status(confidence)
        if status == "answered":
            return replace(answer, confidence=confidence)
        why = doubt(
            answer.language,
            kind=focus.kind if signals.kind_missing else None,
            noun=focus.asked_noun if signals.asked_noun == 0 else None,
            restates=word_share(quoted_sentence(answer.citations[0]), focus.words) >= RESTATES_FROM,
            year=other_year(focus, quoted_sentence(answer.citations[0])) if signals.other_year else None,
        )
        text = uncertain(answer.language, answer.text, len(answer.citations), why)
        return replace(answer, text=text, confidence=confidence, status=status)

    def _generate(self, base: Answer, query: Query, llm: LLM) -> Generator[str, None, Answer]:
        """Stream the LLM's answer with its markers checked; the extractive answer when it fails."""
        passages = "\n\n".join(self._passage_line(n, hit) for n, hit in enumerate(base.hits, start=1))
        messages: list[Message] = [
            {"role": "system", "content": render_prompt("system.ru")},
            {"role": "user", "content": render_prompt("system.ru#user", passages=passages, question=query.text)},
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
            return replace(self._extract(base, query, focus=query), notice=failure_notice(err))
        if says_nothing(checker.text):
            log.warning("LLM reply %r says nothing; giving the extractive answer", checker.text)
            return replace(self._extract(base, query, focus=query), notice=empty_reply_notice(checker.text))
        return (yield from self._checked(base, query, checker))

    def _checked(self, base: Answer, query: Query, checker: CitationChecker) -> Generator[str, None, Answer]:
        """The LLM's finished reply as an answer, judged on its cited passages (`_weighed`); what it lacks (the
        passages it is given with when it cites none, the warning of an uncertain answer) is streamed after it."""
        text = checker.text.strip()
        cited = [base.hits[i] for i in checker.cited]
        notices = [dropped_notice(checker.dropped)] if checker.dropped else []
        abstained = not cited and says_no_answer(text)
        if not cited and not abstained:
            notices.append(UNCITED_NOTICE)
        if not cited:
            cited = base.hits[: self.max_quotes]
            tail = uncited_tail(base.language, abstained, len(cited))
            text += tail
            yield tail
        judged = None if abstained else self._weighed(base, query, cited)
        if judged is not None and judged.status == "uncertain":
            tail = uncertain_tail(base.language, len(cited))
            text += tail
            yield tail
        answer = replace(
            base,
            text=text,
            citations=cited,
            abstained=abstained,
            status="abstained" if abstained else "answered",
            mode="llm",
            notice=" ".join(notices) or None,
            flagged=bool(checker.dropped) or not checker.cited,
        )
        if judged is None:
            return answer
        return replace(answer, status=judged.status, confidence=judged.confidence, signals=judged.signals)

    def _weighed(self, base: Answer, query: Query, cited: list[Hit]) -> Answer | None:
        """How sure an LLM answer citing `cited` is: the extractive judgement (`_judged`) of the sentence of those
        passages that would be quoted first, with the retrieval signals of every passage found; None without one."""
        chosen = self.extractor.choose(query, cited, query)
        if not chosen:
            return None
        best = chosen[0]
        quote = replace(cited[best.hit], highlight=best.span)
        in_play = [quote if hit is cited[best.hit] else hit for hit in base.hits]
        return self._judged(replace(base, citations=[quote]), query, query, in_play)

    def _passage_line(self, number: int, hit: Hit) -> str:
        place = ", ".join(hit.place(chars=None))
        if len(self.retriever.index.documents) > 1:
            place = f"«{hit.metadata.get('title', hit.doc_id)}», {place}"
        return f"[{number}] ({place}) {_PASSAGE_TAG.sub(' ', hit.text)}"


def _said(hit: Hit, span: Span, said: Sequence[str]) -> bool:
    """True when the sentence at `span` of `hit` is in one of the earlier answers' claims `said`."""
    return any(quote_text(hit, span) in text for text in said)


def _judge(own: dict, model_id: str) -> ConfidenceModel | None:
    """The index's own confidence model, else the shipped one for an index of the model it was fitted for."""
    if own:
        return ConfidenceModel.from_dict(own)
    return shipped_model() if model_id == DEFAULT_MODEL else None
