"""The search index over a store: the model's prompts on top of a :class:`~mimo.index.store.VectorStore`.

``SearchIndex.load(LOCATION)`` opens either backend: a FAISS index directory, a Milvus Lite ``.db`` or a
Milvus URI (``http://host:19530``, with ``collection``). Queries are encoded with the query prompt and
passages with the passage prompt of the model named in the manifest, so the CLI and the HTTP service
never need to know which backend holds the vectors.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mimo.errors import InputError, MimoError
from mimo.index.corpus import Doc, passage_text
from mimo.index.encoding import Encoder, encode, load_encoder
from mimo.index.store import Hit, VectorStore, check_new_ids

BACKENDS = ("auto", "faiss", "milvus")


def resolve_backend(location: str | Path, backend: str = "auto") -> str:
    """``faiss`` or ``milvus``: ``auto`` picks milvus for ``http(s)://``/``tcp://`` URIs and ``.db`` paths
    (unless that path is a FAISS index directory), faiss otherwise."""
    from mimo.index.milvus_store import is_milvus_uri

    if backend not in BACKENDS:
        raise InputError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if backend != "auto":
        return backend
    if is_milvus_uri(location) and not (Path(str(location)) / "manifest.json").exists():
        return "milvus"
    return "faiss"


def open_store(location: str | Path, collection: str | None = None, backend: str = "auto",
               mmap: bool = True, token: str | None = None) -> VectorStore:
    """Open the store at ``location`` (see :func:`resolve_backend`)."""
    if resolve_backend(location, backend) == "faiss":
        if collection:
            raise InputError(f"--collection {collection}: a FAISS index directory has no collections "
                             "(use a Milvus URI or a .db path)")
        from mimo.index.faiss_store import FaissStore

        return FaissStore.load(location, mmap=mmap)
    from mimo.index.milvus_store import DEFAULT_COLLECTION, MilvusStore

    store = MilvusStore.open(str(location), collection or DEFAULT_COLLECTION, token)
    assert store is not None
    return store


class SearchIndex:
    """A store plus the encoder of the model that filled it (loaded lazily from the manifest)."""

    def __init__(self, store: VectorStore, encoder: Encoder | None = None) -> None:
        self.store = store
        self._encoder = encoder

    @classmethod
    def load(cls, location: str | Path, encoder: Encoder | None = None, mmap: bool = True,
             collection: str | None = None, backend: str = "auto", token: str | None = None) -> SearchIndex:
        """Open an index directory (memory-mapped when ``mmap``), a Milvus Lite ``.db`` or a Milvus URI."""
        return cls(open_store(location, collection, backend, mmap, token), encoder)

    # -- properties
    @property
    def manifest(self) -> dict[str, Any]:
        return self.store.manifest

    @property
    def path(self) -> Path:
        return Path(getattr(self.store, "path", None) or self.manifest.get("uri", ""))

    @property
    def backend(self) -> str:
        return self.store.backend

    @property
    def kind(self) -> str:
        return self.manifest["kind"]

    @property
    def dim(self) -> int:
        return int(self.manifest["dim"])

    def __len__(self) -> int:
        return len(self.store)

    @property
    def languages(self) -> dict[str, int]:
        return self.store.languages()

    @property
    def encoder(self) -> Encoder:
        if self._encoder is None:
            self._encoder = load_encoder(self.manifest["model"])
        return self._encoder

    def info(self) -> dict[str, Any]:
        """The manifest with the live count and languages."""
        return {**self.manifest, "count": len(self), "languages": self.languages}

    def refresh(self) -> bool:
        """Pick up writes committed by other processes (a no-op for Milvus, whose reads are always current)."""
        return self.store.refresh()

    def close(self) -> None:
        self.store.close()

    # -- searching
    def search_vectors(self, vectors: np.ndarray, k: int = 10,
                       langs: Sequence[str] | None = None) -> list[list[Hit]]:
        """Top-``k`` hits for each query vector (rows L2-normalised), optionally only in ``langs``."""
        from mimo.langs import normalize_lang

        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or (len(vectors) and vectors.shape[1] != self.dim):
            raise MimoError(f"query vectors of shape {vectors.shape}, the index holds {self.dim}-d vectors "
                            "(was it built with another model?)")
        langs = [normalize_lang(x) or x for x in langs] if langs else None
        return self.store.search(vectors, k, langs)

    def encode_queries(self, queries: Sequence[str], batch_size: int = 64) -> np.ndarray:
        return encode(self.encoder, list(queries), "query", batch_size=batch_size)

    def search(self, queries: str | Sequence[str], k: int = 10,
               langs: Sequence[str] | None = None) -> list[list[Hit]]:
        """Encode ``queries`` with the query prompt and search; one hit list per query."""
        qs = [queries] if isinstance(queries, str) else list(queries)
        return self.search_vectors(self.encode_queries(qs), k, langs)

    # -- updating
    def _encode_passages(self, docs: Sequence[Doc], progress: bool, batch_size: int) -> np.ndarray:
        vecs = encode(self.encoder, [passage_text(d) for d in docs], "passage", batch_size, progress)
        if len(docs) and vecs.shape[1] != self.dim:
            raise MimoError(f"the model emits {vecs.shape[1]}-d vectors, the index holds {self.dim}-d")
        return vecs

    def add(self, docs: Sequence[Doc], progress: bool = False, batch_size: int = 64) -> int:
        """Add passages (ids must be new; checked before encoding) and commit; returns the new count."""
        check_new_ids(self.store, docs)
        return self.add_vectors(docs, self._encode_passages(docs, progress, batch_size))

    def add_vectors(self, docs: Sequence[Doc], vecs: np.ndarray) -> int:
        return self.store.add(docs, np.asarray(vecs, dtype=np.float32))

    def upsert(self, docs: Sequence[Doc], progress: bool = False, batch_size: int = 64) -> int:
        """Add passages, replacing those whose id is already there; returns the new count."""
        return self.store.upsert(docs, self._encode_passages(docs, progress, batch_size))

    def upsert_vectors(self, docs: Sequence[Doc], vecs: np.ndarray) -> int:
        return self.store.upsert(docs, np.asarray(vecs, dtype=np.float32))

    def delete(self, ids: Iterable[str]) -> int:
        """Delete passages by id and commit; unknown ids are an error. Returns the new count."""
        return self.store.delete(list(ids))
