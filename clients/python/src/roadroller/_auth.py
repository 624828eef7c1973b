"""Credentials for a secured server: a bearer token sent with every call,
and TLS (with an optional client certificate) for the channel."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import grpc

TOKEN_ENV = "ROADROLLER_TOKEN"
"""The environment variable read for the bearer token when none is given."""

StrPath = str | os.PathLike[str]


def resolve_token(token: str | None, token_file: StrPath | None) -> str | None:
    """The bearer token: `token` itself, else the stripped contents of
    `token_file`, else ``$ROADROLLER_TOKEN``; `None` when there is none."""
    if token is not None and token_file is not None:
        raise ValueError("give token or token_file, not both")
    if token_file is not None:
        text = Path(token_file).read_text().strip()
        if not text:
            raise ValueError(f"token file {os.fspath(token_file)!r} is empty")
        return text
    if token is not None:
        text = token.strip()
        if not text:
            raise ValueError("token is empty")
        return text
    return os.environ.get(TOKEN_ENV, "").strip() or None


def split_target(target: str) -> tuple[str, bool | None]:
    """The gRPC target without an ``https://`` or ``http://`` prefix, and
    whether the prefix asked for TLS (`None` when there was no prefix)."""
    for scheme, tls in (("https://", True), ("http://", False)):
        if target.startswith(scheme):
            return target[len(scheme) :].rstrip("/"), tls
    return target, None


def ssl_credentials(
    ca_cert: StrPath | None, client_cert: StrPath | None, client_key: StrPath | None
) -> grpc.ChannelCredentials:
    """TLS trusting the PEM CA bundle `ca_cert` (the system's roots when
    `None`), presenting the PEM `client_cert` and `client_key` when given."""
    if (client_cert is None) != (client_key is None):
        raise ValueError("give client_cert and client_key together")
    return grpc.ssl_channel_credentials(
        root_certificates=_read(ca_cert),
        private_key=_read(client_key),
        certificate_chain=_read(client_cert),
    )


def _read(path: StrPath | None) -> bytes | None:
    return None if path is None else Path(path).read_bytes()


class _CallDetails(NamedTuple):
    method: str
    timeout: float | None
    metadata: Any
    credentials: grpc.CallCredentials | None
    wait_for_ready: bool | None
    compression: grpc.Compression | None


class BearerToken(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    """Adds ``authorization: Bearer <token>`` to every call on the channel,
    the generated stubs' and streaming calls included, unless the call
    carries an ``authorization`` of its own."""

    def __init__(self, token: str) -> None:
        self._header = ("authorization", f"Bearer {token}")

    def _intercept(
        self, continuation: Callable[..., Any], details: grpc.ClientCallDetails, request: Any
    ) -> Any:
        metadata = list(details.metadata or ())
        if not any(key == "authorization" for key, _ in metadata):
            details = _CallDetails(
                details.method,
                details.timeout,
                [*metadata, self._header],
                details.credentials,
                details.wait_for_ready,
                details.compression,
            )
        return continuation(details, request)

    intercept_unary_unary = _intercept
    intercept_unary_stream = _intercept
    intercept_stream_unary = _intercept
    intercept_stream_stream = _intercept
