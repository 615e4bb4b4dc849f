"""Load the learned_embeds.safetensors that `cargo test --release --test stable_diffusion`
writes (textual inversion run in Rust on the tiny SD-2-like pipeline) with diffusers'
`pipe.load_textual_inversion`, sample "a photo of <tiny-toy>" from the fixture's start
latents, and compare with the image Rust sampled with the same file. Dev only (needs
diffusers and transformers, see make_sd_golden.py):

    cargo test --release --test stable_diffusion
    .venv/bin/python tests/golden/check_embeds_in_diffusers.py [target/tmp/sd_embeds_from_rust]
"""
import os
import sys

import torch
from diffusers import DDIMScheduler, StableDiffusionPipeline
from safetensors.torch import load_file

root = os.path.dirname(os.path.abspath(__file__))
found = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "..", "..", "target", "tmp", "sd_embeds_from_rust")
embeds = os.path.join(found, "learned_embeds.safetensors")
if not os.path.isfile(embeds):
    sys.exit("no embedding saved by the Rust test: run `cargo test --release --test stable_diffusion` first")
pipe = StableDiffusionPipeline.from_pretrained(os.path.join(root, "sd", "sd2"), safety_checker=None, requires_safety_checker=False)
pipe.scheduler = DDIMScheduler.from_config(pipe.scheduler.config)
before = len(pipe.tokenizer)
pipe.load_textual_inversion(embeds)
token_id = pipe.tokenizer.convert_tokens_to_ids("<tiny-toy>")
row = pipe.text_encoder.get_input_embeddings().weight[token_id].detach()
written = load_file(embeds)["<tiny-toy>"].reshape(-1)
start = load_file(os.path.join(root, "sd", "sd2.safetensors"))["ddim_start"]
with torch.no_grad():
    image = pipe("a photo of <tiny-toy>", height=32, width=32, num_inference_steps=3, guidance_scale=5.0,
                 latents=start.clone(), output_type="pt").images
rust = load_file(os.path.join(found, "image.safetensors"))["image"]
d_row = (row - written).abs().max().item()
d_img = (image - rust).abs().max().item()
print(f"token <tiny-toy>: id {token_id} (vocabulary had {before}); |row - file| {d_row:.2e}; "
      f"|diffusers image - smalldata image| max {d_img:.2e} over {image.numel()} values")
sys.exit(0 if token_id == before and d_row == 0.0 and d_img < 1e-4 else 1)
