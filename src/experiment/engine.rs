//! The run loop: the grid of sizes × arms × seeds, in parallel, resumable.

use super::protocol::{check_same, protocol_hash, Protocol};
use super::report::{write_report, ReportInfo};
use super::results::{discard_results, ResultsFile, RunRow, Scores};
use super::summary::{summarize, ExperimentSummary};
use crate::error::IoContext;
use crate::train::Progress;
use crate::{Error, Result};
use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Mutex};
use std::time::Instant;

/// File names inside an experiment's output folder.
pub const RESULTS_FILE: &str = "results.jsonl";
pub const CONFIG_FILE: &str = "study.json";

/// The data side of an experiment, one per worker thread (tensors may be sent to a
/// thread but not shared, so each worker gets its own view, e.g. shallow clones).
///
/// `draw(size, seed)` is the **pairing**: every arm of a (size, seed) cell receives
/// the same draw — the same training subsample and the same test set — and the
/// draw depends on nothing else, so the numbers do not depend on threads or order.
pub trait Task: Send {
    type Draw;
    fn draw(&self, size: usize, seed: u64) -> Result<Self::Draw>;
}

/// Where and how one run happens.
#[derive(Debug, Clone, Copy)]
pub struct RunContext {
    pub size: usize,
    pub seed: u64,
    pub device: tch::Device,
}

/// What an arm returns for one run.
#[derive(Debug, Clone, PartialEq)]
pub struct ArmOutput {
    pub scores: Scores,
    /// Seconds to make synthetic data (if any) and to train.
    pub train_seconds: f64,
    pub eval_seconds: f64,
    pub final_train_loss: Option<f64>,
    /// Test examples scored.
    pub test_size: usize,
    /// Anything the run wants recorded beside its scores (trainable parameters, …).
    pub detail: Option<String>,
}

/// An arm: anything that turns a training draw into scores on the test set. The
/// engine knows arms only through this trait; each verb provides its own.
pub trait Arm<D>: Send + Sync {
    /// Short name, unique within an experiment (`none`, `crop+rotate`, `lora-8`).
    fn name(&self) -> String;
    /// The name with every parameter; stored with each row so that a resumed
    /// experiment never mixes runs of different settings under one name.
    fn describe(&self) -> String;
    /// The arm this one is compared with, when it is not the experiment's baseline
    /// (a tabular `ridge/jitter` is compared with `ridge/none`).
    fn baseline(&self) -> Option<String> {
        None
    }
    /// Checks against real data before any run starts (an image shape a backbone
    /// cannot take, a class a generator does not know): `draw` is the experiment's
    /// first cell. The default accepts everything.
    fn preflight(&self, _draw: &D) -> Result<()> {
        Ok(())
    }
    /// Train on `draw` and score on its test part.
    fn run(&self, draw: &D, ctx: &RunContext) -> Result<ArmOutput>;
}

/// An arm's name, parameters and comparison, as the summary and `study.json` see it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ArmInfo {
    pub name: String,
    pub params: String,
    /// The arm it is compared with (`None`: it is the baseline, or there is none).
    pub baseline: Option<String>,
}

/// A whole experiment: the grid, its arms, its protocol and where it writes.
#[allow(missing_debug_implementations)]
pub struct Experiment<D, P> {
    /// A title for the report ("Augmentation study").
    pub title: String,
    pub protocol: P,
    /// The training sizes (images per class, or rows).
    pub sizes: Vec<usize>,
    /// What a size counts, for tables and charts ("images per class").
    pub size_label: String,
    pub seeds: Vec<u64>,
    pub arms: Vec<Box<dyn Arm<D>>>,
    /// The arm every other one is compared with unless it names its own.
    pub baseline: String,
    /// Runs in parallel, each on one CPU thread.
    pub jobs: usize,
    pub out: PathBuf,
    /// Progress bar and one line per finished run.
    pub progress: bool,
    /// Discard earlier results in `out` instead of resuming.
    pub restart: bool,
    /// What the report says about the data and the set-up (one paragraph each).
    pub notes: Vec<String>,
    /// The verb's whole configuration, stored in `study.json` for the record.
    pub config: serde_json::Value,
    /// Start no run after this instant: the runs under way finish, the rest wait for
    /// the next call (a time budget). `None`: run the whole grid.
    pub deadline: Option<Instant>,
}

/// `study.json`: what was run, readable by a person and checked on resume.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct StudyFile<P> {
    pub title: String,
    pub protocol: P,
    pub protocol_hash: String,
    pub sizes: Vec<usize>,
    pub seeds: Vec<u64>,
    pub baseline: String,
    pub arms: Vec<ArmInfo>,
    pub notes: Vec<String>,
    pub config: serde_json::Value,
}

/// What [`run_experiment`] returns.
#[derive(Debug, Clone)]
pub struct ExperimentOutcome {
    pub summary: ExperimentSummary,
    /// Every row of the grid, in grid order (sizes, then seeds, then arms).
    pub rows: Vec<RunRow>,
    /// Runs made by this call, and runs found already done.
    pub ran: usize,
    pub resumed: usize,
    /// Runs not started because the deadline had passed (0: the grid is complete).
    pub skipped: usize,
    /// The HTML page.
    pub report: PathBuf,
    pub seconds: f64,
}

impl ExperimentOutcome {
    /// Show the summary table inline in evcxr.
    pub fn evcxr_display(&self) {
        self.summary.evcxr_display()
    }
}

impl<D, P: Protocol> Experiment<D, P> {
    /// Checks that need no data and no training.
    pub fn check(&self) -> Result<()> {
        check_grid(&self.sizes, self.seeds.len())?;
        if self.arms.is_empty() {
            return Err(Error::invalid("arms", "[]", "an experiment needs at least one arm"));
        }
        if self.jobs == 0 {
            return Err(Error::invalid("jobs", 0, "must be at least 1"));
        }
        let mut names: Vec<String> = self.arms.iter().map(|a| a.name()).collect();
        names.sort();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(Error::invalid("arm", &w[0], "two arms have this name"));
        }
        Ok(())
    }

    /// Name, parameters and comparison of every arm, in table order.
    pub fn arm_infos(&self) -> Vec<ArmInfo> {
        let names: Vec<String> = self.arms.iter().map(|a| a.name()).collect();
        let common = names.contains(&self.baseline).then(|| self.baseline.clone());
        self.arms
            .iter()
            .map(|a| {
                let name = a.name();
                let baseline = a.baseline().or_else(|| common.clone()).filter(|b| *b != name);
                ArmInfo { name, params: a.describe(), baseline }
            })
            .collect()
    }
}

/// The grid's own checks, shared by every verb's config: at least one size, each at
/// least 1 and given once, and at least one seed.
pub fn check_grid(sizes: &[usize], seeds: usize) -> Result<()> {
    if sizes.is_empty() {
        return Err(Error::invalid("sizes", "[]", "give at least one training size"));
    }
    if let Some(&z) = sizes.iter().find(|&&n| n == 0) {
        return Err(Error::invalid("size", z, "must be at least 1"));
    }
    let mut sorted = sizes.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    if sorted.len() != sizes.len() {
        return Err(Error::invalid("sizes", format!("{sizes:?}"), "each size may appear once"));
    }
    if seeds == 0 {
        return Err(Error::invalid("seeds", 0, "an experiment needs at least 1 seed (3 or more for confidence intervals)"));
    }
    Ok(())
}

/// One cell of the grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cell {
    size: usize,
    arm: usize,
    seed: u64,
}

/// Run (or resume) `exp`, write its report, and return every row and the summary.
/// `worker` is called once per worker thread, on the caller's thread, to give it
/// its own view of the data.
pub fn run_experiment<T: Task, P: Protocol>(exp: &Experiment<T::Draw, P>, mut worker: impl FnMut() -> Result<T>) -> Result<ExperimentOutcome> {
    let started = Instant::now();
    exp.check()?;
    let infos = exp.arm_infos();
    let hash = protocol_hash(&exp.protocol)?;
    std::fs::create_dir_all(&exp.out).at(&exp.out)?;
    // one run per folder at a time: a second is refused, naming the first
    let _lock = crate::io::OutputLock::acquire(&exp.out)?;
    let study_path = exp.out.join(CONFIG_FILE);
    let results_path = exp.out.join(RESULTS_FILE);
    if exp.restart {
        discard_results(&results_path)?;
    } else {
        check_same(&study_path, stored_protocol::<P>(&study_path)?.as_ref(), &exp.protocol)?;
    }
    let mut results = ResultsFile::<RunRow>::open(&results_path)?;
    if results.repaired_bytes > 0 {
        eprintln!("{}: removed an unfinished last line ({} bytes) left by an interrupted run", results.path().display(), results.repaired_bytes);
    }
    results.check_protocol(&hash)?;
    check_arms(&results, &infos)?;
    let file = StudyFile {
        title: exp.title.clone(),
        protocol: exp.protocol.clone(),
        protocol_hash: hash.clone(),
        sizes: exp.sizes.clone(),
        seeds: exp.seeds.clone(),
        baseline: exp.baseline.clone(),
        arms: infos.clone(),
        notes: exp.notes.clone(),
        config: exp.config.clone(),
    };
    crate::io::write_atomic(&study_path, serde_json::to_string_pretty(&file)?.as_bytes())?;

    let grid: Vec<Cell> = exp
        .sizes
        .iter()
        .flat_map(|&size| exp.seeds.iter().flat_map(move |&seed| (0..exp.arms.len()).map(move |arm| Cell { size, arm, seed })))
        .collect();
    let key_of = |c: &Cell| (c.size, infos[c.arm].name.clone(), c.seed);
    let done = results.done();
    let todo: Vec<Cell> = grid.iter().copied().filter(|c| !done.contains(&key_of(c))).collect();
    let (ran, resumed) = (todo.len(), grid.len() - todo.len());
    let progress = Progress::new(ran as u64, exp.progress, "runs");
    if exp.progress {
        progress.println(&format!(
            "{}: {} runs ({} sizes × {} arms × {} seeds), {} already in {}, {} to run on {} job(s)",
            exp.title,
            grid.len(),
            exp.sizes.len(),
            exp.arms.len(),
            exp.seeds.len(),
            resumed,
            results.path().display(),
            ran,
            exp.jobs.min(ran.max(1))
        ));
    }
    let device = crate::device()?;
    let mut finished = 0;
    let mut skipped = 0;
    let past_deadline = || exp.deadline.is_some_and(|d| Instant::now() >= d);
    let mut workers = Vec::new();
    for _ in 0..exp.jobs.max(1).min(todo.len()) {
        workers.push(worker()?);
    }
    if let (Some(first), Some(cell)) = (workers.first(), todo.first()) {
        let draw = first.draw(cell.size, cell.seed)?;
        for (arm, info) in exp.arms.iter().zip(&infos) {
            arm.preflight(&draw).map_err(|e| Error::Run { key: format!("{} (checked before any run)", info.name), source: Box::new(e) })?;
        }
    }
    let mut workers = workers.into_iter();
    let run_cell = |task: &Option<T>, cell: &Cell| -> Result<RunRow> {
        let task = task.as_ref().ok_or_else(|| Error::invalid("jobs", exp.jobs, "more workers than prepared"))?;
        let ctx = RunContext { size: cell.size, seed: cell.seed, device };
        let draw = task.draw(cell.size, cell.seed)?;
        let out = exp.arms[cell.arm].run(&draw, &ctx)?;
        let info = &infos[cell.arm];
        Ok(RunRow {
            size: cell.size,
            arm: info.name.clone(),
            seed: cell.seed,
            scores: out.scores,
            train_seconds: out.train_seconds,
            eval_seconds: out.eval_seconds,
            final_train_loss: out.final_train_loss,
            test_size: out.test_size,
            arm_params: info.params.clone(),
            detail: out.detail,
            protocol: hash.clone(),
        })
    };
    let outcome = parallel_runs(
        todo,
        exp.jobs,
        || workers.next(),
        |task: &Option<T>, cell: &Cell| -> Option<Result<RunRow>> { (!past_deadline()).then(|| run_cell(task, cell)) },
        |cell, row| {
            let Some(row) = row else {
                skipped += 1;
                return Ok(());
            };
            let name = format!("n={} {} seed {}", cell.size, infos[cell.arm].name, cell.seed);
            let row = row.map_err(|e| Error::Run { key: name.clone(), source: Box::new(e) })?;
            finished += 1;
            if exp.progress {
                progress.println(&format!("[{finished}/{ran}] {name}: {} ({:.1} s)", brief(&row.scores), row.train_seconds + row.eval_seconds));
            }
            results.append(row)?;
            progress.step_with(name);
            Ok(())
        },
    );
    progress.finish();
    outcome?;
    if skipped > 0 && exp.progress {
        eprintln!("{}: the time budget ran out; {skipped} run(s) left for the next call", exp.title);
    }

    let by_key: HashMap<_, _> = results.rows().iter().map(|r| (r.key(), r)).collect();
    let rows: Vec<RunRow> = grid.iter().filter_map(|c| by_key.get(&key_of(c)).map(|r| (*r).clone())).collect();
    if rows.is_empty() {
        return Err(Error::invalid("time budget", format!("{skipped} runs skipped"), format!("{}: the deadline passed before any run finished", exp.title)));
    }
    let summary = summarize(&rows, &exp.sizes, &infos, &exp.baseline, &exp.size_label)?;
    let info = ReportInfo { title: &exp.title, notes: &exp.notes, arms: &infos, seeds: exp.seeds.len() };
    let report = write_report(&exp.out, &summary, &info)?;
    Ok(ExperimentOutcome { summary, rows, ran: ran - skipped, resumed, skipped, report, seconds: started.elapsed().as_secs_f64() })
}

/// The headline scores of a run, for progress lines.
fn brief(s: &Scores) -> String {
    match *s {
        Scores::Classification { accuracy, auc_macro_ovr, .. } => format!("accuracy {accuracy:.4}, AUC {auc_macro_ovr:.4}"),
        Scores::Regression { rmse, mae, .. } => format!("RMSE {rmse:.4}, MAE {mae:.4}"),
    }
}

/// The protocol stored in `study.json`, if the file exists. A file that does not
/// hold a protocol of this type is an error naming it (another experiment's folder).
fn stored_protocol<P: Protocol>(path: &Path) -> Result<Option<P>> {
    #[derive(serde::Deserialize)]
    struct Stored<P> {
        protocol: P,
    }
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).at(path),
    };
    match serde_json::from_str::<Stored<P>>(&text) {
        Ok(s) => Ok(Some(s.protocol)),
        Err(e) => Err(Error::format(
            path,
            format!("is not a study file of this kind of experiment ({e}); use another --out, or --restart to discard its results"),
        )),
    }
}

/// An arm name already in the file must mean the same parameters.
fn check_arms(results: &ResultsFile<RunRow>, arms: &[ArmInfo]) -> Result<()> {
    for r in results.rows() {
        if let Some(a) = arms.iter().find(|a| a.name == r.arm) {
            if a.params != r.arm_params {
                return Err(Error::Format {
                    path: results.path().to_path_buf(),
                    reason: format!(
                        "holds runs of {:?} as {:?}, but this experiment defines it as {:?}; use another --out, or --restart",
                        r.arm, r.arm_params, a.params
                    ),
                });
            }
        }
    }
    Ok(())
}

/// Run `work` on every item, on `jobs` threads with **one libtorch thread each** (so
/// results do not depend on `jobs`), taking items in order. `state` is called once
/// per worker on the caller's thread to give it what it needs. `done` sees each
/// result on the caller's thread as it arrives; the first error it returns stops
/// the handing out of further items and is returned once the running ones finish.
pub fn parallel_runs<T, S, R>(
    items: Vec<T>,
    jobs: usize,
    mut state: impl FnMut() -> S,
    work: impl Fn(&S, &T) -> R + Sync,
    mut done: impl FnMut(&T, R) -> Result<()>,
) -> Result<()>
where
    T: Send + Sync,
    S: Send,
    R: Send,
{
    let queue = Mutex::new(items.iter().collect::<VecDeque<&T>>());
    let abort = AtomicBool::new(false);
    let mut first_error = None;
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::channel::<(&T, R)>();
        for _ in 0..jobs.max(1).min(items.len()) {
            let (st, tx, queue, abort, work) = (state(), tx.clone(), &queue, &abort, &work);
            scope.spawn(move || {
                tch::set_num_threads(1);
                while !abort.load(Ordering::Relaxed) {
                    let Some(item) = queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front() else { break };
                    if tx.send((item, work(&st, item))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        for (item, result) in rx {
            if first_error.is_none() {
                if let Err(e) = done(item, result) {
                    abort.store(true, Ordering::Relaxed);
                    first_error = Some(e);
                }
            }
        }
    });
    first_error.map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A task whose draw is just its cell, and an arm scoring a made-up regression.
    struct Cells;
    impl Task for Cells {
        type Draw = (usize, u64);
        fn draw(&self, size: usize, seed: u64) -> Result<(usize, u64)> {
            Ok((size, seed))
        }
    }
    struct Fake {
        name: &'static str,
        fail_at: Option<(usize, u64)>,
        refuse: bool,
    }
    impl Arm<(usize, u64)> for Fake {
        fn name(&self) -> String {
            self.name.into()
        }
        fn describe(&self) -> String {
            format!("fake {}", self.name)
        }
        fn preflight(&self, _: &(usize, u64)) -> Result<()> {
            if self.refuse {
                return Err(Error::shape("fake input", "[1, H, W]", "[3, 8, 8]"));
            }
            Ok(())
        }
        fn run(&self, &(size, seed): &(usize, u64), _: &RunContext) -> Result<ArmOutput> {
            if self.fail_at == Some((size, seed)) {
                return Err(Error::NotEnoughSamples { class: 2, asked: size, available: 1 });
            }
            let e = 10.0 / size as f64 + seed as f64 * 0.01 + if self.name == "b" { -0.5 } else { 0.0 };
            Ok(ArmOutput {
                scores: Scores::Regression { rmse: e, mae: e / 2.0, r2: 1.0 - e / 10.0 },
                train_seconds: 0.0,
                eval_seconds: 0.0,
                final_train_loss: None,
                test_size: 10,
                detail: None,
            })
        }
    }

    fn experiment(out: &Path, arms: Vec<Box<dyn Arm<(usize, u64)>>>) -> Experiment<(usize, u64), String> {
        Experiment {
            title: "fake".into(),
            protocol: "v1".into(),
            sizes: vec![2, 4],
            size_label: "rows".into(),
            seeds: vec![0, 1, 2],
            arms,
            baseline: "a".into(),
            jobs: 2,
            out: out.to_path_buf(),
            progress: false,
            restart: false,
            notes: vec![],
            config: serde_json::Value::Null,
            deadline: None,
        }
    }

    fn arm(name: &'static str) -> Box<dyn Arm<(usize, u64)>> {
        Box::new(Fake { name, fail_at: None, refuse: false })
    }

    #[test]
    fn a_failing_run_keeps_its_cause_and_the_rows_before_it() {
        let dir = tempfile::tempdir().unwrap();
        let failing: Box<dyn Arm<(usize, u64)>> = Box::new(Fake { name: "b", fail_at: Some((4, 1)), refuse: false });
        let e = run_experiment(&experiment(dir.path(), vec![arm("a"), failing]), || Ok(Cells)).unwrap_err();
        match &e {
            Error::Run { key, source } => {
                assert_eq!(key, "n=4 b seed 1");
                assert!(matches!(**source, Error::NotEnoughSamples { class: 2, asked: 4, available: 1 }), "{source:?}");
            }
            other => panic!("{other:?}"),
        }
        assert!(std::error::Error::source(&e).is_some());
        // every run finished before the failure is on disk; fixed, the rest runs
        let kept = ResultsFile::<RunRow>::open(dir.path().join(RESULTS_FILE)).unwrap().rows().len();
        assert!((6..12).contains(&kept), "{kept}");
        let out = run_experiment(&experiment(dir.path(), vec![arm("a"), arm("b")]), || Ok(Cells)).unwrap();
        assert_eq!((out.resumed, out.ran), (kept, 12 - kept));
        let b = out.summary.get(2, "b").unwrap();
        assert_eq!(b.baseline.as_deref(), Some("a"));
        assert!((b.metric(crate::experiment::Metric::Rmse).unwrap().vs_baseline.unwrap().mean_diff + 0.5).abs() < 1e-12);
    }

    #[test]
    fn preflight_refuses_before_any_run_and_a_new_protocol_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let refusing: Box<dyn Arm<(usize, u64)>> = Box::new(Fake { name: "b", fail_at: None, refuse: true });
        let e = run_experiment(&experiment(dir.path(), vec![arm("a"), refusing]), || Ok(Cells)).unwrap_err().to_string();
        assert!(e.contains("b (checked before any run)") && e.contains("[3, 8, 8]"), "{e}");
        assert_eq!(ResultsFile::<RunRow>::open(dir.path().join(RESULTS_FILE)).unwrap().rows().len(), 0);
        run_experiment(&experiment(dir.path(), vec![arm("a")]), || Ok(Cells)).unwrap();
        let changed = Experiment { protocol: "v2".to_string(), ..experiment(dir.path(), vec![arm("a")]) };
        let e = run_experiment(&changed, || Ok(Cells)).unwrap_err().to_string();
        assert!(e.contains("study.json") && e.contains("was \"v1\", now \"v2\""), "{e}");
        // --restart discards the old rows and runs under the new protocol
        let restarted = Experiment { restart: true, ..changed };
        assert_eq!(run_experiment(&restarted, || Ok(Cells)).unwrap().ran, 6);
    }
}
