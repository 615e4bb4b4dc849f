//! The transfer experiment as a resumable grid: sizes × strategies × seeds, scored
//! and summarised like the augmentation study, with `scratch` as the baseline.

use super::experiment::{classes_subset, run_strategy, Strategy, TransferConfig, SOURCE_CLASSES, TARGET_CLASSES};
use crate::data::{fashion_mnist, ImageDataset};
use crate::error::IoContext;
use crate::study::{parallel_runs, summarize_against, ResultsFile, RunRow, StudySummary, RESULTS_FILE};
use crate::train::Progress;
use crate::{Error, Result};
use std::path::PathBuf;

/// Where the committed pretrained backbone lives, relative to the crate.
pub const PRETRAINED: &str = "data/pretrained/resnet_fmnist_0-4.safetensors";

/// The experiment: pretrained checkpoint, target sizes, strategies, seeds.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TransferStudyConfig {
    pub checkpoint: PathBuf,
    /// Fashion-MNIST directory (default: searched, falling back to the embedded subset).
    pub data_dir: Option<PathBuf>,
    /// Labelled target images per class.
    pub sizes: Vec<usize>,
    pub strategies: Vec<Strategy>,
    pub seeds: usize,
    pub train: TransferConfig,
    /// Score on a stratified subset of the target test images.
    pub test_limit: Option<usize>,
    pub jobs: usize,
    pub out: PathBuf,
    pub progress: bool,
}

impl Default for TransferStudyConfig {
    /// The committed checkpoint; 5, 10 and 20 labels per class; every strategy (LoRA
    /// rank 8); 3 seeds; 150 steps of batch 32; all 5,000 target test images.
    fn default() -> Self {
        TransferStudyConfig {
            checkpoint: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(PRETRAINED),
            data_dir: None,
            sizes: vec![5, 10, 20],
            strategies: vec![
                Strategy::Scratch,
                Strategy::FrozenLinear,
                Strategy::FrozenMlp,
                Strategy::Lora { rank: 8 },
                Strategy::Full,
                Strategy::Gradual,
            ],
            seeds: 3,
            train: TransferConfig::default(),
            test_limit: None,
            jobs: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            out: PathBuf::from("report/finetune"),
            progress: true,
        }
    }
}

/// The result of [`run_transfer_study`].
#[derive(Debug, Clone)]
pub struct TransferOutcome {
    pub summary: StudySummary,
    pub rows: Vec<RunRow>,
    pub ran: usize,
    pub resumed: usize,
}

impl TransferStudyConfig {
    pub fn check(&self) -> Result<()> {
        if self.sizes.is_empty() || self.sizes.contains(&0) {
            return Err(Error::invalid("sizes", format!("{:?}", self.sizes), "give labelled images per class, each at least 1"));
        }
        if self.seeds == 0 {
            return Err(Error::invalid("seeds", 0, "need at least 1"));
        }
        if self.strategies.is_empty() {
            return Err(Error::invalid("strategies", "[]", "need at least one"));
        }
        if self.train.steps == 0 || self.train.batch_size == 0 || !(self.train.lr > 0.0) {
            return Err(Error::invalid("training", format!("{:?}", self.train), "steps, batch size and lr must be positive"));
        }
        if !self.checkpoint.exists() {
            return Err(Error::NotFound { what: "pretrained backbone".into(), searched: vec![self.checkpoint.clone()] });
        }
        Ok(())
    }

    fn protocol(&self) -> String {
        serde_json::json!({"checkpoint": self.checkpoint.file_name().map(|f| f.to_string_lossy().to_string()), "train": self.train, "test_limit": self.test_limit}).to_string()
    }
}

/// Run (or resume) the transfer experiment; rows go to `out/results.jsonl`.
pub fn run_transfer_study(cfg: &TransferStudyConfig) -> Result<TransferOutcome> {
    cfg.check()?;
    let data = fashion_mnist(cfg.data_dir.as_deref())?;
    let target_train = classes_subset(&data.train, &TARGET_CLASSES)?;
    let mut target_test = classes_subset(&data.test, &TARGET_CLASSES)?;
    if let Some(k) = cfg.test_limit.filter(|&k| k < target_test.len()) {
        target_test = target_test.subsample_per_class(k.div_ceil(TARGET_CLASSES.len()), 0)?;
    }
    let fewest = target_train.class_counts().into_iter().min().unwrap_or(0);
    if let Some(&big) = cfg.sizes.iter().find(|&&n| n > fewest) {
        return Err(Error::invalid("size", big, format!("a target class has only {fewest} training images in {}", data.source)));
    }
    std::fs::create_dir_all(&cfg.out).at(&cfg.out)?;
    let mut results = ResultsFile::<RunRow>::open(cfg.out.join(RESULTS_FILE))?;
    let protocol = cfg.protocol();
    results.check_protocol(&protocol)?;
    let done = results.done();
    let grid: Vec<(usize, Strategy, u64)> =
        cfg.sizes.iter().flat_map(|&n| (0..cfg.seeds as u64).flat_map(move |s| cfg.strategies.iter().map(move |&st| (n, st, s)))).collect();
    let todo: Vec<(usize, Strategy, u64)> = grid.iter().copied().filter(|(n, st, s)| !done.contains(&(*n, st.name(), *s))).collect();
    let (ran, resumed) = (todo.len(), grid.len() - todo.len());
    let progress = Progress::new(ran as u64, cfg.progress, "finetune");
    let mut finished = 0;
    parallel_runs(
        todo,
        cfg.jobs,
        || (target_train.shallow_clone(), target_test.shallow_clone()),
        |(train, test): &(ImageDataset, ImageDataset), &(n, strategy, seed)| -> Result<RunRow> {
            let subset = train.subsample_per_class(n, seed)?;
            let r = run_strategy(strategy, &cfg.checkpoint, &subset, test, &cfg.train, seed)?;
            Ok(RunRow {
                n_per_class: n,
                augment: strategy.name(),
                seed,
                accuracy: r.accuracy,
                auc_macro_ovr: r.auc_macro_ovr,
                log_loss: Some(r.log_loss),
                train_seconds: r.train_seconds,
                eval_seconds: 0.0,
                final_train_loss: None,
                test_images: test.len(),
                method: format!("{} ({})", strategy.name(), r.parameters),
                protocol: protocol.clone(),
            })
        },
        |&(n, strategy, seed), row| {
            let name = format!("n={n} {} seed {seed}", strategy.name());
            let row = row.map_err(|e| Error::invalid("run", &name, e.to_string()))?;
            finished += 1;
            if cfg.progress {
                progress.println(&format!("[{finished}/{ran}] {name}: accuracy {:.4}, AUC {:.4}; {}", row.accuracy, row.auc_macro_ovr, row.method));
            }
            results.append(row)?;
            progress.step_with(name);
            Ok(())
        },
    )?;
    progress.finish();
    let by_key: std::collections::HashMap<_, _> = results.rows().iter().map(|r| (r.key(), r.clone())).collect();
    let rows: Vec<RunRow> = grid.iter().filter_map(|(n, st, s)| by_key.get(&(*n, st.name(), *s)).cloned()).collect();
    let names: Vec<String> = cfg.strategies.iter().map(Strategy::name).collect();
    let summary = summarize_against(&rows, &cfg.sizes, &names, "scratch")?;
    crate::plot::write_atomic(&cfg.out.join("summary.csv"), summary.to_csv().as_bytes())?;
    summary.metric_vs_n_chart("accuracy")?.save(cfg.out.join("accuracy_vs_n.svg"))?;
    for &n in &cfg.sizes {
        if let Some(f) = summary.gain_chart(n, "accuracy")? {
            f.save(cfg.out.join(format!("gain_accuracy_n{n}.svg")))?;
        }
    }
    Ok(TransferOutcome { summary, rows, ran, resumed })
}

/// Pretrain the committed backbone: Fashion-MNIST classes 0–4, every training image.
/// Returns the source-test accuracy.
pub fn pretrain_source(data_dir: Option<&std::path::Path>, steps: usize, seed: u64, out: &std::path::Path) -> Result<f64> {
    let data = fashion_mnist(data_dir)?;
    let train = classes_subset(&data.train, &SOURCE_CLASSES)?;
    let test = classes_subset(&data.test, &SOURCE_CLASSES)?;
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).at(dir)?;
    }
    super::experiment::pretrain(&train, &test, steps, seed, out)
}
