"""Stage 1 (distillation) and Stage 2 (joint / baselines): each stage's batch plan, teacher labels,
batches and run, on a :class:`Context` the two share. :func:`mimo.train.loop.train` strings them together."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mimo.errors import InputError, MimoError
from mimo.models.static import PREFIX as STATIC_PREFIX
from mimo.models.static import is_static
from mimo.train.config import LAKDA_OBJECTIVES, TrainConfig
from mimo.train.data import ParallelData, RetrievalData, load_parallel, load_retrieval
from mimo.train.heldout import heldout_figures, record_heldout
from mimo.train.labels import Teacher
from mimo.train.objectives import LambdaSchedule, lstsq_projection, stage2_loss
from mimo.train.sampling import independent_languages, plan_stage1, plan_stage2
from mimo.train.steps import ProgressFn, TrainResult, features, run_stage


@dataclass
class Context:
    """What both stages share: the config, the student and its distillation loss, the teacher, the
    result being filled, the checkpoint resumed from, the step log and the held-out rows."""

    config: TrainConfig
    out: Path
    model: Any
    kd: Any
    teacher: Teacher | None
    result: TrainResult
    say: Callable[[str], None]
    ckpt: dict[str, Any] | None
    progress: ProgressFn | None
    main: bool = True
    log: Any = None
    heldout: list[tuple[str, str, str]] = field(default_factory=list)
    labels_h: dict[str, np.ndarray] | None = None

    def figures(self) -> dict[str, Any]:  # checkpointed: a resumed run reports the figures it measured before
        return {"heldout": {"alignment": dict(self.result.alignment), "heldout_kd": dict(self.result.heldout_kd)}}


@dataclass
class Stage1Plan:
    batches: list
    roles: list[str]
    labels: dict[str, dict[str, np.ndarray]]


@dataclass
class Stage2Plan:
    batches: list
    lab_q: dict[str, np.ndarray] | None
    lab_p: dict[str, np.ndarray] | None
    init: Path | None


def load_data(config: TrainConfig, run1: bool, run2: bool) -> tuple[ParallelData | None, RetrievalData | None]:
    par: ParallelData | None = None
    ret: RetrievalData | None = None
    if run1:
        par = load_parallel(config.parallel_path, config.langs, config.max_rows, config.eval_rows,
                            config.data_columns, config.data_lang)
    elif config.eval_rows:  # Stage 2 alone: the same held-out rows as Stage 1, when the data is there
        try:
            par = load_parallel(config.parallel_path, config.langs, config.max_rows, config.eval_rows,
                                config.data_columns, config.data_lang)
        except MimoError:
            par = None
    if run2:
        ret = load_retrieval(config.retrieval_path, config.langs, config.max_rows, config.query_kinds,
                             config.data_columns, config.data_lang)
    return par, ret


def stage1_roles(mode: str, steps: int) -> list[str]:
    """The prompt role of each Stage-1 step: all ``query``, all ``passage``, or ``both`` alternating
    (query on even steps), so the passage-prompted space the documents live in is distilled too."""
    if mode == "both":
        return ["query" if i % 2 == 0 else "passage" for i in range(steps)]
    return [mode] * steps


def plan_stage1_run(ctx: Context, par: ParallelData) -> Stage1Plan:
    config, teacher, say = ctx.config, ctx.teacher, ctx.say
    steps = config.stage_steps(1, len(par.lang))
    batches1, mix = plan_stage1(par.lang, [len(t) for t in par.translation], steps,
                                config.batch_size, config.seed, config.length_grouping)
    if not batches1:
        raise MimoError(f"stage 1: {len(par.lang)} rows cannot fill one batch of {config.batch_size}")
    ctx.result.mix["stage1"] = dict(sorted(mix.items()))
    roles1 = stage1_roles(config.stage1_prompt, len(batches1))
    english_by_role: dict[str, list[str]] = {}
    for batch, role in zip(batches1, roles1, strict=True):
        english_by_role.setdefault(role, []).extend(par.english[i] for i in batch)
    labels1 = {role: teacher.labels(texts, role, say) for role, texts in english_by_role.items()}
    return Stage1Plan(batches1, roles1, labels1)


def plan_stage2_run(ctx: Context, ret: RetrievalData, run1: bool) -> Stage2Plan:
    config, teacher, kd, say = ctx.config, ctx.teacher, ctx.kd, ctx.say
    pair_langs = {pid: set(v) for pid, v in ret.pairs.items()}
    lengths = {pid: len(v["en"][1]) for pid, v in ret.pairs.items()}
    try:
        steps = config.stage_steps(2, sum(len(v) for v in ret.pairs.values()))
        batches2, mix = plan_stage2(pair_langs, lengths, steps, config.stage2_batch_size,
                                    config.seed + 1, config.objective == "infonce", config.length_grouping)
    except ValueError as e:
        raise MimoError(f"stage 2: {e}") from None
    ctx.result.mix["stage2"] = dict(sorted(mix.items()))
    lab_q = lab_p = None
    if config.effective_lambda < 1.0 and config.objective not in LAKDA_OBJECTIVES:
        rows = [ret.pairs[e.pair_id]["en"] for b in batches2 for e in b]
        lab_q = teacher.labels([r[0] for r in rows], "query", say)
        lab_p = teacher.labels([r[1] for r in rows], "passage", say)
    init = None
    if not run1 and kd is not None and kd.projection is not None:
        # Stage 2 alone continues a Stage-1 run: its projection, given or beside the student
        # (``static:<dir>`` names the dir after the prefix)
        student_dir = Path(config.student[len(STATIC_PREFIX):] if is_static(config.student) else config.student)
        init = Path(config.init_projection or student_dir / "projection.safetensors")
        if not init.is_file():
            if config.init_projection:
                raise InputError(f"init_projection {init} does not exist")
            init = None
    return Stage2Plan(batches2, lab_q, lab_p, init)


def initial_figures(ctx: Context, par: ParallelData | None, run1: bool) -> None:
    """Teacher labels of the held-out rows, the least-squares projection fit, the initial figures."""
    config, model, kd, teacher, result = ctx.config, ctx.model, ctx.kd, ctx.teacher, ctx.result
    qp = config.query_prompt_name
    ctx.heldout = heldout = par.heldout if par else []
    ctx.labels_h = teacher.labels([r[0] for r in heldout], "query") if heldout and teacher else None
    # the projection fit and the initial figures come from the untrained student, so they are
    # redone identically (deterministic) when resuming, before the checkpoint's weights load
    if run1 and config.projection_init == "lstsq" and kd.projection is not None:
        uniq = list(dict.fromkeys(par.english))  # a seeded sample over all sources, not the first N
        pick = np.random.default_rng(config.seed).permutation(len(uniq))[: config.lstsq_texts]
        texts = [uniq[i] for i in sorted(pick)]
        t_emb = np.stack(list(teacher.labels(texts, "query", ctx.say).values()))
        kw = {"prompt_name": qp} if qp in model.prompts else {}
        s_emb = model.encode(texts, convert_to_numpy=True, **kw)
        result.final_losses |= lstsq_projection(kd.projection, s_emb, t_emb, config.lstsq_ridge)
    if heldout:  # Stage 1 starts from this loss (after the projection fit); Stage 2 alone: alignment only
        record_heldout(result, "initial", heldout_figures(model, kd if run1 else None, heldout, ctx.labels_h, qp))
        ctx.say(f"alignment on {len(heldout)} held-out pairs: {result.alignment['initial']:.4f}")


def run_stage1(ctx: Context, par: ParallelData, plan: Stage1Plan) -> None:
    """Stage 1: distil the student, through the projection, onto the teacher's English embeddings."""
    config, model, kd, result, ckpt, out = ctx.config, ctx.model, ctx.kd, ctx.result, ctx.ckpt, ctx.out
    qp, pp = config.query_prompt_name, config.passage_prompt_name
    heldout, labels_h = ctx.heldout, ctx.labels_h

    def make1(batch: list[int], step: int):
        role = plan.roles[step]
        prompt = qp if role == "query" else pp
        feats = [features(model, [par.translation[i] for i in batch], prompt),
                 features(model, [par.english[i] for i in batch], prompt)]
        return feats, torch.as_tensor(np.stack([plan.labels[role][par.english[i]] for i in batch]))

    stage1_ran = not (ckpt is not None and (ckpt["stage"] == 2 or ckpt["done"]))
    if stage1_ran:
        state = ckpt if ckpt is not None and ckpt["stage"] == 1 else None
        result.final_losses |= {f"stage1_{k}": v for k, v in run_stage(
            1, model, kd, plan.batches, make1, config.lr, config, out, ctx.log, ctx.progress, state, None,
            ctx.figures).items()}
    result.steps["stage1"] = len(plan.batches)
    if ctx.main and kd.projection is not None and not (out / "projection-stage1.safetensors").exists():
        from safetensors.torch import save_model

        save_model(kd.projection, str(out / "projection-stage1.safetensors"))
    if heldout:
        saved = (ckpt or {}).get("heldout") or {}
        if not stage1_ran and "after_stage1" in saved.get("alignment", {}):  # the model is past Stage 1 now
            result.alignment["after_stage1"] = saved["alignment"]["after_stage1"]
            result.heldout_kd["after_stage1"] = saved["heldout_kd"]["after_stage1"]
        else:
            record_heldout(result, "after_stage1", heldout_figures(model, kd, heldout, labels_h, qp))
        ctx.say(f"held-out distillation loss: {result.heldout_kd['initial']:.4f} -> "
                f"{result.heldout_kd['after_stage1']:.4f}")
        ctx.say(f"alignment after stage 1: {result.alignment['after_stage1']:.4f}")


def run_stage2(ctx: Context, ret: RetrievalData, plan: Stage2Plan):
    """Stage 2: the joint objective (or a baseline's); returns its loss module."""
    config, model, kd, result, ckpt, out = ctx.config, ctx.model, ctx.kd, ctx.result, ctx.ckpt, ctx.out
    qp, pp = config.query_prompt_name, config.passage_prompt_name
    lab_q, lab_p = plan.lab_q, plan.lab_p
    if plan.init is not None and ckpt is None:
        kd.load_projection(plan.init)
    loss2 = stage2_loss(model, config, kd).to(model.device)

    def make2(batch, step: int):
        rows = [ret.pairs[e.pair_id] for e in batch]
        q = [r[e.x][0] for r, e in zip(rows, batch, strict=True)]
        p = [r[e.y][1] for r, e in zip(rows, batch, strict=True)]
        if config.objective in LAKDA_OBJECTIVES:
            qt = [r[e.y][0] for r, e in zip(rows, batch, strict=True)]
            if config.objective == "lakda":  # the reference: the passage's language drawn on its own
                langs = independent_languages([sorted(r) for r in rows], config.seed, step)
                p = [r[z][1] for r, z in zip(rows, langs, strict=True)]
            return [features(model, q, qp), features(model, qt, qp), features(model, p, pp)], None
        y = None
        if lab_q is not None:
            y = torch.as_tensor(
                np.stack([np.stack([lab_q[r["en"][0]], lab_p[r["en"][1]]]) for r in rows])
            )
        return [features(model, q, qp), features(model, p, pp)], y

    kind = config.lambda_schedule if config.objective == "mimo" else "constant"
    schedule = LambdaSchedule(kind, config.effective_lambda, len(plan.batches), config.lambda_warmup,
                              config.adaptive_tolerance)
    state = ckpt if ckpt is not None and ckpt["stage"] == 2 and not ckpt["done"] else None
    if not (ckpt is not None and ckpt["stage"] == 2 and ckpt["done"]):
        result.final_losses |= {f"stage2_{k}": v for k, v in run_stage(
            2, model, loss2, plan.batches, make2, config.stage2_lr, config, out, ctx.log, ctx.progress, state,
            schedule, ctx.figures).items()}
    result.steps["stage2"] = len(plan.batches)
    if ctx.heldout:
        record_heldout(result, "after_stage2", heldout_figures(model, kd_of(loss2), ctx.heldout, ctx.labels_h, qp))
    return loss2


def kd_of(loss):
    kd = getattr(loss, "kd", loss)
    return kd if hasattr(kd, "save_projection") else None
