"""What a dataset build is made of: its outputs, its sources and :class:`BuildConfig`, the settings
that determine it (saved in the manifest). Everything in ``mimo.data`` that builds or reads a build
imports these from here; this module imports no other part of the builder."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from mimo.data.clean import FilterConfig
from mimo.errors import MimoError
from mimo.langs import TARGET_LANGS, check_lang

DATASET_VERSION = "1.1"  # 1.1: mlir-qa-* benchmarks, query kinds, paragraph-level leak check (training rows shrank)
BENCHMARKS = ("mlir-dev", "mlir-test", "mlir-qa-dev", "mlir-qa-test")
OUTPUTS = ("parallel", "retrieval-train", *BENCHMARKS)
MANIFEST = "manifest.json"

#: name -> (module, iterator function, SOURCE_INFO attribute); order = dedup priority.
SOURCES: dict[str, tuple[str, str, str]] = {
    "libreoffice-help": ("mimo.data.libreoffice", "iter_help_units", "HELP_INFO"),
    "gnome-user-docs": ("mimo.data.gnome", "iter_units", "SOURCE_INFO"),
    "installation-guide": ("mimo.data.installguide", "iter_units", "SOURCE_INFO"),
    "libreoffice-l10n": ("mimo.data.libreoffice", "iter_l10n_units", "L10N_INFO"),
    "gettext": ("mimo.data.gettext", "iter_units", "SOURCE_INFO"),
}

Progress = Callable[[str], None]


@dataclass
class BuildConfig:
    """Everything that determines a build; saved in the manifest."""

    langs: tuple[str, ...] = TARGET_LANGS
    sources: tuple[str, ...] = tuple(SOURCES)
    seed: int = 13
    filters: FilterConfig = field(default_factory=FilterConfig)
    dev_queries: int = 200  # query groups (each asked in every available language)
    test_queries: int = 800
    bench_min_langs: int = 8  # non-English languages a benchmark query group must have
    queries_per_page: int = 2
    passages_per_page: int = 4  # corpus groups per benchmark page (gold ones always included)
    passage_units: int = 3
    passage_chars: int = 300
    query_chars: tuple[int, int] = (3, 200)
    qa_dev_queries: int = 100  # question/task pages held out for mlir-qa-dev (one query group each)
    qa_test_queries: int = 300
    qa_passage_chars: int = 600  # the answer: the page body up to this many English characters
    qa_passage_units: int = 8
    qa_min_passage_chars: int = 100

    def __post_init__(self) -> None:
        self.langs = tuple(check_lang(x, "--langs") for x in self.langs if x != "en")
        unknown = [s for s in self.sources if s not in SOURCES]
        if unknown:
            raise MimoError(f"unknown data source(s) {unknown}; known: {', '.join(SOURCES)}")

    def to_dict(self) -> dict:
        """The config as the manifest stores it (lists, not tuples: equal to the JSON read back)."""
        d = asdict(self)
        d["langs"], d["sources"], d["query_chars"] = list(self.langs), list(self.sources), list(self.query_chars)
        return d


def min_langs(cfg: BuildConfig) -> int:
    """Non-English languages a benchmark query group needs (fewer when fewer are built)."""
    return max(1, min(cfg.bench_min_langs, len(cfg.langs) - 1))


def source_of(unit_source: str) -> str:
    """The builder source a unit's ``source`` belongs to (``gettext-django`` → ``gettext``)."""
    for name in SOURCES:
        if unit_source == name or unit_source.startswith(name + "-"):
            return name
    return unit_source
