//! The Gaussian copula synthesizer: Φ and Φ⁻¹ against SciPy, marginals and rank
//! correlations of real data reproduced, seeded sampling, edge cases.
use smalldata::augment::tabular::TabularAugment;
use smalldata::data::TabularData;
use smalldata::evaluate::{normal_cdf, normal_quantile};
use smalldata::generate::*;
use smalldata::ndarray::{array, concatenate, Array1, Array2, Axis};

#[test]
fn normal_cdf_and_quantile_match_scipy() {
    // scipy.stats.norm.cdf / .ppf (SciPy 1.x in .venv). statrs' erfc is off by up to
    // ~1.4e-11 for arguments in [0.5, 0.75) (its f64 offsets are the f32 constants of
    // the Boost fit it ports, written as decimals), hence 1e-10 rather than 1e-15.
    for (x, want) in [(1.0, 0.8413447460685429), (-2.0, 0.022750131948179195), (3.5, 0.9997673709209645), (0.0, 0.5)] {
        assert!((normal_cdf(x) - want).abs() < 1e-10, "Φ({x}) = {} vs {want}", normal_cdf(x));
    }
    for (p, want) in [(0.975, 1.959963984540054), (0.001, -3.090232306167813), (0.3, -0.5244005127080407), (0.5, 0.0)] {
        assert!((normal_quantile(p) - want).abs() < 1e-10, "Φ⁻¹({p}) = {} vs {want}", normal_quantile(p));
    }
    for p in [1e-6, 0.01, 0.2, 0.77, 0.999] {
        assert!((normal_cdf(normal_quantile(p)) - p).abs() < 1e-10 * p);
    }
}

fn spearman(a: &[f64], b: &[f64]) -> f64 {
    let rank = |v: &[f64]| {
        let mut idx: Vec<usize> = (0..v.len()).collect();
        idx.sort_by(|&i, &j| v[i].total_cmp(&v[j]));
        let mut r = vec![0.0; v.len()];
        let mut k = 0;
        while k < idx.len() {
            let mut e = k;
            while e + 1 < idx.len() && v[idx[e + 1]] == v[idx[k]] {
                e += 1;
            }
            for &i in &idx[k..=e] {
                r[i] = (k + e) as f64 / 2.0; // ties share their mean rank
            }
            k = e + 1;
        }
        r
    };
    let (ra, rb) = (Array1::from(rank(a)), Array1::from(rank(b)));
    let (ca, cb) = (&ra - ra.mean().unwrap(), &rb - rb.mean().unwrap());
    ca.dot(&cb) / (ca.dot(&ca) * cb.dot(&cb)).sqrt()
}

fn quantile(v: &[f64], q: f64) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s[((s.len() - 1) as f64 * q).round() as usize]
}

#[test]
fn synthetic_diabetes_keeps_marginals_and_rank_correlations() {
    let d = TabularData::diabetes().unwrap();
    let table = concatenate![Axis(1), d.x.view(), d.y.view().insert_axis(Axis(1))];
    let copula = GaussianCopula::fit(table.view()).unwrap();
    let fake = copula.sample(20_000, 0);
    assert_eq!(fake.dim(), (20_000, 11));
    for j in 0..11 {
        let (real, synth) = (table.column(j).to_vec(), fake.column(j).to_vec());
        // diabetes is discrete (rounded measurements), so an order statistic can sit
        // next to a gap: compare moments tightly and quantiles to a tenth of the spread
        let (mr, ms) = (Array1::from(real.clone()), Array1::from(synth.clone()));
        let (sr, ss) = (mr.std(0.0), ms.std(0.0));
        assert!((mr.mean().unwrap() - ms.mean().unwrap()).abs() < 0.05 * sr, "column {j} mean");
        assert!((ss / sr - 1.0).abs() < 0.05, "column {j} std {ss} vs {sr}");
        let spread = quantile(&real, 0.9) - quantile(&real, 0.1);
        for q in [0.1, 0.5, 0.9] {
            assert!((quantile(&real, q) - quantile(&synth, q)).abs() < 0.1 * spread, "column {j} quantile {q}");
        }
        let (lo, hi) = (quantile(&real, 0.0), quantile(&real, 1.0));
        assert!(synth.iter().all(|&v| v >= lo && v <= hi), "samples stay inside the observed range");
    }
    // s1 and s2 (columns 4, 5) are strongly correlated, s3 and s4 (6, 7) negatively,
    // bmi (2) with the target (10) and with blood pressure (3) moderately. (Sex,
    // column 1, is binary: a Gaussian copula attenuates its correlations.)
    for (a, b) in [(4, 5), (2, 10), (2, 3), (6, 7)] {
        let real = spearman(&table.column(a).to_vec(), &table.column(b).to_vec());
        let synth = spearman(&fake.column(a).to_vec(), &fake.column(b).to_vec());
        assert!((real - synth).abs() < 0.08, "Spearman({a}, {b}): real {real:.3}, synthetic {synth:.3}");
    }
    assert_eq!(copula.sample(10, 3), copula.sample(10, 3));
    assert_ne!(copula.sample(10, 3), copula.sample(10, 4));
}

#[test]
fn edge_cases_are_handled_or_refused() {
    // a constant column stays constant; perfectly correlated columns do not break the factorisation
    let x: Array2<f64> = Array2::from_shape_fn((30, 3), |(i, j)| match j {
        0 => 5.0,
        1 => i as f64,
        _ => 2.0 * i as f64 + 1.0,
    });
    let s = GaussianCopula::fit(x.view()).unwrap().sample(100, 0);
    assert!(s.column(0).iter().all(|&v| v == 5.0));
    assert!(spearman(&s.column(1).to_vec(), &s.column(2).to_vec()) > 0.99);
    let mut bad = x.clone();
    bad[[4, 1]] = f64::NAN;
    let e = GaussianCopula::fit(bad.view()).unwrap_err().to_string();
    assert!(e.contains("row 4, column 1"), "{e}");
    assert!(GaussianCopula::fit(array![[1.0, 2.0]].view()).is_err());
    // as a tabular augmentation: rows of features and target
    let y = Array1::from_shape_fn(30, |i| i as f64 * 0.5);
    let (xa, ya) = CopulaSynth.augment(&x, &y, 12, 1).unwrap();
    assert_eq!((xa.dim(), ya.len()), ((12, 3), 12));
    assert_eq!(CopulaSynth.name(), "copula");
}
