#!/usr/bin/env python3
"""Reference fits for tests/tabular_golden.rs, computed with scikit-learn.

For diabetes (scikit-learn's scaled copy, which smalldata embeds) and red
winequality (the copy inside the linfa-datasets crate, found in the cargo
registry), on the fixed split "test = every 4th row (i % 4 == 0), train = the
rest": StandardScaler fitted on the training rows, then LinearRegression,
Ridge(alpha=1), Lasso(alpha=0.1) and ElasticNet(alpha=0.1, l1_ratio=0.5) with
tight tolerances. Writes coefficients, intercepts and test RMSE/MAE.

    .venv/bin/python tests/golden/make_tabular_golden.py   # writes tests/golden/tabular.json
"""
import glob
import gzip
import json
import os

import numpy as np
import sklearn
from sklearn.datasets import load_diabetes
from sklearn.linear_model import ElasticNet, Lasso, LinearRegression, Ridge
from sklearn.preprocessing import StandardScaler

HERE = os.path.dirname(os.path.abspath(__file__))


def winequality():
    paths = sorted(glob.glob(os.path.expanduser("~/.cargo/registry/src/*/linfa-datasets-0.8*/data/winequality-red.csv.gz")))
    if not paths:
        raise SystemExit("winequality-red.csv.gz not found: run `cargo fetch` first")
    with gzip.open(paths[-1], "rt") as f:
        rows = [line.strip().split(",") for line in f if line.strip()]
    data = np.array([[float(v) for v in r] for r in rows[1:]])  # first line: header
    return data[:, :-1], data[:, -1]


def fits(x, y):
    test = np.arange(len(y)) % 4 == 0
    scaler = StandardScaler().fit(x[~test])
    xtr, xte = scaler.transform(x[~test]), scaler.transform(x[test])
    models = {
        "ols": LinearRegression(),
        "ridge": Ridge(alpha=1.0, solver="cholesky"),
        "lasso": Lasso(alpha=0.1, tol=1e-12, max_iter=1_000_000),
        "elasticnet": ElasticNet(alpha=0.1, l1_ratio=0.5, tol=1e-12, max_iter=1_000_000),
    }
    out = {}
    for name, m in models.items():
        m.fit(xtr, y[~test])
        pred = m.predict(xte)
        out[name] = {
            "coef": m.coef_.tolist(),
            "intercept": float(m.intercept_),
            "rmse": float(np.sqrt(np.mean((pred - y[test]) ** 2))),
            "mae": float(np.mean(np.abs(pred - y[test]))),
        }
    return out


def main():
    d = load_diabetes()
    wx, wy = winequality()
    golden = {
        "sklearn": sklearn.__version__,
        "split": "test rows: i % 4 == 0",
        "diabetes": fits(d.data, d.target),
        "winequality": fits(wx, wy),
    }
    with open(os.path.join(HERE, "tabular.json"), "w") as f:
        json.dump(golden, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
