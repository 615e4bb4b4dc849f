//! The tabular WGAN-GP and the TSTR comparison.

use smalldata::augment::tabular::TabularAugment;
use smalldata::generate::{GanSynth, TabularGan, TabularGanConfig};
use smalldata::tabular::{run_tabular_tstr, TstrConfig};
use smalldata::ndarray::{Array1, Array2};
use smalldata::tabular::TabularMethod;

/// y = 2·x₀ − x₁ + small noise, x uniform: a dependence the GAN must learn.
fn linear_table(n: usize) -> (Array2<f64>, Array1<f64>) {
    let x = Array2::from_shape_fn((n, 2), |(i, j)| ((i * 37 + j * 11) % n) as f64 / n as f64);
    let y = Array1::from_shape_fn(n, |i| 2.0 * x[[i, 0]] - x[[i, 1]] + 0.01 * ((i % 7) as f64 - 3.0));
    (x, y)
}

fn corr(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
    cov / (va * vb).sqrt()
}

#[test]
fn learns_the_dependence_and_the_ranges_seeded() {
    let (x, y) = linear_table(60);
    let cfg = TabularGanConfig { steps: 400, hidden: 64, ..TabularGanConfig::default() };
    let gan = TabularGan::fit(&x, &y, &cfg, 3).unwrap();
    let (sx, sy) = gan.sample(500, 1).unwrap();
    assert_eq!((sx.dim(), sy.len()), ((500, 2), 500));
    // the target follows 2·x₀ − x₁ in the synthetic rows too
    let fitted: Vec<f64> = (0..500).map(|i| 2.0 * sx[[i, 0]] - sx[[i, 1]]).collect();
    let r = corr(&fitted, sy.as_slice().unwrap());
    assert!(r > 0.8, "correlation of y with 2·x0 − x1 in synthetic rows: {r}");
    // and stays near the real range (y in about [-1, 2])
    let mean_y = sy.mean().unwrap();
    assert!((mean_y - y.mean().unwrap()).abs() < 0.3, "{mean_y} vs {}", y.mean().unwrap());
    // same seeds, same rows; another sampling seed, other rows
    let again = TabularGan::fit(&x, &y, &cfg, 3).unwrap();
    assert_eq!(again.sample(500, 1).unwrap(), (sx.clone(), sy.clone()));
    assert_ne!(gan.sample(500, 2).unwrap().1, sy);
    // as an augmentation
    let (ax, ay) = GanSynth(cfg.clone()).augment(&x, &y, 7, 0).unwrap();
    assert_eq!((ax.nrows(), ay.len()), (7, 7));
}

#[test]
fn bad_input_is_refused() {
    let (x, y) = linear_table(20);
    let ok = TabularGanConfig { steps: 2, ..TabularGanConfig::default() };
    for cfg in [
        TabularGanConfig { bins: 0, ..ok.clone() },
        TabularGanConfig { steps: 0, ..ok.clone() },
        TabularGanConfig { lr: 0.0, ..ok.clone() },
        TabularGanConfig { lambda: f64::NAN, ..ok.clone() },
    ] {
        assert!(TabularGan::fit(&x, &y, &cfg, 0).is_err(), "{cfg:?}");
    }
    let mut bad = x.clone();
    bad[[4, 1]] = f64::NAN;
    let err = TabularGan::fit(&bad, &y, &ok, 0).unwrap_err().to_string();
    assert!(err.contains("row 4"), "{err}");
    let mut constant = x.clone();
    constant.column_mut(0).fill(1.0);
    assert!(TabularGan::fit(&constant, &y, &ok, 0).is_err());
    assert!(TabularGan::fit(&x, &y.slice(smalldata::ndarray::s![..5]).to_owned(), &ok, 0).is_err());
}

#[test]
fn tstr_on_diabetes_has_a_row_per_model_and_training_source() {
    let cfg = TstrConfig { synthesizers: vec![TabularMethod::Copula], seeds: 2, ..TstrConfig::default() };
    let rows = run_tabular_tstr(&cfg).unwrap();
    assert_eq!(rows.len(), cfg.models.len() * 2);
    for pair in rows.chunks(2) {
        assert_eq!(pair[0].train_data, "real");
        assert!(pair[0].rmse_gap.is_none());
        assert_eq!(pair[1].train_data, "copula");
        let gap = pair[1].rmse_gap.as_ref().unwrap();
        // the gap is TSTR − TRTR, seed by seed
        assert!((gap.mean_diff - (pair[1].rmse.mean - pair[0].rmse.mean)).abs() < 1e-9);
        // diabetes targets have sd ≈ 77: any sensible model lands well below 100
        assert!(pair[0].rmse.mean > 30.0 && pair[0].rmse.mean < 100.0, "{:?}", pair[0].rmse);
    }
    assert!(run_tabular_tstr(&TstrConfig { synthesizers: vec![TabularMethod::None], ..cfg.clone() }).is_err());
    assert!(run_tabular_tstr(&TstrConfig { seeds: 1, ..cfg }).is_err());
}
