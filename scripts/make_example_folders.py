"""Write real image folders and a real CSV that are not Fashion-MNIST, for trying
`smalldata study --dataset FOLDER` and `smalldata tabular --dataset CSV` as a user
would (the README's "Your own data" figures come from these).

    .venv/bin/python scripts/make_example_folders.py OUT

OUT/digits/<0..9>/*.png   scikit-learn's 1,797 handwritten digits (8x8, gray), as PNG
OUT/textures/<name>/*.png  48x48 patches cut on a non-overlapping grid from four
                           texture photographs bundled in the scikit-image wheel
                           (brick, grass, gravel, coins), 60 per class
OUT/penguins.csv           the Palmer penguins table (palmerpenguins wheel): species,
                           island and sex are text, several cells are NA

The wheels are fetched with `pip download` (no install); nothing else is downloaded.
"""
import glob
import io
import os
import random
import subprocess
import sys
import tempfile
import zipfile

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits


def wheel(name, tmp):
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", tmp, name], check=True)
    return zipfile.ZipFile(glob.glob(os.path.join(tmp, name.replace("-", "_") + "-*.whl"))[0])


def main(out):
    d = load_digits()
    for i, (img, y) in enumerate(zip(d.images, d.target)):
        folder = os.path.join(out, "digits", str(y))
        os.makedirs(folder, exist_ok=True)
        Image.fromarray((img * 255 / 16).astype(np.uint8), mode="L").save(os.path.join(folder, f"{i:04d}.png"))

    with tempfile.TemporaryDirectory() as tmp:
        ski = wheel("scikit-image", tmp)
        rng = random.Random(0)
        for name in ["brick", "grass", "gravel", "coins"]:
            img = Image.open(io.BytesIO(ski.read(f"skimage/data/{name}.png"))).convert("L")
            w, h = img.size
            cells = [(x, y) for y in range(0, h - 47, 48) for x in range(0, w - 47, 48)]
            rng.shuffle(cells)
            folder = os.path.join(out, "textures", name)
            os.makedirs(folder, exist_ok=True)
            for k, (x, y) in enumerate(cells[:60]):
                img.crop((x, y, x + 48, y + 48)).save(os.path.join(folder, f"{k:03d}.png"))
        pp = wheel("palmerpenguins", tmp)
        with open(os.path.join(out, "penguins.csv"), "wb") as f:
            f.write(pp.read("palmerpenguins/data/penguins.csv"))
    print("written:", ", ".join(sorted(os.listdir(out))))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "report/example-data")
