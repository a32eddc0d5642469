"""A Milvus server that checks tokens, for tests: a gRPC reverse proxy on 127.0.0.1 in front of one that does not.

pymilvus sends its token on every call as `authorization` metadata, base64 of the token
(`pymilvus/client/grpc_handler.py`, `_setup_authorization_interceptor`). The proxy compares that with the token it
expects: a match is forwarded, as raw bytes under the same method name and with the same metadata, to the upstream
server, whose answer (or error status) comes back as it is; anything else is aborted with UNAUTHENTICATED and the
words a Milvus server uses. Every MilvusService method pymilvus calls for kzru-rag is unary-unary (the service's
streaming methods are cluster replication), so those are the calls it serves. It records the methods it forwarded
and refused.

    with token_checking_proxy("http://127.0.0.1:19530", "user:password") as proxy:
        ...  # point kzru-rag at proxy.uri
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from concurrent import futures
from contextlib import contextmanager

import grpc

REFUSAL = "auth check failure, please check api key is correct"


class TokenCheckingProxy(grpc.GenericRpcHandler):
    """Forwards each call carrying `token` to `upstream` (host:port); refuses the others as Milvus does."""

    def __init__(self, upstream: str, token: str) -> None:
        self.channel = grpc.insecure_channel(upstream)
        self.expected = base64.b64encode(token.encode()).decode()
        self.uri = ""
        self.forwarded: list[str] = []
        self.refused: list[str] = []

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        method = handler_call_details.method
        upstream = self.channel.unary_unary(method, request_serializer=None, response_deserializer=None)

        def forward(request: bytes, context: grpc.ServicerContext) -> bytes:
            metadata = tuple(context.invocation_metadata())
            if dict(metadata).get("authorization") != self.expected:
                self.refused.append(method)
                context.abort(grpc.StatusCode.UNAUTHENTICATED, REFUSAL)
            self.forwarded.append(method)
            try:
                return upstream(request, metadata=metadata)
            except grpc.RpcError as error:
                context.abort(error.code(), error.details())

        return grpc.unary_unary_rpc_method_handler(forward)


@contextmanager
def token_checking_proxy(upstream_uri: str, token: str) -> Iterator[TokenCheckingProxy]:
    """A proxy serving on a free port of 127.0.0.1 (its URI in `.uri`) in front of the Milvus server at
    `upstream_uri` (http://host:port), accepting only `token`; stopped on leaving the block."""
    proxy = TokenCheckingProxy(upstream_uri.removeprefix("http://"), token)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers((proxy,))
    proxy.uri = f"http://127.0.0.1:{server.add_insecure_port('127.0.0.1:0')}"
    server.start()
    try:
        yield proxy
    finally:
        server.stop(grace=None)
        proxy.channel.close()
