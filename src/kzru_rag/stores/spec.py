"""Where an index lives, as the user names it: `faiss` (files in the index folder, the default), `milvus:PATH.db`
(Milvus Lite, one local file) or `milvus://HOST:19530` / `https://…` (a Milvus server, token from
`$KZRU_RAG_MILVUS_TOKEN`); `$KZRU_RAG_STORE` sets the default.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

STORE_ENV = "KZRU_RAG_STORE"


TOKEN_ENV = "KZRU_RAG_MILVUS_TOKEN"


STORE_HELP = (
    "faiss, milvus:PATH.db (Milvus Lite), milvus://HOST:19530 or https://… (a Milvus server; token from "
    "$KZRU_RAG_MILVUS_TOKEN)"
)


@dataclass(frozen=True)
class StoreSpec:
    """A parsed store spec: `kind`, and for Milvus the `uri` MilvusClient connects to (a Lite file or a server URL)."""

    kind: Literal["faiss", "milvus"]
    uri: str = ""

    @property
    def lite(self) -> bool:
        """True for Milvus Lite (a local file), False for a server."""
        return self.kind == "milvus" and not self.uri.startswith(("http://", "https://"))

    def __str__(self) -> str:
        if self.kind == "faiss":
            return "faiss"
        return f"milvus:{self.uri}" if self.lite else self.uri


def parse_store(text: str) -> StoreSpec:
    """The StoreSpec of `text`; ValueError saying what is accepted for anything else."""
    text = text.strip()
    if text == "faiss":
        return StoreSpec("faiss")
    if text.startswith("milvus://"):
        return StoreSpec("milvus", "http://" + text.removeprefix("milvus://"))
    if text.startswith(("http://", "https://")):
        return StoreSpec("milvus", text)
    if text.startswith("milvus:") and text.removeprefix("milvus:"):
        return StoreSpec("milvus", str(Path(text.removeprefix("milvus:")).expanduser().resolve()))
    raise ValueError(f"unknown store {text!r}: use {STORE_HELP}")


def default_store() -> StoreSpec | None:
    """The store `$KZRU_RAG_STORE` names, None when it is not set."""
    text = os.environ.get(STORE_ENV, "").strip()
    return parse_store(text) if text else None
