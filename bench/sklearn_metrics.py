#!/usr/bin/env python3
"""scikit-learn's side of examples/bench_metrics.rs: time the same metrics on the
inputs that the Rust side wrote to DIR, best of RUNS, and print JSON."""
import json
import sys
import time

import numpy as np
import sklearn
from sklearn import metrics


def best_of(runs, f):
    best, value = float("inf"), None
    for _ in range(runs):
        t = time.perf_counter()
        value = f()
        best = min(best, time.perf_counter() - t)
    return {"seconds": best, "value": float(value)}


def main():
    d, runs = sys.argv[1], int(sys.argv[2])
    load = lambda name, dtype: np.fromfile(f"{d}/{name}.bin", dtype=dtype)
    yb, sb = load("yb", "<i8"), load("sb", "<f8")
    ym, pm = load("ym", "<i8"), load("pm", "<f8").reshape(-1, 10)
    la, lb = load("la", "<i8"), load("lb", "<i8")
    out = [
        best_of(runs, lambda: metrics.roc_auc_score(yb, sb)),
        best_of(runs, lambda: metrics.roc_auc_score(ym, pm, multi_class="ovr", average="macro")),
        best_of(runs, lambda: metrics.roc_auc_score(ym, pm, multi_class="ovo", average="macro")),
        best_of(runs, lambda: metrics.fowlkes_mallows_score(la, lb)),
        {"sklearn": sklearn.__version__, "numpy": np.__version__},
    ]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
