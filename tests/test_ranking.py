"""The learned ranking of questions with foreign words (`RetrievalSettings.foreign_ranking`, fitted by
bench/ranking.py): what each part of a passage's score does to its rank, on constructed hits and documents."""

from __future__ import annotations

from dataclasses import replace

import pytest

from kzru_rag.index.build import build_index
from kzru_rag.index.load import load_index
from kzru_rag.retrieval.hits import learned_rank
from kzru_rag.retrieval.retriever import Retriever
from kzru_rag.schema import Hit
from kzru_rag.stores.settings import FOREIGN_RANKING, RANK_PARTS, RetrievalSettings

FAIR = (
    "Ярмарка урожая откроется в Уральске в пятницу.\n\n"
    "Билеты на ярмарку урожая продают в кассах ярмарки у рынка урожая. Погода в пятницу останется дождливой.\n\n"
    "Автобусы до стадиона ходят каждый час."
)
FOREIGN = "Когда откроется ярмарка урожая gathering?"
"""A question with a word that is neither Russian nor in the document: the soft match and the learned ranking apply."""


def hit(**parts: float) -> Hit:
    return Hit("Текст.", 0.5, "doc", 0, 6, "doc-0", {}, signals=parts)


@pytest.mark.parametrize("part", RANK_PARTS)
def test_a_passage_ahead_in_one_part_of_its_score_ranks_higher_by_that_parts_weight(part):
    """The shipped weights are all positive: a passage better in any one part, the others equal, ranks higher, by
    the part's learned weight; a part the search did not compute (no answer kind asked) counts 0."""
    base = dict.fromkeys(RANK_PARTS, 0.5)
    weight = FOREIGN_RANKING[RANK_PARTS.index(part)]
    ahead = learned_rank(hit(**{**base, part: 0.6}), FOREIGN_RANKING)
    assert weight > 0 and ahead - learned_rank(hit(**base), FOREIGN_RANKING) == pytest.approx(0.1 * weight)
    missing = {name: value for name, value in base.items() if name != part}
    assert learned_rank(hit(**missing), FOREIGN_RANKING) == pytest.approx(
        learned_rank(hit(**base), FOREIGN_RANKING) - 0.5 * weight
    )


def test_the_two_cosines_weigh_most_and_the_soft_match_more_than_the_lexical_parts():
    """What the fit found (docs/trust.md, Session 15): for a foreign question the best sentence's cosine counts about
    as much as its passage's, and the soft word match far more than the lexical coverage the bridge gives."""
    weights = dict(zip(RANK_PARTS, FOREIGN_RANKING))
    assert weights["sentence"] + weights["passage"] == pytest.approx(1.0, abs=0.002)
    assert weights["sentence"] > 0.3 and weights["passage"] > 0.3
    assert weights["soft_match"] > 5 * max(weights["lexical"], weights["sentence_lexical"])


@pytest.fixture(scope="module")
def fair(tmp_path_factory, encoder) -> Retriever:
    """A three-paragraph notice, one sentence a hit (no window), abstention floors out of the way."""
    folder = tmp_path_factory.mktemp("fair")
    (folder / "fair.md").write_text(FAIR, encoding="utf-8")
    settings = RetrievalSettings(window_chars=0, widen_chars=0, abstain_below_russian=0.2, abstain_below_other=0.1)
    build_index([folder / "fair.md"], encoder, folder / "index", retrieval=settings.to_dict())
    return Retriever(load_index(folder / "index"), encoder)


def ranked(retriever: Retriever, weights: tuple[float, ...], question: str = FOREIGN) -> list[Hit]:
    return Retriever(retriever.index, retriever.embedder, replace(retriever.settings, foreign_ranking=weights)).search(
        question, k=4
    )


def first_words(hits: list[Hit]) -> list[str]:
    return [h.text.split()[0] for h in hits]


def test_a_new_index_ranks_a_foreign_question_by_the_learned_weights_and_keeps_the_scores(fair):
    assert fair.settings.foreign_ranking == FOREIGN_RANKING
    hits = fair.search(FOREIGN, k=4)
    assert all("soft_match" in h.signals for h in hits)
    keys = [learned_rank(h, FOREIGN_RANKING) for h in hits]
    assert keys == sorted(keys, reverse=True)
    unranked = ranked(fair, ())
    assert sorted((h.text, h.score) for h in hits) == sorted((h.text, h.score) for h in unranked)


def test_each_part_moves_the_passages_of_a_constructed_document(fair):
    """«Билеты…» and «Погода…» share a paragraph (the same passage cosine and coverage): ranked by the sentence's own
    cosine or its own coverage the sentence about tickets comes first; by holding the time asked for («в пятницу»),
    the weather one; by the passage cosine the two stay in the search's order."""
    sentence, passage, _, own, _, kind = (tuple(float(i == j) for j in range(len(RANK_PARTS))) for i in range(6))
    assert first_words(ranked(fair, sentence))[1:3] == ["Билеты", "Погода"]
    assert first_words(ranked(fair, own))[1:3] == ["Билеты", "Погода"]
    assert first_words(ranked(fair, kind))[:2] == ["Ярмарка", "Погода"]
    assert first_words(ranked(fair, passage))[-1] == "Автобусы"


def test_a_russian_question_and_an_index_built_before_rank_as_they_did(fair):
    russian = "Когда откроется ярмарка урожая?"
    on, off = ranked(fair, FOREIGN_RANKING, russian), ranked(fair, (), russian)
    assert [(h.text, h.score) for h in on] == [(h.text, h.score) for h in off]
    assert all("soft_match" not in h.signals for h in on)
    old = RetrievalSettings().to_dict()
    del old["foreign_ranking"]
    assert RetrievalSettings.from_dict(old).foreign_ranking == ()
    assert RetrievalSettings.from_dict(RetrievalSettings().to_dict()) == RetrievalSettings()


def test_a_ranking_with_the_wrong_number_of_weights_is_refused():
    with pytest.raises(ValueError, match="one weight per part"):
        RetrievalSettings(foreign_ranking=(1.0, 2.0))
