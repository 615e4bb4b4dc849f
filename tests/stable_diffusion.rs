//! Stable Diffusion against diffusers and transformers on two tiny random pipelines
//! (SD-1-like: epsilon, convolutional projections, one head count, PNDM config,
//! vocab.json + merges.txt; SD-2-like: v-prediction, linear projections, head counts
//! per block, DDIM config with trailing spacing, tokenizer.json only). Text states,
//! UNet outputs, VAE posteriors and decodings, DDIM steps, the whole pipeline, a
//! textual-inversion run replayed draw by draw, and the learned embedding read by
//! diffusers. Fixtures: tests/golden/make_sd_golden.py.
use smalldata::generate::stable_diffusion::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tch::{Device, Kind, Tensor};

const NAMES: [&str; 2] = ["sd1", "sd2"];

fn golden() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/sd")
}

fn expected(name: &str) -> BTreeMap<String, Tensor> {
    Tensor::read_safetensors(golden().join(format!("{name}.safetensors"))).unwrap().into_iter().collect()
}

fn facts() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(golden().join("expected.json")).unwrap()).unwrap()
}

fn open(name: &str) -> StableDiffusion {
    StableDiffusion::open(&golden().join(name), Device::Cpu, Kind::Float).unwrap()
}

/// `|a - b| <= 1e-4 |b| + 1e-5` everywhere (float32 against float32), with the worst
/// element in the message.
fn assert_close(what: &str, a: &Tensor, b: &Tensor) {
    assert_eq!(a.size(), b.size(), "{what}: shapes");
    let a = a.to_kind(Kind::Double);
    let b = b.to_kind(Kind::Double);
    let excess = (&a - &b).abs() - (b.abs() * 1e-4 + 1e-5);
    let worst = excess.max().double_value(&[]);
    let diff = (&a - &b).abs().max().double_value(&[]);
    assert!(worst <= 0.0, "{what}: max |diff| {diff:.3e} exceeds 1e-4 relative (scale {:.3e})", b.abs().max().double_value(&[]));
}

fn ids_tensor(v: &serde_json::Value) -> Tensor {
    let rows: Vec<Vec<i64>> = serde_json::from_value(v.clone()).unwrap();
    let flat: Vec<i64> = rows.iter().flatten().copied().collect();
    Tensor::from_slice(&flat).view([rows.len() as i64, -1])
}

#[test]
fn text_encoder_unet_and_vae_match_diffusers() {
    let facts = facts();
    for name in NAMES {
        let sd = open(name);
        let e = expected(name);
        let ids = ids_tensor(&facts[name]["prompt_ids"]);
        let hidden = tch::no_grad(|| sd.text_encoder.forward(&ids));
        assert_close(&format!("{name} text states"), &hidden, &e["prompt_hidden"]);
        // the tokenizer gives the same ids, so prompts in give the same states out
        let prompts: Vec<String> = serde_json::from_value(facts["prompts"].clone()).unwrap();
        let refs: Vec<&str> = prompts.iter().map(String::as_str).collect();
        assert!(sd.token_ids(&refs).equal(&ids), "{name}: token ids");
        let out = tch::no_grad(|| sd.unet.forward(&e["unet_latents"], &e["unet_timesteps"].to_kind(Kind::Int64), &e["prompt_hidden"].narrow(0, 0, 2)));
        assert_close(&format!("{name} UNet"), &out, &e["unet_out"]);
        let dist = tch::no_grad(|| sd.vae.encode(&e["vae_images"]));
        assert_close(&format!("{name} VAE mean"), &dist.mean, &e["vae_mean"]);
        assert_close(&format!("{name} VAE std"), &dist.std, &e["vae_std"]);
        let decoded = tch::no_grad(|| sd.vae.decode(&e["vae_z"]));
        assert_close(&format!("{name} VAE decoder"), &decoded, &e["vae_decoded"]);
    }
}

#[test]
fn ddim_with_guidance_and_the_whole_pipeline_match_diffusers() {
    let facts = facts();
    for name in NAMES {
        let sd = open(name);
        let e = expected(name);
        let ts: Vec<i64> = serde_json::from_value(facts[name]["ddim_timesteps"].clone()).unwrap();
        assert_eq!(sd.scheduler.ddim_timesteps(4).unwrap(), ts, "{name}: DDIM timesteps");
        let cond = sd.encode_prompts(&["a photo of a toy"]);
        let unc = sd.encode_prompts(&[""]);
        let mut x = e["ddim_start"].shallow_clone();
        for (i, &t) in ts.iter().enumerate() {
            let out = tch::no_grad(|| sd.unet.forward(&Tensor::cat(&[&x, &x], 0), &Tensor::from_slice(&[t]), &Tensor::cat(&[&unc, &cond], 0)));
            let parts = out.chunk(2, 0);
            let pred = &parts[0] + (&parts[1] - &parts[0]) * 3.0;
            x = sd.scheduler.ddim_step(&pred, t, &x, 4);
            assert_close(&format!("{name} DDIM step {i}"), &x, &e[&format!("ddim_step{i}")]);
        }
        let opts = SampleOptions { steps: 4, guidance: 3.0, size: (32, 32), ..Default::default() };
        let img = sd.sample_from("a photo of a toy", &e["ddim_start"], &opts).unwrap();
        assert_close(&format!("{name} pipeline image"), &img, &e["pipeline_image"]);
    }
}

/// diffusers' training step replayed with its own draws: pixels, prompts, token ids,
/// loss per step and the learned rows; every other weight unchanged, bit for bit.
#[test]
fn textual_inversion_replays_diffusers_step_by_step() {
    let facts = facts();
    for name in NAMES {
        let sd = open(name);
        let e = expected(name);
        let inv = &facts[name]["inversion"];
        let before: Vec<(String, Tensor)> = sd.weights().into_iter().map(|(k, v)| (k, v.copy())).collect();
        let cfg = InversionConfig {
            placeholder: inv["placeholder"].as_str().unwrap().into(),
            initializer: inv["initializer"].as_str().unwrap().into(),
            num_vectors: inv["num_vectors"].as_u64().unwrap() as usize,
            steps: inv["steps"].as_array().unwrap().len(),
            learning_rate: 5e-3,
            scale_lr: true,
            batch_size: inv["batch"].as_u64().unwrap() as usize,
            resolution: inv["resolution"].as_i64().unwrap(),
            center_crop: inv["center_crop"].as_bool().unwrap(),
            ..Default::default()
        };
        let (files, images) = load_inversion_images(&golden().join("images"), cfg.resolution, cfg.center_crop).unwrap();
        let names: Vec<String> = files.iter().map(|f| f.file_name().unwrap().to_string_lossy().into_owned()).collect();
        assert_eq!(serde_json::json!(names), inv["image_files"]);
        let mut ti = TextualInversion::new(sd, files, images, cfg).unwrap();
        assert_eq!(serde_json::json!(ti.token_ids()), inv["placeholder_ids"], "{name}: placeholder ids");
        assert!((ti.learning_rate() - inv["lr_scaled"].as_f64().unwrap()).abs() < 1e-12);
        for (i, step) in inv["steps"].as_array().unwrap().iter().enumerate() {
            let get = |k: &str| serde_json::from_value::<Vec<serde_json::Value>>(step[k].clone()).unwrap();
            let draws = StepDraws {
                images: get("images").iter().map(|v| v.as_u64().unwrap() as usize).collect(),
                templates: get("templates").iter().map(|v| v.as_u64().unwrap() as usize).collect(),
                flips: get("flips").iter().map(|v| v.as_bool().unwrap()).collect(),
                vae_noise: e[&format!("inv_step{i}_vae_noise")].shallow_clone(),
                noise: e[&format!("inv_step{i}_noise")].shallow_clone(),
                timesteps: get("timesteps").iter().map(|v| v.as_i64().unwrap()).collect(),
            };
            assert!(ti.pixels(&draws).unwrap().equal(&e[&format!("inv_step{i}_pixels")]), "{name} step {i}: pixels");
            let texts = ti.texts(&draws).unwrap();
            assert_eq!(serde_json::json!(texts), step["texts"], "{name} step {i}: prompts");
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            assert!(ti.model().token_ids(&refs).equal(&ids_tensor(&step["input_ids"])), "{name} step {i}: token ids");
            let loss = ti.step_with(&draws).unwrap();
            let want = step["loss"].as_f64().unwrap();
            assert!((loss - want).abs() <= 1e-4 * want.abs(), "{name} step {i}: loss {loss} vs diffusers {want}");
        }
        assert_close(&format!("{name} learned embedding"), &ti.learned(), &e["inv_learned"]);
        let sd = ti.into_model();
        for ((k, a), (_, b)) in before.iter().zip(sd.weights()) {
            assert!(a.equal(&b), "{name}: {k} changed during inversion");
        }
    }
}

/// diffusers' `learned_embeds.safetensors` loads here, and sampling with the token
/// gives diffusers' image; a multi-vector token is written out as diffusers does.
#[test]
fn learned_embeds_from_diffusers_load_and_sample_the_same_image() {
    let facts = facts();
    for name in NAMES {
        let mut sd = open(name);
        let e = expected(name);
        let tokens = sd.load_textual_inversion(&golden().join(format!("{name}_learned_embeds.safetensors")), None).unwrap();
        assert_eq!(tokens[0], "<tiny-toy>");
        if name == "sd1" {
            assert_eq!(sd.expand_prompt("a photo of <tiny-toy>"), facts[name]["ti_prompt"].as_str().unwrap());
            assert!(sd.token_ids(&[&sd.expand_prompt("a photo of <tiny-toy>")]).equal(&ids_tensor(&facts[name]["ti_prompt_ids"])));
        }
        let opts = SampleOptions { steps: 3, guidance: 5.0, size: (32, 32), ..Default::default() };
        let img = sd.sample_from("a photo of <tiny-toy>", &e["ddim_start"], &opts).unwrap();
        assert_close(&format!("{name} image with the learned token"), &img, &e["ti_image"]);
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let p = entry.unwrap().path();
        let dest = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_dir(&p, &dest);
        } else {
            std::fs::copy(&p, &dest).unwrap();
        }
    }
}

fn err_of<T: std::fmt::Debug>(r: smalldata::Result<T>) -> String {
    r.expect_err("must be refused").to_string()
}

#[test]
fn errors_name_the_component_the_block_type_the_token_and_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    // a folder without its VAE
    let no_vae = tmp.path().join("no_vae");
    copy_dir(&golden().join("sd1"), &no_vae);
    std::fs::remove_dir_all(no_vae.join("vae")).unwrap();
    let msg = err_of(StableDiffusion::open(&no_vae, Device::Cpu, Kind::Float));
    assert!(msg.contains("\"vae\"") && msg.contains("missing"), "{msg}");
    // a block type this implementation does not have
    let odd = tmp.path().join("odd_block");
    copy_dir(&golden().join("sd1"), &odd);
    let cfg = odd.join("unet/config.json");
    let text = std::fs::read_to_string(&cfg).unwrap().replace("\"DownBlock2D\"", "\"AttnDownBlock2D\"");
    std::fs::write(&cfg, text).unwrap();
    let msg = err_of(StableDiffusion::open(&odd, Device::Cpu, Kind::Float));
    assert!(msg.contains("AttnDownBlock2D") && msg.contains("unet/config.json"), "{msg}");
    // weights of the wrong shape: PyTorch's wording, naming the key and both shapes
    let bad = tmp.path().join("bad_weights");
    copy_dir(&golden().join("sd1"), &bad);
    let w = bad.join("vae/diffusion_pytorch_model.safetensors");
    let mut tensors = Tensor::read_safetensors(&w).unwrap();
    tensors.retain(|(k, _)| k != "decoder.conv_out.bias");
    tensors.push(("decoder.conv_out.weight".into(), Tensor::zeros([2, 16, 3, 3], (Kind::Float, Device::Cpu))));
    tensors.push(("encoder.extra".into(), Tensor::zeros([1], (Kind::Float, Device::Cpu))));
    let mut dedup: BTreeMap<String, Tensor> = BTreeMap::new();
    for (k, t) in tensors {
        dedup.insert(k, t);
    }
    Tensor::write_safetensors(&dedup.into_iter().collect::<Vec<_>>(), &w).unwrap();
    let msg = err_of(StableDiffusion::open(&bad, Device::Cpu, Kind::Float));
    assert!(msg.contains("Missing key(s) in state_dict: \"decoder.conv_out.bias\""), "{msg}");
    assert!(msg.contains("Unexpected key(s) in state_dict: \"encoder.extra\""), "{msg}");
    assert!(msg.contains("size mismatch for decoder.conv_out.weight: copying a param with shape [2, 16, 3, 3] from checkpoint, the shape in current model is [3, 16, 3, 3]"), "{msg}");

    let (files, images) = load_inversion_images(&golden().join("images"), 32, true).unwrap();
    let cfg = |placeholder: &str, init: &str| InversionConfig { placeholder: placeholder.into(), initializer: init.into(), resolution: 32, steps: 1, ..Default::default() };
    // a placeholder the vocabulary already has
    let msg = err_of(TextualInversion::new(open("sd1"), files.clone(), images.iter().map(|t| t.copy()).collect(), cfg("toy", "toy")));
    assert!(msg.contains("\"toy\"") && msg.contains("already"), "{msg}");
    // an initializer of several tokens
    let msg = err_of(TextualInversion::new(open("sd1"), files.clone(), images.iter().map(|t| t.copy()).collect(), cfg("<x>", "xylophone")));
    assert!(msg.contains("xylophone") && msg.contains("single token"), "{msg}");
    // an image that does not decode
    let imgs = tmp.path().join("images");
    copy_dir(&golden().join("images"), &imgs);
    std::fs::write(imgs.join("broken.png"), b"not a png").unwrap();
    let msg = err_of(load_inversion_images(&imgs, 32, true));
    assert!(msg.contains("broken.png"), "{msg}");
}

/// A run stopped after two steps and resumed from its checkpoint ends where an
/// uninterrupted run ends; a different configuration is refused in that folder.
#[test]
fn inversion_resumes_exactly_and_writes_diffusers_format() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = InversionConfig { placeholder: "<tiny-toy>".into(), initializer: "toy".into(), resolution: 32, steps: 4, batch_size: 2, learning_rate: 5e-3, seed: 7, checkpoint_every: 1, save_every: 2, ..Default::default() };
    let run = |steps: usize, dir: &Path| {
        let (files, images) = load_inversion_images(&golden().join("images"), 32, false).unwrap();
        let mut ti = TextualInversion::new(open("sd2"), files, images, InversionConfig { steps, ..cfg.clone() }).unwrap();
        let h = ti.train(Some(dir), false).unwrap();
        (ti, h)
    };
    let (whole, h_whole) = run(4, &tmp.path().join("whole"));
    run(2, &tmp.path().join("split"));
    let (split, h_split) = run(4, &tmp.path().join("split"));
    assert_eq!(h_split.resumed_from, 2);
    assert_eq!(h_whole.losses, h_split.losses);
    assert!(whole.learned().equal(&split.learned()));
    assert!(h_whole.losses.iter().all(|l| l.is_finite()));
    // diffusers' format: one tensor named by the token
    let saved = Tensor::read_safetensors(tmp.path().join("whole/learned_embeds.safetensors")).unwrap();
    assert_eq!(saved.len(), 1);
    assert_eq!(saved[0].0, "<tiny-toy>");
    assert!(saved[0].1.equal(&whole.learned()));
    assert!(tmp.path().join("whole/learned_embeds-steps-2.safetensors").is_file());
    // and it loads back as a token that changes the text states
    let mut sd = open("sd2");
    sd.load_textual_inversion(&tmp.path().join("whole/learned_embeds.safetensors"), None).unwrap();
    assert!(sd.encode_prompts(&["a photo of <tiny-toy>"]).equal(&whole.into_model().encode_prompts(&["a photo of <tiny-toy>"])));
    // for tests/golden/check_embeds_in_diffusers.py: the file and the image sampled with it
    let for_diffusers = Path::new(env!("CARGO_TARGET_TMPDIR")).join("sd_embeds_from_rust");
    std::fs::create_dir_all(&for_diffusers).unwrap();
    std::fs::copy(tmp.path().join("whole/learned_embeds.safetensors"), for_diffusers.join("learned_embeds.safetensors")).unwrap();
    let opts = SampleOptions { steps: 3, guidance: 5.0, size: (32, 32), ..Default::default() };
    let img = sd.sample_from("a photo of <tiny-toy>", &expected("sd2")["ddim_start"], &opts).unwrap();
    Tensor::write_safetensors(&[("image", &img)], for_diffusers.join("image.safetensors")).unwrap();
    // another configuration in the same folder is refused
    let (files, images) = load_inversion_images(&golden().join("images"), 32, false).unwrap();
    let mut other = TextualInversion::new(open("sd2"), files, images, InversionConfig { learning_rate: 1e-3, ..cfg.clone() }).unwrap();
    let msg = err_of(other.train(Some(&tmp.path().join("whole")), false));
    assert!(msg.contains("another configuration"), "{msg}");
}

/// Pictures written to a folder: a run killed part-way and resumed ends with the very
/// files of an uninterrupted run; picture i does not depend on how many are asked
/// for; a folder of another prompt is refused; the bytes decode to what was sampled.
#[test]
fn sampling_to_a_folder_resumes_to_the_same_files() {
    let tmp = tempfile::tempdir().unwrap();
    let sd = open("sd1");
    let opts = SampleOptions { steps: 3, guidance: 4.0, size: (32, 32), seed: 11, ..Default::default() };
    let read = |dir: &Path| -> Vec<Vec<u8>> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "png")).collect();
        files.sort();
        files.iter().map(|f| std::fs::read(f).unwrap()).collect()
    };
    let whole = tmp.path().join("whole");
    let made = sd.sample_to_folder("a photo of a toy", 5, 2, &opts, &[], &whole, false).unwrap();
    assert_eq!((made.written, made.found, made.files.len()), (5, 0, 5));
    let killed = tmp.path().join("killed");
    sd.sample_to_folder("a photo of a toy", 5, 2, &opts, &[], &killed, false).unwrap();
    std::fs::remove_file(killed.join("00001.png")).unwrap();
    std::fs::remove_file(killed.join("00004.png")).unwrap();
    let again = sd.sample_to_folder("a photo of a toy", 5, 2, &opts, &[], &killed, false).unwrap();
    assert_eq!((again.written, again.found), (2, 3));
    assert_eq!(read(&whole), read(&killed));
    // fewer pictures: the first ones are the same pictures
    let fewer = tmp.path().join("fewer");
    sd.sample_to_folder("a photo of a toy", 4, 2, &opts, &[], &fewer, false).unwrap();
    assert_eq!(read(&fewer)[..], read(&whole)[..4]);
    // the PNG holds the sampled picture, rounded to 1/255
    let side = 32 / sd.vae.downscale();
    let pair = Tensor::cat(&[picture_latents(11, 2, [4, side, side]), picture_latents(11, 3, [4, side, side])], 0);
    let img = sd.sample_from("a photo of a toy", &pair, &opts).unwrap().get(1);
    let png = image::load_from_memory(&std::fs::read(whole.join("00003.png")).unwrap()).unwrap().to_rgb8();
    let back = Tensor::from_slice(png.as_raw()).view([32, 32, 3]).permute([2, 0, 1]).to_kind(Kind::Float) / 255.0;
    let diff = (back - img).abs().max().double_value(&[]);
    assert!(diff <= 0.5 / 255.0 + 1e-6, "PNG differs from the sample by {diff}");
    // starting latents of the wrong shape are an error, not a panic
    let msg = err_of(sd.sample_from("a toy", &Tensor::zeros([1, 3, side, side], (Kind::Float, Device::Cpu)), &opts));
    assert!(msg.contains("starting latents"), "{msg}");
    let msg = err_of(sd.sample_from("a toy", &Tensor::zeros([4, side, side], (Kind::Float, Device::Cpu)), &opts));
    assert!(msg.contains("starting latents"), "{msg}");
    // another prompt in the same folder is refused, naming the file
    let msg = err_of(sd.sample_to_folder("a toy", 5, 2, &opts, &[], &whole, false));
    assert!(msg.contains("samples.json") && msg.contains("another run"), "{msg}");
}
