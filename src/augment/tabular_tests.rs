//! Tests of `tabular.rs` (kept apart to keep that file readable).
use super::*;
use ndarray::s;

/// 40 rows, 3 features on different scales, y affine in x (interpolation keeps it exact).
fn data(seed: u64) -> (Array2<f64>, Array1<f64>) {
    let mut rng = crate::rng(seed);
    let x = Array2::from_shape_fn((40, 3), |(_, j)| (j as f64 * 10.0 + 1.0) * normal(&mut rng) + j as f64);
    let y = x.map_axis(Axis(1), |r| affine(r));
    (x, y)
}

fn affine(r: ndarray::ArrayView1<f64>) -> f64 {
    2.0 * r[0] - 0.5 * r[1] + 0.1 * r[2] + 3.0
}

fn all_methods() -> Vec<Box<dyn TabularAugment>> {
    let jitter = GaussianJitter { target_scale: 0.1, ..Default::default() };
    vec![Box::new(jitter), Box::new(Mixup::default()), Box::new(Smoter::default()), Box::new(Smogn::default())]
}

/// Is every row (and target) of the output inside the per-feature box of `rows`?
fn in_box(x: &Array2<f64>, y: &Array1<f64>, rows: &[usize], row: ndarray::ArrayView1<f64>, t: f64) -> bool {
    let inside = |v: f64, f: &dyn Fn(usize) -> f64| {
        rows.iter().any(|&i| f(i) <= v + 1e-9) && rows.iter().any(|&i| f(i) >= v - 1e-9)
    };
    (0..x.ncols()).all(|j| inside(row[j], &|i| x[[i, j]])) && inside(t, &|i| y[i])
}

#[test]
fn same_seed_same_output_different_seed_differs_for_every_method() {
    let (x, y) = data(1);
    for m in all_methods() {
        let a = m.augment(&x, &y, 25, 7).unwrap();
        assert_eq!((a.0.dim(), a.1.len()), ((25, 3), 25), "{}", m.name());
        assert_eq!(a, m.augment(&x, &y, 25, 7).unwrap(), "{}: same seed, other output", m.name());
        assert_ne!(a.0, m.augment(&x, &y, 25, 8).unwrap().0, "{}: other seed, same rows", m.name());
        let (zx, zy) = m.augment(&x, &y, 0, 7).unwrap();
        assert_eq!((zx.dim(), zy.len()), ((0, 3), 0), "{}: n_new = 0", m.name());
        assert_eq!(augment_and_concat(m.as_ref(), &x, &y, 5, 0).unwrap().0.dim(), (45, 3));
    }
    let (ax, ay) = augment_and_concat(&Mixup::default(), &x, &y, 10, 0).unwrap();
    let (nx, ny) = Mixup::default().augment(&x, &y, 10, 0).unwrap();
    assert_eq!((ax.slice(s![..40, ..]), ax.slice(s![40.., ..])), (x.view(), nx.view()));
    assert_eq!((ay.slice(s![..40]), ay.slice(s![40..])), (y.view(), ny.view()));
}

#[test]
fn jitter_with_scale_zero_reproduces_source_rows_exactly() {
    let (x, y) = data(3);
    let (nx, ny) = GaussianJitter { scale: 0.0, target_scale: 0.0 }.augment(&x, &y, 100, 1).unwrap();
    for (row, t) in nx.outer_iter().zip(ny.iter()) {
        assert!((0..40).any(|i| x.row(i) == row && y[i] == *t), "row {row} is not a training row");
    }
}

#[test]
fn jitter_noise_std_is_scale_times_feature_std() {
    let (x, y) = data(4);
    let (n, all, rows) = (20_000, (0..20_000).collect::<Vec<_>>(), (0..40).collect::<Vec<_>>());
    // Same seed: the same source rows and normal draws, so the difference is the noise.
    let (nx, ny) = GaussianJitter { scale: 0.3, target_scale: 0.2 }.augment(&x, &y, n, 9).unwrap();
    let (bx, by) = GaussianJitter { scale: 0.0, target_scale: 0.0 }.augment(&x, &y, n, 9).unwrap();
    let measured = column_std(&(&nx - &bx), &all);
    // a sample std from 20 000 draws is within about 0.5% of the truth; allow 3%
    for (j, want) in column_std(&x, &rows).iter().map(|s| 0.3 * s).enumerate() {
        assert!((measured[j] / want - 1.0).abs() < 0.03, "feature {j}: {} vs {want}", measured[j]);
    }
    let (got_y, want_y) = (std_of(&(&ny - &by), &all), 0.2 * std_of(&y, &rows));
    assert!((got_y / want_y - 1.0).abs() < 0.03, "target: {got_y} vs {want_y}");
}

#[test]
fn beta_draws_have_the_right_mean_and_variance() {
    for alpha in [0.2, 0.4, 1.0, 2.0, 5.0] {
        let mut rng = crate::rng(11);
        let draws = Array1::from_shape_fn(20_000, |_| beta(alpha, alpha, &mut rng));
        assert!(draws.iter().all(|l| (0.0..=1.0).contains(l)));
        let (mean, var, want_var) = (draws.mean().unwrap(), draws.var(0.0), 1.0 / (4.0 * (2.0 * alpha + 1.0)));
        assert!((mean - 0.5).abs() < 0.01, "alpha {alpha}: mean {mean}");
        assert!((var / want_var - 1.0).abs() < 0.05, "alpha {alpha}: var {var} vs {want_var}");
    }
}

#[test]
fn mixup_rows_are_convex_with_one_lambda_for_features_and_target() {
    let (x, y) = data(5);
    let (nx, ny) = Mixup { alpha: 1.0 }.augment(&x, &y, 200, 3).unwrap();
    for (row, &t) in nx.outer_iter().zip(ny.iter()) {
        assert!(in_box(&x, &y, &(0..40).collect::<Vec<_>>(), row, t), "row {row} outside the inputs' range");
        // y is affine in x, so only the features' own λ on the target keeps y = affine(x)
        assert!((t - affine(row)).abs() < 1e-9, "target {t} not mixed with the features' λ");
    }
}

#[test]
fn smoter_rows_and_targets_stay_within_their_rare_set() {
    let (x, y) = data(6);
    let (low, high) = rare_indices(&y, 0.2, 0.8).unwrap();
    assert_eq!((low.len(), high.len()), (8, 8));
    let (nx, ny) = Smoter { lower_quantile: 0.2, upper_quantile: 0.8, k: 3 }.augment(&x, &y, 30, 4).unwrap();
    let mut per_set = (0, 0);
    for (row, &t) in nx.outer_iter().zip(ny.iter()) {
        let (in_low, in_high) = (in_box(&x, &y, &low, row, t), in_box(&x, &y, &high, row, t));
        assert!(in_low || in_high, "row {row} / target {t} is in neither rare set's range");
        per_set = (per_set.0 + in_low as usize, per_set.1 + in_high as usize);
        // inverse-distance weights on a straight segment keep y = affine(x)
        assert!((t - affine(row)).abs() < 1e-9);
    }
    assert_eq!(per_set, (15, 15), "equal rare sets share n_new equally");
    assert_eq!(Smoter { k: 1000, ..Default::default() }.augment(&x, &y, 12, 0).unwrap().0.nrows(), 12);
    assert_eq!((split_counts(9, &[6, 3]), split_counts(10, &[6, 3]), split_counts(1, &[2, 2])), (vec![6, 3], vec![7, 3], vec![1, 0]));
}

#[test]
fn smoter_errors_but_smogn_falls_back_without_extremes() {
    let x = Array2::from_shape_fn((20, 2), |(i, j)| (i * (j + 2)) as f64);
    let spread = Array1::from_shape_fn(20, |i| (i + 1) as f64); // 1..=20
    let flat = Array1::from_elem(20, 4.5);
    // quantiles 0.01 / 0.99 leave one rare row per side; a flat target has none
    assert_eq!(rare_indices(&spread, 0.01, 0.99).unwrap(), (vec![0], vec![19]));
    assert_eq!(rare_indices(&flat, 0.1, 0.9).unwrap(), (vec![], vec![]));
    let (smoter, smogn) = (Smoter { lower_quantile: 0.01, upper_quantile: 0.99, k: 5 }, Smogn { lower_quantile: 0.01, upper_quantile: 0.99, ..Default::default() });
    assert!(matches!(smoter.augment(&x, &spread, 5, 0), Err(Error::Undefined { .. })));
    assert!(matches!(Smoter::default().augment(&x, &flat, 5, 0), Err(Error::Undefined { .. })));
    let (nx, ny) = smogn.augment(&x, &spread, 30, 0).unwrap();
    assert_eq!((nx.dim(), ny.len()), ((30, 2), 30));
    assert!(ny.iter().all(|t| (0.0..=21.0).contains(t)), "{ny}");
    let (nx, ny) = Smogn::default().augment(&x, &flat, 30, 0).unwrap();
    assert_eq!(nx.nrows(), 30);
    assert!(ny.iter().all(|&t| t == 4.5), "a flat target stays flat: {ny}");
}

#[test]
fn smogn_perturbs_the_seed_when_the_neighbour_is_unsafe() {
    // Rare sets of 2 rows: the neighbour lies beyond half the median distance, so with
    // perturbation 0 every new row is an exact copy of a rare row.
    let x = Array2::from_shape_fn((10, 2), |(i, j)| if i == 0 { -50.0 } else { (i + j) as f64 });
    let y = Array1::from_shape_fn(10, |i| i as f64);
    let cfg = Smogn { lower_quantile: 0.15, upper_quantile: 0.85, k: 5, perturbation: 0.0 };
    assert_eq!(rare_indices(&y, 0.15, 0.85).unwrap(), (vec![0, 1], vec![8, 9]));
    let (nx, ny) = cfg.augment(&x, &y, 20, 2).unwrap();
    for (row, t) in nx.outer_iter().zip(ny.iter()) {
        assert!([0, 1, 8, 9].iter().any(|&i| x.row(i) == row && y[i] == *t), "row {row} is not a copy");
    }
    assert_ne!(Smogn { perturbation: 0.1, ..cfg }.augment(&x, &y, 20, 2).unwrap().0, nx);
}

#[test]
fn bad_inputs_are_errors_naming_the_place() {
    let (x, y) = data(8);
    for m in all_methods() {
        let e = m.augment(&x, &y.slice(s![..39]).to_owned(), 5, 0).unwrap_err().to_string();
        assert!(e.contains("40") && e.contains("39"), "{e}");
    }
    let (mut bad_x, mut bad_y) = (x.clone(), y.clone());
    (bad_x[[3, 2]], bad_y[5]) = (f64::NAN, f64::INFINITY);
    let e = Mixup::default().augment(&bad_x, &y, 5, 0).unwrap_err().to_string();
    assert!(e.contains("row 3, column 2") && e.contains("NaN"), "{e}");
    let e = Smoter::default().augment(&x, &bad_y, 5, 0).unwrap_err().to_string();
    assert!(e.contains("row 5") && e.contains("inf"), "{e}");
    let (x1, y1) = (x.slice(s![..1, ..]).to_owned(), y.slice(s![..1]).to_owned());
    for m in &all_methods()[2..] {
        let e = m.augment(&x1, &y1, 5, 0).unwrap_err().to_string();
        assert!(e.contains("at least 2 rows, got 1"), "{e}");
    }
    assert_eq!(GaussianJitter::default().augment(&x1, &y1, 3, 0).unwrap().0.nrows(), 3);
}

#[test]
fn bad_parameters_are_errors_naming_the_value() {
    let cases: Vec<(Result<()>, &str)> = vec![
        (GaussianJitter { scale: -0.25, ..Default::default() }.check(), "-0.25"),
        (GaussianJitter { target_scale: f64::NAN, ..Default::default() }.check(), "NaN"),
        (Mixup { alpha: 0.0 }.check(), "alpha = 0"),
        (Mixup { alpha: -1.5 }.check(), "-1.5"),
        (Smoter { lower_quantile: 0.0, ..Default::default() }.check(), "lower_quantile = 0"),
        (Smoter { upper_quantile: 1.25, ..Default::default() }.check(), "1.25"),
        (Smoter { lower_quantile: 0.7, upper_quantile: 0.6, k: 5 }.check(), "0.7"),
        (Smoter { k: 0, ..Default::default() }.check(), "k = 0"),
        (Smogn { k: 0, ..Default::default() }.check(), "k = 0"),
        (Smogn { perturbation: -0.125, ..Default::default() }.check(), "-0.125"),
        (Smogn { lower_quantile: -0.5, ..Default::default() }.check(), "-0.5"),
        (rare_indices(&Array1::zeros(3), 0.5, 0.5).map(|_| ()), "0.5"),
    ];
    for (result, needle) in cases {
        let e = result.unwrap_err();
        assert!(matches!(e, Error::InvalidParameter { .. }) && e.to_string().contains(needle), "{e} should name {needle}");
    }
    let (x, y) = data(9);
    assert!(Mixup { alpha: -2.0 }.augment(&x, &y, 0, 0).is_err(), "augment checks its config");
    assert!(GaussianJitter::default().check().is_ok() && Mixup::default().check().is_ok());
    assert!(Smoter::default().check().is_ok() && Smogn::default().check().is_ok());
}
