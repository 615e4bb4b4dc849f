//! Our loaders against scikit-learn and torchvision: the reference values in
//! `tests/golden/data.json` were written by `tests/golden/make_data_golden.py`.

use serde_json::Value;
use smalldata::data::{self, ImageDataset, TabularData};

fn golden() -> Value {
    serde_json::from_str(include_str!("golden/data.json")).unwrap()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

fn ints(v: &Value) -> Vec<i64> {
    v.as_array().unwrap().iter().map(|x| x.as_i64().unwrap()).collect()
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * (1.0 + b.abs())
}

#[test]
fn diabetes_matches_sklearn_load_diabetes() {
    let g = &golden()["diabetes"];
    let d = TabularData::diabetes().unwrap();
    assert_eq!(vec![d.len() as i64, d.nfeatures() as i64], ints(&g["shape"]));
    for (r, row) in g["first_rows"].as_array().unwrap().iter().enumerate() {
        for (c, want) in floats(row).into_iter().enumerate() {
            assert!(close(d.x[[r, c]], want, 1e-12), "x[{r},{c}] = {} vs sklearn {want}", d.x[[r, c]]);
        }
    }
    for (c, want) in floats(&g["column_sums_abs"]).into_iter().enumerate() {
        let got: f64 = d.x.column(c).iter().map(|v| v.abs()).sum();
        assert!(close(got, want, 1e-12), "column {c}: {got} vs {want}");
    }
    let raw = TabularData::diabetes_raw().unwrap();
    assert_eq!(raw.x.row(0).to_vec(), floats(&g["raw_first_row"]));
    assert_eq!(d.y.iter().take(5).copied().collect::<Vec<_>>(), floats(&g["target_first"]));
    assert!(close(d.y.sum(), g["target_sum"].as_f64().unwrap(), 1e-12));
}

#[test]
fn digits_match_sklearn_load_digits() {
    let g = &golden()["digits"];
    let d = data::digits().unwrap();
    assert_eq!(d.class_counts().iter().map(|&c| c as i64).collect::<Vec<_>>(), ints(&g["class_counts"]));
    let first = Vec::<f32>::try_from(d.images().get(0).flatten(0, -1)).unwrap();
    for (got, want) in first.iter().zip(floats(&g["first_image"])) {
        assert!(close(*got as f64, want, 1e-7));
    }
}

fn check_idx(ds: &ImageDataset, g: &Value) {
    assert_eq!(ds.len() as i64, g["len"].as_i64().unwrap());
    assert_eq!(ds.labels_vec()[..20].to_vec(), ints(&g["first_labels"]));
    assert_eq!(ds.class_counts().iter().map(|&c| c as i64).collect::<Vec<_>>(), ints(&g["class_counts"]));
    for (i, want) in floats(&g["first_image_sums"]).into_iter().enumerate() {
        let got = ds.images().get(i as i64).sum(tch::Kind::Double).double_value(&[]);
        assert!(close(got, want, 1e-5), "image {i}: {got} vs torchvision {want}");
    }
    let mean = ds.images().mean(tch::Kind::Double).double_value(&[]);
    assert!(close(mean, g["pixel_mean"].as_f64().unwrap(), 1e-6));
}

#[test]
fn embedded_fashion_subset_matches_torchvision_reader() {
    let g = &golden()["fashion_subset"];
    let tt = data::fashion_mnist_embedded().unwrap();
    check_idx(&tt.train, &g["train"]);
    check_idx(&tt.test, &g["test"]);
}

#[test]
fn full_fashion_mnist_matches_torchvision_reader() {
    let g = golden();
    let dir = std::path::Path::new(data::DEBIAN_FASHION_DIR);
    if g.get("fashion_full").is_none() || !dir.join("train-images-idx3-ubyte.gz").is_file() {
        eprintln!("skipped: the full Fashion-MNIST is not installed here (make setup installs it where apt exists)");
        return;
    }
    let tt = data::fashion_mnist(Some(dir)).unwrap();
    assert_eq!((tt.train.len(), tt.test.len()), (60_000, 10_000));
    check_idx(&tt.train, &g["fashion_full"]["train"]);
    check_idx(&tt.test, &g["fashion_full"]["test"]);
}
