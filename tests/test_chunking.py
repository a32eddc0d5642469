"""Chunking: offsets, paragraph boundaries, Russian sentence splitting, parameters."""

import pytest

from kzru_rag.ingest.chunking import Chunker, paragraphs, sentences
from kzru_rag.ingest.documents import bundled_document, parse_document

PARAMS = [(300, 0), (500, 0), (500, 1), (800, 2), (1_000_000, 0)]


@pytest.fixture(scope="module")
def document():
    return bundled_document()


def test_metadata_header_is_parsed_not_indexed(document):
    assert document.metadata["date"] == "2025-11-11"
    assert document.metadata["credit"] == "фото с сайта gov.kz"
    chunks = Chunker().run(document)
    assert all("gov.kz" not in c.text and "2025-11-11" not in c.text for c in chunks)
    assert min(c.start for c in chunks) >= document.body_start


@pytest.mark.parametrize("max_chars,overlap", PARAMS)
def test_every_chunk_is_an_exact_slice_of_the_source(document, max_chars, overlap):
    chunks = Chunker(max_chars, overlap).run(document)
    assert chunks
    for chunk in chunks:
        assert document.text[chunk.start : chunk.end] == chunk.text
        for a, b in chunk.sentences:
            assert chunk.start <= a < b <= chunk.end


@pytest.mark.parametrize("max_chars,overlap", PARAMS)
def test_chunks_never_cross_a_paragraph(document, max_chars, overlap):
    spans = list(paragraphs(document.text, document.body_start))
    assert len(spans) == 20
    for chunk in Chunker(max_chars, overlap).run(document):
        a, b = spans[chunk.paragraph - 1]
        assert a <= chunk.start and chunk.end <= b
        assert "\n\n" not in chunk.text


def test_whole_text_is_covered_and_sizes_respected(document):
    chunker = Chunker(300, 0)
    chunks = chunker.run(document)
    covered = "".join(document.text[a:b] for c in chunks for a, b in c.sentences)
    body = "".join(document.text[a:b] for a, b in paragraphs(document.text, document.body_start))
    assert covered.replace(" ", "") == body.replace(" ", "")
    for chunk in chunks:
        assert len(chunk.text) <= chunker.max_chars or len(chunk.sentences) == 1


def test_overlap_repeats_sentences(document):
    chunks = Chunker(300, 1).run(document)
    pairs = [(a, b) for a, b in zip(chunks, chunks[1:]) if a.paragraph == b.paragraph and len(a.sentences) > 1]
    assert pairs
    for a, b in pairs:
        assert a.sentences[-1] == b.sentences[0]


def test_russian_sentences_abbreviations_quotes_dashes():
    text = (
        "Выпускник МГУ им. М. Ломоносова работает в РФ. Он сказал: «Привет. Пока» – и ушёл. "
        "– Да, – ответил он. В 2025 г. визит состоялся."
    )
    found = [text[a:b] for a, b in sentences(text, (0, len(text)))]
    assert found == [
        "Выпускник МГУ им. М. Ломоносова работает в РФ.",
        "Он сказал: «Привет. Пока» – и ушёл.",
        "– Да, – ответил он.",
        "В 2025 г. визит состоялся.",
    ]


def test_a_huge_sentence_is_cut_at_spaces():
    text = "слово " * 2000
    doc = parse_document(text, doc_id="big", source="big.txt")
    chunks = Chunker(500, 0).run(doc)
    assert len(chunks) > 5
    assert all(len(c.text) <= 1000 and doc.text[c.start : c.end] == c.text for c in chunks)


def test_document_without_header_keeps_first_line():
    doc = parse_document("Первая строка.\n\nВторой абзац.", doc_id="d", source="d.txt")
    assert doc.body_start == 0 and "date" not in doc.metadata
    assert [c.text for c in Chunker().run(doc)] == ["Первая строка.", "Второй абзац."]


@pytest.mark.parametrize("kwargs", [{"max_chars": 10}, {"overlap": -1}])
def test_invalid_parameters_are_refused(kwargs):
    with pytest.raises(ValueError):
        Chunker(**kwargs)


def test_parameters_round_trip():
    chunker = Chunker(420, 1)
    assert Chunker.from_dict(chunker.to_dict()) == chunker
