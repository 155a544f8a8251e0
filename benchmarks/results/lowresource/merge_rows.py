"""Merge rows of lowres-b into the committed lowresource.json and regenerate md/png."""
import argparse, json, sys
from pathlib import Path
sys.path.insert(0, "/work/wt15/benchmarks")
import lowresource as L
from mimo.evaluate import load_benchmark
from mimo.evaluate.subsets import subsample
from mimo.data.build import benchmark_dir
main = Path("/work/wt15/benchmarks/results/lowresource/lowresource.json")
d = json.loads(main.read_text())
rows = d["rows"]
for extra in ["/work/home15/lowres-b/lowresource.json"]:
    p = Path(extra)
    if p.is_file():
        for r in json.loads(p.read_text())["rows"]:
            if r["name"] != "untrained mE5-small":
                rows = [x for x in rows if x["name"] != r["name"]] + [r]
order = [n for n, _, _ in L.plans(["vi", "hi", "ko"], ["vi", "hi", "ko"], 10, 30)]
rows.sort(key=lambda r: order.index(r["name"]))
args = argparse.Namespace(heldout=["vi", "hi", "ko"], bench="mlir-test", bench_groups=100, bench_docs=2000, s1=10, s2=30,
                          batch=32, max_length=96, seed=0, out=str(main.parent))
bench = subsample(load_benchmark(benchmark_dir("mlir-test")), 100, max_docs=2000, seed=0)
cmd = ("python benchmarks/lowresource.py --heldout vi hi ko --bench-groups 100 --bench-docs 2000 "
       "--work /work/home15/runs/lowresource   # rows run as separate invocations with --only, see command.txt")
L.write_outputs(rows, args, cmd, bench)
print([r["name"] for r in rows])
