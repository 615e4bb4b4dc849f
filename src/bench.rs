//! Benchmarks that run our code and the peers' in one command and report ratios
//! (`smalldata bench augment`). Ratios, not seconds, are what compare across machines.

use crate::augment::{Augment, AugRng, GaussianNoise, RandomCrop, RandomRotation};
use crate::{Error, Result};
use std::path::Path;
use std::time::Instant;
use tch::{Device, Kind, Tensor};

/// Run a peer script `python SCRIPT ARGS…` on one thread and parse the JSON it prints.
fn run_peer(python: &Path, script: &str, args: &[String]) -> Result<serde_json::Value> {
    run_peer_threads(python, script, args, 1)
}

fn images_per_second(n: i64, repeats: usize, mut f: impl FnMut() -> Result<()>) -> Result<f64> {
    // Warm up for a quarter of a second first, as bench/augment_peers.py does: the
    // first calls of a process that allocates a fresh multi-megabyte batch each time
    // pay for page faults (the allocator's thresholds settle after a few calls),
    // which says nothing about the steady state of a training loop.
    let warm = Instant::now();
    while warm.elapsed().as_secs_f64() < WARM_UP_S {
        f()?;
    }
    let mut best = f64::INFINITY;
    for _ in 0..repeats {
        let t = Instant::now();
        f()?;
        best = best.min(t.elapsed().as_secs_f64());
    }
    Ok(n as f64 / best)
}

/// Timed repeats of each measurement, on both sides of [`augment`]; the best counts
/// (on a shared machine, interference only ever slows a repeat down).
const REPEATS: usize = 10;

/// Seconds each measured function runs untimed before the timed repeats, on both
/// sides of [`augment`] (keep equal to `WARM_UP_S` in bench/augment_peers.py).
const WARM_UP_S: f64 = 0.25;

/// Images per second of crop (pad 4), rotation (±30°) and Gaussian noise (σ = 0.1)
/// on one CPU thread, for batches of 28×28 and 128×128 grey images, beside
/// torchvision v2 (per image, and per batch — one draw for the whole batch, labelled
/// as different work) and albumentations (per image), run from `python` in the same
/// command. Prints a table and writes everything to `out` (JSON).
/// On a GPU (`device()` is CUDA) the same operations run on batches held there,
/// beside torchvision v2 on the same GPU: [`augment_on_device`].
pub fn augment(python: &Path, out: &Path) -> Result<serde_json::Value> {
    let device = crate::device()?;
    if device != Device::Cpu {
        return augment_on_device(python, out, device);
    }
    tch::set_num_threads(1);
    let mut report = serde_json::Map::new();
    println!("{:<8} {:>5} {:>12} {:>12} {:>12} {:>12} {:>10} {:>10}", "op", "size", "smalldata/s", "tv/img /s", "tv batch/s", "album /s", "vs best", "vs tv/img");
    for (size, n) in [(28i64, 512i64), (128, 64)] {
        tch::manual_seed(0);
        let batch = Tensor::rand([n, 1, size, size], (Kind::Float, Device::Cpu));
        let ops = bench_ops(size)?;
        let peers = run_peer(python, "bench/augment_peers.py", &[size.to_string(), n.to_string(), REPEATS.to_string()])?;
        for (name, op) in &ops {
            let mut rng = AugRng::new(0);
            let ours = images_per_second(n, REPEATS, || op.apply_rng(&batch, &mut rng).map(|_| ()))?;
            let p = &peers[*name];
            let f = |k: &str| p[k].as_f64().unwrap_or(f64::NAN);
            let (tv_img, tv_batch, album) = (f("torchvision_per_image"), f("torchvision_batch"), f("albumentations_per_image"));
            // the target is held against the peers doing the same (per-image) work
            let best_same_work = tv_img.max(album);
            println!(
                "{name:<8} {size:>5} {ours:>12.0} {tv_img:>12.0} {tv_batch:>12.0} {album:>12.0} {:>9.1}x {:>9.1}x",
                ours / best_same_work,
                ours / tv_img
            );
            report.insert(
                format!("{name}_{size}"),
                serde_json::json!({
                    "smalldata": ours, "torchvision_per_image": tv_img, "torchvision_batch_one_draw": tv_batch,
                    "albumentations_per_image": album, "ratio_vs_best_per_image_peer": ours / best_same_work,
                    "ratio_vs_torchvision_per_image": ours / tv_img, "batch": n,
                }),
            );
        }
        report.insert(format!("versions_{size}"), peers["versions"].clone());
    }
    println!("images/s on one thread (best of {REPEATS} after {WARM_UP_S} s of warm-up); 'vs best' = smalldata / the faster of torchvision per image and albumentations");
    println!("tv batch applies ONE random draw to the whole batch: cheaper, different work, shown for reference only");
    report.insert("machine".into(), machine());
    let value = serde_json::Value::Object(report);
    crate::io::write_atomic(out, serde_json::to_string_pretty(&value)?.as_bytes())?;
    println!("written to {}", out.display());
    Ok(value)
}

/// The three operations both sides of [`augment`] time, for `size`² images.
fn bench_ops(size: i64) -> Result<Vec<(&'static str, Box<dyn Augment>)>> {
    Ok(vec![
        ("crop", Box::new(RandomCrop::new(size, size).padding(4).build()?)),
        ("rotate", Box::new(RandomRotation::new(-30.0, 30.0).build()?)),
        ("noise", Box::new(GaussianNoise::new(0.1).build()?)),
    ])
}

/// [`augment`] on a CUDA device: our batch (a fresh draw per image) beside
/// torchvision v2 applied per image and to the whole batch (one draw), all on that
/// GPU; each timed pass ends when the GPU has finished. Batches of 28² (512 and 8192
/// images) and 128² (64 and 1024): a GPU is only busy with large batches.
pub fn augment_on_device(python: &Path, out: &Path, device: Device) -> Result<serde_json::Value> {
    let Device::Cuda(index) = device else {
        return Err(Error::invalid("device", crate::device::describe(device), "augment_on_device measures a CUDA device"));
    };
    let sync = || tch::Cuda::synchronize(index as i64);
    let name = crate::device::describe(device);
    let mut report = serde_json::Map::new();
    println!("{:<8} {:>5} {:>6} {:>12} {:>12} {:>12} {:>10}", "op", "size", "batch", "smalldata/s", "tv/img /s", "tv batch/s", "vs tv/img");
    for (size, n) in [(28i64, 512i64), (28, 8192), (128, 64), (128, 1024)] {
        let batch = crate::augment::AugRng::new(0).uniform_tensor(&[n, 1, size, size], Device::Cpu).to_device(device);
        let peers = run_peer(python, "bench/augment_peers.py", &[size.to_string(), n.to_string(), REPEATS.to_string(), name.clone()])?;
        for (op_name, op) in bench_ops(size)? {
            let mut rng = AugRng::new(0);
            let ours = images_per_second(n, REPEATS, || {
                let _ = op.apply_rng(&batch, &mut rng)?;
                sync();
                Ok(())
            })?;
            let f = |k: &str| peers[op_name][k].as_f64().unwrap_or(f64::NAN);
            let (tv_img, tv_batch) = (f("torchvision_per_image"), f("torchvision_batch"));
            println!("{op_name:<8} {size:>5} {n:>6} {ours:>12.0} {tv_img:>12.0} {tv_batch:>12.0} {:>9.1}x", ours / tv_img);
            report.insert(
                format!("{op_name}_{size}_{n}"),
                serde_json::json!({
                    "smalldata": ours, "torchvision_per_image": tv_img, "torchvision_batch_one_draw": tv_batch,
                    "ratio_vs_torchvision_per_image": ours / tv_img, "batch": n,
                }),
            );
        }
        report.insert(format!("versions_{size}_{n}"), peers["versions"].clone());
    }
    println!("images/s on {name} (best of {REPEATS} after {WARM_UP_S} s of warm-up, each pass synchronised)");
    println!("tv batch applies ONE random draw to the whole batch: cheaper, different work, shown for reference only");
    report.insert("device".into(), name.into());
    let value = serde_json::Value::Object(report);
    crate::io::write_atomic(out, serde_json::to_string_pretty(&value)?.as_bytes())?;
    println!("written to {}", out.display());
    Ok(value)
}

/// The CPU the figures were taken on and the vector extensions the host kernels
/// pick at run time (noise: AVX-512F, else AVX2; the warp: AVX2), for the report.
fn machine() -> serde_json::Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| info.lines().find(|l| l.starts_with("model name")).and_then(|l| l.split(':').nth(1)).map(|m| m.trim().to_string()));
    #[cfg(target_arch = "x86_64")]
    let simd = serde_json::json!({ "avx2": std::is_x86_feature_detected!("avx2"), "avx512f": std::is_x86_feature_detected!("avx512f") });
    #[cfg(not(target_arch = "x86_64"))]
    let simd = serde_json::json!({});
    serde_json::json!({ "cpu": cpu, "simd": simd, "threads": 1 })
}

/// The default augmentation-study protocol (or `sizes` × `seeds` × `steps` of it)
/// run by smalldata ([`crate::study::run_study`], a fresh directory under `out`'s
/// folder) and by `bench/study_torch.py` (PyTorch + torchvision, sequential, default
/// threads) from `python`, one after the other in this command. Prints accuracy and
/// AUC side by side, whether each smalldata mean lies inside the PyTorch 95% CI, and
/// the wall-time ratio; writes everything to `out` (JSON).
pub fn study(python: &Path, out: &Path, sizes: &[usize], seeds: usize, steps: usize) -> Result<serde_json::Value> {
    use crate::experiment::{summarize, ArmInfo, Metric, RunRow, Scores};
    use crate::study::{run_study, StudyConfig};
    use crate::train::{Length, TrainConfig};
    let dir = out.with_extension("study");
    let defaults = StudyConfig::default();
    let cfg = StudyConfig {
        restart: true,
        sizes: sizes.to_vec(),
        seeds,
        train: TrainConfig { length: Length::Steps(steps), ..defaults.train.clone() },
        out: dir.clone(),
        ..defaults
    };
    let data_dir = crate::data::fashion_dir()
        .unwrap_or_else(|| crate::data::asset_path("data/fashion-mnist-subset"));
    println!("smalldata: {} runs on {} job(s), one thread each", sizes.len() * cfg.methods().len() * seeds, cfg.jobs);
    let t = Instant::now();
    let ours = run_study(&cfg)?;
    let ours_wall = t.elapsed().as_secs_f64();

    let torch_rows = dir.join("torch_results.jsonl");
    // the peer runs where smalldata ran: the device `device()` picks (SMALLDATA_DEVICE)
    let device = crate::device::describe(crate::device()?);
    println!("PyTorch: the same grid, sequential, default threads, on {device} ({})", python.display());
    let t = Instant::now();
    let status = std::process::Command::new(python)
        .arg("bench/study_torch.py")
        .args(["--data-dir", &data_dir.display().to_string()])
        .args(["--sizes", &sizes.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(",")])
        .args(["--seeds", &seeds.to_string(), "--steps", &steps.to_string(), "--device", &device, "--out", &torch_rows.display().to_string()])
        .stdout(std::process::Stdio::null())
        .status()
        .map_err(|source| Error::Io { path: python.into(), source })?;
    let torch_wall = t.elapsed().as_secs_f64();
    if !status.success() {
        return Err(Error::invalid("peer benchmark", python.display(), "bench/study_torch.py failed (its error is above)"));
    }
    let text = std::fs::read_to_string(&torch_rows).map_err(|source| Error::Io { path: torch_rows.clone(), source })?;
    let torch: Vec<RunRow> = text
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l)?;
            let f = |k: &str| v[k].as_f64().unwrap_or(f64::NAN);
            Ok(RunRow {
                size: v["n_per_class"].as_u64().unwrap_or(0) as usize,
                arm: v["augment"].as_str().unwrap_or("").to_string(),
                seed: v["seed"].as_u64().unwrap_or(0),
                scores: Scores::Classification { accuracy: f("accuracy"), auc_macro_ovr: f("auc_macro_ovr"), log_loss: None },
                train_seconds: f("train_seconds"),
                eval_seconds: f64::NAN,
                final_train_loss: None,
                test_size: 0,
                arm_params: String::new(),
                detail: None,
                protocol: "pytorch".into(),
            })
        })
        .collect::<Result<_>>()?;
    let arms: Vec<ArmInfo> = cfg
        .methods()
        .iter()
        .map(|m| ArmInfo { name: m.name(), params: m.describe(), baseline: (m.name() != "none").then(|| "none".to_string()) })
        .collect();
    let theirs = summarize(&torch, sizes, &arms, "none", "images per class")?;
    println!(
        "\n{:>7}  {:<18} {:<17} {:<17} {:<17} {:<17} {}",
        "n/class", "method", "acc smalldata", "acc PyTorch", "AUC smalldata", "AUC PyTorch", "smalldata mean in PyTorch CI (acc, AUC)"
    );
    let mut rows = Vec::new();
    let (mut inside_acc, mut inside_auc) = (0, 0);
    for (a, b) in ours.summary.rows.iter().zip(&theirs.rows) {
        let within = |x: f64, s: &crate::evaluate::Summary| x >= s.ci_low && x <= s.ci_high;
        let (aa, au, ba, bu) = (a.get(Metric::Accuracy), a.get(Metric::Auc), b.get(Metric::Accuracy), b.get(Metric::Auc));
        let (ia, iu) = (within(aa.mean, &ba), within(au.mean, &bu));
        inside_acc += ia as usize;
        inside_auc += iu as usize;
        let pm = |s: &crate::evaluate::Summary| format!("{:.4} ± {:.4}", s.mean, s.half_width());
        println!(
            "{:>7}  {:<18} {:<17} {:<17} {:<17} {:<17} {}, {}",
            a.size,
            a.arm,
            pm(&aa),
            pm(&ba),
            pm(&au),
            pm(&bu),
            if ia { "yes" } else { "no" },
            if iu { "yes" } else { "no" }
        );
        rows.push(serde_json::json!({
            "n_per_class": a.size, "method": a.arm,
            "smalldata": {"accuracy": aa, "auc": au},
            "pytorch": {"accuracy": ba, "auc": bu},
            "smalldata_accuracy_in_pytorch_ci": ia, "smalldata_auc_in_pytorch_ci": iu,
        }));
    }
    let n = rows.len();
    println!(
        "\nwall time: smalldata {ours_wall:.0} s, PyTorch {torch_wall:.0} s: ratio {:.2} (target ≤ 0.5)\nsmalldata's mean inside PyTorch's 95% CI: accuracy {inside_acc}/{n}, AUC {inside_auc}/{n}",
        ours_wall / torch_wall
    );
    let value = serde_json::json!({
        "protocol": {"sizes": sizes, "seeds": seeds, "steps": steps, "test_images": ours.test_images, "data": ours.data_source},
        "smalldata_wall_seconds": ours_wall, "pytorch_wall_seconds": torch_wall, "wall_ratio": ours_wall / torch_wall,
        "smalldata_jobs": cfg.jobs, "device": device, "rows": rows,
    });
    crate::io::write_atomic(out, serde_json::to_string_pretty(&value)?.as_bytes())?;
    println!("written to {}", out.display());
    Ok(value)
}

/// Seconds per fit of the linear baselines (standardisation included) beside
/// scikit-learn's, on the training rows (i % 4 ≠ 0) of diabetes and winequality,
/// best of `repeats`, one thread each, in this command. Prints the ratios
/// (scikit-learn time / ours: above 1 means smalldata is faster) and writes JSON.
pub fn tabular(python: &Path, out: &Path, repeats: usize) -> Result<serde_json::Value> {
    use crate::data::TabularData;
    use crate::tabular::Regressor;
    use ndarray::Axis;
    let wine = find_winequality_csv()
        .ok_or_else(|| Error::NotFound { what: "winequality-red.csv.gz (linfa-datasets in the cargo registry)".into(), searched: vec![] })?;
    let peers = run_peer(python, "bench/sklearn_tabular.py", &[wine.display().to_string(), repeats.to_string()])?;
    let mut report = serde_json::Map::new();
    println!("{:<12} {:<11} {:>14} {:>14} {:>8}", "data", "model", "smalldata (s)", "sklearn (s)", "ratio");
    for (dname, data) in [("diabetes", TabularData::diabetes()?), ("winequality", TabularData::winequality()?)] {
        let train: Vec<usize> = (0..data.len()).filter(|i| i % 4 != 0).collect();
        let (x, y) = (data.x.select(Axis(0), &train), data.y.select(Axis(0), &train));
        for (mname, reg) in [
            ("ols", Regressor::Ols),
            ("ridge", Regressor::Ridge { alpha: 1.0 }),
            ("lasso", Regressor::Lasso { alpha: 0.1 }),
            ("elasticnet", Regressor::ElasticNet { alpha: 0.1, l1_ratio: 0.5 }),
        ] {
            let mut best = f64::INFINITY;
            for _ in 0..repeats {
                let t = Instant::now();
                reg.fit(x.view(), y.view(), 0)?;
                best = best.min(t.elapsed().as_secs_f64());
            }
            let theirs = peers[format!("{dname}/{mname}")].as_f64().unwrap_or(f64::NAN);
            println!("{dname:<12} {mname:<11} {best:>14.6} {theirs:>14.6} {:>7.1}x", theirs / best);
            report.insert(format!("{dname}/{mname}"), serde_json::json!({"smalldata_s": best, "sklearn_s": theirs, "speedup": theirs / best}));
        }
    }
    println!("best of {repeats} fits each, one thread; ratio = scikit-learn time / smalldata time");
    let value = serde_json::Value::Object(report);
    crate::io::write_atomic(out, serde_json::to_string_pretty(&value)?.as_bytes())?;
    println!("written to {}", out.display());
    Ok(value)
}

/// The red winequality CSV shipped inside linfa-datasets, in the cargo registry.
fn find_winequality_csv() -> Option<std::path::PathBuf> {
    let home = std::env::var_os("CARGO_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))?;
    let src = home.join("registry/src");
    for index in std::fs::read_dir(src).ok()?.flatten() {
        let mut crates: Vec<_> = std::fs::read_dir(index.path()).ok()?.flatten().map(|e| e.path()).collect();
        crates.sort();
        for c in crates.iter().rev() {
            let name = c.file_name().and_then(|n| n.to_str()).unwrap_or("");
            let file = c.join("data/winequality-red.csv.gz");
            if name.starts_with("linfa-datasets-0.8") && file.exists() {
                return Some(file);
            }
        }
    }
    None
}

/// Seconds per LoRA training step of a ViT-B/16-shaped model (224² RGB images, 12
/// layers of 768, random weights: nothing downloaded) with peft's image-classification
/// recipe — r 16, α 16, dropout 0.1 on `query` and `value`, the classifier (10 classes)
/// trained in full, AdamW — beside `transformers` + `peft` doing the same step in
/// `python`, on the same device, dtype (`float32` or `bfloat16`) and number of threads,
/// one after the other in this command. Best of `steps` timed steps after one warm-up
/// step each. Prints the ratio (peft time / ours: above 1 means smalldata is faster),
/// the parameter counts of both, peak memory, and writes JSON.
pub fn vit_lora(python: &Path, out: &Path, batch: i64, steps: usize, dtype: &str) -> Result<serde_json::Value> {
    use crate::finetune::{adapter_parameters, AddLora, LoraConfig, PeftConfig, PeftCount, VitClassifier, VitConfig};
    use tch::nn::{self, ModuleT, OptimizerConfig};
    let device = crate::device()?;
    let kind = match dtype {
        "float32" => Kind::Float,
        "bfloat16" => Kind::BFloat16,
        other => return Err(Error::invalid("dtype", other, "known: float32, bfloat16")),
    };
    let threads = tch::get_num_threads();
    let device_name = match device {
        Device::Cuda(i) => format!("cuda:{i}"),
        _ => "cpu".to_string(),
    };
    println!("ViT-B/16 LoRA step, batch {batch}, {dtype}, {device_name}, {threads} threads");
    let mut vs = nn::VarStore::new(device);
    let config = VitConfig::new(224, 16, 3, 768, 12, 12, 3072);
    let mut model = VitClassifier::new(&vs.root(), &config, 10)?;
    crate::train::init::reset_parameters(&vs, 0)?;
    let base: usize = vs.variables().values().map(|t| t.numel()).sum();
    for (name, v) in vs.variables() {
        if name.starts_with("vit.") {
            let _ = v.set_requires_grad(false);
        }
    }
    let recipe = PeftConfig::vit(LoraConfig { rank: 16, alpha: 16.0, dropout: 0.1 });
    model.vit.add_lora(&recipe.target_modules, &(vs.root() / "lora"), recipe.lora(), 0)?;
    let head = model.classifier.ws.numel() + model.classifier.bs.as_ref().map_or(0, |b| b.numel());
    let count = PeftCount::new(base, adapter_parameters(&model.vit), head);
    if kind != Kind::Float {
        vs.set_kind(kind);
    }
    let mut opt = nn::AdamW::default().build(&vs, 1e-3)?;
    let x = Tensor::rand([batch, 3, 224, 224], (kind, device));
    let y = Tensor::arange(batch, (Kind::Int64, device)).remainder(10);
    let mut step = || -> Result<()> {
        let loss = model.forward_t(&x, true).to_kind(Kind::Float).cross_entropy_for_logits(&y);
        opt.backward_step(&loss);
        if let Device::Cuda(_) = device {
            tch::Cuda::synchronize(0);
        }
        Ok(())
    };
    step()?;
    let mut best = f64::INFINITY;
    for _ in 0..steps {
        let t = Instant::now();
        step()?;
        best = best.min(t.elapsed().as_secs_f64());
    }
    let ours_peak = peak_rss_bytes();
    println!("smalldata: {best:.3} s per step; {count}");
    let peer = run_peer_threads(python, "bench/vit_lora_peft.py", &[batch.to_string(), steps.to_string(), threads.to_string(), device_name.clone(), dtype.to_string()], threads)?;
    let theirs = peer["step_s"].as_f64().unwrap_or(f64::NAN);
    println!(
        "peft {}: {theirs:.3} s per step; trainable params: {} || all params: {}",
        peer["torch"].as_str().unwrap_or("?"),
        peer["trainable"],
        peer["all"]
    );
    println!("ratio (peft / smalldata): {:.2}x", theirs / best);
    let peak_note = if let Device::Cuda(_) = device { "peft: torch.cuda.max_memory_allocated; smalldata: not measured on CUDA" } else { "peak resident memory of each process (RSS)" };
    println!("peak memory: smalldata {:.0} MB, peft {:.0} MB ({peak_note})", ours_peak.unwrap_or(f64::NAN) / 1e6, peer["peak_bytes"].as_f64().unwrap_or(f64::NAN) / 1e6);
    let value = serde_json::json!({
        "device": device_name, "dtype": dtype, "batch": batch, "threads": threads, "timed_steps": steps,
        "smalldata_step_s": best, "peft_step_s": theirs, "speedup": theirs / best,
        "smalldata_counts": {"trainable": count.trainable, "all": count.all, "distinct": count.distinct},
        "peft_counts": {"trainable": peer["trainable"], "all": peer["all"]},
        "smalldata_peak_bytes": if matches!(device, Device::Cuda(_)) { None } else { ours_peak }, "peft_peak_bytes": peer["peak_bytes"],
    });
    crate::io::write_atomic(out, serde_json::to_string_pretty(&value)?.as_bytes())?;
    println!("written to {}", out.display());
    Ok(value)
}

/// Run a peer script `python SCRIPT ARGS…` with `threads` intra-op threads
/// (`OMP_NUM_THREADS`) and parse the JSON it prints.
fn run_peer_threads(python: &Path, script: &str, args: &[String], threads: i32) -> Result<serde_json::Value> {
    let out = std::process::Command::new(python)
        .arg(script)
        .args(args)
        .env("OMP_NUM_THREADS", threads.to_string())
        .output()
        .map_err(|source| Error::Io { path: python.into(), source })?;
    if !out.status.success() {
        return Err(Error::invalid("peer benchmark", format!("{} {script}", python.display()), String::from_utf8_lossy(&out.stderr).to_string()));
    }
    Ok(serde_json::from_slice(&out.stdout)?)
}

/// This process's peak resident memory (Linux `VmHWM`), in bytes.
fn peak_rss_bytes() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024.0)
}
