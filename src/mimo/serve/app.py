"""The FastAPI app over a search index (either backend) and its uvicorn runner.

``create_app(index)`` builds the app; ``serve(index, host, port)`` runs it under uvicorn (graceful
shutdown on SIGINT/SIGTERM: in-flight requests finish). Concurrent ``/search`` requests are queued
and encoded together (:class:`~mimo.serve.batching.MicroBatcher`), so throughput grows with load
while a lone query does not wait at all. With an API key every route but ``/health`` (the OpenAPI
page included) needs ``Authorization: Bearer KEY`` (:class:`~mimo.serve.guards.ApiKeyGuard`).
"""

from __future__ import annotations

import asyncio
import os
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from mimo.index import SearchIndex, encode
from mimo.serve.batching import MicroBatcher
from mimo.serve.guards import MAX_BODY_BYTES, ApiKeyGuard, BodyLimit
from mimo.serve.requests import EmbedRequest, SearchRequest


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
               threads: int | None = None, query_encoder: str | None = None,
               collection: str | None = None) -> FastAPI:
    """The FastAPI app serving ``index``: a loaded :class:`SearchIndex`, or where one is (an index
    directory, a Milvus Lite ``.db`` or a Milvus URI with ``collection``; closed at shutdown).

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
    owned = not isinstance(index, SearchIndex)
    idx = SearchIndex.load(index, collection=collection) if owned else index  # type: ignore[arg-type]
    if query_encoder not in (None, "full"):
        try:
            idx = SearchIndex(idx.store, encoder=load_query_encoder(query_encoder, idx.dim, threads))
        except BaseException:
            if owned:
                idx.close()
            raise
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
        if owned:
            idx.close()  # Milvus Lite: flushes and releases the .db for other processes

    app = FastAPI(title="mimo search", version="1", lifespan=lifespan,
                  description="Multilingual passage search over a mimo index.")

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
        return {"status": "ok", "count": await asyncio.to_thread(len, idx)}  # a Milvus count is a round trip

    @app.get("/stats")
    async def stats() -> dict[str, Any]:
        s = batcher.stats
        m = idx.manifest
        count, languages = await asyncio.to_thread(lambda: (len(idx), idx.languages))
        return {
            "model": m["model"], "backend": idx.backend, "kind": m["kind"], "dim": m["dim"], "count": count,
            "languages": languages, "generation": m.get("generation"),
            "recall_at_10_vs_exact": m.get("recall_at_10_vs_exact"),
            "requests": s.requests, "queries": s.queries, "batches": s.batches,
            "mean_queries_per_batch": round(s.queries / s.batches, 2) if s.batches else 0.0,
            "max_batch_seen": s.max_batch_seen, "uptime_s": round(time.time() - s.started, 1),
        }

    @app.post("/search")
    async def search(req: SearchRequest) -> JSONResponse:
        t0 = time.perf_counter()
        queries: list[str] = req.query  # type: ignore[assignment]  # normalised by the validator
        batcher.stats.requests += 1
        batcher.stats.queries += len(queries)
        results = await batcher.submit(queries, req.k, req.lang)  # type: ignore[arg-type]
        # a JSONResponse directly: the hits are plain JSON values, so skip FastAPI's re-encoding pass
        return JSONResponse({"results": results, "took_ms": round((time.perf_counter() - t0) * 1000, 2)})

    @app.post("/embed")
    async def embed(req: EmbedRequest) -> dict[str, Any]:
        texts: list[str] = req.texts  # type: ignore[assignment]
        vecs = await asyncio.get_running_loop().run_in_executor(
            executor, lambda: encode(idx.encoder, texts, req.prompt or "", batch_size=32))
        return {"embeddings": vecs.tolist(), "dim": int(vecs.shape[1])}

    app.add_middleware(BodyLimit, limit=max_body_bytes)
    if api_key is not None:
        if not api_key.strip():
            raise ValueError("the API key is empty")
        app.add_middleware(ApiKeyGuard, key=api_key)  # outermost: a request without the key reads no body
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


def serve(index: str | Path, host: str = "127.0.0.1", port: int = 8000, api_key: str | None = None,
          max_batch: int = 64, max_wait_ms: float = 0.0, log_level: str = "info",
          threads: int | None = 1, query_encoder: str | None = None, collection: str | None = None) -> None:
    """Run the service under uvicorn until SIGINT/SIGTERM (in-flight requests are finished)."""
    import uvicorn

    app = create_app(index, api_key=api_key, max_batch=max_batch, max_wait_ms=max_wait_ms,
                     threads=threads, query_encoder=query_encoder, collection=collection)
    uvicorn.run(app, host=host, port=port, log_level=log_level, timeout_graceful_shutdown=10)
