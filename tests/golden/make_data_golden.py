#!/usr/bin/env python3
"""Reference values for tests/data_golden.rs, computed with scikit-learn and torchvision.

    .venv/bin/python tests/golden/make_data_golden.py   # writes tests/golden/data.json
"""
import gzip
import json
import os
import shutil
import tempfile

import numpy as np
import sklearn
import torchvision
from sklearn.datasets import load_diabetes, load_digits
from torchvision.datasets.mnist import read_image_file, read_label_file

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")


def idx_reference(directory, prefix):
    """Read IDX files with torchvision's own reader (it wants them uncompressed)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = {}
        for kind in ("images-idx3", "labels-idx1"):
            src = os.path.join(directory, f"{prefix}-{kind}-ubyte.gz")
            raw = os.path.join(tmp, f"{prefix}-{kind}-ubyte")
            with gzip.open(src, "rb") as f, open(raw, "wb") as g:
                shutil.copyfileobj(f, g)
            out[kind] = read_image_file(raw) if kind.startswith("images") else read_label_file(raw)
    images = out["images-idx3"].numpy().astype(np.float64) / 255.0
    labels = out["labels-idx1"].numpy()
    return {
        "len": int(images.shape[0]),
        "first_labels": labels[:20].tolist(),
        "first_image_sums": images[:10].reshape(10, -1).sum(axis=1).tolist(),
        "class_counts": np.bincount(labels, minlength=10).tolist(),
        "pixel_mean": float(images.mean()),
    }


def main():
    x, y = load_diabetes(return_X_y=True)
    xr, _ = load_diabetes(return_X_y=True, scaled=False)
    digits = load_digits()
    golden = {
        "versions": {"sklearn": sklearn.__version__, "torchvision": torchvision.__version__},
        "diabetes": {
            "shape": list(x.shape),
            "first_rows": x[:3].tolist(),
            "column_sums_abs": np.abs(x).sum(axis=0).tolist(),
            "raw_first_row": xr[0].tolist(),
            "target_first": y[:5].tolist(),
            "target_sum": float(y.sum()),
        },
        "digits": {
            "shape": list(digits.images.shape),
            "first_image": (digits.images[0] / 16.0).ravel().tolist(),
            "class_counts": np.bincount(digits.target).tolist(),
        },
        "fashion_subset": {
            "train": idx_reference(os.path.join(ROOT, "data", "fashion-mnist-subset"), "train"),
            "test": idx_reference(os.path.join(ROOT, "data", "fashion-mnist-subset"), "t10k"),
        },
    }
    debian = "/usr/share/datasets/fashion-mnist"
    if os.path.exists(os.path.join(debian, "train-images-idx3-ubyte.gz")):
        golden["fashion_full"] = {"train": idx_reference(debian, "train"), "test": idx_reference(debian, "t10k")}
    with open(os.path.join(HERE, "data.json"), "w") as f:
        json.dump(golden, f, indent=1)
    print("wrote tests/golden/data.json")


if __name__ == "__main__":
    main()
