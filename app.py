"""Start the kzru-rag web app: `python app.py [--host 127.0.0.1] [--port 7860] [--index DIR]`.

The LLM is configured by KZRU_RAG_LLM_BASE_URL / KZRU_RAG_LLM_MODEL / KZRU_RAG_LLM_API_KEY
(none: extractive answers). KZRU_RAG_AUTH=user:password asks for a login (and the password as the bearer
key of the OpenAI-compatible API at /v1 and the MCP server at /gradio_api/mcp/, served on the same port).
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import sys

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from kzru_rag.errors import KzruRagError  # noqa: E402

log = logging.getLogger("kzru_rag.app")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="kzru-rag: the browser app for questions about the document.")
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)"
    )
    parser.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    parser.add_argument(
        "--index", metavar="DIR", help="index folder (default: $KZRU_RAG_INDEX or the project's index/)"
    )
    parser.add_argument(
        "--documents", metavar="DIR", help="folder for uploaded documents (default: documents/ next to the index)"
    )
    parser.add_argument("-k", type=int, default=5, help="passages per answer (default 5)")
    return parser.parse_args(argv)


def auth_from_env() -> tuple[str, str] | None:
    """(user, password) from KZRU_RAG_AUTH=user:password, None when unset."""
    value = os.environ.get("KZRU_RAG_AUTH", "")
    if not value:
        return None
    user, sep, password = value.partition(":")
    if not (sep and user and password):
        raise KzruRagError("KZRU_RAG_AUTH must look like user:password (both non-empty)")
    return user, password


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger("kzru_rag").setLevel(logging.INFO)
    try:
        auth = auth_from_env()
        from kzru_rag.answering.llm import llm_from_config
        from kzru_rag.faces.mounts import beside_the_ui
        from kzru_rag.faces.ui import build_app, launch_app
        from kzru_rag.library import Library

        llm = llm_from_config()
        log.info("loading the index and the embedding model…")
        library = Library.open(args.index, llm=llm, k=args.k, documents_dir=args.documents)
        demo = build_app(library)
    except (KzruRagError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    log.info("LLM: %s", llm if llm else "none (extractive answers)")
    if not auth and not _is_loopback(args.host):
        log.warning("warning: serving on %s without a login; set KZRU_RAG_AUTH=user:password", args.host)
    password = auth[1] if auth else None
    log.info("OpenAI-compatible API: http://%s:%d/v1 · MCP: http://%s:%d/gradio_api/mcp/", *(args.host, args.port) * 2)
    launch_app(demo, host=args.host, port=args.port, auth=auth, lifespan=beside_the_ui(library, password, args.host))
    return 0


if __name__ == "__main__":
    sys.exit(main())
