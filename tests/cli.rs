//! The `smalldata` command end to end.
use std::process::Command;

fn smalldata(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_smalldata")).args(args).env_remove("SMALLDATA_DEVICE").output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn info_reports_libtorch_and_device() {
    let (ok, out, err) = smalldata(&["info"]);
    assert!(ok, "{err}");
    assert!(out.contains("libtorch      2.13.0"), "{out}");
    assert!(out.contains("device        cpu") || out.contains("device        cuda"), "{out}");
    let (ok, out, _) = smalldata(&["info", "--json"]);
    assert!(ok);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["smalldata"], env!("CARGO_PKG_VERSION"));
}

#[test]
fn data_summary_and_subsample() {
    let (ok, out, err) = smalldata(&["data", "digits", "--n-per-class", "5", "--seed", "3"]);
    assert!(ok, "{err}");
    assert!(out.contains("digits: 1797 images of 1×8×8"), "{out}");
    assert!(out.contains("5 per class (seed 3): 50 images"), "{out}");
}

#[test]
fn bad_csv_exits_non_zero_with_the_row() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.csv");
    std::fs::write(&path, "a,target\n1,2\n3,x\n").unwrap();
    let (ok, _, err) = smalldata(&["data", "csv", "--path", path.to_str().unwrap()]);
    assert!(!ok);
    assert!(err.starts_with("error: ") && err.contains("bad.csv, row 2, column \"target\""), "{err}");
}

#[test]
fn cuda_asked_for_without_gpu_is_a_clear_error() {
    if tch::Cuda::is_available() {
        return;
    }
    let out = Command::new(env!("CARGO_BIN_EXE_smalldata")).args(["demo"]).env("SMALLDATA_DEVICE", "cuda").output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cuda") && err.contains("no CUDA device"), "{err}");
}
