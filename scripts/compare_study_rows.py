"""Compare two results.jsonl files run by run: are the scores bit-equal?

    python scripts/compare_study_rows.py BEFORE/results.jsonl AFTER/results.jsonl

Reads both the row format before the experiment engine (n_per_class, augment,
accuracy, auc_macro_ovr, log_loss at the top level) and the engine's (size, arm,
scores{...}), so a refactor can be checked against a run made on the old code.
"""
import json
import sys


def load(path):
    rows = {}
    for line in open(path):
        r = json.loads(line)
        if "scores" in r:
            key, s = (r["size"], r["arm"], r["seed"]), r["scores"]
        else:
            key, s = (r["n_per_class"], r["augment"], r["seed"]), r
        rows[key] = tuple(s.get(k) for k in ("accuracy", "auc_macro_ovr", "log_loss", "rmse", "mae", "r2"))
    return rows


old, new = load(sys.argv[1]), load(sys.argv[2])
both = set(old) & set(new)
diff = sorted(k for k in both if old[k] != new[k])
print(f"rows before {len(old)}, after {len(new)}, in both {len(both)}, bit-equal {len(both) - len(diff)}, different {len(diff)}")
for k in diff[:10]:
    print(k, old[k], new[k])
sys.exit(1 if diff or len(both) != len(old) else 0)
