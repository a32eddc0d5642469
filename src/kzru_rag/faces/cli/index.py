"""`kzru-rag index build` and `kzru-rag index status`: making the index and saying what it holds."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from kzru_rag.faces.cli.common import (
    ProgressBar,
    documents_option,
    engine_option,
    index_option,
    json_option,
)

if TYPE_CHECKING:
    from kzru_rag.stores.manifest import IndexManifest


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
        help=".txt/.md/.pdf/.docx/.html files or folders, instead of the collection (default: the documents the "
        "index holds that still exist, else the bundled document, plus every added document)",
    )
    documents_option(build)
    build.add_argument(
        "--model", help="sentence-transformers model name or path (default: bundled multilingual-e5-small)"
    )
    engine_option(build)
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
    documents_option(status)
    json_option(status)
    status.set_defaults(run=run_status)


def run_build(args: argparse.Namespace) -> int:
    """Build from `--source`, else from the index's collection (`library.index_sources`: nothing added is lost)."""
    from kzru_rag.embedding.engines import load_build_embedder
    from kzru_rag.index.build import build_index
    from kzru_rag.ingest.chunking import Chunker
    from kzru_rag.library import index_sources

    defaults = Chunker()
    chunker = Chunker(
        max_chars=args.max_chars if args.max_chars is not None else defaults.max_chars,
        overlap=args.overlap if args.overlap is not None else defaults.overlap,
    )
    sources = args.source or index_sources(args.index, args.documents)
    embedder = load_build_embedder(args.model, args.engine)
    bar = ProgressBar()
    try:
        manifest = build_index(
            sources, embedder, args.index, chunker, progress=bar, vector_index=args.ann, store=args.store
        )
    finally:
        bar.close()
    print(
        f"indexed {manifest.chunk_count} chunks from {len(manifest.documents)} documents with {manifest.model_id} "
        f"({manifest.vector_index} vector index) in store {manifest.store}"
    )
    print(bar.summary())
    if args.source and (left := _left_out(args, manifest)):
        print(f"note: added documents left out by --source: {', '.join(left)}; `{_rebuild_command(args)}` indexes them")
    return 0


def _left_out(args: argparse.Namespace, manifest: IndexManifest) -> list[str]:
    """The added documents an explicit `--source` build left out, by file name."""
    from kzru_rag.library import documents_folder, uploads
    from kzru_rag.stores.layout import default_index_path

    indexed = {record.source for record in manifest.documents}
    folder = documents_folder(args.index or default_index_path(), args.documents)
    return [path.name for path in uploads(folder) if str(path.resolve()) not in indexed]


def run_status(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from kzru_rag.index.load import load_index
    from kzru_rag.library import changes, documents_folder, entries

    loaded = load_index(args.index)
    manifest = loaded.manifest
    folder = documents_folder(loaded.path, args.documents)
    changed = changes(loaded, folder)
    if args.json:
        status = {**manifest.to_dict(), "path": str(loaded.path), "stale": loaded.stale, "changes": asdict(changed)}
        print(json.dumps(status, ensure_ascii=False, indent=2))
        return 0
    print(f"index:     {loaded.path}")
    print(f"model:     {manifest.model_id} ({manifest.dim} dimensions)")
    print(f"built:     {manifest.built_at}")
    print(f"chunks:    {manifest.chunk_count} (chunker {manifest.chunker}, {manifest.vector_index} vector index)")
    print(f"store:     {manifest.store}" + (f" (collections {manifest.collection})" if manifest.collection else ""))
    for entry in entries(loaded, folder):
        print(f"document:  {entry.name} [{_STATES[entry.state]}] {entry.source}")
    if changed:
        print(f"stale:     {changed.describe(_rebuild_command(args))}")
    return 0


_STATES = {
    "indexed": "fresh",
    "changed": "stale: changed",
    "removed": "stale: removed",
    "replaced": "stale: changed",
    "pending": "not indexed: added",
}


def _rebuild_command(args: argparse.Namespace) -> str:
    """The command that rebuilds this index from its whole collection."""
    from kzru_rag.library import REBUILD_COMMAND

    options = [f"--index {args.index}"] if args.index else []
    options += [f"--documents {args.documents}"] if args.documents else []
    return " ".join([REBUILD_COMMAND, *options])
