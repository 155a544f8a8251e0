"""Deterministic batch plans: language-balanced Stage 1, ordered-language-pair-balanced Stage 2.

A plan is the full list of batches (row references) computed up front from the seed, so a
resumed run replays exactly the same data order.
"""

from __future__ import annotations

import itertools
import random
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Example:
    """One Stage-2 example: the aligned pair ``pair_id`` with the query in ``x`` and passage in ``y``."""

    pair_id: str
    x: str
    y: str


def _length_group(items: list, length, batch_size: int, rng: random.Random, window: int = 16) -> list[list]:
    """Cut ``items`` (already in sampled order) into batches, sorting each window of
    ``window`` batches by length so a batch pads little; the batches are then shuffled."""
    batches = []
    for start in range(0, len(items), batch_size * window):
        chunk = sorted(items[start : start + batch_size * window], key=length)
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    batches = [b for b in batches if len(b) == batch_size]
    rng.shuffle(batches)
    return batches


def plan_stage1(
    langs: Sequence[str],
    lengths: Sequence[int],
    steps: int,
    batch_size: int,
    seed: int,
    length_grouping: bool = True,
) -> tuple[list[list[int]], Counter]:
    """Row indices for ``steps`` batches, cycling round-robin over languages (``en`` identity rows
    included) so every language is seen equally; returns (batches, rows drawn per language)."""
    rng = random.Random(seed)
    by_lang: dict[str, list[int]] = defaultdict(list)
    for i, lang in enumerate(langs):
        by_lang[lang].append(i)
    pools = {lang: [] for lang in sorted(by_lang)}

    def draw(lang: str) -> int:
        if not pools[lang]:
            pools[lang] = by_lang[lang][:]
            rng.shuffle(pools[lang])
        return pools[lang].pop()

    need = steps * batch_size
    order = [draw(lang) for lang in itertools.islice(itertools.cycle(sorted(by_lang)), need)]
    if length_grouping:
        batches = _length_group(order, lambda i: lengths[i], batch_size, rng)
    else:
        batches = [order[i : i + batch_size] for i in range(0, need, batch_size)]
    return batches[:steps], Counter(langs[i] for b in batches[:steps] for i in b)


def language_pairs(langs: Sequence[str], same: bool) -> list[tuple[str, str]]:
    """All ordered pairs (X, Y) with X != Y, or the diagonal (X, X) when ``same``."""
    langs = sorted(set(langs))
    if same:
        return [(x, x) for x in langs]
    return [(x, y) for x in langs for y in langs if x != y]


def plan_stage2(
    pair_langs: dict[str, set[str]],
    lengths: dict[str, int],
    steps: int,
    batch_size: int,
    seed: int,
    same_language: bool = False,
    length_grouping: bool = True,
) -> tuple[list[list[Example]], Counter]:
    """Batches of :class:`Example` cycling over ordered language pairs (X, Y) so each is drawn
    equally; a pair_id appears at most once per batch (its twin would be a false negative).
    ``pair_langs`` maps pair_id -> languages it has; ``lengths`` pair_id -> a length proxy."""
    rng = random.Random(seed)
    all_langs = sorted({lang for ls in pair_langs.values() for lang in ls})
    candidates = {
        (x, y): sorted(pid for pid, ls in pair_langs.items() if x in ls and y in ls)
        for x, y in language_pairs(all_langs, same_language)
    }
    candidates = {k: v for k, v in candidates.items() if v}
    if not candidates:
        raise ValueError("no aligned pair has two languages to pair; check the retrieval-train data")
    pools: dict[tuple[str, str], list[str]] = {k: [] for k in candidates}

    def draw(key: tuple[str, str]) -> str:
        if not pools[key]:
            pools[key] = candidates[key][:]
            rng.shuffle(pools[key])
        return pools[key].pop()

    n_ids = len(set().union(*candidates.values()))
    if n_ids < batch_size:
        raise ValueError(f"only {n_ids} aligned pairs to sample from; need at least batch size {batch_size}")
    keys = sorted(candidates)
    rng.shuffle(keys)
    stream = itertools.cycle(keys)
    batches: list[list[Example]] = []
    while len(batches) < steps:
        n_b = min(16, steps - len(batches)) if length_grouping else 1
        items = [Example(draw(k), *k) for k in itertools.islice(stream, n_b * batch_size)]
        if length_grouping:
            items.sort(key=lambda e: lengths[e.pair_id])
        batches += _pack(items, n_b, batch_size, candidates, rng)
    if length_grouping:
        rng.shuffle(batches)
    batches = batches[:steps]
    return batches, Counter(f"{e.x}->{e.y}" for b in batches for e in b)


def _pack(
    items: list[Example], n_b: int, batch_size: int, candidates: dict[tuple[str, str], list[str]],
    rng: random.Random,
) -> list[list[Example]]:
    """Fill ``n_b`` batches in item order, a pair_id at most once per batch; an item with no
    room left is redrawn from its own (X, Y) pool, so the language-pair counts stay exact."""
    bins: list[list[Example]] = [[] for _ in range(n_b)]
    ids: list[set[str]] = [set() for _ in range(n_b)]
    unplaced, first = [], 0
    for ex in items:
        for j in range(first, n_b):
            if len(bins[j]) < batch_size and ex.pair_id not in ids[j]:
                bins[j].append(ex)
                ids[j].add(ex.pair_id)
                break
        else:
            unplaced.append(ex)
        while first < n_b and len(bins[first]) == batch_size:
            first += 1
    for ex in unplaced:
        j = next(j for j in range(n_b) if len(bins[j]) < batch_size)
        free = [pid for pid in candidates[(ex.x, ex.y)] if pid not in ids[j]]
        if not free:
            raise ValueError(f"cannot fill a batch of {batch_size} distinct pairs for {ex.x}->{ex.y}")
        pid = rng.choice(free)
        bins[j].append(Example(pid, ex.x, ex.y))
        ids[j].add(pid)
    return bins


def independent_languages(langs: list[list[str]], seed: int, step: int) -> list[str]:
    """One language per row, uniform over that row's ``langs`` and independent of the row's (X, Y):
    the reference LaKDA's passage language. Seeded by (seed, step), so a resumed run draws the same."""
    rng = random.Random(f"independent-languages:{seed}:{step}")
    return [rng.choice(ls) for ls in langs]
