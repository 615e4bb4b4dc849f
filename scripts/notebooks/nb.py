"""Shared by the make_*.py scripts: build a notebook cell by cell and write it
(without outputs; `make notebook-run NB=...` executes it and saves them).

    python scripts/notebooks/make_04_gan.py            # write notebooks/04_gan.ipynb
    python scripts/notebooks/make_04_gan.py --check    # exit 1 if the committed notebook's
                                                       # cells differ from the script's

The script is the source of the notebook's cells: edit it, write, execute. `--check`
(run by `make test-notebooks`) catches a notebook edited by hand and a script left behind.
"""
import json, pathlib, sys


class Notebook:
    def __init__(self, method=True):
        self.cells = []
        # a method notebook must end with "On your own data" and "On a GPU" (run_notebooks.py)
        self.method = method

    def md(self, s):
        self.cells.append({"cell_type": "markdown", "metadata": {}, "source": s.strip("\n")})

    def code(self, s):
        self.cells.append({"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": s.strip("\n")})

    def write(self, name):
        """Write notebooks/<name> for the Rust (evcxr) kernel, with stable cell ids, or
        with --check compare the committed notebook's cells with these."""
        out = pathlib.Path(__file__).resolve().parents[2] / "notebooks" / name
        if "--check" in sys.argv[1:]:
            sys.exit(self.differences(out))
        for i, c in enumerate(self.cells):
            c["id"] = f"c{i:02d}"
        metadata = {"kernelspec": {"display_name": "Rust", "language": "rust", "name": "rust"},
                    "language_info": {"codemirror_mode": "rust", "file_extension": ".rs", "mimetype": "text/rust", "name": "Rust", "pygment_lexer": "rust", "version": ""}}
        if self.method:
            metadata["method_notebook"] = True
        nb = {"cells": self.cells, "metadata": metadata, "nbformat": 4, "nbformat_minor": 5}
        out.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
        print("wrote", out)

    def differences(self, path):
        """0 when `path` has these cells (type and source), else 1 after saying where not."""
        saved = json.loads(path.read_text())["cells"]
        source = lambda c: c["source"] if isinstance(c["source"], str) else "".join(c["source"])
        for i, (mine, theirs) in enumerate(zip(self.cells, saved)):
            if mine["cell_type"] != theirs["cell_type"] or mine["source"] != source(theirs):
                print(f"{path.name}: cell {i} differs from {pathlib.Path(sys.argv[0]).name}:\n--- script\n{mine['source'][:400]}\n--- notebook\n{source(theirs)[:400]}")
                return 1
        if len(self.cells) != len(saved):
            print(f"{path.name}: {len(saved)} cells, {pathlib.Path(sys.argv[0]).name} makes {len(self.cells)}")
            return 1
        print(f"{path.name}: the cells match {pathlib.Path(sys.argv[0]).name}")
        return 0
