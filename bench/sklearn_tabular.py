#!/usr/bin/env python3
"""The scikit-learn side of `smalldata bench tabular`: seconds per fit (best of
REPEATS) of StandardScaler + LinearRegression / Ridge / Lasso / ElasticNet on the
training rows (i % 4 != 0) of diabetes and red winequality, the same fits as
tests/golden/make_tabular_golden.py, on one thread.

    python bench/sklearn_tabular.py WINEQUALITY_CSV_GZ REPEATS   → JSON on stdout
"""
import gzip
import json
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import numpy as np  # noqa: E402
from sklearn.datasets import load_diabetes  # noqa: E402
from sklearn.linear_model import ElasticNet, Lasso, LinearRegression, Ridge  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402


def main():
    path, repeats = sys.argv[1], int(sys.argv[2])
    with gzip.open(path, "rt") as f:
        rows = [line.strip().split(",") for line in f if line.strip()]
    wine = np.array([[float(v) for v in r] for r in rows[1:]])
    d = load_diabetes()
    data = {"diabetes": (d.data, d.target), "winequality": (wine[:, :-1], wine[:, -1])}
    models = {
        "ols": lambda: LinearRegression(),
        "ridge": lambda: Ridge(alpha=1.0, solver="cholesky"),
        "lasso": lambda: Lasso(alpha=0.1, tol=1e-12, max_iter=1_000_000),
        "elasticnet": lambda: ElasticNet(alpha=0.1, l1_ratio=0.5, tol=1e-12, max_iter=1_000_000),
    }
    out = {}
    for dname, (x, y) in data.items():
        train = np.arange(len(y)) % 4 != 0
        xtr, ytr = x[train], y[train]
        for mname, make in models.items():
            best = float("inf")
            for _ in range(repeats):
                t = time.perf_counter()
                xs = StandardScaler().fit_transform(xtr)
                make().fit(xs, ytr)
                best = min(best, time.perf_counter() - t)
            out[f"{dname}/{mname}"] = best
    print(json.dumps(out))


if __name__ == "__main__":
    main()
