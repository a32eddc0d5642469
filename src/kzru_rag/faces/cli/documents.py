"""`kzru-rag documents list|add|remove`: the documents folder beside the index, and rebuilding from it."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from kzru_rag.faces.cli.common import ProgressBar, index_option, json_option

if TYPE_CHECKING:
    from kzru_rag.library import Library


def add_documents_commands(commands: argparse._SubParsersAction) -> None:
    documents = commands.add_parser("documents", help="list, add or remove the indexed documents").add_subparsers(
        dest="action", required=True
    )
    listing = documents.add_parser("list", help="the indexed documents and the added ones waiting for a rebuild")
    json_option(listing)
    listing.set_defaults(run=run_list)
    add = documents.add_parser(
        "add", help="add .txt/.md/.pdf/.docx/.html files to the documents folder and rebuild the index"
    )
    add.add_argument("paths", nargs="+", metavar="PATH")
    remove = documents.add_parser("remove", help="remove added documents (by file or document name) and rebuild")
    remove.add_argument("names", nargs="+", metavar="NAME")
    for command in (add, remove):
        command.set_defaults(run=run_change)
    for command in (listing, add, remove):
        index_option(command)
        command.add_argument(
            "--documents", metavar="DIR", help="folder of added documents (default: documents/ beside the index folder)"
        )


def run_list(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from kzru_rag.index.load import load_index
    from kzru_rag.library import documents_folder, entries

    index = load_index(args.index)
    folder = documents_folder(index.path, args.documents)
    rows = entries(index, folder)
    if args.json:
        print(json.dumps([asdict(entry) for entry in rows], ensure_ascii=False, indent=2))
        return 0
    for entry in rows:
        size = "unreadable" if entry.chars is None else f"{entry.chars} chars"
        print(f"{entry.name} [{entry.state}] {entry.origin}, {size}: {entry.source}")
    print(f"added documents are kept in {folder}")
    return 0


def run_change(args: argparse.Namespace) -> int:
    """Add or remove each named document (a refused one is reported and the others go on), then rebuild."""
    from kzru_rag.errors import SourceError
    from kzru_rag.library import Library

    library = Library.open(args.index, documents_dir=args.documents)
    failed = False
    for item in args.paths if args.action == "add" else args.names:
        try:
            print(_add(library, item) if args.action == "add" else f"removed {library.remove(item)}")
        except SourceError as err:
            print(f"error: {err}", file=sys.stderr)
            failed = True
    bar = ProgressBar()
    try:
        manifest = library.rebuild(bar)
    finally:
        bar.close()
    print(f"indexed {manifest.chunk_count} chunks from {len(manifest.documents)} documents")
    return 2 if failed else 0


def _add(library: Library, path: str) -> str:
    """Add one file; the line that says so."""
    added = library.add(path)
    blank = f" (pages without text, left out: {', '.join(map(str, added.empty_pages))})" if added.empty_pages else ""
    scanned = sorted(set(added.scanned_pages) - set(added.empty_pages))
    read = f" (pages read by OCR: {', '.join(map(str, scanned))})" if scanned else ""
    return f"{'replaced' if added.replaced else 'added'} {added.path}{blank}{read}"
