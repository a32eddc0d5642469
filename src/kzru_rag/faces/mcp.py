"""kzru-rag as tools for agents (MCP): ask, search passages, list documents — a thin layer over a `Library`.

One server (`create_server`), two transports: the running app serves it over streamable HTTP at `/gradio_api/mcp/`
(mounted by `faces.mounts`, behind the app's password as a bearer key when one is set), and `kzru-rag mcp`
(`faces/cli/agents.py`) over stdio for desktop agents (`run_stdio`). Tools run in worker threads, at most
ANSWERS_AT_ONCE at a time, so the app keeps serving while one answers.
"""

from __future__ import annotations

import contextlib
import os
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Annotated, Any

import anyio
from mcp.server.fastmcp import FastMCP
from mcp.server.fastmcp.exceptions import ToolError
from pydantic import Field, ValidationError

from kzru_rag.faces.api import ANSWERS_AT_ONCE, what_is_wrong
from kzru_rag.faces.replies import MAX_PASSAGES, DocumentInfo, Passage, Reply, check_passages
from kzru_rag.library import Library

INSTRUCTIONS = (
    "Questions about the documents indexed by kzru-rag (Russian, Kazakh and English; by default an analysis of the "
    "Kazakhstan–Russia state visit of November 2025). `ask` gives a cited answer: every claim carries a marker [n] "
    "that is citations[n-1]; trust it only when status is 'answered' (see confidence). `search_passages` gives the "
    "passages that best match a query; `list_documents` the documents."
)

Count = Annotated[int, Field(ge=1, le=MAX_PASSAGES, description="how many passages to retrieve")]
Within = Annotated[
    list[str] | None,
    Field(description="answer from these documents alone (names as list_documents gives them); omit for all"),
]


class _Server(FastMCP):
    """FastMCP that names itself with kzru-rag's version (not the MCP SDK's) and whose tools refuse invalid
    arguments in one line naming each wrong one (not pydantic's report)."""

    def __init__(self, *args: Any, **options: Any) -> None:
        super().__init__(*args, **options)
        self._mcp_server.version = version("kzru-rag")  # FastMCP takes no version: its low-level server does

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> Any:
        try:
            return await super().call_tool(name, arguments)
        except ToolError as err:
            if not isinstance(err.__cause__, ValidationError):
                raise
            wrong = "; ".join(what_is_wrong(problem) for problem in err.__cause__.errors())
            raise ToolError(f"Error executing tool {name}: invalid arguments: {wrong}") from err.__cause__


def create_server(library: Library, host: str = "127.0.0.1") -> FastMCP:
    """The MCP server over `library` (`host`: where the app listens, for the transport's host checks)."""
    server = _Server("kzru-rag", instructions=INSTRUCTIONS, host=host, streamable_http_path="/")
    slots = anyio.CapacityLimiter(ANSWERS_AT_ONCE)

    @server.tool()
    async def ask(
        question: Annotated[str, Field(description="the question, in Russian, Kazakh or English")],
        k: Count = library.k,
        history: Annotated[
            list[dict[str, str]] | None,
            Field(description="earlier turns, oldest first: [{'role': 'user'|'assistant', 'content': str}]"),
        ] = None,
        documents: Within = None,
    ) -> Reply:
        """Answer a question from the documents, with citations.

        Returns the answer text with [n] markers (marker n is citations[n-1]: document, title, paragraph, page,
        character offsets, text), status ('answered'; 'uncertain': the passages are leads, not a sure answer;
        'abstained': the documents hold no answer) and a calibrated confidence (0-1, or null). With `documents`,
        only those documents are searched.
        """
        answer = await anyio.to_thread.run_sync(
            lambda: library.assistant.ask(question, history or [], k=k, documents=documents or None), limiter=slots
        )
        return Reply.of(answer)

    @server.tool()
    async def search_passages(
        query: Annotated[str, Field(description="what to look for, in Russian, Kazakh or English")],
        k: Count = 5,
        documents: Within = None,
    ) -> list[Passage]:
        """The passages of the documents that best match a query, best first, each with its document, title,
        paragraph, page, character offsets, text and score (no answer is composed); with `documents`, from those
        documents alone."""
        hits = await anyio.to_thread.run_sync(
            lambda: library.retriever.search(query, k=k, documents=documents or None), limiter=slots
        )
        return [Passage.of(hit) for hit in hits]

    @server.tool()
    async def list_documents() -> list[DocumentInfo]:
        """The documents of the collection: name, title, state ('indexed' ones are searchable), characters, pages."""
        return await anyio.to_thread.run_sync(lambda: documents(library))

    return server


def documents(library: Library) -> list[DocumentInfo]:
    """The collection's documents, indexed ones first (`Library.entries`), with their titles and page counts."""
    indexed = library.retriever.index.documents
    return [DocumentInfo.of(entry, indexed) for entry in library.entries()]


def run_stdio(index: str | Path | None = None, documents_dir: str | Path | None = None, k: int = 5) -> None:
    """Serve the tools over stdio (`kzru-rag mcp`): load the index and the model, then answer on stdin/stdout.

    While loading, anything printed goes to stderr, so stdout carries only the protocol."""
    from kzru_rag.answering.llm import llm_from_config

    check_passages(k)
    with contextlib.redirect_stdout(sys.stderr):
        library = Library.open(index, llm=llm_from_config(), k=k, documents_dir=documents_dir)
    create_server(library).run("stdio")
    _reopen_stdout()


def _reopen_stdout() -> None:
    """A stdout to end on: the transport closed the one it wrote to (the agent went away), so the exit flush would
    fail; the new one writes nowhere, and, not owning the descriptor, leaves nothing to close."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)
    sys.stdout = open(1, "w", encoding="utf-8", closefd=False)
