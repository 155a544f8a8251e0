"""Analysis (alignment, uniformity, probe), plots, report and CLI on hand-made data."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from mimo.analyze import alignment, analyze_models, language_probe, load_parallel_pairs, uniformity
from mimo.errors import InputError
from mimo.evaluate import evaluate_models
from mimo.report import build_report

TINY = Path(__file__).parent / "fixtures" / "bench" / "tiny"


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("MIMO_HOME", str(tmp_path / "home"))


def test_alignment_formula():
    a = np.array([[1.0, 0, 0], [0, 2.0, 0]])
    assert alignment(a, a) == 0.0
    assert alignment(a, -a) == pytest.approx(4.0)  # antipodal unit vectors: ||2u||^2
    b = np.array([[0, 1.0, 0], [0, 1.0, 0]])  # orthogonal then identical (after normalising)
    assert alignment(a, b) == pytest.approx((2.0 + 0.0) / 2)


def test_uniformity_formula_and_sphere_limit():
    x = np.array([[1.0, 0], [0, 1.0], [-1.0, 0]])
    d2 = [2.0, 4.0, 2.0]  # pairs (0,1), (0,2), (1,2)
    assert uniformity(x) == pytest.approx(math.log(np.mean(np.exp(-2 * np.array(d2)))))
    # uniform on S^2: a.b ~ U[-1, 1] so E exp(-4 + 4 a.b) = (1 - e^-8) / 8 exactly
    rng = np.random.default_rng(0)
    s = rng.normal(size=(3000, 3))
    assert uniformity(s, max_pairs=500_000) == pytest.approx(math.log((1 - math.exp(-8)) / 8), abs=0.05)
    # high dimension -> -4; one collapsed point -> 0
    assert uniformity(rng.normal(size=(2000, 512))) == pytest.approx(-4.0, abs=0.05)
    assert uniformity(np.ones((10, 4))) == pytest.approx(0.0)


def test_language_probe_detects_language_axis():
    rng = np.random.default_rng(0)
    langs = ["de", "fr", "ja"] * 60
    noise = rng.normal(size=(180, 16))
    coded = noise.copy()
    for i, lang in enumerate(langs):
        coded[i, ["de", "fr", "ja"].index(lang)] += 8.0
    assert language_probe(coded, langs)["accuracy"] == 1.0
    p = language_probe(noise, langs)
    assert p["majority"] == pytest.approx(1 / 3) and p["accuracy"] < 0.6


class LangEncoder:
    """Embeds 'word' tokens by hashing, plus a strong language axis for texts marked '<de>' etc."""

    name = "lang-enc"
    prompts: dict[str, str] = {}
    max_seq_length = None

    def encode(self, texts, **kw):
        out = np.zeros((len(texts), 8), np.float32)
        for i, t in enumerate(texts):
            out[i, hash(t.split()[-1]) % 4 + 4] = 1.0
            if t.startswith("<"):
                out[i, ["<de>", "<fr>", "<ja>"].index(t.split()[0])] = 3.0
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def _pairs_file(tmp_path: Path) -> Path:
    rows = [{"english": f"w{i}", "translation": f"<{lang}> w{i}", "lang": lang} for lang in ("de", "fr", "ja") for i in range(30)]
    rows.append({"english": "x", "translation": "x", "lang": "en"})  # identity rows are skipped
    p = tmp_path / "par.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return p


def test_analyze_models_and_report(tmp_path):
    res = analyze_models([LangEncoder()], _pairs_file(tmp_path), tmp_path / "run", labels=["lang-enc"], pca_per_lang=10)
    r = res["results"][0]
    assert r["n_pairs"] == 90 and set(r["per_lang"]) == {"de", "fr", "ja"}
    # each translation: (3 e_lang + e_word) / sqrt(10) vs e_word -> ||.||^2 = 2 - 2/sqrt(10)
    assert r["alignment"] == pytest.approx(2 - 2 / math.sqrt(10), abs=1e-6)
    assert r["probe"]["accuracy"] == 1.0
    out = res["out_dir"]
    for f in (
        "results.json",
        "results.md",
        "figures/alignment-uniformity.png",
        "figures/alignment-uniformity.svg",
        "figures/pca-lang-enc.png",
    ):
        assert (out / f).is_file(), f
    from test_evaluate import HashEncoder

    evaluate_models([HashEncoder()], TINY, tmp_path / "run", labels=["hash"])
    assert (tmp_path / "run/evaluation/figures/bias-hash.png").is_file()
    paths = build_report([tmp_path / "run"])
    md = paths["markdown"].read_text()
    assert "pooled nDCG@10" in md and "alignment" in md and "](analysis/figures/alignment-uniformity.png)" in md
    html = paths["html"].read_text()
    assert html.count("data:image/png;base64,") >= 3 and "<table>" in html


def test_bad_parallel_rows(tmp_path):
    p = tmp_path / "bad.jsonl"
    p.write_text(
        json.dumps({"english": "a", "translation": "", "lang": "de"})
        + "\n"
        + json.dumps({"english": "a", "translation": "b", "lang": "xx"})
        + "\n"
    )
    with pytest.raises(InputError, match=r"bad.jsonl row 1: missing/empty translation") as e:
        load_parallel_pairs(p)
    assert "'xx' in bad.jsonl row 2" in str(e.value)
    with pytest.raises(InputError, match="not found"):
        load_parallel_pairs(tmp_path / "nope.jsonl")


def test_cli_errors_are_one_line(tmp_path):
    from mimo.cli import app

    (tmp_path / "notamodel").mkdir()
    runner = CliRunner()
    r = runner.invoke(app, ["evaluate", str(tmp_path / "notamodel"), "--bench", str(TINY), "--out", str(tmp_path / "o")])
    assert r.exit_code == 1 and "not a sentence-transformers model" in " ".join(r.output.split())
    assert not (tmp_path / "o").exists()
    r = runner.invoke(app, ["report", str(tmp_path)])
    assert r.exit_code == 1 and "no evaluation/ or analysis/" in " ".join(r.output.split())


def test_parallel_from_save_to_disk_samples_per_language(tmp_path):
    import datasets

    rows = [
        {"english": f"e{i}", "translation": f"t{i}", "lang": lang, "source": "s", "unit_id": f"u{i}", "split": "train"}
        for i, lang in enumerate(["de"] * 7 + ["ja"] * 3 + ["en"] * 2)
    ]
    datasets.Dataset.from_list(rows).save_to_disk(str(tmp_path / "parallel"))
    pairs = load_parallel_pairs(tmp_path / "parallel", max_per_lang=5)
    assert [p["lang"] for p in pairs].count("de") == 5 and [p["lang"] for p in pairs].count("ja") == 3
    assert all(p["lang"] != "en" for p in pairs) and set(pairs[0]) == {"english", "translation", "lang"}
