"""`kzru-rag`: the command line, a thin layer over the Python API.

One module per command group, each adding its commands to the parser: `index` (build, status), `documents` (list,
add, remove), `asking` (search, ask), `evaluate` (eval, calibrate), `agents` (mcp); `common` holds what they
share. Each command's work imports what it needs when it runs, so `--help` and errors stay fast.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import warnings
from typing import Any, NoReturn

from kzru_rag.errors import KzruRagError
from kzru_rag.faces.cli.agents import add_mcp_command
from kzru_rag.faces.cli.asking import add_ask_command, add_search_command
from kzru_rag.faces.cli.documents import add_documents_commands
from kzru_rag.faces.cli.evaluate import add_calibrate_command, add_eval_command
from kzru_rag.faces.cli.index import add_index_commands

VERBOSE = ("-v", "--verbose")
"""The option of `kzru-rag` itself, given before the command."""


def main(argv: list[str] | None = None) -> int:
    """Run the command in `argv` (default: the process's arguments); the exit code: 0, 2 on an error (one line on
    stderr), 130 on ^C."""
    try:
        args = parser().parse_args(argv)
    except SystemExit as exit:  # --help (0), or a bad option, already reported in one line (2)
        return exit.code if isinstance(exit.code, int) else 2
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    if not args.verbose:  # its notes on loading a model (revision not pinned) are noise beside our one-line errors
        logging.getLogger("sentence_transformers").setLevel(logging.ERROR)
    warnings.simplefilter("default")
    warnings.formatwarning = lambda message, category, *rest: f"warning: {message}\n"
    try:
        code = args.run(args)
        sys.stdout.flush()  # inside the try: a closed pipe (`| head`) is reported here, not at exit
        return code
    except BrokenPipeError:
        _silence_stdout()
        return 0
    except (KzruRagError, ValueError, OSError) as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; the existing index was left as it was", file=sys.stderr)
        return 130


def parser() -> argparse.ArgumentParser:
    """The `kzru-rag` parser: every command sets `run`, the function that carries it out."""
    parser = _Parser(prog="kzru-rag", description="Cited answers about the KZ–RU state visit document.")
    parser.add_argument(*VERBOSE, action="store_true", help="log progress details")
    commands = parser.add_subparsers(dest="command", required=True)
    for add in (
        add_index_commands,
        add_documents_commands,
        add_search_command,
        add_ask_command,
        add_eval_command,
        add_calibrate_command,
        add_mcp_command,
    ):
        add(commands)
    return parser


class _Parser(argparse.ArgumentParser):
    """An argument parser (and, by inheritance, its subcommands' parsers) that reports a bad command line in one
    line naming the help to read (the command's own), not with the usage text."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message}; `{self.prog} --help` lists the options\n")

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> tuple[argparse.Namespace, list[str]]:
        """Arguments no parser knows are refused by the innermost command's parser, which names its own help."""
        parsed, unknown = super().parse_known_args(args, namespace)
        if misplaced := [arg for arg in unknown if arg in VERBOSE]:
            command = self.prog.removeprefix("kzru-rag ")
            self.error(f"{misplaced[0]} goes before the command: `kzru-rag {misplaced[0]} {command} ...`")
        if unknown:
            self.error(f"unrecognized arguments: {' '.join(unknown)}")
        return parsed, unknown


def _silence_stdout() -> None:
    """Point stdout at /dev/null after its reader went away, so the exit flush does not fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
