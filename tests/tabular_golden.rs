//! Linear baselines against scikit-learn (tests/golden/make_tabular_golden.py):
//! coefficients to 1e-6 relative for OLS and ridge, test RMSE/MAE to 1e-4 for lasso
//! and elastic net, on diabetes and red winequality with a fixed split.
use smalldata::data::TabularData;
use smalldata::evaluate::{mae, rmse};
use smalldata::ndarray::Axis;
use smalldata::tabular::Regressor;

fn golden() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/tabular.json")).unwrap()).unwrap()
}

fn check(name: &str, data: &TabularData) {
    let g = &golden()[name];
    let test: Vec<usize> = (0..data.len()).filter(|i| i % 4 == 0).collect();
    let train: Vec<usize> = (0..data.len()).filter(|i| i % 4 != 0).collect();
    let (xtr, ytr) = (data.x.select(Axis(0), &train), data.y.select(Axis(0), &train));
    let (xte, yte) = (data.x.select(Axis(0), &test), data.y.select(Axis(0), &test));
    for (model, reg) in [
        ("ols", Regressor::Ols),
        ("ridge", Regressor::Ridge { alpha: 1.0 }),
        ("lasso", Regressor::Lasso { alpha: 0.1 }),
        ("elasticnet", Regressor::ElasticNet { alpha: 0.1, l1_ratio: 0.5 }),
    ] {
        let fit = reg.fit(xtr.view(), ytr.view(), 0).unwrap();
        let pred = fit.predict(xte.view()).unwrap();
        let want = &g[model];
        let (r, m) = (rmse(yte.as_slice().unwrap(), pred.as_slice().unwrap()).unwrap(), mae(yte.as_slice().unwrap(), pred.as_slice().unwrap()).unwrap());
        assert!((r - want["rmse"].as_f64().unwrap()).abs() < 1e-4, "{name} {model} RMSE {r} vs {}", want["rmse"]);
        assert!((m - want["mae"].as_f64().unwrap()).abs() < 1e-4, "{name} {model} MAE {m} vs {}", want["mae"]);
        let (coef, intercept) = fit.coefficients().unwrap();
        let tol = if matches!(model, "ols" | "ridge") { 1e-6 } else { 1e-4 };
        let scale = want["coef"].as_array().unwrap().iter().map(|c| c.as_f64().unwrap().abs()).fold(0.0, f64::max);
        for (j, c) in want["coef"].as_array().unwrap().iter().enumerate() {
            let c = c.as_f64().unwrap();
            // relative to the coefficient, or to the largest one for coefficients near 0
            let rel = (coef[j] - c).abs() / c.abs().max(scale * 1e-3);
            assert!(rel < tol, "{name} {model} coef {j}: {} vs {c} (rel {rel:e})", coef[j]);
        }
        let b = want["intercept"].as_f64().unwrap();
        assert!((intercept - b).abs() / b.abs() < tol, "{name} {model} intercept {intercept} vs {b}");
    }
}

#[test]
fn linear_models_match_scikit_learn_on_diabetes() {
    check("diabetes", &TabularData::diabetes().unwrap());
}

#[test]
fn linear_models_match_scikit_learn_on_winequality() {
    check("winequality", &TabularData::winequality().unwrap());
}
