#!/usr/bin/env python3
"""Execute notebooks headless with the evcxr kernel and fail on any cell error.

    python scripts/run_notebooks.py [--write] [--timeout S] [--expect-fail] [NOTEBOOK ...]
    python scripts/run_notebooks.py --check [NOTEBOOK ...]   # saved outputs, not re-run

Each notebook runs with its own folder as the working directory (so its first cell's
`:dep smalldata = { path = ".." }` finds the crate). A notebook passes when every cell
runs without error, its outputs contain at least one inline chart or image
(`image/png` or an `<svg`), no output is a figure's Debug text (`Figure(720×480 px,
…)`: a chart that was printed instead of drawn), no cell stopped early through `?`
(evcxr only prints such an error; the runner finds it with a marker variable per
cell), and every cell whose displayed last expression makes a chart (`…chart(…)`,
`…plot(…)`, `image_grid(…)`, `preview(…)`, …) shows an image. A method notebook
(metadata `method_notebook: true`) must also have a section "## On your own …" (the
method on a folder or CSV of the reader's) and one "## On a GPU …" (the same code on
CUDA), each with a code cell. With --write the executed notebook, outputs included,
replaces the committed copy when every check passes; when a check fails after the
last cell ran, the executed notebook is written to the temporary folder instead
(NAME.failed.ipynb) and the committed copy is left alone. Prints one line per notebook and closes with
"N passed, M failed".

Numbers that cite a result. Prose that quotes a number a cell computes marks it:

    elastic net reaches a test RMSE of <span class="result">63.87</span> with 50 rows

Jupyter renders the span as plain text. The runner checks, after executing the
notebook, that the text inside every such span appears in the outputs (streams,
text/plain, text/markdown and text/html, error messages excluded) exactly as it is
written, not as part of a longer number: `0.8` does not match a printed `0.80` or
`10.8`. So a cited figure that a re-run changes fails the notebook rather than going
stale. Write the number as the cell prints it (same digits, sign, unit suffix such
as `%` or ` s` if it is inside the span); numbers that are not results (a parameter
set in the code, a date) are not marked. A span inside markdown code (`…` or a fenced
block) is shown, not rendered, and is not checked.
"""
import argparse
import glob
import os
import re
import sys
import tempfile
import time

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, DeadKernelError


def has_figure(nb):
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if "image/png" in data or "image/svg+xml" in data:
                return True
            if "<svg" in str(data.get("text/html", "")):
                return True
    return False


FIGURE_DEBUG = re.compile(r"Figure\(\d+×\d+ px")
# the last line of a cell that displays a chart: a call to one of the chart makers, or
# the closing `], false)?` of a multi-line one, not ended by a semicolon (a semicolon
# discards the value: nothing is displayed)
CHART_CALL = re.compile(r"(chart|plot|grid|preview|heatmap|figure)\w*\(|^\s*\],?\s*\w*\)\?", re.I)


def cell_images(cell):
    for out in cell.get("outputs", []):
        data = out.get("data", {})
        if "image/png" in data or "image/svg+xml" in data or "<svg" in str(data.get("text/html", "")):
            return True
    return False


def figure_problems(nb):
    """Cells that print a figure's Debug text, or end in a chart call and show no image."""
    problems = []
    for i, cell in enumerate(nb.cells):
        if cell.get("cell_type") != "code":
            continue
        for out in cell.get("outputs", []):
            text = str(out.get("data", {}).get("text/plain", "")) + str(out.get("text", ""))
            if FIGURE_DEBUG.search(text):
                problems.append(f"cell {i}: shows a figure's Debug text instead of the chart: {FIGURE_DEBUG.search(text).group(0)}…")
        lines = [l for l in str(cell.get("source", "")).strip().splitlines() if l.strip() and not l.strip().startswith("//")]
        last = lines[-1].strip() if lines else ""
        if last and not last.endswith(";") and CHART_CALL.search(last) and not cell_images(cell):
            problems.append(f"cell {i}: ends in a chart ({last[:60]}) but shows no image")
    return problems


# a number in the prose that cites a result: <span class="result">0.80</span>
RESULT_SPAN = re.compile(r'<span\s+class=["\']result["\']\s*>(.*?)</span>', re.S)
# code in markdown (fenced blocks, `inline`), where a span is shown, not rendered
MARKDOWN_CODE = re.compile(r"```.*?```|`[^`]*`", re.S)


def output_text(nb):
    """All the text the executed cells showed: streams and text displays, not images."""
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            parts.append(str(out.get("text", "")))
            data = out.get("data", {})
            for kind in ("text/plain", "text/markdown", "text/html"):
                if kind in data:
                    parts.append(str(data[kind]))
    return "\n".join(parts)


def cited_result_problems(nb):
    """Marked numbers in markdown cells that no output shows exactly as written."""
    shown = output_text(nb)
    problems = []
    for i, cell in enumerate(nb.cells):
        if cell.get("cell_type") != "markdown":
            continue
        for cited in RESULT_SPAN.findall(MARKDOWN_CODE.sub("", str(cell.get("source", "")))):
            cited = cited.strip()
            if not cited:
                problems.append(f"cell {i}: an empty result span")
                continue
            # the exact text, not inside a longer number (no digit before or after it)
            pattern = r"(?<![\d.])" + re.escape(cited) + r"(?!\d)"
            if not re.search(pattern, shown):
                problems.append(f"cell {i}: the cited result {cited!r} is not in the outputs")
    return problems


def failing_outputs(nb):
    """The error and stderr outputs of the cells, which evcxr uses for compile errors."""
    lines = []
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                lines.append(f"cell {i}: {out.get('ename')}: {out.get('evalue')}")
                lines.extend(out.get("traceback", [])[-20:])
            elif out.get("name") == "stderr":
                lines.append(f"cell {i} stderr: {out.get('text', '')[-2000:]}")
    return "\n".join(lines)


# Sections a method notebook (metadata `method_notebook: true`) must have, each with at
# least one code cell: the method on the reader's own data, and the same code on CUDA.
CLOSING_SECTIONS = ("On your own", "On a GPU")


def section_problems(nb):
    """A method notebook missing one of CLOSING_SECTIONS, or with a heading and no code under it."""
    if not nb.metadata.get("method_notebook"):
        return []
    problems = []
    for title in CLOSING_SECTIONS:
        starts = [i for i, c in enumerate(nb.cells) if c.cell_type == "markdown"
                  and any(re.match(r"#{1,3} " + re.escape(title), line) for line in c.source.splitlines())]
        if not starts:
            problems.append(f"method notebook without a section '## {title} …'")
            continue
        body = []
        for c in nb.cells[starts[0] + 1:]:
            if c.cell_type == "markdown" and re.match(r"#{1,2} ", c.source):
                break
            body.append(c)
        if not any(c.cell_type == "code" for c in body):
            problems.append(f"section '{title} …' has no code cell")
    return problems


def saved_problems(nb):
    """What the runner checks after a run, applied to the outputs a notebook holds."""
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                return [f"cell {i}: {out.get('ename')}: {out.get('evalue')}"]
    if not has_figure(nb):
        return ["no inline chart or image (image/png or <svg) in the outputs"]
    return figure_problems(nb) + cited_result_problems(nb) + section_problems(nb)


def check(path):
    """--check: the saved notebook's outputs, not executed again (after editing prose)."""
    nb = nbformat.read(path, as_version=4)
    if not any(cell.get("outputs") for cell in nb.cells):
        return False, 0.0, "no saved outputs to check: run it with --write first"
    problems = saved_problems(nb)
    return not problems, 0.0, "\n".join(problems)


# A cell that fails through `?` does not fail the request: evcxr prints the error on
# stderr and drops the variables the cell defined, and the next cells run. To see it,
# the executed copy of each cell starts by defining a marker, and a last cell lists the
# variables: a cell whose marker is missing stopped early.
MARKER = "smalldata_cell_ran_{}"


def add_markers(nb):
    """Prefix each code cell (except evcxr commands such as `:dep`) with its marker and
    append a `:vars` cell; returns the original sources, to put back after the run."""
    sources = {}
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and not any(l.lstrip().startswith(":") for l in cell.source.splitlines()):
            sources[i] = cell.source
            cell.source = f"let {MARKER.format(i)} = ();\n" + cell.source
    nb.cells.append(nbformat.v4.new_code_cell(":vars"))
    return sources


def remove_markers(nb, sources):
    """Undo add_markers; returns the problems: cells that stopped early, with the last
    thing each printed on stderr (evcxr's message for the error)."""
    probe = nb.cells.pop()
    listed = "".join(str(o.get("data", {}).get("text/plain", "")) for o in probe.get("outputs", []))
    defined = set(re.findall(r"^(\w+):", listed, re.M))
    problems = []
    for i, source in sources.items():
        nb.cells[i].source = source
        if MARKER.format(i) not in defined:
            err = [str(o.get("text", "")).strip() for o in nb.cells[i].get("outputs", []) if o.get("name") == "stderr"]
            problems.append(f"cell {i}: stopped early, without a panic or a compile error (an error through `?`): {err[-1][-300:] if err else 'nothing on stderr'}")
    return problems


def run(path, timeout, write):
    nb = nbformat.read(path, as_version=4)
    sources = add_markers(nb)
    client = NotebookClient(
        nb,
        kernel_name="rust",
        timeout=timeout,
        startup_timeout=600,
        resources={"metadata": {"path": os.path.dirname(os.path.abspath(path))}},
    )
    started = time.time()
    try:
        client.execute()
    except (CellExecutionError, DeadKernelError) as e:
        return False, time.time() - started, str(e)[-3000:] + failing_outputs(nb)
    stopped = remove_markers(nb, sources)
    # evcxr reports a compile error as an error output without failing the request.
    problems = stopped + saved_problems(nb)
    if problems:
        if write:
            # the notebook ran to its end but a check failed (a cited number that the
            # run no longer prints, say): keep the outputs beside it, to read the new
            # numbers from, and leave the committed copy as it was
            aside = os.path.join(tempfile.gettempdir(), os.path.basename(path).replace(".ipynb", ".failed.ipynb"))
            nbformat.write(nb, aside)
            problems.append(f"the executed notebook is in {aside}")
        return False, time.time() - started, "\n".join(problems)
    if write:
        nbformat.write(nb, path)
    return True, time.time() - started, ""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("notebooks", nargs="*")
    ap.add_argument("--write", action="store_true", help="save executed outputs into the notebooks")
    ap.add_argument("--timeout", type=int, default=900, help="seconds per cell")
    ap.add_argument("--check", action="store_true", help="check the saved outputs (errors, charts, cited results) without executing")
    ap.add_argument("--expect-fail", action="store_true", help="pass only if every notebook given fails (tests the runner itself), for the reason in its metadata's expect_failure when it has one")
    args = ap.parse_args()
    paths = args.notebooks or sorted(glob.glob(os.path.join(os.path.dirname(__file__), "..", "notebooks", "*.ipynb")))
    passed = failed = 0
    for path in paths:
        ok, secs, why = check(path) if args.check else run(path, args.timeout, args.write)
        name = os.path.basename(path)
        # a broken example may say why it must fail: failing for another reason proves nothing
        expected = nbformat.read(path, as_version=4).metadata.get("expect_failure")
        if args.expect_fail and not ok and expected and expected not in why:
            ok, why = True, f"failed, but not because of: {expected}\n{why}"
        if ok:
            passed += 1
            print(f"notebook {name} ... ok ({secs:.0f} s)" + (f"\n{why}" if why else ""), flush=True)
        else:
            failed += 1
            print(f"notebook {name} ... FAILED ({secs:.0f} s)\n{why}", flush=True)
    if args.expect_fail:
        print(f"runner self-test: {failed} of {len(paths)} broken notebooks reported as failed")
        sys.exit(0 if paths and failed == len(paths) else 1)
    print(f"notebooks: {passed} passed, {failed} failed")
    sys.exit(1 if failed or not paths else 0)


if __name__ == "__main__":
    main()
