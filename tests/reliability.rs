//! What happens to a run when the machine gets in its way: a second run on the same
//! output folder, a disk that fills up mid-run, an output folder that cannot be
//! written. Each runs the real command in a child process.
//!
//! (A kill at a random moment, for every long job, is `scripts/kill_loop.py`:
//! `make kill-loop`.)

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_smalldata");

/// A short tabular study (diabetes is embedded): 40 rows of results.
fn tabular(out: &Path) -> Vec<String> {
    ["tabular", "--dataset", "diabetes", "--sizes", "20,50", "--models", "ols,ridge=1", "--seeds", "2", "--jobs", "1", "--quiet", "--out"]
        .iter()
        .map(|s| s.to_string())
        .chain([out.display().to_string()])
        .collect()
}

/// The rows of a results.jsonl keyed by (size, arm, seed), timings dropped; a key seen
/// twice is a failure.
fn rows(path: &Path) -> std::collections::BTreeMap<String, serde_json::Value> {
    let mut out = std::collections::BTreeMap::new();
    for line in std::fs::read_to_string(path).unwrap().lines() {
        let mut row: serde_json::Value = serde_json::from_str(line).unwrap();
        let key = format!("{} {} {}", row["size"], row["arm"], row["seed"]);
        for timing in ["train_seconds", "eval_seconds"] {
            row.as_object_mut().unwrap().remove(timing);
        }
        assert!(out.insert(key.clone(), row).is_none(), "{}: row {key} twice", path.display());
    }
    out
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Run `args` in bash after `setup` (for example a `ulimit`).
fn run_limited(setup: &str, args: &[String]) -> Output {
    let quoted: Vec<String> = std::iter::once(BIN.to_string()).chain(args.iter().cloned()).map(|a| format!("'{a}'")).collect();
    Command::new("bash").arg("-c").arg(format!("{setup}; exec {}", quoted.join(" "))).output().unwrap()
}

#[test]
fn a_second_run_on_the_same_folder_is_refused_naming_the_first_and_a_killed_run_leaves_no_lock() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("study");
    // a study long enough to be running when the second one starts
    let long: Vec<String> = ["tabular", "--dataset", "diabetes", "--sizes", "20,50,100,200", "--models", "mlp=64", "--seeds", "50", "--jobs", "1", "--quiet", "--out"]
        .iter()
        .map(|s| s.to_string())
        .chain([out.display().to_string()])
        .collect();
    let mut first = Command::new(BIN).args(&long).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let lock = out.join(".smalldata.lock");
    let started = Instant::now();
    while !std::fs::read_to_string(&lock).is_ok_and(|s| s.ends_with('\n')) {
        assert!(started.elapsed() < Duration::from_secs(60), "the first run never took the folder");
        std::thread::sleep(Duration::from_millis(20));
    }
    let t = Instant::now();
    let second = Command::new(BIN).args(tabular(&out)).output().unwrap();
    let refused_in = t.elapsed();
    let e = stderr(&second);
    assert!(!second.status.success(), "the second run was allowed in: {e}");
    assert!(e.contains(&format!("process {}", first.id())) && e.contains(&out.display().to_string()), "{e}");
    assert!(refused_in < Duration::from_secs(10), "refused only after {refused_in:?}");
    assert!(first.try_wait().unwrap().is_none(), "the first run stopped when the second was refused");

    // SIGKILL: no destructor runs, and yet the folder is free again
    first.kill().unwrap();
    first.wait().unwrap();
    let third = Command::new(BIN).args(tabular(&out)).output().unwrap();
    assert!(third.status.success(), "{}", stderr(&third));
}

#[test]
fn a_full_disk_is_a_clear_error_naming_the_file_and_the_rows_written_so_far_survive() {
    let dir = tempfile::tempdir().unwrap();
    let (reference, full) = (dir.path().join("reference"), dir.path().join("full"));
    let done = Command::new(BIN).args(tabular(&reference)).output().unwrap();
    assert!(done.status.success(), "{}", stderr(&done));
    let expected = rows(&reference.join("results.jsonl"));

    // files may grow to 6 KiB only: the results stop about halfway, as on a full disk
    // (EFBIG from the kernel instead of ENOSPC; SIGXFSZ ignored so the write fails)
    let o = run_limited("trap '' XFSZ; ulimit -f 6", &tabular(&full));
    let e = stderr(&o);
    assert!(!o.status.success());
    assert!(e.contains("results.jsonl") && e.contains("too large"), "{e}");
    // every whole row written before the failure is a row of the uninterrupted run
    let text = std::fs::read_to_string(full.join("results.jsonl")).unwrap();
    let whole: Vec<&str> = text.split_inclusive('\n').filter(|l| l.ends_with('\n')).collect();
    assert!(!whole.is_empty() && whole.len() < expected.len(), "{} whole rows", whole.len());
    for line in &whole {
        let mut row: serde_json::Value = serde_json::from_str(line).unwrap();
        let key = format!("{} {} {}", row["size"], row["arm"], row["seed"]);
        for timing in ["train_seconds", "eval_seconds"] {
            row.as_object_mut().unwrap().remove(timing);
        }
        assert_eq!(expected.get(&key), Some(&row), "{key}");
    }
    // with room again the run resumes: the same rows as an uninterrupted run, none twice
    let o = Command::new(BIN).args(tabular(&full)).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains(&format!("{} resumed", whole.len())), "{}", String::from_utf8_lossy(&o.stdout));
    assert_eq!(rows(&full.join("results.jsonl")), expected);
}

#[test]
fn a_read_only_output_folder_is_a_clear_error_and_its_files_are_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("study");
    let done = Command::new(BIN).args(tabular(&out)).output().unwrap();
    assert!(done.status.success(), "{}", stderr(&done));
    let results = out.join("results.jsonl");
    let text = std::fs::read_to_string(&results).unwrap();
    let head: String = text.lines().take(5).map(|l| format!("{l}\n")).collect();
    std::fs::write(&results, &head).unwrap();
    std::fs::remove_file(out.join(".smalldata.lock")).unwrap();

    // root ignores permission bits, so as root the folder is bind-mounted read-only in a
    // private mount namespace; otherwise its permission bits are enough
    let o = if is_root() {
        let probe = Command::new("unshare").args(["-m", "true"]).output();
        if !probe.is_ok_and(|p| p.status.success()) {
            eprintln!("skipped: running as root without mount namespaces, a read-only folder cannot be made");
            return;
        }
        // bash -c SCRIPT NAME FOLDER PROGRAM ARGS...: mount FOLDER read-only, then run
        let script = r#"mount --bind -o ro "$1" "$1" && shift && exec "$@""#;
        Command::new("unshare").args(["-m", "bash", "-c", script, "bash"]).arg(&out).arg(BIN).args(tabular(&out)).output().unwrap()
    } else {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o555)).unwrap();
        let o = Command::new(BIN).args(tabular(&out)).output().unwrap();
        std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o755)).unwrap();
        o
    };
    let e = stderr(&o);
    assert!(!o.status.success(), "a read-only folder was written to");
    assert!(e.contains(&out.display().to_string()) && (e.contains("Read-only") || e.contains("ermission denied")), "{e}");
    assert_eq!(std::fs::read_to_string(&results).unwrap(), head);
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}
