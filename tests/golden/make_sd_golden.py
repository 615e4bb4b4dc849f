"""Tiny random Stable Diffusion pipelines built with `diffusers` and `transformers`, the
reference for `smalldata::generate::stable_diffusion` (tests/stable_diffusion.rs reads
what this writes). Nothing is downloaded: every component is built from a config, and
the tokenizer's vocabulary is learned here from a few sentences.

    .venv/bin/pip install diffusers==0.42.1 transformers==5.25.0   # dev only, not CI
    .venv/bin/python tests/golden/make_sd_golden.py

Writes, under tests/golden/sd/:
  sd1/        an SD-1-like pipeline as `StableDiffusionPipeline.save_pretrained` writes
              it: CLIP text encoder with quick_gelu, tokenizer as vocab.json + merges.txt
              (pad `<|endoftext|>`), UNet with convolutional projections and one head
              count for all blocks, epsilon prediction, the PNDM scheduler config SD 1.x
              ships (steps_offset 1, set_alpha_to_one false, "leading" spacing)
  sd2/        an SD-2-like pipeline: gelu text encoder, tokenizer as tokenizer.json only
              (pad "!"), head counts as a list, linear projections, v-prediction, a DDIM
              scheduler config with "trailing" spacing
  images/     three small RGB images for the inversion run (one square, two not)
  sd1.safetensors, sd2.safetensors   inputs and outputs Rust must reproduce
  expected.json   token ids, texts, the inversion's draws and losses, versions

The textual-inversion run follows diffusers' examples/textual_inversion/textual_inversion.py
step by step (placeholder tokens added, rows initialised from the initializer token,
AdamW over the input embeddings with lr scaled by the batch size, rows other than the
placeholders restored after every step), but every random choice is drawn here from a
seeded generator and recorded (image order, template, flip, the VAE posterior's noise,
the diffusion noise, the timesteps), so that Rust can replay the run exactly.
"""
import collections
import json
import os
import random
import re
import shutil

import diffusers
import numpy as np
import torch
import torch.nn.functional as F
import transformers
from diffusers import (AutoencoderKL, DDIMScheduler, DDPMScheduler, PNDMScheduler,
                       StableDiffusionPipeline, UNet2DConditionModel)
from PIL import Image
from safetensors.torch import load_file, save_file
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sd")
shutil.rmtree(HERE, ignore_errors=True)
os.makedirs(HERE)
torch.manual_seed(0)
torch.use_deterministic_algorithms(True)


# ---- a small CLIP BPE vocabulary -------------------------------------------------------

def bytes_to_unicode():
    """GPT-2's reversible map from bytes to printable characters, which CLIP uses."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


CORPUS = """a photo of a toy . a rendering of a cat . a cropped photo of the sneaker .
the photo of a boot . a photo of a clean dress . a photo of a dirty bag . a dark photo
of the shirt . a photo of my dog . a photo of the cool toy . a close-up photo of a cat .
a bright photo of the boot . a good photo of the sneaker . a photo of one small toy .
a rendition of the cat . a photo of the nice dress . a photo of the weird large bag .
a painting in the style of toys , it's the photos of cats and dogs 123 ."""
byte_map = bytes_to_unicode()
words = collections.Counter(re.findall(r"[a-z]+|[0-9]|[^\sa-z0-9]+", CORPUS.lower()))
# each word as a tuple of byte characters, the last one marked as a word end
split = {w: tuple(byte_map[b] for b in w.encode())[:-1] + (byte_map[w.encode()[-1]] + "</w>",) for w in words}
merges = []
for _ in range(120):
    pairs = collections.Counter()
    for w, n in words.items():
        s = split[w]
        for a, b in zip(s, s[1:]):
            pairs[(a, b)] += n
    if not pairs:
        break
    best = max(pairs, key=lambda p: (pairs[p], p))
    merges.append(best)
    for w in words:
        s, out, i = split[w], [], 0
        while i < len(s):
            if i + 1 < len(s) and (s[i], s[i + 1]) == best:
                out.append(s[i] + s[i + 1])
                i += 2
            else:
                out.append(s[i])
                i += 1
        split[w] = tuple(out)
vocab_list = list(byte_map.values())
vocab_list += [v + "</w>" for v in vocab_list]
vocab_list += ["".join(m) for m in merges]
vocab_list += ["<|startoftext|>", "<|endoftext|>"]
vocab = {tok: i for i, tok in enumerate(vocab_list)}
tok_src = os.path.join(HERE, "tokenizer_src")
os.makedirs(tok_src)
with open(os.path.join(tok_src, "vocab.json"), "w", encoding="utf-8") as f:
    json.dump(vocab, f, ensure_ascii=False)
with open(os.path.join(tok_src, "merges.txt"), "w", encoding="utf-8") as f:
    f.write("#version: 0.2\n" + "\n".join(" ".join(m) for m in merges) + "\n")

PROMPTS = [
    "a photo of a toy",
    "A   Photo of the  COOL toy!",
    "it's a close-up photo of 123 cats, dogs & boots",
    "",
    "naïve café — über photo",
    " ".join(["photo"] * 90),  # longer than the model's length: truncated, end token kept
]

# ---- tiny components ---------------------------------------------------------------------


def spread(module, scale=0.2):
    """Random init leaves biases at 0 and norms at 1: move them so a wrong name shows."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            if p.dim() == 1:
                p.add_(torch.randn_like(p) * scale)


def text_encoder(act, pad_id):
    cfg = CLIPTextConfig(vocab_size=len(vocab), hidden_size=32, intermediate_size=37, num_hidden_layers=2,
                         num_attention_heads=4, max_position_embeddings=77, hidden_act=act,
                         bos_token_id=vocab["<|startoftext|>"], eos_token_id=vocab["<|endoftext|>"], pad_token_id=pad_id)
    m = CLIPTextModel(cfg).eval()
    spread(m)
    return m


def vae():
    m = AutoencoderKL(in_channels=3, out_channels=3,
                      down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
                      up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
                      block_out_channels=(16, 32), layers_per_block=1, latent_channels=4,
                      norm_num_groups=8, sample_size=32, scaling_factor=0.18215).eval()
    spread(m, 0.1)
    return m


sd1_unet = UNet2DConditionModel(
    sample_size=16, in_channels=4, out_channels=4, layers_per_block=2, block_out_channels=(16, 32),
    down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
    cross_attention_dim=32, attention_head_dim=2, norm_num_groups=8).eval()
sd2_unet = UNet2DConditionModel(
    sample_size=16, in_channels=4, out_channels=4, layers_per_block=1, block_out_channels=(16, 32),
    down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
    up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
    cross_attention_dim=32, attention_head_dim=(2, 4), use_linear_projection=True, norm_num_groups=8).eval()
spread(sd1_unet)
spread(sd2_unet)

sd1_sched = PNDMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", num_train_timesteps=1000,
                          set_alpha_to_one=False, skip_prk_steps=True, steps_offset=1, prediction_type="epsilon")
sd2_sched = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", num_train_timesteps=1000,
                          clip_sample=False, set_alpha_to_one=False, steps_offset=1, prediction_type="v_prediction",
                          timestep_spacing="trailing")

tok1 = CLIPTokenizer(os.path.join(tok_src, "vocab.json"), os.path.join(tok_src, "merges.txt"), pad_token="<|endoftext|>")
tok1.model_max_length = 77
tok2 = CLIPTokenizer(os.path.join(tok_src, "vocab.json"), os.path.join(tok_src, "merges.txt"), pad_token="!")
tok2.model_max_length = 77

pipes = {}
for name, tok, act, unet, sched in [("sd1", tok1, "quick_gelu", sd1_unet, sd1_sched),
                                    ("sd2", tok2, "gelu", sd2_unet, sd2_sched)]:
    pipe = StableDiffusionPipeline(vae=vae(), text_encoder=text_encoder(act, tok.pad_token_id), tokenizer=tok, unet=unet,
                                   scheduler=sched, safety_checker=None, feature_extractor=None,
                                   requires_safety_checker=False)
    pipe.save_pretrained(os.path.join(HERE, name))
    pipes[name] = pipe
shutil.rmtree(tok_src)
# SD 1.x repositories ship vocab.json + merges.txt; newer transformers writes tokenizer.json.
# Keep exactly one form per folder so each reader is exercised.
t1 = os.path.join(HERE, "sd1", "tokenizer")
t2 = os.path.join(HERE, "sd2", "tokenizer")
for f in ["tokenizer.json"]:
    if os.path.exists(os.path.join(t1, f)):
        os.remove(os.path.join(t1, f))
if not os.path.exists(os.path.join(t1, "vocab.json")):
    # this transformers wrote only tokenizer.json: write the pair SD 1.x ships from the same vocabulary
    with open(os.path.join(t1, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(os.path.join(t1, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "\n".join(" ".join(m) for m in merges) + "\n")
for f in ["vocab.json", "merges.txt"]:
    if os.path.exists(os.path.join(t2, f)):
        os.remove(os.path.join(t2, f))
assert os.path.exists(os.path.join(t2, "tokenizer.json"))

# reload from disk so the reference is what the folder says, not what was in memory
for name in pipes:
    pipes[name] = StableDiffusionPipeline.from_pretrained(os.path.join(HERE, name), safety_checker=None,
                                                          requires_safety_checker=False).to(torch.float32)

# ---- images for the inversion run ------------------------------------------------------
img_dir = os.path.join(HERE, "images")
os.makedirs(img_dir)
rng = np.random.default_rng(3)
for i, (h, w) in enumerate([(32, 32), (40, 32), (32, 44)]):
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([(xx * 255 // w), (yy * 255 // h), np.full((h, w), 40 + 80 * i)], -1)
    noise = rng.integers(0, 60, size=(h, w, 3))
    Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8)).save(os.path.join(img_dir, f"img{i}.png"))

TEMPLATES = ["a photo of a {}", "a rendering of a {}", "a cropped photo of the {}", "the photo of a {}",
             "a photo of a clean {}", "a photo of a dirty {}", "a dark photo of the {}", "a photo of my {}",
             "a photo of the cool {}", "a close-up photo of a {}", "a bright photo of the {}",
             "a cropped photo of a {}", "a photo of the {}", "a good photo of the {}", "a photo of one {}",
             "a close-up photo of the {}", "a rendition of the {}", "a photo of the clean {}",
             "a rendition of a {}", "a photo of a nice {}", "a good photo of a {}", "a photo of the nice {}",
             "a photo of the small {}", "a photo of the weird {}", "a photo of the large {}",
             "a photo of a cool {}", "a photo of a small {}"]


def load_image(path, size, center_crop, flip):
    """TextualInversionDataset.__getitem__'s image path, with the flip given."""
    image = Image.open(path)
    if image.mode != "RGB":
        image = image.convert("RGB")
    img = np.array(image).astype(np.uint8)
    if center_crop:
        crop = min(img.shape[0], img.shape[1])
        h, w = img.shape[0], img.shape[1]
        img = img[(h - crop) // 2:(h + crop) // 2, (w - crop) // 2:(w + crop) // 2]
    image = Image.fromarray(img).resize((size, size), resample=Image.BICUBIC)
    if flip:
        image = image.transpose(Image.FLIP_LEFT_RIGHT)
    image = (np.array(image).astype(np.uint8) / 127.5 - 1.0).astype(np.float32)
    return torch.from_numpy(image).permute(2, 0, 1)


def invert(pipe, placeholder, initializer, num_vectors, steps, lr, batch, size, center_crop, seed):
    """diffusers' textual_inversion.py training loop, its random draws made from `g` and recorded."""
    tok, te, unet, vae_, sched = pipe.tokenizer, pipe.text_encoder, pipe.unet, pipe.vae, pipe.scheduler
    noise_scheduler = DDPMScheduler.from_config(sched.config)
    tokens = [placeholder] + [f"{placeholder}_{i}" for i in range(1, num_vectors)]
    assert tok.add_tokens(tokens) == num_vectors
    init_ids = tok.encode(initializer, add_special_tokens=False)
    assert len(init_ids) == 1
    ids = tok.convert_tokens_to_ids(tokens)
    te.resize_token_embeddings(len(tok))
    emb = te.get_input_embeddings().weight
    with torch.no_grad():
        for i in ids:
            emb[i] = emb[init_ids[0]].clone()
    lr = lr * batch  # --scale_lr
    opt = torch.optim.AdamW(te.get_input_embeddings().parameters(), lr=lr, betas=(0.9, 0.999),
                            weight_decay=1e-2, eps=1e-8)
    orig = emb.data.clone()
    paths = sorted(os.listdir(img_dir))
    placeholder_string = " ".join(tok.convert_ids_to_tokens(ids))
    g = torch.Generator().manual_seed(seed)
    pyrng = random.Random(seed)
    record = {"steps": []}
    tensors = {}
    for step in range(steps):
        order = [pyrng.randrange(len(paths)) for _ in range(batch)]
        templates = [pyrng.randrange(len(TEMPLATES)) for _ in range(batch)]
        flips = [pyrng.random() < 0.5 for _ in range(batch)]
        texts = [TEMPLATES[t].format(placeholder_string) for t in templates]
        pixels = torch.stack([load_image(os.path.join(img_dir, paths[o]), size, center_crop, f)
                              for o, f in zip(order, flips)])
        input_ids = tok(texts, padding="max_length", truncation=True, max_length=tok.model_max_length,
                        return_tensors="pt").input_ids
        dist = vae_.encode(pixels).latent_dist
        vae_noise = torch.randn(dist.mean.shape, generator=g)
        latents = (dist.mean + dist.std * vae_noise).detach() * vae_.config.scaling_factor
        noise = torch.randn(latents.shape, generator=g)
        timesteps = torch.randint(0, noise_scheduler.config.num_train_timesteps, (batch,), generator=g).long()
        noisy = noise_scheduler.add_noise(latents, noise, timesteps)
        hidden = te(input_ids)[0]
        pred = unet(noisy, timesteps, hidden).sample
        if noise_scheduler.config.prediction_type == "epsilon":
            target = noise
        else:
            target = noise_scheduler.get_velocity(latents, noise, timesteps)
        loss = F.mse_loss(pred.float(), target.float(), reduction="mean")
        loss.backward()
        opt.step()
        opt.zero_grad()
        keep = torch.ones((len(tok),), dtype=torch.bool)
        keep[min(ids):max(ids) + 1] = False
        with torch.no_grad():
            te.get_input_embeddings().weight[keep] = orig[keep]
        record["steps"].append({"images": order, "templates": templates, "flips": flips, "texts": texts,
                                "input_ids": input_ids.tolist(), "timesteps": timesteps.tolist(),
                                "loss": loss.item()})
        tensors[f"inv_step{step}_pixels"] = pixels
        tensors[f"inv_step{step}_vae_noise"] = vae_noise
        tensors[f"inv_step{step}_noise"] = noise
    learned = te.get_input_embeddings().weight[min(ids):max(ids) + 1].detach().clone()
    tensors["inv_learned"] = learned
    tensors["inv_initial"] = orig[init_ids[0]].clone()
    record.update({"placeholder": placeholder, "initializer": initializer, "initializer_id": init_ids[0],
                   "placeholder_ids": ids, "num_vectors": num_vectors, "lr_scaled": lr, "batch": batch,
                   "resolution": size, "center_crop": center_crop, "image_files": paths})
    return record, tensors


expected = {"versions": {"torch": torch.__version__, "diffusers": diffusers.__version__,
                         "transformers": transformers.__version__}, "prompts": PROMPTS}
for name, pipe in pipes.items():
    g = torch.Generator().manual_seed(11 if name == "sd1" else 12)
    out = {}
    rec = {}
    tok, te, unet, vae_, sched = pipe.tokenizer, pipe.text_encoder, pipe.unet, pipe.vae, pipe.scheduler
    ids = tok(PROMPTS, padding="max_length", truncation=True, max_length=tok.model_max_length, return_tensors="pt").input_ids
    rec["prompt_ids"] = ids.tolist()
    rec["pad_token"] = tok.pad_token
    with torch.no_grad():
        hidden = te(ids)[0]
        out["prompt_hidden"] = hidden
        latents = torch.randn(2, 4, 8, 8, generator=g)
        t = torch.tensor([10, 737])
        out["unet_latents"] = latents
        out["unet_timesteps"] = t.float()
        out["unet_out"] = unet(latents, t, hidden[:2]).sample
        images = torch.rand(2, 3, 16, 16, generator=g) * 2 - 1
        dist = vae_.encode(images).latent_dist
        out["vae_images"] = images
        out["vae_mean"] = dist.mean
        out["vae_std"] = dist.std
        z = torch.randn(2, 4, 8, 8, generator=g)
        out["vae_z"] = z
        out["vae_decoded"] = vae_.decode(z).sample
        # DDIM with classifier-free guidance, the pipeline's own loop, from given latents
        sch = DDIMScheduler.from_config(sched.config)
        sch.set_timesteps(4)
        rec["ddim_timesteps"] = sch.timesteps.tolist()
        x = torch.randn(1, 4, 8, 8, generator=g)
        out["ddim_start"] = x
        cond = te(tok(["a photo of a toy"], padding="max_length", max_length=77, truncation=True, return_tensors="pt").input_ids)[0]
        unc = te(tok([""], padding="max_length", max_length=77, truncation=True, return_tensors="pt").input_ids)[0]
        for i, ts in enumerate(sch.timesteps):
            eps = unet(torch.cat([x, x]), ts, torch.cat([unc, cond])).sample
            e_u, e_c = eps.chunk(2)
            x = sch.step(e_u + 3.0 * (e_c - e_u), ts, x).prev_sample
            out[f"ddim_step{i}"] = x
        # the whole pipeline from the same start: tokenising, guidance, DDIM and decoding
        pipe.scheduler = DDIMScheduler.from_config(sched.config)
        img = pipe("a photo of a toy", height=32, width=32, num_inference_steps=4, guidance_scale=3.0,
                   latents=out["ddim_start"].clone(), output_type="pt").images
        out["pipeline_image"] = img
        pipe.scheduler = sched
    sched_cfg = dict(sched.config)
    rec["scheduler_class"] = type(sched).__name__
    inv, inv_t = invert(pipe, "<tiny-toy>", "toy", 2 if name == "sd1" else 1, 3, 5e-3, 2, 32, True, 5)
    rec["inversion"] = inv
    out.update(inv_t)
    # diffusers' format for the learned embedding, written as save_progress does
    save_file({"<tiny-toy>": inv_t["inv_learned"]}, os.path.join(HERE, f"{name}_learned_embeds.safetensors"),
              metadata={"format": "pt"})
    # and diffusers reads it back into a fresh pipeline, then samples with the token
    fresh = StableDiffusionPipeline.from_pretrained(os.path.join(HERE, name), safety_checker=None,
                                                    requires_safety_checker=False)
    fresh.scheduler = DDIMScheduler.from_config(fresh.scheduler.config)
    fresh.load_textual_inversion(os.path.join(HERE, f"{name}_learned_embeds.safetensors"))
    # the pipeline expands a multi-vector token ("<t>" -> "<t> <t>_1") before tokenising
    rec["ti_prompt"] = fresh.maybe_convert_prompt("a photo of <tiny-toy>", fresh.tokenizer)
    rec["ti_prompt_ids"] = fresh.tokenizer([rec["ti_prompt"]], padding="max_length", max_length=77,
                                           truncation=True).input_ids
    with torch.no_grad():
        out["ti_image"] = fresh("a photo of <tiny-toy>", height=32, width=32, num_inference_steps=3,
                                guidance_scale=5.0, latents=out["ddim_start"].clone(), output_type="pt").images
    save_file({k: v.contiguous().float() for k, v in out.items()}, os.path.join(HERE, f"{name}.safetensors"))
    expected[name] = rec
with open(os.path.join(HERE, "expected.json"), "w") as f:
    json.dump(expected, f, indent=1)
total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(HERE) for f in fs)
print(f"wrote {HERE}: {total / 1e6:.2f} MB")
