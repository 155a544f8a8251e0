"""The storage seam: what :class:`~mimo.index.search.SearchIndex` needs from a vector store.

Two implementations: :class:`~mimo.index.faiss_store.FaissStore` (an index directory on one machine)
and :class:`~mimo.index.milvus_store.MilvusStore` (a Milvus collection: embedded Milvus Lite ``.db`` or
a server / cluster by URI). Vectors are L2-normalised float32; scores are inner products (cosine).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from mimo.index.corpus import Doc

FORMAT_VERSION = 1
SNIPPET_CHARS = 200
#: Above this many passages ``kind="auto"`` builds an approximate index (HNSW) instead of an exact one.
APPROX_THRESHOLD = 200_000
#: A language code as stored (``normalize_lang``'s output); anything else in a filter matches nothing.
LANG_CODE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


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


class VectorStore(Protocol):
    """Passages with their vectors, searchable by inner product with an optional language filter."""

    backend: str  #: ``faiss`` or ``milvus``
    manifest: dict[str, Any]  #: model id + prompts, dim, kind, build params (see ``build_index``)

    def __len__(self) -> int: ...

    def languages(self) -> dict[str, int]:
        """Passages per language (``unknown`` for none)."""
        ...

    def missing(self, ids: Sequence[str]) -> list[str]:
        """The ``ids`` that the store does not hold."""
        ...

    def add(self, docs: Sequence[Doc], vectors: np.ndarray,
            on_batch: Callable[[int, int], None] | None = None) -> int:
        """Insert new passages (their ids must be new); ``on_batch(i, n)`` after each durable batch.
        Returns the new count."""
        ...

    def upsert(self, docs: Sequence[Doc], vectors: np.ndarray) -> int:
        """Insert passages or replace those with the same id; returns the new count."""
        ...

    def delete(self, ids: Sequence[str]) -> int:
        """Delete passages by id (every id must be there); returns the new count."""
        ...

    def search(self, vectors: np.ndarray, k: int, langs: Sequence[str] | None = None) -> list[list[Hit]]:
        """Top-``k`` hits per query vector, best first, only in ``langs`` when given."""
        ...

    def refresh(self) -> bool:
        """Pick up what other processes committed; True when something changed."""
        ...

    def close(self) -> None: ...


def snippet(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SNIPPET_CHARS else text[: SNIPPET_CHARS - 1] + "…"


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def recall_at_k(exact: np.ndarray, approx: np.ndarray, k: int = 10) -> float:
    """Mean fraction of the exact top-k labels that the approximate top-k also returns."""
    hits = [len(set(e[:k][e[:k] >= 0]) & set(a[:k])) / max(1, int((e[:k] >= 0).sum()))
            for e, a in zip(exact, approx, strict=True)]
    return float(np.mean(hits)) if hits else 1.0


def check_new_ids(store: VectorStore, docs: Sequence[Doc]) -> None:
    """InputError unless every doc's id is new to ``store`` and unique among ``docs``."""
    from mimo.errors import InputError

    ids = [d.id for d in docs]
    if len(set(ids)) != len(ids):
        raise InputError("the passages to add have duplicate ids")
    clash = sorted(set(ids) - set(store.missing(ids)))
    if clash:
        raise InputError(f"ids already in the index: {', '.join(map(repr, clash[:5]))}"
                         + (f" (+{len(clash) - 5} more)" if len(clash) > 5 else ""))


def check_known_ids(store: VectorStore, ids: Sequence[str]) -> None:
    from mimo.errors import InputError

    missing = store.missing(ids)
    if missing:
        raise InputError(f"ids not in the index: {', '.join(map(repr, missing[:5]))}"
                         + (f" (+{len(missing) - 5} more)" if len(missing) > 5 else ""))
