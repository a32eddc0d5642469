"""Chunk-size sweep: dense-only retrieval quality on the dev set for several chunker settings, one run.

This is the measurement behind the default `Chunker` (README, "The index"):

    .venv/bin/python bench/chunking.py
"""

from __future__ import annotations

from pathlib import Path

from kzru_rag.embedding.sentence_transformers import load_embedder
from kzru_rag.evaluation.baselines import DenseSearcher
from kzru_rag.evaluation.datasets import load_questions
from kzru_rag.evaluation.retrieval import evaluate, format_reports
from kzru_rag.index.build import index_documents
from kzru_rag.ingest.chunking import Chunker
from kzru_rag.ingest.documents import bundled_document

DEV_SET = Path(__file__).resolve().parents[1] / "tests" / "data" / "dev.jsonl"
SETTINGS = [(200, 0), (300, 0), (400, 0), (500, 0), (500, 1), (700, 0), (1_000_000, 0)]


def main() -> None:
    embedder = load_embedder()
    documents = [bundled_document()]
    questions = load_questions(DEV_SET)
    reports = []
    for max_chars, overlap in SETTINGS:
        index = index_documents(documents, embedder, Chunker(max_chars, overlap))
        name = "whole paragraphs" if max_chars >= 1_000_000 else f"dense max_chars={max_chars} overlap={overlap}"
        reports.append(evaluate(DenseSearcher(index, embedder), questions, name=name))
    print(format_reports(reports))


if __name__ == "__main__":
    main()
