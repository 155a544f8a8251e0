"""FAISS search indexes over a mixed-language corpus: build, search, add/delete by id, mmap load.

Layout of an index directory (self-describing, crash-safe)::

    DIR/manifest.json        model id + prompts, dims, count, kind, build params, generation
    DIR/g000003/index.faiss  faiss IndexIDMap2 (int64 labels) over Flat / HNSW / IVF-PQ
    DIR/g000003/docs.jsonl   one line per label: id, lang, title, text, meta

``build`` writes the whole directory through :func:`mimo.paths.atomic_dir`; ``add``/``delete``
write a new generation directory and then swap ``manifest.json`` (one atomic rename), so a crash
at any point leaves the last committed generation readable and nothing committed is lost.
"""

from __future__ import annotations

import csv
import fcntl
import json
import shutil
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from mimo.errors import InputError, MimoError
from mimo.langs import normalize_lang
from mimo.paths import atomic_dir, atomic_write_json

KINDS = ("auto", "flat", "hnsw", "ivfpq")
#: Above this many passages ``kind="auto"`` builds HNSW instead of the exact flat index.
APPROX_THRESHOLD = 200_000
SNIPPET_CHARS = 200
#: Query batches smaller than this are searched on one thread (see ``_omp_threads``).
SMALL_BATCH = 32
FORMAT_VERSION = 1


class Encoder(Protocol):
    prompts: dict[str, str]

    def encode(self, texts: list[str], **kwargs: Any) -> np.ndarray: ...

    def get_sentence_embedding_dimension(self) -> int | None: ...


@dataclass
class Doc:
    """One passage of the corpus."""

    id: str
    text: str
    lang: str | None = None
    title: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class Hit:
    """One search result."""

    id: str
    score: float
    lang: str | None
    title: str | None
    snippet: str

    def to_dict(self) -> dict[str, Any]:
        # not dataclasses.asdict: its recursive deepcopy was a measurable share of a /search response
        return {"id": self.id, "score": self.score, "lang": self.lang, "title": self.title,
                "snippet": self.snippet}


# ----------------------------------------------------------------------------- corpus reading


def _rows(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield (location, raw record) from a JSONL / CSV / parquet file or a directory."""
    suffix = path.suffix.lower()
    if path.is_dir():
        if (path / "corpus.jsonl").exists():  # BEIR layout
            yield from _rows(path / "corpus.jsonl")
            return
        files = sorted(p for p in path.rglob("*.txt") if p.is_file())
        if not files:
            raise InputError(f"{path}: directory has no corpus.jsonl and no .txt files")
        for p in files:
            rel = p.relative_to(path).with_suffix("")
            parts = rel.name.rsplit(".", 1)  # name.de.txt -> lang de
            lang = parts[1] if len(parts) == 2 and normalize_lang(parts[1], strict=False) else None
            rid = str(rel.with_name(parts[0])) if lang else str(rel)
            yield str(p), {"id": rid, "text": p.read_text(encoding="utf-8", errors="replace"), "lang": lang}
    elif suffix in (".jsonl", ".json"):
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError as e:
                    raise InputError(f"{path}: line {n}: invalid JSON ({e.msg})") from None
                if not isinstance(rec, dict):
                    raise InputError(f"{path}: line {n}: expected a JSON object, got {type(rec).__name__}")
                yield f"{path}: line {n}", rec
    elif suffix in (".csv", ".tsv"):
        with open(path, encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f, delimiter="\t" if suffix == ".tsv" else ",")
            for n, rec in enumerate(reader, 2):
                yield f"{path}: row {n}", dict(rec)
    elif suffix == ".parquet":
        import pyarrow.parquet as pq

        for n, rec in enumerate(pq.read_table(path).to_pylist(), 1):
            yield f"{path}: row {n}", rec
    else:
        raise InputError(f"{path}: unsupported corpus format {suffix!r}; "
                         "use .jsonl, .csv, .parquet or a directory")


def _to_doc(where: str, rec: dict[str, Any]) -> Doc:
    rid = rec.get("id", rec.get("_id"))
    if rid is None or (isinstance(rid, str) and not rid.strip()):
        raise InputError(f"{where}: missing field 'id'")
    if not isinstance(rid, str | int):
        raise InputError(f"{where}: field 'id' must be a string or integer, got {type(rid).__name__}")
    text = rec.get("text")
    if not isinstance(text, str):
        raise InputError(f"{where}: missing or non-string field 'text'")
    if not text.strip():
        raise InputError(f"{where}: field 'text' is empty (id {rid!r})")
    lang = rec.get("lang") or None
    if lang is not None:
        try:
            lang = normalize_lang(str(lang))
        except ValueError as e:
            raise InputError(f"{where}: field 'lang': {e}") from None
    title = rec.get("title") or None
    meta = {k: v for k, v in rec.items() if k not in ("id", "_id", "text", "lang", "title")}
    return Doc(str(rid), text, lang, str(title) if title is not None else None, meta)


def read_corpus(path: str | Path) -> list[Doc]:
    """Read and validate a corpus; errors name the file, row and field."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"corpus {path} does not exist")
    docs: list[Doc] = []
    seen: dict[str, str] = {}
    for where, rec in _rows(path):
        doc = _to_doc(where, rec)
        if doc.id in seen:
            raise InputError(f"{where}: duplicate id {doc.id!r} (first seen at {seen[doc.id]})")
        seen[doc.id] = where
        docs.append(doc)
    if not docs:
        raise InputError(f"{path}: corpus is empty")
    return docs


# ----------------------------------------------------------------------------- encoding


def load_encoder(model: str) -> Encoder:
    """Load an encoder (hub name, model dir, or a ``mimo export`` dir) via :func:`mimo.models.load_encoder`."""
    from mimo.models import load_encoder as _load

    return _load(str(model))


def _prompt_name(encoder: Encoder, name: str) -> str | None:
    return name if name in (getattr(encoder, "prompts", None) or {}) else None


def passage_text(doc: Doc) -> str:
    return f"{doc.title} {doc.text}" if doc.title else doc.text


def encode(encoder: Encoder, texts: Sequence[str], prompt: str, batch_size: int = 64,
           progress: bool = False, chunk: int = 1024) -> np.ndarray:
    """Encode ``texts`` with the encoder's ``prompt`` (if it has one) as L2-normalised float32."""
    name = _prompt_name(encoder, prompt)
    out: list[np.ndarray] = []
    ctx = _progress(len(texts), f"encoding {len(texts)} {prompt}s") if progress else _null()
    with ctx as advance:
        for i in range(0, len(texts), chunk):
            part = list(texts[i:i + chunk])
            emb = encoder.encode(part, prompt_name=name, batch_size=batch_size,
                                 normalize_embeddings=True, convert_to_numpy=True)
            out.append(np.asarray(emb, dtype=np.float32))
            advance(len(part))
    if not out:
        dim = encoder.get_sentence_embedding_dimension() or 0
        return np.zeros((0, dim), dtype=np.float32)
    return np.ascontiguousarray(np.concatenate(out))


@contextmanager
def _progress(total: int, desc: str) -> Iterator[Any]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), transient=False) as bar:
        task = bar.add_task(desc, total=total)
        yield lambda n: bar.advance(task, n)


@contextmanager
def _null() -> Iterator[Any]:
    yield lambda n: None


# ----------------------------------------------------------------------------- faiss


def _make_faiss(kind: str, dim: int, train: np.ndarray, params: dict[str, Any]) -> Any:
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
        raise InputError(f"unknown index kind {kind!r}; choose one of {', '.join(KINDS)}")
    return faiss.IndexIDMap2(base)


def _search_params(kind: str, params: dict[str, Any], sel: Any) -> Any:
    import faiss

    if kind == "hnsw":
        return faiss.SearchParametersHNSW(sel=sel, efSearch=int(params.get("ef_search", 64)))
    if kind == "ivfpq":
        return faiss.SearchParametersIVF(sel=sel, nprobe=int(params.get("nprobe", 16)))
    return faiss.SearchParameters(sel=sel)


def recall_at_k(exact: np.ndarray, approx: np.ndarray, k: int = 10) -> float:
    """Mean fraction of the exact top-k labels that the approximate top-k also returns."""
    hits = [len(set(e[:k][e[:k] >= 0]) & set(a[:k])) / max(1, int((e[:k] >= 0).sum()))
            for e, a in zip(exact, approx, strict=True)]
    return float(np.mean(hits)) if hits else 1.0


# ----------------------------------------------------------------------------- the index


class SearchIndex:
    """A loaded index directory: faiss index + docs + manifest (+ the encoder, loaded lazily)."""

    def __init__(self, path: Path, manifest: dict[str, Any], index: Any, docs: dict[int, Doc],
                 encoder: Encoder | None = None) -> None:
        self.path = path
        self._encoder = encoder
        self._set(manifest, index, docs)

    def _set(self, manifest: dict[str, Any], index: Any, docs: dict[int, Doc]) -> None:
        self.manifest, self.index, self.docs = manifest, index, docs
        self._by_id = {d.id: label for label, d in docs.items()}
        self._by_lang: dict[str, np.ndarray] = {}
        for label, d in docs.items():
            self._by_lang.setdefault(d.lang or "", []).append(label)  # type: ignore[arg-type]
        self._by_lang = {k: np.asarray(v, dtype=np.int64) for k, v in self._by_lang.items()}
        self._deleted = np.asarray(manifest.get("deleted", []), dtype=np.int64)

    # -- properties
    @property
    def kind(self) -> str:
        return self.manifest["kind"]

    @property
    def dim(self) -> int:
        return int(self.manifest["dim"])

    def __len__(self) -> int:
        return len(self.docs)

    @property
    def languages(self) -> dict[str, int]:
        return {k or "unknown": len(v) for k, v in sorted(self._by_lang.items())}

    @property
    def encoder(self) -> Encoder:
        if self._encoder is None:
            self._encoder = load_encoder(self.manifest["model"])
        return self._encoder

    # -- loading
    @classmethod
    def load(cls, path: str | Path, encoder: Encoder | None = None, mmap: bool = True) -> SearchIndex:
        """Open an index directory; the faiss file is memory-mapped (read-only) when ``mmap``."""
        import faiss

        path = Path(path)
        mpath = path / "manifest.json"
        if not mpath.exists():
            raise MimoError(f"{path} is not a mimo index (no manifest.json); "
                            "build one with `mimo index build`")
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
        return cls(path, manifest, index, docs, encoder)

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
        fresh = SearchIndex.load(self.path, self._encoder)
        self._set(fresh.manifest, fresh.index, fresh.docs)
        return True

    # -- searching
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

    def search_vectors(self, vectors: np.ndarray, k: int = 10,
                       langs: Sequence[str] | None = None) -> list[list[Hit]]:
        """Top-``k`` hits for each query vector (rows L2-normalised), optionally only in ``langs``."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if self.index.ntotal == 0 or len(vectors) == 0:
            return [[] for _ in range(len(vectors))]
        langs = [normalize_lang(x) or x for x in langs] if langs else None
        sel = self._selector(langs)
        params = _search_params(self.kind, self.manifest["params"], sel) if sel is not None else None
        if params is None and self.kind != "flat":
            params = _search_params(self.kind, self.manifest["params"], None)
        kk = min(k, self.index.ntotal)
        with _omp_threads(1 if len(vectors) < SMALL_BATCH else None):
            scores, labels = self.index.search(vectors, kk, params=params)
        out = []
        for srow, lrow in zip(scores, labels, strict=True):
            hits = []
            for s, lab in zip(srow, lrow, strict=True):
                d = self.docs.get(int(lab)) if lab >= 0 else None
                if d is not None:
                    hits.append(Hit(d.id, float(s), d.lang, d.title, _snippet(d.text)))
            out.append(hits)
        return out

    def encode_queries(self, queries: Sequence[str], batch_size: int = 64) -> np.ndarray:
        return encode(self.encoder, list(queries), "query", batch_size=batch_size)

    def search(self, queries: str | Sequence[str], k: int = 10,
               langs: Sequence[str] | None = None) -> list[list[Hit]]:
        """Encode ``queries`` with the query prompt and search; one hit list per query."""
        qs = [queries] if isinstance(queries, str) else list(queries)
        return self.search_vectors(self.encode_queries(qs), k, langs)

    # -- updating
    def add(self, docs: Sequence[Doc], progress: bool = False, batch_size: int = 64) -> int:
        """Add passages (ids must be new) and commit a new generation; returns the new count."""
        clash = [d.id for d in docs if d.id in self._by_id]
        if clash:
            raise InputError(f"ids already in the index: {', '.join(map(repr, clash[:5]))}"
                             + (f" (+{len(clash) - 5} more)" if len(clash) > 5 else ""))
        vecs = encode(self.encoder, [passage_text(d) for d in docs], "passage", batch_size, progress)
        return self.add_vectors(docs, vecs)

    def add_vectors(self, docs: Sequence[Doc], vecs: np.ndarray) -> int:
        with _lock(self.path):
            self._reload_writable()
            start = int(self.manifest["next_label"])
            labels = np.arange(start, start + len(docs), dtype=np.int64)
            if len(docs):
                self.index.add_with_ids(np.ascontiguousarray(vecs, dtype=np.float32), labels)
            for lab, d in zip(labels, docs, strict=True):
                self.docs[int(lab)] = d
            self.manifest["next_label"] = start + len(docs)
            self._commit()
        return len(self)

    def delete(self, ids: Iterable[str]) -> int:
        """Delete passages by id and commit; unknown ids are an error. Returns the new count."""
        import faiss

        ids = list(ids)
        missing = [i for i in ids if i not in self._by_id]
        if missing:
            raise InputError(f"ids not in the index: {', '.join(map(repr, missing[:5]))}")
        with _lock(self.path):
            self._reload_writable()
            labels = np.asarray([self._by_id[i] for i in ids], dtype=np.int64)
            if self.kind == "hnsw":  # HNSW cannot remove: tombstone the labels, filter at search time
                dead = set(self.manifest.get("deleted", [])) | set(labels.tolist())
                self.manifest["deleted"] = sorted(dead)
            else:
                self.index.remove_ids(faiss.IDSelectorBatch(labels))
            for lab in labels.tolist():
                del self.docs[lab]
            self._commit()
        return len(self)

    def _reload_writable(self) -> None:
        """Re-read the latest committed generation (another writer may have committed) without mmap."""
        fresh = SearchIndex.load(self.path, self._encoder, mmap=False)
        self._set(fresh.manifest, fresh.index, fresh.docs)

    def _commit(self) -> None:
        old = self.manifest["generation"]
        gen = f"g{int(old[1:]) + 1:06d}"
        with atomic_dir(self.path / gen) as tmp:
            _write_generation(tmp, self.index, self.docs)
        self.manifest.update(generation=gen, count=len(self.docs), updated=_now())
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


def _snippet(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SNIPPET_CHARS else text[: SNIPPET_CHARS - 1] + "…"


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


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


def build_index(model: str, corpus: str | Path | Sequence[Doc], out: str | Path, kind: str = "auto",
                encoder: Encoder | None = None, batch_size: int = 64, progress: bool = False,
                vectors: np.ndarray | None = None, recall_queries: int = 200,
                **params: Any) -> SearchIndex:
    """Encode a corpus with the passage prompt and write an index directory atomically.

    ``kind``: ``flat`` (exact inner product), ``hnsw`` or ``ivfpq`` (approximate), or ``auto``
    (flat up to :data:`APPROX_THRESHOLD` passages, HNSW above). For approximate kinds the
    recall@10 against exact search (on ``recall_queries`` sampled passages) is stored in the
    manifest. ``vectors`` skips encoding (benchmarks).
    """
    if kind not in KINDS:
        raise InputError(f"unknown index kind {kind!r}; choose one of {', '.join(KINDS)}")
    docs = read_corpus(corpus) if isinstance(corpus, str | Path) else list(corpus)
    if not docs:
        raise InputError("corpus is empty")
    if len({d.id for d in docs}) != len(docs):
        raise InputError("corpus has duplicate ids")
    enc = encoder if encoder is not None or vectors is not None else load_encoder(model)
    t0 = time.perf_counter()
    if vectors is None:
        vectors = encode(enc, [passage_text(d) for d in docs], "passage", batch_size, progress)  # type: ignore[arg-type]
    encode_s = time.perf_counter() - t0
    n, dim = vectors.shape
    if kind == "auto":
        kind = "hnsw" if n > APPROX_THRESHOLD else "flat"
    t0 = time.perf_counter()
    index = _make_faiss(kind, dim, vectors, params)
    index.add_with_ids(vectors, np.arange(n, dtype=np.int64))
    build_s = time.perf_counter() - t0
    recall = None
    if kind != "flat":
        import faiss

        rng = np.random.default_rng(0)
        q = vectors[rng.choice(n, size=min(recall_queries, n), replace=False)]
        exact = faiss.IndexFlatIP(dim)
        exact.add(vectors)
        _, e_lab = exact.search(q, min(10, n))
        _, a_lab = index.search(q, min(10, n), params=_search_params(kind, params, None))
        recall = recall_at_k(e_lab, a_lab, 10)
    prompts = getattr(enc, "prompts", None) or {}
    manifest = {
        "format": FORMAT_VERSION, "model": str(Path(model).resolve()) if Path(model).exists() else model,
        "prompts": {"query": prompts.get("query"), "passage": prompts.get("passage")},
        "dim": int(dim), "count": n, "kind": kind, "metric": "inner_product (cosine)",
        "params": params, "recall_at_10_vs_exact": recall, "next_label": n, "deleted": [],
        "generation": "g000000", "created": _now(), "updated": _now(),
        "build": {"encode_seconds": round(encode_s, 3), "index_seconds": round(build_s, 3),
                  "batch_size": batch_size, "languages": _lang_counts(docs)},
    }
    out = Path(out)
    with atomic_dir(out) as tmp:
        (tmp / "g000000").mkdir()
        _write_generation(tmp / "g000000", index, dict(enumerate(docs)))
        atomic_write_json(tmp / "manifest.json", manifest)
        tmp.chmod(0o755)  # mkdtemp makes 0700; an index is meant to be served
    return SearchIndex.load(out, encoder=enc)


def _lang_counts(docs: Sequence[Doc]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for d in docs:
        counts[d.lang or "unknown"] = counts.get(d.lang or "unknown", 0) + 1
    return dict(sorted(counts.items()))
