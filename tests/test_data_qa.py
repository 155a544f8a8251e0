"""mlir-qa-dev / mlir-qa-test on real fixture pages: GNOME help and LibreOffice how-to pages, their
answers, the page split, and that no text of a held-out page reaches any training output."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

from mimo.data import build, gnome
from mimo.data.build import BuildConfig, benchmark_dir, build_all, load_parallel, load_retrieval_train
from mimo.data.clean import FilterConfig
from mimo.data.libreoffice import iter_help_units_from
from mimo.data.qa import qa_pair

FIX = Path(__file__).parent / "fixtures"
INFO = {"packages": [], "licence": "MPL-2.0", "kind": "debian", "url": "", "description": "fixture"}
GNOME_INFO = {**INFO, "licence": "CC-BY-SA-3.0"}


def _help(langs=()):
    yield from iter_help_units_from({lg: FIX / "data" / "lo-help" / d for lg, d in (("en", "en-US"), ("de", "de"), ("ja", "ja"))})
    yield from iter_help_units_from({lg: FIX / "data" / "lo-help-guide" / d
                                     for lg, d in (("en", "en-US"), ("de", "de"), ("ja", "ja"))})


def _gnome(langs=()):
    return gnome.iter_units_from(FIX / "sources" / "gnome-help", ("de", "ja", "pt"))


FAKES = {"libreoffice-help": (_help, INFO), "gnome-user-docs": (_gnome, GNOME_INFO)}


def _pages(units):
    out = defaultdict(list)
    for u in units:
        out[(u.source, u.page_id)].append(u)
    return out


def _cfg(**kw) -> BuildConfig:
    base = dict(langs=("de", "ja", "pt"), sources=("libreoffice-help", "gnome-user-docs"), seed=3,
                filters=FilterConfig(cap=None), dev_queries=1, test_queries=2, bench_min_langs=1,
                queries_per_page=1, passages_per_page=2, qa_dev_queries=1, qa_test_queries=2)
    return BuildConfig(**(base | kw))


def test_qa_pair_is_title_to_steps():
    pages = _pages(_help())
    p = qa_pair(pages[("libreoffice-help", "libreoffice-help:text/simpress/guide/html_export.xhp")], _cfg())
    assert p is not None and p.query["en"] == "Saving a Presentation in HTML Format"
    steps = p.passage["en"].split("\n")
    assert steps[:3] == ["Open the presentation that you want to save in HTML format.", "Choose File - Export.",
                         "Set the File type to HTML Document (LibreOffice Impress) (.html;.htm)."]
    assert len(p.passage["en"]) <= 600 + 200 and set(p.passage) == {"en", "de", "ja"}
    assert p.passage["de"].split("\n")[1] == "Wählen Sie Datei – Exportieren…"
    # the ja package leaves the first step of border_character in English: no Japanese version of that answer
    border = qa_pair(pages[("libreoffice-help", "libreoffice-help:text/swriter/guide/border_character.xhp")], _cfg())
    assert border is not None and border.langs() == ["en", "de"] and "ja" not in border.passage
    # reference pages (not */guide/*) are not question/task pages
    assert qa_pair(pages[("libreoffice-help", "libreoffice-help:text/swriter/01/04040000.xhp")], _cfg()) is None
    g = _pages(_gnome())
    bounce = qa_pair(g[("gnome-user-docs", "gnome-help/a11y-bouncekeys")], _cfg())
    assert bounce is not None and bounce.query["en"] == "Turn on bounce keys"
    assert bounce.passage["en"].startswith("Turn on bounce keys to ignore key presses that are rapidly repeated.")
    assert "pt" in bounce.passage and "ja" in bounce.passage


@pytest.fixture
def built(monkeypatch, tmp_path):
    monkeypatch.setenv("MIMO_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(build, "_source_module", lambda name: FAKES[name])
    out = tmp_path / "data"
    return out, build_all(config=_cfg(), out_dir=out)


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_qa_benchmarks_disjoint_from_training_and_mlir(built):
    out, m = built
    qa = set(m.splits["mlir-qa-dev"]) | set(m.splits["mlir-qa-test"])
    assert m.splits["mlir-qa-dev"] and m.splits["mlir-qa-test"]
    assert m.counts["mlir-qa-test"]["distractor_groups"] > 0
    assert not set(m.splits["mlir-qa-dev"]) & set(m.splits["mlir-qa-test"])
    # a dev page never meets a test page (QA pages may reuse their own split's mlir pages)
    assert not set(m.splits["mlir-qa-dev"]) & set(m.splits["mlir-test"])
    assert not set(m.splits["mlir-qa-test"]) & set(m.splits["mlir-dev"])
    # no text of any held-out QA page (title, answer, or any other unit of it) in any training row
    units = [*_help(), *_gnome()]
    held = {u.texts["en"].casefold() for u in units if f"{u.source}|{u.page_id}" in qa}
    par, ret = load_parallel(out).to_list(), load_retrieval_train(out).to_list()
    train_en = ({r["english"].casefold() for r in par} | {r["query"].casefold() for r in ret if r["lang"] == "en"}
                | {t.casefold() for r in ret if r["lang"] == "en" for t in r["passage"].split("\n")})
    assert held and not held & train_en
    assert not any(h in r["passage"].casefold() for r in ret if r["lang"] == "en" for h in held if len(h) > 30)
    held_pages = {h.split("|", 1)[1] for h in qa}
    assert not {r["unit_id"].split("#")[0] for r in par} & held_pages
    assert not {r["pair_id"].split("#")[0] for r in ret} & held_pages


def test_qa_benchmark_layout_kinds_and_manifest(built):
    out, m = built
    for name in ("mlir-qa-dev", "mlir-qa-test"):
        d = benchmark_dir(name, out)
        queries, corpus = _jsonl(d / "queries.jsonl"), _jsonl(d / "corpus.jsonl")
        assert queries and {q["kind"] for q in queries} <= {"question", "task"}
        qrels = defaultdict(set)
        for line in (d / "qrels" / "test.tsv").read_text().splitlines()[1:]:
            q, c, _ = line.split("\t")
            qrels[q].add(c)
        by_group = defaultdict(set)
        for c in corpus:
            by_group[c["group"]].add(c["_id"])
        for q in queries:  # pooled: every language version of the answer is relevant
            assert qrels[q["_id"]] in by_group.values()
        c = m.counts[name]
        # the other held-out pages of the split add their opening passages, relevant to no query
        gold = {d for docs in qrels.values() for d in docs}
        distract = {g for g, docs in by_group.items() if not docs & gold}
        assert len(distract) == c["distractor_groups"] == c["corpus_groups"] - c["query_groups"]
        assert c["query_groups"] == len({q["group"] for q in queries}) == c["pages"]
        assert sum(c["kinds"].values()) == c["query_groups"]
        assert set(c["licences"]) == set(c["sources"]) and all(c["licences"].values())
    # the mlir benchmarks carry kinds too (titles, headings and index terms)
    kinds = {q["kind"] for n in ("mlir-dev", "mlir-test") for q in _jsonl(benchmark_dir(n, out) / "queries.jsonl")}
    assert kinds <= {"question", "task", "heading", "index term"} and kinds
    assert set(load_retrieval_train(out)["kind"]) <= {"question", "task", "heading", "index term"}


def test_qa_split_is_seeded_and_stratified(built, tmp_path):
    out, m = built
    again = build_all(config=_cfg(), out_dir=tmp_path / "again")
    assert again.splits == m.splits
    assert build_all(config=_cfg(qa_dev_queries=0, qa_test_queries=0), out_dir=tmp_path / "none").counts[
        "mlir-qa-test"]["query_groups"] == 0
