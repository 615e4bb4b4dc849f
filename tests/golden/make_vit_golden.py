"""A tiny random Vision Transformer from `transformers` and a LoRA adapter from `peft`,
the reference for `smalldata::finetune::{Vit, PeftLora}` (tests/vit_peft.rs reads what
this writes). Nothing is downloaded: the model is built from a config.

    .venv/bin/pip install transformers peft      # dev only, not needed by CI
    .venv/bin/python tests/golden/make_vit_golden.py

Writes, under tests/golden/vit/:
  model/                 a ViTForImageClassification folder as `save_pretrained` writes it
                         (config.json, model.safetensors, preprocessor_config.json)
  pooled/                a ViTModel with its pooler, the same way
  adapter/               a peft LoRA adapter (query, value; classifier in modules_to_save)
                         saved by peft with the module names of this transformers version
  adapter_v4/            the same adapter under transformers 4's module names
                         (`encoder.layer.N.attention.attention.query`), which is what
                         peft wrote before transformers 5 renamed the modules
  expected.safetensors   inputs and the outputs Rust must reproduce
  expected.json          counts, peft's printed line, optimiser settings, versions
"""
import contextlib
import io
import json
import os
import re
import shutil

import peft
import torch
import transformers
from peft import LoraConfig, PeftModel, get_peft_model
from safetensors.torch import load_file, save_file
from transformers import ViTConfig, ViTForImageClassification, ViTImageProcessor, ViTModel

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "vit")
shutil.rmtree(HERE, ignore_errors=True)
os.makedirs(HERE)
torch.manual_seed(0)

config = ViTConfig(
    image_size=16,
    patch_size=4,
    num_channels=3,
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=64,
    num_labels=3,
    hidden_dropout_prob=0.0,
    attention_probs_dropout_prob=0.0,
)
model = ViTForImageClassification(config).eval()
# the random init leaves biases and the position embeddings small: spread them so a
# wrong name or a wrong interpolation shows in the logits
with torch.no_grad():
    for name, p in model.named_parameters():
        if name.endswith("bias") or "position_embeddings" in name or "cls_token" in name:
            p.normal_(0.0, 0.2)
model.save_pretrained(os.path.join(HERE, "model"))
ViTImageProcessor(size={"height": 16, "width": 16}, image_mean=[0.5, 0.4, 0.3], image_std=[0.2, 0.25, 0.3]).save_pretrained(os.path.join(HERE, "model"))

pooled = ViTModel(config, add_pooling_layer=True).eval()
with torch.no_grad():
    for name, p in pooled.named_parameters():
        if name.endswith("bias") or "position_embeddings" in name or "cls_token" in name:
            p.normal_(0.0, 0.2)
pooled.save_pretrained(os.path.join(HERE, "pooled"))

g = torch.Generator().manual_seed(1)
pixels = torch.randn(4, 3, 16, 16, generator=g)
pixels24 = torch.randn(2, 3, 24, 20, generator=g)  # other size, other aspect: interpolated position embeddings
labels = torch.tensor([0, 2, 1, 2])
out = {"pixels": pixels, "pixels24": pixels24, "labels": labels.to(torch.float32)}
with torch.no_grad():
    out["logits"] = model(pixel_values=pixels).logits
    out["logits24"] = model(pixel_values=pixels24, interpolate_pos_encoding=True).logits
    o = pooled(pixel_values=pixels)
    out["pooled_last_hidden"] = o.last_hidden_state
    out["pooled_pooler"] = o.pooler_output

# peft's recipe for image classification: LoRA on query and value, the classifier in
# modules_to_save (transformers 5 calls those modules q_proj and v_proj)
lora = LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules=["q_proj", "v_proj"], modules_to_save=["classifier"])
wrapped = get_peft_model(model, lora)
buf = io.StringIO()
with contextlib.redirect_stdout(buf):
    wrapped.print_trainable_parameters()
printed = buf.getvalue().strip()
trainable, total = wrapped.get_nb_trainable_parameters()
distinct_total = sum(p.numel() for n, p in wrapped.named_parameters() if "original_module" not in n)

# B = 0 at start leaves the logits unchanged; give it seeded values to test the update
g = torch.Generator().manual_seed(2)
with torch.no_grad():
    for name, p in wrapped.named_parameters():
        if "lora_B" in name:
            p.copy_(torch.randn(p.shape, generator=g) * 0.3)
        if "modules_to_save" in name:
            p.add_(torch.randn(p.shape, generator=g) * 0.1)
wrapped.eval()
with torch.no_grad():
    out["logits_lora"] = wrapped(pixel_values=pixels).logits
wrapped.save_pretrained(os.path.join(HERE, "adapter"))
for f in os.listdir(os.path.join(HERE, "adapter")):
    if f not in ("adapter_model.safetensors", "adapter_config.json"):
        os.remove(os.path.join(HERE, "adapter", f))

# the same adapter as peft wrote it on transformers 4
OLD = [(r"\.layers\.(\d+)\.", r".encoder.layer.\1."), (r"attention\.q_proj", "attention.attention.query"),
       (r"attention\.k_proj", "attention.attention.key"), (r"attention\.v_proj", "attention.attention.value")]
def old_name(key):
    for pattern, repl in OLD:
        key = re.sub(pattern, repl, key)
    return key
os.makedirs(os.path.join(HERE, "adapter_v4"))
weights = load_file(os.path.join(HERE, "adapter", "adapter_model.safetensors"))
save_file({old_name(k): v.contiguous() for k, v in weights.items()}, os.path.join(HERE, "adapter_v4", "adapter_model.safetensors"))
cfg = json.load(open(os.path.join(HERE, "adapter", "adapter_config.json")))
cfg["target_modules"] = sorted({"q_proj": "query", "v_proj": "value"}[t] for t in cfg["target_modules"])
json.dump(cfg, open(os.path.join(HERE, "adapter_v4", "adapter_config.json"), "w"), indent=2)

# merged weight of the first query projection, as merge_and_unload computes it
for name, module in wrapped.named_modules():
    if name.endswith("layers.0.attention.q_proj"):
        out["merged_query0"] = module.get_delta_weight("default") + module.base_layer.weight

# a few AdamW steps on the fixed batch: the adapters and the classifier copy train
steps, lr, betas, eps, weight_decay = 3, 1e-2, (0.9, 0.99), 1e-6, 0.05
wrapped.train()
opt = torch.optim.AdamW([p for p in wrapped.parameters() if p.requires_grad], lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
losses = []
for _ in range(steps):
    opt.zero_grad()
    loss = torch.nn.functional.cross_entropy(wrapped(pixel_values=pixels).logits, labels)
    loss.backward()
    opt.step()
    losses.append(loss.item())
for name, p in wrapped.named_parameters():
    if p.requires_grad:
        out["trained." + old_name(name.replace("base_model.model.", "").replace(".default", ""))] = p.detach()
wrapped.eval()
with torch.no_grad():
    out["logits_trained"] = wrapped(pixel_values=pixels).logits
save_file({k: v.contiguous() for k, v in out.items()}, os.path.join(HERE, "expected.safetensors"))

json.dump({
    "transformers": transformers.__version__,
    "peft": peft.__version__,
    "torch": torch.__version__,
    "peft_printed": printed,
    "peft_trainable": trainable,
    "peft_all": total,
    "distinct_total": distinct_total,
    "lora": {"r": 4, "alpha": 8, "targets": ["query", "value"]},
    "adamw": {"steps": steps, "lr": lr, "betas": list(betas), "eps": eps, "weight_decay": weight_decay},
    "losses": losses,
}, open(os.path.join(HERE, "expected.json"), "w"), indent=1)

# peft reloads its own adapter; whether it takes the transformers-4 names is printed
for folder in ("adapter", "adapter_v4"):
    try:
        reloaded = PeftModel.from_pretrained(ViTForImageClassification.from_pretrained(os.path.join(HERE, "model")).eval(), os.path.join(HERE, folder)).eval()
        with torch.no_grad():
            d = (reloaded(pixel_values=pixels).logits - out["logits_lora"]).abs().max().item()
        print(f"{folder}: reloaded by peft, max |logit difference| {d:.2e}")
    except Exception as e:  # noqa: BLE001 - the refusal is the finding
        print(f"{folder}: peft {peft.__version__} on transformers {transformers.__version__} refuses it: {type(e).__name__}")
print(printed)
print("distinct trained weights", trainable, "of", distinct_total)
