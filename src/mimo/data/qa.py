"""Question-style benchmark pages (``mlir-qa-dev`` / ``mlir-qa-test``): a help page whose title is a
question or a task ("Where do I get color profiles?", "Change the screen brightness", "Saving a
Presentation in HTML Format"), answered by the page's own text.

Candidates (:data:`QA_PAGES`): every GNOME help page, LibreOffice help how-to pages (``*/guide/*``)
and installation-guide sections, whose title :func:`mimo.data.kinds.group_kind` tags as a question
or a task (installation-guide: questions only, its other titles are chapter names). The answer is
the body after the title: headings and paragraphs in document order until ``qa_passage_chars``
English characters (at most ``qa_passage_units`` units), keeping only units translated into every
language of the first paragraph, so each language version says the same thing. A page is split as
a whole (:func:`split_qa`): pages already held out for ``mlir-dev`` / ``mlir-test`` serve
``mlir-qa-dev`` / ``mlir-qa-test`` first, training pages fill the rest; every text of a held-out
page is kept out of every training output (``mimo.data.build``).
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence

from mimo.data.clean import is_untranslated
from mimo.data.config import BuildConfig
from mimo.data.kinds import QUESTION, TASK, group_kind
from mimo.data.types import AlignedUnit, Pair

#: source -> (page-id test, kinds accepted as benchmark queries)
QA_PAGES: dict[str, tuple[str, tuple[str, ...]]] = {
    "gnome-user-docs": ("", (QUESTION, TASK)),
    "libreoffice-help": ("/guide/", (QUESTION, TASK)),
    "installation-guide": ("", (QUESTION,)),
}
BODY_KINDS = frozenset({"paragraph", "heading"})


def qa_pair(units: Sequence[AlignedUnit], cfg: BuildConfig) -> Pair | None:
    """The (title -> answer) pair of one page (units in document order), or None when the page is
    not a question/task page or has no usable answer."""
    if not units or units[0].source not in QA_PAGES:
        return None
    marker, kinds = QA_PAGES[units[0].source]
    if marker not in units[0].page_id:
        return None
    ti = next((i for i, u in enumerate(units) if u.kind == "title"), None)
    if ti is None:
        return None
    title = units[ti]
    lo, hi = cfg.query_chars
    if group_kind(title.texts) not in kinds or not lo <= len(title.texts["en"]) <= hi:
        return None
    got = page_answer(units[ti + 1:], set(title.texts), cfg)
    if got is None:
        return None
    passage, run = got
    query = {lg: t for lg, t in title.texts.items() if lg in passage}
    if len(query) < 2:
        return None
    return Pair(f"{title.unit_id}#qa", (title.source, title.page_id), title.source, title.kind,
                f"{title.unit_id}#answer", query, passage, tuple(u.texts["en"] for u in run))


def page_answer(after_title: Sequence[AlignedUnit], langs: set[str], cfg: BuildConfig
                ) -> tuple[dict[str, str], list[AlignedUnit]] | None:
    """The answer passage per language (and its units) made of the body units ``after_title``,
    in the languages of ``langs`` that translate the first paragraph; None when too short."""
    body = [u for u in after_title if u.kind in BODY_KINDS]
    first = next((u for u in body if u.kind == "paragraph"), None)  # its languages are the answer's
    if first is None:
        return None
    langs = langs & _translated(first)
    run: list[AlignedUnit] = []
    for u in body:
        if len(run) >= cfg.qa_passage_units or sum(len(x.texts["en"]) for x in run) >= cfg.qa_passage_chars:
            break
        if langs <= _translated(u):  # else skipped: every language version holds the same units
            run.append(u)
    while run and run[-1].kind == "heading":
        run.pop()  # an answer does not end on a heading
    en_p = "\n".join(u.texts["en"] for u in run)
    if len(en_p) < cfg.qa_min_passage_chars:
        return None
    passage = {lg: "\n".join(u.texts[lg] for u in run) for lg in sorted(langs)}
    passage = {lg: t for lg, t in passage.items()
               if lg == "en" or (len(t) >= 20 and not is_untranslated(en_p, t, lg))}
    return passage, run


def distractor(units: Sequence[AlignedUnit], cfg: BuildConfig) -> dict[str, str] | None:
    """A page's opening answer-like passage (its body after the title, as :func:`page_answer`), for
    any page: the QA corpus adds these from held-out pages that are not QA pages, so a question's
    answer competes with help passages of the same form that answer none of the queries."""
    ti = next((i for i, u in enumerate(units) if u.kind == "title"), None)
    if ti is None:
        return None
    got = page_answer(units[ti + 1:], set(units[ti].texts), cfg)
    return got[0] if got and len(got[0]) >= 2 else None


def qa_pairs(pages: dict[tuple[str, str], list[AlignedUnit]], cfg: BuildConfig) -> list[Pair]:
    """The (title -> answer) pair of every question/task page, except those whose title names several pages."""
    titles: dict[str, set] = defaultdict(set)
    for pg, units in pages.items():
        for u in units:
            if u.kind == "title":
                titles[u.texts["en"].casefold()].add(pg)
    out = [p for units in pages.values() if (p := qa_pair(units, cfg)) is not None]
    return [p for p in out if len(titles[p.query["en"].casefold()]) == 1]


def distractors(pages: dict[tuple[str, str], list[AlignedUnit]], chosen: set, answers: Sequence[Pair],
                cfg: BuildConfig) -> dict[str, dict[str, str]]:
    """Corpus-only passages (group key -> texts per language) of the held-out pages ``chosen``; one
    that shares a paragraph with a gold answer (pages that repeat each other) is left out."""
    gold = {t.casefold() for p in answers for t in p.units}
    out = {}
    for pg in sorted(chosen):
        texts = distractor(pages[pg], cfg)
        if texts is not None and not any(t.casefold() in gold for t in texts["en"].split("\n")):
            out[f"{pg[0]}:{pg[1]}#intro"] = texts
    return out


def _translated(u: AlignedUnit) -> set[str]:
    """Languages that really translate ``u`` (English itself included): the help packages leave
    some units in English ('Choose Insert - Text from File.' on a Japanese page)."""
    en = u.texts["en"]
    return {lg for lg, t in u.texts.items() if lg == "en" or not is_untranslated(en, t, lg)}


def split_qa(pairs: Sequence[Pair], cfg: BuildConfig, min_langs: int, dev_pool: set, test_pool: set
             ) -> tuple[set, set]:
    """Seeded page split into (qa-dev pages, qa-test pages).

    Pages already held out for ``mlir-dev`` (``dev_pool``) can only go to qa-dev and those of
    ``mlir-test`` only to qa-test, so no training page is spent where a held-out one serves and a dev
    page never meets a test page; training pages fill what is missing, stratified by (source, query
    kind) so that both splits get the same mix; the rest stays training."""
    eligible = sorted({p.page: p for p in pairs if len(p.langs()) - 1 >= min_langs}.items())
    kind = {pg: (p.source, group_kind(p.query)) for pg, p in eligible}

    def take(pool: list, n: int, tag: str) -> list:
        pool = sorted(pool)
        random.Random(f"{cfg.seed}:qa:{tag}").shuffle(pool)
        return pool[:max(0, n)]

    dev = set(take([pg for pg in kind if pg in dev_pool], cfg.qa_dev_queries, "dev"))
    test = set(take([pg for pg in kind if pg in test_pool], cfg.qa_test_queries, "test"))
    need_dev, need_test = cfg.qa_dev_queries - len(dev), cfg.qa_test_queries - len(test)
    strata: dict[tuple[str, str], list] = defaultdict(list)
    for pg, key in kind.items():
        if pg not in dev_pool and pg not in test_pool:
            strata[key].append(pg)
    total = sum(len(v) for v in strata.values())
    scale = min(1.0, total / (need_dev + need_test)) if need_dev + need_test > 0 else 0.0
    for key in sorted(strata):
        pages = take(strata[key], len(strata[key]), str(key))
        n_dev = round(len(pages) * need_dev * scale / total) if total else 0
        n_test = round(len(pages) * need_test * scale / total) if total else 0
        dev.update(pages[:n_dev])
        test.update(pages[n_dev:n_dev + n_test])
    return dev, test
