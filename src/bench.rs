//! Benchmarks that run our code and the peers' in one command and report ratios
//! (`smalldata bench augment`). Ratios, not seconds, are what compare across machines.

use crate::augment::{Augment, AugRng, GaussianNoise, RandomCrop, RandomRotation};
use crate::{Error, Result};
use std::path::Path;
use std::time::Instant;
use tch::{Device, Kind, Tensor};

fn images_per_second(n: i64, repeats: usize, mut f: impl FnMut() -> Result<()>) -> Result<f64> {
    let mut best = f64::INFINITY;
    for _ in 0..repeats {
        let t = Instant::now();
        f()?;
        best = best.min(t.elapsed().as_secs_f64());
    }
    Ok(n as f64 / best)
}

/// Images per second of crop (pad 4), rotation (±30°) and Gaussian noise (σ = 0.1)
/// on one CPU thread, for batches of 28×28 and 128×128 grey images, beside
/// torchvision v2 (per image, and per batch — one draw for the whole batch, labelled
/// as different work) and albumentations (per image), run from `python` in the same
/// command. Prints a table and writes everything to `out` (JSON).
pub fn augment(python: &Path, out: &Path) -> Result<serde_json::Value> {
    tch::set_num_threads(1);
    let mut report = serde_json::Map::new();
    println!("{:<8} {:>5} {:>12} {:>12} {:>12} {:>12} {:>10} {:>10}", "op", "size", "smalldata/s", "tv/img /s", "tv batch/s", "album /s", "vs best", "vs tv/img");
    for (size, n) in [(28i64, 512i64), (128, 64)] {
        tch::manual_seed(0);
        let batch = Tensor::rand([n, 1, size, size], (Kind::Float, Device::Cpu));
        let ops: Vec<(&str, Box<dyn Augment>)> = vec![
            ("crop", Box::new(RandomCrop::new(size, size).padding(4).build()?)),
            ("rotate", Box::new(RandomRotation::new(-30.0, 30.0).build()?)),
            ("noise", Box::new(GaussianNoise::new(0.1).build()?)),
        ];
        let peers = std::process::Command::new(python)
            .arg("bench/augment_peers.py")
            .args([size.to_string(), n.to_string(), "5".to_string()])
            .env("OMP_NUM_THREADS", "1")
            .output()
            .map_err(|source| Error::Io { path: python.into(), source })?;
        if !peers.status.success() {
            return Err(Error::invalid("peer benchmark", python.display(), String::from_utf8_lossy(&peers.stderr).to_string()));
        }
        let peers: serde_json::Value = serde_json::from_slice(&peers.stdout)?;
        for (name, op) in &ops {
            let mut rng = AugRng::new(0);
            let ours = images_per_second(n, 5, || op.apply_rng(&batch, &mut rng).map(|_| ()))?;
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
    println!("images/s on one thread (best of 5); 'vs best' = smalldata / the faster of torchvision per image and albumentations");
    println!("tv batch applies ONE random draw to the whole batch: cheaper, different work, shown for reference only");
    let value = serde_json::Value::Object(report);
    crate::plot::write_atomic(out, serde_json::to_string_pretty(&value)?.as_bytes())?;
    println!("written to {}", out.display());
    Ok(value)
}
