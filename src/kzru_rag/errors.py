"""Errors a user can act on: each message says what went wrong and what to do."""

from __future__ import annotations

from typing import Any


class KzruRagError(Exception):
    """Base class for every error kzru-rag reports to a user. The message is English (the CLI, the API, logs);
    `russian`, when the raiser words it, is the same in Russian for the Russian faces (None: the face words the
    error by its class)."""

    def __init__(self, message: str, russian: str | None = None) -> None:
        super().__init__(message)
        self.russian = russian


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

    def to_dict(self) -> dict[str, Any]:
        """The error as JSON, for a process border (the reader's sandbox, the build's child)."""
        return {"error": str(self), "reason": self.reason, "details": self.details}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SourceError:
        return cls(data["error"], data["reason"], **data["details"])


class ModelError(KzruRagError):
    """The embedding model cannot be loaded or does not match the index."""


class LLMError(KzruRagError):
    """The configured LLM failed (unreachable, timed out, returned an error)."""
