"""Sharded, resumable encoding: a corpus becomes Parquet shards of (id, lang, vector) in a shard directory.

Shard ``j`` holds passages ``[j * size, (j + 1) * size)`` in corpus order and is written atomically, so
an interrupted build resumes at the first missing shard. ``plan.json`` pins what the shards were made
from (model, prompts, corpus digest, shard size): a shard directory never mixes two corpora or models.
The work can be split over N local processes (``workers``) or, with ``--shard i/N``, machine ``i`` of
``N`` encodes the ``i``-th contiguous range of shards.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mimo.errors import InputError, MimoError
from mimo.index.corpus import Doc, digest, passage_text
from mimo.index.encoding import Encoder, encode, load_encoder, null_progress, progress_bar
from mimo.paths import atomic_write_bytes, atomic_write_json

SHARD_SIZE = 10_000


def parse_shard(spec: str | None) -> tuple[int, int] | None:
    """``"i/N"`` -> (i, N) with 0 <= i < N; None for None."""
    if spec is None:
        return None
    try:
        i, n = (int(x) for x in spec.split("/"))
    except ValueError:
        raise InputError(f"--shard {spec!r}: expected i/N, e.g. 0/4 (machine 0 of 4)") from None
    if n < 1 or not 0 <= i < n:
        raise InputError(f"--shard {spec!r}: need 0 <= i < N")
    return i, n


@dataclass
class ShardPlan:
    """Where the shards of one (corpus, model) pair live and which passages each holds."""

    dir: Path
    n: int  #: passages in the corpus
    size: int  #: passages per shard

    @property
    def count(self) -> int:
        return -(-self.n // self.size)

    def span(self, j: int) -> tuple[int, int]:
        return j * self.size, min(self.n, (j + 1) * self.size)

    def path(self, j: int) -> Path:
        return self.dir / f"shard-{j:05d}.parquet"

    def mine(self, shard: tuple[int, int] | None) -> range:
        """The shard numbers of machine ``i`` of ``N`` (a contiguous range), or all of them."""
        if shard is None:
            return range(self.count)
        i, n = shard
        return range(i * self.count // n, (i + 1) * self.count // n)

    def missing(self, shards: Sequence[int]) -> list[int]:
        return [j for j in shards if not self.path(j).exists()]


def plan_shards(docs: Sequence[Doc], model: str, prompts: dict[str, Any], shard_dir: str | Path,
                size: int = SHARD_SIZE) -> ShardPlan:
    """Create ``shard_dir/plan.json`` or check that the shards there were made from the same input."""
    if size < 1:
        raise InputError(f"--shard-size must be at least 1, got {size}")
    shard_dir = Path(shard_dir)
    want = {"model": model, "prompts": prompts, "corpus_sha256": digest(docs), "passages": len(docs),
            "shard_size": size}
    path = shard_dir / "plan.json"
    if path.exists():
        have = json.loads(path.read_text())
        diff = [k for k in want if have.get(k) != want[k]]
        if diff:
            raise InputError(f"{shard_dir} holds shards of another build ({', '.join(diff)} differ); "
                             "delete it or pass another --shard-dir")
    else:
        shard_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_json(path, want)
    return ShardPlan(shard_dir, len(docs), size)


def write_shard(path: Path, docs: Sequence[Doc], vectors: np.ndarray) -> None:
    """One Parquet file of id, lang and vector (fixed-size float32 list), written atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    flat = pa.array(vectors.reshape(-1), type=pa.float32())
    table = pa.table({"id": [d.id for d in docs], "lang": [d.lang for d in docs],
                      "vector": pa.FixedSizeListArray.from_arrays(flat, vectors.shape[1])})
    buf = io.BytesIO()
    pq.write_table(table, buf)
    atomic_write_bytes(path, buf.getvalue())


def read_shard(plan: ShardPlan, j: int, docs: Sequence[Doc]) -> np.ndarray:
    """Shard ``j``'s vectors, checked to belong to ``docs`` (the corpus the plan was made from)."""
    import pyarrow.parquet as pq

    path = plan.path(j)
    try:
        table = pq.read_table(path)
    except Exception as e:  # noqa: BLE001 - a damaged file: say which, and how to recover
        raise MimoError(f"{path}: unreadable shard ({e}); delete it and run the build again to re-encode it") from None
    start, stop = plan.span(j)
    if table.column("id").to_pylist() != [d.id for d in docs[start:stop]]:
        raise MimoError(f"{path}: its ids are not passages {start}..{stop - 1} of this corpus; delete {plan.dir}")
    col = table.column("vector").combine_chunks()
    return np.asarray(col.values.to_numpy(zero_copy_only=False), dtype=np.float32).reshape(len(table), col.type.list_size)


def encode_shards(plan: ShardPlan, docs: Sequence[Doc], shards: Sequence[int], model: str,
                  encoder: Encoder | None = None, batch_size: int = 64, workers: int = 1,
                  progress: bool = False, on_shard: Callable[[int], None] | None = None) -> int:
    """Encode every missing shard of ``shards`` (resuming after an interruption); returns how many were
    encoded. ``workers`` > 1 runs that many processes, each loading ``model`` itself."""
    todo = plan.missing(shards)
    total = sum(plan.span(j)[1] - plan.span(j)[0] for j in shards)
    left = sum(plan.span(j)[1] - plan.span(j)[0] for j in todo)
    if not todo:
        return 0
    desc = f"encoding {len(todo)} of {len(shards)} shards"
    with progress_bar(total, desc, done=total - left) if progress else null_progress() as advance:
        if workers <= 1:
            enc = encoder if encoder is not None else load_encoder(model)
            for j in todo:
                _encode_one(plan, docs, j, enc, batch_size)
                advance(plan.span(j)[1] - plan.span(j)[0])
                if on_shard:
                    on_shard(j)
        else:
            _encode_parallel(plan, docs, todo, model, batch_size, workers, advance, on_shard)
    return len(todo)


def _encode_one(plan: ShardPlan, docs: Sequence[Doc], j: int, enc: Encoder, batch_size: int) -> None:
    start, stop = plan.span(j)
    part = docs[start:stop]
    write_shard(plan.path(j), part, encode(enc, [passage_text(d) for d in part], "passage", batch_size))


def _encode_parallel(plan: ShardPlan, docs: Sequence[Doc], todo: Sequence[int], model: str, batch_size: int,
                     workers: int, advance: Callable[[int], None], on_shard: Callable[[int], None] | None) -> None:
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    threads = max(1, (os.cpu_count() or 1) // workers)
    with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"), initializer=_init_worker,
                             initargs=(model, threads)) as pool:
        futures = {pool.submit(_worker_encode, plan, list(docs[slice(*plan.span(j))]), j, batch_size): j
                   for j in todo}
        for fut in as_completed(futures):
            j = fut.result()
            advance(plan.span(j)[1] - plan.span(j)[0])
            if on_shard:
                on_shard(j)


_WORKER: dict[str, Any] = {}


def _init_worker(model: str, threads: int) -> None:
    import torch

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    torch.set_num_threads(threads)
    _WORKER["encoder"] = load_encoder(model)


def _worker_encode(plan: ShardPlan, part: list[Doc], j: int, batch_size: int) -> int:
    vecs = encode(_WORKER["encoder"], [passage_text(d) for d in part], "passage", batch_size)
    write_shard(plan.path(j), part, vecs)
    return j
