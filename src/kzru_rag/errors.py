"""Errors a user can act on: each message says what went wrong and what to do."""

from __future__ import annotations


class KzruRagError(Exception):
    """Base class for every error kzru-rag reports to a user."""


class IndexLoadError(KzruRagError):
    """The index on disk is missing, corrupt or was built for something else."""


class IndexBuildError(KzruRagError):
    """An index build could not finish; the previous index is untouched."""


class SourceError(KzruRagError):
    """A source document cannot be read (wrong type, not UTF-8, empty, too large).

    `reason` names the problem ("binary", "encoding", "empty", …) so a UI can word it in its own language.
    """

    def __init__(self, message: str, reason: str = "", **details: object) -> None:
        super().__init__(message)
        self.reason = reason
        self.details = details


class ModelError(KzruRagError):
    """The embedding model cannot be loaded or does not match the index."""


class LLMError(KzruRagError):
    """The configured LLM failed (unreachable, timed out, returned an error); `russian` says so in Russian, for
    the Russian faces (the message itself is English, for the CLI and logs)."""

    def __init__(self, message: str, russian: str | None = None) -> None:
        super().__init__(message)
        self.russian = russian or message
