"""A streaming answer that looks up often, even while its LLM is silent.

The chat's handler reads the answer piece by piece; while the LLM is silent (a slow first token, a stalled server) it
would wait inside the LLM's stream and could notice neither «Остановить» (`asking.ChatAnswers.stop`) nor be closed by
Gradio. `paced` reads the answer in a thread of its own and hands its pieces on, with a `None` whenever nothing came
for a moment; once the handler is done with it, the reading thread closes the answer at its next piece.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")

PAUSE_SECONDS = 0.2
"""How long the handler waits for a piece before it gets a `None` (and can look whether to stop)."""

_END = object()


def paced(items: Iterator[T], pause: float = PAUSE_SECONDS) -> Iterator[T | None]:
    """`items`, read in a thread of their own, with a `None` after every `pause` seconds without a piece; an error
    of `items` is raised here. Closing this generator makes the thread close `items` at their next piece."""
    pieces: queue.Queue[object] = queue.Queue()
    closed = threading.Event()

    def read() -> None:
        try:
            for item in items:
                if closed.is_set():
                    break
                pieces.put(item)
        except BaseException as err:  # handed to the reader, who raises it
            pieces.put(_Failure(err))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()
            pieces.put(_END)

    threading.Thread(target=read, name="kzru-rag-answer", daemon=True).start()
    try:
        while True:
            try:
                item = pieces.get(timeout=pause)
            except queue.Empty:
                yield None
                continue
            if item is _END:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item  # type: ignore[misc]
    finally:
        closed.set()


class _Failure:
    """An error raised by the items, carried to the reader."""

    def __init__(self, error: BaseException) -> None:
        self.error = error
