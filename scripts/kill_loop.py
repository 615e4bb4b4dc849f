#!/usr/bin/env python3
"""Kill every long job at random moments and restart it until it finishes; then check
that it ended exactly where an uninterrupted run ends.

For each job (a short configuration of it, below):
  1. run it once uninterrupted into REF/ and time it;
  2. into KILLED/, start it, SIGKILL it after a random delay, check every file it has
     written so far, and start it again — KILLS times — then let it finish;
  3. compare the outputs the job promises to keep (rows of results.jsonl without
     their timings, checkpoints, embeddings, pictures, verdicts) with REF/'s.

"Check every file" means: each JSON file parses, each results.jsonl has only whole
rows except possibly a torn last line, no row key appears twice, each safetensors
file parses, each PNG decodes. A file is only ever replaced by renaming a finished
temporary file over it, so a kill may leave a *.tmp or *.partial sibling behind, but
never a half-written file under the real name.

Usage: kill_loop.py [--kills N] [--jobs a,b,...] [--work DIR] [--json FILE] [--seed S]
The README's reliability section gives the figures of a run with --kills 20; CI runs
--kills 3 on the same configurations (make kill-loop).
"""
import argparse, json, os, random, shutil, signal, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "target" / "release" / "smalldata"  # --bin chooses another build
TINY_SD = ROOT / "tests" / "golden" / "sd" / "sd1"
SD_IMAGES = ROOT / "tests" / "golden" / "sd" / "images"

# Rows and records are compared without these: they describe the machine or the run
# (how long, on how many threads, from which step it resumed), not the result.
TIMING_FIELDS = {"train_seconds", "eval_seconds", "seconds", "elapsed_seconds", "wall_seconds", "images_per_second", "threads",
                 "cost", "estimate",  # advise's plan: measured seconds per run and their totals
                 "resumed_from",
                 "ran", "resumed"}  # advise's stages: runs fitted in the last start and runs read back


def jobs(work: Path):
    """name -> (argv after the binary, with OUT for the output folder; files to compare)."""
    csv = work / "diabetes.csv"
    return {
        "tabular": (["tabular", "--dataset", "diabetes", "--sizes", "20,50", "--models", "ols,ridge=1,knn=5,mlp=16", "--seeds", "3", "--jobs", "1", "--quiet", "--out", "OUT"],
                    ["results.jsonl"]),
        "gan": (["generate", "gan", "--n-per-class", "10", "--steps", "300", "--g-width", "16", "--d-width", "16", "--batch-size", "32", "--checkpoint-every", "25", "--out", "OUT"],
                ["checkpoint.safetensors"]),
        "diffusion-pretrain": (["generate", "diffusion-pretrain", "--steps", "200", "--width", "16", "--tokens-per-class", "1", "--batch-size", "32", "--checkpoint-every", "20",
                                "--out", "OUT", "--export", "OUT/export.safetensors"],
                               ["export.safetensors"]),
        "invert": (["generate", "invert", "--steps", "120", "--samples", "20", "--sampler", "ddim=10", "--out", "OUT"],
                   ["boot.safetensors"]),
        "sd-invert": (["generate", "sd-invert", "--model", str(TINY_SD), "--images", str(SD_IMAGES), "--token", "<toy>", "--init", "toy",
                       "--steps", "200", "--save-every", "50", "--checkpoint-every", "10", "--samples", "4", "--sample-steps", "5", "--out", "OUT"],
                      ["learned_embeds.safetensors", "samples"]),
        "finetune": (["finetune", "run", "--sizes", "5", "--strategies", "frozen-linear,lora=4", "--seeds", "2", "--steps", "40",
                      "--test-limit", "200", "--jobs", "1", "--quiet", "--out", "OUT"],
                     ["results.jsonl"]),
        "advise": (["advise", str(csv), "--target", "target", "--budget", "1h", "--screen-seeds", "2", "--seeds", "3", "--keep", "2",
                    "--jobs", "1", "--quiet", "--out", "OUT"],
                   # a budget the plan fits in: a run cut at its budget ends where the
                   # clock says, which differs between any two runs, killed or not
                   ["screen/results.jsonl", "confirm/results.jsonl", "advice.json"]),
    }


def write_diabetes_csv(path: Path):
    import gzip
    x = gzip.decompress((ROOT / "data/diabetes/diabetes_data_raw.csv.gz").read_bytes()).decode().split("\n")
    y = gzip.decompress((ROOT / "data/diabetes/diabetes_target.csv.gz").read_bytes()).decode().split("\n")
    rows = [",".join(a.split()) + "," + b.strip() for a, b in zip(x, y) if a.strip()]
    path.write_text("age,sex,bmi,bp,s1,s2,s3,s4,s5,s6,target\n" + "\n".join(rows) + "\n")


def argv(template, out: Path):
    return [str(BIN)] + [a.replace("OUT", str(out)) for a in template]


def check_files(out: Path):
    """Problems with the files in `out` (an empty list when every file is whole)."""
    problems = []
    for f in sorted(out.rglob("*")):
        if not f.is_file() or f.suffix in (".tmp", ".partial") or f.name == ".smalldata.lock":
            continue
        try:
            if f.suffix == ".jsonl":
                lines = f.read_bytes().split(b"\n")
                keys = set()
                for i, line in enumerate(lines):
                    if not line.strip():
                        continue
                    try:
                        row = json.loads(line)
                    except ValueError:
                        if i == len(lines) - 1:  # a torn last line: the next run cuts it off
                            continue
                        raise
                    key = row_key(row)
                    if key in keys:
                        problems.append(f"{f}: row {key} twice")
                    keys.add(key)
            elif f.suffix == ".json":
                json.loads(f.read_bytes())
            elif f.suffix == ".safetensors":
                read_safetensors(f)
            elif f.suffix == ".png":
                from PIL import Image
                Image.open(f).load()
        except Exception as e:  # any failure to read is a half-written file
            problems.append(f"{f}: {type(e).__name__}: {e}")
    return problems


def row_key(row):
    """What identifies a row of results.jsonl: its cell, arm and seed."""
    return json.dumps({k: row.get(k) for k in ("size", "arm", "seed", "arm_params")}, sort_keys=True)


def rows(path: Path):
    out = {}
    for line in path.read_text().splitlines():
        if line.strip():
            r = json.loads(line)
            out[row_key(r)] = {k: v for k, v in r.items() if k not in TIMING_FIELDS}
    return out


def strip_timings(v):
    if isinstance(v, dict):
        return {k: strip_timings(x) for k, x in v.items() if k not in TIMING_FIELDS and not k.endswith("_seconds")}
    if isinstance(v, list):
        return [strip_timings(x) for x in v]
    return v


def json_differences(a, b, path=""):
    """The paths (like /plan/arms[3]/name) at which two JSON values differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(a.keys() | b.keys())
                for d in ([f"{path}/{k}"] if k not in a or k not in b else json_differences(a[k], b[k], f"{path}/{k}"))]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in json_differences(x, y, f"{path}[{i}]")]
    return [] if a == b else [path or "/"]


def kept_files(folder: Path):
    """The files of a folder a job promises to keep: not temporaries, not the lock
    (which names the process that held it)."""
    if not folder.is_dir():
        return []
    return sorted(p.relative_to(folder) for p in folder.rglob("*")
                  if p.is_file() and p.suffix not in (".tmp", ".partial") and p.name != ".smalldata.lock")


def compare(ref: Path, killed: Path, names):
    """Differences between the files `names` in the two folders."""
    diffs = []
    for name in names:
        a, b = ref / name, killed / name
        if a.is_dir():
            fa, fb = kept_files(a), kept_files(b)
            if fa != fb:
                diffs.append(f"{name}/: files {fa} vs {fb}")
            for p in (p for p in fa if p in fb and p.suffix != ".json"):
                if p.suffix == ".safetensors":
                    diffs += [f"{name}/{p}: {d}" for d in compare_tensors(a / p, b / p)]
                elif (a / p).read_bytes() != (b / p).read_bytes():
                    diffs.append(f"{name}/{p}: bytes differ")
        elif not b.exists():
            diffs.append(f"{name}: missing after the kills")
        elif name.endswith(".jsonl"):
            ra, rb = rows(a), rows(b)
            if ra.keys() != rb.keys():
                diffs.append(f"{name}: {len(ra)} rows uninterrupted, {len(rb)} after the kills ({len(ra.keys() - rb.keys())} lost, {len(rb.keys() - ra.keys())} extra)")
            diffs += [f"{name}: row {k} differs" for k in ra if k in rb and ra[k] != rb[k]]
        elif name.endswith(".json"):
            # paths inside name the output folder, which differs by design
            ja = json.loads(a.read_text().replace(str(ref), "OUT"))
            jb = json.loads(b.read_text().replace(str(killed), "OUT"))
            diffs += [f"{name}: {p} differs" for p in json_differences(strip_timings(ja), strip_timings(jb))]
        elif name.endswith(".safetensors"):
            diffs += [f"{name}: {d}" for d in compare_tensors(a, b)]
        elif a.read_bytes() != b.read_bytes():
            diffs.append(f"{name}: bytes differ")
    return diffs


META = "__meta__/json"  # a checkpoint's own record (train/checkpoint.rs), timings included


def compare_tensors(a: Path, b: Path):
    """Tensors that differ (bit for bit) between two safetensors files; the metadata
    tensor is compared as JSON without its timings."""
    ta, tb = read_safetensors(a), read_safetensors(b)
    diffs = [f"tensor {k} only in one file" for k in sorted(ta.keys() ^ tb.keys())]
    for k in sorted(ta.keys() & tb.keys()):
        if k == META:
            ma, mb = (strip_timings(json.loads(t[2])) for t in (ta[k], tb[k]))
            if ma != mb:
                diffs.append("checkpoint metadata differs")
        elif ta[k] != tb[k]:
            diffs.append(f"tensor {k} differs")
    return diffs


ITEM_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}


def read_safetensors(path: Path):
    """name -> (dtype, shape, raw bytes) of a safetensors file, checking that the header
    parses and every tensor's byte range lies in the file and fits its shape (a torn
    file fails here). Written out so the loop needs no package beyond the standard library."""
    b = path.read_bytes()
    if len(b) < 8:
        raise ValueError(f"{len(b)} bytes: no header length")
    n = int.from_bytes(b[:8], "little")
    if 8 + n > len(b):
        raise ValueError(f"header of {n} bytes in a file of {len(b)}")
    header, data = json.loads(b[8:8 + n]), b[8 + n:]
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        start, end = t["data_offsets"]
        count = 1
        for d in t["shape"]:
            count *= d
        if not 0 <= start <= end <= len(data) or end - start != count * ITEM_BYTES[t["dtype"]]:
            raise ValueError(f"tensor {name}: bytes {start}..{end} of {len(data)} for {t['dtype']} {t['shape']}")
        out[name] = (t["dtype"], tuple(t["shape"]), data[start:end])
    return out


def run_killed(cmd, kills, ref_seconds, rng, out: Path, log):
    """Start, kill, check, restart; returns (kills landed, restarts, problems, seconds)."""
    landed, starts, problems = 0, 0, []
    t0 = time.time()
    while True:
        starts += 1
        p = subprocess.Popen(cmd, stdout=log, stderr=log, start_new_session=True)
        if landed < kills:
            # a delay that lets about 1/kills of the work happen between kills, so the
            # kills fall all along the job rather than all in its first second
            delay = rng.uniform(0.2, max(0.5, 2.0 * ref_seconds / kills))
            try:
                p.wait(timeout=delay)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
                landed += 1
                problems += check_files(out)
                continue
        else:
            p.wait()
        if p.returncode != 0:
            problems.append(f"exit status {p.returncode} on start {starts}")
        return landed, starts, problems, time.time() - t0


def main():
    global BIN
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--jobs", default="all")
    ap.add_argument("--work", default=str(ROOT / "report" / "kill_loop"))
    ap.add_argument("--json", default=None, help="write the summary here")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--bin", default=str(BIN), help="the smalldata binary (CI passes the debug build)")
    a = ap.parse_args()
    BIN = Path(a.bin)
    if not BIN.exists():
        sys.exit(f"{BIN} is missing: cargo build --release first")
    work = Path(a.work)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    write_diabetes_csv(work / "diabetes.csv")
    table = jobs(work)
    names = list(table) if a.jobs == "all" else a.jobs.split(",")
    rng = random.Random(a.seed)
    summary, failed = [], False
    for name in names:
        template, keep = table[name]
        ref, killed = work / name / "ref", work / name / "killed"
        with open(work / f"{name}.log", "wb") as log:
            t0 = time.time()
            r = subprocess.run(argv(template, ref), stdout=log, stderr=log)
            ref_seconds = time.time() - t0
            if r.returncode != 0:
                print(f"{name}: the uninterrupted run failed (exit {r.returncode}); see {work / (name + '.log')}", flush=True)
                failed = True
                continue
            landed, starts, problems, seconds = run_killed(argv(template, killed), a.kills, ref_seconds, rng, killed, log)
        diffs = compare(ref, killed, keep)
        ok = not problems and not diffs
        failed |= not ok
        summary.append({"job": name, "kills": landed, "starts": starts, "uninterrupted_seconds": round(ref_seconds, 1),
                        "killed_seconds": round(seconds, 1), "half_written_files": problems, "differences": diffs, "ok": ok})
        print(f"{name:20s} {'ok  ' if ok else 'FAIL'} {landed:3d} kills, {starts:3d} starts; {ref_seconds:6.1f} s uninterrupted, "
              f"{seconds:6.1f} s with kills; compared {', '.join(keep)}", flush=True)
        for line in problems + diffs:
            print(f"    {line}", flush=True)
    if a.json:
        Path(a.json).write_text(json.dumps(summary, indent=2) + "\n")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
