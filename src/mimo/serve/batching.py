"""Micro-batching: concurrent ``/search`` jobs are encoded in one forward pass and searched per language filter."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mimo.index import SearchIndex, encode


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
