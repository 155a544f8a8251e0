"""A user's own data: every input format, column mapping, per-file language, `mimo data check`, and
the committed TSV of pairs training end to end (tiny models, seconds)."""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from mimo.cli import app
from mimo.data.check import check, to_dataset
from mimo.data.user import lang_from_filename, parse_columns, read
from mimo.errors import InputError
from mimo.langs import SOURCE_LANGS, TARGET_LANGS, normalize_lang, parse_langs

BYOD = Path(__file__).parent.parent / "examples" / "byod"


def real_pairs() -> list[dict[str, str]]:
    with open(BYOD / "pairs.tsv", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


def write_tsv(path: Path, header: list[str] | None, rows: list[list[str]]) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, delimiter="\t", quoting=csv.QUOTE_NONE, lineterminator="\n")
        if header:
            w.writerow(header)
        w.writerows(rows)
    return path


# ---- formats ------------------------------------------------------------------------------------


def test_every_format_reads_the_same_rows(tmp_path):
    import datasets

    rows = real_pairs()[:8]
    renamed = [{"en": r["english"], "text": r["translation"], "language": r["lang"]} for r in rows]
    (tmp_path / "p.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in renamed), encoding="utf-8")
    with open(tmp_path / "p.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["en", "text", "language"])
        w.writeheader()
        w.writerows(renamed)
    ds = datasets.Dataset.from_list(renamed)
    ds.to_parquet(str(tmp_path / "p.parquet"))
    ds.save_to_disk(str(tmp_path / "saved"))
    headerless = write_tsv(tmp_path / "p.tsv", None, [[r["language"], r["en"], r["text"]] for r in renamed])
    mapping = "english=en,translation=text,lang=language"
    want = [(r["english"], r["translation"], r["lang"]) for r in rows]
    for p, cols in [(tmp_path / "p.jsonl", mapping), (tmp_path / "p.csv", mapping), (tmp_path / "p.parquet", mapping),
                    (tmp_path / "saved", mapping), (headerless, "lang=1,english=2,translation=3")]:
        got = read(p, "parallel", columns=cols)
        assert [(r.values["english"], r.values["translation"], r.values["lang"]) for r in got.rows] == want, p
    # locations: a line number for text files (header = line 1), a row index otherwise
    assert read(tmp_path / "p.csv", "parallel", columns=mapping).rows[2].where == "p.csv:4"
    assert read(headerless, "parallel", columns="lang=1,english=2,translation=3").rows[2].where == "p.tsv:3"
    assert read(tmp_path / "p.parquet", "parallel", columns=mapping).rows[2].where == "p.parquet row 2"


def test_hub_names_go_through_datasets(monkeypatch, tmp_path):
    """A hub name is loaded by mimo.data.hub.load_rows (datasets.load_dataset_builder); here the
    function is pointed at a local parquet file, as the hub is unreachable offline."""
    import datasets

    import mimo.data.hub as hub

    rows = real_pairs()[:3]
    datasets.Dataset.from_list(rows).to_parquet(str(tmp_path / "train.parquet"))
    calls = []
    real_load = hub.load_rows

    def fake(name, config, split, **kw):
        calls.append((name, config, split))
        return real_load(tmp_path / "train.parquet")

    monkeypatch.setattr(hub, "load_rows", fake)
    got = read("someone/parallel-de", "parallel")
    assert calls == [("someone/parallel-de", None, "train")]
    assert [r.values["translation"] for r in got.rows] == [r["translation"] for r in rows]
    assert got.rows[1].where == "someone/parallel-de [default/train] row 1"


def test_language_from_flag_or_file_name(tmp_path):
    rows = [r for r in real_pairs() if r["lang"] == "de"][:3]
    p = write_tsv(tmp_path / "pairs.de.tsv", ["english", "translation"], [[r["english"], r["translation"]] for r in rows])
    assert {r.values["lang"] for r in read(p, "parallel").rows} == {"de"}
    assert {r.values["lang"] for r in read(p, "parallel", lang="pt_BR").rows} == {"pt"}
    assert lang_from_filename("en-zh_CN.jsonl") == "zh" and lang_from_filename("pairs.ko.parquet") == "ko"
    assert lang_from_filename("pairs.tsv") is None and lang_from_filename("en-zh_TW.jsonl") is None
    # a folder of one-language files
    d = tmp_path / "folder"
    d.mkdir()
    fr = [r for r in real_pairs() if r["lang"] == "fr"][:2]
    write_tsv(d / "a.de.tsv", ["english", "translation"], [[r["english"], r["translation"]] for r in rows])
    write_tsv(d / "b.fr.tsv", ["english", "translation"], [[r["english"], r["translation"]] for r in fr])
    got = read(d, "parallel")
    assert [r.values["lang"] for r in got.rows] == ["de"] * 3 + ["fr"] * 2
    assert got.rows[-1].where == "b.fr.tsv:3"


def test_missing_columns_name_the_file_and_the_fix(tmp_path):
    p = write_tsv(tmp_path / "pairs.tsv", ["en", "de"], [["Open a file.", "Datei öffnen."]])
    with pytest.raises(InputError, match=r"pairs.tsv: missing field\(s\) 'english', 'translation', 'lang'.*found: en, de"):
        read(p, "parallel")
    with pytest.raises(InputError, match=r"missing field\(s\) 'lang'.*--lang"):
        read(p, "parallel", columns="english=en,translation=de")
    with pytest.raises(InputError, match="not FIELD=COLUMN"):
        parse_columns("english")
    with pytest.raises(InputError, match="unknown field"):
        read(p, "parallel", columns="englsh=en")
    assert parse_columns("english=en, translation=text") == {"english": "en", "translation": "text"}


# ---- checks -------------------------------------------------------------------------------------


def bad_file(tmp_path: Path) -> Path:
    """Real pairs with problems made by code: each line's problem is known."""
    rows = real_pairs()
    body = [[r["english"], r["translation"], r["lang"]] for r in rows[:6]]
    de = next(r for r in rows if r["lang"] == "de")
    body += [
        [de["english"], de["translation"], "de"],  # line 8: duplicate of an earlier line
        [de["english"], "", "de"],  # line 9: empty translation
        [de["english"], de["english"], "fr"],  # line 10: untranslated
        [rows[7]["english"], rows[7]["translation"], "xx"],  # line 11: unknown code
        [rows[8]["english"] * 12, rows[8]["translation"] * 12, rows[8]["lang"]],  # line 12: overlong
        [rows[9]["english"], rows[9]["translation"], "pt_BR"],  # line 13: a locale spelling, normalised
    ]
    return write_tsv(tmp_path / "bad.tsv", ["english", "translation", "lang"], body)


def test_check_names_every_bad_row_by_file_line_and_field(tmp_path):
    rep = check(read(bad_file(tmp_path), "parallel"))
    got = {(i.kind, i.where, i.field) for i in rep.issues}
    first_de = 2 + next(i for i, r in enumerate(real_pairs()) if r["lang"] == "de")
    assert got == {
        ("duplicate", "bad.tsv:8", "translation"), ("empty", "bad.tsv:9", "translation"),
        ("untranslated", "bad.tsv:10", "translation"), ("unknown language", "bad.tsv:11", "lang"),
        ("overlong", "bad.tsv:12", "english"), ("overlong", "bad.tsv:12", "translation"),
    }
    assert f"same row as bad.tsv:{first_de}" in next(i.detail for i in rep.issues if i.kind == "duplicate")
    assert rep.rows_read == 12 and len(rep.kept) == 12 - 4  # overlong is kept, counted
    assert rep.normalised == {"pt_BR": "pt"}
    assert rep.removed() == {"duplicate": 1, "untranslated": 1}
    assert sum(rep.langs.values()) == len(rep.kept)


def test_training_refuses_errors_and_says_what_each_filter_removed(tmp_path, caplog):
    from mimo.train.data import load_parallel

    with pytest.raises(InputError, match=r"(?s)2 bad row\(s\).*bad.tsv:9: field 'translation': empty.*bad.tsv:11: field 'lang'"):
        load_parallel(str(bad_file(tmp_path)), None, None, 0)
    rows = real_pairs()
    body = [[r["english"], r["translation"], r["lang"]] for r in rows[:8]] + [[rows[0]["english"], rows[0]["translation"],
                                                                               rows[0]["lang"]]]
    p = write_tsv(tmp_path / "dup.tsv", ["english", "translation", "lang"], body)
    with caplog.at_level(logging.WARNING):
        par = load_parallel(str(p), ["de", "fr"], None, 0)
    text = caplog.text
    assert "dropped 1 row(s) (duplicate; first: dup.tsv:10" in text
    assert "left out 4 row(s) of languages not in --langs (es 2, ja 2)" in text
    # English identity rows are added once per English sentence, as the build does
    assert par.lang.count("en") == 2 and sorted(set(par.lang)) == ["de", "en", "fr"]


def test_retrieval_pairs_need_an_english_row(tmp_path):
    lines = (BYOD / "retrieval.jsonl").read_text(encoding="utf-8").splitlines()
    first = json.loads(lines[0])
    assert first["lang"] == "en"
    p = tmp_path / "r.jsonl"
    p.write_text("\n".join(lines[1:10]) + "\n", encoding="utf-8")  # pair 1 loses its English row
    rep = check(read(p, "retrieval"))
    assert [(i.kind, i.where) for i in rep.issues] == [("no English row", f"r.jsonl:{n}") for n in range(1, 5)]
    ds = to_dataset(rep)
    assert set(ds["pair_id"]) == {json.loads(lines[5])["pair_id"]} and len(ds) == 5


def test_cli_check_exit_code_and_report(tmp_path):
    out = tmp_path / "report.json"
    res = CliRunner().invoke(app, ["data", "check", str(bad_file(tmp_path)), "--report", str(out)])
    assert res.exit_code == 1
    assert "bad.tsv:11: field 'lang': unknown language ('xx'" in res.output
    assert json.loads(out.read_text())["counts"]["duplicate"] == 1
    ok = CliRunner().invoke(app, ["data", "check", str(BYOD / "pairs.tsv")])
    assert ok.exit_code == 0 and "nothing to drop" in ok.output


# ---- languages ----------------------------------------------------------------------------------


def test_langs_all_and_the_one_locale_table():
    assert parse_langs(None) == TARGET_LANGS  # the default build stays the paper's 14
    assert parse_langs(["all"]) == SOURCE_LANGS and len(SOURCE_LANGS) >= 80
    assert parse_langs(["de,pt-BR", "zh_CN", "de"]) == ("de", "pt", "zh")
    assert [normalize_lang(x) for x in ("pa-IN", "gug", "kmr", "nb_NO", "ca-valencia")] == ["pa", "gn", "ku", "nb", "ca"]
    with pytest.raises(ValueError, match="unknown language code 'xx'"):
        parse_langs(["xx"])


def test_help_package_with_a_regional_variant_uses_its_own_locale(tmp_path):
    from mimo.data.libreoffice import _help_lang_dir

    for name in ("ca", "ca-valencia", "media"):
        (tmp_path / "usr/share/libreoffice/help" / name / ("text" if name != "media" else "x")).mkdir(parents=True)
    assert _help_lang_dir(tmp_path, "libreoffice-help-ca").name == "ca"


def test_user_benchmark_folder_with_locale_codes_and_a_missing_lang(tmp_path):
    import shutil

    from mimo.evaluate import load_benchmark

    d = tmp_path / "bench"
    shutil.copytree(BYOD / "bench", d)
    qs = [json.loads(x) for x in (d / "queries.jsonl").read_text(encoding="utf-8").splitlines()]
    qs[0]["lang"] = {"es": "es_ES", "de": "de-DE", "fr": "fr_FR", "ja": "ja_JP", "en": "en_US"}[qs[0]["lang"]]
    (d / "queries.jsonl").write_text("".join(json.dumps(q, ensure_ascii=False) + "\n" for q in qs), encoding="utf-8")
    b = load_benchmark(d)
    assert b.queries[qs[0]["_id"]]["lang"] in ("en", "de", "fr", "es", "ja")
    del qs[2]["lang"]
    (d / "queries.jsonl").write_text("".join(json.dumps(q, ensure_ascii=False) + "\n" for q in qs), encoding="utf-8")
    with pytest.raises(InputError, match=r"queries.jsonl:3: missing field 'lang'"):
        load_benchmark(d)


# ---- the committed TSV trains end to end --------------------------------------------------------


def test_committed_tsv_and_jsonl_train_end_to_end(tmp_path):
    """`mimo train --parallel pairs.tsv --retrieval retrieval.jsonl` (the README's command) on tiny
    models built over the files' words: both stages run, Stage 1 improves held-out alignment, and
    the output loads with plain SentenceTransformer."""
    from sentence_transformers import SentenceTransformer

    from mimo.train.tiny import build_tiny_student

    texts = [t for r in real_pairs() for t in (r["english"], r["translation"])]
    texts += [json.loads(x)[k] for x in (BYOD / "retrieval.jsonl").read_text(encoding="utf-8").splitlines()
              for k in ("query", "passage")]
    student = build_tiny_student(tmp_path / "student", texts, hidden=32)
    teacher = build_tiny_student(tmp_path / "teacher", texts, hidden=48, seed=1)
    out = tmp_path / "byod"
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        res = CliRunner().invoke(app, [
            "train", "--parallel", str(BYOD / "pairs.tsv"), "--retrieval", str(BYOD / "retrieval.jsonl"),
            "--student", str(student), "--teacher", str(teacher), "--teacher-cache", str(tmp_path / "cache"),
            "--max-steps", "25", "--batch-size", "8", "--lr", "1e-3", "--max-length", "32", "--out", str(out)])
    finally:
        torch.set_num_threads(n)
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "train_summary.json").read_text())
    assert summary["alignment"]["after_stage1"] < summary["alignment"]["initial"]
    assert SentenceTransformer(str(out)).encode(["Datei öffnen"]).shape == (1, 32)


def test_every_packaged_locale_maps_into_the_one_table():
    """Each LibreOffice package suffix and help dir name maps to a code of SOURCE_LANGS and back."""
    from mimo.data.build import BuildConfig, _wanted_deb
    from mimo.data.libreoffice import HELP_INFO, L10N_INFO

    for pkg in (*HELP_INFO["packages"], *L10N_INFO["packages"]):
        code = normalize_lang(pkg.split("-", 2)[2])
        assert code == "en" or code in SOURCE_LANGS, pkg
        assert _wanted_deb(pkg, SOURCE_LANGS)
    assert len(L10N_INFO["packages"]) == len(SOURCE_LANGS)
    assert not _wanted_deb("libreoffice-l10n-pa-in", TARGET_LANGS)
    assert BuildConfig().langs == TARGET_LANGS and BuildConfig(langs=parse_langs("all")).langs == SOURCE_LANGS
