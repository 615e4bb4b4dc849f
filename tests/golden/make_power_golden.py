"""Power of the two-sided paired (one-sample) t-test from statsmodels, the reference
for `smalldata::evaluate::{paired_t_power, min_detectable_effect}` (tests/evaluate_golden.rs
reads power.json).

    .venv/bin/python tests/golden/make_power_golden.py
"""
import json
import os

import statsmodels
from statsmodels.stats.power import TTestPower

p = TTestPower()
power = []
for n in [2, 3, 4, 5, 8, 10, 20, 50]:
    for d in [0.1, 0.3, 0.5, 0.8, 1.2, 2.0, 3.5]:
        value = float(p.power(effect_size=d, nobs=n, alpha=0.05, alternative="two-sided"))
        if value == value:  # statsmodels' noncentral t gives NaN far in the tail; those cases are left out
            power.append({"d": d, "n": n, "alpha": 0.05, "power": value})
    power.append({"d": 0.7, "n": n, "alpha": 0.01, "power": float(p.power(effect_size=0.7, nobs=n, alpha=0.01, alternative="two-sided"))})
mde = []
for n in [3, 4, 5, 6, 8, 10, 15, 30]:
    mde.append({"n": n, "alpha": 0.05, "power": 0.8, "d": float(p.solve_power(nobs=n, alpha=0.05, power=0.8, alternative="two-sided"))})
with open(os.path.join(os.path.dirname(__file__), "power.json"), "w") as f:
    json.dump({"statsmodels": statsmodels.__version__, "power": power, "mde": mde}, f, indent=0)
print(len(power), "power cases,", len(mde), "effect sizes")
