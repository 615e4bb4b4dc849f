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

/// `generate sd-invert` then `generate sd-sample` with its file, on the tiny SD-1-like
/// pipeline of tests/golden/sd: what the README shows, end to end; a second
/// sd-invert in the same folder resumes (nothing left to train) instead of restarting.
#[test]
fn stable_diffusion_invert_then_sample_from_the_command_line() {
    let tmp = tempfile::tempdir().unwrap();
    let golden = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/sd");
    let (model, images) = (golden.join("sd1"), golden.join("images"));
    let out = tmp.path().join("inv");
    let invert = ["generate", "sd-invert", "--model", model.to_str().unwrap(), "--images", images.to_str().unwrap(), "--token", "<toy>", "--init", "toy", "--steps", "6", "--save-every", "3", "--samples", "2", "--sample-steps", "3", "--out", out.to_str().unwrap()];
    let (ok, stdout, stderr) = smalldata(&invert);
    assert!(ok, "{stdout}\n{stderr}");
    assert!(stdout.contains("6 steps (0 resumed)"), "{stdout}");
    for f in ["learned_embeds.safetensors", "learned_embeds-steps-3.safetensors", "inversion.json", "samples/00000.png", "samples/00001.png", "samples/samples.json"] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let (ok, stdout, _) = smalldata(&invert);
    assert!(ok && stdout.contains("(6 resumed)") && stdout.contains("0 made"), "{stdout}");
    let embeds = out.join("learned_embeds.safetensors");
    let pics = tmp.path().join("pics");
    let (ok, stdout, stderr) = smalldata(&["generate", "sd-sample", "--model", model.to_str().unwrap(), "--embeds", embeds.to_str().unwrap(), "--prompt", "a photo of <toy>", "--n", "3", "--sample-steps", "3", "--out", pics.to_str().unwrap()]);
    assert!(ok, "{stdout}\n{stderr}");
    assert!(stdout.contains("loaded <toy>") && pics.join("00002.png").is_file(), "{stdout}");
    // an initializer of several tokens is refused with the pieces named
    let (ok, _, stderr) = smalldata(&["generate", "sd-invert", "--model", model.to_str().unwrap(), "--images", images.to_str().unwrap(), "--init", "xylophone", "--out", tmp.path().join("x").to_str().unwrap()]);
    assert!(!ok && stderr.contains("xylophone") && stderr.contains("single token"), "{stderr}");
}
