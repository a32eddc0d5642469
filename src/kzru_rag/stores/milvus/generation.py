"""One generation of an index in Milvus as a loaded index queries it: rows by filter or id, counts, records,
abbreviation checks, and whether a newer generation serves."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import grpc
from pymilvus import MilvusClient, MilvusException

from kzru_rag.errors import IndexLoadError
from kzru_rag.language.entities import spells
from kzru_rag.stores.milvus.client import guarded
from kzru_rag.stores.milvus.layout import BATCH, PARTS, paged_rows, serving_generation
from kzru_rag.stores.spec import StoreSpec

NOT_LOADED = 101
"""Milvus's error code for a collection that is not loaded (as after a server restart)."""
RELOAD_TIMEOUT = 60.0
SUPERSEDED_TIMEOUT = 2.0
"""Seconds the check for a newer generation waits for Milvus (it runs before questions)."""
RECORD_PIECES = 16_384
"""Pieces a query for records returns at most (Milvus's limit): 260 MB of JSON."""
SPELLING_CANDIDATES = 1_000
"""Sentence units read to check an abbreviation against (those whose initials could spell it)."""


class MilvusIndex:
    """One generation of an index in Milvus, as a loaded index reads it.

    A generation is written whole, sealed and flushed before its alias serves it, and never written again; `read`
    counts its rows (at the collections' Strong level) before serving it. So a question's reads use `consistency`
    instead: Strong would make the server wait on every one of them until it has applied everything written to any
    collection before the read (its time tick, a few hundred ms here), for rows that cannot have changed."""

    consistency = "Bounded"

    def __init__(self, client: MilvusClient, spec: StoreSpec, name: str, generation: str) -> None:
        self.client, self.spec, self.name, self.generation = client, spec, name, generation

    @contextmanager
    def calls(self) -> Iterator[None]:
        """A context turning Milvus failures into IndexLoadError naming the URI and the fix. A restarted server
        serves a collection only once it is loaded again: such a failure asks it to load them, for the next call."""
        try:
            with guarded(self.spec):
                yield
        except IndexLoadError as err:
            if isinstance(err.__cause__, MilvusException) and err.__cause__.code == NOT_LOADED:
                self._reload()
            raise

    def _reload(self) -> None:
        for part in PARTS:
            try:
                self.client.load_collection(self.collection(part), timeout=RELOAD_TIMEOUT)
            except (MilvusException, grpc.RpcError):
                return

    def collection(self, part: str) -> str:
        return f"{self.generation}_{part}"

    def query(self, part: str, expression: str, fields: list[str], limit: int | None = None) -> list[dict[str, Any]]:
        """Rows of `part` matching the filter `expression`: `id` and `fields`."""
        with self.calls():
            extra = {"limit": limit} if limit is not None else {}
            return self.client.query(
                self.collection(part),
                filter=expression,
                output_fields=["id", *fields],
                consistency_level=self.consistency,
                **extra,
            )

    def by_id(self, part: str, ids: list[int], fields: list[str]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for first in range(0, len(ids), BATCH):
            with self.calls():
                rows += self.client.query(
                    self.collection(part),
                    ids=ids[first : first + BATCH],
                    output_fields=["id", *fields],
                    consistency_level=self.consistency,
                )
        return rows

    def search(
        self, part: str, vectors: list[list[float]], limit: int, params: dict[str, Any], fields: list[str]
    ) -> list[list[dict[str, Any]]]:
        """The `limit` rows of `part` nearest each of `vectors`, best first: `id`, `distance`, `entity` (`fields`)."""
        with self.calls():
            return self.client.search(
                self.collection(part),
                vectors,
                limit=limit,
                output_fields=fields,
                search_params=params,
                consistency_level=self.consistency,
            )

    def rows(self, part: str, fields: list[str]) -> list[dict[str, Any]]:
        """Every row of `part`, in id order."""
        with self.calls():
            return paged_rows(self.client, self.collection(part), fields)

    def count(self, part: str) -> int:
        """Rows in `part`, at the collection's own (Strong) level: the check that a generation is there whole."""
        with self.calls():
            return int(self.client.query(self.collection(part), filter="", output_fields=["count(*)"])[0]["count(*)"])

    def record(self, kind: str, item: int, parse: Callable[[str], Any] = json.loads) -> Any:
        """The JSON record (`manifest` 0, `document` i) from its pieces, as `parse` reads it."""
        return self.records(kind, [item], parse)[item]

    def records(self, kind: str, items: list[int], parse: Callable[[str], Any] = json.loads) -> dict[int, Any]:
        """The JSON records of `kind` numbered `items`, read in one query (a few for many pieces), as `parse` reads
        them; IndexLoadError when one is missing."""
        pieces: dict[int, list[dict[str, Any]]] = {int(item): [] for item in items}
        for row in self.query(
            "records",
            f"kind == {json.dumps(kind)} and item in {sorted(pieces)}",
            ["item", "text"],
            limit=RECORD_PIECES,
        ):
            pieces[int(row["item"])].append(row)
        if missing := [item for item, found in pieces.items() if not found]:
            raise IndexLoadError(
                f"the index {self.name} in Milvus at {self.spec.uri} lacks its {kind} {missing[0]}: rebuild it"
            )
        return {
            item: parse("".join(row["text"] for row in sorted(found, key=lambda row: row["id"])))
            for item, found in pieces.items()
        }

    def spells(self, abbreviation: str) -> bool:
        """True when consecutive words of a sentence spell `abbreviation` (`entities.spells`): checked on the
        sentences whose words' initials hold its first letter followed by one of its others."""
        letters = abbreviation.lower()
        pairs = sorted({letters[0] + other for other in letters[1:]} or {letters[0]})
        expression = f"array_contains_any(initials, {quoted(pairs)})"
        rows = self.query("sentences", expression, ["words"], limit=SPELLING_CANDIDATES)
        return any(spells(abbreviation, row["words"].split()) for row in rows)

    def superseded(self) -> bool:
        """True when another generation of the index serves now; False when it does not or Milvus cannot tell."""
        try:
            with self.calls():
                return serving_generation(self.client, self.name, SUPERSEDED_TIMEOUT) not in (None, self.generation)
        except IndexLoadError:
            return False

    def changed(self) -> list[str]:
        """What differs from the Milvus index this was read from: a newer generation serves, or Milvus is
        unreachable."""
        try:
            with self.calls():
                serving = serving_generation(self.client, self.name)
        except IndexLoadError as err:
            return [str(err)]
        return [] if serving == self.generation else [f"Milvus index {self.name} at {self.spec.uri} (rebuilt since)"]


def like(text: str) -> str:
    """`text` as a literal inside a Milvus `like` pattern in double quotes."""
    return re.sub(r'([\\%_"])', r"\\\1", text)


def quoted(words: list[str]) -> str:
    """A Milvus list literal of strings."""
    return "[" + ", ".join(json.dumps(word, ensure_ascii=False) for word in words) + "]"
