"""The dataset builder and the filters, on the real LibreOffice fixture files (no network)."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from mimo.data import build
from mimo.data.build import BuildConfig, benchmark_dir, build_all, load_manifest, load_parallel
from mimo.data.clean import FilterConfig, filter_pairs, is_untranslated, reject_reason
from mimo.data.libreoffice import iter_help_units_from, iter_l10n_units_from
from mimo.errors import MimoError

FIX = Path(__file__).parent / "fixtures" / "data"
INFO = {"packages": [], "licence": "MPL-2.0", "kind": "debian", "url": "", "description": "fixture"}


def _help(langs=()):
    h = FIX / "lo-help"
    return iter_help_units_from({"en": h / "en-US", "de": h / "de", "ja": h / "ja"})


def _l10n(langs=()):
    return iter_l10n_units_from({"ar": FIX / "lo-l10n" / "ar", "de": FIX / "lo-l10n" / "de"})


def _broken(langs=()):
    yield from list(_help())[:5]
    raise MimoError("simulated failure half-way through a source")


FAKES = {"libreoffice-help": _help, "libreoffice-l10n": _l10n, "broken": _broken}


@pytest.fixture
def fake_sources(monkeypatch, tmp_path):
    monkeypatch.setenv("MIMO_HOME", str(tmp_path / "home"))
    monkeypatch.setitem(build.SOURCES, "broken", ("mimo.data.libreoffice", "x", "y"))
    monkeypatch.setattr(build, "_source_module", lambda name: (FAKES[name], INFO))


def _cfg(**kw) -> BuildConfig:
    base = dict(langs=("ar", "de", "ja"), sources=("libreoffice-help", "libreoffice-l10n"), seed=3,
                filters=FilterConfig(cap=None, message_min_words=1), dev_queries=2, test_queries=3,
                bench_min_langs=2, queries_per_page=1, passages_per_page=2)
    base.update(kw)
    return BuildConfig(**base)


@pytest.fixture
def built(fake_sources, tmp_path):
    out = tmp_path / "data"
    return out, build_all(config=_cfg(), out_dir=out)


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_manifest_counts_equal_dataset_rows(built):
    out, m = built
    for name in ("parallel", "retrieval-train"):
        ds = load_parallel(out) if name == "parallel" else build.load_retrieval_train(out)
        got: dict = defaultdict(Counter)
        for lang, src in zip(ds["lang"], ds["source"], strict=True):
            got[lang][src] += 1
        assert {k: dict(v) for k, v in got.items()} == m.counts[name]
        assert len(ds) > 0
    for name in ("mlir-dev", "mlir-test"):
        d = benchmark_dir(name, out)
        assert Counter(q["lang"] for q in _jsonl(d / "queries.jsonl")) == m.counts[name]["queries"]
        assert Counter(c["lang"] for c in _jsonl(d / "corpus.jsonl")) == m.counts[name]["corpus"]
    assert json.loads((out / "manifest.json").read_text())["counts"] == m.counts
    assert load_manifest(out).counts == m.counts
    assert m.counts["parallel"]["ar"] == {"libreoffice-l10n": 3}  # ar: catalogs only, no help
    ar = {r["english"] for r in load_parallel(out).to_list() if r["lang"] == "ar"}
    assert ar == {"Please press enter to go into child control for more operations",
                  "Horizontal scroll bar", "Vertical scroll bar"}  # the rest is < 10 characters
    # the table sums per builder source
    row = {r["lang"]: r for r in m.lang_table()}["de"]
    assert row["parallel"] == row["libreoffice-help"] + row["libreoffice-l10n"]


def test_parallel_schema_filters_and_identity_rows(built):
    out, _ = built
    ds = load_parallel(out)
    assert ds.column_names == ["english", "translation", "lang", "source", "unit_id", "split"]
    rows = ds.to_list()
    en = [r for r in rows if r["lang"] == "en"]
    other = [r for r in rows if r["lang"] != "en"]
    assert all(r["translation"] == r["english"] for r in en)
    assert {r["english"] for r in en} == {r["english"] for r in other}
    assert len({r["english"] for r in en}) == len(en)
    keys = [(r["lang"], r["english"].casefold(), r["translation"].casefold()) for r in other]
    assert len(keys) == len(set(keys))  # dedup
    assert all(10 <= len(r["english"]) <= 512 for r in other)
    # the untranslated Japanese paragraph of 01160300 (the ja package left it in English) is dropped
    ja = {r["unit_id"] for r in other if r["lang"] == "ja"}
    assert not any(u.endswith("01160300.xhp#par_id3149286") for u in ja)
    assert {r["split"] for r in rows} == {"train"}


def test_benchmark_pages_never_in_training(built):
    out, m = built
    held = set(m.splits["mlir-dev"]) | set(m.splits["mlir-test"])
    assert m.splits["mlir-dev"] and m.splits["mlir-test"]
    assert not set(m.splits["mlir-dev"]) & set(m.splits["mlir-test"])
    held_pages = {h.split("|", 1)[1] for h in held}
    par = load_parallel(out).to_list()
    ret = build.load_retrieval_train(out).to_list()
    assert not {r["unit_id"].split("#")[0] for r in par} & held_pages
    assert not {r["pair_id"].split("#")[0] for r in ret} & held_pages
    train_text = {r["english"] for r in par} | {r["passage"] for r in ret} | {r["query"] for r in ret}
    for name in ("mlir-dev", "mlir-test"):
        d = benchmark_dir(name, out)
        bench_text = {c["text"] for c in _jsonl(d / "corpus.jsonl")} | {q["text"] for q in _jsonl(d / "queries.jsonl")}
        assert not bench_text & train_text


def test_qrels_are_pooled_and_consistent(built):
    out, _ = built
    for name in ("mlir-dev", "mlir-test"):
        d = benchmark_dir(name, out)
        corpus = {c["_id"]: c for c in _jsonl(d / "corpus.jsonl")}
        queries = {q["_id"]: q for q in _jsonl(d / "queries.jsonl")}
        lines = (d / "qrels" / "test.tsv").read_text().splitlines()
        assert lines[0] == "query-id\tcorpus-id\tscore"
        rel: dict = defaultdict(set)
        for line in lines[1:]:
            q, c, s = line.split("\t")
            assert q in queries and c in corpus and s == "1"
            rel[q].add(c)
        assert set(rel) == set(queries)
        by_group: dict = defaultdict(set)
        for cid, c in corpus.items():
            by_group[c["group"]].add(cid)
            assert cid == f"{c['group']}-{c['lang']}" and c["title"] == ""
        for docs in rel.values():
            groups = {corpus[c]["group"] for c in docs}
            assert len(groups) == 1  # one gold passage ...
            assert docs == by_group[groups.pop()]  # ... and every language version of it is relevant
            assert "en" in {corpus[c]["lang"] for c in docs}
        qgroups: dict = defaultdict(set)
        for q in queries.values():
            qgroups[q["group"]].add(q["lang"])
        assert all("en" in langs and len(langs) >= 3 for langs in qgroups.values())  # en + >= 2 langs


def test_retrieval_pairs_aligned_with_english(built):
    out, _ = built
    rows = build.load_retrieval_train(out).to_list()
    by_pair: dict = defaultdict(dict)
    for r in rows:
        by_pair[r["pair_id"]][r["lang"]] = r
    assert all("en" in v and len(v) >= 2 for v in by_pair.values())
    # the keyword "bookmarks, inserting" is answered by the paragraph after its anchor
    kw = by_pair["libreoffice-help:text/swriter/01/04040000.xhp#bm_id4974211"]
    assert kw["de"]["query"] == "Lesezeichen, einfügen"
    assert kw["en"]["passage"].startswith("Inserts a bookmark at the cursor position.")
    assert kw["de"]["passage"].startswith("Fügt an der Cursorposition ein Lesezeichen ein.")


def test_failed_build_leaves_previous_build_intact(built):
    out, m = built
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    with pytest.raises(MimoError, match="simulated failure"):
        build_all(config=_cfg(sources=("libreoffice-help", "broken")), out_dir=out, force=True)
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_identical_build_is_reused_unless_forced(built):
    out, m = built
    again = build_all(config=_cfg(), out_dir=out)
    assert again.created == m.created
    import shutil

    shutil.rmtree(out / "mlir-dev")  # an incomplete build is rebuilt
    assert build_all(config=_cfg(), out_dir=out).created >= m.created and (out / "mlir-dev").exists()
    forced = build_all(config=_cfg(), out_dir=out, force=True)
    assert forced.counts == m.counts and forced.splits == m.splits  # deterministic with the seed


def test_cap_per_language(fake_sources, tmp_path):
    m = build_all(config=_cfg(filters=FilterConfig(cap=5, message_min_words=1)), out_dir=tmp_path / "c")
    assert all(sum(v.values()) <= 5 for v in m.counts["parallel"].values())
    assert m.drops["parallel"]["cap"] > 0


def test_unknown_source_and_language_are_clear_errors():
    with pytest.raises(MimoError, match="unknown data source"):
        BuildConfig(sources=("nope",))
    with pytest.raises(ValueError, match="unknown language code 'xx'"):
        BuildConfig(langs=("xx",))


def test_missing_build_is_a_clear_error(tmp_path):
    with pytest.raises(MimoError, match="mimo data build"):
        load_manifest(tmp_path)
    with pytest.raises(MimoError, match="mimo data build"):
        benchmark_dir("mlir-dev", tmp_path)


# ----------------------------------------------------------------------------- filters

CFG = FilterConfig()


def test_length_filter():
    assert reject_reason("Short", "Kurz genug", "de", "paragraph", CFG) == "length"
    assert reject_reason("x" * 513, "y" * 400, "de", "paragraph", CFG) == "length"
    assert reject_reason("Horizontal scroll bar", "Horizontale Bildlaufleiste", "de", "heading", CFG) is None


def test_ratio_filter_scales_cjk():
    # real pairs from libreoffice-help-de / -ja
    assert reject_reason("Click Add.", "Klicken Sie auf Befehle hinzufügen.", "de", "paragraph", CFG) == "ratio"
    en = "Selects cells from the current cell to the first cell of the current row."
    assert reject_reason(en, "現在のセルから、行頭のセルまでを選択します。", "ja", "paragraph", CFG) is None
    assert reject_reason(en, "現在のセルから、行頭のセルまでを選択します。", "de", "paragraph", CFG) == "ratio"


def test_words_filter_only_for_messages():
    assert reject_reason("Vertical scroll bar", "Vertikale Bildlaufleiste", "de", "message", CFG) == "words"
    assert reject_reason("Vertical scroll bar", "Vertikale Bildlaufleiste", "de", "heading", CFG) is None


def test_untranslated_filter():
    en = "The examples above can be written in Python as follows:"
    assert is_untranslated(en, en, "ja")
    assert is_untranslated(en, en.upper() + "!", "de")
    assert is_untranslated("Clear the linked cell now please", "Clear the linked cell now, please", "fr")
    assert not is_untranslated("Eastern Europe (Apple Macintosh)", "東欧 (Apple Macintosh)", "ja")
    assert is_untranslated("Hidden text paragraph", "Hidden text paragraph 2", "ru")  # no Cyrillic
    assert not is_untranslated("Insert Bookmark", "Lesezeichen einfügen", "de")
    long_en = "Sharing color profiles is never a good idea as hardware changes over time."
    assert is_untranslated(long_en, long_en.replace("color", "色"), "ja")  # 1 native of 60 letters


def test_dedup_and_cap():
    rows = [{"english": f"English sentence {i % 3}", "translation": f"Deutscher Satz {i % 3}", "lang": "de"}
            for i in range(9)]
    kept, drops = filter_pairs(rows, FilterConfig(cap=None))
    assert len(kept) == 3 and drops["duplicate"] == 6
    kept, drops = filter_pairs(rows, FilterConfig(cap=2), seed=1)
    assert len(kept) == 2 and drops["cap"] == 1
    assert kept == filter_pairs(rows, FilterConfig(cap=2), seed=1)[0]  # seeded


def test_cli_build_and_info(fake_sources, tmp_path):
    from typer.testing import CliRunner

    from mimo.cli import app

    out = tmp_path / "cli"
    runner = CliRunner()
    res = runner.invoke(app, ["data", "info", "--out", str(out)])
    assert res.exit_code == 1 and "run `mimo data build` first" in " ".join(res.output.split())
    res = runner.invoke(app, ["data", "build", "--langs", "de,ja", "--source", "libreoffice-help",
                              "--cap", "0", "--out", str(out)])
    assert res.exit_code == 0, res.output
    m = load_manifest(out)
    assert m.langs == ["de", "ja"] and m.config["filters"]["cap"] is None
    res = runner.invoke(app, ["data", "info", "--out", str(out)])
    assert res.exit_code == 0 and "mlir-dev" in res.output
    de_total = sum(m.counts["parallel"]["de"].values())
    assert str(de_total) in res.output
    res = runner.invoke(app, ["data", "build", "--langs", "xx", "--out", str(out)])
    assert res.exit_code == 1 and "unknown language code 'xx'" in " ".join(res.output.split())
