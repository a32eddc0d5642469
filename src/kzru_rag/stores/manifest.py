"""The manifest: what an index was built from and how, stored as `manifest.json` in the index folder."""

from __future__ import annotations

import json
import os
from array import array
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import MISSING, asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, overload

import numpy as np

from kzru_rag.errors import IndexLoadError
from kzru_rag.ingest.documents import source_sha256
from kzru_rag.stores.layout import MANIFEST, REBUILD_HINT, default_index_path, first_line

FORMAT_VERSION = 1


@dataclass(frozen=True)
class SourceRecord:
    """A source document as it was when the index was built: `sha256` of its text, `file_sha256` of its file
    (empty in indexes built before files were checksummed)."""

    doc_id: str
    source: str
    sha256: str
    chars: int
    file_sha256: str = ""

    def changed(self) -> bool:
        """True when the source file changed or vanished since the build."""
        if self.file_sha256:
            return source_sha256(self.source) != self.file_sha256
        return source_sha256(self.source, of_text=True) != self.sha256


class SourceRecords(Sequence[SourceRecord]):
    """Source records held compactly, one per document (about 0.25 KiB each, a third of what they take as objects:
    an app serving a large corpus from Milvus holds nothing else per document): each text field in one UTF-8 buffer
    with the offsets where records end, `chars` in an array; a `SourceRecord` is made when one is read, and
    `position` finds a document by id through a sorted array of hashes."""

    TEXTS = ("doc_id", "source", "sha256", "file_sha256")

    def __init__(self, records: Iterable[SourceRecord | Mapping[str, Any]] = ()) -> None:
        self._texts = {name: bytearray() for name in self.TEXTS}
        self._ends = {name: array("q") for name in self.TEXTS}
        self._chars, self._hashes = array("q"), array("q")
        self._order: tuple[np.ndarray, np.ndarray] | None = None
        for record in records:
            self.add(record if isinstance(record, Mapping) else asdict(record))

    def add(self, record: Mapping[str, Any]) -> None:
        """Append a record given as its fields; TypeError when it lacks one `SourceRecord` needs or has another."""
        if not _REQUIRED <= record.keys() <= _FIELDS:
            raise TypeError(f"a document record with the fields {sorted(record)}")
        for name in self.TEXTS:
            self._texts[name] += str(record.get(name, "")).encode("utf-8")
            self._ends[name].append(len(self._texts[name]))
        self._chars.append(int(record["chars"]))
        self._hashes.append(hash(str(record["doc_id"])))
        self._order = None

    def __len__(self) -> int:
        return len(self._chars)

    @overload
    def __getitem__(self, i: int) -> SourceRecord: ...

    @overload
    def __getitem__(self, i: slice) -> list[SourceRecord]: ...

    def __getitem__(self, i: int | slice) -> SourceRecord | list[SourceRecord]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if not -len(self) <= i < len(self):
            raise IndexError(i)
        i %= len(self)
        doc_id, source, sha256, file_sha256 = (self._text(name, i) for name in self.TEXTS)
        return SourceRecord(doc_id, source, sha256, self._chars[i], file_sha256)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, (str, bytes)):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other))

    def __repr__(self) -> str:
        return f"SourceRecords({list(self)!r})"

    def _text(self, name: str, i: int) -> str:
        ends = self._ends[name]
        return self._texts[name][ends[i - 1] if i else 0 : ends[i]].decode("utf-8")

    def position(self, doc_id: str) -> int | None:
        """Where the record of `doc_id` is; None when there is none."""
        if self._order is None:
            hashes = np.frombuffer(self._hashes, dtype=np.int64).copy()
            order = np.argsort(hashes, kind="stable")
            self._order = (order, hashes[order])
        order, hashes = self._order
        target = hash(doc_id)
        first, last = (int(np.searchsorted(hashes, target, side=side)) for side in ("left", "right"))
        return next((int(i) for i in order[first:last] if self._text("doc_id", int(i)) == doc_id), None)

    def chars(self, i: int) -> int:
        """The characters of the `i`-th document."""
        return self._chars[i]


_FIELDS = {f.name for f in fields(SourceRecord)}
_REQUIRED = {f.name for f in fields(SourceRecord) if f.default is MISSING}


@dataclass(frozen=True)
class IndexManifest:
    """What an index was built from and how; stored as `manifest.json`."""

    model_id: str
    dim: int
    chunker: dict[str, Any]
    documents: Sequence[SourceRecord]
    """Held as `SourceRecords` (a list given is turned into one)."""
    chunk_count: int
    built_at: str
    retrieval: dict[str, Any] = field(default_factory=dict)
    vector_index: str = "flat"
    files: dict[str, str] = field(default_factory=dict)
    """sha256 of each data file, checked on load (empty in indexes built before checksums were recorded)."""
    store: str = "faiss"
    """Where the data lives: "faiss" (files beside the manifest) or a Milvus store spec (see `kzru_rag.stores`)."""
    collection: str = ""
    """With Milvus: the alias the index's collections are served under."""
    format_version: int = FORMAT_VERSION
    confidence: dict[str, Any] = field(default_factory=dict)
    """The calibrated answer-confidence model (`confidence.ConfidenceModel.to_dict`; empty: none), set by
    `kzru-rag calibrate --write` and kept by rebuilds with the same model."""

    def __post_init__(self) -> None:
        if not isinstance(self.documents, SourceRecords):
            object.__setattr__(self, "documents", SourceRecords(self.documents))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(replace(self, documents=[]))
        data["documents"] = [asdict(record) for record in self.documents]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "IndexManifest":
        """The manifest `data` holds; TypeError or KeyError when it is not one."""
        documents = data["documents"]
        return cls(
            **{**data, "documents": documents if isinstance(documents, SourceRecords) else SourceRecords(documents)}
        )

    def stale_sources(self) -> list[str]:
        """Sources whose file changed (or vanished) since the build."""
        return [record.source for record in self.documents if record.changed()]


def manifest_from_json(text: str) -> IndexManifest:
    """The manifest in the JSON `text`, its document records taken into `SourceRecords` as they are parsed (as dicts
    they would take ~1 KiB each for a while, which the process then keeps as free heap); TypeError, KeyError or
    JSONDecodeError when it is not one."""
    records, taken = SourceRecords(), object()

    def take(found: dict[str, Any]) -> Any:
        if "doc_id" in found and found.keys() <= _FIELDS:  # a document record: no other object has these fields
            records.add(found)
            return taken
        return found

    data = json.loads(text, object_hook=take)
    if any(record is not taken for record in data["documents"]) or len(data["documents"]) != len(records):
        raise TypeError("a document record with other fields")
    return IndexManifest.from_dict({**data, "documents": records})


def read_manifest(file: Path) -> IndexManifest:
    """The manifest in `file`; IndexLoadError naming the file and the fix when it is unreadable or of another format."""
    try:
        manifest = manifest_from_json(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, TypeError, KeyError) as exc:
        raise IndexLoadError(f"index file {file} is corrupt ({first_line(exc)}): {REBUILD_HINT}") from exc
    if manifest.format_version != FORMAT_VERSION:
        raise IndexLoadError(
            f"index at {file.parent} has format {manifest.format_version}, this kzru-rag reads {FORMAT_VERSION}: "
            f"{REBUILD_HINT}"
        )
    return manifest


def write_manifest(folder: Path, manifest: IndexManifest) -> None:
    """Write `manifest` into `folder` and make it durable."""
    (folder / MANIFEST).write_text(_text(manifest), encoding="utf-8")
    with open(folder / MANIFEST, "rb") as handle:
        os.fsync(handle.fileno())


def write_confidence(path: str | Path | None, confidence: dict[str, Any]) -> None:
    """Record a confidence model in the manifest of the index at `path`, replacing the file in one step."""
    path = Path(path) if path else default_index_path()
    manifest = replace(read_manifest(path / MANIFEST), confidence=confidence)
    staging = path / f".{MANIFEST}.new"
    staging.write_text(_text(manifest), encoding="utf-8")
    os.replace(staging, path / MANIFEST)


def _text(manifest: IndexManifest) -> str:
    return json.dumps(manifest.to_dict(), ensure_ascii=False, indent=2) + "\n"
