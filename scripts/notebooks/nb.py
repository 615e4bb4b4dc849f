"""Shared by the make_*.py scripts: build a notebook cell by cell and write it
(without outputs; `make notebook-run NB=...` executes it and saves them)."""
import json, pathlib


class Notebook:
    def __init__(self):
        self.cells = []

    def md(self, s):
        self.cells.append({"cell_type": "markdown", "metadata": {}, "source": s.strip("\n")})

    def code(self, s):
        self.cells.append({"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": s.strip("\n")})

    def write(self, name):
        """Write notebooks/<name> for the Rust (evcxr) kernel, with stable cell ids."""
        for i, c in enumerate(self.cells):
            c["id"] = f"c{i:02d}"
        nb = {"cells": self.cells, "metadata": {"kernelspec": {"display_name": "Rust", "language": "rust", "name": "rust"},
              "language_info": {"codemirror_mode": "rust", "file_extension": ".rs", "mimetype": "text/rust", "name": "Rust", "pygment_lexer": "rust", "version": ""}},
              "nbformat": 4, "nbformat_minor": 5}
        out = pathlib.Path(__file__).resolve().parents[2] / "notebooks" / name
        out.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
        print("wrote", out)
