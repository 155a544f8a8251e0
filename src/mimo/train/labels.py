"""Teacher labelling: the teacher's embeddings of English texts, read from (or added to) the teacher cache."""

from __future__ import annotations

import copy
import hashlib

import numpy as np
import torch

from mimo.errors import MimoError
from mimo.teacher import TeacherCache, model_encode_fn
from mimo.train.config import TrainConfig


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


def fingerprint(model) -> str:
    h = hashlib.sha256()
    for name, t in model.state_dict().items():
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes()[:1 << 20])
    return h.hexdigest()[:16]


class Teacher:
    """Teacher labels via the cache; the teacher model is loaded only if an entry is missing."""

    def __init__(self, config: TrainConfig, student) -> None:
        self.config = config
        self._model = None
        if config.teacher == "self":
            self._model = copy.deepcopy(student).eval()
            self.id = f"self:{config.student}:{fingerprint(student)}"
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
