#!/usr/bin/env python3
"""Copy the small data files the crate embeds out of the scikit-learn wheel, byte
for byte:

* data/digits/digits.csv.gz: UCI optical recognition of handwritten digits (CC BY 4.0);
* data/diabetes/diabetes_data_raw.csv.gz and diabetes_target.csv.gz: Efron et al.
  (2004), the raw (unscaled) features and the target.

    pip download --no-deps -d /tmp/skl scikit-learn==1.9.1
    python3 scripts/extract_sklearn_data.py /tmp/skl/scikit_learn-1.9.1-*.whl
"""
import os
import sys
import zipfile

FILES = {
    "sklearn/datasets/data/digits.csv.gz": "digits/digits.csv.gz",
    "sklearn/datasets/data/diabetes_data_raw.csv.gz": "diabetes/diabetes_data_raw.csv.gz",
    "sklearn/datasets/data/diabetes_target.csv.gz": "diabetes/diabetes_target.csv.gz",
}

data_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data")
with zipfile.ZipFile(sys.argv[1]) as z:
    for src, dst in FILES.items():
        payload = z.read(src)
        path = os.path.join(data_dir, dst)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(payload)
        print(f"{dst}: {len(payload)} bytes")
