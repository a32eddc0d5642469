"""The process's Milvus clients (one per URI and token), and Milvus failures as errors that name the URI and the fix.

A token never appears in an error: the server's words are masked before they are shown.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc
from pymilvus import MilvusClient, MilvusException

from kzru_rag.errors import IndexLoadError, KzruRagError
from kzru_rag.stores.spec import TOKEN_ENV, StoreSpec

CONNECT_TIMEOUT = 10.0
_clients: dict[tuple[str, str], MilvusClient] = {}
# pymilvus logs every failed call with a traceback; each is raised to us and reported as an error naming the URI.
# (and every failed reconnection to a server that is down).
for _noisy in ("pymilvus.decorators", "pymilvus.client.connection_manager"):
    logging.getLogger(_noisy).setLevel(logging.CRITICAL)
_connecting = threading.Lock()
REFUSALS = (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED)
"""How a Milvus server answers a token it does not accept, or a user without rights."""


def connect(spec: StoreSpec, create: bool = False) -> MilvusClient:
    """The process's client for `spec` and the token in $KZRU_RAG_MILVUS_TOKEN (one per URI and token: a changed
    token is sent, not the one a client made earlier holds); IndexLoadError naming the URI and the fix when it fails."""
    token = "" if spec.lite else os.environ.get(TOKEN_ENV, "")
    with _connecting:
        if (spec.uri, token) in _clients:
            return _clients[(spec.uri, token)]
        if spec.lite and not create and not Path(spec.uri).exists():
            raise IndexLoadError(
                f"the Milvus Lite file {spec.uri} is missing: rebuild the index with "
                f"`kzru-rag index build --store milvus:{spec.uri}`",
                f"файла Milvus Lite {spec.uri} нет: перестройте индекс "
                f"(`kzru-rag index build --store milvus:{spec.uri}`)",
            )
        with _lite_startup_errors() as causes:
            try:
                client = MilvusClient(spec.uri, token=token, timeout=CONNECT_TIMEOUT)
                client.list_collections()
            except (MilvusException, grpc.RpcError) as exc:
                raise (_fault(spec, "; ".join(causes)) if causes else _failure(spec, exc)) from exc
        _clients[(spec.uri, token)] = client
        return client


def forget(spec: StoreSpec) -> None:
    """Close and drop the process's clients for `spec` (a Milvus Lite file is then free for another process)."""
    with _connecting:
        clients = [_clients.pop(key) for key in list(_clients) if key[0] == spec.uri]
    for client in clients:
        client.close()
    if spec.lite:  # pymilvus leaves the embedded engine running, and holding the file's lock
        from milvus_lite.server_manager import server_manager_instance

        server_manager_instance.release_server(spec.uri)


@contextmanager
def _lite_startup_errors() -> Iterator[list[str]]:
    """Collect why Milvus Lite failed to start (it logs the cause with a traceback instead of raising it)."""
    causes: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            cause = record.exc_info[1] if record.exc_info else None
            causes.append(_first_line(cause, "") if cause else record.getMessage())

    logger = logging.getLogger("milvus_lite.server_manager")
    handler, propagate = Collect(), logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield causes
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


def _failure(spec: StoreSpec, exc: BaseException) -> IndexLoadError:
    """The error for a failed Milvus call: a refused token says so; the token never appears in it."""
    token = os.environ.get(TOKEN_ENV, "")
    refusal = _refusal(exc)
    if refusal is not None and not spec.lite and not token:
        return IndexLoadError(
            f"the Milvus server at {spec.uri} asks for a token ({refusal}) and ${TOKEN_ENV} is not set: set it to "
            "user:password or an API key with rights on the index's collections",
            f"сервер Milvus {spec.uri} требует токен, а ${TOKEN_ENV} не задан: задайте в ней user:password или "
            "API-ключ с правами на коллекции индекса и перезапустите приложение",
        )
    if refusal is not None and not spec.lite:
        return IndexLoadError(
            f"the Milvus server at {spec.uri} refused kzru-rag's token ({_masked(refusal, token)}): check the token "
            f"in ${TOKEN_ENV} (user:password, or an API key) and that its user has rights on the index's collections",
            f"сервер Milvus {spec.uri} не принял токен из ${TOKEN_ENV}: проверьте токен (user:password или API-ключ) "
            "и права его пользователя на коллекции индекса",
        )
    return _fault(spec, _first_line(exc, token))


def _refusal(exc: BaseException) -> str | None:
    """The server's words when `exc`, or an error behind it, is a refused token or a missing right; else None."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, grpc.RpcError) and cause.code() in REFUSALS:  # type: ignore[attr-defined]
            return str(cause.details())  # type: ignore[attr-defined]
        cause = cause.__cause__ or cause.__context__
    return None


def _fault(spec: StoreSpec, detail: str) -> IndexLoadError:
    if spec.lite:
        return IndexLoadError(
            f"cannot open the Milvus Lite file {spec.uri} ({detail}): Milvus Lite serves one process at a time, "
            f"so stop the other kzru-rag process using it (or serve the index from a Milvus server); "
            f"if the file is damaged, rebuild with `kzru-rag index build --store milvus:{spec.uri}`",
            f"файл Milvus Lite {spec.uri} не открывается: Milvus Lite обслуживает один процесс, поэтому остановите "
            "другой процесс kzru-rag, который его использует; если файл повреждён, перестройте индекс",
        )
    return IndexLoadError(
        f"cannot use the Milvus server at {spec.uri} ({detail}): check that it is running and reachable from here, "
        f"and that ${TOKEN_ENV} holds a token it accepts",
        f"сервер Milvus {spec.uri} недоступен: проверьте, что он запущен и доступен отсюда; когда он снова "
        "заработает, задайте вопрос ещё раз",
    )


def _first_line(exc: BaseException | None, token: str) -> str:
    lines = str(exc).strip().splitlines()
    return _masked(lines[0] if lines else type(exc).__name__, token)


def _masked(text: str, token: str) -> str:
    return text.replace(token, "***") if token else text


@contextmanager
def guarded(spec: StoreSpec, error: type[KzruRagError] = IndexLoadError) -> Iterator[None]:
    """Turn a Milvus failure inside the block into `error` naming the URI and the fix."""
    try:
        yield
    except (MilvusException, grpc.RpcError) as exc:  # pymilvus passes a refused call's RpcError on as it is
        failure = _failure(spec, exc)
        raise error(str(failure), failure.russian) from exc
