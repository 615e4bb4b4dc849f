"""Holm-adjusted p-values from statsmodels, the reference for
`smalldata::evaluate::holm_adjust` (tests/evaluate_golden.rs reads holm.json).

    .venv/bin/pip install statsmodels && .venv/bin/python tests/golden/make_holm_golden.py
"""
import json
import os

import numpy as np
from statsmodels.stats.multitest import multipletests

rng = np.random.default_rng(7)
cases = []
for m in [1, 2, 3, 5, 8, 13, 24, 50]:
    for _ in range(5):
        p = rng.uniform(0, 1, m) ** rng.uniform(0.5, 4)  # many small p-values, some ties below
        if m > 3:
            p[1] = p[0]  # a tie
        cases.append({"p": p.tolist(), "holm": multipletests(p, method="holm")[1].tolist()})
with open(os.path.join(os.path.dirname(__file__), "holm.json"), "w") as f:
    json.dump({"statsmodels": __import__("statsmodels").__version__, "cases": cases}, f)
print(len(cases), "cases")
