"""`kzru-rag mcp`: the MCP tools (`faces.mcp`: ask, search_passages, list_documents) over stdio, for a desktop agent
that starts the command itself."""

from __future__ import annotations

import argparse

from kzru_rag.faces.cli.common import documents_option, index_option
from kzru_rag.faces.replies import MAX_PASSAGES


def add_mcp_command(commands: argparse._SubParsersAction) -> None:
    command = commands.add_parser(
        "mcp", help="serve ask / search_passages / list_documents to an agent over stdio (MCP)"
    )
    index_option(command)
    documents_option(command)
    command.add_argument(
        "-k",
        type=int,
        default=5,
        help=f"passages per answer, 1 to {MAX_PASSAGES} (default 5; `ask` may ask for others)",
    )
    command.set_defaults(run=run_mcp)


def run_mcp(args: argparse.Namespace) -> int:
    from kzru_rag.faces.mcp import run_stdio

    run_stdio(args.index, args.documents, args.k)
    return 0
