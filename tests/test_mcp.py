"""The MCP server (`faces/mcp.py`) spoken to by the real `mcp` Python client: over streamable HTTP on the running app
(at /gradio_api/mcp/, behind its password) and over stdio (`kzru-rag mcp`, started as a desktop agent starts it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

from app_server import copy_index, serve_two_documents
from kzru_rag.answering.assistant import Assistant
from kzru_rag.index.load import load_index
from kzru_rag.retrieval.retriever import Retriever

PASSWORD = "kzru-mcp-secret-3"
QUESTION = "Где проходит XXI форум межрегионального сотрудничества?"
TOOLS = {"ask", "search_passages", "list_documents"}

pytestmark = pytest.mark.slow

Action = Callable[[ClientSession], Awaitable[Any]]


@pytest.fixture(scope="module")
def app(tmp_path_factory, embedder):
    with serve_two_documents(tmp_path_factory.mktemp("mcp"), embedder, ("admin", PASSWORD)) as (url, library):
        yield url.rstrip("/"), library


def over_http(url: str, action: Action, key: str = PASSWORD) -> Any:
    async def run() -> Any:
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(headers=headers, timeout=httpx.Timeout(120)) as http:
            async with streamable_http_client(f"{url}/gradio_api/mcp/", http_client=http) as (read, write, _):
                async with ClientSession(read, write) as session:
                    await session.initialize()
                    return await action(session)

    return anyio.run(run)


def over_stdio(index: Path, action: Action) -> Any:
    async def run() -> Any:
        command = StdioServerParameters(
            command=str(Path(sys.executable).parent / "kzru-rag"),
            args=["mcp", "--index", str(index)],
            env=dict(os.environ),
        )
        async with stdio_client(command) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                return await action(session)

    return anyio.run(run)


async def tools_and_answer(session: ClientSession) -> tuple[Any, Any]:
    return await session.list_tools(), await session.call_tool("ask", {"question": QUESTION})


def check_tools(listed: Any) -> None:
    tools = {tool.name: tool for tool in listed.tools}
    assert set(tools) == TOOLS
    for tool in tools.values():
        assert len(tool.description) > 40, tool.name
    assert tools["ask"].inputSchema["required"] == ["question"]
    assert {"question", "k", "history"} <= set(tools["ask"].inputSchema["properties"])
    assert "description" in tools["ask"].inputSchema["properties"]["question"]
    assert "status" in tools["ask"].outputSchema["properties"]
    for name in ("ask", "search_passages"):
        assert "description" in tools[name].inputSchema["properties"]["documents"], name


def check_answer(result: Any, expected_text: str) -> dict[str, Any]:
    assert not result.isError, result.content
    reply = result.structuredContent
    assert reply == json.loads(result.content[0].text), (
        "the text content is the same JSON, for agents without structure"
    )
    assert reply["text"] == expected_text and "[1]" in reply["text"] and "Уральск" in reply["text"]
    assert reply["status"] == "answered" and 0 < reply["confidence"] <= 1
    first = reply["citations"][0]
    assert {"document", "title", "paragraph", "page", "start", "end", "text"} <= set(first)
    return reply


def test_the_app_serves_the_tools_over_http_with_a_cited_answer(app) -> None:
    url, library = app

    listed, answer = over_http(url, tools_and_answer)

    check_tools(listed)
    check_answer(answer, library.assistant.ask(QUESTION).text)


def test_search_and_the_document_list_over_http(app) -> None:
    url, library = app

    async def both(session: ClientSession) -> tuple[Any, Any]:
        found = await session.call_tool("search_passages", {"query": QUESTION, "k": 3})
        return found, await session.call_tool("list_documents", {})

    found, listed = over_http(url, both)

    passages = found.structuredContent["result"]
    assert [p["start"] for p in passages] == [hit.start for hit in library.retriever.search(QUESTION, k=3)]
    documents = listed.structuredContent["result"]
    assert [d["name"] for d in documents] == list(library.retriever.index.documents)
    assert documents[0]["state"] == "indexed" and documents[0]["chars"] > 1000


def test_ask_and_search_keep_to_the_chosen_documents(app) -> None:
    url, library = app
    within = {"documents": ["note"]}

    async def both(session: ClientSession) -> tuple[Any, Any, Any]:
        answer = await session.call_tool("ask", {"question": QUESTION, **within})
        found = await session.call_tool("search_passages", {"query": QUESTION, "k": 3, **within})
        return answer, found, await session.call_tool("ask", {"question": QUESTION, "documents": ["nowhere"]})

    answer, found, unknown = over_http(url, both)

    reply = answer.structuredContent
    assert reply["text"] == library.assistant.ask(QUESTION, documents=["note"]).text
    assert reply["citations"] and {c["document"] for c in reply["citations"]} == {"note"}
    passages = found.structuredContent["result"]
    assert passages and {p["document"] for p in passages} == {"note"}
    assert unknown.isError and "nowhere" in unknown.content[0].text


def test_a_bad_argument_is_a_tool_error_the_agent_can_read(app) -> None:
    url, _ = app

    result = over_http(url, lambda session: session.call_tool("search_passages", {"query": QUESTION, "k": 50}))

    assert result.isError and "50" in result.content[0].text


def test_invalid_arguments_are_one_line_naming_each_wrong_argument(app) -> None:
    """A tool called with wrong arguments says which and why in one line (it gave pydantic's report: several lines
    and a link to pydantic's site)."""
    url, _ = app

    async def calls(session: ClientSession) -> list[Any]:
        return [
            await session.call_tool("ask", {"question": QUESTION, "k": 0}),
            await session.call_tool("ask", {}),
            await session.call_tool("search_passages", {"query": 5, "k": 50}),
        ]

    results = over_http(url, calls)

    assert all(result.isError for result in results)
    small, missing, both = (result.content[0].text for result in results)
    for text in (small, missing, both):
        assert "\n" not in text and "pydantic" not in text, text
    assert small == "Error executing tool ask: invalid arguments: k: Input should be greater than or equal to 1 (got 0)"
    assert missing == "Error executing tool ask: invalid arguments: question: Field required"
    assert (
        both.startswith("Error executing tool search_passages: invalid arguments: query: ")
        and "; k: " in both
        and "(got 50)" in both
    )


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong-key"}])
def test_without_the_password_mcp_answers_401_and_nothing_else(app, headers: dict[str, str]) -> None:
    url, _ = app
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18"}}

    response = httpx.post(
        f"{url}/gradio_api/mcp/",
        json=initialize,
        headers={"Accept": "application/json, text/event-stream", **headers},
        timeout=30,
    )

    assert response.status_code == 401 and set(response.json()) == {"error"}
    with pytest.raises(Exception):
        over_http(url, lambda session: session.list_tools(), key="wrong-key")


def test_kzru_rag_mcp_serves_the_tools_over_stdio(tmp_path: Path, embedder) -> None:
    index = copy_index(tmp_path)

    listed, answer = over_stdio(index, tools_and_answer)

    check_tools(listed)
    check_answer(answer, Assistant(Retriever(load_index(index), embedder)).ask(QUESTION).text)


def test_kzru_rag_mcp_ends_quietly_when_the_agent_closes_its_input(tmp_path: Path) -> None:
    """An agent that is done closes the server's stdin: the server answers what it was asked and exits with 0,
    writing no error (it printed «error: I/O operation on closed file.» and exited with 2). The server names itself
    with kzru-rag's version (it gave the MCP SDK's)."""
    initialize = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2024-11-05", "capabilities": {}, "clientInfo": {"name": "test", "version": "1"}},
    }
    done = subprocess.run(
        [str(Path(sys.executable).parent / "kzru-rag"), "mcp", "--index", str(copy_index(tmp_path))],
        input=json.dumps(initialize) + "\n",
        capture_output=True,
        text=True,
        timeout=120,
    )

    server = json.loads(done.stdout.splitlines()[0])["result"]["serverInfo"]
    assert (server["name"], server["version"]) == ("kzru-rag", version("kzru-rag"))
    assert (done.returncode, done.stderr.strip()) == (0, "")


@pytest.mark.parametrize("k", ["0", "11"])
def test_kzru_rag_mcp_refuses_a_k_its_tools_would_refuse(tmp_path: Path, k: str) -> None:
    """`kzru-rag mcp -k 50` served `ask` with a default of 50 passages beside a schema whose maximum is 10."""
    done = subprocess.run(
        [str(Path(sys.executable).parent / "kzru-rag"), "mcp", "--index", str(copy_index(tmp_path)), "-k", k],
        input="",
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == "error: k (passages per answer) must be between 1 and 10\n"
