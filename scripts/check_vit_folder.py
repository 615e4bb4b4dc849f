"""Read a ViT folder written by `smalldata finetune pretrain --arch vit` with
`transformers` (ViTForImageClassification + ViTImageProcessor, as a user would) and
score it on the Fashion-MNIST test images of its classes: the accuracy must be the one
smalldata printed when it saved the folder. Dev only (needs transformers):

    .venv/bin/python scripts/check_vit_folder.py [data/pretrained/vit_fmnist_0-4]
"""
import gzip
import sys

import numpy as np
import torch
from transformers import ViTForImageClassification, ViTImageProcessor

folder = sys.argv[1] if len(sys.argv) > 1 else "data/pretrained/vit_fmnist_0-4"
root = "/usr/share/datasets/fashion-mnist"
with gzip.open(f"{root}/t10k-images-idx3-ubyte.gz") as f:
    images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
with gzip.open(f"{root}/t10k-labels-idx1-ubyte.gz") as f:
    labels = np.frombuffer(f.read(), np.uint8, offset=8)
model = ViTForImageClassification.from_pretrained(folder).eval()
processor = ViTImageProcessor.from_pretrained(folder)
classes = sorted(int(k) for k in model.config.id2label)
keep = np.isin(labels, classes)
x, y = images[keep], labels[keep]
# one channel, as the folder's config says; the processor rescales and normalises
batch = processor(images=[im[..., None] for im in x], return_tensors="pt", input_data_format="channels_last")
with torch.no_grad():
    pred = model(**batch).logits.argmax(-1).numpy()
print(f"{folder}: transformers reads it; accuracy on {len(y)} test images of classes {classes}: {(pred == y).mean():.4f}")
