"""CLI commands for the train area (thin: parse, call the library, print)."""

from __future__ import annotations

from pathlib import Path

import typer

from mimo.cli._common import console, friendly

cache_app = typer.Typer(help="The teacher-embedding cache: build, stats, clear.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Attach this area's commands to the root app."""
    app.command(name="train")(train_cmd)
    app.add_typer(cache_app, name="teacher-cache")


def _progress():
    """A rich progress bar fed by mimo.train's StepInfo callback: loss, pairs/s, ETA."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    prog = Progress(
        TextColumn("stage {task.fields[stage]}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]:.4f}"), TextColumn("{task.fields[rate]:.1f} pairs/s"),
        TextColumn("lambda {task.fields[lam]}"), TimeRemainingColumn(), console=console,
    )
    tasks: dict[int, int] = {}

    def on_step(info) -> None:
        if info.stage not in tasks:
            tasks[info.stage] = prog.add_task(
                "", total=info.total, stage=info.stage, loss=0.0, rate=0.0, lam="-"
            )
        lam = "-" if info.lam is None else f"{info.lam:.2f}"
        prog.update(tasks[info.stage], completed=info.step, loss=info.loss, rate=info.pairs_per_s, lam=lam)

    return prog, on_step


@friendly
def train_cmd(
    config: Path = typer.Option(None, "--config", "-c", help="YAML config (TrainConfig fields)."),
    stage: str = typer.Option(None, help="1, 2 or both."),
    objective: str = typer.Option(None, help="mimo, kd, xlco, infonce, lakda (the paper's), lakda-sharp (ours) or mse."),
    teacher: str = typer.Option(None, help="Teacher model name/path, or 'self' (frozen initial student)."),
    student: str = typer.Option(None, help="Student model name/path."),
    projection_init: str = typer.Option(None, help="random or lstsq."),
    lam: float = typer.Option(None, "--lambda", help="Weight of the contrastive term (stage 2)."),
    lambda_schedule: str = typer.Option(None, help="constant, linear or adaptive."),
    freeze_embeddings: bool = typer.Option(None, "--freeze-embeddings/--train-embeddings"),
    student_layers: int = typer.Option(None, help="Keep only the first N transformer layers."),
    max_steps: int = typer.Option(None, help="Cap on the steps of each stage."),
    batch_size: int = typer.Option(None, help="Batch size (both stages)."),
    mini_batch_size: int = typer.Option(None, help="GradCache mini-batch (stage 2)."),
    lr: float = typer.Option(None, help="Learning rate (both stages)."),
    max_length: int = typer.Option(None, help="Max tokens per text."),
    seed: int = typer.Option(None),
    out: Path = typer.Option(None, help="Output model dir."),
    parallel: str = typer.Option(None, help="Parallel pairs: a .tsv/.csv/.jsonl/.parquet file or folder, a saved "
                                 "dataset dir or a hub name (default: $MIMO_HOME data)."),
    retrieval: str = typer.Option(None, help="Retrieval pairs, same formats (default: $MIMO_HOME data)."),
    langs: str = typer.Option(None, help="Comma-separated ISO codes to keep (en always kept)."),
    columns: str = typer.Option(None, "--columns", help="Your column names: mimo field=column, e.g. "
                                "english=en,translation=text,lang=language (see `mimo data check`)."),
    data_lang: str = typer.Option(None, "--data-lang", help="Language of --parallel/--retrieval files "
                                  "without a lang column (default: from the file name, e.g. pairs.de.tsv)."),
    query_kinds: str = typer.Option(None, help="Stage 2 on these query kinds only, e.g. question,task "
                                    "(question, task, heading, index-term)."),
    teacher_cache: Path = typer.Option(None, help="Teacher-cache root (default $MIMO_HOME/teacher-cache)."),
    cache_read_only: bool = typer.Option(None, "--cache-read-only/--cache-writable",
                                         help="Fail on a missing cache entry instead of running the teacher."),
    resume: bool = typer.Option(False, "--resume", help="Continue from the checkpoint in --out."),
) -> None:
    """Train a multilingual student (Stage 1 distillation, Stage 2 MIMO or a baseline).

    Which recipe (docs/results.md#student-strength): a student far below its English teacher (a static
    student, a shallow cut) gains most from MIMO (--stage both); a student that already retrieves well
    (the default mE5-small) gains more from a contrastive objective (--objective lakda-sharp --stage 2).

    Data parallel: run the same command under `torchrun --nproc_per_node N $(which mimo) train ...`
    (or `accelerate launch`); each process takes 1/N of every batch, gradients are averaged, rank 0
    writes the output.
    """
    from mimo.data.user import parse_columns
    from mimo.train import TrainConfig, train

    cfg = TrainConfig.from_yaml(config) if config else TrainConfig()
    flags = {
        "stage": stage, "objective": objective, "teacher": teacher, "student": student,
        "projection_init": projection_init, "lam": lam, "lambda_schedule": lambda_schedule,
        "freeze_embeddings": freeze_embeddings, "student_layers": student_layers, "max_steps": max_steps,
        "mini_batch_size": mini_batch_size, "max_length": max_length, "seed": seed,
        "out": None if out is None else str(out),
        "parallel_path": None if parallel is None else str(parallel),
        "retrieval_path": None if retrieval is None else str(retrieval),
        "langs": None if langs is None else [x.strip() for x in langs.split(",") if x.strip()],
        "data_columns": None if columns is None else parse_columns(columns), "data_lang": data_lang,
        "query_kinds": None if query_kinds is None else [x.strip() for x in query_kinds.split(",") if x.strip()],
        "teacher_cache": None if teacher_cache is None else str(teacher_cache),
        "cache_read_only": cache_read_only,
    }
    for k, v in flags.items():
        if v is not None:
            setattr(cfg, k, v)
    if batch_size is not None:
        cfg.batch_size = cfg.stage2_batch_size = batch_size
    if lr is not None:
        cfg.lr = cfg.stage2_lr = lr
    cfg.validate()
    prog, on_step = _progress()
    with prog:
        result = train(cfg, progress=on_step, resume=resume, say=lambda m: prog.console.print(m))
    console.print(f"[green]saved[/] {result.out}  steps {result.steps}  {result.seconds:.0f} s")
    for k, v in result.final_losses.items():
        console.print(f"  {k}: {v:.4f}")
    for k, v in result.alignment.items():
        console.print(f"  alignment {k}: {v:.4f}")
    for k, v in result.mix.items():
        counts = sorted(v.values())
        console.print(f"  mix {k}: {sum(counts)} examples over {len(v)} languages/pairs "
                      f"(min {counts[0]}, max {counts[-1]} each; full mix in train_summary.json)")


@cache_app.command("build")
@friendly
def cache_build(
    teacher: str = typer.Option("sentence-transformers/all-MiniLM-L6-v2", help="Teacher model name/path."),
    prompt: str = typer.Option("", help="Literal prompt prepended to every text."),
    texts: Path = typer.Option(None, help="A UTF-8 file, one text a line (default: the English side of "
                               "the parallel and retrieval-train datasets)."),
    dtype: str = typer.Option("float16", help="float16 or float32."),
    root: Path = typer.Option(None, help="Cache root (default $MIMO_HOME/teacher-cache)."),
) -> None:
    """Embed texts with the teacher once; later runs read them from the cache."""
    from rich.progress import Progress

    from mimo.train.labels import build_teacher_cache, english_texts

    if texts is not None:
        if not texts.is_file():
            raise FileNotFoundError(f"texts file {texts} does not exist")
        items = [line for line in texts.read_text(encoding="utf-8").splitlines() if line.strip()]
    else:
        items = english_texts()
    if not items:
        raise ValueError("no texts to embed")
    with Progress(console=console) as prog:
        task = prog.add_task("embedding", total=None)
        cost = build_teacher_cache(teacher, items, prompt=prompt, dtype=dtype, root=str(root) if root else None,
                                   progress=lambda d, t: prog.update(task, completed=d, total=t))
    console.print(f"{cost['texts']} texts cached in {cost['dir']} ({cost['computed']} computed in {cost['seconds']} s)")


@cache_app.command("stats")
@friendly
def cache_stats_cmd(root: Path = typer.Option(None, help="Cache root.")) -> None:
    """List cached teachers: rows, shards, size."""
    from rich.table import Table

    from mimo.teacher import cache_stats

    table = Table("namespace", "teacher", "prompt", "dim", "dtype", "rows", "shards", "MiB")
    for s in cache_stats(root):
        table.add_row(s.namespace, s.teacher_id, repr(s.prompt), str(s.dim), s.dtype, str(s.rows),
                      str(s.shards), f"{s.bytes / 2**20:.1f}")
    console.print(table)


@cache_app.command("clear")
@friendly
def cache_clear_cmd(
    teacher: str = typer.Option(None, help="Only this teacher's entries."),
    root: Path = typer.Option(None, help="Cache root."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask."),
) -> None:
    """Delete cached teacher embeddings."""
    from mimo.teacher import clear_cache
    from mimo.train.loop import canonical_name

    if not yes:
        typer.confirm(f"delete cached embeddings{' of ' + teacher if teacher else ''}?", abort=True)
    n = clear_cache(root, canonical_name(teacher) if teacher else None)
    console.print(f"removed {n} cache namespace(s)")
