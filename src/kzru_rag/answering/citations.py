"""Citation markers in an LLM's streamed reply: checked against the passages, renumbered in order of first use, and
a reply that says nothing besides them recognised.
"""

from __future__ import annotations

import re

_MARKER = re.compile(r"(\s*)\[(\s*\d+(?:\s*[,;]\s*\d+)*\s*)\]")
_MARKER_PREFIX = re.compile(r"\s*(\[[\d\s,;]*)?$")
_MAX_MARKER_CHARS = 24
MIN_REPLY_WORDS = 2
"""An LLM reply with fewer words than this besides its markers says nothing («[1]», «Да.»); «В Астане [1]» is kept."""
_REPLY_WORD = re.compile(r"\w+")


class CitationChecker:
    """Filters streamed LLM text: checks [n] markers against the passages and renumbers them.

    A marker naming passages 1..`passages` is rewritten with numbers given in order of first
    use; numbers that name no passage are dropped (recorded in `dropped`). A possible marker
    cut between two pieces is held back until it is complete.
    """

    def __init__(self, passages: int) -> None:
        if passages < 0:
            raise ValueError("passages must be 0 or more")
        self.passages = passages
        self.cited: list[int] = []
        """Passage indexes (0-based) in the order they were first cited."""
        self.dropped: list[int] = []
        self.text = ""
        self._pending = ""

    def feed(self, piece: str) -> str:
        """The part of the text so far that can be shown; a trailing partial marker is held back."""
        self._pending += piece
        held = _MARKER_PREFIX.search(self._pending)
        cut = held.start() if held and len(self._pending) - held.start() <= _MAX_MARKER_CHARS else len(self._pending)
        ready, self._pending = self._pending[:cut], self._pending[cut:]
        return self._emit(ready)

    def finish(self) -> str:
        """Whatever was held back."""
        ready, self._pending = self._pending, ""
        return self._emit(ready)

    def _emit(self, text: str) -> str:
        checked = _MARKER.sub(self._renumber, text)
        self.text += checked
        return checked

    def _renumber(self, match: re.Match[str]) -> str:
        markers = []
        for number in (int(n) for n in re.findall(r"\d+", match.group(2))):
            if not 1 <= number <= self.passages:
                self.dropped.append(number)
                continue
            if number - 1 not in self.cited:
                self.cited.append(number - 1)
            marker = f"[{self.cited.index(number - 1) + 1}]"
            if marker not in markers:
                markers.append(marker)
        return match.group(1) + "".join(markers) if markers else ""


def says_nothing(reply: str) -> bool:
    """True when an LLM reply is empty, holds only citation markers («[1]») or has fewer than
    MIN_REPLY_WORDS words besides them: it is treated like a failed call."""
    return len(_REPLY_WORD.findall(_MARKER.sub(" ", reply))) < MIN_REPLY_WORDS
