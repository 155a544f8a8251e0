"""Content-addressed, memory-mapped cache of teacher embeddings (compute each one once, ever).

Layout under ``root`` (default ``mimo.paths.teacher_cache_dir()``)::

    <namespace>/meta.json              teacher id, prompt, normalisation, dim, dtype
    <namespace>/<shard>.keys           N x 32 bytes: sha256(text) of each row
    <namespace>/<shard>.npy            N x dim float16/float32 (np.load(mmap_mode="r"))
    <namespace>/<shard>.done           commit marker: {"rows": N, "keys_sha256": ...}

``namespace = sha256(teacher id, prompt, normalize, dtype)[:16]``. A shard counts only once its
``.done`` marker exists and matches its files; markers are written last, atomically (temp +
rename), so an interrupted write is never read. Writers pick unique shard names, so several
processes can fill one namespace at once; duplicate rows across shards are harmless.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mimo.errors import MimoError
from mimo.paths import atomic_write_bytes, atomic_write_json, teacher_cache_dir

EncodeFn = Callable[[list[str]], np.ndarray]
ProgressFn = Callable[[int, int], None]


def text_key(text: str) -> bytes:
    """The 32-byte content address of one text."""
    return hashlib.sha256(text.encode("utf-8")).digest()


def namespace_id(teacher_id: str, prompt: str, normalize: bool, dtype: str) -> str:
    spec = json.dumps([teacher_id, prompt, bool(normalize), dtype])
    return hashlib.sha256(spec.encode()).hexdigest()[:16]


@dataclass
class CacheStats:
    namespace: str
    teacher_id: str
    prompt: str
    normalize: bool
    dim: int | None
    dtype: str
    rows: int
    shards: int
    bytes: int


class TeacherCache:
    """Embeddings of ``teacher_id`` (with ``prompt`` and ``normalize``) keyed by text hash.

    ``encode_fn(texts) -> (n, dim) array`` computes misses; ``read_only=True`` (or no encode_fn)
    turns a miss into a clear :class:`MimoError` instead.
    """

    def __init__(
        self,
        teacher_id: str,
        encode_fn: EncodeFn | None = None,
        *,
        prompt: str = "",
        normalize: bool = True,
        dtype: str = "float16",
        root: str | Path | None = None,
        read_only: bool = False,
        shard_rows: int = 4096,
    ) -> None:
        if dtype not in ("float16", "float32"):
            raise ValueError(f"teacher cache dtype must be float16 or float32, got {dtype!r}")
        self.teacher_id, self.prompt, self.normalize, self.dtype = teacher_id, prompt, normalize, dtype
        self.encode_fn, self.read_only, self.shard_rows = encode_fn, read_only, shard_rows
        self.root = Path(root) if root is not None else teacher_cache_dir()
        self.namespace = namespace_id(teacher_id, prompt, normalize, dtype)
        self.dir = self.root / self.namespace
        self._index: dict[bytes, tuple[str, int]] = {}
        self._arrays: dict[str, np.ndarray] = {}
        self.dim: int | None = None
        self.refresh()

    # -- reading -------------------------------------------------------------------------------
    def refresh(self) -> None:
        """(Re)scan committed shards (picks up shards other processes have written)."""
        meta = self.dir / "meta.json"
        if meta.exists():
            self.dim = json.loads(meta.read_text())["dim"]
        if not self.dir.is_dir():
            return
        for done in sorted(self.dir.glob("*.done")):
            name = done.stem
            if name in self._arrays:
                continue
            try:
                info = json.loads(done.read_text())
                keys = (self.dir / f"{name}.keys").read_bytes()
                arr = np.load(self.dir / f"{name}.npy", mmap_mode="r")
            except (OSError, ValueError):
                continue  # unreadable shard: ignore, its rows get recomputed
            if (
                len(keys) != 32 * info["rows"]
                or arr.shape[0] != info["rows"]
                or hashlib.sha256(keys).hexdigest() != info["keys_sha256"]
            ):
                continue
            self._arrays[name] = arr
            for row in range(info["rows"]):
                self._index.setdefault(keys[32 * row : 32 * row + 32], (name, row))

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, text: str) -> bool:
        return text_key(text) in self._index

    def missing(self, texts: Sequence[str]) -> list[str]:
        seen: set[bytes] = set()
        out = []
        for t in texts:
            k = text_key(t)
            if k not in self._index and k not in seen:
                seen.add(k)
                out.append(t)
        return out

    def get(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings (float32) of texts that are all cached; a miss raises MimoError."""
        miss = self.missing(texts)
        if miss:
            raise MimoError(
                f"teacher cache {self.dir} ({self.teacher_id!r}, prompt {self.prompt!r}) lacks "
                f"{len(miss)} of {len(texts)} texts, e.g. {miss[0][:80]!r}; build it with "
                "`mimo teacher-cache build` or run without read-only mode"
            )
        out = np.empty((len(texts), self.dim or 0), dtype=np.float32)
        for i, t in enumerate(texts):
            name, row = self._index[text_key(t)]
            out[i] = self._arrays[name][row]
        return out

    # -- writing -------------------------------------------------------------------------------
    def get_or_compute(
        self, texts: Sequence[str], progress: ProgressFn | None = None, batch_size: int = 64
    ) -> np.ndarray:
        """Embeddings of ``texts`` (float32, row-aligned); computes and stores the misses.

        ``progress(done, total)`` is called after each computed batch. Computed rows are
        committed in shards of ``shard_rows``, so an interruption loses at most one shard.
        """
        texts = list(texts)
        miss = self.missing(texts)
        if miss and (self.read_only or self.encode_fn is None):
            self.get(texts)  # raises with a clear message
        miss = sorted(miss, key=len)  # batches of similar length pad less; rows are looked up by text below
        pending_t: list[str] = []
        pending_e: list[np.ndarray] = []
        for start in range(0, len(miss), batch_size):
            chunk = miss[start : start + batch_size]
            emb = np.asarray(self.encode_fn(chunk), dtype=np.float32)
            if emb.shape[0] != len(chunk):
                raise MimoError(f"teacher encode_fn returned {emb.shape[0]} rows for {len(chunk)} texts")
            pending_t += chunk
            pending_e.append(emb)
            if len(pending_t) >= self.shard_rows:
                self._write_shard(pending_t, np.concatenate(pending_e))
                pending_t, pending_e = [], []
            if progress:
                progress(min(start + batch_size, len(miss)), len(miss))
        if pending_t:
            self._write_shard(pending_t, np.concatenate(pending_e))
        return self.get(texts)

    def _write_shard(self, texts: list[str], emb: np.ndarray) -> None:
        if emb.ndim != 2:
            raise MimoError(f"teacher embeddings must be 2-D, got shape {emb.shape}")
        if self.dim is not None and emb.shape[1] != self.dim:
            raise MimoError(f"teacher embeddings have dim {emb.shape[1]}, cache {self.dir} holds {self.dim}")
        self.dir.mkdir(parents=True, exist_ok=True)
        if self.dim is None:
            self.dim = int(emb.shape[1])
            meta = {
                "teacher_id": self.teacher_id, "prompt": self.prompt, "normalize": self.normalize,
                "dim": self.dim, "dtype": self.dtype,
            }
            if not (self.dir / "meta.json").exists():
                atomic_write_json(self.dir / "meta.json", meta)
        name = f"shard-{uuid.uuid4().hex[:12]}"
        keys = b"".join(text_key(t) for t in texts)
        tmp = self.dir / f".{name}.npy.tmp"
        with open(tmp, "wb") as f:
            np.save(f, emb.astype(self.dtype))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.dir / f"{name}.npy")
        atomic_write_bytes(self.dir / f"{name}.keys", keys)
        atomic_write_json(
            self.dir / f"{name}.done", {"rows": len(texts), "keys_sha256": hashlib.sha256(keys).hexdigest()}
        )
        self.refresh()


def cache_stats(root: str | Path | None = None) -> list[CacheStats]:
    """One record per namespace under ``root``."""
    root = Path(root) if root is not None else teacher_cache_dir()
    out = []
    for meta_path in sorted(root.glob("*/meta.json")):
        meta = json.loads(meta_path.read_text())
        d = meta_path.parent
        rows = sum(json.loads(p.read_text())["rows"] for p in d.glob("*.done"))
        size = sum(p.stat().st_size for p in d.iterdir() if p.is_file())
        out.append(
            CacheStats(
                d.name, meta["teacher_id"], meta["prompt"], meta["normalize"], meta["dim"], meta["dtype"],
                rows, len(list(d.glob("*.done"))), size,
            )
        )
    return out


def clear_cache(root: str | Path | None = None, teacher_id: str | None = None) -> int:
    """Delete every namespace (or only ``teacher_id``'s); returns how many were removed."""
    root = Path(root) if root is not None else teacher_cache_dir()
    n = 0
    for d in sorted(p for p in root.glob("*") if p.is_dir()):
        meta = d / "meta.json"
        if teacher_id is not None:
            if not meta.exists() or json.loads(meta.read_text())["teacher_id"] != teacher_id:
                continue
        shutil.rmtree(d)
        n += 1
    return n


def model_encode_fn(model, prompt: str = "", normalize: bool = True, batch_size: int = 32) -> EncodeFn:
    """An ``encode_fn`` for a SentenceTransformer / mimo Encoder with a literal prompt string."""

    def fn(texts: list[str]) -> np.ndarray:
        kw = {"prompt": prompt} if prompt else {}
        return np.asarray(
            model.encode(
                list(texts), batch_size=batch_size, normalize_embeddings=normalize,
                convert_to_numpy=True, show_progress_bar=False, **kw,
            )
        )

    return fn
