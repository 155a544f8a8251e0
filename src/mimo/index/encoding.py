"""Encoding passages and queries with a model's prompts, and the progress display (rate and ETA) of long jobs."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

import numpy as np

#: A non-terminal progress display (a log file, CI) prints one line this often.
LOG_EVERY_S = 10.0


class Encoder(Protocol):
    prompts: dict[str, str]

    def encode(self, texts: list[str], **kwargs: Any) -> np.ndarray: ...

    def get_sentence_embedding_dimension(self) -> int | None: ...


def load_encoder(model: str) -> Encoder:
    """Load an encoder (hub name, model dir, or a ``mimo export`` dir) via :func:`mimo.models.load_encoder`."""
    from mimo.models import load_encoder as _load

    return _load(str(model))


def _prompt_name(encoder: Encoder, name: str) -> str | None:
    return name if name in (getattr(encoder, "prompts", None) or {}) else None


def encode(encoder: Encoder, texts: Sequence[str], prompt: str, batch_size: int = 64,
           progress: bool = False, chunk: int = 1024) -> np.ndarray:
    """Encode ``texts`` with the encoder's ``prompt`` (if it has one) as L2-normalised float32."""
    name = _prompt_name(encoder, prompt)
    out: list[np.ndarray] = []
    with (progress_bar(len(texts), f"encoding {len(texts)} {prompt}s") if progress else null_progress()) as advance:
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


def _duration(s: float) -> str:
    s = int(max(0, s))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


@contextmanager
def progress_bar(total: int, desc: str, unit: str = "passages", done: int = 0) -> Iterator[Callable[[int], None]]:
    """Yield ``advance(n)``; shows done/total, rate and ETA (a bar on a terminal, a line every
    :data:`LOG_EVERY_S` seconds otherwise). ``done`` counts work finished before (a resumed job):
    it is shown but not counted in the rate."""
    from rich.console import Console

    console = Console(stderr=True)
    if console.is_terminal:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        rate = TextColumn("{task.fields[rate]}")
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), rate,
                      TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=console) as bar:
            task = bar.add_task(desc, total=total, completed=done, rate="")
            t0, new = time.perf_counter(), 0

            def advance(n: int) -> None:
                nonlocal new
                new += n
                speed = new / max(time.perf_counter() - t0, 1e-9)
                bar.update(task, advance=n, rate=f"{speed:,.0f} {unit}/s")

            yield advance
        return
    t0 = last = time.perf_counter()
    count, new = done, 0

    def line() -> None:
        speed = new / max(time.perf_counter() - t0, 1e-9)
        eta = _duration((total - count) / speed) if speed > 0 else "?"
        console.print(f"{desc}: {count:,}/{total:,} {unit}, {speed:,.0f} {unit}/s, ETA {eta}", soft_wrap=True)

    def advance_log(n: int) -> None:
        nonlocal count, new, last
        count, new = count + n, new + n
        if time.perf_counter() - last >= LOG_EVERY_S:
            last = time.perf_counter()
            line()

    yield advance_log
    line()


@contextmanager
def null_progress() -> Iterator[Callable[[int], None]]:
    yield lambda n: None
