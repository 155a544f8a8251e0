"""Embedding-space analysis on parallel sentences: alignment, uniformity, language-ID probe, PCA sample.

On L2-normalised embeddings f (Wang & Isola 2020)::

    alignment  = mean over translation pairs (x_en, x_xx) of ||f(x_en) - f(x_xx)||^2     (0 best, <= 4)
    uniformity = log mean over random pairs (a, b), a != b, of exp(-2 ||f(a) - f(b)||^2)  (lower = more
                 uniform; about -4 for points uniform on a high-dimensional sphere)

Per language: alignment over that language's pairs, uniformity over its translations' embeddings.
Overall: alignment over all non-English pairs, uniformity over English + all translations.
The language-ID probe is a logistic regression on the embeddings, trained on a stratified 70 % and
scored (accuracy) on the held-out 30 %: how strongly the space still encodes language (lower is better
for mixed-language retrieval; chance = share of the majority language).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mimo.errors import InputError


def _norm(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def alignment(a: np.ndarray, b: np.ndarray) -> float:
    """Mean squared distance between row-paired normalised embeddings."""
    a, b = _norm(a), _norm(b)
    return float(np.mean(np.sum((a - b) ** 2, axis=1)))


def uniformity(x: np.ndarray, max_pairs: int = 200_000, seed: int = 0) -> float:
    """log mean exp(-2 ||a - b||^2) over distinct pairs: all of them if few, else a random sample."""
    x = _norm(x)
    n = len(x)
    if n < 2:
        return float("nan")
    if n * (n - 1) // 2 <= max_pairs:
        i, j = np.triu_indices(n, 1)
    else:
        rng = np.random.default_rng(seed)
        i = rng.integers(0, n, max_pairs)
        j = (i + rng.integers(1, n, max_pairs)) % n  # j != i
    d2 = np.concatenate(
        [2.0 - 2.0 * np.einsum("ij,ij->i", x[i[s : s + 8192]], x[j[s : s + 8192]]) for s in range(0, len(i), 8192)]
    )  # unit vectors: ||a-b||^2 = 2 - 2 a.b
    d2 = np.maximum(d2, 0.0)
    m = np.max(-2 * d2)
    return float(m + np.log(np.mean(np.exp(-2 * d2 - m))))


def language_probe(x: np.ndarray, langs: Sequence[str], seed: int = 0, test_size: float = 0.3) -> dict[str, float]:
    """Held-out accuracy of a logistic-regression language identifier, with the majority baseline."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    y = np.asarray(langs)
    labels, counts = np.unique(y, return_counts=True)
    if len(labels) < 2 or counts.min() < 2:
        return {"accuracy": float("nan"), "majority": float("nan"), "n_test": 0}
    xtr, xte, ytr, yte = train_test_split(_norm(x), y, test_size=test_size, random_state=seed, stratify=y)
    clf = LogisticRegression(max_iter=2000).fit(xtr, ytr)
    return {
        "accuracy": float(clf.score(xte, yte)),
        "majority": float(counts.max() / counts.sum()),
        "n_test": len(yte),
    }


def pca_2d(x: np.ndarray) -> np.ndarray:
    """Project rows onto their first two principal components."""
    x = _norm(x)
    x = x - x.mean(0)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    return x @ vt[:2].T


# ---------------------------------------------------------------- data


def load_parallel_pairs(name_or_path: str | Path, max_per_lang: int = 500, seed: int = 0) -> list[dict[str, str]]:
    """Rows ``{english, translation, lang}`` (no English identity rows), at most ``max_per_lang`` per
    language, from ``parallel`` (mimo's dataset), a ``save_to_disk`` directory, or a .jsonl/.parquet."""
    p = Path(name_or_path).expanduser()
    if not p.exists():
        from mimo.paths import data_dir

        p = data_dir() / str(name_or_path)
    if str(name_or_path) == "parallel" and p.is_dir():
        try:
            from mimo.data.build import load_parallel
        except ImportError:  # pragma: no cover - data area absent: read the directory below
            pass
        else:
            ds = load_parallel()
            return _sample_pairs(ds.select_columns(["english", "translation", "lang"]).to_list(), "parallel", max_per_lang, seed)
    if not p.exists():
        raise InputError(
            f"parallel data {name_or_path!r} not found (build it with `mimo data build`, "
            "or pass a .jsonl/.parquet with english/translation/lang)"
        )
    if p.is_dir():
        import datasets

        ds = datasets.load_from_disk(str(p))
        if isinstance(ds, datasets.DatasetDict):
            ds = ds[next(iter(ds))]
        rows = ds.select_columns(["english", "translation", "lang"]).to_list()
    elif p.suffix == ".parquet":
        import pandas as pd

        rows = pd.read_parquet(p, columns=["english", "translation", "lang"]).to_dict("records")
    else:
        import json

        rows = []
        for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise InputError(f"{p.name}:{i}: not JSON ({e.msg})") from None
    return _sample_pairs(rows, p.name, max_per_lang, seed)


def _sample_pairs(rows: list[dict[str, Any]], where: str, max_per_lang: int, seed: int) -> list[dict[str, str]]:
    """Validate rows (first bad ones listed) and keep at most ``max_per_lang`` non-English pairs."""
    from mimo.langs import check_lang

    bad = []
    for i, r in enumerate(rows, 1):
        miss = [f for f in ("english", "translation", "lang") if not str(r.get(f) or "").strip()]
        if miss:
            bad.append(f"{where} row {i}: missing/empty {', '.join(miss)}")
        else:
            try:
                check_lang(str(r["lang"]), f"{where} row {i}")
            except ValueError as e:
                bad.append(str(e))
        if len(bad) >= 5:
            break
    if bad:
        raise InputError("bad parallel rows:\n  " + "\n  ".join(bad))
    rng = np.random.default_rng(seed)
    by_lang: dict[str, list[dict[str, str]]] = {}
    for r in rows:
        if r["lang"] != "en":
            by_lang.setdefault(r["lang"], []).append(
                {"english": r["english"], "translation": r["translation"], "lang": r["lang"]}
            )
    out = []
    for lang in sorted(by_lang):
        rs = by_lang[lang]
        idx = rng.permutation(len(rs))[:max_per_lang]
        out += [rs[i] for i in sorted(idx)]
    if not out:
        raise InputError(f"{where}: no non-English translation pairs")
    return out


# ---------------------------------------------------------------- models


def analyze(
    model: Any,
    pairs: Sequence[dict[str, str]],
    *,
    prompt: str | None = None,
    seed: int = 0,
    pca_per_lang: int = 100,
    use_cache: bool = True,
    label: str | None = None,
    batch_size: int = 32,
) -> dict[str, Any]:
    """Alignment, uniformity and the language probe for one model on translation pairs."""
    from mimo.evaluate.api import model_label, resolve_encoder, resolve_prompts
    from mimo.evaluate.encode import encode_texts, model_fingerprint

    enc = resolve_encoder(model)
    pr = resolve_prompts(enc, None, prompt)["passage"]
    fp = model_fingerprint(enc) if use_cache else None
    en_texts = sorted({r["english"] for r in pairs})
    en_vec, _ = encode_texts(enc, en_texts, pr, batch_size=batch_size, use_cache=use_cache, fingerprint=fp)
    en_idx = {t: i for i, t in enumerate(en_texts)}
    xx_vec, _ = encode_texts(
        enc, [r["translation"] for r in pairs], pr, batch_size=batch_size, use_cache=use_cache, fingerprint=fp
    )
    a = en_vec[[en_idx[r["english"]] for r in pairs]]
    langs = np.asarray([r["lang"] for r in pairs])
    per_lang = {}
    for lang in sorted(set(langs.tolist())):
        m = langs == lang
        per_lang[lang] = {
            "alignment": alignment(a[m], xx_vec[m]),
            "uniformity": uniformity(xx_vec[m], seed=seed),
            "n": int(m.sum()),
        }
    all_vec = np.concatenate([en_vec, xx_vec])
    all_lang = ["en"] * len(en_vec) + langs.tolist()
    rng = np.random.default_rng(seed)
    sample = np.concatenate(
        [rng.permutation(np.flatnonzero(np.asarray(all_lang) == lang))[:pca_per_lang] for lang in sorted(set(all_lang))]
    )
    xy = pca_2d(all_vec[sample])
    return {
        "model": label or model_label(model),
        "fingerprint": fp,
        "n_pairs": len(pairs),
        "alignment": alignment(a, xx_vec),
        "uniformity": uniformity(all_vec, seed=seed),
        "per_lang": per_lang,
        "probe": language_probe(all_vec, all_lang, seed=seed),
        "pca": {
            "x": xy[:, 0].round(5).tolist(),
            "y": xy[:, 1].round(5).tolist(),
            "lang": [all_lang[i] for i in sample],
        },
    }


def analyze_models(
    models: Sequence[Any],
    parallel: str | Path | Sequence[dict[str, str]],
    out_dir: str | Path | None = None,
    *,
    labels: Sequence[str] | None = None,
    max_per_lang: int = 500,
    progress: bool = False,
    **kwargs: Any,
) -> dict[str, Any]:
    """Analyse several models on the same pairs; with ``out_dir`` write ``<out_dir>/analysis/``
    (results.json, results.md, figures) atomically. Returns ``{"results", "out_dir"}``.
    ``progress``: a rich bar over the models."""
    from mimo.evaluate.api import progress_bars

    if not models:
        raise InputError("no model given")
    pairs = load_parallel_pairs(parallel, max_per_lang) if isinstance(parallel, str | Path) else list(parallel)
    results = []
    with progress_bars(progress) as task:
        done = task(f"analysing {len(models)} models on {len(pairs)} translation pairs", len(models))
        for i, m in enumerate(models):
            results.append(analyze(m, pairs, label=labels[i] if labels else None, **kwargs))
            done(1)
    written = write_analysis(results, out_dir) if out_dir is not None else None
    return {"results": results, "out_dir": written}


def to_markdown(results: Sequence[dict[str, Any]]) -> str:
    lines = [
        "| model | alignment ↓ | uniformity ↓ | lang-ID probe acc ↓ | majority |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in results:
        p = r["probe"]
        lines.append(
            f"| {r['model']} | {r['alignment']:.4f} | {r['uniformity']:.4f} | {p['accuracy']:.4f} | {p['majority']:.4f} |"
        )
    langs = sorted({lang for r in results for lang in r["per_lang"]})
    lines += [
        "",
        "Alignment per language:",
        "",
        "| model | " + " | ".join(langs) + " |",
        "|---|" + "---:|" * len(langs),
    ]
    for r in results:
        lines.append(
            f"| {r['model']} | "
            + " | ".join(f"{r['per_lang'][lang]['alignment']:.4f}" if lang in r["per_lang"] else "–" for lang in langs)
            + " |"
        )
    return "\n".join(lines) + "\n"


def write_analysis(results: Sequence[dict[str, Any]], out_dir: str | Path) -> Path:
    from mimo.paths import atomic_dir, atomic_write_json, atomic_write_text
    from mimo.plots import analysis_figures

    target = Path(out_dir) / "analysis"
    with atomic_dir(target) as tmp:
        atomic_write_json(tmp / "results.json", list(results))
        atomic_write_text(tmp / "results.md", "# Analysis\n\n" + to_markdown(results))
        analysis_figures(results, tmp / "figures")
    return target
