"""`kzru-rag documents list|add|remove`: the documents folder beside the index, and rebuilding from it."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kzru_rag.faces.cli.common import (
    ProgressBar,
    documents_option,
    engine_option,
    index_option,
    json_option,
)

if TYPE_CHECKING:
    from kzru_rag.library import Checked, Library


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
    add.add_argument("paths", nargs="+", metavar="PATH", help="a file, or a folder (every supported file inside)")
    remove = documents.add_parser("remove", help="remove added documents (by file or document name) and rebuild")
    remove.add_argument("names", nargs="+", metavar="NAME")
    for command in (add, remove):
        command.set_defaults(run=run_change)
        engine_option(command)
    for command in (listing, add, remove):
        index_option(command)
        documents_option(command)


def run_list(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from kzru_rag.faces.replies import FullDocumentInfo
    from kzru_rag.index.load import load_index
    from kzru_rag.library import documents_folder, entries

    index = load_index(args.index)
    folder = documents_folder(index.path, args.documents)
    rows = entries(index, folder)
    if args.json:
        listed = [asdict(FullDocumentInfo.of(entry, index.documents)) for entry in rows]
        print(json.dumps(listed, ensure_ascii=False, indent=2))
        return 0
    for entry in rows:
        size = "unreadable" if entry.chars is None else f"{entry.chars} chars"
        print(f"{entry.name} [{entry.state}] {entry.origin}, {size}: {entry.source}")
    print(f"added documents are kept in {folder}")
    return 0


def run_change(args: argparse.Namespace) -> int:
    """Add or remove the named documents, then rebuild the index from the whole collection. Everything is checked
    first: one refusal (a missing, unreadable or unsupported file, an unknown name) changes nothing."""
    from kzru_rag.errors import SourceError
    from kzru_rag.library import Library

    adding = args.action == "add"
    verb = "added" if adding else "removed"
    try:
        files = [file for path in args.paths for file in _files(path)] if adding else []
        library = Library.open(args.index, documents_dir=args.documents)
        planned: list[Any] = _checked(library, files) if adding else _found(library, args.names)
    except SourceError as err:
        raise SourceError(f"{err}; nothing was {verb}", err.reason) from err
    for item in planned:
        print(_kept(library, item) if adding else f"removed {library.remove(item.name)}")
    if not (changes := library.changes()):
        print("the index already holds every document as it is; nothing to rebuild")
        return 0
    print(f"{changes.summary()}: rebuilding the index")
    return _rebuild(library, args.engine)


def _files(path: str) -> list[Path]:
    """The files to add for `path`; a folder's files of other types are named as left out (they were skipped
    without a word)."""
    from kzru_rag.library import files_in

    files = files_in(path)
    folder = Path(path)
    if folder.is_dir():
        others = [
            other.relative_to(folder)
            for other in sorted(folder.rglob("*"))
            if other.is_file()
            and other not in files
            and not any(part.startswith(".") for part in other.relative_to(folder).parts)
        ]
        if others:
            names = ", ".join(map(str, others))
            print(f"left out of {folder}: {names} (not .txt/.md/.pdf/.docx/.html or a picture of a page)")
    return files


def _checked(library: Library, files: list[Path]) -> list[Checked]:
    """Every file checked for the folder (SourceError at the first refusal, nothing kept)."""
    from kzru_rag.errors import SourceError

    checked = [library.check(file) for file in files]
    names = [item.name for item in checked]
    if twice := sorted({name for name in names if names.count(name) > 1}):
        raise SourceError(f"{', '.join(twice)}: given more than once (files of the same name)", "name_taken")
    return checked


def _found(library: Library, names: list[str]) -> list[Path]:
    """The added documents called `names` (SourceError for the first unknown or ambiguous one)."""
    return list(dict.fromkeys(library.find(name) for name in names))


def _kept(library: Library, checked: Checked) -> str:
    """Keep one checked file in the folder; the line that says so (and names the added files it is a copy of)."""
    from kzru_rag.ingest.copies import copies_of

    added = library.keep(checked)
    blank = f" (pages without text, left out: {', '.join(map(str, added.empty_pages))})" if added.empty_pages else ""
    scanned = sorted(set(added.scanned_pages) - set(added.empty_pages))
    read = f" (pages read by OCR: {', '.join(map(str, scanned))})" if scanned else ""
    state = "unchanged" if added.unchanged else "replaced" if added.replaced else "added"
    copies = ", ".join(copy.name for copy in copies_of(added.path, library.uploads()))
    twin = f" (the same file as {copies}: remove one with `kzru-rag documents remove NAME`)" if copies else ""
    return f"{state} {added.path}{blank}{read}{twin}"


def _rebuild(library: Library, engine: str | None) -> int:
    bar = ProgressBar()
    try:
        manifest = library.rebuild(bar, engine=engine)
    finally:
        bar.close()
    print(f"indexed {manifest.chunk_count} chunks from {len(manifest.documents)} documents")
    print(bar.summary())
    return 0
