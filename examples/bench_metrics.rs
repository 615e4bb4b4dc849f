//! Benchmark: our metrics beside scikit-learn's, on the same data, in one command.
//!
//!     make bench-metrics      (or: cargo run --release --example bench_metrics)
//!
//! Draws the inputs with a fixed seed, times each of our functions (best of 7 runs),
//! writes the inputs as raw little-endian files, has `bench/sklearn_metrics.py` time
//! scikit-learn on exactly those files, checks that both give the same value, and
//! prints the speed ratio (scikit-learn time / ours). Ratios, not seconds, are what
//! to compare across machines.

use rand::Rng;
use smalldata::evaluate::{self, MultiClass};
use std::time::Instant;

fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut best = f64::INFINITY;
    let mut out = None;
    for _ in 0..runs {
        let t = Instant::now();
        let v = f();
        best = best.min(t.elapsed().as_secs_f64());
        out = Some(v);
    }
    (best, out.expect("runs > 0"))
}

fn write_f64(path: &std::path::Path, v: &[f64]) -> std::io::Result<()> {
    std::fs::write(path, v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>())
}

fn write_i64(path: &std::path::Path, v: &[i64]) -> std::io::Result<()> {
    std::fs::write(path, v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut rng = smalldata::rng(7);
    let dir = tempfile::tempdir()?;
    let d = dir.path();

    // binary AUC on 10^6 scores (rounded to 4 decimals so there are ties)
    let n = 1_000_000;
    let yb: Vec<i64> = (0..n).map(|_| rng.gen_bool(0.3) as i64).collect();
    let sb: Vec<f64> = yb.iter().map(|&y| ((rng.gen::<f64>() + 0.3 * y as f64) * 1e4).round() / 1e4).collect();
    write_i64(&d.join("yb.bin"), &yb)?;
    write_f64(&d.join("sb.bin"), &sb)?;

    // OvR / OvO AUC on 10^5 × 10 probabilities
    let (m, k) = (100_000, 10);
    let ym: Vec<i64> = (0..m).map(|_| rng.gen_range(0..k as i64)).collect();
    let mut pm = vec![0.0; m * k];
    for i in 0..m {
        let row = &mut pm[i * k..(i + 1) * k];
        for (c, v) in row.iter_mut().enumerate() {
            *v = rng.gen::<f64>() + if c as i64 == ym[i] { 0.5 } else { 0.0 };
        }
        let s: f64 = row.iter().sum();
        row.iter_mut().for_each(|v| *v /= s);
    }
    write_i64(&d.join("ym.bin"), &ym)?;
    write_f64(&d.join("pm.bin"), &pm)?;
    let pm = ndarray::Array2::from_shape_vec((m, k), pm)?;

    // FMI on 10^6 labels
    let la: Vec<i64> = (0..n).map(|_| rng.gen_range(0..20)).collect();
    let lb: Vec<i64> = la.iter().map(|&a| if rng.gen_bool(0.6) { a % 15 } else { rng.gen_range(0..15) }).collect();
    write_i64(&d.join("la.bin"), &la)?;
    write_i64(&d.join("lb.bin"), &lb)?;

    let runs = 7;
    let ours = [
        ("binary AUC, 1e6 scores", best_of(runs, || evaluate::roc_auc(&yb, &sb))),
        ("OvR macro AUC, 1e5 x 10", best_of(runs, || evaluate::roc_auc_multiclass(&ym, pm.view(), MultiClass::OvrMacro))),
        ("OvO macro AUC, 1e5 x 10", best_of(runs, || evaluate::roc_auc_multiclass(&ym, pm.view(), MultiClass::OvoMacro))),
        ("FMI, 1e6 labels", best_of(runs, || evaluate::fowlkes_mallows(&la, &lb))),
    ];

    let python = std::env::var("SMALLDATA_PYTHON").unwrap_or_else(|_| ".venv/bin/python".into());
    let out = std::process::Command::new(&python).arg("bench/sklearn_metrics.py").arg(d).arg(runs.to_string()).output()?;
    if !out.status.success() {
        return Err(format!("{python} bench/sklearn_metrics.py failed:\n{}", String::from_utf8_lossy(&out.stderr)).into());
    }
    let theirs: serde_json::Value = serde_json::from_slice(&out.stdout)?;

    println!("{:<26} {:>12} {:>14} {:>9}  {}", "metric", "ours (ms)", "sklearn (ms)", "ratio", "same value");
    for (i, (name, (secs, value))) in ours.iter().enumerate() {
        let value = value.as_ref().map_err(|e| e.to_string())?;
        let t = &theirs[i];
        let (their_secs, their_value) = (t["seconds"].as_f64().unwrap_or(f64::NAN), t["value"].as_f64().unwrap_or(f64::NAN));
        let same = (value - their_value).abs() <= 1e-9 * their_value.abs();
        println!("{name:<26} {:>12.2} {:>14.2} {:>8.1}x  {same} ({value:.12} vs {their_value:.12})", secs * 1e3, their_secs * 1e3, their_secs / secs);
    }
    println!("ratio = scikit-learn time / smalldata time (best of {runs}); scikit-learn {}", theirs[4]["sklearn"].as_str().unwrap_or("?"));
    Ok(())
}
