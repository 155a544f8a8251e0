"""The main job in tiny form: real data, real mE5-small student, real MiniLM teacher, a few steps.

Asserts what the demo exists to show: Stage 1 lowers the distillation loss and brings translations
closer (alignment on held-out pairs falls), every Stage-2 objective trains and saves a model that
loads with plain SentenceTransformer, and the evaluation table, figures and report are written.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from sentence_transformers import SentenceTransformer

from mimo.demo import DemoConfig, run_demo


@pytest.fixture(scope="module")
def tiny_demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    cfg = DemoConfig(
        out=str(out), stage1_steps=16, stage1_batch_size=32, stage1_lr=2e-4, stage2_steps=2, stage2_batch_size=8,
        max_length=48, bench_groups=12, bench_docs=150, analysis_pairs_per_lang=8,
    )
    yield cfg, run_demo(cfg, say=lambda m: None, progress=False)
    shutil.rmtree(out, ignore_errors=True)  # four ~470 MB models: free the disk before the next module


def test_stage1_lowers_distillation_loss_and_improves_alignment(tiny_demo):
    """Measured on held-out translation pairs (never trained on), not on noisy training batches."""
    cfg, summary = tiny_demo
    text = (Path(cfg.out) / "stage1" / "train_log.jsonl").read_text()
    losses = [json.loads(line)["loss"] for line in text.splitlines() if line.strip()]
    assert len(losses) == cfg.stage1_steps
    s1 = summary["training"]["stage1 (kd)"]
    kd, al = s1["heldout_kd"], s1["alignment"]
    assert kd["after_stage1"] < kd["initial"], kd
    assert al["after_stage1"] < al["initial"], al


def test_every_objective_saves_a_loadable_model(tiny_demo):
    cfg, summary = tiny_demo
    assert set(summary["models"]) == {"stage1 (kd)", "mimo", "kd-only", "xlco-only"}
    for path in summary["models"].values():
        m = SentenceTransformer(path, device="cpu")
        assert m.prompts.get("query") == "query: "
        assert m.encode(["Hallo Welt"], normalize_embeddings=True).shape == (1, 384)
    # every Stage-2 objective trains on the same question/task pairs (the demo's default kinds)
    kinds = {label: yaml.safe_load((Path(p) / "train_config.yaml").read_text())["query_kinds"]
             for label, p in summary["models"].items()}
    assert kinds == {"stage1 (kd)": None, "mimo": ["question", "task"], "kd-only": ["question", "task"],
                     "xlco-only": ["question", "task"]}


def test_results_table_figures_and_report(tiny_demo):
    cfg, summary = tiny_demo
    rows = summary["table"]["rows"]
    assert [r["model"] for r in rows][:2] == ["untrained student", "stage1 (kd)"]
    assert len(summary["analysis"]) == 5
    # MIMO is paired-tested against each other evaluated model
    assert {p["a"] for p in summary["paired"]} == {"mimo"}
    assert sorted(p["b"] for p in summary["paired"]) == ["kd-only", "stage1 (kd)", "untrained student", "xlco-only"]
    assert any(f.endswith("alignment-uniformity.png") for f in summary["figures"])
    for f in summary["figures"] + list(summary["report"].values()):
        assert open(f, "rb").read(4)


@pytest.mark.parametrize(("args", "expected"), [([], "from-config"), (["--out", "from-flag"], "from-flag")])
def test_cli_out_defaults_to_the_config_out(tmp_path, monkeypatch, args, expected):
    """`mimo demo --config C` writes where C says; an explicit --out wins (it used to overwrite C's out)."""
    from typer.testing import CliRunner

    import mimo.demo
    import mimo.errors
    from mimo.cli import app

    seen: list[str] = []

    def fake_run(cfg, say=print, progress=True):
        seen.append(cfg.out)
        raise mimo.errors.InputError("stop here")

    monkeypatch.setattr(mimo.demo, "run_demo", fake_run)
    conf = tmp_path / "demo.yaml"
    conf.write_text("out: from-config\nbench: mlir-qa-dev\n")
    result = CliRunner().invoke(app, ["demo", "--config", str(conf), *args])
    assert seen == [expected], result.output
    assert "stop here" in result.output
