//! The augmentation study end to end on the embedded data: grid, resume after a
//! kill, determinism, and flags rejected before any training.
use smalldata::study::{methods, run_study, Op, RunRow, StudyConfig, StudyData, RESULTS_FILE};
use smalldata::train::{Length, TrainConfig};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

fn tiny(out: &Path) -> StudyConfig {
    StudyConfig {
        data: StudyData::FashionMnistEmbedded,
        sizes: vec![3, 5],
        ops: vec![Op::Crop { padding: 2 }, Op::Noise { sigma: 0.1 }],
        seeds: 2,
        train: TrainConfig { length: Length::Steps(8), batch_size: 16, progress: false, ..TrainConfig::default() },
        test_limit: Some(100),
        jobs: 2,
        out: out.to_path_buf(),
        progress: false,
        ..StudyConfig::default()
    }
}

fn rows(path: &Path) -> Vec<RunRow> {
    std::fs::read_to_string(path).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// (n, method, seed) → (accuracy, auc), the numbers a run produced.
fn scores(rows: &[RunRow]) -> BTreeMap<(usize, String, u64), (f64, f64)> {
    rows.iter().map(|r| (r.key(), (r.accuracy(), r.auc()))).collect()
}

#[test]
fn methods_are_every_combination_in_a_fixed_order() {
    let ops: Vec<Op> = ["crop", "rotate", "noise"].iter().map(|s| s.parse().unwrap()).collect();
    let names: Vec<String> = methods(&ops, true).iter().map(|m| m.name()).collect();
    assert_eq!(
        names,
        ["none", "crop", "rotate", "noise", "crop+rotate", "crop+noise", "rotate+noise", "crop+rotate+noise", "randaugment", "trivialaugment"]
    );
    assert_eq!("crop=4".parse::<Op>().unwrap(), Op::Crop { padding: 4 });
    assert_eq!("rotate=30".parse::<Op>().unwrap(), Op::Rotate { degrees: 30.0 });
    for (bad, names) in [("shear", "shear"), ("crop=-1", "crop=-1"), ("noise=abc", "noise=abc"), ("flip=2", "flip=2")] {
        let e = bad.parse::<Op>().unwrap_err().to_string();
        assert!(e.contains(names), "{e}");
    }
}

#[test]
fn a_study_runs_the_whole_grid_then_resumes_without_redoing_and_repeats_its_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = tiny(dir.path());
    let first = run_study(&cfg).unwrap();
    assert_eq!((first.ran, first.resumed, first.rows.len()), (16, 0, 16)); // 2 sizes × 4 methods × 2 seeds
    assert_eq!(first.test_images, 100);
    for f in ["results.jsonl", "summary.csv", "index.html", "accuracy_vs_n.svg", "auc_vs_n.png", "gain_accuracy_n5.svg", "study.json"] {
        assert!(dir.path().join(f).exists(), "{f} missing");
    }
    let html = std::fs::read_to_string(dir.path().join("index.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("crop+noise"));
    assert_eq!(first.summary.rows.len(), 8);
    assert_eq!(first.summary.best.len(), 2);

    // again: nothing to do, same summary
    let again = run_study(&cfg).unwrap();
    assert_eq!((again.ran, again.resumed), (0, 16));
    assert_eq!(again.summary, first.summary);

    // the same study elsewhere with one job gives bit-identical numbers
    let other = tempfile::tempdir().unwrap();
    let solo = run_study(&StudyConfig { jobs: 1, out: other.path().to_path_buf(), ..cfg.clone() }).unwrap();
    assert_eq!(scores(&solo.rows), scores(&first.rows));

    // a kill: the last 5 rows never written and the one before torn in half
    let path = dir.path().join(RESULTS_FILE);
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut cut = lines[..10].join("\n");
    cut.push('\n');
    cut.push_str(&lines[10][..lines[10].len() / 2]);
    std::fs::write(&path, cut).unwrap();
    let resumed = run_study(&cfg).unwrap();
    assert_eq!((resumed.ran, resumed.resumed), (6, 10));
    let written = rows(&path);
    assert_eq!(written.len(), 16, "exactly one row per run");
    assert_eq!(scores(&written), scores(&first.rows));

    // a changed protocol cannot be mixed into the same directory
    let changed = StudyConfig { train: TrainConfig { lr: 0.01, ..cfg.train.clone() }, ..cfg.clone() };
    let e = run_study(&changed).unwrap_err().to_string();
    assert!(e.contains("another protocol") && e.contains("study.json") && e.contains("train.lr"), "{e}");
    let redefined = StudyConfig { ops: vec![Op::Crop { padding: 4 }, Op::Noise { sigma: 0.1 }], ..cfg.clone() };
    let e = run_study(&redefined).unwrap_err().to_string();
    assert!(e.contains("crop(padding 2)") && e.contains("crop(padding 4)"), "{e}");
}

fn smalldata(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_smalldata")).args(args).env_remove("SMALLDATA_DEVICE").output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

const TINY: [&str; 14] = [
    "study",
    "--dataset",
    "fashion-mnist-embedded",
    "--sizes",
    "3,5",
    "--ops",
    "crop,noise",
    "--seeds",
    "2",
    "--steps",
    "8",
    "--test-limit",
    "100",
    "--quiet",
];

#[test]
fn a_study_killed_mid_run_finishes_with_one_row_per_run_when_restarted() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("killed");
    let reference = dir.path().join("reference");
    let args = |o: &Path| {
        let mut v: Vec<String> = TINY.iter().map(|s| s.to_string()).collect();
        v.extend(["--batch-size".into(), "16".into(), "--jobs".into(), "1".into(), "--out".into(), o.display().to_string()]);
        v
    };
    // start, wait for a few rows, kill -9
    let mut child = Command::new(env!("CARGO_BIN_EXE_smalldata")).args(args(&out)).spawn().unwrap();
    let results = out.join(RESULTS_FILE);
    let started = std::time::Instant::now();
    loop {
        let n = std::fs::read_to_string(&results).map(|t| t.lines().count()).unwrap_or(0);
        if n >= 3 || started.elapsed().as_secs() > 120 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let partial = rows(&results).len();
    assert!((3..16).contains(&partial), "killed after {partial} rows");

    let a: Vec<String> = args(&out);
    let (ok, stdout, err) = smalldata(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(ok, "{err}");
    assert!(stdout.contains(&format!("({} trained now, {partial} resumed)", 16 - partial)), "{stdout}");
    let b: Vec<String> = args(&reference);
    assert!(smalldata(&b.iter().map(String::as_str).collect::<Vec<_>>()).0);
    let (got, want) = (rows(&results), rows(&reference.join(RESULTS_FILE)));
    assert_eq!(got.len(), 16);
    assert_eq!(scores(&got), scores(&want));
}

#[test]
fn bad_flags_fail_before_any_training() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("never");
    let o = out.to_str().unwrap();
    let cases: [(&[&str], &str); 6] = [
        (&["study", "--ops", "crop,shear", "--out", o], "shear"),
        (&["study", "--seeds", "0", "--out", o], "seeds = 0"),
        (&["study", "--dataset", "fashion-mnist-embedded", "--sizes", "10,500", "--out", o], "500"),
        (&["study", "--sizes", "0", "--out", o], "size = 0"),
        (&["study", "--model", "vgg", "--out", o], "vgg"),
        (&["study", "--dataset", "imagenet", "--out", o], "imagenet"),
    ];
    for (args, want) in cases {
        let (ok, _, err) = smalldata(args);
        assert!(!ok, "{args:?} should fail");
        assert!(err.starts_with("error: ") && err.contains(want), "{args:?}: {err}");
        assert!(!out.join(RESULTS_FILE).exists(), "{args:?} started a study");
    }
    // the size error names the class that is too small
    let (_, _, err) = smalldata(&["study", "--dataset", "fashion-mnist-embedded", "--sizes", "500", "--out", o]);
    assert!(err.contains("class 0 (T-shirt/top) has only 200"), "{err}");
}

/// The `stable-diffusion` arm on an image folder (the tiny SD-1-like pipeline of
/// tests/golden/sd): it runs through the engine, adds `ratio × n` pictures per class
/// (seen in the arm's description and rows), and its numbers repeat with the seed.
#[test]
fn stable_diffusion_arm_runs_on_a_folder_and_repeats() {
    let tmp = tempfile::tempdir().unwrap();
    let tt = smalldata::data::fashion_mnist_embedded().unwrap();
    let labels = tt.test.labels_vec();
    let pick: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] < 2).take(24).collect();
    tt.test.select(&pick).unwrap().save_folder(tmp.path().join("photos")).unwrap();
    let sd = smalldata::study::StableDiffusionArm::default();
    let arm = smalldata::study::StableDiffusionArm {
        model: Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/sd/sd1"),
        ratio: 2,
        sample_steps: 3,
        inversion: smalldata::generate::stable_diffusion::InversionConfig { steps: 3, initializer: "toy".into(), ..sd.inversion.clone() },
        ..sd
    };
    let cfg = |out: &str| StudyConfig {
        data: StudyData::folder(tmp.path().join("photos")),
        sizes: vec![4],
        ops: vec![],
        stable_diffusion: Some(arm.clone()),
        seeds: 2,
        train: TrainConfig { length: Length::Steps(10), batch_size: 8, progress: false, ..TrainConfig::default() },
        jobs: 2,
        out: tmp.path().join(out),
        progress: false,
        ..StudyConfig::default()
    };
    let first = run_study(&cfg("a")).unwrap();
    let again = run_study(&StudyConfig { jobs: 1, ..cfg("b") }).unwrap();
    assert_eq!(first.rows.len(), 4);
    let sd_rows: Vec<&RunRow> = first.rows.iter().filter(|r| r.arm == "stable-diffusion").collect();
    assert_eq!(sd_rows.len(), 2);
    assert!(sd_rows[0].arm_params.contains("Stable Diffusion ×2 for every class") && sd_rows[0].arm_params.contains("inversion from \"toy\""), "{}", sd_rows[0].arm_params);
    assert_eq!(scores(&first.rows), scores(&again.rows));
    // a model folder that is not a pipeline is refused before anything runs
    let bad = StudyConfig { stable_diffusion: Some(smalldata::study::StableDiffusionArm { model: tmp.path().into(), ..arm.clone() }), ..cfg("c") };
    let msg = run_study(&bad).unwrap_err().to_string();
    assert!(msg.contains("model_index.json"), "{msg}");
}
