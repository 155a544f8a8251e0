"""The training configuration: one dataclass, round-trips to YAML, saved with every model."""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mimo.errors import InputError

OBJECTIVES = ("mimo", "kd", "xlco", "infonce", "lakda", "lakda-sharp", "mse")
#: objectives whose batches are (query, query in another language, passage): no teacher labels
LAKDA_OBJECTIVES = ("lakda", "lakda-sharp")
STAGES = ("1", "2", "both")
SCHEDULES = ("constant", "linear", "adaptive")
PROJECTION_INITS = ("random", "lstsq")
STAGE1_PROMPTS = ("query", "passage", "both")


@dataclass
class TrainConfig:
    """Everything a run depends on. ``max_steps`` (if set) caps both stages' step counts.

    ``stage1_epochs`` / ``stage2_epochs`` (instead of the step counts) derive a stage's steps from its
    data once loaded: epochs x rows // batch size (Stage 1: parallel rows; Stage 2: retrieval-train
    rows, one per pair and language); give one of steps or epochs per stage."""

    out: str = "runs/mimo"
    student: str = "intfloat/multilingual-e5-small"
    teacher: str = "sentence-transformers/all-MiniLM-L6-v2"  # or "self"
    teacher_query_prompt: str = ""
    teacher_passage_prompt: str = ""
    query_prompt_name: str = "query"  # student prompts
    passage_prompt_name: str = "passage"
    stage1_prompt: str = "query"  # Stage-1 texts as: query | passage | both (alternating steps)
    stage: str = "both"
    objective: str = "mimo"
    # data: None = the foundation's datasets under $MIMO_HOME (mimo.data.build.load_*)
    parallel_path: str | None = None
    retrieval_path: str | None = None
    langs: list[str] | None = None  # keep only these languages (plus en)
    # a user's files (mimo.data.user): mimo field -> your column, and the language of lang-less files
    data_columns: dict[str, str] | None = None
    data_lang: str | None = None
    query_kinds: list[str] | None = None  # retrieval-train rows of these query kinds only (mimo.data.kinds)
    max_rows: int | None = None  # cap rows read from each dataset (CI-sized runs)
    eval_rows: int = 64  # held-out parallel rows for the alignment figure (0 = off)
    # stage 1
    stage1_steps: int = 100
    stage1_epochs: float | None = None  # instead of stage1_steps: whole passes over the parallel rows
    batch_size: int = 32
    lr: float = 1e-4
    # stage 2
    stage2_steps: int = 20
    stage2_epochs: float | None = None  # instead of stage2_steps: whole passes over the retrieval-train rows
    stage2_batch_size: int = 64
    stage2_lr: float = 2e-5
    mini_batch_size: int | None = None  # GradCache mini-batch (None = direct)
    max_steps: int | None = None
    lam: float = 0.2
    lambda_schedule: str = "constant"
    lambda_warmup: float = 0.5  # linear: fraction of stage-2 steps to reach lam
    adaptive_tolerance: float = 0.05  # adaptive: allowed relative KD (alignment) degradation
    scale: float = 20.0
    lakda_alpha: float = 0.5
    # student / projection
    projection: bool = True
    projection_init: str = "random"
    init_projection: str | None = None  # Stage 2 alone: a Stage-1 projection.safetensors
    lstsq_texts: int = 2048  # > student_dim + 1, else the fit interpolates and generalises poorly
    lstsq_ridge: float = 0.1
    freeze_embeddings: bool = False
    student_layers: int | None = None
    max_length: int = 128
    length_grouping: bool = True
    # runtime
    seed: int = 0
    checkpoint_every: int = 50
    teacher_cache: str | None = None  # cache root (default: $MIMO_HOME/teacher-cache)
    cache_read_only: bool = False
    cache_dtype: str = "float16"
    weight_decay: float = 0.0
    warmup_steps: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def validate(self, given: set[str] | None = None) -> TrainConfig:
        """Check and normalise every field in place (``given``: the fields the user wrote, see
        :meth:`_check_epochs`); raises :class:`InputError` naming the field."""
        self._coerce_numbers()
        checks = [
            ("objective", self.objective, OBJECTIVES),
            ("stage", str(self.stage), STAGES),
            ("lambda_schedule", self.lambda_schedule, SCHEDULES),
            ("projection_init", self.projection_init, PROJECTION_INITS),
            ("stage1_prompt", self.stage1_prompt, STAGE1_PROMPTS),
        ]
        for name, value, allowed in checks:
            if value not in allowed:
                raise InputError(f"config field {name!r}: {value!r} is not one of {', '.join(allowed)}")
        self.stage = str(self.stage)
        if not 0.0 <= self.lam <= 1.0:
            raise InputError(f"config field 'lam': {self.lam} is not in [0, 1]")
        for name in ("stage1_steps", "stage2_steps", "batch_size", "stage2_batch_size", "max_length"):
            if getattr(self, name) < 1:
                raise InputError(f"config field {name!r} must be >= 1, got {getattr(self, name)}")
        self._check_epochs(given)
        if self.mini_batch_size is not None and self.mini_batch_size < 1:
            raise InputError(f"config field 'mini_batch_size' must be >= 1, got {self.mini_batch_size}")
        if self.langs is not None:
            from mimo.langs import check_lang

            self.langs = [check_lang(code, "config field 'langs'") for code in self.langs]
        if self.query_kinds is not None:
            from mimo.data.kinds import parse_kinds

            try:
                kinds = parse_kinds(self.query_kinds)
            except ValueError as e:
                raise InputError(f"config field 'query_kinds': {e}") from None
            self.query_kinds = list(kinds) if kinds else None
        return self

    def _check_epochs(self, given: set[str] | None = None) -> None:
        """Epochs must be > 0 and exclude an explicit step count for the same stage (``given``: the
        fields the user wrote; otherwise a step count other than the default counts as given)."""
        defaults = {f.name: f.default for f in dataclasses.fields(self)}
        for stage in (1, 2):
            steps, epochs = f"stage{stage}_steps", f"stage{stage}_epochs"
            value = getattr(self, epochs)
            if value is None:
                continue
            if value <= 0:
                raise InputError(f"config field {epochs!r} must be > 0, got {value}")
            explicit = steps in given if given is not None else getattr(self, steps) != defaults[steps]
            if explicit:
                raise InputError(f"config fields {steps!r} and {epochs!r} conflict: give one of them "
                                 f"(the epochs derive the steps from the data)")

    def stage_steps(self, stage: int, rows: int) -> int:
        """Stage ``stage``'s step count: its ``stage<N>_epochs`` x ``rows`` // batch size when set
        (at least 1), else ``stage<N>_steps``; capped by ``max_steps``."""
        epochs = getattr(self, f"stage{stage}_epochs")
        batch = self.batch_size if stage == 1 else self.stage2_batch_size
        steps = max(1, int(epochs * rows) // batch) if epochs is not None else getattr(self, f"stage{stage}_steps")
        return min(steps, self.max_steps) if self.max_steps else steps

    def _coerce_numbers(self) -> None:
        """Numbers given as strings become numbers: PyYAML reads ``1e-4`` (no dot) as the string
        "1e-4", which would otherwise fail deep inside the optimizer."""
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            kind = next((t for t in (bool, int, float) if t in typing.get_args(hints[f.name]) or hints[f.name] is t), None)
            value = getattr(self, f.name)
            if kind in (int, float) and value is not None and not isinstance(value, bool):
                try:
                    number = kind(float(value)) if kind is int else float(value)
                except (TypeError, ValueError):
                    raise InputError(f"config field {f.name!r}: {value!r} is not a number") from None
                if kind is int and number != float(value):
                    raise InputError(f"config field {f.name!r}: {value!r} is not a whole number")
                setattr(self, f.name, number)

    @property
    def steps1(self) -> int:
        """``stage1_steps`` capped by ``max_steps``; with ``stage1_epochs`` the count needs the data: :meth:`stage_steps`."""
        return min(self.stage1_steps, self.max_steps) if self.max_steps else self.stage1_steps

    @property
    def steps2(self) -> int:
        """``stage2_steps`` capped by ``max_steps``; with ``stage2_epochs`` see :meth:`stage_steps`."""
        return min(self.stage2_steps, self.max_steps) if self.max_steps else self.stage2_steps

    @property
    def effective_lambda(self) -> float:
        """kd fixes lambda = 0, xlco / infonce lambda = 1; mimo uses ``lam``."""
        return {"kd": 0.0, "mse": 0.0, "xlco": 1.0, "infonce": 1.0}.get(self.objective, self.lam)

    @property
    def needs_teacher(self) -> bool:
        stage2_only = self.stage == "2"
        return not (stage2_only and self.objective in ("xlco", "infonce", *LAKDA_OBJECTIVES))

    def to_dict(self) -> dict[str, Any]:
        """The fields, less a step count its stage's epochs replace (so the dict reads back as given)."""
        data = dataclasses.asdict(self)
        for stage in (1, 2):
            if data[f"stage{stage}_epochs"] is not None:
                del data[f"stage{stage}_steps"]
        return data

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "config") -> TrainConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            known = ", ".join(sorted(names))
            raise InputError(f"{where}: unknown field(s) {', '.join(unknown)}; known: {known}")
        return cls(**data).validate(given=set(data))

    @classmethod
    def from_yaml(cls, path: str | Path) -> TrainConfig:
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except FileNotFoundError:
            raise InputError(f"config file {path} does not exist") from None
        except yaml.YAMLError as e:
            raise InputError(f"config file {path} is not valid YAML: {e}") from None
        if not isinstance(data, dict):
            raise InputError(f"config file {path}: expected a mapping of fields, got {type(data).__name__}")
        return cls.from_dict(data, where=str(path))


def parse_overrides(items: list[str] | None) -> dict[str, Any]:
    """``["stage2_lr=1e-4", "lam=0.5"]`` -> TrainConfig overrides (values read as YAML)."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or key not in TrainConfig.__dataclass_fields__:
            raise InputError(f"--set {item!r}: expected FIELD=VALUE with FIELD a TrainConfig field")
        out[key] = yaml.safe_load(value)
    return out
