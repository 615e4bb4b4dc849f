#!/usr/bin/env python3
"""Run each long job on two devices and check that they agree; time them.

For the GAN, diffusion pretraining, textual inversion on the project's diffusion
model, textual inversion on a (tiny) Stable Diffusion pipeline and fine-tuning
(frozen backbone + LoRA), each a short configuration of the kill loop's
(scripts/kill_loop.py), this script

  1. runs the job with SMALLDATA_DEVICE=A and with SMALLDATA_DEVICE=B (default cpu and
     cuda) for N steps, and compares what the job keeps: every tensor of its
     checkpoint or embedding by relative L2 distance (‖a − b‖ / ‖a‖), every number of
     its result rows (timings left out) by |a − b| ≤ atol + rtol·|a|;
  2. runs it again for 2N steps on each device: (t(2N) − t(N)) / N is the time per
     step without the start-up (loading libtorch, data, the model), on each device.

Tolerances are fixed here, before any GPU run. All draws are made on the host, so the
devices differ only by floating-point arithmetic; with TF32 off
(NVIDIA_TF32_OVERRIDE=0) the kept tensors must agree within 1e-3, with TF32 as libtorch
leaves it (cuDNN convolutions in TF32) within 3e-2. Accuracy-like numbers get an
absolute allowance of 0.02 (4 of 200 test images).

    python3 scripts/device_check.py --bin BIN --work DIR --json OUT.json [--a cpu --b cuda] [--jobs gan,...]

With --a cpu --b cpu it is a dry run of the harness: both sides must agree exactly.
`--self-test` checks that the comparison reports tensors that differ.
Needs only the standard library (the GPU machine has no extra packages).
"""
import argparse, json, math, os, shutil, struct, subprocess, sys, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from kill_loop import TIMING_FIELDS, jobs as kill_jobs, read_safetensors, row_key, write_diabetes_csv  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

# job -> (steps N of the comparison run, files to compare)
JOBS = {
    "gan": (40, ["checkpoint.safetensors"]),
    "diffusion-pretrain": (40, ["export.safetensors"]),
    "invert": (40, ["boot.safetensors"]),
    "sd-invert": (40, ["learned_embeds.safetensors"]),
    "finetune": (20, ["results.jsonl"]),
}
RTOL = {"off": 1e-3, "on": 3e-2}
ATOL_SCORES = 0.02


def with_steps(argv, steps):
    """The kill loop's argv with --steps replaced (and periodic saves kept inside it)."""
    out = list(argv)
    out[out.index("--steps") + 1] = str(steps)
    for flag in ("--checkpoint-every", "--save-every"):
        if flag in out:
            i = out.index(flag) + 1
            out[i] = str(min(int(out[i]), steps))
    return out


def floats(dtype, raw):
    if dtype == "F32":
        return struct.unpack(f"<{len(raw) // 4}f", raw)
    if dtype == "F64":
        return struct.unpack(f"<{len(raw) // 8}d", raw)
    return None  # integer tensors compare exactly


def tensor_distances(a: Path, b: Path):
    """name -> relative L2 distance (or None when equal bit for bit / not float)."""
    ta, tb = read_safetensors(a), read_safetensors(b)
    if ta.keys() != tb.keys():
        raise ValueError(f"{a.name}: tensors {sorted(ta.keys() ^ tb.keys())} only on one side")
    out = {}
    for k in sorted(ta):
        # run metadata (the checkpoint's JSON: timings, device, where it resumed) is
        # not a result: it may differ in content and length between any two runs
        if k.startswith("__meta__"):
            continue
        (da, sa, ra), (db, sb, rb) = ta[k], tb[k]
        if (da, sa) != (db, sb):
            raise ValueError(f"{a.name}: tensor {k} is {da}{list(sa)} on one side, {db}{list(sb)} on the other")
        fa, fb = floats(da, ra), floats(db, rb)
        if fa is None:
            out[k] = 0.0 if ra == rb else math.inf
            continue
        num = math.sqrt(sum((x - y) ** 2 for x, y in zip(fa, fb)))
        den = math.sqrt(sum(x * x for x in fa))
        out[k] = num / den if den > 0 else (0.0 if num == 0 else math.inf)
    return out


def row_differences(a: Path, b: Path, rtol):
    def load(p):
        return {row_key(r): r for r in map(json.loads, filter(str.strip, p.read_text().splitlines()))}
    ra, rb = load(a), load(b)
    problems, worst = [], 0.0
    if ra.keys() != rb.keys():
        problems.append(f"{a.name}: {len(ra)} rows on one side, {len(rb)} on the other")
    for k in ra.keys() & rb.keys():
        for field, x in ra[k].items():
            y = rb[k].get(field)
            if field in TIMING_FIELDS or field.endswith("_seconds") or not isinstance(x, (int, float)) or isinstance(x, bool):
                continue
            if not isinstance(y, (int, float)):
                problems.append(f"{a.name} {k} {field}: {x} vs {y}")
                continue
            worst = max(worst, abs(x - y))
            if abs(x - y) > ATOL_SCORES + rtol * abs(x):
                problems.append(f"{a.name} {k} {field}: {x} vs {y}")
    return problems, worst


def compare(da: Path, db: Path, names, rtol):
    problems, figures = [], {}
    for name in names:
        a, b = da / name, db / name
        if not a.exists() or not b.exists():
            problems.append(f"{name}: missing on one side")
        elif name.endswith(".safetensors"):
            d = tensor_distances(a, b)
            worst = max(d.values(), default=0.0)
            figures[name] = {"largest_relative_l2": worst, "tensor": max(d, key=d.get) if d else None, "tensors": len(d)}
            problems += [f"{name}: tensor {k} relative L2 {v:.2e} > {rtol}" for k, v in d.items() if v > rtol]
        elif name.endswith(".jsonl"):
            p, worst = row_differences(a, b, rtol)
            figures[name] = {"largest_abs_difference": worst}
            problems += p
    return problems, figures


def run(bin, argv, device, out: Path, log: Path):
    if out.exists():
        shutil.rmtree(out)
    env = dict(os.environ, SMALLDATA_DEVICE=device)
    cmd = [str(bin)] + [x.replace("OUT", str(out)) for x in argv]
    t = time.time()
    with open(log, "a") as f:
        f.write(f"\n$ SMALLDATA_DEVICE={device} {' '.join(cmd)}\n")
        f.flush()
        code = subprocess.call(cmd, stdout=f, stderr=f, env=env)
    seconds = time.time() - t
    if code != 0:
        raise RuntimeError(f"exit status {code}: SMALLDATA_DEVICE={device} {' '.join(cmd)} (log {log})")
    return seconds


def self_test():
    import tempfile
    d = Path(tempfile.mkdtemp())

    def write(path, values, meta):
        raw = struct.pack(f"<{len(values)}f", *values)
        # a checkpoint's metadata tensor, of a different length on each side
        header = json.dumps({"w": {"dtype": "F32", "shape": [len(values)], "data_offsets": [0, len(raw)]},
                             "__meta__/json": {"dtype": "U8", "shape": [len(meta)], "data_offsets": [len(raw), len(raw) + len(meta)]}}).encode()
        path.write_bytes(struct.pack("<Q", len(header)) + header + raw + meta)

    for side, values, meta in (("a", [1.0, 2.0, 3.0], b'{"seconds":1.5}'), ("b", [1.0, 2.0, 3.0001], b'{"seconds":12.25}'), ("c", [1.0, 2.2, 3.0], b"{}")):
        (d / side).mkdir()
        write(d / side / "t.safetensors", values, meta)
    near, _ = compare(d / "a", d / "b", ["t.safetensors"], RTOL["off"])
    far, _ = compare(d / "a", d / "c", ["t.safetensors"], RTOL["off"])
    shutil.rmtree(d)
    assert not near, near
    assert far and "relative L2" in far[0], far
    print("self-test: a 3e-5 change passes, a 5e-2 change is reported, run metadata is left out")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=str(ROOT / "target" / "release" / "smalldata"))
    ap.add_argument("--work", default=str(ROOT / "report" / "device_check"))
    ap.add_argument("--json", default=None)
    ap.add_argument("--a", default="cpu")
    ap.add_argument("--b", default="cuda")
    ap.add_argument("--jobs", default=",".join(JOBS))
    ap.add_argument("--no-timing", action="store_true", help="compare only (skip the 2N-step runs)")
    ap.add_argument("--self-test", action="store_true")
    a = ap.parse_args()
    if a.self_test:
        self_test()
        return
    tf32 = "off" if os.environ.get("NVIDIA_TF32_OVERRIDE", "").strip() == "0" else "on"
    rtol = 0.0 if a.a == a.b else RTOL[tf32]
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    write_diabetes_csv(work / "diabetes.csv")
    templates = kill_jobs(work)
    report = {"a": a.a, "b": a.b, "tf32": tf32, "rtol": rtol, "jobs": {}}
    failed = 0
    for name in a.jobs.split(","):
        steps, names = JOBS[name]
        argv = templates[name][0]
        log = work / f"{name}.log"
        log.write_text("")
        entry = {"steps": steps}
        try:
            t_a = run(a.bin, with_steps(argv, steps), a.a, work / name / "a", log)
            t_b = run(a.bin, with_steps(argv, steps), a.b, work / name / "b", log)
            problems, figures = compare(work / name / "a", work / name / "b", names, rtol)
            entry.update(seconds={a.a: t_a, a.b: t_b}, agreement=figures, problems=problems)
            if not a.no_timing:
                t2a = run(a.bin, with_steps(argv, 2 * steps), a.a, work / name / "a2", log)
                t2b = run(a.bin, with_steps(argv, 2 * steps), a.b, work / name / "b2", log)
                per = {a.a: (t2a - t_a) / steps, a.b: (t2b - t_b) / steps}
                entry["seconds_per_step"] = per
                entry["speedup"] = per[a.a] / per[a.b] if per[a.b] > 0 else None
        except Exception as e:  # a job that fails on one device is a finding, not the end of the check
            problems = [f"{type(e).__name__}: {e}"]
            entry["problems"] = problems
        failed += bool(problems)
        report["jobs"][name] = entry
        per = entry.get("seconds_per_step", {})
        figs = "; ".join(f"{k}: " + ", ".join(f"{m} {v:.2e}" if isinstance(v, float) else f"{m} {v}" for m, v in f.items()) for k, f in entry.get("agreement", {}).items())
        print(f"{name:<20} {'agree' if not problems else 'DIFFER'}  {figs}"
              + (f"  s/step {a.a} {per[a.a]:.4f}, {a.b} {per[a.b]:.4f}" if per else ""), flush=True)
        for p in problems:
            print(f"    {p}")
        if a.json:  # written after every job: a check cut short keeps what it measured
            Path(a.json).write_text(json.dumps(report, indent=2))
    print(f"{len(report['jobs']) - failed} of {len(report['jobs'])} jobs agree between {a.a} and {a.b} (TF32 {tf32}, rtol {rtol})")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
