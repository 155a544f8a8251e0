"""Retrieval pairs from a page's units, and the seeded choice of benchmark pages.

A retrieval pair is a query-like unit (title, keyword, description, heading) and the passage that
follows it on its page: the next run of paragraph units (up to ``passage_units`` of them, stopping
at the next query-like unit or once ``passage_chars`` English characters are reached). A language
version exists when the query and every paragraph of the passage exist in that language.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Sequence

from mimo.data.clean import is_untranslated
from mimo.data.config import BuildConfig, min_langs
from mimo.data.types import PASSAGE_KINDS, QUERY_KINDS, AlignedUnit, Pair


def page_pairs(units: Sequence[AlignedUnit], cfg: BuildConfig) -> list[Pair]:
    """Pairs of one page (units in document order), before the cross-page query filter."""
    out = []
    for i, q in enumerate(units):
        if q.kind not in QUERY_KINDS:
            continue
        j = i + 1
        while j < len(units) and units[j].kind in QUERY_KINDS:
            j += 1  # a title (or a keyword before a heading) is answered by the paragraphs that follow
        run: list[AlignedUnit] = []
        while j < len(units) and units[j].kind in PASSAGE_KINDS and len(run) < cfg.passage_units:
            run.append(units[j])
            j += 1
            if sum(len(u.texts["en"]) for u in run) >= cfg.passage_chars:
                break
        if not run:
            continue
        passage = {lg: " ".join(u.texts[lg] for u in run) for lg in run[0].texts
                   if all(lg in u.texts for u in run)}
        en_q, en_p = q.texts["en"], passage["en"]
        lo, hi = cfg.query_chars
        if not lo <= len(en_q) <= hi or len(en_p) < 60:
            continue
        if len(en_q.split()) >= 3 and en_q.casefold() in en_p.casefold():
            continue  # the query is copied from the passage
        passage = {lg: t for lg, t in passage.items()
                   if lg == "en" or (len(t) >= 20 and not is_untranslated(en_p, t, lg))}
        query = {lg: t for lg, t in q.texts.items() if lg in passage}
        if len(query) < 2:
            continue
        group = f"{run[0].unit_id}+{len(run)}"
        out.append(Pair(q.unit_id, (q.source, q.page_id), q.source, q.kind, group, query, passage,
                        tuple(u.texts["en"] for u in run)))
    return out


def unambiguous(pairs: Sequence[Pair]) -> list[Pair]:
    """``pairs`` without those whose English query text is shared by several pages ("Syntax",
    "Example"): such a query has no one right answer."""
    q_pages: dict[str, set] = defaultdict(set)
    for p in pairs:
        q_pages[p.query["en"].casefold()].add(p.page)
    return [p for p in pairs if len(q_pages[p.query["en"].casefold()]) == 1]


def split_pages(pairs: Sequence[Pair], cfg: BuildConfig) -> tuple[set, set]:
    """Seeded choice of benchmark pages: pages with pairs in >= ``bench_min_langs`` languages."""
    per_page: dict[tuple[str, str], int] = Counter()
    for p in pairs:
        if len(p.langs()) - 1 >= min_langs(cfg):
            per_page[p.page] += 1
    eligible = sorted(per_page)
    random.Random(cfg.seed).shuffle(eligible)
    dev: set = set()
    test: set = set()
    n_dev = n_test = 0
    for pg in eligible:
        k = min(per_page[pg], cfg.queries_per_page)
        if n_dev < cfg.dev_queries:
            dev.add(pg)
            n_dev += k
        elif n_test < cfg.test_queries:
            test.add(pg)
            n_test += k
        else:
            break
    return dev, test
