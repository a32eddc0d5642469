"""Question and dialogue sets: JSONL files of questions with gold strings, and conversations scored turn by turn."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from kzru_rag.errors import KzruRagError

T = TypeVar("T")


@dataclass(frozen=True)
class Question:
    """One evaluation question; `gold` lists exact substrings of a passage that answers it; `doc`, when given, the
    file name of the document that answers it (or, with no gold, the one it is about)."""

    id: str
    question: str
    lang: str
    gold: list[str]
    doc: str | None = None


def load_questions(path: str | Path) -> list[Question]:
    """Read a JSONL question file (`{"id","question","lang","gold"}` a line, optionally `"doc"`)."""
    return _read_jsonl(path, "question", "id, question, lang, gold (and doc)", _question)


def _question(record: dict[str, Any]) -> Question:
    if not isinstance(record, dict):
        raise TypeError(f"a question is a JSON object, not {type(record).__name__}")
    doc = record.get("doc")
    return Question(
        str(record["id"]),
        str(record["question"]),
        str(record.get("lang", "?")),
        list(record["gold"]),
        None if doc is None else str(doc),
    )


def document_name(source: str) -> str:
    """The file name a question set's `doc` gives for a document's `source` (a path, or `bundled:NAME`)."""
    return Path(source.removeprefix("bundled:")).name


def _read_jsonl(path: str | Path, kind: str, fields: str, parse: Callable[[dict[str, Any]], T]) -> list[T]:
    """Each non-blank line of a JSONL file of `kind` records, parsed; KzruRagError names the file, the line and
    the `fields` expected when one cannot be parsed, or when there are none."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise KzruRagError(f"cannot read {kind} file {path}: {exc}") from exc
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            records.append(parse(json.loads(line)))
        except (ValueError, KeyError, TypeError) as exc:
            raise KzruRagError(f"{path}:{number}: expected a JSON object with {fields} ({exc})") from exc
    if not records:
        raise KzruRagError(f"{path}: no {kind}s in the file")
    return records


@dataclass(frozen=True)
class Turn:
    """One turn of an evaluation dialogue; empty `gold`: the document does not answer it."""

    question: str
    gold: list[str]


@dataclass(frozen=True)
class Dialogue:
    id: str
    turns: list[Turn]


def load_dialogues(path: str | Path) -> list[Dialogue]:
    """Read a JSONL dialogue file (`{"id", "turns": [{"question", "gold"}]}` a line)."""
    return _read_jsonl(path, "dialogue", 'id and turns [{"question", "gold"}]', _dialogue)


def _dialogue(record: dict[str, Any]) -> Dialogue:
    turns = [Turn(str(turn["question"]), list(turn["gold"])) for turn in record["turns"]]
    if not turns:
        raise ValueError(f"dialogue {record.get('id')!r} has no turns")
    return Dialogue(str(record["id"]), turns)


def holds_dialogues(path: str | Path) -> bool:
    """True when the JSONL file's first record is a dialogue (it has `turns`), so a list of sets can mix both kinds;
    False when it is anything else (reading it as questions then gives the clear error)."""
    try:
        with Path(path).open(encoding="utf-8") as lines:
            first = next((line for line in lines if line.strip()), "")
        record = json.loads(first)
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(record, dict) and "turns" in record
