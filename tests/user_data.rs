//! Every study on data that is not in the repository: image folders the tests write
//! themselves (gray and RGB, odd sizes, unbalanced classes, train/test given or
//! not) and CSVs with missing cells and a categorical column, run through the
//! `smalldata` command as a user would, with the reports read back.
use smalldata::image::{GrayImage, Luma, Rgb, RgbImage};
use std::path::Path;
use std::process::Command;

fn smalldata(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_smalldata")).args(args).env_remove("SMALLDATA_DEVICE").output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Class `k` of 3 is a bright bar (horizontal at the top, horizontal at the bottom,
/// vertical in the middle) on a dark, noisy background: separable by eye.
fn pixel(k: usize, i: u32, x: u32, y: u32, side: u32) -> u8 {
    let bar = match k {
        0 => y < side / 3,
        1 => y >= 2 * side / 3,
        _ => x >= side / 3 && x < 2 * side / 3,
    };
    let noise = ((x * 7 + y * 13 + i * 31) % 40) as u8;
    if bar { 200 + noise / 2 } else { noise }
}

/// Write `counts[k]` images of class `k` under `dir/<name>/`.
fn write_classes(dir: &Path, side: u32, rgb: bool, counts: &[usize]) {
    let names = ["top", "bottom", "middle"];
    for (k, &n) in counts.iter().enumerate() {
        let d = dir.join(names[k]);
        std::fs::create_dir_all(&d).unwrap();
        for i in 0..n as u32 {
            let path = d.join(format!("{i:03}.png"));
            if rgb {
                RgbImage::from_fn(side, side, |x, y| {
                    let v = pixel(k, i, x, y, side);
                    Rgb([v, v / 2, 255 - v])
                })
                .save(path)
                .unwrap();
            } else {
                GrayImage::from_fn(side, side, |x, y| Luma([pixel(k, i, x, y, side)])).save(path).unwrap();
            }
        }
    }
}

fn study(folder: &Path, out: &Path, extra: &[&str]) -> (bool, String, String) {
    let mut args = vec!["study", "--dataset", folder.to_str().unwrap(), "--seeds", "2", "--steps", "40", "--batch-size", "16", "--quiet"];
    args.extend(["--out", out.to_str().unwrap()]);
    args.extend(extra);
    smalldata(&args)
}

fn accuracies(out: &Path) -> Vec<f64> {
    let text = std::fs::read_to_string(out.join("results.jsonl")).unwrap();
    text.lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["scores"]["accuracy"].as_f64().unwrap()
        })
        .collect()
}

#[test]
fn a_gray_folder_without_a_test_part_is_split_and_learned() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("bars");
    write_classes(&data, 28, false, &[12, 12, 12]);
    let out = dir.path().join("out");
    let (ok, stdout, err) = study(&data, &out, &["--sizes", "3,6", "--ops", "crop,noise"]);
    assert!(ok, "{err}");
    // 30% of 12 per class held out: 4 test images per class, 8 left
    assert!(stdout.contains("12 test images"), "{stdout}");
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    for want in ["top", "bottom", "middle", "held out once", "gray 28×28", "Test images per class: bottom 4, middle 4, top 4", "crop+noise", "Holm"] {
        assert!(html.contains(want), "{want} not in the report");
    }
    let acc = accuracies(&out);
    assert_eq!(acc.len(), 2 * 4 * 2);
    let mean = acc.iter().sum::<f64>() / acc.len() as f64;
    assert!(mean > 0.6, "three separable classes, chance 0.33: mean accuracy {mean} ({acc:?})");
    // unbalanced request: more than the smallest class holds after the test part
    let (ok, _, err) = study(&data, &dir.path().join("big"), &["--sizes", "9"]);
    assert!(!ok && err.contains("has only 8 training images") && err.contains("(bottom)"), "{err}");
}

#[test]
fn rgb_folders_with_train_and_test_at_any_size_and_the_gan_on_an_odd_size() {
    let dir = tempfile::tempdir().unwrap();
    for (side, gan) in [(32u32, false), (64, false), (25, true)] {
        let data = dir.path().join(format!("rgb{side}"));
        write_classes(&data.join("train"), side, true, &[6, 5, 7]);
        write_classes(&data.join("test"), side, true, &[3, 3, 3]);
        let out = dir.path().join(format!("out{side}"));
        let mut extra = vec!["--sizes", "4", "--ops", "crop,rotate"];
        if gan {
            extra.extend(["--gan", "1", "--gan-steps", "20"]);
        }
        let (ok, stdout, err) = study(&data, &out, &extra);
        assert!(ok, "{side}: {err}");
        assert!(stdout.contains("9 test images"), "{stdout}");
        let html = std::fs::read_to_string(out.join("index.html")).unwrap();
        assert!(html.contains(&format!("RGB {side}×{side}")) && html.contains("train/ and test/ given"), "{side}");
        let rows = accuracies(&out);
        assert_eq!(rows.len(), 2 * if gan { 5 } else { 4 }, "{side}");
        let mean = rows.iter().sum::<f64>() / rows.len() as f64;
        assert!(mean > 0.45, "{side}: mean accuracy {mean} ({rows:?}), chance 0.33");
        if gan {
            assert!(html.contains("<b>gan</b>"));
        }
    }
}

#[test]
fn bad_folders_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    write_classes(&data, 16, false, &[5, 5]);
    std::fs::write(data.join("top").join("notes.txt"), "not an image").unwrap();
    let o = dir.path().join("o");
    let (ok, _, err) = study(&data, &o, &["--sizes", "2", "--ops", "none"]);
    assert!(!ok && err.contains("notes.txt") && err.contains("--skip-bad"), "{err}");
    // skipped on request, and listed in the report
    let (ok, _, err) = study(&data, &o, &["--sizes", "2", "--ops", "none", "--skip-bad"]);
    assert!(ok, "{err}");
    let html = std::fs::read_to_string(o.join("index.html")).unwrap();
    assert!(html.contains("skipped 1 unreadable file") && html.contains("notes.txt"));
    // an empty class folder
    std::fs::create_dir_all(data.join("empty")).unwrap();
    let (ok, _, err) = study(&data, &dir.path().join("o2"), &["--sizes", "2", "--skip-bad"]);
    assert!(!ok && err.contains("empty") && err.contains("no image files"), "{err}");
    // a path that is neither a folder nor a dataset
    let (ok, _, err) = smalldata(&["study", "--dataset", "/no/such/images", "--out", o.to_str().unwrap()]);
    assert!(!ok && err.contains("/no/such/images") && err.contains("neither a folder"), "{err}");
}

#[test]
fn the_transfer_study_runs_on_a_folder() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("bars");
    write_classes(&data, 40, true, &[8, 8, 8]);
    let out = dir.path().join("ft");
    let (ok, stdout, err) = smalldata(&[
        "finetune", "run", "--folder", data.to_str().unwrap(), "--sizes", "3", "--strategies", "scratch,frozen-linear", "--seeds", "2", "--steps", "20",
        "--out", out.to_str().unwrap(), "--quiet",
    ]);
    assert!(ok, "{err}");
    assert!(stdout.contains("frozen-linear"), "{stdout}");
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(html.contains("top, bottom") || html.contains("bottom, middle, top"), "class names in the report");
    assert_eq!(accuracies(&out).len(), 4);
}

fn write_csv(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

/// A table with a categorical column and missing cells: y = 3·a − 2·b + 10·[site = north] + noise.
fn messy_csv() -> String {
    let mut s = String::from("a,b,site,y\n");
    for i in 0..80 {
        let a = (i * 7 % 23) as f64 / 3.0;
        let b = (i * 5 % 17) as f64 / 2.0;
        let site = ["north", "south", "east"][i % 3];
        let y = 3.0 * a - 2.0 * b + if site == "north" { 10.0 } else { 0.0 } + ((i * 11 % 7) as f64 - 3.0) * 0.3;
        let a_cell = if i % 9 == 4 { "NA".to_string() } else { format!("{a}") };
        let site_cell = if i % 13 == 6 { "" } else { site };
        let y_cell = if i % 17 == 16 { "?".to_string() } else { format!("{y:.3}") };
        s += &format!("{a_cell},{b},{site_cell},{y_cell}\n");
    }
    s
}

#[test]
fn a_csv_with_missing_cells_and_a_categorical_column_runs() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("sales.csv");
    write_csv(&csv, &messy_csv());
    let out = dir.path().join("tab");
    let (ok, stdout, err) = smalldata(&[
        "tabular", "--dataset", csv.to_str().unwrap(), "--target", "y", "--sizes", "15,40", "--augment", "none,jitter,mixup,smoter", "--models",
        "ols,ridge=0.1", "--seeds", "3", "--out", out.to_str().unwrap(), "--quiet",
    ]);
    assert!(ok, "{err}");
    assert!(stdout.contains("ridge/mixup") && stdout.contains("p (Holm)"), "{stdout}");
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(html.contains("east, north, south"), "categories listed");
    assert!(html.contains("4 row(s) dropped for a missing target"), "dropped rows counted");
    let text = std::fs::read_to_string(out.join("results.jsonl")).unwrap();
    assert_eq!(text.lines().count(), 2 * 8 * 3);
    // the model learns the categorical effect: OLS at 40 rows is far below the spread of y
    let y: Vec<f64> = messy_csv().lines().skip(1).filter_map(|l| l.rsplit(',').next()?.parse().ok()).collect();
    let mean = y.iter().sum::<f64>() / y.len() as f64;
    let sd = (y.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (y.len() - 1) as f64).sqrt();
    let rmse: Vec<f64> = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["arm"] == "ols/none" && v["size"] == 40)
        .map(|v| v["scores"]["rmse"].as_f64().unwrap())
        .collect();
    let mean_rmse = rmse.iter().sum::<f64>() / rmse.len() as f64;
    assert!(mean_rmse < 0.5 * sd, "RMSE {rmse:?} against a target sd of {sd}");
    // --missing error names the first missing cell
    let (ok, _, err) = smalldata(&["tabular", "--dataset", csv.to_str().unwrap(), "--target", "y", "--missing", "error", "--out", out.to_str().unwrap()]);
    assert!(!ok && err.contains("row 5") && err.contains("\"a\"") && err.contains("NA"), "{err}");
}

#[test]
fn bad_csvs_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let o = dir.path().join("o");
    let cases = [
        ("a,b\n1,2\n3,4\n", "price", "not in header"),
        ("a,b,price\n1,NA,2\n3,,4\n", "price", "every cell of this column is missing"),
        ("a,b,price\n1,2,3\n4,5,6\n7,eight,9\n10,11,12\n", "price", "\"eight\" is not a number"),
    ];
    for (i, (text, target, want)) in cases.iter().enumerate() {
        let csv = dir.path().join(format!("t{i}.csv"));
        write_csv(&csv, text);
        let (ok, _, err) = smalldata(&["tabular", "--dataset", csv.to_str().unwrap(), "--target", target, "--sizes", "1", "--out", o.to_str().unwrap()]);
        assert!(!ok && err.contains(want) && err.contains(&format!("t{i}.csv")), "{err}");
    }
}

const BACKBONE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/pretrained/resnet_fmnist_0-4.safetensors");
const DIFFUSION: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/pretrained/ddpm_fmnist_0-8.safetensors");

#[test]
fn a_study_on_a_folder_with_a_backbone_and_a_diffusion_model() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("bars");
    write_classes(&data, 28, false, &[8, 8, 8]);
    let out = dir.path().join("out");
    let (ok, stdout, err) = study(
        &data,
        &out,
        &["--sizes", "3", "--ops", "none", "--backbone", BACKBONE, "--strategies", "frozen-linear,lora=2", "--diffusion-model", DIFFUSION, "--diffusion", "1", "--inversion-steps", "3"],
    );
    assert!(ok, "{err}");
    for arm in ["frozen-linear", "lora-r2", "diffusion"] {
        assert!(stdout.contains(arm), "{arm} missing: {stdout}");
    }
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(html.contains("diffusion ×1 for every class") && html.contains("resnet_fmnist_0-4.safetensors"));
    assert_eq!(accuracies(&out).len(), 2 * 4);

    // without a backbone the transfer arms are skipped with a line; an RGB folder
    // goes to the gray backbone as luminance, and is refused by the gray diffusion
    // model, naming shapes
    let (ok, stdout, _) = study(&data, &dir.path().join("plain"), &["--sizes", "3", "--ops", "none"]);
    assert!(ok && stdout.contains("transfer arms skipped: no --backbone given"), "{stdout}");
    let rgb = dir.path().join("rgb");
    write_classes(&rgb, 28, true, &[8, 8, 8]);
    let (ok, stdout, err) = study(&rgb, &dir.path().join("o2"), &["--sizes", "3", "--ops", "none", "--backbone", BACKBONE, "--strategies", "frozen-linear"]);
    assert!(ok && stdout.contains("frozen-linear"), "{err}");
    let (ok, _, err) = study(&rgb, &dir.path().join("o3"), &["--sizes", "3", "--ops", "none", "--diffusion-model", DIFFUSION]);
    assert!(!ok && err.contains("[1, 28, 28]") && err.contains("[3, 28, 28]"), "{err}");
}

#[test]
fn backbones_and_diffusion_models_pretrained_on_a_folder_serve_a_study() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source");
    write_classes(&source, 16, false, &[6, 6]);
    let target = dir.path().join("target");
    write_classes(&target, 16, false, &[6, 6, 6]);
    let backbone = dir.path().join("backbone.safetensors");
    let (ok, stdout, err) = smalldata(&[
        "finetune", "pretrain", "--folder", source.to_str().unwrap(), "--size", "16", "--steps", "3", "--out", backbone.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    assert!(stdout.contains("pretraining on image folder") && backbone.exists(), "{stdout}");
    let ddpm = dir.path().join("ddpm.safetensors");
    let (ok, stdout, err) = smalldata(&[
        "generate", "diffusion-pretrain", "--folder", target.to_str().unwrap(), "--steps", "2", "--batch-size", "4", "--width", "8",
        "--tokens-per-class", "1", "--out", dir.path().join("ck").to_str().unwrap(), "--export", ddpm.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    // trained on the training part only: 4 of each class's 6 images (2 held out)
    assert!(stdout.contains("12 left to draw training sets from"), "{stdout}");
    let out = dir.path().join("study");
    let (ok, stdout, err) = study(
        &target,
        &out,
        &["--sizes", "2", "--ops", "none", "--backbone", backbone.to_str().unwrap(), "--strategies", "frozen-linear", "--diffusion-model", ddpm.to_str().unwrap(), "--inversion-steps", "2"],
    );
    assert!(ok, "{err}");
    assert!(stdout.contains("frozen-linear") && stdout.contains("diffusion"), "{stdout}");
}

const TINY_VIT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/vit/model");

/// Transfer on an RGB folder from a Hugging Face ViT folder (the tiny random fixture)
/// and from a torchvision ResNet-18 file (random weights under torchvision's names),
/// every strategy, from the command line.
#[test]
fn transfer_on_a_folder_from_a_vit_and_a_torchvision_resnet() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("rgb");
    write_classes(&data, 20, true, &[8, 8, 8]);
    let run = |checkpoint: &str, out: &str, extra: &[&str]| {
        let mut args = vec![
            "finetune", "run", "--checkpoint", checkpoint, "--folder", data.to_str().unwrap(), "--sizes", "3", "--seeds", "1", "--steps", "3",
            "--batch-size", "4", "--strategies", "scratch,frozen-linear,frozen-mlp,lora=2,full,gradual", "--quiet", "--out",
        ];
        let out = dir.path().join(out);
        args.push(out.to_str().unwrap());
        args.extend_from_slice(extra);
        let (ok, stdout, err) = smalldata(&args);
        assert!(ok, "{checkpoint}: {err}");
        for arm in ["scratch", "frozen-linear", "frozen-mlp", "lora-r2", "full", "gradual"] {
            assert!(stdout.contains(arm), "{arm} missing: {stdout}");
        }
        std::fs::read_to_string(out.join("index.html")).unwrap()
    };
    let html = run(TINY_VIT, "vit", &[]);
    assert!(html.contains("ViT 2×32, patch 4, 16×16"), "the page names the backbone");
    let vs = tch::nn::VarStore::new(tch::Device::Cpu);
    let _ = tch::vision::resnet::resnet18(&vs.root(), 1000);
    let r18 = dir.path().join("resnet18.safetensors");
    vs.save(&r18).unwrap();
    let html = run(r18.to_str().unwrap(), "r18", &["--image-size", "32"]);
    assert!(html.contains("torchvision ResNet-18"));
}

/// A ViT pretrained on a folder is a Hugging Face folder that serves a study.
#[test]
fn a_vit_pretrained_on_a_folder_serves_a_study() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source");
    write_classes(&source, 16, false, &[6, 6]);
    let target = dir.path().join("target");
    write_classes(&target, 16, false, &[6, 6, 6]);
    let vit = dir.path().join("vit");
    let (ok, _, err) = smalldata(&["finetune", "pretrain", "--arch", "vit", "--folder", source.to_str().unwrap(), "--size", "16", "--steps", "3", "--out", vit.to_str().unwrap()]);
    assert!(ok, "{err}");
    for f in ["config.json", "model.safetensors", "preprocessor_config.json", "README.md"] {
        assert!(vit.join(f).exists(), "{f}");
    }
    let config = std::fs::read_to_string(vit.join("config.json")).unwrap();
    assert!(config.contains("ViTForImageClassification") && config.contains("id2label"), "{config}");
    let (ok, stdout, err) = study(&target, &dir.path().join("study"), &["--sizes", "2", "--ops", "none", "--backbone", vit.to_str().unwrap(), "--strategies", "frozen-linear,lora=2"]);
    assert!(ok, "{err}");
    assert!(stdout.contains("lora-r2"), "{stdout}");
}

/// Two runs into one output folder: the second is refused at once, naming the process
/// that holds the folder; a holder that is killed leaves nothing stuck.
#[test]
fn an_output_folder_in_use_is_refused_and_a_killed_holder_leaves_it_free() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tab");
    let args = ["tabular", "--dataset", "diabetes", "--sizes", "20", "--seeds", "1", "--models", "ridge", "--augment", "none", "--quiet", "--out", out.to_str().unwrap()];
    let held = smalldata::io::OutputLock::acquire(&out).unwrap();
    let (ok, _, err) = smalldata(&args);
    assert!(!ok && err.contains("is in use by process") && err.contains(&std::process::id().to_string()) && err.contains("tab"), "{err}");
    drop(held);
    let (ok, _, err) = smalldata(&args);
    assert!(ok, "{err}");
    // a holder killed with SIGKILL (flock(1) holding the same lock; -o: its command does
    // not inherit it): the operating system drops the lock
    if let Ok(mut holder) = Command::new("flock").arg("-o").arg(out.join(smalldata::io::LOCK_FILE)).args(["sleep", "5"]).spawn() {
        std::thread::sleep(std::time::Duration::from_millis(300));
        assert!(smalldata::io::OutputLock::acquire(&out).is_err(), "flock(1) holds the same lock");
        holder.kill().unwrap();
        holder.wait().unwrap();
        assert!(smalldata::io::OutputLock::acquire(&out).is_ok());
    }
}
