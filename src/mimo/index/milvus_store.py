"""The Milvus store: a collection in embedded Milvus Lite (``./x.db``) or a Milvus server / cluster by URI.

One collection per index: ``id`` (VARCHAR primary key), ``lang``, ``title``, ``text`` (VARCHAR; ``""``
for none) and ``vector`` (FLOAT_VECTOR, inner product), with an INVERTED index on ``lang`` for the
language filter. The model manifest is the collection property ``mimo.manifest`` (JSON), so any
process that can reach the collection can open it. Both forms go through the same ``pymilvus``
``MilvusClient`` calls; only the URI differs.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from mimo.errors import InputError, MimoError
from mimo.index.corpus import Doc, lang_counts
from mimo.index.store import LANG_CODE, Hit, check_known_ids, check_new_ids, now, snippet

DEFAULT_COLLECTION = "mimo"
MANIFEST_KEY = "mimo.manifest"
LANGS_KEY = "mimo.langs."
KINDS = ("auto", "flat", "hnsw", "ivf_flat", "ivfpq")
#: mimo's kind -> Milvus index_type; any other upper-case name (IVF_SQ8, DISKANN, ...) passes through.
INDEX_TYPES = {"flat": "FLAT", "hnsw": "HNSW", "ivf_flat": "IVF_FLAT", "ivfpq": "IVF_PQ"}
#: mimo's parameter names -> Milvus's (build time); ``ef_search``/``nprobe`` are search time.
BUILD_NAMES = {"hnsw_m": "M", "ef_construction": "efConstruction", "nlist": "nlist", "pq_m": "m", "pq_bits": "nbits"}
SEARCH_NAMES = {"ef_search": "ef", "nprobe": "nprobe"}
ID_MAX, LANG_MAX, TITLE_MAX, TEXT_MAX = 512, 32, 4096, 65535
#: Rows per insert call, and a bound on its bytes (gRPC messages are limited to 64 MiB).
BATCH_ROWS, BATCH_BYTES = 1000, 16 << 20
_LITE_USERS: dict[str, int] = {}  # open MilvusStores per Milvus Lite path in this process

logging.getLogger("pymilvus").setLevel(logging.CRITICAL)  # it logs every failed call with a traceback
logging.getLogger("milvus_lite").setLevel(logging.CRITICAL)  # failures reach the caller as exceptions


def is_milvus_uri(uri: str | Path) -> bool:
    """True for what names a Milvus backend: ``http(s)://``, ``tcp://``, ``unix:`` or a ``.db`` path."""
    s = str(uri)
    return s.startswith(("http://", "https://", "tcp://", "unix:", "grpc://")) or s.endswith(".db")


def is_lite(uri: str) -> bool:
    return not uri.startswith(("http://", "https://", "tcp://", "unix:", "grpc://"))


def milvus_index(kind: str, params: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(index_type, build params, search params) for mimo's ``kind`` and ``params`` (names mapped)."""
    index_type = INDEX_TYPES.get(kind) or (kind if kind.isupper() else "")
    if not index_type:
        raise InputError(f"unknown index kind {kind!r} for the milvus backend; choose one of "
                         f"{', '.join(KINDS)} or a Milvus index type in capitals (IVF_SQ8, DISKANN, ...)")
    build = {BUILD_NAMES.get(k, k): v for k, v in params.items() if k not in SEARCH_NAMES}
    search = {SEARCH_NAMES[k]: v for k, v in params.items() if k in SEARCH_NAMES}
    return index_type, build, search


def check_lite_index(index_type: str) -> None:
    """InputError for an index type that Milvus Lite cannot build (product quantisation, disk indexes)."""
    from milvus_lite.index.factory import KNOWN_VECTOR_INDEX_TYPES

    usable = sorted(KNOWN_VECTOR_INDEX_TYPES - {"IVF_PQ", "SPARSE_INVERTED_INDEX"})
    if index_type not in usable:
        raise InputError(f"Milvus Lite has no {index_type} index (it has {', '.join(usable)}); "
                         "pick one of those, or use a Milvus server (--uri http://host:19530)")


def _where(uri: str, collection: str) -> str:
    return f"{uri} (collection {collection!r})"


@contextmanager
def _errors(what: str) -> Iterator[None]:
    """Turn pymilvus / Milvus Lite failures into one-line MimoErrors naming ``what``."""
    try:
        yield
    except MimoError:
        raise
    except Exception as e:  # noqa: BLE001 - MilvusException, grpc errors, NotImplementedError of Lite
        msg = getattr(e, "message", None) or str(e) or type(e).__name__
        raise MimoError(f"{what}: {' '.join(str(msg).split())[:400]}") from None


def connect(uri: str, token: str | None = None, timeout: float = 10.0) -> Any:
    """A ``MilvusClient`` for ``uri``; a bad URI, an unreachable server or a Lite file held by another
    process is a clear MimoError."""
    try:
        from pymilvus import MilvusClient
    except ImportError:
        raise MimoError("the milvus backend needs pymilvus and milvus-lite: pip install pymilvus milvus-lite") from None
    uri = str(uri)
    if not is_milvus_uri(uri):
        raise InputError(f"--uri {uri}: a Milvus URI is http(s)://host:19530 (a server or cluster) "
                         "or a Milvus Lite path ending in .db")
    if is_lite(uri):
        path = Path(uri).resolve()
        if not path.parent.is_dir():
            raise InputError(f"--uri {uri}: directory {path.parent} does not exist")
        if path.exists() and not path.is_dir():
            raise InputError(f"--uri {uri}: not a Milvus Lite database (a Milvus Lite .db is a directory)")
        if str(path) not in _LITE_USERS:
            _check_unlocked(path)
        uri = str(path)
    with _errors(f"cannot open Milvus at {uri}"):
        client = MilvusClient(uri=uri, token=token or os.environ.get("MILVUS_TOKEN", ""), timeout=timeout)
    if is_lite(uri):
        _LITE_USERS[uri] = _LITE_USERS.get(uri, 0) + 1
        # the in-process engine's gRPC server logs each RPC it lacks (AllocTimestamp, which pymilvus can do without)
        logging.getLogger("grpc._server").setLevel(logging.CRITICAL)
    return client


def _check_unlocked(path: Path) -> None:
    lock = path / "LOCK"
    if not lock.exists():
        return
    with open(lock, "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise MimoError(f"{path} is open in another process: Milvus Lite allows one process per .db. "
                            f"Stop it, or share the database: `milvus-lite server --data-dir {path}` and use "
                            "--uri http://127.0.0.1:19530") from None
        fcntl.flock(f, fcntl.LOCK_UN)


class MilvusStore:
    """An open mimo collection; see the module docstring for its schema."""

    backend = "milvus"

    def __init__(self, client: Any, uri: str, collection: str, manifest: dict[str, Any]) -> None:
        self.client, self.uri, self.collection, self.manifest = client, uri, collection, manifest
        self.where = _where(uri, collection)
        self._search_params = manifest.get("milvus", {}).get("search_params", {})

    # -- creating and opening
    @classmethod
    def create(cls, uri: str, collection: str, manifest: dict[str, Any], token: str | None = None) -> MilvusStore:
        """Create the collection with the index of ``manifest['kind']`` and store the manifest on it."""
        from pymilvus import DataType, MilvusClient

        client = connect(uri, token)
        uri = _resolved(uri)
        where = _where(uri, collection)
        index_type, build, search = milvus_index(manifest["kind"], manifest["params"])
        manifest.pop("count", None)  # a collection's count is live (count(*)), never stored
        manifest.update(backend="milvus", uri=uri, collection=collection,
                        milvus={"index_type": index_type, "build_params": build, "search_params": search})
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=ID_MAX)
        schema.add_field("lang", DataType.VARCHAR, max_length=LANG_MAX)
        schema.add_field("title", DataType.VARCHAR, max_length=TITLE_MAX)
        schema.add_field("text", DataType.VARCHAR, max_length=TEXT_MAX)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=int(manifest["dim"]))
        ip = client.prepare_index_params()
        ip.add_index(field_name="vector", index_type=index_type, metric_type="IP", params=build)
        ip.add_index(field_name="lang", index_type="INVERTED")
        with _errors(f"cannot create {where} with a {index_type} index"):
            client.create_collection(collection, schema=schema, index_params=ip, consistency_level="Strong",
                                     properties={MANIFEST_KEY: json.dumps(manifest)})
            client.load_collection(collection)
        return cls(client, uri, collection, manifest)

    @classmethod
    def open(cls, uri: str, collection: str = DEFAULT_COLLECTION, token: str | None = None,
             missing_ok: bool = False) -> MilvusStore | None:
        """Open a collection that ``mimo index build`` made (None if absent and ``missing_ok``)."""
        client = connect(uri, token)
        uri = _resolved(uri)
        where = _where(uri, collection)
        with _errors(f"cannot open {where}"):
            names = client.list_collections()
        if collection not in names:
            _release(client, uri)
            if missing_ok:
                return None
            raise MimoError(f"{uri} has no collection {collection!r} (it has: {', '.join(names) or 'none'}); "
                            f"build one with `mimo index build MODEL CORPUS --uri {uri} --collection {collection}`")
        with _errors(f"cannot open {where}"):
            info = client.describe_collection(collection)
        raw = (info.get("properties") or {}).get(MANIFEST_KEY)
        if not raw:
            _release(client, uri)
            raise MimoError(f"{where} was not made by mimo (no {MANIFEST_KEY} property)")
        manifest = json.loads(raw)
        dims = [f["params"].get("dim") for f in info["fields"] if f["name"] == "vector"]
        if not dims or int(dims[0]) != int(manifest["dim"]):
            _release(client, uri)
            raise MimoError(f"{where}: its vector field holds {dims[0] if dims else 'no'}-d vectors, "
                            f"its manifest says {manifest['dim']}-d")
        with _errors(f"cannot load {where}"):
            client.load_collection(collection)
        return cls(client, uri, collection, manifest)

    def close(self) -> None:
        _release(self.client, self.uri)

    def refresh(self) -> bool:
        return False  # every read sees the latest acknowledged write (Strong consistency)

    # -- reading
    def __len__(self) -> int:
        with _errors(f"cannot count {self.where}"):
            rows = self.client.query(self.collection, filter="", output_fields=["count(*)"])
        return int(rows[0]["count(*)"])

    def languages(self) -> dict[str, int]:
        """mimo's per-language counts: the manifest's ``languages`` (kept by each write) plus those a
        ``--shard i/N`` build wrote for its range (``mimo.langs.i/N``: one writer a key, so no lost update)."""
        props = self._properties()
        total: dict[str, int] = {}
        parts = [json.loads(props.get(MANIFEST_KEY) or "{}").get("languages", {})]
        parts += [json.loads(v) for k, v in props.items() if k.startswith(LANGS_KEY)]
        for part in parts:
            for lang, n in part.items():
                total[lang] = total.get(lang, 0) + int(n)
        return dict(sorted((k, v) for k, v in total.items() if v > 0))

    def set_languages(self, counts: dict[str, int], part: str | None = None) -> None:
        """Store exact counts: the manifest's (``part`` None) or a shard range's (``part`` = "i/N")."""
        if part is None:
            manifest = self._stored_manifest()
            manifest["languages"] = counts
            self.write_manifest(manifest)
        else:
            with _errors(f"cannot update {self.where}"):
                self.client.alter_collection_properties(self.collection,
                                                        properties={LANGS_KEY + part: json.dumps(counts)})

    def _properties(self) -> dict[str, str]:
        with _errors(f"cannot read {self.where}"):
            return dict(self.client.describe_collection(self.collection).get("properties") or {})

    def _stored_manifest(self) -> dict[str, Any]:
        return json.loads(self._properties().get(MANIFEST_KEY) or "{}")

    def _langs_of(self, ids: Sequence[str]) -> dict[str, str]:
        """id -> stored lang ("" for none) of those ``ids`` that are stored."""
        out: dict[str, str] = {}
        with _errors(f"cannot read {self.where}"):
            for i in range(0, len(ids), BATCH_ROWS):
                for row in self.client.get(self.collection, ids=list(ids[i:i + BATCH_ROWS]), output_fields=["lang"]):
                    out[row["id"]] = row.get("lang") or ""
        return out

    def missing(self, ids: Sequence[str]) -> list[str]:
        have = self._langs_of(ids)
        return [i for i in ids if i not in have]

    def search(self, vectors: np.ndarray, k: int, langs: Sequence[str] | None = None) -> list[list[Hit]]:
        vectors = np.asarray(vectors, dtype=np.float32)
        if len(vectors) == 0:
            return []
        expr = ""
        if langs:
            safe = [x for x in langs if LANG_CODE.match(x)]
            if not safe:
                return [[] for _ in range(len(vectors))]
            expr = f"lang in [{', '.join(json.dumps(x) for x in safe)}]"
        with _errors(f"search in {self.where} failed"):
            res = self.client.search(self.collection, data=vectors.tolist(), anns_field="vector", limit=k,
                                     filter=expr, output_fields=["lang", "title", "text"],
                                     search_params={"metric_type": "IP", "params": self._search_params})
        return [[Hit(str(h["id"]), float(h["distance"]), h["entity"].get("lang") or None,
                     h["entity"].get("title") or None, snippet(h["entity"].get("text") or "")) for h in row]
                for row in res]

    # -- writing
    def add(self, docs: Sequence[Doc], vectors: np.ndarray, on_batch: Callable[[int, int], None] | None = None,
            check: bool = True, count: bool = True) -> int:
        """Insert in batches; ``on_batch(i, n)`` once batch ``i`` (``n`` rows) is acknowledged (durable:
        Milvus Lite has written it to its log, a server to its message queue). ``check=False`` skips the
        new-id check (a fresh collection), ``count=False`` the language counts (a build sets them at the end)."""
        if check:
            check_new_ids(self, docs)
        self._write("insert", docs, vectors, on_batch, count)
        return len(self)

    def upsert(self, docs: Sequence[Doc], vectors: np.ndarray, on_batch: Callable[[int, int], None] | None = None,
               count: bool = True) -> int:
        if len({d.id for d in docs}) != len(docs):
            raise InputError("the passages to upsert have duplicate ids")
        self._write("upsert", docs, vectors, on_batch, count)
        return len(self)

    def delete(self, ids: Sequence[str]) -> int:
        ids = list(dict.fromkeys(ids))
        old = self._langs_of(ids)
        check_known_ids(self, ids)
        with _errors(f"cannot delete from {self.where}"):
            for i in range(0, len(ids), BATCH_ROWS):
                self.client.delete(self.collection, ids=ids[i:i + BATCH_ROWS])
        self._count({}, old)
        return len(self)

    def _write(self, op: str, docs: Sequence[Doc], vectors: np.ndarray,
               on_batch: Callable[[int, int], None] | None, count: bool) -> None:
        dim = int(self.manifest["dim"])
        if len(docs) and (vectors.ndim != 2 or vectors.shape != (len(docs), dim)):
            raise InputError(f"{len(docs)} passages need a {len(docs)} x {dim} vector matrix, got {vectors.shape} "
                             f"({self.where} holds {dim}-d vectors)")
        for d in docs:
            _check_fits(d)
        for n, (start, stop) in enumerate(_batches(docs)):
            part = docs[start:stop]
            rows = [_row(d, vectors[start + j]) for j, d in enumerate(part)]
            old = self._langs_of([d.id for d in part]) if op == "upsert" and count else {}
            with _errors(f"cannot {op} into {self.where}"):
                getattr(self.client, op)(self.collection, rows)
            if count:
                self._count({d.id: d.lang or "" for d in part}, old)
            if on_batch:
                on_batch(n, len(part))

    def _count(self, new: dict[str, str], old: dict[str, str]) -> None:
        """Apply a write to the stored per-language counts (re-read first: other writers may have counted)."""
        manifest = self._stored_manifest() or self.manifest
        counts = dict(manifest.get("languages", {}))
        for lang, sign in [(x, -1) for x in old.values()] + [(x, 1) for x in new.values()]:
            key = lang or "unknown"
            counts[key] = counts.get(key, 0) + sign
        manifest["languages"] = dict(sorted((k, v) for k, v in counts.items() if v > 0))
        manifest["updated"] = now()
        self.write_manifest(manifest)

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        with _errors(f"cannot update {self.where}"):
            self.client.alter_collection_properties(self.collection, properties={MANIFEST_KEY: json.dumps(manifest)})
        self.manifest = manifest

    def recount_languages(self) -> dict[str, int]:
        """Rescan every passage's language and store the exact counts (after a writer was killed mid-write)."""
        langs: list[str] = []
        with _errors(f"cannot scan {self.where}"):
            it = self.client.query_iterator(self.collection, batch_size=BATCH_ROWS, filter="", output_fields=["lang"])
            while rows := it.next():
                langs.extend(r.get("lang") or "" for r in rows)
            it.close()
        counts = lang_counts(Doc("", "", x or None) for x in langs)
        with _errors(f"cannot update {self.where}"):
            for key in [k for k in self._properties() if k.startswith(LANGS_KEY)]:
                self.client.drop_collection_properties(self.collection, property_keys=[key])
        self.set_languages(counts)
        return counts


def _check_fits(d: Doc) -> None:
    for name, value, limit in (("id", d.id, ID_MAX), ("title", d.title or "", TITLE_MAX), ("text", d.text, TEXT_MAX)):
        if len(value) * 4 > limit and len(value.encode("utf-8")) > limit:
            raise InputError(f"passage {d.id[:80]!r}: field {name!r} is over Milvus's {limit} bytes; shorten or split it")


def _row(d: Doc, v: np.ndarray) -> dict[str, Any]:
    return {"id": d.id, "lang": d.lang or "", "title": d.title or "", "text": d.text, "vector": v}


def _batches(docs: Sequence[Doc]) -> Iterator[tuple[int, int]]:
    start, size = 0, 0
    for i, d in enumerate(docs):
        size += len(d.text) * 4 + len(d.title or "") * 4 + 4096
        if i - start >= BATCH_ROWS or (size > BATCH_BYTES and i > start):
            yield start, i
            start, size = i, len(d.text) * 4 + 4096
    if start < len(docs):
        yield start, len(docs)


def _resolved(uri: str) -> str:
    return str(Path(uri).resolve()) if is_lite(str(uri)) else str(uri)


def _release(client: Any, uri: str) -> None:
    """Close the client; the last user of a Milvus Lite path in this process also stops its engine
    (flushing it and releasing its lock, so another process can open the .db)."""
    try:
        client.close()
    finally:
        if is_lite(uri) and uri in _LITE_USERS:
            _LITE_USERS[uri] -= 1
            if _LITE_USERS[uri] <= 0:
                del _LITE_USERS[uri]
                from milvus_lite.server_manager import server_manager_instance

                server_manager_instance.release_server(uri)
