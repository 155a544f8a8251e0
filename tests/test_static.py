"""Static (StaticEmbedding) MIMO student: distilled init with a pruned vocabulary, trained by mimo.train."""

from __future__ import annotations

import json

import pytest
from test_train import cfg, env, one_thread  # noqa: F401  (module fixtures: tiny student/teacher/data)

from mimo.errors import InputError
from mimo.models.static import is_static, is_static_dir, student_texts, token_counts
from mimo.train import train
from mimo.train.data import load_parallel, load_retrieval


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("MIMO_HOME", str(tmp_path / "home"))


def test_static_student_trains_both_stages_and_distillation_improves(env, tmp_path):  # noqa: F811
    from sentence_transformers import SentenceTransformer
    from transformers import AutoTokenizer

    name = f"static:{env['student']}"
    assert is_static(name) and not is_static(str(env["student"]))
    res = train(cfg(env, tmp_path / "st", student=name, stage1_steps=40, stage2_steps=6, lr=3e-2,
                    stage2_lr=1e-2, projection_init="lstsq", eval_rows=16))
    # Stage 1 lowers the held-out distillation loss (the loss module itself) and aligns translations
    assert res.heldout_kd["after_stage1"] < res.heldout_kd["initial"] - 0.01
    assert res.alignment["after_stage1"] < res.alignment["initial"]
    log = [json.loads(x) for x in (res.out / "train_log.jsonl").read_text().splitlines()]
    assert {r["stage"] for r in log} == {1, 2} and all(r["loss"] == r["loss"] for r in log)
    # a plain sentence-transformers dir: StaticEmbedding over exactly the tokens the training texts use
    assert is_static_dir(res.out)
    st = SentenceTransformer(str(res.out), device="cpu")
    assert type(st[0]).__name__ == "StaticEmbedding"
    par = load_parallel(str(env["par"]), None, None, 16)
    ret = load_retrieval(str(env["ret"]), None, None)
    tok = AutoTokenizer.from_pretrained(str(env["student"]))
    used = token_counts(tok, student_texts(par, ret))
    # model2vec keeps the used tokens (and drops some specials: [CLS]/[SEP] are never embedded alone)
    assert len(used) <= st[0].num_embeddings <= len(set(used) | set(tok.all_special_ids)) < len(tok)
    assert st.encode(["ein kleiner Test"], prompt_name="query").shape == (1, st[0].embedding_dim)
    summary = json.loads((res.out / "train_summary.json").read_text())
    assert summary["student_surgery"]["vocab"] == st[0].num_embeddings


def test_static_without_init_is_a_clear_error(env, tmp_path):  # noqa: F811
    with pytest.raises(InputError, match="static:"):
        train(cfg(env, tmp_path / "bad", student="static:"))


def test_stage2_alone_from_a_static_dir_starts_from_its_stage1_projection(env, tmp_path):  # noqa: F811
    from safetensors.torch import load_file
    from torch.testing import assert_close

    s1 = train(cfg(env, tmp_path / "s1", student=f"static:{env['student']}", stage="1", stage1_steps=3,
                   lr=3e-2, projection_init="lstsq"))
    s2 = train(cfg(env, tmp_path / "s2", student=f"static:{s1.out}", stage="2", stage2_steps=2, stage2_lr=1e-12))
    a, b = (load_file(str(r.out / "projection.safetensors"))["weight"] for r in (s1, s2))
    assert_close(b, a, rtol=1e-6, atol=1e-9)  # a fresh projection would be random, far from Stage 1's
    # the dir without the static: prefix is a static student too (it used to fail setting max_seq_length)
    s3 = train(cfg(env, tmp_path / "s3", student=str(s1.out), stage="2", stage2_steps=2, stage2_lr=1e-12))
    assert is_static_dir(s3.out)
    assert_close(load_file(str(s3.out / "projection.safetensors"))["weight"], a, rtol=1e-6, atol=1e-9)


def test_static_epochs_run_resumes_to_the_uninterrupted_weights(env, tmp_path):  # noqa: F811
    """The README's static recipe (epochs, both stages) killed in Stage 2 and resumed ends bit-identical."""
    import os
    import signal

    from test_train import assert_same, weights

    from mimo.train import TrainConfig, TrainingInterrupted

    def config(out):
        raw = cfg(env, out, student=f"static:{env['student']}", projection_init="lstsq").to_dict()
        del raw["stage1_steps"], raw["stage2_steps"]
        return TrainConfig.from_dict(raw | {"stage1_epochs": 0.5, "stage2_epochs": 0.5, "lr": 3e-2})

    ref = train(config(tmp_path / "ref"))
    c = config(tmp_path / "run")

    def interrupt(info):
        if (info.stage, info.step) == (2, 1):
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(TrainingInterrupted, match="--resume"):
        train(c, progress=interrupt)
    res = train(c, resume=True)
    assert res.steps == ref.steps and res.steps["stage1"] > 1 and res.steps["stage2"] > 1
    assert_same(weights(ref.out), weights(res.out))
    from safetensors.torch import load_file

    assert_same(*(load_file(str(d / "projection.safetensors")) for d in (ref.out, res.out)))
