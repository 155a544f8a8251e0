"""The training runner on a tiny random student: stages, objectives, resume, outputs, bad input."""

from __future__ import annotations

import json
import os
import signal
from collections import Counter
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from mimo.errors import InputError, MimoError
from mimo.train import TrainConfig, TrainingInterrupted, train
from mimo.train.objectives import LambdaSchedule, lstsq_projection
from mimo.train.sampling import independent_languages, plan_stage1, plan_stage2
from mimo.train.tiny import build_tiny_student, tiny_parallel, tiny_retrieval, tiny_texts


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models train faster on one thread, and do not fight other processes for cores."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("train")
    paths = {
        "student": build_tiny_student(root / "student", tiny_texts(), hidden=32),
        "teacher": build_tiny_student(root / "teacher", tiny_texts(), hidden=48, seed=1),
        "par": root / "par", "ret": root / "ret", "cache": root / "cache", "root": root,
    }
    tiny_parallel().save_to_disk(str(paths["par"]))
    tiny_retrieval().save_to_disk(str(paths["ret"]))
    return paths


def cfg(env, out: Path, **kw) -> TrainConfig:
    base = dict(
        out=str(out), student=str(env["student"]), teacher=str(env["teacher"]),
        parallel_path=str(env["par"]), retrieval_path=str(env["ret"]), teacher_cache=str(env["cache"]),
        stage1_steps=6, stage2_steps=4, batch_size=8, stage2_batch_size=8, lr=1e-3, stage2_lr=1e-3,
        eval_rows=8, checkpoint_every=0,
    )
    return TrainConfig(**(base | kw)).validate()


def weights(path: Path) -> dict[str, torch.Tensor]:
    return load_file(str(path / "model.safetensors"))


def assert_same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0, msg=k)


# ---- config -------------------------------------------------------------------------------------
def test_config_round_trips_yaml_and_rejects_unknown_fields(tmp_path):
    c = TrainConfig(objective="lakda", langs=["de", "fr"], lam=0.3, mini_batch_size=16)
    p = tmp_path / "c.yaml"
    p.write_text(c.to_yaml())
    assert TrainConfig.from_yaml(p) == c
    p.write_text("objective: mimo\nbatchsize: 3\n")
    with pytest.raises(InputError, match="unknown field.*batchsize"):
        TrainConfig.from_yaml(p)
    with pytest.raises(InputError, match="objective"):
        TrainConfig(objective="simcse").validate()
    with pytest.raises(ValueError, match="unknown language code 'xx'"):
        TrainConfig(langs=["xx"]).validate()


def test_config_reads_yaml_numbers_without_a_dot_as_numbers(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("stage2_lr: 1e-4\nlr: 3e-5\nstage1_steps: 40\nlam: 1\n")  # PyYAML: "1e-4" is a string
    c = TrainConfig.from_yaml(p)
    assert (c.stage2_lr, c.lr, c.stage1_steps, c.lam) == (1e-4, 3e-5, 40, 1.0)
    assert isinstance(c.stage2_lr, float) and isinstance(c.lam, float)
    p.write_text("lr: fast\n")
    with pytest.raises(InputError, match="'lr': 'fast' is not a number"):
        TrainConfig.from_yaml(p)
    with pytest.raises(InputError, match="stage1_steps.*whole number"):
        TrainConfig(stage1_steps=2.5).validate()


def test_example_configs_are_valid():
    import yaml

    for path in sorted(Path(__file__).parents[1].glob("configs/*.yaml")):
        raw = yaml.safe_load(path.read_text())
        if "budgets" in raw:  # a budget-curve recipe (benchmarks/budget_curve.py): its shared TrainConfig fields
            TrainConfig.from_dict(raw["train"] | {"student": raw["student"]}, where=str(path))
        elif "students" in raw:  # the student axis (benchmarks/student_axis.py): shared + per-student fields
            for name, spec in raw["students"].items():
                fields = raw["train"] | (spec.get("train") or {}) | {"student": spec["student"]}
                TrainConfig.from_dict(fields, where=f"{path}: students.{name}")
        else:
            TrainConfig.from_yaml(path)


def test_epochs_derive_each_stages_steps_from_the_data_size(env, tmp_path):
    from mimo.train.data import load_parallel, load_retrieval

    raw = cfg(env, tmp_path / "ep", eval_rows=8).to_dict()
    del raw["stage1_steps"], raw["stage2_steps"]
    c = TrainConfig.from_dict(raw | {"stage1_epochs": 1, "stage2_epochs": 0.5})
    rows1 = len(load_parallel(str(env["par"]), None, None, 8).lang)
    rows2 = sum(len(v) for v in load_retrieval(str(env["ret"]), None, None).pairs.values())
    assert (c.stage_steps(1, rows1), c.stage_steps(2, rows2)) == (rows1 // 8, rows2 // 2 // 8)
    res = train(c)
    assert res.steps == {"stage1": rows1 // 8, "stage2": rows2 // 2 // 8} and rows1 // 8 > 1
    assert TrainConfig.from_yaml(res.out / "train_config.yaml") == c  # the saved config reloads: no conflict
    assert c.stage_steps(1, 10**6) == 10**6 // 8 and replace_max(c, 3).stage_steps(1, 10**6) == 3


def replace_max(c: TrainConfig, max_steps: int) -> TrainConfig:
    import dataclasses

    return dataclasses.replace(c, max_steps=max_steps)


def test_steps_and_epochs_for_one_stage_is_a_clear_error(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("stage1_steps: 100\nstage1_epochs: 1\n")  # even a step count equal to the default
    with pytest.raises(InputError, match="'stage1_steps' and 'stage1_epochs' conflict"):
        TrainConfig.from_yaml(p)
    with pytest.raises(InputError, match="'stage2_steps' and 'stage2_epochs' conflict"):
        TrainConfig(stage2_steps=7, stage2_epochs=2).validate()
    with pytest.raises(InputError, match="'stage2_epochs' must be > 0"):
        TrainConfig(stage2_epochs=0).validate()
    assert TrainConfig(stage1_steps=7, stage2_epochs=1).validate().stage_steps(1, 10**6) == 7

# ---- sampling -----------------------------------------------------------------------------------
def test_stage1_plan_balances_languages_and_is_deterministic():
    langs = ["de"] * 90 + ["fr"] * 5 + ["en"] * 30
    batches, mix = plan_stage1(langs, [len(x) for x in langs], 10, 6, seed=3)
    assert len(batches) == 10 and all(len(b) == 6 for b in batches)
    assert max(mix.values()) - min(mix.values()) <= 1 and set(mix) == {"de", "fr", "en"}
    assert plan_stage1(langs, [1] * len(langs), 10, 6, seed=3)[0] == plan_stage1(langs, [1] * 125, 10, 6, 3)[0]


@pytest.mark.parametrize("same", [False, True])
def test_stage2_plan_balances_ordered_language_pairs(same):
    pair_langs = {f"p{i}": {"en", "de", "ja"} if i < 40 else {"en", "de"} for i in range(200)}
    lengths = {k: i % 17 for i, k in enumerate(pair_langs)}
    batches, mix = plan_stage2(pair_langs, lengths, 12, 12, seed=0, same_language=same)
    assert len(batches) == 12
    for b in batches:
        assert len({e.pair_id for e in b}) == len(b)  # no pair twice in a batch (false negatives)
        assert all((e.x == e.y) == same for e in b)
    want = 3 if same else 6
    assert len(mix) == want and max(mix.values()) - min(mix.values()) <= 2
    assert plan_stage2(pair_langs, lengths, 12, 12, seed=0, same_language=same)[0] == batches


# ---- objectives ---------------------------------------------------------------------------------
def test_reference_lakda_passage_language_is_uniform_and_independent_of_the_pair():
    langs = [["de", "en", "fr", "ja"]] * 4000
    got = independent_languages(langs, seed=3, step=7)
    assert got == independent_languages(langs, seed=3, step=7)  # a resumed run draws the same
    assert got != independent_languages(langs, seed=3, step=8)
    counts = Counter(got)
    assert set(counts) == {"de", "en", "fr", "ja"} and all(800 < c < 1200 for c in counts.values())
    assert independent_languages([["de"], ["fr", "ja"]], 0, 0)[0] == "de"


def test_lambda_schedules():
    lin = LambdaSchedule("linear", 0.4, steps=10, warmup=0.5)
    assert [round(lin.value(s), 2) for s in (0, 4, 9)] == [0.08, 0.4, 0.4]
    ada = LambdaSchedule("adaptive", 0.5, steps=10, tol=0.05)
    ada.update(1.0)
    assert ada.value(1) > 0.5  # alignment holding: more contrastive weight
    for _ in range(5):
        ada.update(2.0)
    assert ada.value(7) < 0.5  # alignment degrading: back toward distillation


def test_lstsq_projection_recovers_a_linear_map():
    g = torch.Generator().manual_seed(0)
    s = torch.randn(50, 8, generator=g, dtype=torch.float64)
    w, b = torch.randn(5, 8, generator=g, dtype=torch.float64), torch.randn(5, generator=g, dtype=torch.float64)
    proj = torch.nn.Linear(8, 5)
    scores = lstsq_projection(proj, s.numpy(), (s @ w.T + b).numpy(), ridge=0.0, heldout=0.2)
    assert scores["lstsq_fit_cos"] == pytest.approx(1.0)
    assert scores["lstsq_heldout_cos"] == pytest.approx(1.0)
    torch.testing.assert_close(proj.weight.double(), w, rtol=1e-4, atol=1e-4)


def test_ridge_generalises_where_plain_lstsq_interpolates():
    """Fewer texts than dims: the unregularised fit is perfect on its texts and worse on new ones."""
    g = torch.Generator().manual_seed(1)
    w = torch.randn(16, 64, generator=g, dtype=torch.float64)
    s, s_new = torch.randn(40, 64, generator=g, dtype=torch.float64), torch.randn(200, 64, generator=g, dtype=torch.float64)
    t = s @ w.T + 3.0 * torch.randn(40, 16, generator=g, dtype=torch.float64)

    def new_cos(ridge: float) -> tuple[float, float]:
        proj = torch.nn.Linear(64, 16).double()
        fit = lstsq_projection(proj, s.numpy(), t.numpy(), ridge=ridge)["lstsq_fit_cos"]
        with torch.no_grad():
            return fit, float(torch.nn.functional.cosine_similarity(proj(s_new), s_new @ w.T).mean())

    fit0, new0 = new_cos(1e-9)
    fit1, new1 = new_cos(10.0)
    assert fit0 == pytest.approx(1.0, abs=1e-6) and fit1 < fit0
    assert new1 > new0


# ---- end to end ---------------------------------------------------------------------------------
@pytest.mark.parametrize("objective", ["mimo", "kd", "xlco", "infonce", "lakda", "lakda-sharp", "mse"])
def test_every_objective_trains_and_saves_a_loadable_model(env, tmp_path, objective):
    from sentence_transformers import SentenceTransformer

    teacher = "self" if objective == "mse" else str(env["teacher"])
    c = cfg(env, tmp_path / objective, objective=objective, teacher=teacher, mini_batch_size=4)
    res = train(c)
    assert res.steps == {"stage1": 6, "stage2": 4}
    assert all(v == v for v in res.final_losses.values())  # no NaN
    m = SentenceTransformer(str(res.out), device="cpu")
    assert m.prompts["query"] == "query: " and m.encode(["rot haus"], prompt_name="query").shape == (1, 32)
    assert TrainConfig.from_yaml(res.out / "train_config.yaml") == c
    log = [json.loads(x) for x in (res.out / "train_log.jsonl").read_text().splitlines()]
    assert [r["stage"] for r in log] == [1] * 6 + [2] * 4
    card = (res.out / "README.md").read_text()
    assert objective in card and "Teacher" in card and "alignment" in card
    if objective.startswith("lakda"):
        assert ("unscaled" in card) == (objective == "lakda")
    assert (res.out / "projection.safetensors").exists() == (objective != "mse")
    assert not (res.out / "checkpoint.pt").exists()


def test_stage1_lowers_distillation_loss_and_improves_alignment(env, tmp_path):
    res = train(cfg(env, tmp_path / "s1", stage="1", stage1_steps=30, eval_rows=16))
    log = [json.loads(x)["loss"] for x in (res.out / "train_log.jsonl").read_text().splitlines()]
    assert sum(log[-5:]) / 5 < sum(log[:5]) / 5
    assert res.alignment["after_stage1"] < res.alignment["initial"]
    proj = load_file(str(res.out / "projection.safetensors"))
    assert proj["weight"].shape == (48, 32)


def test_same_seed_gives_same_weights(env, tmp_path):
    a = train(cfg(env, tmp_path / "a", seed=5))
    b = train(cfg(env, tmp_path / "b", seed=5))
    assert_same(weights(a.out), weights(b.out))


@pytest.mark.parametrize("stop_at", [(1, 3), (2, 2)])
def test_resume_after_sigint_gives_the_same_final_weights(env, tmp_path, stop_at):
    ref = train(cfg(env, tmp_path / "ref", lambda_schedule="adaptive", projection_init="lstsq"))
    c = cfg(env, tmp_path / "run", lambda_schedule="adaptive", projection_init="lstsq")

    def interrupt(info):
        if (info.stage, info.step) == stop_at:
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(TrainingInterrupted, match="--resume"):
        train(c, progress=interrupt)
    assert (tmp_path / "run" / "checkpoint.pt").exists()
    with pytest.raises(MimoError, match="unfinished run"):
        train(c)
    from mimo.train.runs import can_resume, train_or_reuse

    assert not can_resume(cfg(env, tmp_path / "run", lambda_schedule="adaptive", projection_init="lstsq", seed=c.seed + 1))
    assert can_resume(c)
    said: list[str] = []
    train_or_reuse(c, say=said.append)  # what a long benchmark does after a kill: resume, not restart or fail
    assert "resuming" in said[0]
    assert_same(weights(ref.out), weights(tmp_path / "run"))
    log = [json.loads(x) for x in (tmp_path / "run" / "train_log.jsonl").read_text().splitlines()]
    assert [(r["stage"], r["step"]) for r in log] == [(1, i) for i in range(1, 7)] + [(2, i) for i in range(1, 5)]
    # the held-out figures are those of the uninterrupted run, "initial" included (from the untrained student)
    got, want = (json.loads((d / "train_summary.json").read_text()) for d in (tmp_path / "run", ref.out))
    for key in ("alignment", "heldout_kd"):
        assert got[key].keys() == want[key].keys() == {"initial", "after_stage1", "after_stage2"}
        assert got[key] == pytest.approx(want[key], abs=1e-6)


@pytest.mark.parametrize("objective", ["kd", "mse"])
def test_heldout_figures_are_the_training_loss_on_heldout_pairs(env, objective):
    """alignment = mean ||n(en) - n(xx)||^2; kd = the Stage-1 loss module's value, written out by hand."""
    import numpy as np
    from sentence_transformers import SentenceTransformer

    from mimo.train.loop import heldout_figures
    from mimo.train.objectives import kd_loss

    student = SentenceTransformer(str(env["student"]))
    rows = tiny_parallel().select(range(6))
    rows = [(r["english"], r["translation"], r["lang"]) for r in rows if r["lang"] != "en"]
    dim = 48 if objective == "kd" else student.get_embedding_dimension()
    kd = kd_loss(student, TrainConfig(objective=objective), dim)
    t = {r[0]: np.random.default_rng(i).normal(size=dim).astype(np.float32) for i, r in enumerate(rows)}
    got = heldout_figures(student, kd, rows, t, "query")

    en = student.encode([r[0] for r in rows], convert_to_tensor=True, prompt_name="query")
    xx = student.encode([r[1] for r in rows], convert_to_tensor=True, prompt_name="query")
    n = torch.nn.functional.normalize
    assert got["alignment"] == pytest.approx(float(((n(en, dim=-1) - n(xx, dim=-1)) ** 2).sum(-1).mean()), rel=1e-5)
    tt = torch.as_tensor(np.stack([t[r[0]] for r in rows]))
    with torch.no_grad():
        if objective == "kd":
            w, b = kd.projection.weight, kd.projection.bias
            want = sum((1 - torch.cosine_similarity(s @ w.T + b, tt, dim=-1)).mean() for s in (xx, en)) / 2
        else:
            want = sum(((s - tt) ** 2).mean() for s in (xx, en)) / 2
    assert got["kd"] == pytest.approx(float(want), rel=1e-4)
    assert heldout_figures(student, None, rows, t, "query").keys() == {"alignment"}


def test_projection_changes_during_stage1(env, tmp_path):
    c = cfg(env, tmp_path / "p", stage="1", projection_init="lstsq", stage1_steps=3)
    res = train(c)
    # the same lstsq start, (practically) not trained:
    fitted = train(cfg(env, tmp_path / "p0", stage="1", projection_init="lstsq", stage1_steps=1, lr=1e-12))
    a, b = load_file(str(res.out / "projection.safetensors")), load_file(str(fitted.out / "projection.safetensors"))
    assert not torch.allclose(a["weight"], b["weight"])


# ---- bad input: one clear error each, before expensive work -----------------------------------------
def _bad(env, tmp_path, name, rows, kind="par"):
    import datasets

    path = tmp_path / name
    datasets.Dataset.from_dict(rows).save_to_disk(str(path))
    return cfg(env, tmp_path / "out", **{"parallel_path" if kind == "par" else "retrieval_path": str(path)})


def test_bad_inputs_raise_one_clear_error(env, tmp_path):
    good = tiny_parallel(4).to_dict()
    cases = [
        ({k: v for k, v in good.items() if k != "translation"}, "lacks field.*translation"),
        (good | {"translation": [""] + good["translation"][1:]}, "row 0: field 'translation' is empty"),
        (good | {"lang": ["xx"] + good["lang"][1:]}, "row 0: field 'lang' has unknown language code 'xx'"),
    ]
    for i, (rows, msg) in enumerate(cases):
        with pytest.raises(InputError, match=msg):
            train(_bad(env, tmp_path, f"bad{i}", rows))
    with pytest.raises(InputError, match="parallel dataset is empty"):
        train(cfg(env, tmp_path / "o0", max_rows=0))
    with pytest.raises(InputError, match="no non-English rows"):
        train(cfg(env, tmp_path / "o1", langs=["ja"]))
    with pytest.raises(InputError, match="teacher dim 48 != student dim 32"):
        train(cfg(env, tmp_path / "o2", projection=False))
    with pytest.raises(InputError, match="mse objective"):
        train(cfg(env, tmp_path / "o3", objective="mse"))
    with pytest.raises(MimoError, match="teacher cache .* is empty and the run is read-only"):
        train(cfg(env, tmp_path / "o4", cache_read_only=True, teacher_cache=str(tmp_path / "empty")))
    train(cfg(env, tmp_path / "s1", stage="1", stage1_steps=1, teacher_cache=str(tmp_path / "c1")))
    with pytest.raises(MimoError, match="teacher cache .* lacks .* texts.*teacher-cache build"):
        train(cfg(env, tmp_path / "o4", stage="2", cache_read_only=True, teacher_cache=str(tmp_path / "c1")))
    with pytest.raises(InputError, match=r"nope does not exist \(no such file or directory, and not a hub dataset name"):
        train(cfg(env, tmp_path / "o5", parallel_path=str(tmp_path / "nope")))
    assert not any((tmp_path / f"o{i}").exists() for i in range(6))


def test_cli_train_with_yaml_and_flags(env, tmp_path):
    from typer.testing import CliRunner

    from mimo.cli import app

    y = tmp_path / "c.yaml"
    y.write_text(cfg(env, tmp_path / "from-yaml").to_yaml())
    out = tmp_path / "cli-out"
    res = CliRunner().invoke(app, ["train", "-c", str(y), "--stage", "1", "--max-steps", "2", "--out", str(out),
                                   "--objective", "kd", "--lambda", "0.5"])
    assert res.exit_code == 0, res.output
    saved = TrainConfig.from_yaml(out / "train_config.yaml")
    assert (saved.stage, saved.max_steps, saved.objective, saved.lam) == ("1", 2, "kd", 0.5)
    bad = CliRunner().invoke(app, ["train", "-c", str(y), "--objective", "nope", "--out", str(tmp_path / "x")])
    assert bad.exit_code == 1 and "objective" in bad.output


def test_mix_is_reported(env, tmp_path):
    res = train(cfg(env, tmp_path / "mix", stage="2", stage2_steps=6))
    assert set(res.mix["stage2"]) == {f"{x}->{y}" for x in ("de", "en", "fr") for y in ("de", "en", "fr") if x != y}
    assert Counter(res.mix["stage2"]).total() == 6 * 8


def test_torchrun_two_gloo_processes_train_like_one(env, tmp_path):
    """Data parallel under torchrun (2 CPU processes, gloo): each rank takes half of every batch."""
    import subprocess
    import sys

    c = cfg(env, tmp_path / "ddp", stage1_steps=12, stage2_steps=4, eval_rows=0)
    y = tmp_path / "c.yaml"
    y.write_text(c.to_yaml())
    script = tmp_path / "run.py"
    script.write_text(
        "import sys, torch\ntorch.set_num_threads(1)\n"
        "from mimo.train import TrainConfig, train\ntrain(TrainConfig.from_yaml(sys.argv[1]))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(script), str(y)],
        capture_output=True, text=True, timeout=300, env=os.environ | {"OMP_NUM_THREADS": "1"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    ddp = [json.loads(x) for x in (tmp_path / "ddp" / "train_log.jsonl").read_text().splitlines()]
    assert {r["world_size"] for r in ddp} == {2} and len(ddp) == 16
    one = train(cfg(env, tmp_path / "one", stage1_steps=12, stage2_steps=4, eval_rows=0))
    single = [json.loads(x) for x in (one.out / "train_log.jsonl").read_text().splitlines()]
    for log in (ddp, single):  # same trajectory shape: Stage-1 distillation loss falls
        s1 = [r["loss"] for r in log if r["stage"] == 1]
        assert sum(s1[-3:]) < sum(s1[:3])
    assert abs(ddp[0]["loss"] - single[0]["loss"]) < 0.1  # same initial model and data


def test_self_teacher_uses_the_frozen_students_prompted_embeddings(env, tmp_path):
    from mimo.teacher import cache_stats

    root = tmp_path / "cache"
    res = train(cfg(env, tmp_path / "self", teacher="self", teacher_cache=str(root), projection=False))
    stats = {s.prompt: s for s in cache_stats(root)}
    assert set(stats) == {"query: ", "passage: "} and stats["query: "].dim == 32
    assert all(s.teacher_id.startswith("self:") for s in stats.values())
    assert not (res.out / "projection.safetensors").exists()


def test_stage2_alone_continues_from_a_stage1_dir_with_its_projection(env, tmp_path):
    s1 = train(cfg(env, tmp_path / "s1", stage="1", stage1_steps=3))
    s2 = train(cfg(env, tmp_path / "s2", stage="2", student=str(s1.out), stage2_lr=1e-12, stage2_steps=2))
    a = load_file(str(s1.out / "projection.safetensors"))
    b = load_file(str(s2.out / "projection.safetensors"))
    torch.testing.assert_close(a["weight"], b["weight"], rtol=1e-6, atol=1e-9)
    assert "after_stage2" in s2.alignment and "initial" in s2.alignment


def test_train_or_reuse_skips_an_identical_finished_run_only(env, tmp_path):
    from mimo.train.runs import is_finished, train_or_reuse

    c = cfg(env, tmp_path / "r", stage="1", stage1_steps=2)
    assert not is_finished(c)
    first = train_or_reuse(c, say=lambda m: None)
    weights = tmp_path / "r" / "model.safetensors"
    stamp = weights.stat().st_mtime_ns
    said: list[str] = []
    assert train_or_reuse(c, say=said.append) == first
    assert weights.stat().st_mtime_ns == stamp and "reusing" in said[0]
    # a run saved before a field existed (its default keeps the old behaviour) is still this run
    saved = tmp_path / "r" / "train_config.yaml"
    saved.write_text("\n".join(x for x in saved.read_text().splitlines() if not x.startswith("stage1_prompt:")))
    assert is_finished(c)
    changed = cfg(env, tmp_path / "r", stage="1", stage1_steps=2, seed=c.seed + 1)
    assert not is_finished(changed)
    assert not is_finished(cfg(env, tmp_path / "r", stage="1", stage1_steps=2, stage1_prompt="both"))
    train_or_reuse(changed, say=said.append)
    assert weights.stat().st_mtime_ns != stamp


def test_stage1_prompt_both_alternates_query_and_passage_steps(env, tmp_path):
    from mimo.train.loop import stage1_roles

    assert stage1_roles("both", 5) == ["query", "passage", "query", "passage", "query"]
    assert stage1_roles("passage", 2) == ["passage", "passage"]
    cache = tmp_path / "cache"
    c = cfg(env, tmp_path / "b", stage="1", stage1_steps=4, stage1_prompt="both", teacher_cache=str(cache),
            teacher_query_prompt="q: ", teacher_passage_prompt="p: ", eval_rows=0)
    res = train(c)
    assert res.steps["stage1"] == 4
    # the teacher labelled the English side twice: with its query prompt and, for the passage steps,
    # with its passage prompt (one cache namespace each)
    assert len(list(cache.glob("*/meta.json"))) == 2
    with pytest.raises(InputError, match="stage1_prompt"):
        cfg(env, tmp_path / "x", stage1_prompt="docs")
