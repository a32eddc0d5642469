"""Where a build is: the stage, the file being read, files and passages done, and the share of the work done, with
the time left estimated from it (`BuildProgress`), reported to a `Progress` callback as the build goes."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Literal

Stage = Literal["loading", "reading", "embedding", "writing", "done"]

READING_SHARE = 0.1
"""The part of a document's share of the work counted when it has been read (the rest as its texts are embedded)."""


@dataclass(frozen=True)
class BuildProgress:
    """One report of a build: `stage` ("loading": the model, before anything is read), the `file` being read or
    embedded (its name; "" between files), `files_done` of `files_total`, the `passages` chunked so far, the texts
    `embedded` so far (new ones; vectors the current index holds are reused, not counted), `elapsed` seconds and
    the `share` of the work done (0–1, by the files' sizes)."""

    stage: Stage
    file: str
    files_done: int
    files_total: int
    passages: int
    embedded: int
    elapsed: float
    share: float

    @property
    def eta(self) -> float | None:
        """Seconds left at the pace so far (None until a share of the work is done)."""
        if self.stage == "done":
            return 0.0
        if self.share <= 0.0 or self.elapsed <= 0.0:
            return None
        return self.elapsed * (1.0 - self.share) / self.share

    @property
    def rate(self) -> float:
        """Passages a second so far."""
        return self.passages / self.elapsed if self.elapsed > 0 else 0.0


Progress = Callable[[BuildProgress], None]


class Tracker:
    """Counts a build's work and reports it: each file weighs its size; reading it counts READING_SHARE of that,
    and its texts' embedding the rest, text by text."""

    def __init__(self, sizes: list[int], progress: Progress | None) -> None:
        self._progress = progress
        self._sizes = [max(size, 1) for size in sizes]
        self._total = float(sum(self._sizes))
        self._start = time.monotonic()
        self._done_weight = 0.0
        self.files_done = 0
        self.passages = 0
        self.embedded = 0
        self.file = ""
        self._todo = 0
        self._embedded_here = 0

    def reading(self, name: str) -> None:
        """A file is being read (or waited for)."""
        self.file = name
        self.report("reading")

    def read(self, name: str, passages: int, todo: int) -> None:
        """The current file is read: `passages` chunks, `todo` texts of it to embed."""
        self.file, self._todo, self._embedded_here = name, todo, 0
        self.passages += passages
        self.report("embedding")

    def embedded_texts(self, count: int) -> None:
        """`count` more texts of the current file are embedded."""
        self.embedded += count
        self._embedded_here += count
        self.report("embedding")

    def file_done(self) -> None:
        self._done_weight += self._sizes[self.files_done]
        self.files_done += 1
        self.file = ""

    def report(self, stage: Stage) -> BuildProgress:
        """Report where the build is now to the callback, and return it."""
        now = BuildProgress(
            stage,
            self.file,
            self.files_done,
            len(self._sizes),
            self.passages,
            self.embedded,
            time.monotonic() - self._start,
            1.0 if stage == "done" else min(self._share(stage), 0.999),
        )
        if self._progress:
            self._progress(now)
        return now

    def _share(self, stage: Stage) -> float:
        if self.files_done >= len(self._sizes) or stage == "writing":
            return self._done_weight / self._total
        size = self._sizes[self.files_done]
        within = 0.0
        if stage == "embedding":
            within = READING_SHARE + (1 - READING_SHARE) * (self._embedded_here / self._todo if self._todo else 1.0)
        return (self._done_weight + size * within) / self._total
