"""The training runner: Stage 1 (distillation) -> Stage 2 (joint / baselines), resumable.

A clean PyTorch loop over sentence-transformers losses rather than SentenceTransformerTrainer:
exact resume needs the pre-computed batch plan and per-step lambda-schedule state in the
checkpoint, labels come from the teacher cache by text, and a signal must checkpoint between
steps; the trainer's optimizer does include loss-owned parameters (tested), so the losses
themselves work with it unchanged.

Where things live: :mod:`~mimo.train.stages` (each stage's plan, labels, batches and run),
:mod:`~mimo.train.steps` (the step loop), :mod:`~mimo.train.labels` (teacher labels via the cache),
:mod:`~mimo.train.heldout` (held-out figures), :mod:`~mimo.train.checkpoint` (RNG, checkpoints,
log, the output dir) and :mod:`~mimo.train.ddp` (data parallel under ``torchrun``: each process
takes ``batch[rank::N]``, gradients are averaged, rank 0 writes).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from mimo.models.static import is_static, is_static_dir, load_static_student, student_texts
from mimo.train.checkpoint import CKPT, StepLog, TrainingInterrupted, load_ckpt, restore_weights, seed_all, write_model_dir
from mimo.train.config import TrainConfig
from mimo.train.ddp import barrier, dist_info, pick_device
from mimo.train.heldout import heldout_figures
from mimo.train.labels import Teacher, canonical_name, load_student_model
from mimo.train.objectives import kd_loss, shrink_student
from mimo.train.stages import (
    Context,
    initial_figures,
    kd_of,
    load_data,
    plan_stage1_run,
    plan_stage2_run,
    run_stage1,
    run_stage2,
    stage1_roles,
)
from mimo.train.steps import ProgressFn, StepInfo, TrainResult

__all__ = [
    "CKPT", "ProgressFn", "StepInfo", "TrainResult", "TrainingInterrupted", "canonical_name", "heldout_figures",
    "load_student_model", "stage1_roles", "train",
]


def train(
    config: TrainConfig,
    progress: ProgressFn | None = None,
    resume: bool = False,
    say: Callable[[str], None] | None = None,
    device: str = "cpu",
) -> TrainResult:
    """Run Stage 1 and/or Stage 2 as configured; write a loadable model dir to ``config.out``.

    ``progress`` gets a :class:`StepInfo` after every step; ``say`` gets one-line milestones.
    ``device`` (``cpu``, ``cuda``, ``cuda:1``, ``auto``) runs student and teacher there; a checkpoint
    resumes on any device (bit-identical on the device it was written on).

    Everything that can be wrong with the input (data, languages, dims, cache) is checked before
    the first teacher or training step.
    """
    t_start = time.perf_counter()
    say = say or (lambda msg: None)
    config.validate()
    out = Path(config.out)
    run1, run2 = config.stage in ("1", "both"), config.stage in ("2", "both")
    par, ret = load_data(config, run1, run2)
    ckpt = load_ckpt(out, resume)

    say(f"data: {len(par.lang) if par else 0} parallel rows, {len(ret.pairs) if ret else 0} aligned pairs")
    seed_all(config.seed)
    device = pick_device(device)
    if is_static(config.student) or is_static_dir(config.student):  # StaticEmbedding student (static:<init> or
        # a trained static dir); an init's vocabulary is pruned to the training texts
        model, surgery = load_static_student(config.student, student_texts(par, ret))
        model.to(device)
    else:
        model = load_student_model(config.student, device)
        model.max_seq_length = config.max_length
        surgery = shrink_student(model, config.student_layers, config.freeze_embeddings)
    teacher = Teacher(config, model, device) if (config.needs_teacher or run1) else None
    teacher_dim = teacher.dim() if teacher else model.get_embedding_dimension()
    kd = kd_loss(model, config, teacher_dim) if teacher else None  # dim mismatch raises here
    if kd is not None and device != "cpu":
        kd.to(device)
    ctx = Context(config, out, model, kd, teacher, TrainResult(out, {}, {}, 0.0), say, ckpt, progress)

    # plans and teacher labels for both stages, before any training step
    plan1 = plan_stage1_run(ctx, par) if run1 else None
    plan2 = plan_stage2_run(ctx, ret, run1) if run2 else None

    rank, world = dist_info()
    ctx.main = rank == 0
    out.mkdir(parents=True, exist_ok=True)
    ctx.log = log = StepLog(out, resume, rank, world)
    initial_figures(ctx, par, run1)
    if ckpt is not None:
        restore_weights(ckpt, model, kd)

    if run1:
        run_stage1(ctx, par, plan1)
    loss2 = run_stage2(ctx, ret, plan2) if run2 else None
    log.close()

    result = ctx.result
    result.seconds = time.perf_counter() - t_start
    if not ctx.main:
        log.path.unlink(missing_ok=True)
        barrier()
        return result
    summary = {
        "steps": result.steps, "final_losses": result.final_losses, "seconds": result.seconds,
        "alignment": result.alignment, "heldout_kd": result.heldout_kd,
        "mix": result.mix, "teacher_id": teacher.id if teacher else None,
        "teacher_dim": teacher_dim, "student_surgery": surgery,
        "dropped_pairs_without_en": ret.dropped_without_en if ret else 0,
        "loss": (loss2 or kd).get_config_dict() if (loss2 or kd) is not None else None,
    }
    proj_src = (kd_of(loss2) if loss2 is not None else None) or kd
    write_model_dir(out, config, model, proj_src, log.path.read_text(), run2, summary)
    if world > 1:
        barrier()
    return result
