"""The FAISS store: an index directory on one machine (the default backend).

Layout of an index directory (self-describing, crash-safe)::

    DIR/manifest.json        model id + prompts, dims, count, kind, build params, generation
    DIR/g000003/index.faiss  faiss IndexIDMap2 (int64 labels) over Flat / HNSW / IVF-PQ
    DIR/g000003/docs.jsonl   one line per label: id, lang, title, text, meta

:meth:`FaissStore.create` writes the whole directory through :func:`mimo.paths.atomic_dir`; writes
(add / upsert / delete) write a new generation directory and then swap ``manifest.json`` (one atomic
rename) under a file lock, so a crash at any point leaves the last committed generation readable and
nothing committed is lost.
"""

from __future__ import annotations

import fcntl
import json
import shutil
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from mimo.errors import InputError, MimoError
from mimo.index.corpus import Doc
from mimo.index.store import FORMAT_VERSION, Hit, check_known_ids, check_new_ids, now, snippet

KINDS = ("auto", "flat", "hnsw", "ivfpq")
#: Query batches smaller than this are searched on one thread (see ``_omp_threads``).
SMALL_BATCH = 32


def make_faiss(kind: str, dim: int, train: np.ndarray, params: dict[str, Any]) -> Any:
    """An empty faiss index of ``kind`` (IVF-PQ trained on ``train``); fills in the chosen ``params``."""
    import faiss

    if kind == "flat":
        base = faiss.IndexFlatIP(dim)
    elif kind == "hnsw":
        base = faiss.IndexHNSWFlat(dim, int(params.get("hnsw_m", 32)), faiss.METRIC_INNER_PRODUCT)
        base.hnsw.efConstruction = int(params.get("ef_construction", 80))
        base.hnsw.efSearch = int(params.get("ef_search", 64))
    elif kind == "ivfpq":
        n = len(train)
        nlist = int(params.get("nlist") or max(1, min(4096, int(4 * np.sqrt(n)), n // 39)))
        m = int(params.get("pq_m") or next(m for m in (48, 32, 24, 16, 12, 8, 6, 4, 3, 2, 1) if dim % m == 0))
        nbits = int(params.get("pq_bits") or (8 if n >= 256 * 39 else max(4, int(np.log2(max(n // 39, 16))))))
        params.update(nlist=nlist, pq_m=m, pq_bits=nbits, nprobe=int(params.get("nprobe") or min(nlist, 16)))
        base = faiss.IndexIVFPQ(faiss.IndexFlatIP(dim), dim, nlist, m, nbits, faiss.METRIC_INNER_PRODUCT)
        if len(train) < nlist:
            raise MimoError(f"IVF-PQ needs at least {nlist} passages to train, got {len(train)}")
        base.train(train)
        base.nprobe = params["nprobe"]
    else:
        raise InputError(f"unknown index kind {kind!r} for the faiss backend; choose one of {', '.join(KINDS)}")
    return faiss.IndexIDMap2(base)


def _search_params(kind: str, params: dict[str, Any], sel: Any) -> Any:
    import faiss

    if kind == "hnsw":
        return faiss.SearchParametersHNSW(sel=sel, efSearch=int(params.get("ef_search", 64)))
    if kind == "ivfpq":
        return faiss.SearchParametersIVF(sel=sel, nprobe=int(params.get("nprobe", 16)))
    return faiss.SearchParameters(sel=sel)


class FaissStore:
    """A loaded index directory: the faiss index, its docs (by int64 label) and the manifest."""

    backend = "faiss"

    def __init__(self, path: Path, manifest: dict[str, Any], index: Any, docs: dict[int, Doc]) -> None:
        self.path = path
        self._set(manifest, index, docs)

    def _set(self, manifest: dict[str, Any], index: Any, docs: dict[int, Doc]) -> None:
        self.manifest, self.index, self.docs = manifest, index, docs
        self._by_id = {d.id: label for label, d in docs.items()}
        by_lang: dict[str, list[int]] = {}
        for label, d in docs.items():
            by_lang.setdefault(d.lang or "", []).append(label)
        self._by_lang = {k: np.asarray(v, dtype=np.int64) for k, v in by_lang.items()}
        self._deleted = np.asarray(manifest.get("deleted", []), dtype=np.int64)

    # -- creating and loading
    @classmethod
    def create(cls, path: str | Path, manifest: dict[str, Any], docs: Sequence[Doc], vectors: np.ndarray) -> FaissStore:
        """Build the faiss index of ``manifest['kind']`` over ``vectors`` and write the directory atomically."""
        from mimo.paths import atomic_dir, atomic_write_json

        path = Path(path)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        index = make_faiss(manifest["kind"], int(manifest["dim"]), vectors, manifest["params"])
        index.add_with_ids(vectors, np.arange(len(docs), dtype=np.int64))
        manifest.update(backend="faiss", format=FORMAT_VERSION, count=len(docs), next_label=len(docs),
                        deleted=[], generation="g000000")
        with atomic_dir(path) as tmp:
            (tmp / "g000000").mkdir()
            _write_generation(tmp / "g000000", index, dict(enumerate(docs)))
            atomic_write_json(tmp / "manifest.json", manifest)
            tmp.chmod(0o755)  # mkdtemp makes 0700; an index is meant to be served
        return cls.load(path)

    @classmethod
    def load(cls, path: str | Path, mmap: bool = True) -> FaissStore:
        """Open an index directory; the faiss file is memory-mapped (read-only) when ``mmap``."""
        import faiss

        path = Path(path)
        mpath = path / "manifest.json"
        if not path.exists():
            raise MimoError(f"no such index: {path} (give an index directory, a Milvus Lite .db path "
                            "or a Milvus URI http://host:19530)")
        if not mpath.exists():
            raise MimoError(f"{path} is not a mimo index (no manifest.json); build one with `mimo index build`")
        manifest = json.loads(mpath.read_text())
        if manifest.get("format") != FORMAT_VERSION:
            raise MimoError(f"{mpath}: unsupported index format {manifest.get('format')!r}")
        gen = path / manifest["generation"]
        flags = faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY if mmap else 0
        index = faiss.read_index(str(gen / "index.faiss"), flags)
        docs: dict[int, Doc] = {}
        with open(gen / "docs.jsonl", encoding="utf-8") as f:
            for line in f:
                rec = json.loads(line)
                label = rec.pop("label")
                docs[label] = Doc(**rec)
        return cls(path, manifest, index, docs)

    def refresh(self) -> bool:
        """Pick up a generation committed by another process (``mimo index add`` while serving).

        Costs one ``stat`` when nothing changed; returns True when a newer generation was loaded.
        """
        mpath = self.path / "manifest.json"
        try:
            mtime = mpath.stat().st_mtime_ns
        except FileNotFoundError:
            return False
        if mtime == getattr(self, "_mtime", None):
            return False
        self._mtime = mtime
        if json.loads(mpath.read_text()).get("generation") == self.manifest.get("generation"):
            return False
        fresh = FaissStore.load(self.path)
        self._set(fresh.manifest, fresh.index, fresh.docs)
        return True

    def close(self) -> None:
        pass

    # -- reading
    def __len__(self) -> int:
        return len(self.docs)

    def languages(self) -> dict[str, int]:
        return {k or "unknown": len(v) for k, v in sorted(self._by_lang.items())}

    def missing(self, ids: Sequence[str]) -> list[str]:
        return [i for i in ids if i not in self._by_id]

    def _selector(self, langs: Sequence[str] | None) -> Any:
        import faiss

        if langs:
            allowed = np.concatenate([self._by_lang.get(lang, np.zeros(0, np.int64)) for lang in langs])
            if len(self._deleted):
                allowed = np.setdiff1d(allowed, self._deleted)
            return faiss.IDSelectorBatch(allowed.astype(np.int64))
        if len(self._deleted):
            return faiss.IDSelectorNot(faiss.IDSelectorBatch(self._deleted))
        return None

    def search(self, vectors: np.ndarray, k: int, langs: Sequence[str] | None = None) -> list[list[Hit]]:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if self.index.ntotal == 0 or len(vectors) == 0:
            return [[] for _ in range(len(vectors))]
        kind, params = self.manifest["kind"], self.manifest["params"]
        sel = self._selector(langs)
        sp = _search_params(kind, params, sel) if sel is not None or kind != "flat" else None
        with _omp_threads(1 if len(vectors) < SMALL_BATCH else None):
            scores, labels = self.index.search(vectors, min(k, self.index.ntotal), params=sp)
        out = []
        for srow, lrow in zip(scores, labels, strict=True):
            hits = []
            for s, lab in zip(srow, lrow, strict=True):
                d = self.docs.get(int(lab)) if lab >= 0 else None
                if d is not None:
                    hits.append(Hit(d.id, float(s), d.lang, d.title, snippet(d.text)))
            out.append(hits)
        return out

    # -- writing: each call is one committed generation
    def add(self, docs: Sequence[Doc], vectors: np.ndarray,
            on_batch: Callable[[int, int], None] | None = None) -> int:
        with _lock(self.path):
            self._reload_writable()
            check_new_ids(self, docs)
            self._append(docs, vectors)
            self._commit()
        if on_batch:
            on_batch(0, len(docs))
        return len(self)

    def upsert(self, docs: Sequence[Doc], vectors: np.ndarray) -> int:
        if len({d.id for d in docs}) != len(docs):
            raise InputError("the passages to upsert have duplicate ids")
        with _lock(self.path):
            self._reload_writable()
            self._remove([d.id for d in docs if d.id in self._by_id])
            self._append(docs, vectors)
            self._commit()
        return len(self)

    def delete(self, ids: Sequence[str]) -> int:
        ids = list(dict.fromkeys(ids))
        with _lock(self.path):
            self._reload_writable()
            check_known_ids(self, ids)
            self._remove(ids)
            self._commit()
        return len(self)

    def _append(self, docs: Sequence[Doc], vectors: np.ndarray) -> None:
        dim = int(self.manifest["dim"])
        if len(docs) and (vectors.ndim != 2 or vectors.shape != (len(docs), dim)):
            raise InputError(f"{len(docs)} passages need a {len(docs)} x {dim} vector matrix, got {vectors.shape}")
        start = int(self.manifest["next_label"])
        labels = np.arange(start, start + len(docs), dtype=np.int64)
        if len(docs):
            self.index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), labels)
        for lab, d in zip(labels, docs, strict=True):
            self.docs[int(lab)] = d
        self.manifest["next_label"] = start + len(docs)

    def _remove(self, ids: Sequence[str]) -> None:
        import faiss

        if not ids:
            return
        labels = np.asarray([self._by_id[i] for i in ids], dtype=np.int64)
        if self.manifest["kind"] == "hnsw":  # HNSW cannot remove: tombstone the labels, filter at search time
            self.manifest["deleted"] = sorted(set(self.manifest.get("deleted", [])) | set(labels.tolist()))
        else:
            self.index.remove_ids(faiss.IDSelectorBatch(labels))
        for lab in labels.tolist():
            del self.docs[lab]

    def _reload_writable(self) -> None:
        """Re-read the latest committed generation (another writer may have committed) without mmap."""
        fresh = FaissStore.load(self.path, mmap=False)
        self._set(fresh.manifest, fresh.index, fresh.docs)

    def _commit(self) -> None:
        from mimo.paths import atomic_dir, atomic_write_json

        old = self.manifest["generation"]
        gen = f"g{int(old[1:]) + 1:06d}"
        with atomic_dir(self.path / gen) as tmp:
            _write_generation(tmp, self.index, self.docs)
        self.manifest.update(generation=gen, count=len(self.docs), updated=now())
        atomic_write_json(self.path / "manifest.json", self.manifest)  # the commit point
        for stale in self.path.iterdir():  # the old generation, and leftovers of killed writers
            if stale.is_dir() and stale.name != gen and (stale.name.startswith(".g") or stale.name[0] == "g"):
                shutil.rmtree(stale, ignore_errors=True)
        self._set(self.manifest, self.index, self.docs)


@contextmanager
def _omp_threads(n: int | None) -> Iterator[None]:
    """Run faiss single-threaded for small query batches: OpenMP fan-out costs more than it saves
    there (and, on a busy machine, spin-waiting threads make a 0.4 ms search take 16 ms)."""
    import faiss

    if n is None:
        yield
        return
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(n)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


@contextmanager
def _lock(path: Path) -> Iterator[None]:
    with open(path / ".lock", "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _write_generation(dir_: Path, index: Any, docs: dict[int, Doc]) -> None:
    import faiss

    faiss.write_index(index, str(dir_ / "index.faiss"))
    with open(dir_ / "docs.jsonl", "w", encoding="utf-8") as f:
        for label in sorted(docs):
            f.write(json.dumps({"label": label, **asdict(docs[label])}, ensure_ascii=False) + "\n")
