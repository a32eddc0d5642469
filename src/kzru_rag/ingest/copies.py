"""Copies among the added documents: a file added again under another name is a second document of the same text,
so its passages come twice and the collection lists its title twice; adding one says so."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path


def copies_of(path: Path, others: Iterable[Path]) -> list[Path]:
    """The files among `others` (`path` itself aside) whose bytes are the same as `path`'s."""
    size = path.stat().st_size
    digest = _digest(path)
    return [
        other
        for other in others
        if other.resolve() != path.resolve() and other.stat().st_size == size and _digest(other) == digest
    ]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
