//! The ViT and its LoRA adapters against `transformers` and `peft`: logits (also at
//! another image size), the pooler, an adapter saved by peft under both module
//! namings, peft's parameter line, merge and unmerge, AdamW steps, an adapter saved
//! here read back, and the errors. Fixtures: tests/golden/make_vit_golden.py.
use smalldata::finetune::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tch::nn::{self, ModuleT, OptimizerConfig};
use tch::{Device, Kind, Tensor};

fn golden() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/vit")
}

fn expected() -> BTreeMap<String, Tensor> {
    Tensor::read_safetensors(golden().join("expected.safetensors")).unwrap().into_iter().collect()
}

fn facts() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(golden().join("expected.json")).unwrap()).unwrap()
}

fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
    assert_eq!(a.size(), b.size());
    (a - b).abs().max().double_value(&[])
}

/// The classification model from the fixture folder, in a store of its own.
fn model() -> (nn::VarStore, VitClassifier) {
    let vs = nn::VarStore::new(Device::Cpu);
    let ckpt = VitCheckpoint::open(&golden().join("model")).unwrap();
    let m = VitClassifier::from_pretrained(&vs, &ckpt).unwrap();
    (vs, m)
}

#[test]
fn logits_match_transformers_at_the_checkpoint_size_and_interpolated() {
    let e = expected();
    let (_vs, m) = model();
    let d = max_diff(&m.forward_t(&e["pixels"], false), &e["logits"]);
    assert!(d < 1e-5, "logits differ by {d}");
    // 24×20 images: 6×5 patches, position embeddings resized bicubically from 4×4
    let d = max_diff(&m.forward_t(&e["pixels24"], false), &e["logits24"]);
    assert!(d < 1e-5, "interpolated logits differ by {d}");
}

#[test]
fn preprocessing_is_read_from_the_folder() {
    let ckpt = VitCheckpoint::open(&golden().join("model")).unwrap();
    assert_eq!(ckpt.preprocessing, Preprocessing { size: (16, 16), mean: vec![0.5, 0.4, 0.3], std: vec![0.2, 0.25, 0.3] });
    assert_eq!(ckpt.classifier, Some(3));
    assert!(!ckpt.has_pooler);
}

#[test]
fn vit_model_with_pooler_matches() {
    let e = expected();
    let ckpt = VitCheckpoint::open(&golden().join("pooled")).unwrap();
    assert!(ckpt.has_pooler && ckpt.classifier.is_none());
    let vs = nn::VarStore::new(Device::Cpu);
    let vit = Vit::new(&vs.root(), &ckpt.config, true).unwrap();
    ckpt.load(&vs, "", None).unwrap();
    let hidden = vit.hidden_states(&e["pixels"], false);
    assert!(max_diff(&hidden, &e["pooled_last_hidden"]) < 1e-5);
    assert!(max_diff(&vit.pooled(&e["pixels"]).unwrap(), &e["pooled_pooler"]) < 1e-5);
}

#[test]
fn peft_adapters_load_under_either_naming_and_give_peft_logits() {
    let e = expected();
    for folder in ["adapter", "adapter_v4"] {
        let (vs, mut m) = model();
        let config = load_adapter(&golden().join(folder), &mut m.vit, &(vs.root() / "lora"), Some(&m.classifier)).unwrap();
        assert_eq!(config.r, 4);
        let d = max_diff(&m.forward_t(&e["pixels"], false), &e["logits_lora"]);
        assert!(d < 1e-5, "{folder}: logits with the adapter differ by {d}");
    }
}

#[test]
fn parameter_counts_are_peft_s() {
    let f = facts();
    let (vs, mut m) = model();
    let base: usize = vs.variables().values().map(|t| t.numel()).sum();
    let cfg = PeftConfig::vit(LoraConfig { rank: 4, alpha: 8.0, dropout: 0.0 });
    m.vit.add_lora(&cfg.target_modules, &(vs.root() / "lora"), cfg.lora(), 0).unwrap();
    let classifier = m.classifier.ws.numel() + m.classifier.bs.as_ref().map_or(0, |b| b.numel());
    let count = PeftCount::new(base, adapter_parameters(&m.vit), classifier);
    assert_eq!(count.peft_line(), f["peft_printed"].as_str().unwrap());
    assert_eq!(count.trainable as u64, f["peft_trainable"].as_u64().unwrap());
    assert_eq!(count.all as u64, f["peft_all"].as_u64().unwrap());
    assert_eq!(count.distinct as u64, f["distinct_total"].as_u64().unwrap());
}

#[test]
fn merge_gives_peft_s_weight_and_unmerge_restores() {
    let e = expected();
    let (vs, mut m) = model();
    load_adapter(&golden().join("adapter"), &mut m.vit, &(vs.root() / "lora"), Some(&m.classifier)).unwrap();
    let query0 = vs.variables()["vit.encoder.layer.0.attention.attention.query.weight"].shallow_clone();
    let original = query0.copy();
    m.vit.merge();
    assert!(max_diff(&query0, &e["merged_query0"]) < 1e-6, "merged weight = W + (α/r) B A");
    assert!(max_diff(&m.forward_t(&e["pixels"], false), &e["logits_lora"]) < 1e-5, "merged forward = adapted forward");
    m.vit.unmerge();
    assert!(max_diff(&query0, &original) < 1e-6);
    assert!(max_diff(&m.forward_t(&e["pixels"], false), &e["logits_lora"]) < 1e-5);
}

#[test]
fn adamw_steps_move_adapters_and_classifier_as_peft_does() {
    let e = expected();
    let f = facts();
    let (vs, mut m) = model();
    // peft's adapter file holds A (peft's own init), the seeded B and the perturbed classifier
    load_adapter(&golden().join("adapter"), &mut m.vit, &(vs.root() / "lora"), Some(&m.classifier)).unwrap();
    for (name, v) in vs.variables() {
        if name.starts_with("vit.") {
            let _ = v.set_requires_grad(false);
        }
    }
    let a = &f["adamw"];
    let betas: Vec<f64> = a["betas"].as_array().unwrap().iter().map(|b| b.as_f64().unwrap()).collect();
    let mut opt = nn::AdamW { beta1: betas[0], beta2: betas[1], wd: a["weight_decay"].as_f64().unwrap(), eps: a["eps"].as_f64().unwrap(), amsgrad: false }
        .build(&vs, a["lr"].as_f64().unwrap())
        .unwrap();
    let labels = e["labels"].to_kind(Kind::Int64);
    let losses: Vec<f64> = f["losses"].as_array().unwrap().iter().map(|l| l.as_f64().unwrap()).collect();
    for (step, want) in losses.iter().enumerate() {
        let loss = m.forward_t(&e["pixels"], true).cross_entropy_for_logits(&labels);
        assert!((loss.double_value(&[]) - want).abs() < 1e-5, "step {step}: loss {} vs peft {want}", loss.double_value(&[]));
        opt.backward_step(&loss);
    }
    let vars = vs.variables();
    let mut compared = 0;
    for (key, want) in &e {
        let Some(name) = key.strip_prefix("trained.") else { continue };
        let ours = match name.strip_prefix("classifier.modules_to_save.") {
            Some(leaf) => vars[&format!("classifier.{leaf}")].shallow_clone(),
            None => {
                let (module, leaf) = name.rsplit_once(".lora_").unwrap();
                let slot = if leaf.starts_with('A') { "lora_a" } else { "lora_b" };
                vars[&format!("lora.{}.{slot}", module.replace('.', "_"))].shallow_clone()
            }
        };
        let d = max_diff(&ours, want);
        assert!(d < 1e-4, "{name} after {} AdamW steps differs by {d}", losses.len());
        compared += 1;
    }
    assert_eq!(compared, 10, "8 adapter matrices and the classifier's weight and bias");
    assert!(max_diff(&m.forward_t(&e["pixels"], false), &e["logits_trained"]) < 1e-4);
}

#[test]
fn an_adapter_saved_here_has_peft_s_keys_and_reads_back() {
    let e = expected();
    let (vs, mut m) = model();
    let config = load_adapter(&golden().join("adapter"), &mut m.vit, &(vs.root() / "lora"), Some(&m.classifier)).unwrap();
    // kept in target/tmp for tests/golden/check_adapter_in_peft.py
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("vit_adapter_from_rust");
    save_adapter(&dir, &m.vit, Some(&m.classifier), &config, NameStyle::Transformers5).unwrap();
    let keys = |p: &Path| -> Vec<String> {
        let mut k: Vec<String> = Tensor::read_safetensors(p.join("adapter_model.safetensors")).unwrap().into_iter().map(|(k, _)| k).collect();
        k.sort();
        k
    };
    assert_eq!(keys(&dir), keys(&golden().join("adapter")), "the same keys as peft wrote");
    let written: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("adapter_config.json")).unwrap()).unwrap();
    assert_eq!(written["target_modules"], serde_json::json!(["q_proj", "v_proj"]));
    let (vs2, mut m2) = model();
    load_adapter(&dir, &mut m2.vit, &(vs2.root() / "lora"), Some(&m2.classifier)).unwrap();
    assert!(max_diff(&m2.forward_t(&e["pixels"], false), &e["logits_lora"]) < 1e-6);
    // and under checkpoint names, what peft on transformers 4 reads
    let dir = tempfile_dir("vit_adapter_v4");
    save_adapter(&dir, &m.vit, Some(&m.classifier), &config, NameStyle::Checkpoint).unwrap();
    assert_eq!(keys(&dir), keys(&golden().join("adapter_v4")));
}

fn tempfile_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("smalldata_{name}_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_config_that_does_not_match_its_weights_names_the_key_and_shapes() {
    let dir = tempfile_dir("vit_mismatch");
    std::fs::copy(golden().join("model/model.safetensors"), dir.join("model.safetensors")).unwrap();
    let text = std::fs::read_to_string(golden().join("model/config.json")).unwrap().replace("\"intermediate_size\": 64", "\"intermediate_size\": 48");
    std::fs::write(dir.join("config.json"), text).unwrap();
    let ckpt = VitCheckpoint::open(&dir).unwrap();
    let vs = nn::VarStore::new(Device::Cpu);
    let err = VitClassifier::from_pretrained(&vs, &ckpt).unwrap_err().to_string();
    // intermediate.dense is 64 wide in the file and 48 in the model: the first such key
    // in name order is layer 0's bias
    assert!(err.contains("vit.encoder.layer.0.intermediate.dense.bias") && err.contains("[64]") && err.contains("[48]"), "{err}");
}

#[test]
fn targets_that_match_nothing_name_the_pattern() {
    let (vs, mut m) = model();
    let err = m.vit.add_lora(&LoraTargets::names(&["qkv"]), &(vs.root() / "lora"), LoraConfig::default(), 0).unwrap_err().to_string();
    assert!(err.contains("qkv") && err.contains("attention.attention.query"), "{err}");
    let err = m.vit.add_lora(&LoraTargets::pattern(r"blocks\.\d+\.attn"), &(vs.root() / "lora"), LoraConfig::default(), 0).unwrap_err().to_string();
    assert!(err.contains(r"blocks\.\d+\.attn"), "{err}");
    // a whole-name pattern and a transformers 5 name both work
    assert_eq!(m.vit.add_lora(&LoraTargets::pattern(r"vit\.encoder\.layer\.1\..*\.(query|value)"), &(vs.root() / "lora"), LoraConfig::default(), 0).unwrap(), 2);
    let (vs, mut m) = model();
    assert_eq!(m.vit.add_lora(&LoraTargets::names(&["q_proj", "fc2"]), &(vs.root() / "lora"), LoraConfig::default(), 0).unwrap(), 4);
}

#[test]
fn an_image_smaller_than_a_patch_is_refused() {
    let (_vs, m) = model();
    let err = m.vit.check_input(&[2, 3, 3, 16]).unwrap_err().to_string();
    assert!(err.contains("one patch") && err.contains("3×16"), "{err}");
    let err = m.vit.check_input(&[2, 1, 16, 16]).unwrap_err().to_string();
    assert!(err.contains("num_channels"), "{err}");
    assert!(m.vit.check_input(&[2, 3, 4, 4]).is_ok());
}

#[test]
fn transformers_5_names_map_to_checkpoint_names() {
    assert_eq!(canonical_name("vit.layers.3.attention.q_proj.weight"), "vit.encoder.layer.3.attention.attention.query.weight");
    assert_eq!(canonical_name("vit.layers.0.attention.o_proj.bias"), "vit.encoder.layer.0.attention.output.dense.bias");
    assert_eq!(canonical_name("vit.layers.0.mlp.fc1.weight"), "vit.encoder.layer.0.intermediate.dense.weight");
    assert_eq!(canonical_name("vit.layers.0.mlp.fc2.weight"), "vit.encoder.layer.0.output.dense.weight");
    assert_eq!(canonical_name("vit.encoder.layer.0.output.dense.weight"), "vit.encoder.layer.0.output.dense.weight");
}

#[test]
fn a_checkpoint_saved_under_transformers_5_names_loads_too() {
    let e = expected();
    let dir = tempfile_dir("vit_t5_names");
    std::fs::copy(golden().join("model/config.json"), dir.join("config.json")).unwrap();
    let renamed: Vec<(String, Tensor)> = Tensor::read_safetensors(golden().join("model/model.safetensors"))
        .unwrap()
        .into_iter()
        .map(|(k, v)| {
            let k = k
                .replace("encoder.layer.", "layers.")
                .replace("attention.attention.query", "attention.q_proj")
                .replace("attention.attention.key", "attention.k_proj")
                .replace("attention.attention.value", "attention.v_proj")
                .replace("attention.output.dense", "attention.o_proj")
                .replace("intermediate.dense", "mlp.fc1")
                .replace("output.dense", "mlp.fc2");
            (k, v)
        })
        .collect();
    assert!(renamed.iter().any(|(k, _)| k == "vit.layers.1.mlp.fc2.weight"));
    Tensor::write_safetensors(&renamed, dir.join("model.safetensors")).unwrap();
    let vs = nn::VarStore::new(Device::Cpu);
    let m = VitClassifier::from_pretrained(&vs, &VitCheckpoint::open(&dir).unwrap()).unwrap();
    assert!(max_diff(&m.forward_t(&e["pixels"], false), &e["logits"]) < 1e-5);
}
