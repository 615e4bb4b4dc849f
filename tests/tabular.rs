//! Tabular baselines beyond the linear golden fits: every model learns, bad input is
//! refused with a clear message, and the study resumes like the image study.
use smalldata::data::TabularData;
use smalldata::evaluate::rmse;
use smalldata::ndarray::{array, Array1, Array2, Axis};
use smalldata::experiment::{Metric, RunRow};
use smalldata::tabular::*;

fn split(d: &TabularData) -> (TabularData, TabularData) {
    let train: Vec<usize> = (0..d.len()).filter(|i| i % 4 != 0).collect();
    let test: Vec<usize> = (0..d.len()).filter(|i| i % 4 == 0).collect();
    (d.select(&train).unwrap(), d.select(&test).unwrap())
}

#[test]
fn every_model_beats_predicting_the_mean_on_diabetes() {
    let d = TabularData::diabetes().unwrap();
    let (train, test) = split(&d);
    let y = test.y.as_slice().unwrap();
    let mean = train.y.mean().unwrap();
    let baseline = rmse(y, &vec![mean; y.len()]).unwrap();
    for name in ["ols", "ridge", "lasso", "elasticnet", "svr", "knn=10", "mlp=32"] {
        let reg: Regressor = name.parse().unwrap();
        let fit = reg.fit(train.x.view(), train.y.view(), 0).unwrap();
        let pred = fit.predict(test.x.view()).unwrap();
        let e = rmse(y, pred.as_slice().unwrap()).unwrap();
        assert!(e < 0.9 * baseline, "{name}: RMSE {e} vs mean-only {baseline}");
    }
}

#[test]
fn same_seed_same_mlp_and_fit_predict_on_a_linfa_dataset() {
    let d = TabularData::diabetes().unwrap();
    let (train, test) = split(&d);
    let reg: Regressor = "mlp=16".parse().unwrap();
    let a = fit_predict(&reg, &train.to_linfa(), test.x.view(), 3).unwrap();
    let b = fit_predict(&reg, &train.to_linfa(), test.x.view(), 3).unwrap();
    let c = fit_predict(&reg, &train.to_linfa(), test.x.view(), 4).unwrap();
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn bad_input_is_refused_naming_the_row_or_column() {
    let x: Array2<f64> = Array2::from_shape_fn((6, 2), |(i, j)| (i * (j + 1)) as f64);
    let y: Array1<f64> = Array1::from_shape_fn(6, |i| i as f64);
    let ols = Regressor::Ols;
    let mut nan = x.clone();
    nan[[3, 1]] = f64::NAN;
    let e = ols.fit(nan.view(), y.view(), 0).unwrap_err().to_string();
    assert!(e.contains("row 3, column 1") && e.contains("NaN"), "{e}");
    let mut inf = y.clone();
    inf[2] = f64::INFINITY;
    assert!(ols.fit(x.view(), inf.view(), 0).unwrap_err().to_string().contains("target, row 2"));
    let mut constant = x.clone();
    constant.column_mut(0).fill(7.0);
    let e = ols.fit(constant.view(), y.view(), 0).unwrap_err().to_string();
    assert!(e.contains("column 0") && e.contains("constant"), "{e}");
    // a misspelt dataset is not taken for a CSV path
    let e = TabularSource::parse("diabetis", "target").unwrap_err().to_string();
    assert!(e.contains("diabetis") && e.contains("diabetes, winequality"), "{e}");
    // fewer rows than parameters: 3 rows, 2 features + intercept is fine, 2 rows is not
    let few = array![[1.0, 2.0], [2.0, 1.0]];
    let e = ols.fit(few.view(), array![1.0, 2.0].view(), 0).unwrap_err().to_string();
    assert!(e.contains("OLS") && e.contains("ridge"), "{e}");
    assert!(Regressor::Ridge { alpha: 1.0 }.fit(few.view(), array![1.0, 2.0].view(), 0).is_ok());
    let fit = ols.fit(x.view(), y.view(), 0).unwrap();
    assert!(fit.predict(x.select(Axis(1), &[0]).view()).unwrap_err().to_string().contains("expected 2, got 1"));
    for (bad, shows) in [("ridge=-1", "ridge=-1"), ("knn=0", "knn=0"), ("forest", "forest")] {
        let e = bad.parse::<Regressor>().unwrap_err().to_string();
        assert!(e.contains(shows), "{e}");
    }
    assert!(Regressor::Knn { k: 10 }.fit(x.view(), y.view(), 0).unwrap_err().to_string().contains("k = 10"));
}

#[test]
fn a_csv_without_its_target_column_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("t.csv");
    std::fs::write(&p, "a,b\n1,2\n3,4\n").unwrap();
    let cfg = TabularStudyConfig { data: TabularSource::parse(p.to_str().unwrap(), "price").unwrap(), out: dir.path().join("o"), ..Default::default() };
    let e = run_tabular_study(&cfg).unwrap_err().to_string();
    assert!(e.contains("price") && e.contains("t.csv"), "{e}");
}

#[test]
fn the_tabular_study_summarises_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = TabularStudyConfig {
        sizes: vec![20, 50],
        methods: vec![TabularMethod::None, TabularMethod::Mixup, TabularMethod::Smoter],
        models: vec![Regressor::Ridge { alpha: 1.0 }, Regressor::Knn { k: 5 }],
        seeds: 3,
        out: dir.path().to_path_buf(),
        progress: false,
        ..Default::default()
    };
    let first = run_tabular_study(&cfg).unwrap();
    assert_eq!((first.ran, first.rows.len()), (36, 36));
    assert_eq!(first.summary.rows.len(), 12);
    let ridge_mixup = first.summary.get(20, "ridge/mixup").unwrap();
    assert_eq!(ridge_mixup.baseline.as_deref(), Some("ridge/none"));
    assert!(ridge_mixup.metric(Metric::Rmse).unwrap().vs_baseline.is_some() && ridge_mixup.get(Metric::Rmse).n == 3);
    assert!(first.summary.rows.iter().all(|r| r.get(Metric::Rmse).mean > 40.0 && r.get(Metric::Rmse).mean < 90.0), "diabetes RMSE lies around 55–70");
    for f in ["results.jsonl", "study.json", "summary.csv", "index.html", "rmse_vs_n.svg", "gain_rmse_n20.png"] {
        assert!(dir.path().join(f).exists(), "{f}");
    }
    // cut the file: the rest is fitted again, with the same numbers
    let path = dir.path().join("results.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    let keep: Vec<&str> = text.lines().take(20).collect();
    std::fs::write(&path, keep.join("\n") + "\n").unwrap();
    let again = run_tabular_study(&cfg).unwrap();
    assert_eq!((again.ran, again.resumed), (16, 20));
    let scores = |rows: &[RunRow]| rows.iter().map(|r| (r.key(), r.scores)).collect::<Vec<_>>();
    assert_eq!(scores(&again.rows), scores(&first.rows));
    let e = run_tabular_study(&TabularStudyConfig { sizes: vec![400], ..cfg.clone() }).unwrap_err().to_string();
    assert!(e.contains("400") && e.contains("442 rows"), "{e}");
    assert!(run_tabular_study(&TabularStudyConfig { seeds: 0, ..cfg }).unwrap_err().to_string().contains("seeds = 0"));
    println!("{}", first.summary.to_table());
}
