#!/usr/bin/env python3
"""Write the fuzzers' seed inputs (fuzz/seeds/READER/) from the project's own files.

Each seed is a small real file of the kind its reader takes, cut down from data the
repository already holds, so the fuzzer starts from valid structure:
  idx          3 Fashion-MNIST images and labels, raw and gzip-compressed
  cifar        2 records in the CIFAR-10 binary layout (pixels from Fashion-MNIST)
  picture      one Fashion-MNIST image as PNG, JPEG, BMP, GIF, TIFF, WebP and PGM
  csv          the first rows of the diabetes data with a `target` column; a row
               with missing cells; a categorical column
  safetensors  a small float tensor, a learned embedding, a tensor of each dtype
  results      rows of a results.jsonl written by the engine, and a torn last line
  config       the tiny Stable Diffusion pipeline's configs, the ViT's, a peft adapter's
Run with the project's venv (numpy, Pillow, safetensors): .venv/bin/python scripts/make_fuzz_seeds.py
"""
import gzip, io, json, os, shutil, struct
from pathlib import Path
import numpy as np
from PIL import Image
from safetensors.numpy import save as st_save

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "fuzz" / "seeds"


def put(reader, name, data: bytes):
    d = OUT / reader
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)


def idx_bytes(arr):
    head = bytes([0, 0, 8, arr.ndim]) + b"".join(struct.pack(">I", s) for s in arr.shape)
    return head + arr.astype(np.uint8).tobytes()


def fashion(n):
    raw = gzip.decompress((ROOT / "data/fashion-mnist-subset/t10k-images-idx3-ubyte.gz").read_bytes())
    images = np.frombuffer(raw[16:16 + n * 784], np.uint8).reshape(n, 28, 28)
    raw = gzip.decompress((ROOT / "data/fashion-mnist-subset/t10k-labels-idx1-ubyte.gz").read_bytes())
    labels = np.frombuffer(raw[8:8 + n], np.uint8)
    return images, labels


def main():
    if OUT.exists():
        shutil.rmtree(OUT)
    images, labels = fashion(3)
    put("idx", "images.idx", idx_bytes(images))
    put("idx", "labels.idx", idx_bytes(labels))
    put("idx", "images.idx.gz", gzip.compress(idx_bytes(images), mtime=0))
    put("idx", "labels.idx.gz", gzip.compress(idx_bytes(labels), mtime=0))

    recs = b""
    for i in range(2):
        rgb = np.stack([np.pad(images[i], 2)] * 3)  # 3×32×32
        recs += bytes([int(labels[i])]) + rgb.tobytes()
    put("cifar", "two_records.bin", recs)

    img = Image.fromarray(images[0])
    for fmt, ext in [("PNG", "png"), ("JPEG", "jpg"), ("BMP", "bmp"), ("GIF", "gif"), ("TIFF", "tif"), ("WEBP", "webp"), ("PPM", "pgm")]:
        buf = io.BytesIO()
        img.save(buf, fmt)
        put("picture", f"boot.{ext}", buf.getvalue())
    buf = io.BytesIO()
    Image.fromarray(np.stack([images[1]] * 3, -1)).save(buf, "PNG")
    put("picture", "rgb.png", buf.getvalue())

    x = gzip.decompress((ROOT / "data/diabetes/diabetes_data_raw.csv.gz").read_bytes()).decode().splitlines()[:8]
    y = gzip.decompress((ROOT / "data/diabetes/diabetes_target.csv.gz").read_bytes()).decode().splitlines()[:8]
    rows = [",".join(r.split()) + "," + t.strip() for r, t in zip(x, y)]
    put("csv", "diabetes.csv", ("age,sex,bmi,bp,s1,s2,s3,s4,s5,s6,target\n" + "\n".join(rows) + "\n").encode())
    put("csv", "missing.csv", b"a,b,target\n1,NA,3.5\n2,4,\n,5,1.25\n3,6,2\n")
    put("csv", "categorical.csv", b"colour,size,target\nred,1,10\nblue,2,12\n\"gre,en\",3,9\nred,?,11\n")

    put("safetensors", "weights.safetensors", st_save({"conv.weight": np.arange(12, dtype=np.float32).reshape(2, 1, 2, 3), "conv.bias": np.ones(2, np.float32)}))
    put("safetensors", "learned_embeds.safetensors", st_save({"<concept>": np.linspace(-1, 1, 32, dtype=np.float32).reshape(1, 32)}))
    put("safetensors", "dtypes.safetensors", st_save({"f16": np.ones(3, np.float16), "f64": np.ones(2), "i64": np.arange(2, dtype=np.int64), "u8": np.arange(4, dtype=np.uint8), "b": np.array([True, False])}))

    # rows as `smalldata tabular --sizes 20 --augment none,jitter --models ols --seeds 1` wrote them,
    # and one image row in the classification form
    lines = [
        '{"size":20,"arm":"ols/none","seed":0,"scores":{"task":"regression","rmse":92.50910248589562,"mae":76.0077007523796,"r2":-0.41289236811066843},"train_seconds":0.000043277,"eval_seconds":0.0,"final_train_loss":null,"test_size":133,"arm_params":"Ols + none","detail":null,"protocol":"2e68b013b1bbd404"}',
        '{"size":20,"arm":"ols/jitter","seed":0,"scores":{"task":"regression","rmse":116.91058678445216,"mae":96.20388544981401,"r2":-1.256564880475238},"train_seconds":0.000102938,"eval_seconds":0.0,"final_train_loss":null,"test_size":133,"arm_params":"Ols + jitter","detail":null,"protocol":"2e68b013b1bbd404"}',
        '{"size":10,"arm":"crop+rotate","seed":3,"scores":{"task":"classification","accuracy":0.7,"auc_macro_ovr":0.93,"log_loss":0.81},"train_seconds":2.5,"eval_seconds":0.1,"final_train_loss":0.4,"test_size":500,"arm_params":"crop(pad=4)+rotate(15)","detail":null,"protocol":"0123456789abcdef"}',
    ]
    put("results", "results.jsonl", ("\n".join(lines) + "\n").encode())
    put("results", "torn.jsonl", ("\n".join(lines) + "\n" + lines[0][:20]).encode())

    sd = ROOT / "tests/golden/sd/sd1"
    for part, name in [("unet", "config.json"), ("vae", "config.json"), ("text_encoder", "config.json"), ("scheduler", "scheduler_config.json")]:
        put("config", f"sd_{part}.json", (sd / part / name).read_bytes())
    put("config", "vit.json", (ROOT / "data/pretrained/vit_fmnist_0-4/config.json").read_bytes())
    adapter = {"peft_type": "LORA", "r": 4, "lora_alpha": 8.0, "lora_dropout": 0.0, "target_modules": ["query", "value"],
               "modules_to_save": ["classifier"], "bias": "none", "use_dora": False, "use_rslora": False, "fan_in_fan_out": False}
    put("config", "adapter_config.json", json.dumps(adapter, indent=2).encode())
    total = sum(f.stat().st_size for f in OUT.rglob("*") if f.is_file())
    print(f"seeds in {OUT.relative_to(ROOT)}: {sum(1 for f in OUT.rglob('*') if f.is_file())} files, {total} bytes")


if __name__ == "__main__":
    main()
