"""HTTP search service over an index (FastAPI): either backend, micro-batched, optionally behind an API key.

- ``requests``: the request models (strict, bounded)
- ``batching``: :class:`MicroBatcher`, concurrent queries encoded together
- ``guards``: ``Authorization: Bearer KEY`` and the request-body limit (ASGI middleware)
- ``app``: :func:`create_app` and :func:`serve`
"""

from mimo.serve.app import create_app, limit_threads, load_query_encoder, serve
from mimo.serve.batching import BatchStats, MicroBatcher
from mimo.serve.guards import MAX_BODY_BYTES, OPEN_PATHS, ApiKeyGuard, BodyLimit, read_api_key
from mimo.serve.requests import MAX_QUERIES, MAX_QUERY_CHARS, EmbedRequest, SearchRequest

__all__ = [
    "MAX_BODY_BYTES", "MAX_QUERIES", "MAX_QUERY_CHARS", "OPEN_PATHS", "ApiKeyGuard", "BatchStats", "BodyLimit",
    "EmbedRequest", "MicroBatcher", "SearchRequest", "create_app", "limit_threads", "load_query_encoder",
    "read_api_key", "serve",
]
