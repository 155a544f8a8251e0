"""ASGI guards in front of the app: API keys (``Authorization: Bearer KEY``) and the request-body limit."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from mimo.errors import InputError

Send = Callable[[dict[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[dict[str, Any]]]
#: Routes open without a key (load balancers' health checks).
OPEN_PATHS = frozenset({"/health"})
MAX_BODY_BYTES = 1 << 20


def read_api_key(path: str | Path | None, key: str | None = None) -> str | None:
    """The service's key: the first line of ``path`` (``--api-key-file``) or ``key`` (``--api-key`` /
    ``MIMO_API_KEY``); None when neither is given. Both given must agree."""
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise InputError(f"--api-key-file {path}: no such file")
        lines = path.read_text(encoding="utf-8").strip().splitlines()
        from_file = lines[0].strip() if lines else ""
        if not from_file:
            raise InputError(f"--api-key-file {path}: the file is empty (put the key on its first line)")
        if key is not None and key.strip() != from_file:
            raise InputError(f"--api-key-file {path} and --api-key / MIMO_API_KEY give different keys; give one")
        return from_file
    if key is not None and not key.strip():
        raise InputError("--api-key / MIMO_API_KEY is empty")
    return key.strip() if key is not None else None


class ApiKeyGuard:
    """Answer 401 to every request but :data:`OPEN_PATHS` that lacks ``Authorization: Bearer KEY``.

    The keys are compared as SHA-256 digests with :func:`hmac.compare_digest` (constant time, and the
    key's length is not revealed either); the 401 says nothing about the index."""

    def __init__(self, app: Any, key: str) -> None:
        self.app, self._digest = app, hashlib.sha256(key.encode()).digest()

    def allowed(self, headers: list[tuple[bytes, bytes]]) -> bool:
        given = b""
        for name, value in headers:
            if name == b"authorization":
                given = value
        scheme, _, token = given.partition(b" ")
        ok = hmac.compare_digest(hashlib.sha256(token.strip()).digest(), self._digest)
        return ok and scheme.lower() == b"bearer"

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS or self.allowed(scope.get("headers", [])):
            return await self.app(scope, receive, send)
        await _reply(send, 401, {"detail": "missing or wrong API key (send Authorization: Bearer KEY)"},
                     [(b"www-authenticate", b"Bearer")])


class BodyLimit:
    """ASGI middleware: reject request bodies over ``limit`` bytes with 413 (header or stream)."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                return await _too_large(send, self.limit)
        seen = 0

        async def limited() -> dict[str, Any]:
            nonlocal seen
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge
            return msg

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await _too_large(send, self.limit)


class _TooLarge(Exception):
    pass


async def _too_large(send: Send, limit: int) -> None:
    await _reply(send, 413, {"detail": f"request body over {limit} bytes"})


async def _reply(send: Send, status: int, content: dict[str, Any], extra: list[tuple[bytes, bytes]] | None = None) -> None:
    body = json.dumps(content).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *(extra or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
