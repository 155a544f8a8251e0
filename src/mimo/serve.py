"""HTTP search service over an index directory (FastAPI), with micro-batching of concurrent queries.

``create_app(index_dir)`` builds the app; ``serve(index_dir, host, port)`` runs it under uvicorn
(graceful shutdown on SIGINT/SIGTERM: in-flight requests finish). Concurrent ``/search`` requests
are queued and encoded together: the batcher takes every query waiting (up to ``max_batch``; by
default it never waits for more, since queries that arrive while the encoder is busy batch up by
themselves), encodes them in one forward pass, then searches each language-filter group at once,
so throughput grows with load while a lone query does not wait at all.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, field_validator
from starlette.exceptions import HTTPException as StarletteHTTPException

from mimo.index import SearchIndex, encode
from mimo.langs import ALL_LANGS, normalize_lang

MAX_QUERIES = 256
MAX_QUERY_CHARS = 2000
MAX_BODY_BYTES = 1 << 20
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


# ----------------------------------------------------------------------------- request models


def _check_texts(v: str | list[str], what: str) -> list[str]:
    items = [v] if isinstance(v, str) else v
    if not items:
        raise ValueError(f"{what} must not be an empty list")
    if len(items) > MAX_QUERIES:
        raise ValueError(f"too many {what}: {len(items)} > {MAX_QUERIES} per request")
    for i, q in enumerate(items):
        if not q.strip():
            raise ValueError(f"{what}[{i}] is empty")
        if len(q) > MAX_QUERY_CHARS:
            raise ValueError(f"{what}[{i}] is {len(q)} characters; the limit is {MAX_QUERY_CHARS}")
        if _CONTROL.search(q):
            raise ValueError(f"{what}[{i}] contains control characters")
    return items


class SearchRequest(BaseModel):
    """``query``: one string or a list; ``k``: 1..1000; ``lang``: ISO codes to keep (optional)."""

    model_config = ConfigDict(extra="forbid")
    query: StrictStr | list[StrictStr]
    k: Annotated[StrictInt, Field(ge=1, le=1000)] = 10
    lang: StrictStr | list[StrictStr] | None = None

    @field_validator("query")
    @classmethod
    def _queries(cls, v: str | list[str]) -> list[str]:
        return _check_texts(v, "query")

    @field_validator("lang")
    @classmethod
    def _langs(cls, v: str | list[str] | None) -> list[str] | None:
        if v is None:
            return None
        items = [v] if isinstance(v, str) else v
        if not items or len(items) > len(ALL_LANGS) * 4:
            raise ValueError("lang must list between 1 and a few dozen language codes")
        out = []
        for code in items:
            iso = normalize_lang(code[:32])
            if iso is None:
                raise ValueError(f"language {code!r} is deliberately not supported")
            out.append(iso)
        return sorted(set(out))


class EmbedRequest(BaseModel):
    """``texts``: one string or a list; ``prompt``: the model prompt to prepend (default query)."""

    model_config = ConfigDict(extra="forbid")
    texts: StrictStr | list[StrictStr]
    prompt: Literal["query", "passage"] | None = "query"

    @field_validator("texts")
    @classmethod
    def _texts(cls, v: str | list[str]) -> list[str]:
        return _check_texts(v, "texts")


# ----------------------------------------------------------------------------- micro-batching


@dataclass
class _Job:
    queries: list[str]
    k: int
    langs: tuple[str, ...]
    future: asyncio.Future[list[list[dict[str, Any]]]]


@dataclass
class BatchStats:
    requests: int = 0
    queries: int = 0
    batches: int = 0
    max_batch_seen: int = 0
    started: float = field(default_factory=time.time)


class MicroBatcher:
    """Run the queued search jobs as one encode + search; ``max_wait_ms`` > 0 also waits for more.

    With ``max_wait_ms`` = 0 (default) a batch is whatever is queued when the encoder is free, so a
    lone query is never delayed and a busy server batches everything that arrived meanwhile.
    """

    def __init__(self, index: SearchIndex, executor: ThreadPoolExecutor, max_batch: int = 64,
                 max_wait_ms: float = 0.0) -> None:
        self.index, self.executor = index, executor
        self.max_batch, self.max_wait = max_batch, max_wait_ms / 1000
        self.queue: asyncio.Queue[_Job] = asyncio.Queue()
        self.stats = BatchStats()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self, drain_s: float = 10.0) -> None:
        deadline = time.monotonic() + drain_s
        while not self.queue.empty() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        if self._task:
            self._task.cancel()

    async def submit(self, queries: list[str], k: int, langs: list[str] | None) -> list[list[dict[str, Any]]]:
        fut: asyncio.Future[list[list[dict[str, Any]]]] = asyncio.get_running_loop().create_future()
        await self.queue.put(_Job(queries, k, tuple(langs or ()), fut))
        return await fut

    async def _collect(self) -> tuple[list[_Job], int]:
        """The next batch: the first queued job, everything queued behind it, then (if ``max_wait``
        > 0) what arrives within ``max_wait``; at most ``max_batch`` queries unless one job has more."""
        loop = asyncio.get_running_loop()
        jobs = [await self.queue.get()]
        n = len(jobs[0].queries)
        deadline = loop.time() + self.max_wait
        while n < self.max_batch:
            if not self.queue.empty():
                job = self.queue.get_nowait()
            else:
                timeout = deadline - loop.time()
                if timeout <= 0:
                    break
                try:
                    job = await asyncio.wait_for(self.queue.get(), timeout)
                except TimeoutError:
                    break
            jobs.append(job)
            n += len(job.queries)
        return jobs, n

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            jobs, n = await self._collect()
            try:
                results = await loop.run_in_executor(self.executor, self._run, jobs)
            except Exception as e:  # noqa: BLE001 - hand the failure to every waiting request
                for j in jobs:
                    if not j.future.done():
                        j.future.set_exception(e)
                continue
            self.stats.batches += 1
            self.stats.max_batch_seen = max(self.stats.max_batch_seen, n)
            for j, r in zip(jobs, results, strict=True):
                if not j.future.done():
                    j.future.set_result(r)

    def _run(self, jobs: list[_Job]) -> list[list[list[dict[str, Any]]]]:
        self.index.refresh()  # serve updates committed by `mimo index add/delete` meanwhile
        texts = [q for j in jobs for q in j.queries]
        vecs = encode(self.index.encoder, texts, "query", batch_size=max(1, min(len(texts), 64)))
        spans, start = [], 0
        for j in jobs:
            spans.append((start, start + len(j.queries)))
            start += len(j.queries)
        out: list[Any] = [None] * len(jobs)
        groups: dict[tuple[str, ...], list[int]] = {}
        for i, j in enumerate(jobs):
            groups.setdefault(j.langs, []).append(i)
        for langs, members in groups.items():
            rows = np.concatenate([np.arange(*spans[i]) for i in members])
            kmax = max(jobs[i].k for i in members)
            hits = self.index.search_vectors(vecs[rows], kmax, list(langs) or None)
            pos = 0
            for i in members:
                m = len(jobs[i].queries)
                out[i] = [[h.to_dict() for h in hl[: jobs[i].k]] for hl in hits[pos:pos + m]]
                pos += m
        return out


# ----------------------------------------------------------------------------- the app


class _BodyLimit:
    """ASGI middleware: reject request bodies over ``limit`` bytes with 413 (header or stream)."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: dict[str, Any], receive: Callable[[], Awaitable[dict[str, Any]]],
                       send: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
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


async def _too_large(send: Callable[[dict[str, Any]], Awaitable[None]], limit: int) -> None:
    body = f'{{"detail":"request body over {limit} bytes"}}'.encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def limit_threads(threads: int | None) -> None:
    """Cap torch and faiss (OpenMP) threads *in the calling thread*: OpenMP's thread count is a
    per-thread setting, so the encode worker thread must call this itself (initializer)."""
    if not threads:
        return
    import faiss
    import torch

    torch.set_num_threads(threads)
    faiss.omp_set_num_threads(threads)


def create_app(index: str | Path | SearchIndex, api_key: str | None = None, max_batch: int = 64,
               max_wait_ms: float = 0.0, max_body_bytes: int = MAX_BODY_BYTES,
               threads: int | None = None, query_encoder: str | None = None) -> FastAPI:
    """The FastAPI app serving ``index`` (a directory or a loaded :class:`SearchIndex`).

    ``threads`` caps torch/faiss intra-op threads: on a small or shared machine 1 thread per
    process gives far steadier latency than OpenMP fan-out (measured 80 ms vs 0.6-2.9 s per query
    encode with mE5-small on a loaded 2-core box); micro-batching supplies the parallelism.
    ``query_encoder``: ``full`` / None (the index's model) or a ``mimo export`` dir whose vectors live in
    the index's space (a static or int8 export of the model that built it); ONNX exports run with
    ``threads`` intra-op threads.
    """
    if threads:
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # no Rust tokenizer thread pool either
    limit_threads(threads)
    idx = index if isinstance(index, SearchIndex) else SearchIndex.load(index)
    if query_encoder not in (None, "full"):
        idx = SearchIndex.load(idx.path, encoder=load_query_encoder(query_encoder, idx.dim, threads))
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mimo-encode",
                                  initializer=limit_threads, initargs=(threads,))
    batcher = MicroBatcher(idx, executor, max_batch=max_batch, max_wait_ms=max_wait_ms)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        await asyncio.get_running_loop().run_in_executor(executor, lambda: idx.encode_queries(["warm up"]))
        batcher.start()
        yield
        await batcher.stop()
        executor.shutdown(wait=True, cancel_futures=False)

    app = FastAPI(title="mimo search", version="1", lifespan=lifespan,
                  description="Multilingual passage search over a mimo index.")

    guard: list[Any] = []  # no per-request dependency when the server is open
    if api_key is not None:
        expected = api_key.encode()

        async def check_key(request: Request) -> None:
            if not secrets.compare_digest(request.headers.get("x-api-key", "").encode(), expected):
                raise HTTPException(status_code=401, detail="missing or wrong X-API-Key header")

        guard = [Depends(check_key)]

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        detail = [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", ""))[:300], "type": e.get("type")}
                  for e in exc.errors()[:20]]  # never echo the (possibly huge) input back
        return JSONResponse(status_code=422, content={"detail": detail})

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Any:
        if exc.status_code == 400 and isinstance(exc.detail, str) and "parsing the body" in exc.detail:
            # FastAPI's body-parse failure (not JSON, wrong encoding): name the field like a 422 does
            return JSONResponse(status_code=400, content={"detail": [{
                "loc": ["body"], "msg": "the request body is not a valid JSON object", "type": "body_parse"}]})
        return await http_exception_handler(request, exc)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "count": len(idx)}

    @app.get("/stats", dependencies=guard)
    async def stats() -> dict[str, Any]:
        s = batcher.stats
        m = idx.manifest
        return {
            "model": m["model"], "kind": m["kind"], "dim": m["dim"], "count": len(idx),
            "languages": idx.languages, "generation": m["generation"],
            "recall_at_10_vs_exact": m.get("recall_at_10_vs_exact"),
            "requests": s.requests, "queries": s.queries, "batches": s.batches,
            "mean_queries_per_batch": round(s.queries / s.batches, 2) if s.batches else 0.0,
            "max_batch_seen": s.max_batch_seen, "uptime_s": round(time.time() - s.started, 1),
        }

    @app.post("/search", dependencies=guard)
    async def search(req: SearchRequest) -> JSONResponse:
        t0 = time.perf_counter()
        queries: list[str] = req.query  # type: ignore[assignment]  # normalised by the validator
        batcher.stats.requests += 1
        batcher.stats.queries += len(queries)
        results = await batcher.submit(queries, req.k, req.lang)  # type: ignore[arg-type]
        # a JSONResponse directly: the hits are plain JSON values, so skip FastAPI's re-encoding pass
        return JSONResponse({"results": results, "took_ms": round((time.perf_counter() - t0) * 1000, 2)})

    @app.post("/embed", dependencies=guard)
    async def embed(req: EmbedRequest) -> dict[str, Any]:
        texts: list[str] = req.texts  # type: ignore[assignment]
        vecs = await asyncio.get_running_loop().run_in_executor(
            executor, lambda: encode(idx.encoder, texts, req.prompt or "", batch_size=32))
        return {"embeddings": vecs.tolist(), "dim": int(vecs.shape[1])}

    app.add_middleware(_BodyLimit, limit=max_body_bytes)
    return app


def load_query_encoder(path: str | Path, dim: int, threads: int | None = None) -> Any:
    """A ``mimo export`` dir (static / onnx / onnx-int8 / teacher-space) or model, checked to emit ``dim``."""
    from mimo.errors import InputError
    from mimo.export import load_exported

    if not Path(path).is_dir():
        raise InputError(f"--query-encoder {path}: not 'full' and not a directory (a `mimo export` output)")
    enc = load_exported(path, threads=threads or 0)
    got = int((getattr(enc, "get_embedding_dimension", None) or enc.get_sentence_embedding_dimension)() or 0)
    if got != dim:
        raise InputError(f"--query-encoder {path}: emits {got}-d vectors, the index holds {dim}-d")
    return enc


def serve(index_dir: str | Path, host: str = "127.0.0.1", port: int = 8000, api_key: str | None = None,
          max_batch: int = 64, max_wait_ms: float = 0.0, log_level: str = "info",
          threads: int | None = 1, query_encoder: str | None = None) -> None:
    """Run the service under uvicorn until SIGINT/SIGTERM (in-flight requests are finished)."""
    import uvicorn

    app = create_app(index_dir, api_key=api_key, max_batch=max_batch, max_wait_ms=max_wait_ms,
                     threads=threads, query_encoder=query_encoder)
    uvicorn.run(app, host=host, port=port, log_level=log_level, timeout_graceful_shutdown=10)
