"""The build pipeline: read and validate a corpus, encode it in resumable shards, fill a store.

FAISS: every shard's vectors go into one index directory, written atomically. Milvus: shard after
shard is inserted into the collection and marked loaded in the shard directory, so a resumed build
neither re-encodes nor re-inserts what is done (a shard whose insert was cut off is upserted again).
With ``shard=(i, N)`` this process encodes and inserts only the ``i``-th of ``N`` shard ranges: N
machines fill one Milvus collection.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mimo.errors import InputError, MimoError
from mimo.index.corpus import Doc, lang_counts, read_corpus
from mimo.index.encoding import Encoder, load_encoder, null_progress, progress_bar
from mimo.index.search import SearchIndex, resolve_backend
from mimo.index.shards import SHARD_SIZE, ShardPlan, encode_shards, plan_shards, read_shard
from mimo.index.store import APPROX_THRESHOLD, FORMAT_VERSION, VectorStore, now


def build_index(model: str, corpus: str | Path | Sequence[Doc], out: str | Path, kind: str = "auto",
                encoder: Encoder | None = None, batch_size: int = 64, progress: bool = False,
                vectors: np.ndarray | None = None, recall_queries: int = 200, backend: str = "auto",
                collection: str | None = None, shard_dir: str | Path | None = None, shard_size: int = SHARD_SIZE,
                workers: int = 1, shard: tuple[int, int] | None = None, keep_shards: bool = False,
                overwrite: bool = False, token: str | None = None, **params: Any) -> SearchIndex:
    """Encode a corpus with the passage prompt and write an index at ``out``.

    ``out``: an index directory (``backend`` faiss, the default for plain paths), a Milvus Lite ``.db``
    path or a Milvus URI with ``collection`` (``backend`` milvus; ``auto`` picks by the form of ``out``).
    ``kind``: ``flat`` (exact inner product), ``hnsw``, ``ivfpq`` (faiss and Milvus servers) or
    ``ivf_flat`` / a Milvus index type (milvus), or ``auto`` (flat up to :data:`APPROX_THRESHOLD`
    passages, HNSW above); ``params`` are the index's build / search parameters. For approximate kinds
    the recall@10 against exact search on ``recall_queries`` sampled passages goes into the manifest.
    Encoding goes through shards of ``shard_size`` passages in ``shard_dir`` (default ``OUT.shards``),
    resumed after an interruption and removed after the build unless ``keep_shards``; ``workers``
    processes share the encoding. ``vectors`` skips encoding (benchmarks).
    """
    backend = resolve_backend(out, backend)
    _check_kind(backend, kind, params, backend == "milvus" and _is_lite(out))
    docs = read_corpus(corpus) if isinstance(corpus, str | Path) else list(corpus)
    if not docs:
        raise InputError("corpus is empty")
    if len({d.id for d in docs}) != len(docs):
        raise InputError("corpus has duplicate ids")
    if shard is not None and backend == "faiss":
        raise InputError("--shard i/N splits a build over machines that fill one Milvus collection; a FAISS index "
                         "is built on one machine (use --workers N there, or --backend milvus)")
    if vectors is not None and len(vectors) != len(docs):
        raise InputError(f"{len(docs)} passages but {len(vectors)} vectors")
    if kind == "auto":
        kind = "hnsw" if len(docs) > APPROX_THRESHOLD else "flat"
    model_id = str(Path(model).resolve()) if Path(model).exists() else model
    enc = encoder if encoder is not None or vectors is not None or workers > 1 else load_encoder(model)
    prompts = getattr(enc, "prompts", None) or {}
    prompts = {"query": prompts.get("query"), "passage": prompts.get("passage")}
    t0 = time.perf_counter()
    plan, mine = None, range(1)
    if vectors is None:
        plan = plan_shards(docs, model_id, prompts, shard_dir or _default_shard_dir(out, collection), shard_size)
        mine = plan.mine(shard)
        encode_shards(plan, docs, mine, model, enc, batch_size, workers, progress)
    encode_s = time.perf_counter() - t0
    dim = int(vectors.shape[1]) if vectors is not None else _shard_dim(plan, docs, mine)
    manifest = {
        "format": FORMAT_VERSION, "backend": backend, "model": model_id, "prompts": prompts, "dim": dim,
        "count": len(docs), "kind": kind, "metric": "inner_product (cosine)", "params": params,
        "recall_at_10_vs_exact": None, "created": now(), "updated": now(),
        "build": {"encode_seconds": round(encode_s, 3), "batch_size": batch_size, "languages": lang_counts(docs),
                  "shard_size": shard_size if plan else None, "shards": plan.count if plan else None,
                  "workers": workers},
    }
    manifest["build_id"] = hashlib.sha256(repr((plan_key(docs, model_id, prompts), kind, sorted(params.items()),
                                                dim)).encode()).hexdigest()[:16]
    t0 = time.perf_counter()
    if backend == "faiss":
        from mimo.index.faiss_store import FaissStore

        vecs = vectors if vectors is not None else np.concatenate([read_shard(plan, j, docs) for j in mine])  # type: ignore[arg-type]
        store: VectorStore = FaissStore.create(out, manifest, docs, vecs)
    else:
        store = _fill_milvus(str(out), collection, manifest, docs, plan, mine, vectors, overwrite, token, progress)
    manifest["build"]["index_seconds"] = round(time.perf_counter() - t0, 3)
    complete = shard is None or (len(mine) == plan.count if plan else True)
    if kind != "flat" and complete and recall_queries > 0:
        manifest["recall_at_10_vs_exact"] = measure_recall(store, docs, _vector_source(docs, plan, vectors), recall_queries)
    _save_manifest(store, manifest)
    if plan and complete and shard is None and not keep_shards:
        shutil.rmtree(plan.dir, ignore_errors=True)
    return SearchIndex(store, enc)


def plan_key(docs: Sequence[Doc], model: str, prompts: dict[str, Any]) -> str:
    from mimo.index.corpus import digest

    return f"{model}|{prompts}|{digest(docs)}"


def _check_kind(backend: str, kind: str, params: dict[str, Any], lite: bool) -> None:
    """An unknown kind (or one Milvus Lite lacks) is an error before any encoding."""
    if backend == "faiss":
        from mimo.index.faiss_store import KINDS

        if kind not in KINDS:
            raise InputError(f"unknown index kind {kind!r} for the faiss backend; choose one of {', '.join(KINDS)}")
    elif kind != "auto":
        from mimo.index.milvus_store import check_lite_index, milvus_index

        index_type = milvus_index(kind, params)[0]
        if lite:
            check_lite_index(index_type)


def _is_lite(out: str | Path) -> bool:
    from mimo.index.milvus_store import is_lite

    return is_lite(str(out))


def _default_shard_dir(out: str | Path, collection: str | None) -> Path:
    from mimo.index.milvus_store import DEFAULT_COLLECTION, is_lite, is_milvus_uri

    s = str(out)
    if is_milvus_uri(s) and not is_lite(s):
        from mimo.paths import home

        host = s.split("://", 1)[-1].replace("/", "_").replace(":", "_")
        return home() / "shards" / f"{host}-{collection or DEFAULT_COLLECTION}"
    return Path(f"{s.rstrip('/')}.shards")


def _shard_dim(plan: ShardPlan | None, docs: Sequence[Doc], mine: range) -> int:
    import pyarrow.parquet as pq

    assert plan is not None
    if not len(mine):
        raise InputError(f"no shard falls to this machine: the corpus has only {plan.count} shards; "
                         "use fewer machines or a smaller --shard-size")
    return int(pq.read_schema(plan.path(mine[0])).field("vector").type.list_size)


def _fill_milvus(uri: str, collection: str | None, manifest: dict[str, Any], docs: Sequence[Doc],
                 plan: ShardPlan | None, mine: range, vectors: np.ndarray | None, overwrite: bool,
                 token: str | None, progress: bool) -> VectorStore:
    """Create (or resume) the collection and insert every shard of ``mine`` not marked loaded."""
    from mimo.index.milvus_store import DEFAULT_COLLECTION, MilvusStore

    collection = collection or DEFAULT_COLLECTION
    store = MilvusStore.open(uri, collection, token, missing_ok=True)
    resumed = False
    if store is not None:
        if store.manifest.get("build_id") == manifest["build_id"] and not overwrite:
            resumed = True
            manifest.update(created=store.manifest.get("created", manifest["created"]))
        elif overwrite:
            store.client.drop_collection(collection)
            store.close()
            store = None
        else:
            n = len(store)
            store.close()
            raise MimoError(f"{store.where} already holds an index of {n} passages built from another corpus, model "
                            "or settings; pass --overwrite to replace it, or add passages with `mimo index add`")
    if store is None:
        try:
            store = MilvusStore.create(uri, collection, dict(manifest), token)
        except MimoError:  # another machine of a --shard build created it meanwhile
            store = _open_when_ready(uri, collection, token)
            if store.manifest.get("build_id") != manifest["build_id"]:
                raise
            resumed = True
    manifest.update({k: store.manifest[k] for k in ("backend", "uri", "collection", "milvus")})
    if vectors is not None:
        store.add(docs, vectors, check=False, count=False) if not resumed else store.upsert(docs, vectors, count=False)
        store.set_languages(lang_counts(docs))
        _flush(store)
        return store
    assert plan is not None
    tag = hashlib.sha256(f"{store.where}|{manifest['build_id']}".encode()).hexdigest()[:12]
    todo = [j for j in mine if not (plan.dir / f"shard-{j:05d}.loaded-{tag}").exists()]
    total = sum(plan.span(j)[1] - plan.span(j)[0] for j in mine)
    done = total - sum(plan.span(j)[1] - plan.span(j)[0] for j in todo)
    with progress_bar(total, f"inserting into {collection}", done=done) if progress else null_progress() as advance:
        for j in todo:
            start, stop = plan.span(j)
            vecs = read_shard(plan, j, docs)
            if resumed:  # this shard may be partly in: upsert is idempotent
                store.upsert(docs[start:stop], vecs, count=False)
            else:
                store.add(docs[start:stop], vecs, check=False, count=False)
            (plan.dir / f"shard-{j:05d}.loaded-{tag}").touch()
            advance(stop - start)
    if len(mine) == plan.count:
        store.set_languages(lang_counts(docs))
    else:  # one key per shard range: machines never overwrite each other's counts
        first, stop = plan.span(mine[0])[0], plan.span(mine[-1])[1]
        store.set_languages(lang_counts(docs[first:stop]), part=f"{mine.start}-{mine.stop}of{plan.count}")
    _flush(store)
    return store


def _open_when_ready(uri: str, collection: str, token: str | None, wait_s: float = 60.0) -> VectorStore:
    """Open a collection that another machine is creating right now (its index may not be loadable yet)."""
    from mimo.index.milvus_store import MilvusStore

    deadline = time.monotonic() + wait_s
    while True:
        try:
            store = MilvusStore.open(uri, collection, token)
            assert store is not None
            return store
        except MimoError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _flush(store: Any) -> None:
    """Seal what was inserted into segments and reload, so that each sealed segment gets its vector index
    (Milvus Lite builds a segment's index when the collection is loaded; searches see every row either way)."""
    from mimo.index.milvus_store import _errors

    with _errors(f"cannot flush {store.where}"):
        store.client.flush(store.collection)
        _wait_indexed(store)
        store.client.release_collection(store.collection)
    for attempt in range(5):  # a segment's index file can still be being written: "File is too small: 0"
        try:
            with _errors(f"cannot load {store.where}"):
                store.client.load_collection(store.collection)
            return
        except MimoError:
            if attempt == 4:
                raise
            time.sleep(0.5 * 2 ** attempt)


def _wait_indexed(store: Any, wait_s: float = 600.0) -> None:
    """Wait until every flushed row of ``store`` has its vector index built (Milvus builds them in the
    background; reloading before that can read an index file still being written)."""
    deadline = time.monotonic() + wait_s
    while True:
        info = store.client.describe_index(store.collection, "vector")
        if info.get("state", "Finished") == "Finished" and not info.get("pending_index_rows", 0):
            return
        if time.monotonic() > deadline:
            raise MimoError(f"{store.where}: the vector index is still being built after {wait_s:.0f} s ({info})")
        time.sleep(0.2)


def _vector_source(docs: Sequence[Doc], plan: ShardPlan | None,
                   vectors: np.ndarray | None) -> Callable[[], Iterator[np.ndarray]]:
    """A function yielding every passage vector, in corpus order, a chunk at a time."""
    def chunks() -> Iterator[np.ndarray]:
        if vectors is not None:
            yield vectors
            return
        assert plan is not None
        for j in range(plan.count):
            yield read_shard(plan, j, docs)

    return chunks


def measure_recall(store: VectorStore, docs: Sequence[Doc], chunks: Callable[[], Iterator[np.ndarray]],
                   n_queries: int = 200, k: int = 10) -> float:
    """Recall@k of ``store``'s search against exact search, with ``n_queries`` sampled passages as queries.
    ``chunks()`` yields the vectors of ``docs`` in order; the exact side streams them (no second copy)."""
    n = len(docs)
    rows = np.sort(np.random.default_rng(0).choice(n, size=min(n_queries, n), replace=False))
    picked, off = [], 0
    for chunk in chunks():
        inside = rows[(rows >= off) & (rows < off + len(chunk))]
        picked.append(chunk[inside - off])
        off += len(chunk)
    q = np.concatenate(picked)
    best_s = np.full((len(q), 0), -np.inf, dtype=np.float32)
    best_i = np.zeros((len(q), 0), dtype=np.int64)
    off = 0
    for chunk in chunks():
        s_all = np.concatenate([best_s, q @ chunk.T], axis=1)
        i_all = np.concatenate([best_i, np.broadcast_to(np.arange(off, off + len(chunk)), (len(q), len(chunk)))], axis=1)
        top = np.argsort(-s_all, axis=1, kind="stable")[:, :k]
        best_s, best_i = np.take_along_axis(s_all, top, 1), np.take_along_axis(i_all, top, 1)
        off += len(chunk)
    hits = store.search(q, k)
    found = [len({docs[r].id for r in exact} & {h.id for h in got}) / max(1, len(exact))
             for exact, got in zip(best_i, hits, strict=True)]
    return float(np.mean(found)) if found else 1.0


def _save_manifest(store: VectorStore, manifest: dict[str, Any]) -> None:
    if store.backend == "faiss":
        from mimo.paths import atomic_write_json

        store.manifest.update(recall_at_10_vs_exact=manifest["recall_at_10_vs_exact"], build=manifest["build"])
        atomic_write_json(store.path / "manifest.json", store.manifest)  # type: ignore[attr-defined]
    else:
        stored = store._stored_manifest()  # type: ignore[attr-defined]
        stored.update({k: v for k, v in manifest.items() if k not in ("languages", "count")})
        store.write_manifest(stored)  # type: ignore[attr-defined]
