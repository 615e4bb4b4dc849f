//! The metrics against scikit-learn and SciPy on several hundred random cases; the
//! fixture `tests/golden/evaluate.json.gz` is written by
//! `tests/golden/make_evaluate_golden.py`. Agreement is required to 1e-9 relative.

use ndarray::Array2;
use serde_json::Value;
use smalldata::evaluate::{self, Average, MultiClass};
use std::io::Read;
use std::sync::OnceLock;

fn golden() -> &'static Value {
    static G: OnceLock<Value> = OnceLock::new();
    G.get_or_init(|| {
        let gz = include_bytes!("golden/evaluate.json.gz");
        let mut text = String::new();
        flate2::read::GzDecoder::new(&gz[..]).read_to_string(&mut text).unwrap();
        serde_json::from_str(&text).unwrap()
    })
}

fn cases(name: &str) -> &'static Vec<Value> {
    golden()[name].as_array().unwrap()
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap()
}

fn fs(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(f).collect()
}

fn is(v: &Value) -> Vec<i64> {
    v.as_array().unwrap().iter().map(|x| x.as_i64().unwrap()).collect()
}

fn matrix(v: &Value) -> Array2<f64> {
    let rows: Vec<Vec<f64>> = v.as_array().unwrap().iter().map(fs).collect();
    let (n, k) = (rows.len(), rows[0].len());
    Array2::from_shape_vec((n, k), rows.concat()).unwrap()
}

#[track_caller]
fn assert_close(got: f64, want: f64, what: &str, case: usize) {
    let ok = got == want || (got - want).abs() <= 1e-9 * want.abs().max(1e-300) || (want == 0.0 && got.abs() < 1e-15);
    assert!(ok, "case {case}: {what} = {got}, scikit-learn says {want}");
}

#[test]
fn binary_auc_and_roc_curve() {
    for (i, c) in cases("binary").iter().enumerate() {
        let (y, s) = (is(&c["y"]), fs(&c["s"]));
        assert_close(evaluate::roc_auc(&y, &s).unwrap(), f(&c["auc"]), "AUC", i);
        let curve = evaluate::roc_curve(&y, &s).unwrap();
        let want_fpr = fs(&c["fpr"]);
        assert_eq!(curve.fpr.len(), want_fpr.len(), "case {i}: number of ROC points");
        for (j, (a, b)) in curve.fpr.iter().zip(&want_fpr).enumerate() {
            assert_close(*a, *b, &format!("fpr[{j}]"), i);
        }
        for (j, (a, b)) in curve.tpr.iter().zip(&fs(&c["tpr"])).enumerate() {
            assert_close(*a, *b, &format!("tpr[{j}]"), i);
        }
        let thr = c["thresholds"].as_array().unwrap();
        assert!(thr[0].is_null() && curve.thresholds[0] == f64::INFINITY);
        for (j, (a, b)) in curve.thresholds.iter().zip(thr).enumerate().skip(1) {
            assert_close(*a, f(b), &format!("threshold[{j}]"), i);
        }
    }
}

#[test]
fn multiclass_auc_and_log_loss() {
    let strategies = [
        ("ovr_macro", MultiClass::OvrMacro),
        ("ovr_weighted", MultiClass::OvrWeighted),
        ("ovr_micro", MultiClass::OvrMicro),
        ("ovo_macro", MultiClass::OvoMacro),
        ("ovo_weighted", MultiClass::OvoWeighted),
    ];
    for (i, c) in cases("multiclass").iter().enumerate() {
        let (y, p) = (is(&c["y"]), matrix(&c["p"]));
        for (name, strategy) in strategies {
            assert_close(evaluate::roc_auc_multiclass(&y, p.view(), strategy).unwrap(), f(&c[name]), name, i);
        }
        assert_close(evaluate::log_loss(&y, p.view()).unwrap(), f(&c["log_loss"]), "log loss", i);
    }
}

#[test]
fn label_metrics() {
    for (i, c) in cases("labels").iter().enumerate() {
        let (y, yp) = (is(&c["y"]), is(&c["yp"]));
        assert_close(evaluate::accuracy(&y, &yp).unwrap(), f(&c["accuracy"]), "accuracy", i);
        assert_close(evaluate::balanced_accuracy(&y, &yp).unwrap(), f(&c["balanced_accuracy"]), "balanced accuracy", i);
        let k = c["num_classes"].as_u64().unwrap() as usize;
        let cm = evaluate::confusion_matrix(&y, &yp, k).unwrap();
        let want: Vec<Vec<i64>> = c["confusion"].as_array().unwrap().iter().map(is).collect();
        for (r, row) in want.iter().enumerate() {
            for (col, &v) in row.iter().enumerate() {
                assert_eq!(cm[[r, col]] as i64, v, "case {i}: confusion[{r},{col}]");
            }
        }
        for (avg, name) in [(Average::Macro, "macro"), (Average::Weighted, "weighted")] {
            let prf = evaluate::precision_recall_f1(&y, &yp, avg).unwrap();
            assert_close(prf.precision, f(&c[format!("precision_{name}").as_str()]), "precision", i);
            assert_close(prf.recall, f(&c[format!("recall_{name}").as_str()]), "recall", i);
            assert_close(prf.f1, f(&c[format!("f1_{name}").as_str()]), "F1", i);
        }
    }
}

#[test]
fn fowlkes_mallows_and_adjusted_rand() {
    for (i, c) in cases("clustering").iter().enumerate() {
        let (a, b) = (is(&c["a"]), is(&c["b"]));
        assert_close(evaluate::fowlkes_mallows(&a, &b).unwrap(), f(&c["fmi"]), "FMI", i);
        assert_close(evaluate::adjusted_rand(&a, &b).unwrap(), f(&c["ari"]), "ARI", i);
    }
}

#[test]
fn regression_metrics() {
    for (i, c) in cases("regression").iter().enumerate() {
        let (y, yp) = (fs(&c["y"]), fs(&c["yp"]));
        let s = evaluate::RegressionScores::compute(&y, &yp).unwrap();
        assert_close(s.rmse, f(&c["rmse"]), "RMSE", i);
        assert_close(s.mae, f(&c["mae"]), "MAE", i);
        assert_close(s.r2, f(&c["r2"]), "R²", i);
        assert_close(s.mape, f(&c["mape"]), "MAPE", i);
    }
}

#[test]
fn statistics_against_scipy() {
    for (i, c) in cases("t_quantiles").iter().enumerate() {
        let got = evaluate::student_t_quantile(f(&c["q"]), f(&c["df"])).unwrap();
        assert_close(got, f(&c["t"]), "t quantile", i);
    }
    for (i, c) in cases("t_cdf").iter().enumerate() {
        assert_close(evaluate::student_t_cdf(f(&c["x"]), f(&c["df"])), f(&c["cdf"]), "t cdf", i);
    }
    for (i, c) in cases("paired").iter().enumerate() {
        let (a, b) = (fs(&c["a"]), fs(&c["b"]));
        let s = evaluate::Summary::of(&a).unwrap();
        assert_close(s.mean, f(&c["mean_a"]), "mean", i);
        assert_close(s.std, f(&c["std_a"]), "std", i);
        let ci = fs(&c["ci_a"]);
        assert_close(s.ci_low, ci[0], "CI low", i);
        assert_close(s.ci_high, ci[1], "CI high", i);
        let p = evaluate::paired_comparison(&a, &b, 0.95).unwrap();
        assert_close(p.t, f(&c["t"]), "paired t", i);
        assert_close(p.p_value, f(&c["p"]), "paired p", i);
        assert_close(p.mean_diff, f(&c["diff_mean"]), "mean difference", i);
        let dci = fs(&c["diff_ci"]);
        assert_close(p.ci_low, dci[0], "difference CI low", i);
        assert_close(p.ci_high, dci[1], "difference CI high", i);
        let w = evaluate::welch_comparison(&a, &b, 0.95).unwrap();
        assert_close(w.t, f(&c["welch_t"]), "Welch t", i);
        assert_close(w.p_value, f(&c["welch_p"]), "Welch p", i);
        assert_close(w.df, f(&c["welch_df"]), "Welch df", i);
        let wci = fs(&c["welch_ci"]);
        assert_close(w.ci_low, wci[0], "Welch CI low", i);
        assert_close(w.ci_high, wci[1], "Welch CI high", i);
    }
}

#[test]
fn fixture_has_the_promised_spread() {
    let bin = cases("binary");
    let sizes: Vec<usize> = bin.iter().map(|c| c["y"].as_array().unwrap().len()).collect();
    assert!(sizes.iter().any(|&n| n <= 3) && sizes.iter().any(|&n| n >= 5000), "sizes 2 to 10,000");
    let classes: Vec<usize> = cases("multiclass").iter().map(|c| c["p"][0].as_array().unwrap().len()).collect();
    assert!(classes.contains(&3) && classes.iter().any(|&k| k >= 19));
    let total: usize = ["binary", "multiclass", "labels", "clustering", "regression", "paired"].iter().map(|n| cases(n).len()).sum();
    assert!(total >= 500, "{total} cases");
}

#[test]
fn frechet_distance_and_prdc() {
    for (i, c) in cases("generative").iter().enumerate() {
        let (real, fake) = (matrix(&c["real"]), matrix(&c["fake"]));
        let fd = evaluate::frechet_distance(real.view(), fake.view()).unwrap();
        // scipy's sqrtm is itself accurate to about 1e-10 on these matrices
        let want = f(&c["fd"]);
        assert!((fd - want).abs() <= 1e-7 * want.abs().max(1.0), "case {i}: FD {fd} vs {want}");
        let k = c["k"].as_u64().unwrap() as usize;
        let p = evaluate::prdc(real.view(), fake.view(), k).unwrap();
        assert_close(p.precision, f(&c["precision"]), "precision", i);
        assert_close(p.recall, f(&c["recall"]), "recall", i);
        assert_close(p.density, f(&c["density"]), "density", i);
        assert_close(p.coverage, f(&c["coverage"]), "coverage", i);
    }
}

/// Holm's adjustment against statsmodels' `multipletests(method="holm")` on 40 sets
/// of 1–50 p-values with ties (`tests/golden/make_holm_golden.py` writes the fixture).
#[test]
fn holm_matches_statsmodels() {
    let g: Value = serde_json::from_str(include_str!("golden/holm.json")).unwrap();
    let cases = g["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 40);
    for c in cases {
        let ours = evaluate::holm_adjust(&fs(&c["p"])).unwrap();
        for (a, b) in ours.iter().zip(fs(&c["holm"])) {
            assert!((a - b).abs() <= 1e-12 * b.abs().max(1e-300), "{a} vs {b} in {c}");
        }
    }
}

/// Power of the two-sided paired t-test and the smallest detectable effect against
/// statsmodels' `TTestPower` (`tests/golden/make_power_golden.py` writes the fixture).
#[test]
fn power_matches_statsmodels() {
    let g: Value = serde_json::from_str(include_str!("golden/power.json")).unwrap();
    let power = g["power"].as_array().unwrap();
    assert!(power.len() >= 60, "{}", power.len());
    for c in power {
        let (d, n, alpha) = (c["d"].as_f64().unwrap(), c["n"].as_u64().unwrap() as usize, c["alpha"].as_f64().unwrap());
        let ours = evaluate::paired_t_power(d, n, alpha).unwrap();
        let theirs = c["power"].as_f64().unwrap();
        assert!((ours - theirs).abs() < 2e-6, "{ours} vs {theirs} in {c}");
    }
    for c in g["mde"].as_array().unwrap() {
        let ours = evaluate::min_detectable_effect(c["n"].as_u64().unwrap() as usize, 0.05, 0.8).unwrap();
        let theirs = c["d"].as_f64().unwrap();
        assert!((ours - theirs).abs() < 1e-5 * theirs, "{ours} vs {theirs} in {c}");
    }
}
