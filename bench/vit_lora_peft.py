"""Peer of `smalldata bench vit-lora`: one LoRA training step of a ViT-B/16-shaped model
(random weights from a config, nothing downloaded) with peft's image-classification
recipe (r 16, alpha 16, dropout 0.1 on query and value; the classifier in
modules_to_save), AdamW, on the given device and dtype. Prints JSON: the best step
time over the timed steps, peft's counts, and the peak memory (CUDA: allocated by
torch; CPU: the process's peak RSS).

    python bench/vit_lora_peft.py BATCH STEPS THREADS DEVICE DTYPE   # e.g. 4 3 2 cpu float32
"""
import json
import resource
import sys
import time

import torch
from peft import LoraConfig, get_peft_model
from transformers import ViTConfig, ViTForImageClassification

batch, steps, threads, device, dtype = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], getattr(torch, sys.argv[5])
torch.set_num_threads(threads)
torch.manual_seed(0)
config = ViTConfig(image_size=224, patch_size=16, num_channels=3, hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072, num_labels=10)
model = ViTForImageClassification(config)  # transformers picks its default attention (SDPA)
model = get_peft_model(model, LoraConfig(r=16, lora_alpha=16, lora_dropout=0.1, target_modules=["q_proj", "v_proj"], modules_to_save=["classifier"]))
model = model.to(device=device, dtype=dtype).train()
trainable, total = model.get_nb_trainable_parameters()
opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
x = torch.rand(batch, 3, 224, 224, device=device, dtype=dtype)
y = torch.arange(batch, device=device) % 10


def step():
    opt.zero_grad(set_to_none=True)
    loss = torch.nn.functional.cross_entropy(model(pixel_values=x).logits.float(), y)
    loss.backward()
    opt.step()
    if device.startswith("cuda"):
        torch.cuda.synchronize()


step()  # warm-up
if device.startswith("cuda"):
    torch.cuda.reset_peak_memory_stats()
best = float("inf")
for _ in range(steps):
    t = time.perf_counter()
    step()
    best = min(best, time.perf_counter() - t)
peak = torch.cuda.max_memory_allocated() if device.startswith("cuda") else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"step_s": best, "trainable": trainable, "all": total, "peak_bytes": peak, "torch": torch.__version__}))
