"""Search indexes over a mixed-language corpus: build, search, add / upsert / delete by id.

One job a module (imports flow down this list, never up):

- ``corpus``: reading and validating a corpus (:class:`Doc`, :func:`read_corpus`)
- ``encoding``: encoding with the model's prompts, progress with rate and ETA
- ``shards``: resumable sharded encoding into Parquet (``--shard i/N``, ``--workers N``)
- ``store``: the storage seam (:class:`VectorStore`, :class:`Hit`)
- ``faiss_store``: an index directory on one machine (the default)
- ``milvus_store``: a Milvus collection (embedded Milvus Lite ``.db``, or a server / cluster by URI)
- ``search``: :class:`SearchIndex`, the model's prompts over either store
- ``build``: :func:`build_index`, the pipeline from corpus to store
"""

from mimo.index.build import build_index, measure_recall
from mimo.index.corpus import Doc, lang_counts, passage_text, read_corpus
from mimo.index.encoding import Encoder, encode, load_encoder
from mimo.index.faiss_store import KINDS, SMALL_BATCH, FaissStore
from mimo.index.search import BACKENDS, SearchIndex, open_store, resolve_backend
from mimo.index.shards import SHARD_SIZE, parse_shard
from mimo.index.store import APPROX_THRESHOLD, FORMAT_VERSION, SNIPPET_CHARS, Hit, VectorStore, recall_at_k

__all__ = [
    "APPROX_THRESHOLD", "BACKENDS", "FORMAT_VERSION", "KINDS", "SHARD_SIZE", "SMALL_BATCH", "SNIPPET_CHARS",
    "Doc", "Encoder", "FaissStore", "Hit", "SearchIndex", "VectorStore", "build_index", "encode", "lang_counts",
    "load_encoder", "measure_recall", "open_store", "parse_shard", "passage_text", "read_corpus", "recall_at_k",
    "resolve_backend",
]
