"""CLI for search: ``index build/add/delete/info``, ``search``, ``serve``, ``export`` (thin layer)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from mimo.cli._common import console, friendly

index_app = typer.Typer(help="Build and update FAISS search indexes.", no_args_is_help=True)


@index_app.command("build")
@friendly
def build(
    model: Annotated[str, typer.Argument(help="Model name or directory (trained student, export, ...).")],
    corpus: Annotated[Path, typer.Argument(help="JSONL/CSV/parquet file, BEIR dir or dir of .txt files.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Index directory to write (atomically).")],
    kind: Annotated[str, typer.Option(help="auto | flat (exact) | hnsw | ivfpq.")] = "auto",
    batch_size: Annotated[int, typer.Option(help="Encoding batch size.")] = 64,
) -> None:
    """Encode CORPUS with MODEL's passage prompt and write a searchable index."""
    from mimo.index import build_index

    idx = build_index(model, corpus, out, kind=kind, batch_size=batch_size, progress=True)
    _print_info(idx.manifest, out)


@index_app.command("add")
@friendly
def add(
    index_dir: Annotated[Path, typer.Argument(help="Index directory.")],
    corpus: Annotated[Path, typer.Argument(help="Passages to add (same formats as build; new ids).")],
) -> None:
    """Add passages to an index (committed atomically)."""
    from mimo.index import SearchIndex, read_corpus

    idx = SearchIndex.load(index_dir)
    docs = read_corpus(corpus)
    n = idx.add(docs, progress=True)
    console.print(f"added {len(docs)} passages; index now holds {n}")


@index_app.command("delete")
@friendly
def delete(
    index_dir: Annotated[Path, typer.Argument(help="Index directory.")],
    ids: Annotated[list[str], typer.Argument(help="Passage ids to delete.")],
) -> None:
    """Delete passages by id (committed atomically)."""
    from mimo.index import SearchIndex

    n = SearchIndex.load(index_dir).delete(ids)
    console.print(f"deleted {len(ids)} passages; index now holds {n}")


@index_app.command("info")
@friendly
def info(
    index_dir: Annotated[Path, typer.Argument(help="Index directory.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the manifest as JSON.")] = False,
) -> None:
    """Show what an index holds (model, prompts, kind, count, languages)."""
    from mimo.index import SearchIndex

    m = SearchIndex.load(index_dir).manifest
    if as_json:
        typer.echo(json.dumps(m, indent=2, ensure_ascii=False))
    else:
        _print_info(m, index_dir)


def _print_info(m: dict, path: Path) -> None:
    recall = m.get("recall_at_10_vs_exact")
    console.print(f"[bold]{path}[/]: {m['count']} passages, {m['kind']} index, dim {m['dim']}, "
                  f"model {m['model']}")
    console.print(f"  prompts: {m['prompts']}  generation: {m['generation']}  created: {m['created']}")
    if recall is not None:
        console.print(f"  recall@10 vs exact: {recall:.3f}")
    langs = m.get("build", {}).get("languages", {})
    if langs:
        console.print("  languages at build: " + ", ".join(f"{k} {v}" for k, v in langs.items()))


@friendly
def search(
    index_dir: Annotated[Path, typer.Argument(help="Index directory.")],
    query: Annotated[list[str], typer.Argument(help="One or more queries.")],
    k: Annotated[int, typer.Option("-k", help="Results per query (1..1000).")] = 10,
    lang: Annotated[list[str] | None, typer.Option("--lang", help="Keep only these languages.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Search an index: id, score, language and snippet of the top-k passages."""
    from mimo.index import SearchIndex
    from mimo.langs import normalize_lang

    if not 1 <= k <= 1000:
        raise ValueError(f"-k must be between 1 and 1000, got {k}")
    langs = [normalize_lang(x) or x for x in lang] if lang else None
    results = SearchIndex.load(index_dir).search(query, k=k, langs=langs)
    if as_json:
        typer.echo(json.dumps([{"query": q, "hits": [h.to_dict() for h in hits]}
                               for q, hits in zip(query, results, strict=True)], ensure_ascii=False))
        return
    from rich.table import Table

    for q, hits in zip(query, results, strict=True):
        table = Table(title=f"{q}", title_justify="left")
        for col in ("#", "id", "score", "lang", "snippet"):
            table.add_column(col, overflow="fold")
        for i, h in enumerate(hits, 1):
            table.add_row(str(i), h.id, f"{h.score:.4f}", h.lang or "", h.snippet)
        console.print(table)


@friendly
def serve(
    index_dir: Annotated[Path, typer.Argument(help="Index directory.")],
    host: Annotated[str, typer.Option(help="Bind address (localhost by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    api_key: Annotated[str | None, typer.Option(envvar="MIMO_API_KEY",
                                                help="Require this X-API-Key header.")] = None,
    max_batch: Annotated[int, typer.Option(help="Most queries encoded together.")] = 64,
    max_wait_ms: Annotated[float, typer.Option(
        help="Extra wait for more queries to fill a batch (0: batch only what is already queued).")] = 0.0,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
    threads: Annotated[int, typer.Option(help="torch/faiss threads (0 = library default).")] = 1,
    query_encoder: Annotated[str, typer.Option(
        help="full (the index's model) or a `mimo export` dir (static, onnx, onnx-int8) of the same vector space.")] = "full",
) -> None:
    """Serve an index over HTTP: POST /search, POST /embed, GET /health, GET /stats, /docs."""
    from mimo.serve import serve as _serve

    if host not in ("127.0.0.1", "localhost", "::1") and api_key is None:
        console.print("[yellow]warning:[/] binding beyond localhost without --api-key")
    _serve(index_dir, host=host, port=port, api_key=api_key, max_batch=max_batch, max_wait_ms=max_wait_ms,
           log_level=log_level, threads=threads or None, query_encoder=query_encoder)


@friendly
def export(
    model: Annotated[str, typer.Argument(help="Model name or directory to export.")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="onnx | onnx-int8 | static | teacher-space.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory (written atomically).")],
    pca_dims: Annotated[int | None, typer.Option(help="static: PCA dimensions (0 = keep all).")] = 256,
    projection: Annotated[Path | None, typer.Option(
        help="teacher-space: the projection (default MODEL/projection.safetensors).")] = None,
    int8_recipe: Annotated[str | None, typer.Option(
        help="onnx-int8: how to quantize (matmul-per-channel-7bit default; see mimo.export.INT8_RECIPES).")] = None,
) -> None:
    """Export MODEL for fast CPU encoding (ONNX fp32/int8, static Model2Vec) or into its teacher's space."""
    from mimo.errors import InputError
    from mimo.export import export_model
    from mimo.export import int8_recipe as check_recipe

    kwargs: dict = {"pca_dims": pca_dims or None} if fmt == "static" else {}
    if fmt == "teacher-space" and projection is not None:
        kwargs["projection"] = projection
    if int8_recipe is not None:
        if fmt != "onnx-int8":
            raise InputError(f"--int8-recipe applies to --format onnx-int8 only, not {fmt!r}")
        kwargs["recipe"] = check_recipe(int8_recipe).name
    path = export_model(model, fmt, out, **kwargs)
    console.print(f"exported {model} as {fmt} to {path}; load it with `mimo.export.load_exported`"
                  + (" or SentenceTransformer(path)" if fmt in ("static", "teacher-space") else ""))


def register(app: typer.Typer) -> None:
    """Attach this area's commands to the root app."""
    app.add_typer(index_app, name="index")
    app.command("search")(search)
    app.command("serve")(serve)
    app.command("export")(export)
