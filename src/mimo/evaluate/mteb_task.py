"""An MTEB task for the pooled benchmark, so ``mteb`` users can run it in their own harness.

    import mteb
    from mimo.evaluate.mteb_task import pooled_task

    task = pooled_task("mlir-test")                     # or any BEIR directory
    res = mteb.evaluate(mteb.get_model("intfloat/multilingual-e5-small"), task, cache=None)

The task is one ``default`` subset holding every language version (the MMLIR pooled protocol: all
versions of a gold passage relevant to all versions of the query). MTEB computes its own metrics
(``ndcg_at_10`` main score) from the same qrels; ``tests/test_evaluate.py`` checks that they agree with
``mimo.evaluate`` on MTEB's own predictions. ``mteb`` is imported only when this module is used.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mimo.evaluate.bench import Benchmark, load_benchmark

#: ISO 639-1 -> MTEB's ISO 639-3 + script codes.
MTEB_LANGS: dict[str, str] = {
    "en": "eng-Latn", "ar": "ara-Arab", "de": "deu-Latn", "es": "spa-Latn", "fr": "fra-Latn",
    "hi": "hin-Deva", "id": "ind-Latn", "it": "ita-Latn", "ja": "jpn-Jpan", "ko": "kor-Hang",
    "nl": "nld-Latn", "pt": "por-Latn", "ru": "rus-Cyrl", "vi": "vie-Latn", "zh": "zho-Hans",
}  # fmt: skip


def split_data(bench: Benchmark) -> dict[str, Any]:
    """The benchmark as MTEB's ``RetrievalSplitData`` (corpus/queries Datasets + relevant_docs)."""
    from datasets import Dataset

    corpus = Dataset.from_list([{"id": d, "text": r["text"], "title": r.get("title", "")} for d, r in bench.corpus.items()])
    queries = Dataset.from_list([{"id": q, "text": r["text"]} for q, r in bench.queries.items()])
    return {
        "corpus": corpus,
        "queries": queries,
        "relevant_docs": {q: dict(v) for q, v in bench.qrels.items()},
        "top_ranked": None,
    }


def pooled_task(bench: str | Path | Benchmark, name: str | None = None) -> Any:
    """An ``mteb`` AbsTaskRetrieval instance for the pooled view of ``bench``."""
    from mteb.abstasks.retrieval import AbsTaskRetrieval
    from mteb.abstasks.task_metadata import TaskMetadata

    b = load_benchmark(bench)
    task_name = name or f"Mimo{''.join(p.capitalize() for p in b.name.replace('_', '-').split('-'))}Pooled"
    metadata = TaskMetadata(
        type="Retrieval",
        name=task_name,
        description=f"mimo pooled multilingual benchmark {b.name}: every language version of each "
        "passage in one corpus, all versions of a gold passage relevant to every version of the query.",
        reference="https://github.com/embeddings-benchmark/mteb",
        dataset={"path": str(b.source), "revision": "local"},
        category="t2t",
        modalities=["text"],
        eval_splits=["test"],
        eval_langs=sorted({MTEB_LANGS[lang] for lang in b.langs}),
        main_score="ndcg_at_10",
        date=("2023-01-01", "2024-12-31"),
        domains=["Programming", "Written"],
        task_subtypes=[],
        license="not specified",
        annotations_creators="derived",
        dialect=[],
        sample_creation="found",
        bibtex_citation="",
    )

    def load_data(self: Any, num_proc: int | None = None, **kwargs: Any) -> None:
        if self.data_loaded:
            return
        self.dataset = {"default": {"test": split_data(b)}}
        self.data_loaded = True

    cls = type(task_name, (AbsTaskRetrieval,), {"metadata": metadata, "load_data": load_data})
    return cls()
