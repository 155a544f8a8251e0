"""Evaluation on BEIR-layout benchmarks: views (pooled / cross-lingual / multi-monolingual), metrics via
pytrec_eval, language bias and rank agreement, side-by-side tables, paired significance tests, TREC runs, an MTEB task wrapper."""

from mimo.evaluate.api import evaluate, evaluate_models, resolve_encoder, write_results
from mimo.evaluate.bench import Benchmark, load_benchmark
from mimo.evaluate.metrics import DEFAULT_METRICS, METRICS, evaluate_run, per_query
from mimo.evaluate.significance import mean_over_seeds, paired_test, seed_aware_test
from mimo.evaluate.views import VIEWS

__all__ = [
    "DEFAULT_METRICS",
    "METRICS",
    "VIEWS",
    "Benchmark",
    "evaluate",
    "evaluate_models",
    "evaluate_run",
    "load_benchmark",
    "mean_over_seeds",
    "paired_test",
    "per_query",
    "resolve_encoder",
    "seed_aware_test",
    "write_results",
]
