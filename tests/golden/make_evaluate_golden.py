#!/usr/bin/env python3
"""Reference values for tests/evaluate_golden.rs, from scikit-learn and SciPy.

Draws several hundred random cases with a fixed seed — ties, constant scores, heavy
class imbalance, 2 to 20 classes, sizes 2 to 10,000 — and writes the inputs with
scikit-learn's (or SciPy's) answers to tests/golden/evaluate.json.gz. Re-running it
reproduces the file byte for byte.

    .venv/bin/python tests/golden/make_evaluate_golden.py
"""
import gzip
import json
import os
import warnings

import numpy as np
import scipy
import sklearn
from scipy import stats
from sklearn import metrics

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(20261125)
warnings.filterwarnings("ignore")  # sklearn warns on classes absent from y_true; expected here


def sizes(k, largest=10000):
    """Mostly small samples (what this library is about), some medium, a few large."""
    small = rng.integers(2, 60, size=k * 4 // 5)
    medium = rng.integers(60, 1000, size=k // 10)
    large = rng.integers(1000, largest + 1, size=k - len(small) - len(medium))
    return [int(s) for s in np.concatenate([small, medium, large])]


def r6(a):
    """Inputs are rounded to 6 decimals before the reference is computed: a smaller
    file, more ties, and the reference is exact for the stored values."""
    return np.round(a, 6)


def scores_for(n, mode):
    if mode == "continuous":
        return rng.normal(size=n)
    if mode == "ties":
        return np.round(rng.uniform(size=n), 1)
    if mode == "few_values":
        return rng.integers(0, 3, size=n).astype(float)
    return np.full(n, 0.5)  # constant


def binary_cases(k):
    out = []
    for n in sizes(k):
        n = max(n, 2)
        prevalence = rng.choice([0.5, 0.2, 0.03])
        y = (rng.uniform(size=n) < prevalence).astype(int)
        if y.min() == y.max():  # AUC needs both classes
            y[0], y[-1] = 0, 1
        mode = rng.choice(["continuous", "ties", "few_values", "constant"], p=[0.4, 0.3, 0.2, 0.1])
        s = r6(scores_for(n, mode) + (y * rng.uniform(0, 1.5) if mode == "continuous" else 0))
        fpr, tpr, thr = metrics.roc_curve(y, s)
        out.append({
            "y": y.tolist(), "s": s.tolist(), "auc": metrics.roc_auc_score(y, s),
            "fpr": fpr.tolist(), "tpr": tpr.tolist(),
            "thresholds": [None if np.isinf(t) else float(t) for t in thr],
        })
    return out


def proba(n, c, mode):
    if mode == "ties":
        logits = np.round(rng.normal(size=(n, c)), 0)
    elif mode == "constant":
        logits = np.zeros((n, c))
    else:
        logits = rng.normal(size=(n, c)) * rng.uniform(0.3, 3)
    p = np.exp(logits)
    return p / p.sum(axis=1, keepdims=True)


def labels_with_all_classes(n, c, imbalanced):
    w = rng.dirichlet(np.full(c, 0.3 if imbalanced else 5.0))
    y = rng.choice(c, size=n, p=w)
    y[:c] = np.arange(c)  # every class present (multi-class AUC needs it)
    rng.shuffle(y)
    return y


def multiclass_cases(k):
    out = []
    for n in sizes(k, largest=3000):
        c = int(rng.integers(3, 21))
        n = max(n, c + 1)
        y = labels_with_all_classes(n, c, rng.uniform() < 0.4)
        mode = rng.choice(["smooth", "ties", "constant"], p=[0.7, 0.25, 0.05])
        p = proba(n, c, mode)
        p[np.arange(n), y] += rng.uniform(0, 0.5)  # some signal
        p = r6(p / p.sum(axis=1, keepdims=True))
        top = p.argmax(axis=1)
        p[np.arange(n), top] += 1.0 - p.sum(axis=1)  # rows sum to 1 after rounding
        case = {"y": y.tolist(), "p": p.tolist()}
        for mc, avg in [("ovr", "macro"), ("ovr", "weighted"), ("ovr", "micro"), ("ovo", "macro"), ("ovo", "weighted")]:
            case[f"{mc}_{avg}"] = metrics.roc_auc_score(y, p, multi_class=mc, average=avg, labels=list(range(c)))
        case["log_loss"] = metrics.log_loss(y, p, labels=list(range(c)))
        out.append(case)
    return out


def label_cases(k):
    """Predicted vs true labels: accuracy, P/R/F1, confusion matrix."""
    out = []
    for n in sizes(k):
        c = int(rng.integers(2, 21))
        y = rng.integers(0, c, size=n)
        noise = rng.uniform(size=n) < rng.uniform(0.1, 0.9)
        yp = np.where(noise, rng.integers(0, c, size=n), y)
        labels = sorted(set(y.tolist()) | set(yp.tolist()))
        case = {
            "y": y.tolist(), "yp": yp.tolist(), "num_classes": c,
            "accuracy": metrics.accuracy_score(y, yp),
            "balanced_accuracy": metrics.balanced_accuracy_score(y, yp),
            "confusion": metrics.confusion_matrix(y, yp, labels=list(range(c))).tolist(),
        }
        for avg in ["macro", "weighted"]:
            p, r, f, _ = metrics.precision_recall_fscore_support(y, yp, average=avg, zero_division=0.0)
            case[f"precision_{avg}"], case[f"recall_{avg}"], case[f"f1_{avg}"] = p, r, f
        out.append(case)
    return out


def clustering_cases(k):
    out = []
    for n in sizes(k):
        ka, kb = int(rng.integers(1, 12)), int(rng.integers(1, 12))
        a = rng.integers(0, ka, size=n)
        b = np.where(rng.uniform(size=n) < 0.5, a % kb, rng.integers(0, kb, size=n))
        out.append({
            "a": a.tolist(), "b": b.tolist(),
            "fmi": metrics.fowlkes_mallows_score(a, b),
            "ari": metrics.adjusted_rand_score(a, b),
        })
    # edge cases: identical, all singletons, one cluster each side
    for a, b in [([0, 0, 1, 1], [0, 0, 1, 1]), ([0, 1, 2, 3], [0, 1, 2, 3]), ([0, 0, 0], [0, 0, 0]),
                 ([0, 1, 2, 3], [0, 0, 0, 0]), ([0], [0]), ([0, 0, 1, 1], [1, 1, 0, 0])]:
        out.append({"a": a, "b": b, "fmi": metrics.fowlkes_mallows_score(a, b), "ari": metrics.adjusted_rand_score(a, b)})
    return out


def regression_cases(k):
    out = []
    for n in sizes(k):
        y = r6(rng.normal(size=n) * rng.uniform(0.1, 100))
        if rng.uniform() < 0.1:
            y[rng.integers(0, n)] = 0.0  # MAPE's eps branch
        yp = r6(y + rng.normal(size=n) * rng.uniform(0.01, 50))
        out.append({
            "y": y.tolist(), "yp": yp.tolist(),
            "rmse": metrics.root_mean_squared_error(y, yp),
            "mae": metrics.mean_absolute_error(y, yp),
            "r2": metrics.r2_score(y, yp),
            "mape": metrics.mean_absolute_percentage_error(y, yp),
        })
    c = np.full(5, 3.0)
    out.append({"y": c.tolist(), "yp": c.tolist(), "rmse": 0.0, "mae": 0.0, "r2": metrics.r2_score(c, c),
                "mape": metrics.mean_absolute_percentage_error(c, c)})
    out.append({"y": c.tolist(), "yp": (c + 1).tolist(), "rmse": 1.0, "mae": 1.0, "r2": metrics.r2_score(c, c + 1),
                "mape": metrics.mean_absolute_percentage_error(c, c + 1)})
    return out


def stats_cases(k):
    out = []
    for _ in range(k):
        n = int(rng.integers(2, 40))
        a = r6(rng.normal(size=n) * rng.uniform(0.1, 10) + rng.uniform(-5, 5))
        b = r6(a + rng.normal(size=n) * rng.uniform(0.1, 3) + rng.uniform(-1, 1))
        t = stats.ttest_rel(b, a)
        d = b - a
        half = stats.t.ppf(0.975, n - 1) * d.std(ddof=1) / np.sqrt(n)
        m = a.mean()
        ha = stats.t.ppf(0.975, n - 1) * a.std(ddof=1) / np.sqrt(n)
        # the same two samples taken as independent: Welch's t-test and interval
        w = stats.ttest_ind(b, a, equal_var=False)
        w_ci = w.confidence_interval(0.95)
        out.append({
            "a": a.tolist(), "b": b.tolist(), "mean_a": m, "std_a": a.std(ddof=1), "ci_a": [m - ha, m + ha],
            "t": float(t.statistic), "p": float(t.pvalue), "diff_mean": d.mean(), "diff_ci": [d.mean() - half, d.mean() + half],
            "welch_t": float(w.statistic), "welch_p": float(w.pvalue), "welch_df": float(w.df),
            "welch_ci": [float(w_ci.low), float(w_ci.high)],
        })
    quantiles = [{"df": df, "q": q, "t": stats.t.ppf(q, df)} for df in [1, 2, 3, 5, 10, 30, 100, 1000] for q in [0.9, 0.95, 0.975, 0.995]]
    cdf = [{"df": df, "x": x, "cdf": stats.t.cdf(x, df)} for df in [1, 2, 4, 9, 29, 200] for x in [-8.0, -2.5, -0.3, 0.0, 0.7, 1.96, 4.0, 30.0]]
    return out, quantiles, cdf


def frechet_reference(a, b):
    """The usual FID formula on features (scipy's matrix square root)."""
    from scipy import linalg
    mu1, mu2 = a.mean(axis=0), b.mean(axis=0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean, _ = linalg.sqrtm(s1 @ s2, disp=False)
    covmean = covmean.real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def prdc_reference(real, fake, k):
    """Precision, recall, density, coverage from their definitions (Naeem et al. 2020)."""
    d_rr = metrics.pairwise_distances(real, real)
    d_ff = metrics.pairwise_distances(fake, fake)
    d_rf = metrics.pairwise_distances(real, fake)
    r_rad = np.sort(d_rr, axis=1)[:, k]  # column 0 is the point itself
    f_rad = np.sort(d_ff, axis=1)[:, k]
    return {
        "precision": float((d_rf <= r_rad[:, None]).any(axis=0).mean()),
        "recall": float((d_rf <= f_rad[None, :]).any(axis=1).mean()),
        "density": float((d_rf <= r_rad[:, None]).sum() / (k * fake.shape[0])),
        "coverage": float((d_rf.min(axis=1) < r_rad).mean()),
    }


def generative_cases(k):
    out = []
    for _ in range(k):
        d = int(rng.integers(2, 17))
        n, m = int(rng.integers(d + 5, 200)), int(rng.integers(d + 5, 200))
        real = r6(rng.normal(size=(n, d)))
        fake = r6(rng.normal(size=(m, d)) * rng.uniform(0.5, 2) + rng.uniform(-1, 1, size=d))
        kk = int(rng.integers(1, 6))
        out.append({"real": real.tolist(), "fake": fake.tolist(), "k": kk,
                    "fd": frechet_reference(real, fake), **prdc_reference(real, fake, kk)})
    return out


def main():
    paired, quantiles, cdf = stats_cases(120)
    golden = {
        "versions": {"sklearn": sklearn.__version__, "scipy": scipy.__version__, "numpy": np.__version__},
        "binary": binary_cases(160),
        "multiclass": multiclass_cases(100),
        "labels": label_cases(120),
        "clustering": clustering_cases(100),
        "regression": regression_cases(100),
        "paired": paired,
        "t_quantiles": quantiles,
        "t_cdf": cdf,
        "generative": generative_cases(30),
    }
    text = json.dumps(golden, separators=(",", ":"), allow_nan=False)
    with open(os.path.join(HERE, "evaluate.json.gz"), "wb") as out, gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as f:
        f.write(text.encode())
    print(f"wrote tests/golden/evaluate.json.gz ({len(text)} bytes of JSON)")


if __name__ == "__main__":
    main()
