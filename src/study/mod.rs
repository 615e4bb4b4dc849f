//! The augmentation study: which augmentation, alone or combined, helps at which
//! training-set size — with error bars.
//!
//! A study is a grid of runs: every size (images per class) × every method (no
//! augmentation, each operation alone, every combination, optionally RandAugment and
//! TrivialAugment) × every seed. The design is **paired**: for a given seed, every
//! method trains on the same subsample, from the same initial weights, with the same
//! batch order, so the difference between two methods on one seed is due to the
//! augmentation alone, and [`summarize`] reports it with a paired t interval.
//!
//! Each finished run is appended to `results.jsonl` in the output directory and
//! flushed to disk, so a killed study, started again with the same command, skips
//! what is done and runs only the rest ([`ResultsFile`]). Runs go in parallel, each
//! on one CPU thread, and every random draw comes from the run's seed: the numbers
//! do not depend on `jobs` or on the order in which runs finish.
//!
//! ```
//! use smalldata::study::{run_study, Op, StudyConfig, StudyData};
//! use smalldata::train::{Length, TrainConfig};
//! # fn main() -> smalldata::Result<()> {
//! let out = std::env::temp_dir().join(format!("smalldata-doc-study-{}", std::process::id()));
//! let cfg = StudyConfig {
//!     data: StudyData::FashionMnistEmbedded,
//!     sizes: vec![5],
//!     ops: vec![Op::Crop { padding: 3 }],
//!     seeds: 2,
//!     train: TrainConfig { length: Length::Steps(10), progress: false, ..TrainConfig::default() },
//!     test_limit: Some(200),
//!     out: out.clone(),
//!     progress: false,
//!     ..StudyConfig::default()
//! };
//! let outcome = run_study(&cfg)?; // 1 size × {none, crop} × 2 seeds
//! assert_eq!(outcome.rows.len(), 4);
//! println!("{}", outcome.summary.to_table());
//! # std::fs::remove_dir_all(out).ok();
//! # Ok(()) }
//! ```

mod config;
mod report;
mod results;
mod summary;

pub use config::{methods, DiffusionArm, GanArm, Method, Op, StudyConfig, StudyData};
pub use report::write_report;
pub use results::{discard_results, ResultsFile, Row, RunRow};
pub use summary::{html_table, summarize, summarize_against, Best, MethodSummary, StudySummary, LEVEL};

use crate::data::ImageDataset;
use crate::error::IoContext;
use crate::generate::diffusion::{textual_inversion, DiffusionModel, InversionConfig};
use crate::generate::{mix_real_synthetic, Gan, GanConfig};
use tch::Tensor;
use crate::train::{Classifier, ModelSpec, Progress, TrainConfig, Trainer};
use crate::{Error, Result};
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Mutex};
use std::time::Instant;

/// File names inside the output directory.
pub const RESULTS_FILE: &str = "results.jsonl";
pub const CONFIG_FILE: &str = "study.json";

/// What [`run_study`] returns.
#[derive(Debug, Clone)]
pub struct StudyOutcome {
    pub summary: StudySummary,
    /// Every row of the grid, in grid order.
    pub rows: Vec<RunRow>,
    /// Runs trained by this call, and runs found already done.
    pub ran: usize,
    pub resumed: usize,
    /// Where the data came from.
    pub data_source: String,
    pub test_images: usize,
    pub report: PathBuf,
    pub seconds: f64,
}

impl StudyOutcome {
    /// Show the summary table inline in evcxr.
    pub fn evcxr_display(&self) {
        self.summary.evcxr_display()
    }
}

/// One cell of the grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RunKey {
    n: usize,
    method: usize,
    seed: u64,
}

/// Run (or resume) the study `cfg` and write its report. Flags are checked before
/// any data is loaded, and sizes against the data before any training starts.
pub fn run_study(cfg: &StudyConfig) -> Result<StudyOutcome> {
    let started = Instant::now();
    cfg.check()?;
    let data = cfg.data.load()?;
    cfg.check_data(&data)?;
    let test = match cfg.test_limit {
        Some(k) if k < data.test.len() => {
            let per_class = k.div_ceil(data.test.num_classes());
            let fewest = data.test.class_counts().into_iter().min().unwrap_or(0);
            data.test.subsample_per_class(per_class.min(fewest), 0)?
        }
        _ => data.test.shallow_clone(),
    };
    let methods = cfg.methods();
    let protocol = cfg.protocol();
    std::fs::create_dir_all(&cfg.out).at(&cfg.out)?;
    crate::plot::write_atomic(&cfg.out.join(CONFIG_FILE), serde_json::to_string_pretty(cfg)?.as_bytes())?;
    let mut results = ResultsFile::<RunRow>::open(cfg.out.join(RESULTS_FILE))?;
    if results.repaired_bytes > 0 {
        eprintln!("{}: removed an unfinished last line ({} bytes) left by an interrupted run", results.path().display(), results.repaired_bytes);
    }
    check_compatible(&results, &protocol, &methods)?;

    let done = results.done();
    let n_methods = methods.len();
    let grid: Vec<RunKey> = cfg
        .sizes
        .iter()
        .flat_map(|&n| (0..cfg.seeds as u64).flat_map(move |seed| (0..n_methods).map(move |method| RunKey { n, method, seed })))
        .collect();
    let key_of = |k: &RunKey| (k.n, methods[k.method].name(), k.seed);
    let todo: VecDeque<RunKey> = grid.iter().copied().filter(|k| !done.contains(&key_of(k))).collect();
    let resumed = grid.len() - todo.len();
    let ran = todo.len();
    let progress = Progress::new(ran as u64, cfg.progress, "study");
    if cfg.progress {
        progress.println(&format!(
            "study: {} runs ({} sizes × {} methods × {} seeds), {} already in {}, {} to run on {} job(s); data: {}, {} test images",
            grid.len(),
            cfg.sizes.len(),
            methods.len(),
            cfg.seeds,
            resumed,
            results.path().display(),
            ran,
            cfg.jobs.min(ran.max(1)),
            data.source,
            test.len()
        ));
    }

    let device = crate::device()?;
    let mut finished = 0;
    let outcome = parallel_runs(
        todo.into_iter().collect(),
        cfg.jobs,
        || (data.train.shallow_clone(), test.shallow_clone()),
        |(train, test), key: &RunKey| run_one(cfg, train, test, key.n, &methods[key.method], key.seed, &protocol, device),
        |key, row| {
            let name = format!("n={} {} seed {}", key.n, methods[key.method].name(), key.seed);
            let row = row.map_err(|e| Error::invalid("run", &name, e.to_string()))?;
            finished += 1;
            if cfg.progress {
                progress.println(&format!(
                    "[{finished}/{ran}] {name}: accuracy {:.4}, AUC {:.4} ({:.1} s)",
                    row.accuracy,
                    row.auc_macro_ovr,
                    row.train_seconds + row.eval_seconds
                ));
            }
            results.append(row)?;
            progress.step_with(name);
            Ok(())
        },
    );
    progress.finish();
    outcome?;

    let by_key: std::collections::HashMap<_, _> = results.rows().iter().map(|r| (r.key(), r)).collect();
    let rows: Vec<RunRow> = grid.iter().filter_map(|k| by_key.get(&key_of(k)).map(|r| (*r).clone())).collect();
    let names: Vec<String> = methods.iter().map(Method::name).collect();
    let summary = summarize(&rows, &cfg.sizes, &names)?;
    let report = write_report(cfg, &summary, &data.source, &cfg.out)?;
    Ok(StudyOutcome { summary, rows, ran, resumed, data_source: data.source.clone(), test_images: test.len(), report, seconds: started.elapsed().as_secs_f64() })
}

/// Run `work` on every item, on `jobs` threads with **one libtorch thread each** (so
/// results do not depend on `jobs`), in the items' order. `state` is called once per
/// worker on the caller's thread to give it what it needs (tensors may be sent to a
/// thread but not shared, so hand each worker its own shallow clones). `done` sees
/// each result on the caller's thread as it arrives; the first error it returns stops
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

/// Rows already in the file must come from the same protocol, and a method name must
/// mean the same parameters, or the study would mix incomparable runs.
fn check_compatible(results: &ResultsFile<RunRow>, protocol: &str, methods: &[Method]) -> Result<()> {
    results.check_protocol(protocol)?;
    for r in results.rows() {
        if let Some(m) = methods.iter().find(|m| m.name() == r.augment) {
            if m.describe() != r.method {
                return Err(Error::Format {
                    path: results.path().to_path_buf(),
                    reason: format!(
                        "holds runs of {:?} as {:?}, but this study defines it as {:?}; use another --out, or --restart",
                        r.augment,
                        r.method,
                        m.describe()
                    ),
                });
            }
        }
    }
    Ok(())
}

/// The run's real images plus `ratio × n` images of `arm.class` sampled from a token
/// learned on the run's own images of that class.
fn add_diffusion_samples(subset: &ImageDataset, arm: &DiffusionArm, n: usize, seed: u64, device: tch::Device) -> Result<ImageDataset> {
    let model = DiffusionModel::load_pretrained(&arm.pretrained, device)?;
    let class = subset.class_names.iter().position(|c| c.eq_ignore_ascii_case(&arm.class)).ok_or_else(|| Error::invalid("diffusion class", &arm.class, "not a class of the data"))?;
    let labels = subset.labels_vec();
    let mine: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == class as i64).collect();
    let concept = subset.select(&mine)?;
    let cfg = InversionConfig { seed: crate::derive_seed(seed, "study-inversion"), progress: false, ..arm.inversion.clone() };
    let (token, _) = textual_inversion(&model, &concept, &cfg)?;
    let images = model.sample_prompt(&token.vectors, arm.ratio * n, arm.sampler, arm.guidance, crate::derive_seed(seed, "study-diffusion-sample"))?;
    let synthetic = ImageDataset::new(images, Tensor::full([(arm.ratio * n) as i64], class as i64, (tch::Kind::Int64, tch::Device::Cpu)), subset.class_names.clone())?;
    mix_real_synthetic(subset, &synthetic)
}

/// Train and score one (size, method, seed) run.
#[allow(clippy::too_many_arguments)]
fn run_one(
    cfg: &StudyConfig,
    train: &ImageDataset,
    test: &ImageDataset,
    n: usize,
    method: &Method,
    seed: u64,
    protocol: &str,
    device: tch::Device,
) -> Result<RunRow> {
    let subset = train.subsample_per_class(n, seed)?;
    let started = Instant::now();
    let subset = match method {
        Method::Gan(arm) => {
            let cfg = GanConfig { seed: crate::derive_seed(seed, "study-gan"), out: None, progress: false, ..arm.gan.clone() };
            let mut gan = Gan::new(cfg, subset.image_shape(), subset.num_classes(), device)?;
            gan.train(&subset)?;
            let synthetic = gan.sample_dataset(arm.ratio * n, crate::derive_seed(seed, "study-gan-sample"), &subset.class_names)?;
            mix_real_synthetic(&subset, &synthetic)?
        }
        Method::Diffusion(arm) => add_diffusion_samples(&subset, arm, n, seed, device)?,
        _ => subset,
    };
    let generate_seconds = started.elapsed().as_secs_f64();
    let [_, h, w] = subset.image_shape();
    let spec = ModelSpec::new(cfg.model, subset.image_shape(), subset.num_classes());
    let mut model = Classifier::new(spec, seed, device)?;
    let pipeline = method.pipeline(h as i64, w as i64)?;
    let mut trainer = Trainer::new(TrainConfig { seed, progress: false, ..cfg.train.clone() });
    if let Some(p) = &pipeline {
        trainer = trainer.augment(p.as_ref());
    }
    let history = trainer.fit(&mut model, &subset)?;
    let t = Instant::now();
    let scores = model.evaluate(test)?;
    Ok(RunRow {
        n_per_class: n,
        augment: method.name(),
        seed,
        accuracy: scores.accuracy,
        auc_macro_ovr: scores.auc_macro_ovr,
        log_loss: Some(scores.log_loss),
        train_seconds: history.seconds + generate_seconds,
        eval_seconds: t.elapsed().as_secs_f64(),
        final_train_loss: history.train_loss.last().map(|l| l.1),
        test_images: scores.n,
        method: method.describe(),
        protocol: protocol.to_string(),
    })
}
