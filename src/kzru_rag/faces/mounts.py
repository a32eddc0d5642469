"""What the app serves beside its Gradio interface, on the same port: the OpenAI-compatible API at `/v1` (`api`)
and the MCP server at `/gradio_api/mcp/` (`mcp`), both behind the app's password as a bearer key when one is set.

`beside_the_ui` is a lifespan for Gradio's `launch(app_kwargs={"lifespan": ...})`: it mounts both when the server
starts and runs the MCP sessions while it serves.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI

from kzru_rag.faces.api import create_api, require_key
from kzru_rag.faces.mcp import create_server
from kzru_rag.library import Library

API_PATH = "/v1"
MCP_PATH = "/gradio_api/mcp"


def beside_the_ui(
    library: Library, password: str | None = None, host: str = "127.0.0.1"
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """The lifespan that mounts the API and the MCP server over `library` on the app Gradio creates."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        server = create_server(library, host)
        app.mount(API_PATH, create_api(library, password))
        app.mount(MCP_PATH, require_key(server.streamable_http_app(), password))
        async with server.session_manager.run():
            yield

    return lifespan
