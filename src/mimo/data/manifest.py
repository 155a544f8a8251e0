"""Reading a finished build: its :class:`Manifest` and the datasets and benchmarks it wrote
under ``data_dir()`` (what training, evaluation and the CLI load)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mimo.data.config import BENCHMARKS, MANIFEST, SOURCES, source_of
from mimo.errors import MimoError
from mimo.paths import data_dir


@dataclass
class Manifest:
    """What a build produced; ``manifest.json`` in the data dir."""

    dataset_version: str
    created: str
    seed: int
    langs: list[str]
    config: dict
    sources: list[dict]
    counts: dict
    drops: dict
    build_seconds: float
    #: held-out page ids per benchmark ("<source>|<page_id>"); every other page is training data
    splits: dict = field(default_factory=dict)
    path: str = ""

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k != "path"}

    def thin_langs(self, min_pairs: int = 2_000) -> dict[str, int]:
        """Built languages with fewer than ``min_pairs`` parallel pairs (flagged, never hidden)."""
        par = self.counts.get("parallel", {})
        return {lg: n for lg in self.langs if (n := sum(par.get(lg, {}).values())) < min_pairs}

    def lang_table(self) -> list[dict[str, Any]]:
        """One row per language: parallel pairs per source, retrieval pairs, benchmark sizes."""
        par, ret = self.counts.get("parallel", {}), self.counts.get("retrieval-train", {})
        rows = []
        for lang in ["en", *self.langs]:
            row: dict[str, Any] = {"lang": lang}
            for src in self.config.get("sources", SOURCES):
                row[src] = sum(n for s, n in par.get(lang, {}).items() if source_of(s) == src)
            row["parallel"] = sum(par.get(lang, {}).values())
            row["retrieval"] = sum(ret.get(lang, {}).values())
            for b in BENCHMARKS:
                bc = self.counts.get(b, {})
                row[f"{b} q"] = bc.get("queries", {}).get(lang, 0)
                row[f"{b} docs"] = bc.get("corpus", {}).get(lang, 0)
            rows.append(row)
        return rows


def read_manifest(out: Path) -> Manifest | None:
    """The manifest in ``out``, or None when there is no build there."""
    p = out / MANIFEST
    if not p.exists():
        return None
    d = json.loads(p.read_text(encoding="utf-8"))
    return Manifest(**{k: d[k] for k in Manifest.__dataclass_fields__ if k in d}, path=str(p))


def load_manifest(out_dir: str | Path | None = None) -> Manifest:
    """The manifest of the current build; a clear error when there is none."""
    out = Path(out_dir) if out_dir else data_dir()
    m = read_manifest(out)
    if m is None:
        raise MimoError(f"no dataset build in {out}; run `mimo data build` first")
    return m


def _dataset(name: str, out_dir: str | Path | None):
    from datasets import load_from_disk

    p = (Path(out_dir) if out_dir else data_dir()) / name
    if not p.exists():
        raise MimoError(f"{p} does not exist; run `mimo data build` first")
    return load_from_disk(str(p))


def load_parallel(out_dir: str | Path | None = None):
    """The ``parallel`` dataset (HF ``datasets.Dataset``)."""
    return _dataset("parallel", out_dir)


def load_retrieval_train(out_dir: str | Path | None = None):
    """The ``retrieval-train`` dataset (HF ``datasets.Dataset``)."""
    return _dataset("retrieval-train", out_dir)


def benchmark_dir(name: str = "mlir-dev", out_dir: str | Path | None = None) -> Path:
    """Path of a built BEIR benchmark (``mlir-dev``, ``mlir-test``, ``mlir-qa-dev``, ``mlir-qa-test``)."""
    if name not in BENCHMARKS:
        raise MimoError(f"unknown benchmark {name!r}; built ones are {', '.join(BENCHMARKS)}")
    p = (Path(out_dir) if out_dir else data_dir()) / name
    if not (p / "corpus.jsonl").exists():
        raise MimoError(f"{p} does not exist; run `mimo data build` first")
    return p
