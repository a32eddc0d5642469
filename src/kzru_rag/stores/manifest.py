"""The manifest: what an index was built from and how, stored as `manifest.json` in the index folder."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

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


@dataclass(frozen=True)
class IndexManifest:
    """What an index was built from and how; stored as `manifest.json`."""

    model_id: str
    dim: int
    chunker: dict[str, Any]
    documents: list[SourceRecord]
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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "IndexManifest":
        documents = [SourceRecord(**record) for record in data["documents"]]
        return cls(**{**data, "documents": documents})

    def stale_sources(self) -> list[str]:
        """Sources whose file changed (or vanished) since the build."""
        return [record.source for record in self.documents if record.changed()]


def read_manifest(file: Path) -> IndexManifest:
    """The manifest in `file`; IndexLoadError naming the file and the fix when it is unreadable or of another format."""
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
        manifest = IndexManifest.from_dict(data)
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
