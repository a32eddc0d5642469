"""Pluggable chat LLMs, in the style of simonw/llm.

A backend is a subclass of `LLM` that implements `stream`; it is registered under the
`kzru_rag.llms` entry-point group and built by `llm_from_config` with the options that are
set (model, base_url, api_key, timeout) as keyword arguments. The built-in "openai" backend
talks to any OpenAI-compatible chat-completions server.

Prompts have a single source: the top-level `prompts/` directory of the project checkout
(the package is installed editable, so it is found next to `src/`). A prompt file holds a
main text and optional sections, each starting with a line `<!-- #name -->`;
`load_prompt("system.ru#user")` reads section "user" of `prompts/system.ru.md`.
"""

from __future__ import annotations

import abc
import logging
import os
import re
import string
from collections.abc import Iterator
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from kzru_rag.errors import KzruRagError, LLMError
from kzru_rag.schema import Message

ENTRY_POINT_GROUP = "kzru_rag.llms"
DEFAULT_BACKEND = "openai"
PROMPTS_DIR = Path(__file__).resolve().parents[3] / "prompts"

_SECTION_MARK = re.compile(r"^<!-- #(\w+) -->[ \t]*$", re.MULTILINE)
_PROMPT_FILE = re.compile(r"\w+(\.\w+)*")

log = logging.getLogger(__name__)


class LLM(abc.ABC):
    """A chat model that streams text pieces; failures are raised as LLMError."""

    name: str

    @abc.abstractmethod
    def stream(self, messages: list[Message], *, timeout: float | None = None) -> Iterator[str]:
        """Yield the answer in pieces as they arrive; `timeout` overrides the default wait."""

    def complete(self, messages: list[Message], *, timeout: float | None = None) -> str:
        """Return the whole answer."""
        return "".join(self.stream(messages, timeout=timeout))


class OpenAICompatibleLLM(LLM):
    """Any OpenAI-compatible chat-completions server: Ollama, vLLM, llama.cpp server, LM Studio, OpenAI.

    `timeout` bounds connecting and every wait for the next piece of the answer, not the
    whole answer, so a slow model that keeps streaming is not cut off.
    """

    name = "openai"

    def __init__(
        self,
        model: str,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 30.0,
        temperature: float = 0.0,
        max_tokens: int | None = 512,
    ) -> None:
        if not model or not model.strip():
            raise ValueError("LLM model name is empty: give the name the server knows, e.g. 'qwen2.5:7b'")
        if not timeout > 0:
            raise ValueError(f"LLM timeout must be a positive number of seconds, got {timeout!r}")
        if base_url is not None and urlsplit(base_url).scheme not in ("http", "https"):
            raise ValueError(f"LLM base URL must start with http:// or https://, got {base_url!r}")
        self.model = model
        self.timeout = float(timeout)
        self.temperature = temperature
        self.max_tokens = max_tokens
        import openai  # here, not at the top: importing it takes a second that answering without an LLM need not pay

        self._client = openai.OpenAI(
            base_url=base_url, api_key=api_key or "not-needed", timeout=self.timeout, max_retries=0
        )
        self.base_url = _without_userinfo(str(self._client.base_url))

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"{name}(model={self.model!r}, base_url={self.base_url!r}, timeout={self.timeout:g})"

    def stream(self, messages: list[Message], *, timeout: float | None = None) -> Iterator[str]:
        """Stream the answer; an answer that ends without a finish reason is an error."""
        wait = self.timeout if timeout is None else timeout
        log.debug("LLM request to %s: model %s, %d messages", self.base_url, self.model, len(messages))
        finished = False
        try:
            with self._client.chat.completions.create(
                model=self.model,
                messages=messages,  # type: ignore[arg-type]
                stream=True,
                temperature=self.temperature,
                max_tokens=self.max_tokens,
                timeout=wait,
            ) as chunks:
                for chunk in chunks:
                    for choice in chunk.choices:
                        if choice.delta.content:
                            yield choice.delta.content
                        finished = finished or choice.finish_reason is not None
        except Exception as err:
            raise LLMError(self._describe(err, wait)) from err
        if not finished:
            raise LLMError(f"LLM server at {self.base_url} closed the stream before the answer was finished")

    def _describe(self, err: Exception, wait: float) -> str:
        """A plain message naming the server and what happened, with the API key blanked out."""
        import openai

        if isinstance(err, openai.APITimeoutError):
            what = f"did not answer within {wait:g} s"
        elif isinstance(err, openai.APIConnectionError):
            what = "could not be reached" + (f": {err.__cause__}" if err.__cause__ else "")
        elif isinstance(err, openai.APIStatusError):
            detail = err.body.get("message") if isinstance(err.body, dict) else None
            what = f"answered with HTTP {err.status_code}" + (f": {detail}" if detail else "")
        elif isinstance(err, openai.APIError):
            what = f"reported an error: {err.message}"
        else:
            what = f"sent a response that is not a valid chat-completions stream ({type(err).__name__})"
        message = f"LLM server at {self.base_url} {what}"
        key = self._client.api_key
        return message.replace(key, "***") if key else message


def _without_userinfo(url: str) -> str:
    """The URL without any user:password@ part or trailing slash."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2])).rstrip("/")


def _load_backend(entry_point: EntryPoint) -> type[LLM]:
    """The LLM class an entry point names."""
    try:
        backend = entry_point.load()
    except Exception as err:
        raise KzruRagError(f"LLM backend {entry_point.name!r} ({entry_point.value}) cannot be loaded: {err}") from err
    if not (isinstance(backend, type) and issubclass(backend, LLM)):
        raise KzruRagError(
            f"LLM backend {entry_point.name!r} ({entry_point.value}) is not a kzru_rag.answering.llm.LLM class"
        )
    return backend


def available_backends() -> dict[str, type[LLM]]:
    """Installed LLM backends by name; ones that fail to load are skipped with a warning."""
    backends: dict[str, type[LLM]] = {}
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        if entry_point.name in backends:
            continue
        try:
            backends[entry_point.name] = _load_backend(entry_point)
        except KzruRagError as err:
            log.warning("%s", err)
    return backends


def _env(name: str) -> str | None:
    """An environment setting, None when unset or blank."""
    return os.environ.get(name, "").strip() or None


def llm_from_config(
    backend: str | None = None,
    *,
    base_url: str | None = None,
    model: str | None = None,
    api_key: str | None = None,
    timeout: float | None = None,
) -> LLM | None:
    """The configured LLM, or None when no model is configured (extractive answers only).

    Explicit arguments win over KZRU_RAG_LLM_BACKEND (default "openai"), KZRU_RAG_LLM_BASE_URL,
    KZRU_RAG_LLM_MODEL, KZRU_RAG_LLM_API_KEY and KZRU_RAG_LLM_TIMEOUT.
    """
    model = model if model is not None else _env("KZRU_RAG_LLM_MODEL")
    if not model or not model.strip():
        return None
    name = (backend if backend is not None else _env("KZRU_RAG_LLM_BACKEND")) or DEFAULT_BACKEND
    raw_timeout = _env("KZRU_RAG_LLM_TIMEOUT")
    if timeout is None and raw_timeout is not None:
        try:
            timeout = float(raw_timeout)
        except ValueError:
            message = f"KZRU_RAG_LLM_TIMEOUT must be a number of seconds, got {raw_timeout!r}"
            raise KzruRagError(message) from None
    options = {
        "model": model,
        "base_url": base_url if base_url is not None else _env("KZRU_RAG_LLM_BASE_URL"),
        "api_key": api_key if api_key is not None else _env("KZRU_RAG_LLM_API_KEY"),
        "timeout": timeout,
    }
    matches = tuple(entry_points(group=ENTRY_POINT_GROUP, name=name))
    if not matches:
        known = ", ".join(sorted({ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})) or "none"
        raise KzruRagError(f"unknown LLM backend {name!r}; available: {known} (set KZRU_RAG_LLM_BACKEND)")
    backend_class = _load_backend(matches[0])
    try:
        return backend_class(**{key: value for key, value in options.items() if value is not None})
    except ValueError as err:
        raise KzruRagError(f"LLM backend {name!r} is misconfigured: {err}") from err


def load_prompt(name: str) -> str:
    """The text of prompt `name`: "<file>" for prompts/<file>.md, "<file>#<section>" for one section."""
    file_name, _, section = name.partition("#")
    if not _PROMPT_FILE.fullmatch(file_name):
        raise ValueError(f"bad prompt name {name!r}: expected e.g. 'system.ru' or 'system.ru#user'")
    path = PROMPTS_DIR / f"{file_name}.md"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise KzruRagError(
            f"prompt {name!r} cannot be read from {path} ({err.strerror});"
            " prompts live in the project's prompts/ directory"
        ) from err
    parts = _SECTION_MARK.split(text)
    sections = {"": parts[0], **dict(zip(parts[1::2], parts[2::2]))}
    if section not in sections:
        known = ", ".join(sorted(sections.keys() - {""})) or "none"
        raise KzruRagError(f"prompt file {path} has no section {section!r}; it has: {known}")
    return sections[section].strip()


def render_prompt(name: str, **values: object) -> str:
    """Prompt `name` with its $placeholders filled in; values are inserted as plain text, never parsed."""
    try:
        return string.Template(load_prompt(name)).substitute(values)
    except KeyError as err:
        raise ValueError(f"prompt {name!r} needs a value for ${err.args[0]}") from None
