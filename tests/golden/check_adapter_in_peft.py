"""Load the adapter that `cargo test --release --test vit_peft` saves (peft's layout,
transformers 5 names) with peft onto the fixture ViT and compare its logits with the
ones peft gave for its own adapter. Dev only (needs transformers and peft):

    cargo test --release --test vit_peft
    .venv/bin/python tests/golden/check_adapter_in_peft.py [target/release/build/../tmp dir]
"""
import glob
import os
import sys

import torch
from peft import PeftModel
from safetensors.torch import load_file
from transformers import ViTForImageClassification

root = os.path.dirname(os.path.abspath(__file__))
found = sys.argv[1:] or glob.glob(os.path.join(root, "..", "..", "target", "tmp", "vit_adapter_from_rust"))
if not found:
    sys.exit("no adapter saved by the Rust test: run `cargo test --release --test vit_peft` first")
expected = load_file(os.path.join(root, "vit", "expected.safetensors"))
base = ViTForImageClassification.from_pretrained(os.path.join(root, "vit", "model")).eval()
model = PeftModel.from_pretrained(base, found[0]).eval()
with torch.no_grad():
    d = (model(pixel_values=expected["pixels"]).logits - expected["logits_lora"]).abs().max().item()
print(f"adapter saved by smalldata, loaded by peft: max |logit difference| {d:.2e}")
sys.exit(0 if d < 1e-5 else 1)
