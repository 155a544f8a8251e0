"""Merge the rows another ``lowresource.py --out DIR`` invocation wrote into lowresource.json; rewrite md/png.

    python benchmarks/results/lowresource/merge_rows.py /work/home15/lowres-b/lowresource.json
"""

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent.parent))

import lowresource as L  # noqa: E402

from mimo.data.build import benchmark_dir  # noqa: E402
from mimo.evaluate import load_benchmark  # noqa: E402
from mimo.evaluate.subsets import subsample  # noqa: E402


def main() -> None:
    main_json = HERE / "lowresource.json"
    rows = json.loads(main_json.read_text())["rows"]
    for extra in sys.argv[1:]:
        for r in json.loads(Path(extra).read_text())["rows"]:
            if r["name"] != "untrained mE5-small":
                rows = [x for x in rows if x["name"] != r["name"]] + [r]
    order = [n for n, _, _ in L.plans(["vi", "hi", "ko"], ["vi", "hi", "ko"], 10, 30)]
    rows.sort(key=lambda r: order.index(r["name"]))
    args = argparse.Namespace(heldout=["vi", "hi", "ko"], bench="mlir-test", bench_groups=100, bench_docs=2000,
                              s1=10, s2=30, batch=32, max_length=96, seed=0, out=str(HERE))
    bench = subsample(load_benchmark(benchmark_dir("mlir-test")), 100, max_docs=2000, seed=0)
    cmd = ("python benchmarks/lowresource.py --heldout vi hi ko --bench-groups 100 --bench-docs 2000 "
           "(rows from separate --only invocations, merged; see command.txt)")
    L.write_outputs(rows, args, cmd, bench)
    print([r["name"] for r in rows])


if __name__ == "__main__":
    main()
