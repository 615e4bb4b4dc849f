//! Time one augmentation on a batch, for profiling (one thread):
//! `cargo run --release --example prof_augment -- crop|rotate|noise SIZE [ITERS]`
//! prints µs per image (mean and fastest call); run under `perf record` to see where the time goes.
use smalldata::augment::{AugRng, Augment, GaussianNoise, RandomCrop, RandomRotation};
use std::time::Instant;
use tch::{Device, Kind, Tensor};

fn main() -> smalldata::Result<()> {
    tch::set_num_threads(1);
    let args: Vec<String> = std::env::args().collect();
    let op = args.get(1).map_or("rotate", String::as_str);
    let size: i64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(128);
    let iters: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(200);
    let n = if size <= 32 { 512 } else { 64 };
    let x = Tensor::rand([n, 1, size, size], (Kind::Float, Device::Cpu));
    let aug: Box<dyn Augment> = match op {
        "crop" => Box::new(RandomCrop::new(size, size).padding(4).build()?),
        "noise" => Box::new(GaussianNoise::new(0.1).build()?),
        _ => Box::new(RandomRotation::new(-30.0, 30.0).build()?),
    };
    let mut rng = AugRng::new(0);
    let first: Vec<String> = (0..10)
        .map(|_| {
            let t = Instant::now();
            let _ = aug.apply_rng(&x, &mut rng);
            format!("{:.1}", t.elapsed().as_secs_f64() / n as f64 * 1e6)
        })
        .collect();
    println!("first calls, µs per image: {}", first.join(" "));
    for _ in 0..3 {
        let (mut best, t) = (f64::INFINITY, Instant::now());
        for _ in 0..iters {
            let call = Instant::now();
            let _ = aug.apply_rng(&x, &mut rng)?;
            best = best.min(call.elapsed().as_secs_f64());
        }
        let per = |s: f64| s / n as f64 * 1e6;
        println!("{op} {size}×{size}: {:.2} µs per image on average, {:.2} in the fastest call", per(t.elapsed().as_secs_f64() / iters as f64), per(best));
    }
    Ok(())
}
