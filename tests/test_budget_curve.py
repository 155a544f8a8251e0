"""benchmarks/budget_curve.py on tiny models: trains, scores, resumes an interrupted run, skips finished
points, writes points.json, the seed-aware summary, the table and the figure."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import sys
from pathlib import Path

import pytest
import torch
import yaml

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "tests" / "fixtures" / "bench" / "tiny"


@pytest.fixture(scope="module")
def bc():
    spec = importlib.util.spec_from_file_location("budget_curve", ROOT / "benchmarks" / "budget_curve.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["budget_curve"] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from mimo.train.tiny import build_tiny_student, tiny_parallel, tiny_retrieval, tiny_texts

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("budget")
    texts = tiny_texts() + [json.loads(line)["text"] for f in ("queries.jsonl", "corpus.jsonl")
                            for line in (BENCH / f).read_text().splitlines()]
    student = build_tiny_student(root / "student", texts, hidden=32)
    teacher = build_tiny_student(root / "teacher", texts, hidden=48, seed=1)
    tiny_parallel().save_to_disk(str(root / "par"))
    tiny_retrieval().save_to_disk(str(root / "ret"))
    recipe = {
        "student": str(student), "teachers": {"minilm": str(teacher)}, "budgets": [3], "seeds": [0],
        "methods": ["mimo-minilm", "xlco"], "benches": [str(BENCH), str(root / "not-built")],
        "stage1_share": 0.34, "stage2_lr": {"mimo": 1e-3, "xlco": 1e-3, "kd": 1e-3, "lakda": 1e-3},
        "prefill_teachers": ["minilm"],
        "train": {"parallel_path": str(root / "par"), "retrieval_path": str(root / "ret"),
                  "teacher_cache": str(root / "cache"), "batch_size": 8, "stage2_batch_size": 8, "lr": 1e-3,
                  "max_length": 32, "eval_rows": 0, "checkpoint_every": 0},
    }
    (root / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    yield root
    torch.set_num_threads(n)


def test_budget_curve_trains_scores_resumes_and_skips(bc, setup, capsys, monkeypatch):
    from mimo.evaluate import evaluate
    from mimo.train import TrainingInterrupted, train

    monkeypatch.setenv("MIMO_HOME", str(setup / "home"))  # encode cache of this test only
    work, out = setup / "work", setup / "results"
    common = ["--config", str(setup / "recipe.yaml"), "--work", str(work), "--out", str(out), "--device", "auto",
              "--resamples", "500"]
    assert bc.main(common) == 0
    first = capsys.readouterr().out
    assert "skipping benchmark" in first and "not-built" in first
    store = json.loads((out / "points.json").read_text())
    assert {(p["method"], p["budget"], p["seed"]) for p in store["points"]} == {("mimo-minilm", 3, 0), ("xlco", 3, 0)}
    assert store["teacher_cache"]["minilm"]["computed"] > 0  # the one-off cost is recorded
    md = (out / "budget-curve.md").read_text()
    # one seed per method: no invented seed sd, and the interval says it counts query groups only
    assert "(1 seed)" in md and "(query groups only)" in md and "± 0.0000" not in md and "n/a / n/a" in md
    mimo = next(p for p in store["points"] if p["method"] == "mimo-minilm")
    assert mimo["steps"] == {"stage1": 1, "stage2": 2}  # 34% of 3 steps in Stage 1
    # the recorded score is the evaluation API's pooled nDCG@10 of that model
    direct = evaluate(mimo["model_dir"], BENCH, views=["pooled"])
    assert mimo["ndcg@10"] == pytest.approx(direct["views"]["pooled"]["overall"]["nDCG@10"])

    # interrupt one run of the next invocation's plan: the runner must resume it, not start over
    recipe = yaml.safe_load((setup / "recipe.yaml").read_text()) | {"budgets": [3, 6], "seeds": [0, 1]}
    (cfg,) = bc.plan_point(recipe, "xlco", 6, 1, work)

    def stop(info):
        if info.step == 2:
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(TrainingInterrupted):
        train(cfg, progress=stop)
    assert (Path(cfg.out) / "checkpoint.pt").is_file()
    mtime = (Path(mimo["model_dir"]) / "model.safetensors").stat().st_mtime_ns

    more = [*common, "--budgets", "3", "6", "--seeds", "0", "1"]
    assert bc.main([*more, "--plan"]) == 0
    planned = capsys.readouterr().out
    assert "xlco         B=6     seed 1: xlco 6 steps: resumable" in planned
    assert "mimo-minilm  B=3     seed 0: stage1-minilm 1 steps: trained; mimo-minilm 2 steps: trained" in planned
    assert bc.main(more) == 0
    second = capsys.readouterr().out
    assert "mimo-minilm B=3 seed 0: done, skipped" in second
    assert "resuming the interrupted run" in second
    assert (Path(mimo["model_dir"]) / "model.safetensors").stat().st_mtime_ns == mtime
    log = [json.loads(line) for line in (Path(cfg.out) / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [1, 2, 3, 4, 5, 6]  # resumed after step 2, not retrained

    store = json.loads((out / "points.json").read_text())
    assert len(store["points"]) == 2 * 2 * 2
    summary = json.loads((out / "summary.json").read_text())
    cell = next(c for c in summary["curve"] if c["method"] == "xlco" and c["budget"] == 6)
    assert cell["seeds"] == [0, 1] and cell["sd"] >= 0
    (comp,) = [r for r in summary["comparisons"] if r["budget"] == 6]
    assert comp["method_a"] == "mimo-minilm" and comp["method_b"] == "xlco"
    assert comp["ci_low"] <= comp["diff"] <= comp["ci_high"]
    assert comp["per_kind"] == {}  # the tiny benchmark's queries carry no kind
    assert set(comp["per_seed_diff"]) == {"0", "1"}
    assert (out / "budget-curve.png").stat().st_size > 10_000 and (out / "budget-curve.md").is_file()
    md = (out / "budget-curve.md").read_text()
    assert "MIMO (MiniLM) − XLCO-only" in md
    assert " ± " in md and "(1 seed)" not in md and "(query groups only)" not in md  # two seeds now

    # a third invocation has nothing to do
    assert bc.main(more) == 0
    third = capsys.readouterr().out
    assert "trained in" not in third and third.count("done, skipped") == 8

    # --summary rebuilds the table and figure from points.json alone: no model dir, no training
    (out / "budget-curve.md").unlink()
    shutil.rmtree(work)
    assert bc.main([*more, "--summary"]) == 0
    assert "MIMO (MiniLM) − XLCO-only" in capsys.readouterr().out
    assert "MIMO (MiniLM) − XLCO-only" in (out / "budget-curve.md").read_text() and not work.exists()


def test_split_steps_and_unknown_method(bc, setup):
    assert bc.split_steps(50, 0.2) == (10, 40)
    assert bc.split_steps(2, 0.9) == (1, 1)
    with pytest.raises(SystemExit, match="unknown method"):
        bc.main(["--config", str(setup / "recipe.yaml"), "--methods", "nope", "--plan"])



def test_per_kind_difference_is_each_kinds_mean_difference(bc, tmp_path):
    kinds = {"q1": "task", "q2": "question", "q3": "task", "q4": "question", "q5": ""}
    groups = {q: q for q in kinds}
    a = [{"q1": 0.2, "q2": 0.5, "q3": 0.4, "q4": 0.7, "q5": 0.9}, {"q1": 0.1, "q2": 0.6, "q3": 0.3, "q4": 0.8, "q5": 0.0}]
    b = [{"q1": 0.3, "q2": 0.4, "q3": 0.2, "q4": 0.4, "q5": 0.5}, {"q1": 0.2, "q2": 0.3, "q3": 0.2, "q4": 0.6, "q5": 0.1}]
    pk = bc.per_kind(a, b, kinds, groups, [0, 1], [0, 1], 500)
    assert list(pk) == ["question", "task"]  # mimo.data.kinds order; a query without a kind is left out
    q = pk["question"]
    assert q["n_queries"] == 2 and q["n_groups"] == 2
    assert q["mean_a"] == pytest.approx((0.5 + 0.7 + 0.6 + 0.8) / 4) and q["mean_b"] == pytest.approx((0.4 + 0.4 + 0.3 + 0.6) / 4)
    assert q["diff"] == pytest.approx(q["mean_a"] - q["mean_b"]) and q["ci_low"] <= q["diff"] <= q["ci_high"]
    assert pk["task"]["diff"] == pytest.approx((0.2 + 0.4 + 0.1 + 0.3) / 4 - (0.3 + 0.2 + 0.2 + 0.2) / 4)
    table = "\n".join(bc._kind_table([{"budget": 50, "a": "A", "b": "B", "per_kind": pk}]))
    assert "| question (n=2) | task (n=2) |" in table and f"{100 * q['diff']:+.2f} [" in table
    assert bc._kind_table([{"budget": 50, "a": "A", "b": "B", "per_kind": {}}]) == []

    # kinds.json is written once beside qids.json, and only when the queries carry kinds
    store = bc.Store(tmp_path)
    row = {"key": "xlco|50|0|b", "bench": "b"}
    store.add(row, ["q1", "q2"], [0.1, 0.2], {}, {"q1": "", "q2": ""})
    assert store.kinds("b") == {} and not (tmp_path / "per-query" / "b" / "kinds.json").exists()
    store.add_kinds("b", {"q1": "task", "q2": "question", "q9": "task"})
    assert store.kinds("b") == {"q1": "task", "q2": "question"}
    store.add_kinds("b", {"q1": "heading", "q2": "heading"})
    assert store.kinds("b")["q1"] == "task"


def test_two_runners_on_one_out_keep_each_others_points(bc, tmp_path):
    """Two processes that opened one --out before either scored: each save adopts the other's points."""
    a, b = bc.Store(tmp_path), bc.Store(tmp_path)
    a.add({"key": "lakda|200|1|b", "bench": "b", "ndcg@10": 0.1}, ["q1"], [0.1], {})
    b.add({"key": "lakda|200|2|b", "bench": "b", "ndcg@10": 0.2}, ["q1"], [0.2], {})
    a.add({"key": "lakda|200|1|b", "bench": "b", "ndcg@10": 0.3}, ["q1"], [0.3], {})  # a rescore replaces
    points = {p["key"]: p["ndcg@10"] for p in bc.Store(tmp_path).data["points"]}
    assert points == {"lakda|200|1|b": 0.3, "lakda|200|2|b": 0.2}
    assert bc.Store(tmp_path).has("lakda|200|2|b")


_PER_KIND_SCRIPT = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("budget_curve", sys.argv[1])
bc = importlib.util.module_from_spec(spec); sys.modules["budget_curve"] = bc; spec.loader.exec_module(bc)
qs = [f"q{i}" for i in range(60)]
kinds = {q: ("task", "question")[i % 2] for i, q in enumerate(qs)}
groups = {q: f"g{i // 3}" for i, q in enumerate(qs)}
a = [{q: ((i * 7 + s) % 11) / 10 for i, q in enumerate(qs)} for s in range(2)]
b = [{q: ((i * 5 + s) % 13) / 12 for i, q in enumerate(qs)} for s in range(2)]
print(json.dumps(bc.per_kind(a, b, kinds, groups, [0, 1], [0, 1], 300), sort_keys=True))
"""


def test_per_kind_intervals_do_not_depend_on_the_hash_seed():
    """The per-kind bootstrap draws groups by column: the column order must come from the data, not from
    set iteration, or the same points.json gives other intervals in every process (it did)."""
    import subprocess

    script = ROOT / "benchmarks" / "budget_curve.py"
    outs = {subprocess.run([sys.executable, "-c", _PER_KIND_SCRIPT, str(script)], capture_output=True, text=True,
                           check=True, env={**os.environ, "PYTHONHASHSEED": str(h)}).stdout for h in range(4)}
    assert len(outs) == 1, outs


def test_count_printer_prints_every_n_items_and_the_last(bc, capsys):
    show = bc.count_printer("  mpnet", every=100)
    for done in (64, 128, 192, 256, 300):
        show(done, 300)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[1] for line in lines] == ["128/300", "256/300", "300/300"]
    assert lines[-1].endswith("ETA >= 0s")


def test_cpu_full_config_is_the_budget_curves_800_step_mimo_recipe(bc, tmp_path):
    """configs/cpu-full.yaml reports the budget curve's 800-step MIMO (MiniLM) point as its result, so
    every setting the two runs of that point use must be the config's (else the README's figures lie)."""
    from mimo.train import TrainConfig

    recipe = yaml.safe_load((ROOT / "configs" / "budget-curve.yaml").read_text())
    stage1, stage2 = bc.plan_point(recipe, "mimo-minilm", 800, 0, tmp_path)
    full = TrainConfig.from_yaml(ROOT / "configs" / "cpu-full.yaml")
    assert (full.stage, full.objective, full.stage1_steps, full.stage2_steps) == ("both", "mimo", 160, 640)
    assert full.teacher == stage1.teacher == stage2.teacher and full.student == stage1.student
    skip = {"out", "stage", "objective", "student", "init_projection", "stage1_steps", "stage2_steps",
            "checkpoint_every"}
    for name in set(full.to_dict()) - skip:
        used = getattr(stage2, name) if name.startswith(("stage2", "lam", "mini_batch")) else getattr(stage1, name)
        assert getattr(full, name) == used, name


def test_summary_measures_the_anchor_effect_and_the_figure_leaves_it_out(bc, tmp_path, monkeypatch):
    """With both anchors at a budget the summary adds MIMO (mpnet) − MIMO (MiniLM), seed-aware, beside the
    comparisons with the baselines; the figure's difference panel plots only the latter."""
    qids = [f"q{i}" for i in range(12)]
    store = bc.Store(tmp_path)
    base = {"mimo-minilm": 0.40, "mimo-mpnet": 0.45, "xlco": 0.42}
    for method, level in base.items():
        for seed in (0, 1):
            key = bc.point_key(method, 50, seed, "b")
            scores = [level + 0.01 * seed + 0.02 * (i % 3) for i in range(12)]
            row = {"key": key, "method": method, "budget": 50, "seed": seed, "bench": "b",
                   "ndcg@10": sum(scores) / len(scores)}
            store.add(row, qids, scores, {q: f"g{i // 2}" for i, q in enumerate(qids)})
    summary = bc.summarize(store, 200)
    pairs = {(r["method_a"], r["method_b"]): r for r in summary["comparisons"]}
    assert set(pairs) == {("mimo-minilm", "xlco"), ("mimo-mpnet", "xlco"), ("mimo-mpnet", "mimo-minilm")}
    anchor = pairs[("mimo-mpnet", "mimo-minilm")]
    assert anchor["diff"] == pytest.approx(0.05) and anchor["vs"] == "the MiniLM anchor"
    assert "MIMO (mpnet) − MIMO (MiniLM)" in (tmp_path / "budget-curve.md").read_text()

    import matplotlib.pyplot as plt

    from mimo import plots

    seen = []
    monkeypatch.setattr(plots, "save", lambda fig, stem: seen.extend(  # the difference panels' shared legend
        t.get_text() for legend in fig.legends for t in legend.get_texts()) or plt.close(fig) or [])
    plots.budget_curve_figure(summary["curve"], summary["comparisons"], tmp_path / "fig")
    # the difference panel: each anchor against XLCO-only (here also the best baseline), nothing else
    assert sorted(t for t in seen if " − " in t) == ["MIMO (MiniLM) − XLCO-only", "MIMO (mpnet) − XLCO-only"]
    assert not any(t.startswith("open marker") for t in seen)  # two seeds each: every interval has seed variance

    # one recipe with a single seed: its comparisons are drawn hollow and the legend says why
    seen.clear()
    one_seed = [{**r, "seeds_b": r["seeds_b"][:1]} for r in summary["comparisons"]]
    plots.budget_curve_figure(summary["curve"], one_seed, tmp_path / "fig")
    assert any(t.startswith("open marker: one recipe has 1 seed") for t in seen)
