"""Teacher labelling: the teacher's embeddings of English texts, read from (or added to) the teacher cache."""

from __future__ import annotations

import copy
import hashlib

import numpy as np
import torch

from mimo.errors import MimoError
from mimo.teacher import TeacherCache, model_encode_fn
from mimo.train.config import TrainConfig


def load_student_model(name: str, device: str = "cpu"):
    """``mimo.models.load_model`` when available (offline resolver), else plain SentenceTransformer."""
    try:
        from mimo.models import load_model
    except ImportError:
        from sentence_transformers import SentenceTransformer

        return SentenceTransformer(name, device=device)
    return load_model(name, device=device)


def canonical_name(name: str) -> str:
    """The registry's hub name for an alias (``minilm`` -> its hub id), so caches are shared."""
    try:
        from mimo.models import resolve
    except ImportError:
        return name
    spec = resolve(name)
    return spec.name if spec is not None else name


def fingerprint(model) -> str:
    h = hashlib.sha256()
    for name, t in model.state_dict().items():
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes()[:1 << 20])
    return h.hexdigest()[:16]


class Teacher:
    """Teacher labels via the cache; the teacher model is loaded only if an entry is missing."""

    def __init__(self, config: TrainConfig, student, device: str = "cpu") -> None:
        self.config, self.device = config, device
        self._model = None
        if config.teacher == "self":
            self._model = copy.deepcopy(student).eval()
            self.id = f"self:{config.student}:{fingerprint(student)}"
        else:
            self.id = canonical_name(config.teacher)
        self.caches: dict[str, TeacherCache] = {}

    def model(self):
        if self._model is None:
            self._model = load_student_model(self.config.teacher, self.device)
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


def english_texts(parallel_path: str | None = None, retrieval_path: str | None = None,
                  max_rows: int | None = None) -> list[str]:
    """Every English text a run can ask the teacher for: the English side of the parallel data
    (held-out rows included) and of the retrieval pairs (queries and passages), deduplicated."""
    from mimo.train.data import load_parallel, load_retrieval

    par = load_parallel(parallel_path, None, max_rows, 0)
    ret = load_retrieval(retrieval_path, None, max_rows)
    return list(dict.fromkeys(par.english + [t for v in ret.pairs.values() for t in v["en"]]))


def build_teacher_cache(
    teacher: str, texts: list[str], *, prompt: str = "", dtype: str = "float16", root: str | None = None,
    device: str = "cpu", progress=None,
) -> dict[str, object]:
    """Embed ``texts`` with ``teacher`` once into the teacher cache (only the missing ones); returns
    the one-off cost: teacher id, texts, computed, seconds, texts/s, device, cache dir.
    ``progress(done, total)`` follows the computed texts."""
    import time

    from mimo.teacher import TeacherCache, model_encode_fn

    holder: dict[str, object] = {}

    def encode(batch: list[str]) -> np.ndarray:
        if "m" not in holder:
            holder["m"] = load_student_model(teacher, device)
        return model_encode_fn(holder["m"], prompt)(batch)

    t0 = time.perf_counter()
    cache = TeacherCache(canonical_name(teacher), encode, prompt=prompt, dtype=dtype, root=root)
    todo = len(cache.missing(texts))
    cache.get_or_compute(texts, progress=progress)
    s = time.perf_counter() - t0
    return {"teacher": cache.teacher_id, "prompt": prompt, "dtype": dtype, "texts": len(texts), "computed": todo,
            "seconds": round(s, 1), "texts_per_s": round(todo / s, 1) if todo and s > 0 else None,
            "device": device, "dir": str(cache.dir)}
