//! `smalldata advise` as a user runs it, on an image folder and a CSV the tests
//! write: the plan is saved, the stages run, the page shows every picture it
//! references, and a run killed in the middle and started again ends with the
//! same verdict as one never interrupted.
use smalldata::image::{GrayImage, Luma};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_smalldata"));
    c.env_remove("SMALLDATA_DEVICE");
    c
}

fn smalldata(args: &[&str]) -> (bool, String, String) {
    let out = bin().args(args).output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Three classes of 12×12 bars (top, bottom, middle) on noise, 16 images each.
fn write_folder(dir: &Path) {
    for (k, name) in ["top", "bottom", "middle"].iter().enumerate() {
        let d = dir.join(name);
        std::fs::create_dir_all(&d).unwrap();
        for i in 0..16u32 {
            GrayImage::from_fn(12, 12, |x, y| {
                let bar = match k {
                    0 => y < 4,
                    1 => y >= 8,
                    _ => (4..8).contains(&x),
                };
                let noise = ((x * 7 + y * 13 + i * 31) % 90) as u8;
                Luma([if bar { 150 + noise } else { noise }])
            })
            .save(d.join(format!("{i:02}.png")))
            .unwrap();
        }
    }
}

/// Small and quick: 30 steps per run, 1 screening seed, 3 confirmation seeds.
fn advise_args<'a>(data: &'a str, out: &'a str, budget: &'a str) -> Vec<&'a str> {
    vec!["advise", data, "--budget", budget, "--epochs", "1", "--min-steps", "30", "--max-steps", "30", "--screen-seeds", "1", "--seeds", "3", "--keep", "2", "--jobs", "2", "--quiet", "--out", out]
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

/// Every `src="…"` and local `href="…"` of the page names a file that exists.
fn assert_page_complete(out: &Path) {
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    let mut refs = 0;
    for attr in ["src=\"", "href=\""] {
        for piece in html.split(attr).skip(1) {
            let target = piece.split('"').next().unwrap();
            if target.starts_with("http") || target.starts_with('#') {
                continue;
            }
            assert!(out.join(target).is_file(), "index.html references {target}, which is not in {}", out.display());
            refs += 1;
        }
    }
    assert!(refs >= 5, "only {refs} references in the page");
}

#[test]
fn advise_on_an_image_folder_saves_its_plan_and_a_complete_page() {
    let tmp = tempfile::tempdir().unwrap();
    let folder = tmp.path().join("bars");
    write_folder(&folder);
    let out = tmp.path().join("advice");
    let (ok, stdout, stderr) = smalldata(&advise_args(folder.to_str().unwrap(), out.to_str().unwrap(), "20m"));
    assert!(ok, "{stdout}\n{stderr}");
    assert!(stdout.contains("recipe: ") && stdout.contains("index.html"), "{stdout}");
    let plan = json(&out.join("plan.json"));
    // 16 per class, 30% held out: 11 left, so the ladder is 5 and 10
    assert_eq!(plan["ladder"], serde_json::json!([5, 10]));
    assert_eq!(plan["confirm_seeds"], serde_json::json!([1000, 1001, 1002]));
    let advice = json(&out.join("advice.json"));
    assert_eq!(advice["complete"], true);
    let confirmed = advice["confirmed"].as_array().unwrap();
    assert_eq!(confirmed.len(), 2);
    assert!(confirmed.iter().all(|a| a != "none"));
    let verdicts = advice["verdicts"].as_array().unwrap();
    assert_eq!(verdicts.len(), 2, "one verdict per confirmed size");
    for v in verdicts {
        assert_eq!(v["seeds"], 3);
        assert_eq!(v["arms"].as_array().unwrap().len(), 2);
    }
    // the confirmation ran on its own seeds only
    let confirm = std::fs::read_to_string(out.join("confirm/results.jsonl")).unwrap();
    assert!(confirm.lines().all(|l| json_line(l)["seed"].as_u64().unwrap() >= 1000));
    assert!(out.join("stability/results.jsonl").is_file(), "the stability stage ran");
    assert_page_complete(&out);

    // a second call follows the saved plan and runs nothing new
    let (ok, stdout, stderr) = smalldata(&[advise_args(folder.to_str().unwrap(), out.to_str().unwrap(), "20m"), vec![]].concat().iter().filter(|a| **a != "--quiet").copied().collect::<Vec<_>>());
    assert!(ok, "{stdout}\n{stderr}");
    assert!(stdout.contains("following the saved plan"), "{stdout}");
    assert_eq!(json(&out.join("advice.json"))["verdicts"], advice["verdicts"]);
}

fn json_line(l: &str) -> serde_json::Value {
    serde_json::from_str(l).unwrap()
}

#[test]
fn advise_on_a_csv_compares_each_model_with_itself() {
    let tmp = tempfile::tempdir().unwrap();
    let csv = tmp.path().join("plants.csv");
    let mut text = String::from("height,soil,water,yield\n");
    for i in 0..90 {
        let (h, w) = ((i * 37 % 50) as f64 / 10.0, (i * 11 % 23) as f64 / 5.0);
        let soil = ["clay", "sand", "loam"][i % 3];
        let y = 2.0 * h + 0.5 * w + if soil == "loam" { 1.5 } else { 0.0 } + ((i * 7919) % 13) as f64 / 13.0;
        let hs = if i % 17 == 0 { String::new() } else { format!("{h}") };
        text.push_str(&format!("{hs},{soil},{w},{y:.3}\n"));
    }
    std::fs::write(&csv, text).unwrap();
    let out = tmp.path().join("advice");
    let mut args = advise_args(csv.to_str().unwrap(), out.to_str().unwrap(), "20m");
    args.extend(["--target", "yield"]);
    let (ok, stdout, stderr) = smalldata(&args);
    assert!(ok, "{stdout}\n{stderr}");
    let advice = json(&out.join("advice.json"));
    let verdicts = advice["verdicts"].as_array().unwrap();
    assert!(!verdicts.is_empty());
    for v in verdicts {
        assert_eq!(v["metric"], "rmse");
        for a in v["arms"].as_array().unwrap() {
            let (arm, base) = (a["arm"].as_str().unwrap(), a["baseline"].as_str().unwrap());
            assert_eq!(base, format!("{}/none", arm.split('/').next().unwrap()), "each arm against its own model");
        }
    }
    assert!(advice["recipe"].as_str().unwrap().starts_with("smalldata tabular --dataset"), "{}", advice["recipe"]);
    assert_page_complete(&out);
    // a CSV without --target is refused by name
    let (ok, _, stderr) = smalldata(&["advise", csv.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(!ok && stderr.contains("--target"), "{stderr}");
}

#[test]
fn a_killed_advise_continues_to_the_same_verdict() {
    let tmp = tempfile::tempdir().unwrap();
    let folder = tmp.path().join("bars");
    write_folder(&folder);
    let (whole, broken) = (tmp.path().join("whole"), tmp.path().join("broken"));
    let (ok, stdout, stderr) = smalldata(&advise_args(folder.to_str().unwrap(), whole.to_str().unwrap(), "20m"));
    assert!(ok, "{stdout}\n{stderr}");

    // kill the second one once the confirmation stage has written a few rows
    let args = advise_args(folder.to_str().unwrap(), broken.to_str().unwrap(), "20m");
    let mut child = bin().args(&args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let rows = broken.join("confirm/results.jsonl");
    let started = Instant::now();
    loop {
        let n = std::fs::read_to_string(&rows).map(|t| t.lines().count()).unwrap_or(0);
        if n >= 3 || started.elapsed() > Duration::from_secs(600) {
            break;
        }
        if child.try_wait().unwrap().is_some() {
            panic!("advise finished before it could be killed");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!broken.join("advice.json").exists(), "killed before the end");

    let (ok, stdout, stderr) = smalldata(&args);
    assert!(ok, "{stdout}\n{stderr}");
    let (a, b) = (json(&whole.join("advice.json")), json(&broken.join("advice.json")));
    for key in ["confirmed", "verdicts", "stability", "sentences", "recipe", "complete"] {
        assert_eq!(a[key], b[key], "{key} differs between the whole and the resumed run");
    }
    assert!(b["times"].as_array().unwrap().iter().any(|t| t["resumed"].as_u64().unwrap() > 0), "the second call resumed runs");
}
