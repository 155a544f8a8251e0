"""The training runner: Stage 1 (distillation) -> Stage 2 (joint / baselines), resumable.

A clean PyTorch loop over sentence-transformers losses rather than SentenceTransformerTrainer:
exact resume needs the pre-computed batch plan and per-step lambda-schedule state in the
checkpoint, labels come from the teacher cache by text, and a signal must checkpoint between
steps; the trainer's optimizer does include loss-owned parameters (tested), so the losses
themselves work with it unchanged.

Data parallel: under ``torchrun --nproc_per_node N`` (or ``accelerate launch``) every process joins
a gloo (CPU) / nccl (GPU) group, takes ``batch[rank::N]`` of each planned batch, and gradients
(student and projection) are averaged before each optimizer step; only rank 0 writes checkpoints,
the log and the output dir. In-batch negatives are per process, as in DDP without gathering.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import os
import random
import signal
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mimo.errors import InputError, MimoError
from mimo.models.static import is_static, load_static_student, student_texts
from mimo.paths import atomic_dir, atomic_write_text
from mimo.teacher import TeacherCache, model_encode_fn
from mimo.train import card
from mimo.train.config import TrainConfig
from mimo.train.data import ParallelData, RetrievalData, load_parallel, load_retrieval
from mimo.train.objectives import LambdaSchedule, kd_loss, lstsq_projection, shrink_student, stage2_loss
from mimo.train.sampling import plan_stage1, plan_stage2

CKPT = "checkpoint.pt"


class TrainingInterrupted(MimoError):
    """Raised after a SIGINT/SIGTERM checkpoint; resume with ``--resume``."""


@dataclass
class StepInfo:
    stage: int
    step: int
    total: int
    loss: float
    parts: dict[str, float]
    lam: float | None
    pairs_per_s: float
    eta_s: float


@dataclass
class TrainResult:
    out: Path
    steps: dict[str, int]
    final_losses: dict[str, float]
    seconds: float
    alignment: dict[str, float] = field(default_factory=dict)
    heldout_kd: dict[str, float] = field(default_factory=dict)  # Stage-1 loss on held-out pairs
    mix: dict[str, dict[str, int]] = field(default_factory=dict)


ProgressFn = Callable[[StepInfo], None]


def load_student_model(name: str):
    """``mimo.models.load_model`` when available (offline resolver), else plain SentenceTransformer."""
    try:
        from mimo.models import load_model
    except ImportError:
        from sentence_transformers import SentenceTransformer

        return SentenceTransformer(name, device="cpu")
    return load_model(name)


def canonical_name(name: str) -> str:
    """The registry's hub name for an alias (``minilm`` -> its hub id), so caches are shared."""
    try:
        from mimo.models import resolve
    except ImportError:
        return name
    spec = resolve(name)
    return spec.name if spec is not None else name


def _fingerprint(model) -> str:
    h = hashlib.sha256()
    for name, t in model.state_dict().items():
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes()[:1 << 20])
    return h.hexdigest()[:16]


def _seed_all(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _rng_state() -> dict[str, Any]:
    return {"torch": torch.get_rng_state(), "python": random.getstate(), "numpy": np.random.get_state()}


def _set_rng_state(s: dict[str, Any]) -> None:
    torch.set_rng_state(s["torch"])
    random.setstate(s["python"])
    np.random.set_state(s["numpy"])


@contextmanager
def _signals_to_flag(flag: dict[str, bool]):
    """SIGINT/SIGTERM set ``flag['stop']``; the loop checkpoints and stops after the current step."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

    def handler(signum, frame):
        flag["stop"] = True

    for s in old:
        signal.signal(s, handler)
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def dist_info() -> tuple[int, int]:
    """(rank, world size). Under ``torchrun`` (WORLD_SIZE > 1) joins the process group, gloo on CPU."""
    import torch.distributed as dist

    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and dist.is_available() and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _save_ckpt(path: Path, state: dict[str, Any]) -> None:
    if dist_info()[0] != 0:
        return
    buf = io.BytesIO()
    torch.save(state, buf)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_bytes(buf.getvalue())
    os.replace(tmp, path)


class _Teacher:
    """Teacher labels via the cache; the teacher model is loaded only if an entry is missing."""

    def __init__(self, config: TrainConfig, student) -> None:
        self.config = config
        self._model = None
        if config.teacher == "self":
            self._model = copy.deepcopy(student).eval()
            self.id = f"self:{config.student}:{_fingerprint(student)}"
        else:
            self.id = canonical_name(config.teacher)
        self.caches: dict[str, TeacherCache] = {}

    def model(self):
        if self._model is None:
            self._model = load_student_model(self.config.teacher)
        return self._model

    def prompt(self, role: str) -> str:
        """The literal teacher prompt for ``role`` (query/passage); ``self`` defaults to the student's."""
        c = self.config
        text = c.teacher_query_prompt if role == "query" else c.teacher_passage_prompt
        if c.teacher == "self" and not text:
            name = c.query_prompt_name if role == "query" else c.passage_prompt_name
            text = self.model().prompts.get(name) or ""
        return text

    def cache(self, role: str) -> TeacherCache:
        prompt = self.prompt(role)
        if prompt not in self.caches:
            c = self.config

            def encode(texts: list[str]) -> np.ndarray:
                return model_encode_fn(self.model(), prompt)(texts)

            self.caches[prompt] = TeacherCache(
                self.id, None if c.cache_read_only else encode, prompt=prompt, dtype=c.cache_dtype,
                root=c.teacher_cache, read_only=c.cache_read_only,
            )
        return self.caches[prompt]

    def dim(self) -> int:
        probe = self.cache("query")
        if probe.dim:
            return probe.dim
        if self.config.cache_read_only:
            raise MimoError(f"teacher cache for {self.id!r} is empty and the run is read-only")
        return int(self.model().get_embedding_dimension())

    def labels(self, texts: list[str], role: str, say=None) -> dict[str, np.ndarray]:
        uniq = list(dict.fromkeys(texts))
        cache = self.cache(role)
        if say is not None:
            say(f"teacher labels ({role}): {len(uniq)} texts, {len(cache.missing(uniq))} to compute")
        emb = cache.get_or_compute(uniq)
        return dict(zip(uniq, emb, strict=True))


def heldout_figures(
    model, kd, rows: list[tuple[str, str, str]], labels: dict[str, np.ndarray] | None, prompt_name: str
) -> dict[str, float]:
    """Cross-lingual alignment and (with ``kd`` and teacher ``labels``) the Stage-1 loss on held-out
    ``(en, xx, lang)`` rows, from one encoding of each side.

    ``alignment`` = mean ||f(en) - f(xx)||^2 of unit-normalised student embeddings (lower = more
    aligned). ``kd`` = the training loss module itself on columns (xx, en), both against t(en):
    mean(1 - cos(W s + b, t)) for the cosine distillation, MSE for make_multilingual."""
    from mimo.analyze import alignment

    if not rows:
        return {}
    kw = {"prompt_name": prompt_name} if prompt_name in model.prompts else {}
    with torch.no_grad():
        en = model.encode([r[0] for r in rows], convert_to_tensor=True, **kw).float()
        xx = model.encode([r[1] for r in rows], convert_to_tensor=True, **kw).float()
        out = {"alignment": alignment(en.cpu().numpy(), xx.cpu().numpy())}
        if kd is None or labels is None:
            return out
        t = torch.as_tensor(np.stack([labels[r[0]] for r in rows])).float().to(en.device)
        if hasattr(kd, "compute_loss_from_embeddings"):
            value = kd.compute_loss_from_embeddings([xx, en], [t, t])
        else:  # a loss without the embeddings entry point (MSELoss): its forward re-encodes
            feats = [_features(model, [r[1] for r in rows], prompt_name), _features(model, [r[0] for r in rows], prompt_name)]
            feats = [{k: v.to(model.device) if torch.is_tensor(v) else v for k, v in f.items()} for f in feats]
            value = kd(feats, t)
    return out | {"kd": float(value)}


def stage1_roles(mode: str, steps: int) -> list[str]:
    """The prompt role of each Stage-1 step: all ``query``, all ``passage``, or ``both`` alternating
    (query on even steps), so the passage-prompted space the documents live in is distilled too."""
    if mode == "both":
        return ["query" if i % 2 == 0 else "passage" for i in range(steps)]
    return [mode] * steps


def _record_heldout(result: TrainResult, when: str, figures: dict[str, float]) -> None:
    if "alignment" in figures:
        result.alignment[when] = figures["alignment"]
    if "kd" in figures:
        result.heldout_kd[when] = figures["kd"]


def _features(model, texts: list[str], prompt_name: str) -> dict[str, Any]:
    prompt = model.prompts.get(prompt_name) or None
    return model.preprocess(texts, prompt=prompt)


def _optimizer(model, loss, lr: float, weight_decay: float, warmup: int):
    seen, params = set(), []
    for p in list(model.parameters()) + list(loss.parameters()):  # loss-owned projection included
        if p.requires_grad and id(p) not in seen:
            seen.add(id(p))
            params.append(p)
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warmup) if warmup else 1.0)
    return opt, sched


def _run_stage(
    stage: int,
    model,
    loss,
    batches: list,
    make_batch: Callable[[Any, int], tuple[list[dict[str, Any]], torch.Tensor | None]],
    lr: float,
    config: TrainConfig,
    out: Path,
    log,
    progress: ProgressFn | None,
    resume_state: dict[str, Any] | None,
    schedule: LambdaSchedule | None = None,
    extra_state: Callable[[], dict[str, Any]] | None = None,
) -> dict[str, float]:
    opt, sched = _optimizer(model, loss, lr, config.weight_decay, config.warmup_steps)
    start = 0
    if resume_state is not None:
        opt.load_state_dict(resume_state["optimizer"])
        sched.load_state_dict(resume_state["scheduler"])
        if schedule is not None and resume_state.get("lambda") is not None:
            schedule.load_state_dict(resume_state["lambda"])
        _set_rng_state(resume_state["rng"])
        start = resume_state["step"]
    flag = {"stop": False}
    last: dict[str, float] = {}

    def checkpoint(step: int, done: bool = False) -> None:
        state = {
            "stage": stage, "step": step, "done": done, "model": model.state_dict(),
            "projection": _projection_state(loss), "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(), "rng": _rng_state(),
            "lambda": schedule.state_dict() if schedule else None, "config": config.to_dict(),
        } | (extra_state() if extra_state else {})
        _save_ckpt(out / CKPT, state)

    rank, world = dist_info()
    model.train()
    t0, total = time.perf_counter(), len(batches)
    with _signals_to_flag(flag):
        for step in range(start, total):
            feats, labels = make_batch(batches[step][rank::world], step)
            if schedule is not None and hasattr(loss, "lam"):
                loss.lam = schedule.value(step)
            opt.zero_grad(set_to_none=True)
            value = loss(feats, labels)
            value.backward()
            if world > 1:  # data parallel: every rank holds a shard of the global batch
                _average_gradients(opt, world)
                value = _mean_across(value.detach(), world)
            opt.step()
            sched.step()
            parts = dict(getattr(loss, "last_parts", {}))
            if schedule is not None:
                schedule.update(parts.get("kd") if getattr(loss, "lam", 1.0) < 1 else None)
            elapsed = time.perf_counter() - t0
            done_steps = step + 1 - start
            rate = done_steps * len(batches[step]) / max(elapsed, 1e-9)
            eta = elapsed / done_steps * (total - step - 1)
            last = {"loss": float(value.detach()), **parts}
            lam = getattr(loss, "lam", None)
            info = StepInfo(stage, step + 1, total, last["loss"], parts, lam, rate, eta)
            log(asdict(info) | {"time": time.time()})
            if progress:
                progress(info)
            if flag["stop"]:
                checkpoint(step + 1)
                raise TrainingInterrupted(
                    f"interrupted at stage {stage} step {step + 1}/{total}; checkpoint in {out / CKPT}; "
                    "continue with --resume"
                )
            if config.checkpoint_every and (step + 1) % config.checkpoint_every == 0 and step + 1 < total:
                checkpoint(step + 1)
    checkpoint(total, done=True)
    model.eval()
    return last


def _average_gradients(opt, world: int) -> None:
    import torch.distributed as dist

    for group in opt.param_groups:
        for p in group["params"]:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
            dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
            p.grad /= world


def _mean_across(value: torch.Tensor, world: int) -> torch.Tensor:
    import torch.distributed as dist

    dist.all_reduce(value, op=dist.ReduceOp.SUM)
    return value / world


def _projection_state(loss) -> dict[str, torch.Tensor] | None:
    kd = getattr(loss, "kd", loss)
    proj = getattr(kd, "projection", None)
    return None if proj is None else {k: v.detach().clone() for k, v in proj.state_dict().items()}


def _kd_of(loss):
    kd = getattr(loss, "kd", loss)
    return kd if hasattr(kd, "save_projection") else None


def train(
    config: TrainConfig,
    progress: ProgressFn | None = None,
    resume: bool = False,
    say: Callable[[str], None] | None = None,
) -> TrainResult:
    """Run Stage 1 and/or Stage 2 as configured; write a loadable model dir to ``config.out``.

    ``progress`` gets a :class:`StepInfo` after every step; ``say`` gets one-line milestones.

    Everything that can be wrong with the input (data, languages, dims, cache) is checked before
    the first teacher or training step.
    """
    t_start = time.perf_counter()
    say = say or (lambda msg: None)
    config.validate()
    out = Path(config.out)
    run1, run2 = config.stage in ("1", "both"), config.stage in ("2", "both")
    par: ParallelData | None = None
    ret: RetrievalData | None = None
    if run1:
        par = load_parallel(config.parallel_path, config.langs, config.max_rows, config.eval_rows)
    elif config.eval_rows:  # Stage 2 alone: the same held-out rows as Stage 1, when the data is there
        try:
            par = load_parallel(config.parallel_path, config.langs, config.max_rows, config.eval_rows)
        except MimoError:
            par = None
    if run2:
        ret = load_retrieval(config.retrieval_path, config.langs, config.max_rows)

    ckpt = None
    if resume:
        if not (out / CKPT).exists():
            raise MimoError(f"--resume: no checkpoint at {out / CKPT}")
        ckpt = torch.load(out / CKPT, weights_only=False)
    elif (out / CKPT).exists():
        raise MimoError(f"{out} holds an unfinished run ({CKPT}); pass --resume or choose another --out")

    say(f"data: {len(par.lang) if par else 0} parallel rows, {len(ret.pairs) if ret else 0} aligned pairs")
    _seed_all(config.seed)
    if is_static(config.student):  # StaticEmbedding student; its vocabulary pruned to the training texts
        model, surgery = load_static_student(config.student, student_texts(par, ret))
    else:
        model = load_student_model(config.student)
        model.max_seq_length = config.max_length
        surgery = shrink_student(model, config.student_layers, config.freeze_embeddings)
    teacher = _Teacher(config, model) if (config.needs_teacher or run1) else None
    teacher_dim = teacher.dim() if teacher else model.get_embedding_dimension()
    kd = kd_loss(model, config, teacher_dim) if teacher else None  # dim mismatch raises here
    qp, pp = config.query_prompt_name, config.passage_prompt_name
    result = TrainResult(out, {}, {}, 0.0)

    # ---- Plans and teacher labels for both stages, before any training step -----------------
    if run1:
        batches1, mix = plan_stage1(par.lang, [len(t) for t in par.translation], config.steps1,
                                    config.batch_size, config.seed, config.length_grouping)
        if not batches1:
            raise MimoError(f"stage 1: {len(par.lang)} rows cannot fill one batch of {config.batch_size}")
        result.mix["stage1"] = dict(sorted(mix.items()))
        roles1 = stage1_roles(config.stage1_prompt, len(batches1))
        english_by_role: dict[str, list[str]] = {}
        for batch, role in zip(batches1, roles1, strict=True):
            english_by_role.setdefault(role, []).extend(par.english[i] for i in batch)
        labels1 = {role: teacher.labels(texts, role, say) for role, texts in english_by_role.items()}
    if run2:
        pair_langs = {pid: set(v) for pid, v in ret.pairs.items()}
        lengths = {pid: len(v["en"][1]) for pid, v in ret.pairs.items()}
        try:
            batches2, mix = plan_stage2(pair_langs, lengths, config.steps2, config.stage2_batch_size,
                                        config.seed + 1, config.objective == "infonce", config.length_grouping)
        except ValueError as e:
            raise MimoError(f"stage 2: {e}") from None
        result.mix["stage2"] = dict(sorted(mix.items()))
        lab_q = lab_p = None
        if config.effective_lambda < 1.0 and config.objective != "lakda":
            rows = [ret.pairs[e.pair_id]["en"] for b in batches2 for e in b]
            lab_q = teacher.labels([r[0] for r in rows], "query", say)
            lab_p = teacher.labels([r[1] for r in rows], "passage", say)
        init = None
        if not run1 and kd is not None and kd.projection is not None:
            # Stage 2 alone continues a Stage-1 run: its projection, given or beside the student
            init = Path(config.init_projection or Path(config.student) / "projection.safetensors")
            if not init.is_file():
                if config.init_projection:
                    raise InputError(f"init_projection {init} does not exist")
                init = None

    rank, world = dist_info()
    main = rank == 0
    out.mkdir(parents=True, exist_ok=True)
    log_path = out / "train_log.jsonl"
    if not main:  # only rank 0 writes into the output dir
        import tempfile

        log_path = Path(tempfile.gettempdir()) / f"mimo-train-rank{rank}-{os.getpid()}.jsonl"
    if not resume:
        log_path.write_text("")
    log_f = log_path.open("a")

    def log(rec: dict[str, Any]) -> None:
        log_f.write(json.dumps(rec | ({"world_size": world} if world > 1 else {})) + "\n")
        log_f.flush()

    heldout = par.heldout if par else []

    def figures() -> dict[str, Any]:  # checkpointed: a resumed run reports the figures it measured before
        return {"heldout": {"alignment": dict(result.alignment), "heldout_kd": dict(result.heldout_kd)}}

    labels_h = teacher.labels([r[0] for r in heldout], "query") if heldout and teacher else None
    # the projection fit and the initial figures come from the untrained student, so they are
    # redone identically (deterministic) when resuming, before the checkpoint's weights load
    if run1 and config.projection_init == "lstsq" and kd.projection is not None:
        uniq = list(dict.fromkeys(par.english))  # a seeded sample over all sources, not the first N
        pick = np.random.default_rng(config.seed).permutation(len(uniq))[: config.lstsq_texts]
        texts = [uniq[i] for i in sorted(pick)]
        t_emb = np.stack(list(teacher.labels(texts, "query", say).values()))
        kw = {"prompt_name": qp} if qp in model.prompts else {}
        s_emb = model.encode(texts, convert_to_numpy=True, **kw)
        result.final_losses |= lstsq_projection(kd.projection, s_emb, t_emb, config.lstsq_ridge)
    if heldout:  # Stage 1 starts from this loss (after the projection fit); Stage 2 alone: alignment only
        _record_heldout(result, "initial", heldout_figures(model, kd if run1 else None, heldout, labels_h, qp))
        say(f"alignment on {len(heldout)} held-out pairs: {result.alignment['initial']:.4f}")
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
        if ckpt.get("projection") is not None and kd is not None and kd.projection is not None:
            kd.projection.load_state_dict(ckpt["projection"])

    # ---- Stage 1 --------------------------------------------------------------------------
    if run1:

        def make1(batch: list[int], step: int):
            role = roles1[step]
            prompt = qp if role == "query" else pp
            feats = [_features(model, [par.translation[i] for i in batch], prompt),
                     _features(model, [par.english[i] for i in batch], prompt)]
            return feats, torch.as_tensor(np.stack([labels1[role][par.english[i]] for i in batch]))

        stage1_ran = not (ckpt is not None and (ckpt["stage"] == 2 or ckpt["done"]))
        if stage1_ran:
            state = ckpt if ckpt is not None and ckpt["stage"] == 1 else None
            result.final_losses |= {f"stage1_{k}": v for k, v in _run_stage(
                1, model, kd, batches1, make1, config.lr, config, out, log, progress, state, None, figures).items()}
        result.steps["stage1"] = len(batches1)
        if main and kd.projection is not None and not (out / "projection-stage1.safetensors").exists():
            from safetensors.torch import save_model

            save_model(kd.projection, str(out / "projection-stage1.safetensors"))
        if heldout:
            saved = (ckpt or {}).get("heldout") or {}
            if not stage1_ran and "after_stage1" in saved.get("alignment", {}):  # the model is past Stage 1 now
                result.alignment["after_stage1"] = saved["alignment"]["after_stage1"]
                result.heldout_kd["after_stage1"] = saved["heldout_kd"]["after_stage1"]
            else:
                _record_heldout(result, "after_stage1", heldout_figures(model, kd, heldout, labels_h, qp))
            say(f"held-out distillation loss: {result.heldout_kd['initial']:.4f} -> "
                f"{result.heldout_kd['after_stage1']:.4f}")
            say(f"alignment after stage 1: {result.alignment['after_stage1']:.4f}")

    # ---- Stage 2 --------------------------------------------------------------------------
    loss2 = None
    if run2:
        if init is not None and ckpt is None:
            kd.load_projection(init)
        loss2 = stage2_loss(model, config, kd)

        def make2(batch, step: int):
            rows = [ret.pairs[e.pair_id] for e in batch]
            q = [r[e.x][0] for r, e in zip(rows, batch, strict=True)]
            p = [r[e.y][1] for r, e in zip(rows, batch, strict=True)]
            if config.objective == "lakda":
                qt = [r[e.y][0] for r, e in zip(rows, batch, strict=True)]
                return [_features(model, q, qp), _features(model, qt, qp), _features(model, p, pp)], None
            y = None
            if lab_q is not None:
                y = torch.as_tensor(
                    np.stack([np.stack([lab_q[r["en"][0]], lab_p[r["en"][1]]]) for r in rows])
                )
            return [_features(model, q, qp), _features(model, p, pp)], y

        kind = config.lambda_schedule if config.objective == "mimo" else "constant"
        schedule = LambdaSchedule(kind, config.effective_lambda, len(batches2), config.lambda_warmup,
                                  config.adaptive_tolerance)
        state = ckpt if ckpt is not None and ckpt["stage"] == 2 and not ckpt["done"] else None
        if not (ckpt is not None and ckpt["stage"] == 2 and ckpt["done"]):
            result.final_losses |= {f"stage2_{k}": v for k, v in _run_stage(
                2, model, loss2, batches2, make2, config.stage2_lr, config, out, log, progress, state,
                schedule, figures).items()}
        result.steps["stage2"] = len(batches2)
        if heldout:
            _record_heldout(result, "after_stage2", heldout_figures(model, _kd_of(loss2), heldout, labels_h, qp))
    log_f.close()

    # ---- Output dir (atomic: replaces out, dropping the checkpoint) ---------------------------
    result.seconds = time.perf_counter() - t_start
    if not main:
        log_path.unlink(missing_ok=True)
        _barrier()
        return result
    log_text = log_path.read_text()
    stage1_proj = out / "projection-stage1.safetensors"
    with atomic_dir(out) as tmp:
        model.save(str(tmp))
        proj_src = (_kd_of(loss2) if loss2 is not None else None) or kd
        if proj_src is not None and getattr(proj_src, "projection", None) is not None:
            proj_src.save_projection(tmp / "projection.safetensors")
        if stage1_proj.exists() and run2:
            (tmp / stage1_proj.name).write_bytes(stage1_proj.read_bytes())
        atomic_write_text(tmp / "train_config.yaml", config.to_yaml())
        atomic_write_text(tmp / "train_log.jsonl", log_text)
        summary = {
            "steps": result.steps, "final_losses": result.final_losses, "seconds": result.seconds,
            "alignment": result.alignment, "heldout_kd": result.heldout_kd,
            "mix": result.mix, "teacher_id": teacher.id if teacher else None,
            "teacher_dim": teacher_dim, "student_surgery": surgery,
            "dropped_pairs_without_en": ret.dropped_without_en if ret else 0,
            "loss": (loss2 or kd).get_config_dict() if (loss2 or kd) is not None else None,
        }
        atomic_write_text(tmp / "train_summary.json", json.dumps(summary, indent=2, default=str) + "\n")
        atomic_write_text(tmp / "README.md", card.render(config, summary))
    if world > 1:
        _barrier()
    return result


def _barrier() -> None:
    import torch.distributed as dist

    dist.barrier()
