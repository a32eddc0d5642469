"""How an index lies in Milvus: collections named by generation, an alias naming the one served, rows by id.

One build is one *generation*: five collections (`PARTS`) named `{name}_g{time}_{part}`, whose rows have ids
0, 1, 2…. The alias `{name}` points at the serving generation's `records`.
"""

from __future__ import annotations

import base64
import itertools
import re
from pathlib import Path
from typing import Any

import numpy as np
from pymilvus import MilvusClient

PARTS = ("records", "chunks", "sentences", "terms", "words")
BATCH = 1_000
"""Rows a call inserts or reads at the most."""
UNIT_FIELDS = ("packed", "start", "end", "chunk", "canonical", "previous", "following", "terms", "text")
"""The fields of a sentence unit a question reads: in `sentences`, and with each passage in `chunks`."""


def collection_name(folder: Path) -> str:
    """The alias an index folder's collections are known by: `kzru_` and the folder's name, in Milvus's alphabet."""
    return "kzru_" + re.sub(r"[^A-Za-z0-9_]", "_", folder.name)


def serving_generation(client: MilvusClient, name: str, timeout: float | None = None) -> str | None:
    """The generation (collection prefix) the alias `name` serves; None when there is none."""
    if name not in client.list_aliases(timeout=timeout).get("aliases", []):
        return None
    return client.describe_alias(name, timeout=timeout)["collection_name"].removesuffix("_records")


def paged_rows(
    client: MilvusClient, collection: str, fields: list[str], first: int = 0, count: int | None = None
) -> list[dict[str, Any]]:
    """Rows first..first+count-1 (default: to the end) of `collection`, whose ids run 0, 1, 2…: `id` and `fields`.

    Read page by page by id range (Milvus Lite lacks what `query_iterator` needs).
    """
    end = first + count if count is not None else None
    rows: list[dict[str, Any]] = []
    for start in itertools.count(first, BATCH):
        stop = start + BATCH if end is None else min(start + BATCH, end)
        if stop <= start:
            break
        page = client.query(
            collection, filter=f"id >= {start} and id < {stop}", output_fields=["id", *fields], limit=BATCH
        )
        rows.extend(page)
        if end is None and len(page) < BATCH:
            break
    return sorted(rows, key=lambda row: row["id"])


def stacked(rows: list[dict[str, Any]], first: int, count: int, dim: int) -> np.ndarray:
    """The vectors (`vector`, or `packed`) of rows with ids first..first+count-1 as one (count, dim) array."""
    out = np.zeros((count, dim), dtype=np.float32)
    for row in rows:
        out[int(row["id"]) - first] = unpack(row["packed"]) if "packed" in row else row["vector"]
    return out


def pack(vector: np.ndarray) -> str:
    """A vector as a Milvus VARCHAR: its float32 bytes in base64. Sentence vectors are kept so: they are read by
    id, never searched, and Milvus 2.3 returns a text field several times faster than a vector field (600 rows:
    about 20 ms against 160 ms more than the other fields alone, here)."""
    return base64.b64encode(np.asarray(vector, dtype=np.float32).tobytes()).decode("ascii")


def unpack(text: str) -> np.ndarray:
    """The float32 vector `pack` made."""
    return np.frombuffer(base64.b64decode(text), dtype=np.float32)
