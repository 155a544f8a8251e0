"""Teacher-space export of a *transformer* student, with static_student.py's protocol (its ``teacher_space``).

    python benchmarks/teacher_space_transformer.py MODEL_DIR OUT.json

MODEL_DIR is a `mimo train` run dir (it holds ``projection.safetensors``). On mlir-test and mlir-qa-test:
the teacher (MiniLM) on the English queries (ceiling), the student + projection for queries in every
language against the teacher's English-only index, and the student re-indexing everything."""
import json
import sys
from pathlib import Path

sys.path.insert(0, "benchmarks")
import torch
from static_student import TEACHERS, teacher_space

from mimo.data.build import benchmark_dir
from mimo.evaluate import load_benchmark
from mimo.models import load_model
from mimo.paths import atomic_write_text

torch.set_num_threads(1)
model, out = Path(sys.argv[1]), Path(sys.argv[2])
teacher = load_model(TEACHERS["minilm"])
res = {"model": str(model), "command": "python " + " ".join(sys.argv)}
for b in ("mlir-test", "mlir-qa-test"):
    ts = teacher_space(model, teacher, "minilm", load_benchmark(benchmark_dir(b)))
    ts["ratio teacher-space / ceiling"] = ts["teacher-space"]["ndcg@10"] / ts["ceiling"]["ndcg@10"]
    res[b] = ts
    print(b, json.dumps(ts), flush=True)
atomic_write_text(out, json.dumps(res, indent=1))
