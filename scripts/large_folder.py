#!/usr/bin/env python3
"""Peak memory of reading a large image folder, against the size of the dataset read.

Writes N photos (JPEG, SIDE×SIDE, colour, 10 classes; smooth random fields plus
noise, so they compress like photos rather than like flat colour) into FOLDER, then
runs `smalldata data folder --path FOLDER --size S` under /usr/bin/time -v and prints
the peak resident memory beside three sizes: the originals decoded (N·SIDE²·3 bytes),
the resized dataset as bytes (N·S²·3, how the library holds it) and as float32 (4×
that, how it held it before 2026-12-07). The baseline is the same command on a folder of 10 photos (libtorch and
the binary alone).

Usage: large_folder.py [--n 10000] [--side 256] [--size 64] [--folder DIR] [--json FILE]
"""
import argparse, json, re, subprocess, sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent


def write_folder(folder: Path, n: int, side: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    done = sum(1 for _ in folder.rglob("*.jpg")) if folder.exists() else 0
    if done == n:
        return
    for c in range(10):
        (folder / f"class{c}").mkdir(parents=True, exist_ok=True)
    for i in range(n):
        coarse = rng.integers(0, 256, size=(8, 8, 3), dtype=np.uint8)
        img = Image.fromarray(coarse).resize((side, side), Image.BICUBIC)
        arr = np.asarray(img, dtype=np.int16) + rng.integers(-12, 13, size=(side, side, 3))
        Image.fromarray(arr.clip(0, 255).astype(np.uint8)).save(folder / f"class{i % 10}" / f"{i:05d}.jpg", quality=90)


def peak_rss_mib(binary: Path, folder: Path, size: int):
    r = subprocess.run(["/usr/bin/time", "-v", str(binary), "data", "folder", "--path", str(folder), "--size", str(size)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"smalldata failed on {folder}:\n{r.stderr}")
    kib = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr).group(1))
    secs = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", r.stderr).group(1)
    parts = [float(p) for p in secs.split(":")]
    seconds = sum(p * 60 ** (len(parts) - 1 - i) for i, p in enumerate(parts))
    return kib / 1024, seconds, r.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--side", type=int, default=256)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--folder", default="/tmp/smalldata_large_folder")
    ap.add_argument("--bin", default=str(ROOT / "target" / "release" / "smalldata"))
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    big, small = Path(a.folder) / f"n{a.n}", Path(a.folder) / "n10"
    write_folder(big, a.n, a.side)
    write_folder(small, 10, a.side)
    base, _, _ = peak_rss_mib(Path(a.bin), small, a.size)
    peak, seconds, stdout = peak_rss_mib(Path(a.bin), big, a.size)
    mib = 1 / (1 << 20)
    sizes = {
        "originals_decoded_mib": a.n * a.side * a.side * 3 * mib,
        "resized_u8_mib": a.n * a.size * a.size * 3 * mib,
        "resized_f32_mib": a.n * a.size * a.size * 3 * 4 * mib,
    }
    on_disk = sum(f.stat().st_size for f in big.rglob("*.jpg")) * mib
    out = {"n": a.n, "side": a.side, "size": a.size, "jpeg_on_disk_mib": on_disk, "baseline_peak_mib": base,
           "peak_mib": peak, "growth_mib": peak - base, "seconds": seconds, **sizes}
    print(stdout.strip())
    print(f"{a.n} JPEGs of {a.side}x{a.side} ({on_disk:.0f} MiB on disk) read at {a.size}x{a.size} in {seconds:.1f} s")
    print(f"peak RSS {peak:.0f} MiB; {base:.0f} MiB for 10 photos; growth {peak - base:.0f} MiB")
    print(f"  originals decoded would be {sizes['originals_decoded_mib']:.0f} MiB; the resized dataset is "
          f"{sizes['resized_u8_mib']:.0f} MiB as bytes, {sizes['resized_f32_mib']:.0f} MiB as float32")
    print(f"  growth / dataset as bytes = {(peak - base) / sizes['resized_u8_mib']:.2f}; "
          f"growth / dataset as float32 = {(peak - base) / sizes['resized_f32_mib']:.2f}")
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
