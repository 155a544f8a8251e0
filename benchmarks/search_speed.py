"""Search and encode speed, side by side, in one run.

1. Index: exact (flat) vs HNSW vs IVF-PQ on N passages (default 100k; random unit vectors of the
   model's dimension, so encoding the corpus does not dominate): build time, single-query p50/p99
   latency, batched queries/s, recall@10 vs exact (queries = perturbed passage vectors).
2. HTTP (a real ``mimo serve`` process on 127.0.0.1, real query encoding with the model):
   one sequential client vs C concurrent clients with micro-batching on and off.
2b. ``--query-encoders NAME=DIR ...``: the same HTTP load through ``mimo serve --query-encoder DIR``
   (static student, ONNX int8, ``full``) at 1 and C clients: q/s, p50, p99, errors. The passage
   vectors are synthetic, of each encoder's dim: only query encoding + search + HTTP are timed.
   The served index is ``--http-index`` (flat, or HNSW M 16 / efConstruction 40 / efSearch 128),
   kept in ``--index-cache`` between runs. Load comes from ``wrk`` (``benchmarks/wrk_search.lua``;
   closed-loop connections for ``--seconds`` each) when on PATH, else from httpx client threads
   (which cost the 2-core box about as much CPU as the server, so they understate q/s).
4. Backends (``--backends``): FAISS flat, FAISS HNSW, Milvus Lite flat / HNSW (and a Milvus server with
   ``--milvus-uri``) over the same N synthetic vectors: build rate (insert + index, no encoding),
   p50/p99 latency of one-query searches at 1 client and at ``--clients`` concurrent client threads
   (closed loop, in-process, no HTTP), q/s, recall@10 against exact search.
3. Encode throughput (passages/s) of the mE5-small student vs a copy truncated to its first
   ``--student-layers`` layers vs its ONNX export (fp32 and dynamic int8) vs its static (Model2Vec) export.

Passages are the real multilingual passages of ``$MIMO_HOME/data/mlir-test/corpus.jsonl`` repeated
with fresh ids; if that corpus has not been built (``mimo data build``), a small built-in
multilingual sample is used and the run says so.

    python benchmarks/search_speed.py                # ~3-5 min on 2 CPU cores
    python benchmarks/search_speed.py --n 1000000 --http-requests 2000   # bigger
    python benchmarks/search_speed.py --skip index http encode --dim 384 --backends faiss-flat faiss-hnsw \
        milvus-lite-flat milvus-lite-hnsw                                  # storage backends only
    python benchmarks/search_speed.py --skip index http encode --http-index hnsw --seconds 15 \
        --query-encoders static=EXPORT_DIR onnx-int8=EXPORT_DIR full=full   # serving per query encoder
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from mimo.index import Doc, SearchIndex, build_index, recall_at_k
from mimo.paths import data_dir, home

FALLBACK = [
    ("en", "To insert a table, choose Table - Insert Table and set the number of rows and columns."),
    ("de", "Um eine Tabelle einzufügen, wählen Sie Tabelle - Tabelle einfügen und legen Sie die Zeilen fest."),
    ("fr", "Pour insérer un tableau, choisissez Tableau - Insérer un tableau et indiquez le nombre de lignes."),
    ("es", "Para insertar una tabla, elija Tabla - Insertar tabla y defina el número de filas y columnas."),
    ("ru", "Чтобы вставить таблицу, выберите Таблица - Вставить таблицу и задайте число строк и столбцов."),
    ("zh", "要插入表格，请选择表格 - 插入表格，然后设置行数和列数。"),
    ("ja", "表を挿入するには、[表] - [表の挿入] を選択し、行と列の数を指定します。"),
    ("ar", "لإدراج جدول، اختر جدول - إدراج جدول وحدد عدد الصفوف والأعمدة."),
    ("hi", "तालिका सम्मिलित करने के लिए, तालिका - तालिका सम्मिलित करें चुनें और पंक्तियों की संख्या सेट करें।"),
    ("ko", "표를 삽입하려면 표 - 표 삽입을 선택하고 행과 열의 수를 설정합니다."),
    ("pt", "Para inserir uma tabela, escolha Tabela - Inserir tabela e defina o número de linhas e colunas."),
    ("it", "Per inserire una tabella, scegliete Tabella - Inserisci tabella e impostate righe e colonne."),
    ("en", "The spelling checker marks unknown words with a red wavy underline while you type."),
    ("de", "Die Rechtschreibprüfung markiert unbekannte Wörter während der Eingabe mit einer roten Wellenlinie."),
    ("vi", "Trình kiểm tra chính tả đánh dấu các từ không xác định bằng gạch chân lượn sóng màu đỏ."),
    ("nl", "De spellingcontrole markeert onbekende woorden tijdens het typen met een rode golflijn."),
]


def passages(n: int) -> tuple[list[Doc], list[str], str]:
    """``n`` docs (real passages repeated with fresh ids), real query texts, and their source."""
    corpus = data_dir() / "mlir-test" / "corpus.jsonl"
    if corpus.exists():
        base = [json.loads(x) for x in corpus.read_text(encoding="utf-8").splitlines() if x.strip()]
        base = [(r.get("lang"), r["text"]) for r in base]
        qpath = corpus.with_name("queries.jsonl")
        queries = [json.loads(x)["text"] for x in qpath.read_text(encoding="utf-8").splitlines()[:500]
                   if x.strip()] if qpath.exists() else [t for _, t in base[:500]]
        source = f"{corpus} ({len(base)} passages, repeated)"
    else:
        base, queries = FALLBACK, [t[:60] for _, t in FALLBACK]
        source = f"BUILT-IN SAMPLE ({len(FALLBACK)} passages; run `mimo data build` for mlir-test)"
    docs = [Doc(f"p{i}", base[i % len(base)][1], base[i % len(base)][0]) for i in range(n)]
    return docs, queries, source


def pct(xs: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(xs) * 1000, q))


def row(name: str, **kv: object) -> None:
    print(f"  {name:<46}" + "  ".join(f"{k}={v}" for k, v in kv.items()))


# ----------------------------------------------------------------------------- 1. index kinds


def unit_vectors(n: int, dim: int, seed: int, clusters: int = 1000) -> np.ndarray:
    """Random unit vectors around ``clusters`` random centres (cos to centre ~0.75), since real
    embeddings are clustered; i.i.d. uniform vectors would make every ANN index look broken."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    noise = rng.standard_normal((n, dim)).astype(np.float32) / np.sqrt(dim)
    vecs = centres[rng.integers(0, clusters, n)] + 0.9 * noise
    return vecs / np.linalg.norm(vecs, axis=1, keepdims=True)


def bench_indexes(docs: list[Doc], dim: int, nq: int, tmp: Path) -> dict:
    rng = np.random.default_rng(0)
    vecs = unit_vectors(len(docs), dim, 0)
    noise = rng.standard_normal((nq, dim)).astype(np.float32)
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    q = vecs[rng.choice(len(docs), nq, replace=False)] + 0.8 * noise  # cos(query, its passage) ~ 0.8
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    out, exact_labels = {}, None
    print(f"\n[1] index kinds: {len(docs)} passages x {dim} dims, {nq} queries")
    #: (kind, build params, search-time settings swept on the same built index)
    plans = (("flat", {}, [{}]),
             ("hnsw", {"hnsw_m": 16, "ef_construction": 40}, [{"ef_search": 64}, {"ef_search": 256}]),
             ("ivfpq", {"nlist": 256}, [{"nprobe": 16}, {"nprobe": 64}]))
    for kind, params, sweep in plans:
        t0 = time.perf_counter()
        build_index("none", docs, tmp / kind, kind=kind, vectors=vecs, recall_queries=100, **params)
        build_s = time.perf_counter() - t0
        idx = SearchIndex.load(tmp / kind)  # memory-mapped, as served
        size = sum(f.stat().st_size for f in (tmp / kind).rglob("index.faiss")) / 2**20
        for setting in sweep:
            idx.manifest["params"].update(setting)
            lat = []
            for i in range(min(nq, 300)):
                t0 = time.perf_counter()
                idx.search_vectors(q[i:i + 1], 10)
                lat.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            hits = idx.search_vectors(q, 10)
            qps = nq / (time.perf_counter() - t0)
            labels = np.array([[int(h.id[1:]) for h in hl] + [-1] * (10 - len(hl)) for hl in hits])
            if kind == "flat":
                exact_labels = labels
            name = kind + "".join(f" {k}={v}" for k, v in setting.items())
            out[name] = {"build_s": round(build_s, 1), "p50_ms": round(pct(lat, 50), 2),
                         "p99_ms": round(pct(lat, 99), 2), "batched_qps": round(qps),
                         "recall@10": round(recall_at_k(exact_labels, labels, 10), 3),
                         "size_mb": round(size, 1)}
            row(name, **out[name])
    return out


# ----------------------------------------------------------------------------- 4. backends

HNSW_PARAMS = {"hnsw_m": 16, "ef_construction": 40, "ef_search": 128}
#: name -> (backend, kind, params); milvus-server uses --milvus-uri
BACKEND_PLANS = {
    "faiss-flat": ("faiss", "flat", {}),
    "faiss-hnsw": ("faiss", "hnsw", HNSW_PARAMS),
    "milvus-lite-flat": ("milvus", "flat", {}),
    "milvus-lite-hnsw": ("milvus", "hnsw", HNSW_PARAMS),
    "milvus-server-hnsw": ("milvus", "hnsw", HNSW_PARAMS),
}


def _client_latencies(idx: SearchIndex, q: np.ndarray, clients: int, per_client: int) -> tuple[list[float], float]:
    """``clients`` threads, each searching ``per_client`` single queries back to back; (latencies, q/s)."""

    def client(c: int) -> list[float]:
        lat = []
        for r in range(per_client):
            i = (c * per_client + r) % len(q)
            t0 = time.perf_counter()
            idx.search_vectors(q[i:i + 1], 10)
            lat.append(time.perf_counter() - t0)
        return lat

    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        lat = [x for xs in pool.map(client, range(clients)) for x in xs]
    return lat, len(lat) / (time.perf_counter() - t0)


def bench_backends(docs: list[Doc], dim: int, nq: int, tmp: Path, names: list[str], clients: int,
                   per_client: int, milvus_uri: str | None) -> dict:
    import faiss

    rng = np.random.default_rng(0)
    vecs = unit_vectors(len(docs), dim, 0)
    noise = rng.standard_normal((nq, dim)).astype(np.float32)
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    q = vecs[rng.choice(len(docs), nq, replace=False)] + 0.8 * noise
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    exact = faiss.IndexFlatIP(dim)
    exact.add(vecs)
    _, exact_labels = exact.search(q, 10)
    print(f"\n[4] backends: {len(docs)} passages x {dim} dims (synthetic), {nq} queries, 1 and {clients} clients")
    out = {}
    for name in names:
        backend, kind, params = BACKEND_PLANS[name]
        if name.startswith("milvus-server"):
            if not milvus_uri:
                raise SystemExit(f"{name} needs --milvus-uri http://host:19530")
            where, extra = milvus_uri, {"collection": "mimo_bench", "overwrite": True}
        else:
            where, extra = tmp / (f"{name}.db" if backend == "milvus" else name), {}
        load0 = os.getloadavg()[0]
        t0 = time.perf_counter()
        idx = build_index("none", docs, where, kind=kind, vectors=vecs, backend=backend, recall_queries=0,
                          **extra, **params)
        build_s = time.perf_counter() - t0
        idx.search_vectors(q[:1], 10)  # warm up
        lat1, _ = _client_latencies(idx, q, 1, min(nq, per_client * 4))
        latc, qps = _client_latencies(idx, q, clients, per_client)
        labels = [[int(h.id[1:]) for h in hl] for i in range(0, nq, 50) for hl in idx.search_vectors(q[i:i + 50], 10)]
        labels = np.array([x + [-1] * (10 - len(x)) for x in labels])
        out[name] = {"build_s": round(build_s, 1), "build_per_s": round(len(docs) / build_s),
                     "p50_ms_1": round(pct(lat1, 50), 2), "p99_ms_1": round(pct(lat1, 99), 2),
                     f"p50_ms_{clients}": round(pct(latc, 50), 2), f"p99_ms_{clients}": round(pct(latc, 99), 2),
                     f"qps_{clients}": round(qps, 1), "recall@10": round(recall_at_k(exact_labels, labels, 10), 3),
                     "load_avg": [round(load0, 2), round(os.getloadavg()[0], 2)]}
        row(name, **out[name])
        idx.close()
    return out


# ----------------------------------------------------------------------------- 2. HTTP


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


#: set from the command line in main(): server threads, extra `mimo serve` args, index kind, load generator
THREADS = 1
SERVE_ARGS: list[str] = []
HTTP_INDEX = "flat"
HNSW = {"hnsw_m": 16, "ef_construction": 40, "ef_search": 128}
GENERATOR = "python"
SECONDS = 0.0


def _start(index_dir: Path, extra: list[str]) -> tuple[subprocess.Popen, str]:
    import httpx

    port = _free_port()
    cmd = [sys.executable, "-c", "from mimo.cli import main; main()", "serve", str(index_dir),
           "--port", str(port), "--log-level", "warning", "--threads", str(THREADS), *extra, *SERVE_ARGS]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        if proc.poll() is not None:
            raise SystemExit(f"server failed to start: {' '.join(cmd)}")
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("server did not come up in 5 minutes")


def _stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)


def _python_load(url: str, queries: list[str], clients: int, per_client: int, seconds: float) -> dict:
    """``clients`` closed-loop httpx clients, each sending ``per_client`` requests (or, when ``seconds``
    > 0, requests until then); a response counts only with status 200 and 10 hits."""
    import httpx

    errors: list[int] = []
    deadline = time.perf_counter() + seconds if seconds > 0 else float("inf")

    def client(c: int) -> list[float]:
        lat: list[float] = []
        with httpx.Client(base_url=url, timeout=120) as h:
            r = 0
            while (r < per_client if seconds <= 0 else time.perf_counter() < deadline):
                t0 = time.perf_counter()
                try:
                    resp = h.post("/search", json={"query": queries[(c * 7919 + r) % len(queries)], "k": 10})
                    ok = resp.status_code == 200 and len(resp.json()["results"][0]) == 10
                except httpx.HTTPError:
                    ok = False
                if ok:
                    lat.append(time.perf_counter() - t0)
                else:
                    errors.append(1)
                r += 1
        return lat

    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        lat = [x for xs in pool.map(client, range(clients)) for x in xs]
    wall = time.perf_counter() - t0
    return {"qps": round(len(lat) / wall, 1), "p50_ms": round(pct(lat, 50), 1), "p99_ms": round(pct(lat, 99), 1),
            "errors": len(errors), "requests": len(lat) + len(errors)}


def _wrk_load(url: str, queries: list[str], clients: int, seconds: float) -> dict:
    """``clients`` wrk connections (closed loop) for ``seconds``; errors = socket errors + non-2xx.
    A response's hits are checked by one httpx request beforehand (wrk only sees the status)."""
    import httpx

    hits = httpx.post(url + "/search", json={"query": queries[0], "k": 10}, timeout=120).json()["results"][0]
    if len(hits) != 10:
        raise SystemExit(f"/search returned {len(hits)} hits, not 10: {url}")
    script = Path(__file__).with_name("wrk_search.lua")
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False, encoding="utf-8") as f:
        f.writelines(json.dumps({"query": q, "k": 10}, ensure_ascii=False) + "\n" for q in queries)
    try:
        out = subprocess.run(["wrk", "-t", str(min(2, clients)), "-c", str(clients), "-d", f"{max(1, round(seconds))}s",
                              "--timeout", "30s", "-s", str(script), url, "--", f.name],
                             capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(f.name)
    r = json.loads(next(x for x in out.splitlines() if x.startswith("{")))
    return {"qps": round(r["requests"] / r["seconds"], 1), "p50_ms": round(r["p50_ms"], 1),
            "p99_ms": round(r["p99_ms"], 1), "errors": r["socket_errors"] + r["non_2xx"], "requests": r["requests"]}


def _load(url: str, queries: list[str], clients: int, per_client: int, warmup: bool = False) -> dict:
    """One measurement at ``clients`` concurrent clients (with the server's batching stats and the
    load average around it), by wrk or the python generator (``--load-generator``)."""
    import httpx

    if warmup:
        return _python_load(url, queries, clients, per_client, 0)
    before = httpx.get(url + "/stats").json()
    load0 = os.getloadavg()[0]
    if GENERATOR == "wrk" and SECONDS > 0:
        res = _wrk_load(url, queries, clients, SECONDS)
    else:
        res = _python_load(url, queries, clients, per_client, SECONDS)
    after = httpx.get(url + "/stats").json()
    batches = after["batches"] - before["batches"]
    res["queries_per_batch"] = round((after["queries"] - before["queries"]) / batches, 2) if batches else 0.0
    res["load_avg"] = [round(load0, 2), round(os.getloadavg()[0], 2)]
    res["generator"] = "wrk" if GENERATOR == "wrk" and SECONDS > 0 else "python"
    return res


def _http_index(model: str, docs: list[Doc], dim: int, tmp: Path, cache: Path | None) -> Path:
    """The ``--http-index`` kind over ``docs`` with synthetic vectors of ``dim``, reused from ``cache``."""
    params = HNSW if HTTP_INDEX == "hnsw" else {}
    tag = "".join(f"-{k}{v}" for k, v in params.items())
    ix = (cache or tmp) / f"{model.replace('/', '__')}-{HTTP_INDEX}{tag}-n{len(docs)}-d{dim}"
    if (ix / "manifest.json").exists():
        print(f"  reusing {ix}")
        return ix
    t0 = time.perf_counter()
    build_index(model, docs, ix, kind=HTTP_INDEX, vectors=unit_vectors(len(docs), dim, 1), **params)
    print(f"  built {ix} in {time.perf_counter() - t0:.0f}s")
    return ix


def _index_label(n: int) -> str:
    if HTTP_INDEX == "hnsw":
        return f"HNSW (M {HNSW['hnsw_m']}, efConstruction {HNSW['ef_construction']}, efSearch {HNSW['ef_search']}) of {n}"
    return f"exact (flat) index of {n}"


def _per_client(requests: int, c: int) -> int:
    return max(requests // c, 1) if c > 1 else max(requests // 4, 20)


def bench_http(model: str, docs: list[Doc], dim: int, queries: list[str], tmp: Path,
               requests: int, clients: int, cache: Path | None = None) -> dict:
    ix = _http_index(model, docs, dim, tmp, cache)
    print(f"\n[2] HTTP: `mimo serve` on 127.0.0.1, {_index_label(len(docs))}, queries encoded by {model}")
    out = {}
    for label, extra, c in (("1 client, sequential", [], 1),
                            (f"{clients} clients, micro-batched", [], clients),
                            (f"{clients} clients, no batching", ["--max-batch", "1"], clients)):
        proc, url = _start(ix, extra)
        try:
            _load(url, queries, 1, 5, warmup=True)
            out[label] = _load(url, queries, c, _per_client(requests, c))
        finally:
            _stop(proc)
        row(label, **out[label])
    return out


def bench_query_encoders(model: str, docs: list[Doc], queries: list[str], tmp: Path, requests: int,
                         clients: int, encoders: list[str], cache: Path | None = None) -> dict:
    """``mimo serve --query-encoder`` for each NAME=DIR (DIR = ``full``: the model itself): HTTP q/s, p50,
    p99 and errors at 1 and ``clients`` clients. Passage vectors are synthetic (the encoder's dim):
    only query encoding + search + HTTP are timed."""
    from mimo.export import load_exported

    out = {}
    print(f"\n[2b] HTTP per query encoder: {_index_label(len(docs))} synthetic vectors, real query encoding")
    for spec in encoders:
        name, _, path = spec.partition("=")
        if path == "full":
            from mimo.models import load_model

            dim = int(load_model(model).get_embedding_dimension())
        else:
            dim = int(load_exported(path).get_sentence_embedding_dimension())
        ix = _http_index(model, docs, dim, tmp, cache)
        extra = [] if path == "full" else ["--query-encoder", path]
        proc, url = _start(ix, extra)
        try:
            _load(url, queries, 1, 5, warmup=True)
            res = {}
            for c in (1, clients):
                res[f"{c} client{'s' if c > 1 else ''}"] = _load(url, queries, c, _per_client(requests, c))
                row(f"{name}: {c} client(s)", **res[f"{c} client{'s' if c > 1 else ''}"])
            out[name] = {"dim": dim, "query_encoder": path, "index": _index_label(len(docs)), **res}
        finally:
            _stop(proc)
    return out


# ----------------------------------------------------------------------------- 3. encoders


def _truncated(st, n_layers: int):
    small = copy.deepcopy(st)
    try:
        from mimo.train.objectives import shrink_student

        shrink_student(small, n_layers, freeze_embeddings=False)
    except ImportError:
        import torch

        enc = small[0].auto_model.encoder
        enc.layer = torch.nn.ModuleList(list(enc.layer)[:n_layers])
        small[0].auto_model.config.num_hidden_layers = n_layers
    return small


def bench_encoders(model: str, texts: list[str], n_layers: int, static_pca: int, threads: int) -> dict:
    from sentence_transformers import SentenceTransformer

    from mimo.export import OnnxEncoder, export_onnx, export_onnx_int8, export_static
    from mimo.models import load_model

    st = load_model(model)
    exports = home() / "exports" / model.replace("/", "__")
    timings = {}
    for fmt, fn, kw in (("onnx", export_onnx, {}), ("onnx-int8", export_onnx_int8, {}),
                        ("static", export_static, {"pca_dims": static_pca})):
        target = exports / (fmt if fmt.startswith("onnx") else f"static-pca{static_pca}")
        if not (target / "mimo_export.json").exists():
            print(f"  exporting {model} as {fmt} (once; cached at {target}) ...", flush=True)
            t0 = time.perf_counter()
            fn(model, target, **kw)
            timings[fmt] = round(time.perf_counter() - t0, 1)
        else:
            timings[fmt] = json.loads((target / "mimo_export.json").read_text()).get("seconds")
    encoders = {
        f"{model} (12 layers, torch)": st,
        f"first {n_layers} layers (torch)": _truncated(st, n_layers),
        "ONNX export (onnxruntime)": OnnxEncoder(exports / "onnx", threads=threads),
        "ONNX int8 export (dynamic quantization)": OnnxEncoder(exports / "onnx-int8", threads=threads),
        f"static export (model2vec, pca {static_pca})": SentenceTransformer(
            str(exports / f"static-pca{static_pca}"), device="cpu"),
    }
    print(f"\n[3] encode throughput: {len(texts)} passages, batch 32, passage prompt, {threads} thread(s)")
    out, base = {}, None
    for name, enc in encoders.items():
        enc.encode(texts[:32], prompt_name="passage", batch_size=32)  # warm-up
        t0 = time.perf_counter()
        enc.encode(texts, prompt_name="passage", batch_size=32)
        rate = len(texts) / (time.perf_counter() - t0)
        base = base or rate
        out[name] = {"passages_per_s": round(rate, 1), "speedup": round(rate / base, 1)}
        row(name, **out[name])
    names = list(encoders)
    ref = encoders[names[0]].encode(texts[:64], prompt_name="passage", normalize_embeddings=True)
    onnx = encoders[names[2]].encode(texts[:64], prompt_name="passage")
    int8 = encoders[names[3]].encode(texts[:64], prompt_name="passage")
    cos = {"onnx_vs_torch_min": float((ref * onnx).sum(1).min()), "int8_vs_fp32_onnx_min": float((onnx * int8).sum(1).min()),
           "int8_vs_fp32_onnx_mean": float((onnx * int8).sum(1).mean())}
    print(f"  export seconds: {timings}; cosines (64 passages): {cos}")
    return out | {"cosine": cos}


def _configure_http(args: argparse.Namespace) -> None:
    global THREADS, SERVE_ARGS, HTTP_INDEX, GENERATOR, SECONDS
    THREADS, HTTP_INDEX, SECONDS = args.threads, args.http_index, args.seconds
    SERVE_ARGS = shlex.split(args.serve_args)
    GENERATOR = args.load_generator
    if GENERATOR == "auto":
        GENERATOR = "wrk" if shutil.which("wrk") else "python"
    if GENERATOR == "wrk" and not shutil.which("wrk"):
        raise SystemExit("--load-generator wrk: wrk is not on PATH (apt-get install wrk)")
    if GENERATOR == "wrk" and SECONDS <= 0:
        raise SystemExit("--load-generator wrk needs --seconds > 0")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="intfloat/multilingual-e5-small")
    ap.add_argument("--n", type=int, default=100_000, help="passages in the index")
    ap.add_argument("--queries", type=int, default=1000, help="queries for the index timings")
    ap.add_argument("--http-requests", type=int, default=400)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--encode-passages", type=int, default=512)
    ap.add_argument("--student-layers", type=int, default=6)
    ap.add_argument("--static-pca", type=int, default=256)
    ap.add_argument("--threads", type=int, default=1, help="torch/faiss/onnxruntime threads (server too)")
    ap.add_argument("--query-encoders", nargs="*", default=[], metavar="NAME=DIR",
                    help="also serve with `--query-encoder DIR` (a mimo export dir; DIR=full: --model) and time HTTP")
    ap.add_argument("--http-index", choices=["flat", "hnsw"], default="flat",
                    help=f"index kind served in [2]/[2b] (hnsw: {HNSW})")
    ap.add_argument("--load-generator", choices=["auto", "wrk", "python"], default="auto",
                    help="HTTP load: wrk (auto: when on PATH; needs --seconds) or the python (httpx) clients")
    ap.add_argument("--seconds", type=float, default=0.0,
                    help="each HTTP measurement runs this long (0: --http-requests requests, python clients)")
    ap.add_argument("--index-cache", type=Path, help="keep the synthetic HTTP indexes here and reuse them")
    ap.add_argument("--serve-args", default="", help="extra `mimo serve` arguments, e.g. '--max-batch 32'")
    ap.add_argument("--note", default="", help="recorded in the JSON (e.g. what else ran on the machine)")
    ap.add_argument("--backends", nargs="*", default=[], choices=list(BACKEND_PLANS),
                    help="[4]: storage backends to compare (build rate, latency at 1 and --clients clients, recall@10)")
    ap.add_argument("--backend-requests", type=int, default=50, help="[4]: searches per client thread")
    ap.add_argument("--milvus-uri", help="[4] milvus-server-hnsw: a Milvus standalone / cluster, http://host:19530")
    ap.add_argument("--dim", type=int, help="vector dimension (default: the model's; skips loading it)")
    ap.add_argument("--skip", nargs="*", default=[], choices=["index", "http", "encode"])
    ap.add_argument("--json", type=Path, help="also write the numbers here")
    args = ap.parse_args()
    _configure_http(args)

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import faiss
    import torch

    torch.set_num_threads(args.threads)
    faiss.omp_set_num_threads(args.threads)
    docs, queries, source = passages(args.n)
    print(f"passages: {source}; queries: {len(queries)} real texts; cores: {os.cpu_count()}, "
          f"threads: {args.threads}, load average at start: {os.getloadavg()[0]:.1f}")
    if args.dim:
        dim = args.dim
    else:
        from mimo.models import load_model

        dim = int(load_model(args.model).get_embedding_dimension())
    results: dict = {"source": source, "n": args.n, "dim": dim, "cores": os.cpu_count(), "threads": args.threads,
                     "http_index": _index_label(args.n), "load_generator": GENERATOR, "seconds": SECONDS,
                     "serve_args": SERVE_ARGS, "note": args.note, "load_avg_start": round(os.getloadavg()[0], 2)}
    with tempfile.TemporaryDirectory(prefix="mimo-bench-") as t:
        tmp = Path(t)
        if "index" not in args.skip:
            results["index"] = bench_indexes(docs, dim, args.queries, tmp)
        if "http" not in args.skip:
            results["http"] = bench_http(args.model, docs, dim, queries, tmp, args.http_requests, args.clients,
                                         args.index_cache)
        if args.query_encoders:
            results["http_query_encoders"] = bench_query_encoders(args.model, docs, queries, tmp, args.http_requests,
                                                                  args.clients, args.query_encoders, args.index_cache)
        if args.backends:
            results["backends"] = bench_backends(docs, dim, args.queries, tmp, args.backends, args.clients,
                                                 args.backend_requests, args.milvus_uri)
    if "encode" not in args.skip:
        texts = [d.text for d in docs[: args.encode_passages]]
        results["encode"] = bench_encoders(args.model, texts, args.student_layers, args.static_pca,
                                           args.threads)
    print(f"\nload average at end: {os.getloadavg()[0]:.1f} (other processes share these cores)")
    results["load_avg_end"] = round(os.getloadavg()[0], 2)
    if args.json:
        tmp_json = args.json.with_suffix(args.json.suffix + ".tmp")
        tmp_json.write_text(json.dumps(results, indent=2, ensure_ascii=False))
        tmp_json.replace(args.json)  # atomic


if __name__ == "__main__":
    main()
