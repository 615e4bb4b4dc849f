#!/usr/bin/env python3
"""Export torchvision ResNet weights to safetensors for smalldata's loader
(`smalldata::finetune::load_torchvision_resnet`).

    python scripts/export_torchvision_resnet.py resnet18 resnet18.safetensors            # ImageNet weights (needs them cached or a network)
    python scripts/export_torchvision_resnet.py resnet50 r50.safetensors --random         # random initialisation, no download
    python scripts/export_torchvision_resnet.py --keys tests/golden/torchvision_resnet_keys.json   # the names/shapes fixture

The file holds every tensor of the model's state_dict under its torchvision name
(`layer1.0.conv1.weight`, `bn1.running_mean`, ...), float32, contiguous. The loader
maps the names in code and reports missing and unexpected keys.
"""
import argparse
import json
import struct

import torch
import torchvision

MODELS = ("resnet18", "resnet34", "resnet50")


def write_safetensors(tensors, path):
    """The safetensors format: 8-byte little-endian header length, JSON header, data."""
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        t = t.detach().to(torch.float32).contiguous().cpu()
        data = t.numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * ((8 - len(head) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(head)))
        f.write(head)
        for b in blobs:
            f.write(b)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model", nargs="?", choices=MODELS)
    ap.add_argument("out", nargs="?")
    ap.add_argument("--random", action="store_true", help="random initialisation instead of ImageNet weights")
    ap.add_argument("--keys", help="write the state_dict names and shapes of every model to this JSON file")
    a = ap.parse_args()
    if a.keys:
        keys = {m: {k: list(v.shape) for k, v in getattr(torchvision.models, m)().state_dict().items()} for m in MODELS}
        keys["torchvision"] = torchvision.__version__
        with open(a.keys, "w") as f:
            json.dump(keys, f, indent=0)
            f.write("\n")
        return
    if not (a.model and a.out):
        ap.error("give MODEL OUT, or --keys FILE")
    weights = None if a.random else "DEFAULT"
    model = getattr(torchvision.models, a.model)(weights=weights)
    write_safetensors(model.state_dict(), a.out)


if __name__ == "__main__":
    main()
