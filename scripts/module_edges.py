"""Prints the crate-level `use` edges between smalldata's top-level modules (code
outside `#[cfg(test)]`), as the table in docs/architecture.md, and exits 1 if they
form a cycle or if generate and finetune import each other.

    python3 scripts/module_edges.py
"""
import glob
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
MODULES = ["error", "device", "io", "params", "data", "evaluate", "plot", "augment", "train",
           "experiment", "generate", "finetune", "tabular", "study", "advise", "bench"]


def files(m):
    d = os.path.join(ROOT, m)
    return glob.glob(os.path.join(d, "**", "*.rs"), recursive=True) if os.path.isdir(d) else [d + ".rs"]


edges = {}
for m in MODULES:
    deps = set()
    for f in files(m):
        text = re.split(r"#\[cfg\(test\)\]", open(f).read())[0]
        text = re.sub(r"//[^\n]*", "", text)  # comments and doc links are not imports
        names = re.findall(r"crate::(\w+)", text)
        for group in re.findall(r"crate::\{([^}]*)\}", text):
            names += re.findall(r"\b(\w+)", group)
        deps |= {n for n in names if n in MODULES and n != m}
    edges[m] = sorted(deps, key=MODULES.index)

print("| module | imports |\n|---|---|")
for m in MODULES:
    print(f"| {m} | {', '.join(edges[m]) or '—'} |")

state = {}


def cycle(m, path):
    state[m] = "open"
    for d in edges[m]:
        if state.get(d) == "open":
            return path + [m, d]
        if d not in state and (c := cycle(d, path + [m])):
            return c
    state[m] = "done"
    return None


for m in MODULES:
    if m not in state and (c := cycle(m, [])):
        sys.exit(f"cycle: {' -> '.join(c)}")
if "finetune" in edges["generate"] or "generate" in edges["finetune"]:
    sys.exit("generate and finetune import each other")
print("\nno cycle; generate and finetune independent")
