"""Library entry points: ``evaluate`` (one model) and ``evaluate_models`` (several, written to disk)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mimo.errors import InputError
from mimo.evaluate.bench import Benchmark, load_benchmark
from mimo.evaluate.bias import language_bias, rank_agreement
from mimo.evaluate.encode import encode_texts, max_length, model_fingerprint
from mimo.evaluate.metrics import DEFAULT_METRICS
from mimo.evaluate.search import search_all
from mimo.evaluate.views import VIEWS, monolingual_run, score_views

_ACTIVE: list[Any] = []  # the rich Progress of an enclosing progress_bars block, if any


@contextmanager
def progress_bars(enabled: bool) -> Iterator[Callable[[str, int], Callable[[int], None]]]:
    """Yield ``task(description, total) -> advance(n)``; rich bars when enabled, no-ops otherwise.

    Nested blocks (one model's encode bars inside :func:`evaluate_models`' bar over models) share the
    outer display; a nested block's bars are removed when it ends."""
    if not enabled:
        yield lambda desc, total: lambda n: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from mimo.cli._common import err_console

    def factory(p: Any, mine: list[int]) -> Callable[[str, int], Callable[[int], None]]:
        def task(desc: str, total: int) -> Callable[[int], None]:
            tid = p.add_task(desc, total=total)
            mine.append(tid)
            return lambda n: p.advance(tid, n)

        return task

    mine: list[int] = []
    if _ACTIVE:
        p = _ACTIVE[-1]
        try:
            yield factory(p, mine)
        finally:
            for tid in mine:
                p.remove_task(tid)
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    ) as p:
        _ACTIVE.append(p)
        try:
            yield factory(p, mine)
        finally:
            _ACTIVE.pop()


def resolve_encoder(model: Any) -> Any:
    """A loaded encoder for a name/path (via ``mimo.models.load_encoder``), or the object itself."""
    if not isinstance(model, str | Path):
        if not callable(getattr(model, "encode", None)):
            raise InputError(f"{model!r} is not an encoder (no .encode method)")
        return model
    p = Path(model).expanduser()
    if p.exists():
        if not p.is_dir() or not any((p / f).is_file() for f in ("modules.json", "config.json", "mimo_export.json")):
            raise InputError(f"{p}: not a sentence-transformers model directory (no modules.json or config.json)")
    try:
        from mimo.models import load_encoder
    except ImportError:  # pragma: no cover - models area not installed yet: plain sentence-transformers
        if not p.exists():
            raise InputError(f"model {model!r} not found locally and mimo.models is unavailable") from None
        from sentence_transformers import SentenceTransformer

        return SentenceTransformer(str(p), device="cpu")
    try:
        return load_encoder(str(model))
    except (OSError, KeyError) as e:
        raise InputError(f"cannot load model {model!r}: {e}") from e


def model_label(model: Any, i: int = 0) -> str:
    if isinstance(model, str | Path):
        return str(model)
    return str(getattr(model, "name", None) or getattr(model, "name_or_path", None) or f"model-{i}")


def resolve_prompts(encoder: Any, query_prompt: str | None, passage_prompt: str | None) -> dict[str, str]:
    prompts = getattr(encoder, "prompts", None) or {}
    return {
        "query": query_prompt if query_prompt is not None else prompts.get("query", ""),
        "passage": passage_prompt if passage_prompt is not None else prompts.get("passage", prompts.get("document", "")),
    }


def evaluate(
    model: Any,
    bench: str | Path | Benchmark,
    views: Sequence[str] = VIEWS,
    k: int = 100,
    *,
    metrics: Sequence[str] = DEFAULT_METRICS,
    bias_k: int = 10,
    query_prompt: str | None = None,
    passage_prompt: str | None = None,
    batch_size: int = 32,
    use_cache: bool = True,
    progress: bool = False,
    label: str | None = None,
) -> dict[str, Any]:
    """Evaluate one model (name, path or loaded encoder) on a benchmark; returns a JSON-able dict.

    The result holds ``views[view]`` (``overall``, ``per_lang``, ``per_kind`` when queries carry a
    ``kind``, ``per_query``, ``n_no_rel``), ``pairs``
    (query lang x doc lang), ``bias`` and ``agreement`` (pooled view, see ``mimo.evaluate.bias``),
    ``encode`` (counts, truncation, seconds), ``search_seconds`` and the rankings under ``runs``.
    """
    bad = sorted(set(views) - set(VIEWS))
    if bad:
        raise InputError(f"unknown view(s) {', '.join(bad)}; choose among {', '.join(VIEWS)}")
    b = load_benchmark(bench)
    enc = resolve_encoder(model)
    prompts = resolve_prompts(enc, query_prompt, passage_prompt)
    fp = model_fingerprint(enc) if use_cache else None
    qids, dids = list(b.queries), list(b.corpus)
    name = label or model_label(model)
    with progress_bars(progress) as task:
        qv, qstats = encode_texts(
            enc,
            [b.queries[q]["text"] for q in qids],
            prompts["query"],
            batch_size=batch_size,
            use_cache=use_cache,
            fingerprint=fp,
            progress=task(f"  {name}: encode queries", len(qids)),
        )
        dv, dstats = encode_texts(
            enc,
            [b.doc_text(d) for d in dids],
            prompts["passage"],
            batch_size=batch_size,
            use_cache=use_cache,
            fingerprint=fp,
            progress=task(f"  {name}: encode corpus", len(dids)),
        )
        t0, c0 = time.perf_counter(), time.process_time()
        rk = search_all(
            qv,
            qids,
            [b.queries[q]["lang"] for q in qids],
            dv,
            dids,
            [b.corpus[d]["lang"] for d in dids],
            k=k,
            progress=task(f"  {name}: search", len(qids)),
        )
        search_s, search_cpu = time.perf_counter() - t0, time.process_time() - c0
    scored = score_views(b, rk, views, metrics)
    runs = {
        "pooled": rk.pooled,
        "cross-lingual": rk.cross_lingual,
        "multi-monolingual": monolingual_run(b, rk),
    }
    return {
        "model": name,
        "fingerprint": fp,
        "benchmark": b.summary(),
        "dim": int(qv.shape[1]) if qv.size else 0,
        "max_seq_length": max_length(enc),
        "prompts": prompts,
        "k": k,
        "encode": {"queries": qstats.as_dict(), "corpus": dstats.as_dict()},
        "search_seconds": search_s,
        "search_cpu_seconds": search_cpu,
        **scored,
        "bias": language_bias(b, rk.pooled, bias_k),
        "agreement": rank_agreement(b, rk.pooled, bias_k),
        "runs": {v: runs[v] for v in views},
    }


def _slug(label: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in label.replace("/", "__"))


def write_results(
    results: Sequence[dict[str, Any]], out_dir: str | Path, paired: Sequence[dict[str, Any]] = ()
) -> Path:
    """Write ``<out_dir>/evaluation/`` atomically: comparison (md/json), per-model results, TREC runs,
    paired tests (``paired.json`` when given), figures. Returns that directory."""
    from mimo.evaluate.compare import pair_markdown, per_kind_table, per_lang_table, table, to_markdown
    from mimo.evaluate.metrics import write_trec_run
    from mimo.evaluate.significance import paired_markdown
    from mimo.paths import atomic_dir, atomic_write_json, atomic_write_text

    target = Path(out_dir) / "evaluation"
    with atomic_dir(target) as tmp:
        summary = []
        for r in results:
            slug = _slug(r["model"])
            for view, run in r["runs"].items():
                write_trec_run(tmp / "models" / slug / "runs" / f"{view}.trec", run, f"{slug}-{view}")
            full = {k: v for k, v in r.items() if k != "runs"}
            atomic_write_json(tmp / "models" / slug / "results.json", full)
            summary.append(_strip_per_query(full))
        tab = table(results)
        atomic_write_json(tmp / "results.json", summary)
        atomic_write_json(tmp / "comparison.json", tab)
        md = [
            "# Evaluation\n",
            f"Benchmark: `{results[0]['benchmark']['name']}` "
            f"({results[0]['benchmark']['n_queries']} queries, {results[0]['benchmark']['n_docs']} docs)\n",
            "## Overall (best per column in bold)\n",
            to_markdown(tab),
        ]
        if paired:
            atomic_write_json(tmp / "paired.json", list(paired))
            p0 = paired[0]
            md += [f"\n## Paired tests: {p0['a']} vs each model ({p0['view']} {p0['metric']})\n",
                   "Language versions of one query are resampled and sign-flipped together.\n",
                   paired_markdown(paired)]
        for view in results[0]["views"]:
            md += [f"\n## {view}: nDCG@10 per query language\n", to_markdown(per_lang_table(results, view))]
        for view in results[0]["views"]:
            if (kt := per_kind_table(results, view))["columns"]:
                md += [f"\n## {view}: nDCG@10 per query kind (question, task, heading, index term)\n", to_markdown(kt)]
        for r in results:
            md += [f"\n## {r['model']}: nDCG@10 per (query language, document language)\n", pair_markdown(r)]
        atomic_write_text(tmp / "comparison.md", "\n".join(md))
        try:
            from mimo.plots import evaluation_figures

            evaluation_figures(summary, tmp / "figures")
        except ImportError:  # pragma: no cover - plots module optional
            pass
    return target


def _strip_per_query(r: dict[str, Any]) -> dict[str, Any]:
    out = dict(r)
    out["views"] = {v: {k: x for k, x in d.items() if k != "per_query"} for v, d in r["views"].items()}
    return out


def evaluate_models(
    models: Sequence[Any],
    bench: str | Path | Benchmark,
    out_dir: str | Path | None = None,
    views: Sequence[str] = VIEWS,
    k: int = 100,
    *,
    labels: Sequence[str] | None = None,
    progress: bool = False,
    paired_ref: int | str | None = 0,
    **kwargs: Any,
) -> dict[str, Any]:
    """Evaluate several models (names, paths or loaded encoders) on one benchmark.

    Returns ``{"results": [...], "table": {...}, "paired": [...], "out_dir": path or None}``, where
    ``paired`` tests model ``paired_ref`` (index or label; None: no tests) against each other model on
    pooled nDCG@10 (:func:`mimo.evaluate.significance.paired_vs_reference`); with ``out_dir`` the files
    are written atomically under ``<out_dir>/evaluation/``. The benchmark is validated before any model
    is loaded, and nothing is written unless every model succeeds.
    """
    from mimo.evaluate.compare import table

    if not models:
        raise InputError("no model given")
    bad = sorted(set(views) - set(VIEWS))
    if bad:
        raise InputError(f"unknown view(s) {', '.join(bad)}; choose among {', '.join(VIEWS)}")
    b = load_benchmark(bench)
    if labels is not None and len(labels) != len(models):
        raise InputError(f"{len(labels)} labels for {len(models)} models")
    results = []
    with progress_bars(progress) as task:
        done = task(f"evaluating {len(models)} models on {b.name}", len(models))
        for i, m in enumerate(models):
            label = labels[i] if labels else model_label(m, i)
            results.append(evaluate(m, b, views, k, progress=progress, label=label, **kwargs))
            done(1)
    paired: list[dict[str, Any]] = []
    if paired_ref is not None and len(results) > 1 and "pooled" in views:
        from mimo.evaluate.significance import paired_vs_reference

        paired = paired_vs_reference(results, b.query_groups, paired_ref)
    written = write_results(results, out_dir, paired) if out_dir is not None else None
    return {"results": results, "table": table(results), "paired": paired, "out_dir": written}
