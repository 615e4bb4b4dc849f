#!/usr/bin/env python3
"""The PyTorch side of `smalldata bench study`: the default augmentation-study
protocol written the way a PyTorch user would write it.

* Fashion-MNIST from the same IDX files; for every seed a stratified subsample of
  n images per class (numpy, seeded), nested across n as in smalldata;
* the same CNN: conv(32)-pool-conv(64)-pool-fc(128)-dropout(0.3)-fc(10), PyTorch's
  default initialisation, torch.manual_seed(seed) before building it;
* Adam lr 1e-3, batch 64, a fixed number of steps, DataLoader(shuffle=True) with a
  seeded generator, re-iterated until the steps are done;
* augmentation with torchvision.transforms.v2 per image inside the Dataset:
  RandomCrop(28, padding=3), RandomRotation(15), GaussianNoise(sigma=0.1, clip=True)
  and every combination of them;
* accuracy and one-vs-rest macro AUC (scikit-learn, or the same rank formula in
  numpy where scikit-learn is not installed) on the test images;
* `--device cuda`: the model, each batch and the test images on the GPU, the
  augmentation per image on the CPU inside the Dataset (how a PyTorch user writes it).

Runs are sequential, with PyTorch's default number of threads (every core), which
is how such a script is normally run.

    python bench/study_torch.py --data-dir DIR --sizes 10,50 --seeds 3 --steps 400 [--device cuda] --out rows.jsonl
"""
import argparse
import gzip
import itertools
import json
import os
import struct
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision.transforms import v2

try:
    from sklearn.metrics import roc_auc_score
except ImportError:  # the GPU machine has torch and torchvision, not necessarily scikit-learn
    roc_auc_score = None


def auc_macro_ovr(y, proba):
    """One-vs-rest macro AUC: roc_auc_score(y, proba, multi_class="ovr",
    average="macro"), or the Mann–Whitney form of it (ties count a half)."""
    if roc_auc_score is not None:
        return float(roc_auc_score(y, proba, multi_class="ovr", average="macro"))
    aucs = []
    for c in range(proba.shape[1]):
        pos, neg = proba[y == c, c], proba[y != c, c]
        order = np.sort(neg)
        below = np.searchsorted(order, pos, side="left")
        ties = np.searchsorted(order, pos, side="right") - below
        aucs.append((below.sum() + 0.5 * ties.sum()) / (len(pos) * len(neg)))
    return float(np.mean(aucs))


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def find(dir, stem):
    for name in (stem, stem + ".gz"):
        p = os.path.join(dir, name)
        if os.path.exists(p):
            return p
    raise FileNotFoundError(f"{stem}[.gz] in {dir}")


def load(dir):
    x = read_idx(find(dir, "train-images-idx3-ubyte"))
    y = read_idx(find(dir, "train-labels-idx1-ubyte"))
    xt = read_idx(find(dir, "t10k-images-idx3-ubyte"))
    yt = read_idx(find(dir, "t10k-labels-idx1-ubyte"))
    f = lambda a: torch.from_numpy(a.astype(np.float32) / 255.0).unsqueeze(1)
    return f(x), torch.from_numpy(y.astype(np.int64)), f(xt), torch.from_numpy(yt.astype(np.int64))


def subsample(labels, n, seed):
    rng = np.random.RandomState(seed)
    idx = []
    for c in range(10):
        pool = np.flatnonzero(labels.numpy() == c)
        idx.extend(rng.permutation(pool)[:n])  # nested: a prefix of one permutation
    return np.array(idx)


def model():
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Dropout(0.3), nn.Linear(128, 10),
    )


OPS = {
    "crop": lambda: v2.RandomCrop(28, padding=3),
    "rotate": lambda: v2.RandomRotation(15),
    "noise": lambda: v2.GaussianNoise(mean=0.0, sigma=0.1, clip=True),
}


class Augmented(torch.utils.data.Dataset):
    def __init__(self, x, y, transform):
        self.x, self.y, self.t = x, y, transform

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        img = self.x[i]
        return (self.t(img) if self.t else img), self.y[i]


def run(x, y, xt, yt, n, ops, seed, steps, batch, lr, device):
    idx = subsample(y, n, seed)
    t = v2.Compose([OPS[o]() for o in ops]) if ops else None
    data = Augmented(x[idx], y[idx], t)
    g = torch.Generator().manual_seed(seed)
    loader = torch.utils.data.DataLoader(data, batch_size=batch, shuffle=True, generator=g)
    torch.manual_seed(seed)
    m = model().to(device)
    opt = torch.optim.Adam(m.parameters(), lr=lr)
    start = time.perf_counter()
    done = 0
    m.train()
    while done < steps:
        for xb, yb in loader:
            xb, yb = xb.to(device, non_blocking=True), yb.to(device, non_blocking=True)
            opt.zero_grad()
            F.cross_entropy(m(xb), yb).backward()
            opt.step()
            done += 1
            if done == steps:
                break
    if device.type == "cuda":
        torch.cuda.synchronize()
    train_s = time.perf_counter() - start
    m.eval()
    with torch.no_grad():
        logits = torch.cat([m(xt[i : i + 500].to(device)).cpu() for i in range(0, len(xt), 500)])
    proba = torch.softmax(logits.double(), 1).numpy()
    acc = float((logits.argmax(1) == yt).float().mean())
    auc = auc_macro_ovr(yt.numpy(), proba)
    return acc, auc, train_s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--sizes", default="10,50")
    ap.add_argument("--ops", default="crop,rotate,noise")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--test-limit", type=int, default=0)
    ap.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    device = torch.device(a.device)
    x, y, xt, yt = load(a.data_dir)
    if a.test_limit and a.test_limit < len(yt):
        keep = subsample(yt, -(-a.test_limit // 10), 0)
        xt, yt = xt[keep], yt[keep]
    ops = a.ops.split(",")
    combos = [list(c) for k in range(len(ops) + 1) for c in itertools.combinations(ops, k)]
    start = time.perf_counter()
    with open(a.out, "w") as f:
        for n in map(int, a.sizes.split(",")):
            for seed in range(a.seeds):
                for c in combos:
                    acc, auc, secs = run(x, y, xt, yt, n, c, seed, a.steps, a.batch_size, a.lr, device)
                    name = "+".join(c) if c else "none"
                    row = {"n_per_class": n, "augment": name, "seed": seed, "accuracy": acc, "auc_macro_ovr": auc, "train_seconds": secs}
                    f.write(json.dumps(row) + "\n")
                    f.flush()
                    print(f"torch n={n} {name} seed {seed}: accuracy {acc:.4f}, AUC {auc:.4f} ({secs:.1f} s)", flush=True)
    print(json.dumps({"wall_seconds": time.perf_counter() - start, "threads": torch.get_num_threads(), "device": str(device)}))


if __name__ == "__main__":
    main()
