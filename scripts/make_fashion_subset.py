#!/usr/bin/env python3
"""Make the embedded Fashion-MNIST subset in data/fashion-mnist-subset/.

Takes the first TRAIN_PER_CLASS training images and the first TEST_PER_CLASS test
images of each class, in the order of the original files (which Zalando already
shuffled), and writes them as gzip-compressed IDX files with the original names.
Standard library only, so it runs with any Python 3.

    python3 scripts/make_fashion_subset.py [/usr/share/datasets/fashion-mnist] [data/fashion-mnist-subset]
"""
import gzip
import os
import struct
import sys

TRAIN_PER_CLASS = 200
TEST_PER_CLASS = 100


def read_idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = struct.unpack(">" + "I" * ndim, raw[4 : 4 + 4 * ndim])
    return dims, raw[4 + 4 * ndim :]


def write_idx(path, dims, payload):
    header = bytes([0, 0, 8, len(dims)]) + struct.pack(">" + "I" * len(dims), *dims)
    # mtime=0 keeps the output byte-identical between runs.
    with open(path, "wb") as out, gzip.GzipFile(fileobj=out, mode="wb", mtime=0, compresslevel=9) as f:
        f.write(header + payload)


def subset(src, dst, prefix, per_class):
    idims, pixels = read_idx(os.path.join(src, f"{prefix}-images-idx3-ubyte.gz"))
    _, labels = read_idx(os.path.join(src, f"{prefix}-labels-idx1-ubyte.gz"))
    size = idims[1] * idims[2]
    taken = {c: 0 for c in range(10)}
    keep = []
    for i, label in enumerate(labels):
        if taken[label] < per_class:
            taken[label] += 1
            keep.append(i)
    assert all(v == per_class for v in taken.values()), taken
    write_idx(os.path.join(dst, f"{prefix}-images-idx3-ubyte.gz"), (len(keep), idims[1], idims[2]),
              b"".join(pixels[i * size : (i + 1) * size] for i in keep))
    write_idx(os.path.join(dst, f"{prefix}-labels-idx1-ubyte.gz"), (len(keep),), bytes(labels[i] for i in keep))
    print(f"{prefix}: {len(keep)} images ({per_class} per class)")


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/datasets/fashion-mnist"
    dst = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), "..", "data", "fashion-mnist-subset")
    os.makedirs(dst, exist_ok=True)
    subset(src, dst, "train", TRAIN_PER_CLASS)
    subset(src, dst, "t10k", TEST_PER_CLASS)


if __name__ == "__main__":
    main()
