"""The model card (README.md) written next to a trained student."""

from __future__ import annotations

import json
from typing import Any

from mimo.train.config import TrainConfig

_OBJECTIVES = {
    "mimo": "MIMO: lambda * InfoNCE(query_X -> passage_Y, X != Y) + (1 - lambda) * cosine KD to the teacher",
    "kd": "distillation only (lambda = 0)",
    "xlco": "cross-lingual InfoNCE only (lambda = 1, X != Y)",
    "infonce": "monolingual InfoNCE (X = Y)",
    "lakda": "LaKDA as in the paper's code: (1 - a) * InfoNCE(query_a -> passage) + a * KL(softmax of unscaled "
             "cosines of query_b || of query_a), passage language independent of both",
    "lakda-sharp": "LaKDA-sharp (ours): (1 - a) * InfoNCE of both query languages + a * KL on scale-20 scores, "
                   "passage in the translation's language",
    "mse": "Reimers & Gurevych 2020: MSE of student(en) and student(xx) to teacher(en), no projection",
}


def render(config: TrainConfig, summary: dict[str, Any]) -> str:
    def table(d: dict[str, Any]) -> str:
        return "\n".join(f"| {k} | {v} |" for k, v in d.items()) or "| - | - |"

    align = {k: f"{v:.4f}" for k, v in summary.get("alignment", {}).items()}
    losses = {k: f"{v:.4f}" for k, v in summary.get("final_losses", {}).items()}
    mix = summary.get("mix", {})
    return f"""---
library_name: sentence-transformers
tags: [sentence-transformers, multilingual, mimo, distillation]
base_model: {config.student}
---

# {config.out} — a MIMO multilingual student

Load with `SentenceTransformer("{config.out}")`; encode queries with
`prompt_name="{config.query_prompt_name}"` and passages with
`prompt_name="{config.passage_prompt_name}"`. At inference the student's own embedding is used;
`projection.safetensors` (student -> teacher space) is kept only to continue training.

## Training
- **Student**: `{config.student}` {summary.get("student_surgery") or ""}
- **Teacher**: `{config.teacher}` (id `{summary.get("teacher_id")}`, dim {summary.get("teacher_dim")})
- **Stages**: {config.stage}; steps {json.dumps(summary.get("steps", {}))}
- **Objective** (`{config.objective}`): {_OBJECTIVES[config.objective]}
- **lambda**: {config.lam} ({config.lambda_schedule}); scale {config.scale};
  projection init {config.projection_init}
- **Data**: parallel `{config.parallel_path or "$MIMO_HOME/data/parallel"}`, retrieval
  `{config.retrieval_path or "$MIMO_HOME/data/retrieval-train"}`, languages {config.langs or "all"},
  query kinds {", ".join(config.query_kinds or []) or "all"}
- **Batch** {config.batch_size} (stage 1) / {config.stage2_batch_size} (stage 2, GradCache mini-batch
  {config.mini_batch_size}); lr {config.lr} / {config.stage2_lr}; max length {config.max_length};
  seed {config.seed}
- **Wall time**: {summary.get("seconds", 0):.0f} s

### Language mix drawn
```
{json.dumps(mix, indent=1)}
```

## Results
Alignment = mean ||f(en) - f(xx)||^2 of unit vectors on held-out parallel rows (lower is better).

| stage | alignment |
|---|---|
{table(align)}

| final loss | value |
|---|---|
{table(losses)}

The full resolved configuration is in `train_config.yaml`, the per-step log in `train_log.jsonl`.
"""
