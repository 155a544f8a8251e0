"""CLI for search: ``index build/add/delete/info``, ``search``, ``serve``, ``export`` (thin layer)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from mimo.cli._common import console, friendly

index_app = typer.Typer(help="Build and update search indexes (FAISS directories or Milvus collections).",
                        no_args_is_help=True)

INDEX_HELP = "Index: a FAISS index directory, a Milvus Lite file (x.db) or a Milvus URI (http://host:19530)."
Collection = Annotated[str | None, typer.Option(help="Milvus collection (default: mimo).")]


def _params(values: list[str] | None) -> dict:
    """``KEY=VALUE`` pairs; a value that parses as JSON (a number, true) is that, else a string."""
    out: dict = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--param {item!r}: expected KEY=VALUE, e.g. hnsw_m=32")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


@index_app.command("build")
@friendly
def build(
    model: Annotated[str, typer.Argument(help="Model name or directory (trained student, export, ...).")],
    corpus: Annotated[Path, typer.Argument(help="JSONL/CSV/parquet file, BEIR dir or dir of .txt files.")],
    out: Annotated[str, typer.Option("--out", "--uri", "-o", help=(
        "Where to write: an index directory (faiss), a Milvus Lite file ./x.db or a Milvus URI http://host:19530."))],
    backend: Annotated[str, typer.Option(help="auto (milvus for .db paths and URIs) | faiss | milvus.")] = "auto",
    collection: Collection = None,
    kind: Annotated[str, typer.Option(help=(
        "auto | flat (exact) | hnsw | ivfpq; milvus also ivf_flat or a Milvus index type (IVF_SQ8, DISKANN).")
    )] = "auto",
    param: Annotated[list[str] | None, typer.Option(help=(
        "Index parameter KEY=VALUE (repeat): hnsw_m, ef_construction, ef_search, nlist, nprobe, pq_m, pq_bits; "
        "milvus passes other keys through."))] = None,
    batch_size: Annotated[int, typer.Option(help="Encoding batch size.")] = 64,
    shard_size: Annotated[int, typer.Option(help="Passages per encoded shard (the unit of resuming).")] = 10_000,
    shard_dir: Annotated[Path | None, typer.Option(help="Where the shards go (default OUT.shards).")] = None,
    workers: Annotated[int, typer.Option(help="Encoding processes on this machine.")] = 1,
    shard: Annotated[str | None, typer.Option(help=(
        "i/N: encode and insert only the i-th of N shard ranges (machine i of N filling one Milvus collection)."))
    ] = None,
    keep_shards: Annotated[bool, typer.Option(help="Keep the encoded shards after a finished build.")] = False,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing Milvus collection of another build.")] = False,
) -> None:
    """Encode CORPUS with MODEL's passage prompt and write a searchable index (resumes an interrupted build)."""
    from mimo.index import build_index, parse_shard

    idx = build_index(model, corpus, out, kind=kind, batch_size=batch_size, progress=True, backend=backend,
                      collection=collection, shard_dir=shard_dir, shard_size=shard_size, workers=workers,
                      shard=parse_shard(shard), keep_shards=keep_shards, overwrite=overwrite, **_params(param))
    _print_info(idx.info(), out)
    idx.close()


@index_app.command("add")
@friendly
def add(
    index: Annotated[str, typer.Argument(help=INDEX_HELP)],
    corpus: Annotated[Path, typer.Argument(help="Passages to add (same formats as build).")],
    collection: Collection = None,
    upsert: Annotated[bool, typer.Option(help="Replace passages whose id is already there (else: an error).")] = False,
) -> None:
    """Add passages to an index (committed atomically)."""
    from mimo.index import SearchIndex, read_corpus

    idx = SearchIndex.load(index, collection=collection)
    docs = read_corpus(corpus)
    n = idx.upsert(docs, progress=True) if upsert else idx.add(docs, progress=True)
    idx.close()
    console.print(f"{'upserted' if upsert else 'added'} {len(docs)} passages; index now holds {n}")


@index_app.command("delete")
@friendly
def delete(
    index: Annotated[str, typer.Argument(help=INDEX_HELP)],
    ids: Annotated[list[str], typer.Argument(help="Passage ids to delete.")],
    collection: Collection = None,
) -> None:
    """Delete passages by id (committed atomically)."""
    from mimo.index import SearchIndex

    idx = SearchIndex.load(index, collection=collection)
    n = idx.delete(ids)
    idx.close()
    console.print(f"deleted {len(ids)} passages; index now holds {n}")


@index_app.command("info")
@friendly
def info(
    index: Annotated[str, typer.Argument(help=INDEX_HELP)],
    collection: Collection = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the manifest as JSON.")] = False,
) -> None:
    """Show what an index holds (model, prompts, kind, count, languages)."""
    from mimo.index import SearchIndex

    idx = SearchIndex.load(index, collection=collection)
    m = idx.info()
    idx.close()
    if as_json:
        typer.echo(json.dumps(m, indent=2, ensure_ascii=False))
    else:
        _print_info(m, index)


def _print_info(m: dict, where: str | Path) -> None:
    recall = m.get("recall_at_10_vs_exact")
    store = f"Milvus collection {m.get('collection')!r}" if m.get("backend") == "milvus" else "faiss"
    console.print(f"[bold]{where}[/]: {m['count']} passages, {m['kind']} index ({store}), dim {m['dim']}, "
                  f"model {m['model']}")
    console.print(f"  prompts: {m['prompts']}  " + (f"generation: {m['generation']}  " if "generation" in m else "")
                  + f"created: {m['created']}")
    if recall is not None:
        console.print(f"  recall@10 vs exact: {recall:.3f}")
    langs = m.get("languages") or m.get("build", {}).get("languages", {})
    if langs:
        console.print("  languages: " + ", ".join(f"{k} {v}" for k, v in langs.items()))


@friendly
def search(
    index: Annotated[str, typer.Argument(help=INDEX_HELP)],
    query: Annotated[list[str], typer.Argument(help="One or more queries.")],
    k: Annotated[int, typer.Option("-k", help="Results per query (1..1000).")] = 10,
    lang: Annotated[list[str] | None, typer.Option("--lang", help="Keep only these languages.")] = None,
    collection: Collection = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Search an index: id, score, language and snippet of the top-k passages."""
    from mimo.index import SearchIndex
    from mimo.langs import normalize_lang

    if not 1 <= k <= 1000:
        raise ValueError(f"-k must be between 1 and 1000, got {k}")
    langs = [normalize_lang(x) or x for x in lang] if lang else None
    idx = SearchIndex.load(index, collection=collection)
    results = idx.search(query, k=k, langs=langs)
    idx.close()
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
    index: Annotated[str, typer.Argument(help=INDEX_HELP)],
    host: Annotated[str, typer.Option(help="Bind address (localhost by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    collection: Collection = None,
    api_key_file: Annotated[Path | None, typer.Option(
        help="Require `Authorization: Bearer KEY` on every route but /health; KEY is this file's first line.")] = None,
    api_key: Annotated[str | None, typer.Option(envvar="MIMO_API_KEY", help=(
        "The key itself (prefer --api-key-file or the MIMO_API_KEY variable: a flag shows in `ps`)."))] = None,
    max_batch: Annotated[int, typer.Option(help="Most queries encoded together.")] = 64,
    max_wait_ms: Annotated[float, typer.Option(
        help="Extra wait for more queries to fill a batch (0: batch only what is already queued).")] = 0.0,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
    threads: Annotated[int, typer.Option(help="torch/faiss threads (0 = library default).")] = 1,
    query_encoder: Annotated[str, typer.Option(
        help="full (the index's model) or a `mimo export` dir (static, onnx, onnx-int8) of the same vector space.")] = "full",
) -> None:
    """Serve an index over HTTP: POST /search, POST /embed, GET /health, GET /stats, /docs."""
    from mimo.serve import read_api_key
    from mimo.serve import serve as _serve

    key = read_api_key(api_key_file, api_key)
    if host not in ("127.0.0.1", "localhost", "::1") and key is None:
        console.print("[yellow]warning:[/] binding beyond localhost without --api-key-file")
    _serve(index, host=host, port=port, api_key=key, max_batch=max_batch, max_wait_ms=max_wait_ms,
           log_level=log_level, threads=threads or None, query_encoder=query_encoder, collection=collection)


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
