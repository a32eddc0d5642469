"""Lexical matching: Russian morphology, names, numbers, abbreviations, Kazakh spellings; the term index."""

import numpy as np
import pytest

from kzru_rag.evaluation.baselines import BM25
from kzru_rag.language.words import content_words, query_words, specifics, tokens, word_readings
from kzru_rag.stores.terms import TermIndex


def matches(query_word: str, text: str) -> bool:
    """True when `query_word` matches some word of `text` (their readings meet)."""
    (readings,) = content_words(query_word)
    return any(readings & other for other in content_words(text))


@pytest.mark.parametrize(
    "query_word,text",
    [
        ("вуз", "открыты филиалы девяти ведущих вузов РФ"),
        ("вузов", "каждый вуз открыл филиал"),
        ("ГРЭС-2", "модернизацию Экибастузской ГРЭС-2"),
        ("ГРЭС", "модернизацию Экибастузской ГРЭС-2"),
        ("Экибастузская", "модернизацию Экибастузской ГРЭС-2"),
        ("МИФИ", "Московского инженерно-физического института (МИФИ)"),
        ("Токаев", "визит Касым-Жомарта Токаева в Москву"),
        ("Тоқаев", "визит Касым-Жомарта Токаева в Москву"),
        ("Тулиндинова", "по мнению Жанар Тулиндиновой"),
        ("Фараби", "университета им. аль-Фараби"),
        ("2025", "2025-й, как известно, проходит под знаком Года рабочих профессий"),
        ("электростанцию", "строить атомные электростанции"),
    ],
)
def test_inflected_forms_names_and_numbers_match(query_word, text):
    assert matches(query_word, text)


@pytest.mark.parametrize(
    "query_word,text",
    [
        ("2024", "2025-й, как известно"),
        ("МГУ", "филиала МГИМО в Астане"),
        ("футбол", "форумы межрегионального сотрудничества"),
    ],
)
def test_different_words_do_not_match(query_word, text):
    assert not matches(query_word, text)


def test_function_words_and_pronouns_carry_no_content():
    assert content_words("Кто такая она и где это было?") == [word_readings("было")]
    assert word_readings("в") == word_readings("какой") == word_readings("почему") == frozenset()


def test_english_and_kazakh_function_words_carry_no_content():
    assert [sorted(w) for w in content_words("Which forums are planned in the region?")] == [
        ["forums"],
        ["planned"],
        ["region"],
    ]
    assert content_words("Форум қашан және қайда өтеді?") == [word_readings("Форум"), word_readings("өтеді")]
    assert word_readings("бар") != frozenset(), "a Russian word that is also a Kazakh function word keeps its content"


def test_abbreviations_and_numbers_are_kept_as_written():
    assert word_readings("МИФИ") == {"мифи"}
    assert word_readings("ГРЭС-2") == {"грэс-2", "грэс", "2"}
    assert tokens("Филиал МИФИ и ГРЭС-2 в 2025 году") == ["филиал", "МИФИ".lower(), "грэс-2", "2025", "год"]


def test_query_words_are_distinct():
    assert query_words("форум, форума, форумы о форуме") == [frozenset({"форум", "форума", "форумы", "форуме"})]


def test_specifics_are_the_numbers():
    assert specifics("Какой товарооборот между РК и РФ в 2024 году?") == [frozenset({"2024", "mmxxiv"})]
    assert specifics("ГРЭС-2 и 2025-й") == [frozenset({"грэс-2", "2", "ii"}), frozenset({"2025-й", "2025", "mmxxv"})]
    assert specifics("Что такое АЭС?") == []


@pytest.mark.slow
def test_an_ordinal_also_reads_as_its_roman_numeral(retriever):
    """The document writes «XXI форум»; "the 21st forum" and «21-й форум» name it, so the numbers rule lets them be."""
    assert specifics("the 21st forum") == [frozenset({"21st", "21", "xxi"})]
    for question in ("What is the theme of the 21st interregional cooperation forum?", "Где пройдёт 21-й форум?"):
        assert not [
            r for r in retriever.abstention_reasons(question, retriever.search(question)) if r.kind == "unknown_numbers"
        ]
    assert [
        r.kind
        for r in retriever.abstention_reasons("Где пройдёт 22-й форум?", retriever.search("Где пройдёт 22-й форум?"))
    ] == ["unknown_numbers"]


@pytest.fixture()
def term_index():
    return TermIndex.build(
        [
            "Открыты филиалы девяти ведущих вузов РФ, включая МИФИ.",
            "Сохраняется фокус на модернизацию Экибастузской ГРЭС-2.",
            "Форум проходит в Уральске.",
            "Форум станет площадкой для обсуждения.",
        ]
    )


def test_coverage_is_the_idf_weighted_share_of_query_words(term_index):
    units = np.arange(term_index.size)
    share = term_index.coverage(query_words("Филиалы каких вузов открыты?"), units, units, term_index.size)
    assert share[0] == pytest.approx(1.0)
    assert (share[1:] == 0).all()
    share = term_index.coverage(query_words("Где проходит форум?"), units, units, term_index.size)
    assert share[2] == pytest.approx(1.0), "«форум» and «проходит» are both in unit 2"
    assert 0 < share[3] < share[2], "unit 3 has «форум» only"


def test_a_word_the_corpus_lacks_counts_against_every_unit(term_index):
    units = np.arange(term_index.size)
    share = term_index.coverage(query_words("Где проходит форум хоккеистов?"), units, units, term_index.size)
    assert 0 < share[2] < 0.7


def test_coverage_of_groups_counts_a_word_once_per_group(term_index):
    units = np.array([2, 3])
    share = term_index.coverage(query_words("Где проходит форум и чем он станет?"), units, np.array([0, 0]), 1)
    assert share[0] == pytest.approx(1.0), "together units 2 and 3 hold every word"


def test_numbers_the_corpus_lacks(term_index):
    assert term_index.absent(specifics("ГРЭС-2 в 2024 году")) == [frozenset({"2024", "mmxxiv"})]
    assert term_index.absent(specifics("Когда модернизируют ГРЭС-3?")) == [frozenset({"грэс-3", "3", "iii"})]


def test_the_term_index_survives_saving(term_index, tmp_path):
    term_index.save(tmp_path / "terms.npz")
    loaded = TermIndex.load(tmp_path / "terms.npz")
    units = np.arange(term_index.size)
    for query in ("вузов", "ГРЭС-2 Экибастуз", "форум"):
        words = query_words(query)
        assert (loaded.coverage(words, units, units, 4) == term_index.coverage(words, units, units, 4)).all()


def test_a_damaged_term_index_is_a_value_error(term_index, tmp_path):
    file = tmp_path / "terms.npz"
    term_index.save(file)
    file.write_bytes(file.read_bytes()[:100])
    with pytest.raises(ValueError, match="damaged term index"):
        TermIndex.load(file)


def test_inconsistent_arrays_are_refused():
    with pytest.raises(ValueError, match="do not match"):
        TermIndex(["а", "б"], np.array([0, 1]), np.array([0]), 1)
    with pytest.raises(ValueError, match="outside"):
        TermIndex(["а"], np.array([0, 1]), np.array([5]), 2)


def test_bm25_with_lemmas_matches_inflected_forms():
    texts = ["Открыты филиалы девяти ведущих вузов.", "Форум пройдёт в Уральске."]
    assert BM25(texts, lemmas=True).scores("вуз")[0] > 0
    assert BM25(texts, lemmas=False).scores("вуз")[0] == 0


def _bridge(words: list[str], vectors: np.ndarray):
    from kzru_rag.retrieval.bridge import WordBridge
    from kzru_rag.stores.terms import WordVectors

    return WordBridge(TermIndex.build(["Посол прибыл."]), WordVectors(words, vectors), 0.9, 2, latin=True)


def test_the_soft_match_reads_how_near_a_foreign_word_comes_to_a_word_of_each_passage():
    """A foreign word at cosine 0.9 to «посол» and 0.3 to «форум» (below the floor 0.8): half a match for the
    passage that holds «послом», none for the one with «форум» or with no bridge word at all."""
    bridge = _bridge(["посол", "форум"], np.eye(3, dtype=np.float32)[:2])
    foreign = np.array([[0.9, 0.3, np.sqrt(1 - 0.81 - 0.09)]], dtype=np.float32)
    texts = ["Встреча с послом прошла в Астане.", "Форум открылся вчера.", "Ничего похожего здесь нет."]
    assert bridge.soft_match(foreign, texts, 0.8) == pytest.approx([0.5, 0.0, 0.0], abs=1e-6)
    two = np.vstack([foreign, [[0.0, 1.0, 0.0]]]).astype(np.float32)  # a second word: «форум» itself
    assert bridge.soft_match(two, texts, 0.8) == pytest.approx([0.25, 0.5, 0.0], abs=1e-6)
    assert bridge.soft_match(np.zeros((0, 3), dtype=np.float32), texts, 0.8).tolist() == [0.0, 0.0, 0.0]
