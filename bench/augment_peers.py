#!/usr/bin/env python3
"""The peers' side of `smalldata bench augment`: images per second of crop (pad 4),
rotation (±30°) and Gaussian noise (σ = 0.1) on one CPU thread, for

* torchvision.transforms.v2 applied per image (a fresh draw per image: the same
  work as smalldata),
* torchvision.transforms.v2 applied to the whole batch tensor (ONE draw for the
  batch: different, cheaper work, reported for reference),
* albumentations applied per image (numpy HWC float32).

Each measurement is the best of REPEATS timed passes after a quarter of a second of
untimed ones (the same warm-up as smalldata's side).

With DEVICE cuda (or cuda:N) the batch and the images live on the GPU, torchvision
v2 runs there (each timed pass ends with torch.cuda.synchronize()), and
albumentations, a CPU library, is left out.

    python bench/augment_peers.py SIZE N REPEATS [DEVICE]   → JSON on stdout
"""
import json
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
import numpy as np  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)
import torchvision  # noqa: E402
from torchvision.transforms import v2  # noqa: E402


# untimed calls before the timed repeats, as smalldata's side does (WARM_UP_S in src/bench.rs)
WARM_UP_S = 0.25


def rate(f, n, repeats, sync=lambda: None):
    warm = time.perf_counter()
    while time.perf_counter() - warm < WARM_UP_S:
        f()
    sync()
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        f()
        sync()
        best = min(best, time.perf_counter() - t)
    return n / best


def main():
    size, n, repeats = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    device = torch.device(sys.argv[4] if len(sys.argv) > 4 else "cpu")
    torch.manual_seed(0)
    batch = torch.rand(n, 1, size, size)
    if device.type == "cuda":
        return on_gpu(batch.to(device), size, n, repeats)
    import cv2
    cv2.setNumThreads(1)
    import albumentations as A
    images = list(batch)
    arrays = [np.ascontiguousarray(img.permute(1, 2, 0).numpy()) for img in images]
    tv = {
        "crop": v2.RandomCrop(size, padding=4),
        "rotate": v2.RandomRotation(30),
        "noise": v2.GaussianNoise(sigma=0.1, clip=True),
    }
    al = {
        "crop": A.Compose([A.PadIfNeeded(size + 8, size + 8, border_mode=cv2.BORDER_CONSTANT, fill=0), A.RandomCrop(size, size)]),
        "rotate": A.Rotate(limit=30, border_mode=cv2.BORDER_CONSTANT, fill=0, p=1.0),
        "noise": A.GaussNoise(std_range=(0.1, 0.1), p=1.0),
    }
    out = {"versions": {"torch": torch.__version__, "torchvision": torchvision.__version__, "albumentations": A.__version__}}
    for op in ["crop", "rotate", "noise"]:
        out[op] = {
            "torchvision_per_image": rate(lambda: [tv[op](img) for img in images], n, repeats),
            "torchvision_batch": rate(lambda: tv[op](batch), n, repeats),
            "albumentations_per_image": rate(lambda: [al[op](image=a)["image"] for a in arrays], n, repeats),
        }
    print(json.dumps(out))


def on_gpu(batch, size, n, repeats):
    images = list(batch)
    tv = {
        "crop": v2.RandomCrop(size, padding=4),
        "rotate": v2.RandomRotation(30),
        "noise": v2.GaussianNoise(sigma=0.1, clip=True),
    }
    sync = torch.cuda.synchronize
    out = {"versions": {"torch": torch.__version__, "torchvision": torchvision.__version__, "gpu": torch.cuda.get_device_name(batch.device)}}
    for op in ["crop", "rotate", "noise"]:
        out[op] = {
            "torchvision_per_image": rate(lambda: [tv[op](img) for img in images], n, repeats, sync),
            "torchvision_batch": rate(lambda: tv[op](batch), n, repeats, sync),
        }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
