//! CUDA against the CPU: the same seed gives the same images and nearly the same
//! training on both devices.
//!
//! Every test here compares a computation on the CPU with the same computation on a
//! *test device*: the first CUDA device when libtorch sees one, or the device named by
//! `SMALLDATA_CUDA_TEST_DEVICE` (`cuda:1`, or `cpu` to dry-run the harness on a
//! machine without a GPU: then both sides are the CPU and only the plumbing is
//! exercised). Without a GPU and without that variable each test prints why it is
//! skipped and passes.
//!
//! The draws (crop offsets, angles, noise, dropout masks, initial weights) are made on
//! the host in every code path, so the devices differ only by floating-point
//! arithmetic. Tolerances are fixed here, before any GPU run:
//! * TF32 off (`NVIDIA_TF32_OVERRIDE=0`, which cuBLAS and cuDNN honour): augmentation
//!   within 1e-5 absolute, training within [`TOL_TF32_OFF`];
//! * TF32 as libtorch leaves it (cuDNN convolutions use TF32 by default on Ampere and
//!   newer, cuBLAS matmuls do not): augmentation within 2e-3 (a blur is a
//!   convolution), training within [`TOL_TF32_ON`].
//!
//! `scripts/gpu_check.sh` runs this file twice, TF32 off then on.

mod common;

use smalldata::augment::{AugRng, CutMix, MixUp};
use smalldata::data::ImageDataset;
use smalldata::train::{Classifier, Length, ModelKind, ModelSpec, TrainConfig, Trainer};
use tch::{Device, Kind, Tensor};

/// Training after a few steps: relative L2 distance of the weights, relative
/// difference of each logged loss.
const TOL_TF32_OFF: f64 = 1e-3;
const TOL_TF32_ON: f64 = 3e-2;

fn test_device() -> Option<Device> {
    if let Ok(name) = std::env::var("SMALLDATA_CUDA_TEST_DEVICE") {
        return Some(smalldata::device::parse_device(&name).expect("SMALLDATA_CUDA_TEST_DEVICE"));
    }
    if tch::Cuda::is_available() {
        return Some(Device::Cuda(0));
    }
    eprintln!("skipped: libtorch sees no CUDA device (SMALLDATA_CUDA_TEST_DEVICE=cpu dry-runs the harness on the CPU)");
    None
}

fn tf32_off() -> bool {
    std::env::var("NVIDIA_TF32_OVERRIDE").is_ok_and(|v| v.trim() == "0")
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
    (a - b.to_device(a.device())).abs().max().double_value(&[])
}

fn relative_l2(a: &Tensor, b: &Tensor) -> f64 {
    let b = b.to_device(a.device()).to_kind(Kind::Double);
    let a = a.to_kind(Kind::Double);
    let scale = b.norm().double_value(&[]).max(1e-12);
    (a - b).norm().double_value(&[]) / scale
}

fn batch(n: i64, c: i64, h: i64, w: i64, seed: u64) -> Tensor {
    AugRng::new(seed).uniform_tensor(&[n, c, h, w], Device::Cpu)
}

#[test]
fn every_image_operation_gives_the_cpu_result_on_the_device() {
    let Some(dev) = test_device() else { return };
    let tol = if tf32_off() { 1e-5 } else { 2e-3 };
    let mut worst: Vec<(String, f64)> = Vec::new();
    for (c, h, w) in [(1, 16, 16), (3, 16, 16)] {
        let x = batch(6, c, h, w, 11 + c as u64);
        for op in common::all_ops() {
            for seed in 0..3u64 {
                let on_cpu = op.apply(&x, seed).unwrap();
                let on_dev = op.apply(&x.to_device(dev), seed).unwrap();
                assert_eq!(on_dev.device(), dev, "{} left the device", op.name());
                assert_eq!(on_cpu.size(), on_dev.size(), "{}", op.name());
                let diff = max_abs_diff(&on_cpu, &on_dev);
                assert!(diff <= tol, "{} ({c} channels, seed {seed}): CPU and {dev:?} differ by {diff} > {tol}", op.name());
                match worst.iter_mut().find(|(n, _)| *n == op.name()) {
                    Some((_, d)) => *d = d.max(diff),
                    None => worst.push((op.name(), diff)),
                }
            }
        }
    }
    // batch mixes: the pairing and the mixing weights are host draws as well
    let x = batch(8, 3, 16, 16, 5);
    let labels = Tensor::from_slice(&[0i64, 1, 2, 0, 1, 2, 0, 1]);
    for (name, mix) in [
        ("MixUp", Box::new(|i: &Tensor, l: &Tensor, r: &mut AugRng| MixUp::new(0.4).unwrap().apply(i, l, 3, r)) as Box<dyn Fn(&Tensor, &Tensor, &mut AugRng) -> _>),
        ("CutMix", Box::new(|i: &Tensor, l: &Tensor, r: &mut AugRng| CutMix::new(1.0).unwrap().apply(i, l, 3, r))),
    ] {
        let (a, la) = mix(&x, &labels, &mut AugRng::new(3)).unwrap();
        let (b, lb) = mix(&x.to_device(dev), &labels.to_device(dev), &mut AugRng::new(3)).unwrap();
        let diff = max_abs_diff(&a, &b).max(max_abs_diff(&la, &lb));
        assert!(diff <= tol, "{name}: CPU and {dev:?} differ by {diff}");
        worst.push((name.to_string(), diff));
    }
    println!("largest CPU–{dev:?} difference per operation (TF32 {}):", if tf32_off() { "off" } else { "as libtorch sets it" });
    for (name, d) in worst {
        println!("  {name:<40} {d:.2e}");
    }
}

/// Two classes that differ in which half of a 12×12 image is bright, plus noise.
fn toy(n: usize, seed: u64) -> ImageDataset {
    let mut rng = AugRng::new(seed);
    let noise = rng.uniform_tensor(&[n as i64, 1, 12, 12], Device::Cpu) * 0.3;
    let labels: Vec<i64> = (0..n as i64).map(|i| i % 2).collect();
    let is_top = Tensor::from_slice(&labels).view([n as i64, 1, 1, 1]).to_kind(Kind::Float);
    let top = Tensor::zeros([1, 1, 12, 12], (Kind::Float, Device::Cpu));
    let _ = top.narrow(2, 0, 6).fill_(0.7);
    let bottom = top.flip([2]);
    let images: Tensor = (&top * &is_top + &bottom * (is_top.ones_like() - &is_top) + noise).clamp(0.0, 1.0);
    ImageDataset::new(images, Tensor::from_slice(&labels), vec!["top".into(), "bottom".into()]).unwrap()
}

fn train_on(kind: ModelKind, dev: Device, steps: usize) -> (Classifier, Vec<f64>) {
    let data = toy(48, 1);
    let mut model = Classifier::new(ModelSpec::new(kind, [1, 12, 12], 2), 7, dev).unwrap();
    let cfg = TrainConfig { length: Length::Steps(steps), batch_size: 16, seed: 3, progress: false, ..TrainConfig::default() };
    let history = Trainer::new(cfg).fit(&mut model, &data).unwrap();
    let losses = history.train_loss.iter().map(|(_, loss)| *loss).collect();
    (model, losses)
}

#[test]
fn training_steps_agree_with_the_cpu() {
    let Some(dev) = test_device() else { return };
    let tol = if tf32_off() { TOL_TF32_OFF } else { TOL_TF32_ON };
    for kind in [ModelKind::SmallCnn, ModelKind::SmallResNet] {
        let (a, la) = train_on(kind, Device::Cpu, 12);
        let (b, lb) = train_on(kind, dev, 12);
        assert_eq!(b.device(), dev);
        for (x, y) in la.iter().zip(&lb) {
            assert!((x - y).abs() <= tol * x.abs().max(1e-3), "{kind:?}: loss {x} on the CPU, {y} on {dev:?}");
        }
        let wa = a.weights();
        let wb = b.weights();
        let mut worst = 0f64;
        for ((na, ta), (nb, tb)) in wa.iter().zip(wb.iter()) {
            assert_eq!(na, nb);
            let d = relative_l2(ta, tb);
            assert!(d <= tol, "{kind:?} {na}: relative L2 distance {d:.2e} between CPU and {dev:?} weights > {tol}");
            worst = worst.max(d);
        }
        println!("{kind:?}: 12 steps, losses {la:.4?} vs {lb:.4?}, largest relative weight distance {worst:.2e} (tolerance {tol})");
    }
}

#[test]
fn info_reports_the_device() {
    let Some(dev) = test_device() else { return };
    let info = smalldata::info();
    if let Device::Cuda(_) = dev {
        assert!(info.cuda_available && info.cuda_devices >= 1, "{info:?}");
        assert!(info.device.starts_with("cuda"), "smalldata info picks {} although CUDA is present", info.device);
    }
    println!("{info}");
}
