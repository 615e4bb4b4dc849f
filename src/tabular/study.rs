//! The small-data regression study: training sizes × augmentation × model × seeds,
//! scored by RMSE, MAE and R² on held-out rows, on the experiment engine. Each
//! (model, augmentation) is an arm named `model/augmentation`, compared with the
//! same model without augmentation (`model/none`).
//!
//! For each seed the table is split once into a pool and a test set (`test_fraction`
//! of the rows); the `n` training rows are the first `n` of a seeded shuffle of the
//! pool, so sizes are nested and every model and augmentation of a seed sees the same
//! rows (paired design). Augmentation adds `ratio × n` synthetic rows made from the
//! training rows only.

use super::regressors::Regressor;
use crate::augment::tabular::{augment_and_concat, GaussianJitter, Mixup, Smogn, Smoter, TabularAugment};
use crate::data::{project_one_hot, Missing, Table, TabularData};
use crate::evaluate::{mae, r2, rmse};
use crate::experiment::{run_experiment, Arm, ArmOutput, Experiment, ExperimentOutcome, RunContext, Scores, TableDraw, TableTask};
use crate::{derive_seed, Error, Result};
use std::path::PathBuf;

/// Where the table comes from.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TabularSource {
    Diabetes,
    Winequality,
    /// A user's CSV: numeric and categorical columns, missing cells handled as
    /// `missing` says ([`Table`]).
    Csv {
        path: PathBuf,
        target: String,
        #[serde(default)]
        missing: Missing,
    },
}

impl TabularSource {
    /// `diabetes`, `winequality`, or a path to a CSV (with `target` naming its column).
    /// A name that is neither built in nor an existing file is an error naming both
    /// the built-in datasets and the path searched (a typo is not taken for a CSV).
    pub fn parse(name: &str, target: &str) -> Result<Self> {
        match name {
            "diabetes" => Ok(TabularSource::Diabetes),
            "winequality" => Ok(TabularSource::Winequality),
            path if std::path::Path::new(path).is_file() => Ok(TabularSource::Csv { path: path.into(), target: target.into(), missing: Missing::Impute }),
            path => Err(Error::NotFound { what: "a CSV file, or a built-in dataset (diabetes, winequality)".into(), searched: vec![path.into()] }),
        }
    }

    pub fn load(&self) -> Result<Table> {
        Ok(match self {
            TabularSource::Diabetes => Table { source: "diabetes".into(), ..TabularData::diabetes()?.into() },
            TabularSource::Winequality => Table { source: "winequality".into(), ..TabularData::winequality()?.into() },
            TabularSource::Csv { path, target, missing } => Table::from_csv(path, target, *missing)?,
        })
    }

    pub fn name(&self) -> String {
        match self {
            TabularSource::Diabetes => "diabetes".into(),
            TabularSource::Winequality => "winequality".into(),
            TabularSource::Csv { path, .. } => path.display().to_string(),
        }
    }
}

/// A tabular augmentation arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TabularMethod {
    None,
    Jitter,
    Mixup,
    Smoter,
    Smogn,
    /// Rows sampled from a Gaussian copula fitted on the training rows (features and target).
    Copula,
    /// Rows sampled from a conditional WGAN-GP fitted on the training rows.
    Gan,
}

impl std::str::FromStr for TabularMethod {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "none" => TabularMethod::None,
            "jitter" => TabularMethod::Jitter,
            "mixup" => TabularMethod::Mixup,
            "smoter" => TabularMethod::Smoter,
            "smogn" => TabularMethod::Smogn,
            "copula" => TabularMethod::Copula,
            "gan" => TabularMethod::Gan,
            other => return Err(Error::invalid("augmentation", other, "known: none, jitter, mixup, smoter, smogn, copula, gan")),
        })
    }
}

impl crate::params::Setting for TabularMethod {
    fn setting(&self) -> String {
        self.name().to_string()
    }
}

impl TabularMethod {
    pub fn name(&self) -> &'static str {
        match self {
            TabularMethod::None => "none",
            TabularMethod::Jitter => "jitter",
            TabularMethod::Mixup => "mixup",
            TabularMethod::Smoter => "smoter",
            TabularMethod::Smogn => "smogn",
            TabularMethod::Copula => "copula",
            TabularMethod::Gan => "gan",
        }
    }

    /// The augmentation (`None` for `none`).
    pub fn build(&self) -> Option<Box<dyn TabularAugment>> {
        match self {
            TabularMethod::None => None,
            TabularMethod::Jitter => Some(Box::new(GaussianJitter::default())),
            TabularMethod::Mixup => Some(Box::new(Mixup::default())),
            TabularMethod::Smoter => Some(Box::new(Smoter::default())),
            TabularMethod::Smogn => Some(Box::new(Smogn::default())),
            TabularMethod::Copula => Some(Box::new(crate::generate::CopulaSynth)),
            TabularMethod::Gan => Some(Box::new(crate::generate::GanSynth::default())),
        }
    }
}

/// A whole tabular study.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TabularStudyConfig {
    pub data: TabularSource,
    /// Training rows, one grid row each.
    pub sizes: Vec<usize>,
    pub methods: Vec<TabularMethod>,
    pub models: Vec<Regressor>,
    pub seeds: usize,
    /// Share of the rows held out for testing, per seed.
    pub test_fraction: f64,
    /// Synthetic rows added per training row.
    pub ratio: f64,
    pub out: PathBuf,
    pub progress: bool,
    /// Runs in parallel (results do not depend on it).
    #[serde(default = "default_jobs")]
    pub jobs: usize,
    #[serde(default)]
    pub restart: bool,
}

fn default_jobs() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

impl Default for TabularStudyConfig {
    /// Diabetes, 20/50/100/200 rows, every augmentation, OLS, ridge, lasso, SVR, kNN
    /// and the MLP, 5 seeds, 30% test rows, 1 synthetic row per real one.
    fn default() -> Self {
        TabularStudyConfig {
            data: TabularSource::Diabetes,
            sizes: vec![20, 50, 100, 200],
            methods: vec![TabularMethod::None, TabularMethod::Jitter, TabularMethod::Mixup, TabularMethod::Smoter, TabularMethod::Smogn],
            models: vec![Regressor::Ols, Regressor::ridge(), Regressor::lasso(), Regressor::svr(), Regressor::knn(), Regressor::mlp()],
            seeds: 5,
            test_fraction: 0.3,
            ratio: 1.0,
            out: PathBuf::from("report/tabular"),
            progress: true,
            jobs: default_jobs(),
            restart: false,
        }
    }
}

/// What makes two tabular runs comparable.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TabularProtocol {
    pub data: TabularSource,
    pub test_fraction: f64,
    pub ratio: f64,
}

/// Synthetic rows of one augmentation per (size, seed), shared by the arms that
/// differ only in the model: a synthesizer (copula, GAN) is fitted once per draw,
/// not once per model. Its draws are seeded by (size, seed), so whichever arm fills
/// an entry first, the rows are the same.
pub type SyntheticRows = std::sync::Arc<std::sync::Mutex<std::collections::HashMap<(usize, u64), (ndarray::Array2<f64>, ndarray::Array1<f64>)>>>;

/// One model trained on the draw's rows plus `ratio × n` rows from an augmentation.
#[derive(Debug, Clone)]
pub struct TabularArm {
    pub model: Regressor,
    pub method: TabularMethod,
    pub ratio: f64,
    /// Shared with the other models' arms of the same augmentation.
    pub synthetic: SyntheticRows,
}

impl Arm<TableDraw> for TabularArm {
    fn name(&self) -> String {
        format!("{}/{}", self.model.name(), self.method.name())
    }

    fn describe(&self) -> String {
        format!("{:?} + {}", self.model, self.method.name())
    }

    fn baseline(&self) -> Option<String> {
        (self.method != TabularMethod::None).then(|| format!("{}/none", self.model.name()))
    }

    fn run(&self, d: &TableDraw, ctx: &RunContext) -> Result<ArmOutput> {
        let (n, seed) = (ctx.size, ctx.seed);
        let t = std::time::Instant::now();
        let (x, y) = match self.method.build() {
            None => (d.train.x.clone(), d.train.y.clone()),
            Some(a) => {
                let cached = self.synthetic.lock().unwrap_or_else(|e| e.into_inner()).get(&(n, seed)).cloned();
                match cached {
                    Some(xy) => xy,
                    None => {
                        let n_new = (self.ratio * n as f64).round() as usize;
                        let (mut x, y) = augment_and_concat(a.as_ref(), &d.train.x, &d.train.y, n_new, derive_seed(seed, &format!("augment/{n}")))?;
                        project_one_hot(&mut x, &d.one_hot);
                        self.synthetic.lock().unwrap_or_else(|e| e.into_inner()).insert((n, seed), (x.clone(), y.clone()));
                        (x, y)
                    }
                }
            }
        };
        let pred = self.model.fit(x.view(), y.view(), seed)?.predict(d.test.x.view())?;
        let secs = t.elapsed().as_secs_f64();
        let yt = d.test.y.to_vec();
        let yp = pred.to_vec();
        Ok(ArmOutput {
            scores: Scores::Regression { rmse: rmse(&yt, &yp)?, mae: mae(&yt, &yp)?, r2: r2(&yt, &yp)? },
            train_seconds: secs,
            eval_seconds: 0.0,
            final_train_loss: None,
            test_size: d.test.len(),
            detail: (!d.notes.is_empty()).then(|| d.notes.join("; ")),
        })
    }
}

impl TabularStudyConfig {
    /// Checks that need no data.
    pub fn check(&self) -> Result<()> {
        crate::experiment::check_grid(&self.sizes, self.seeds)?;
        if self.methods.is_empty() || self.models.is_empty() {
            return Err(Error::invalid("methods / models", format!("{} / {}", self.methods.len(), self.models.len()), "need at least one of each"));
        }
        if !(self.test_fraction > 0.0 && self.test_fraction < 1.0) {
            return Err(Error::invalid("test fraction", self.test_fraction, "must lie strictly between 0 and 1"));
        }
        if !(self.ratio >= 0.0 && self.ratio.is_finite()) {
            return Err(Error::invalid("synthetic ratio", self.ratio, "must be ≥ 0"));
        }
        for m in &self.models {
            m.check()?;
        }
        Ok(())
    }

    fn protocol(&self) -> TabularProtocol {
        TabularProtocol { data: self.data.clone(), test_fraction: self.test_fraction, ratio: self.ratio }
    }

    /// Every (model, augmentation) arm, models outermost.
    pub fn arms(&self) -> Vec<TabularArm> {
        let caches: Vec<SyntheticRows> = self.methods.iter().map(|_| SyntheticRows::default()).collect();
        self.models
            .iter()
            .flat_map(|&model| {
                self.methods.iter().zip(&caches).map(move |(&method, synthetic)| TabularArm { model, method, ratio: self.ratio, synthetic: synthetic.clone() })
            })
            .collect()
    }
}

/// Run (or resume) a tabular study and write `results.jsonl`, `study.json`,
/// `summary.csv`, charts and `index.html` into `cfg.out`.
pub fn run_tabular_study(cfg: &TabularStudyConfig) -> Result<ExperimentOutcome> {
    cfg.check()?;
    let table = cfg.data.load()?;
    let task = TableTask::new(table, cfg.test_fraction)?;
    let pool = task.pool_rows();
    if let Some(&big) = cfg.sizes.iter().find(|&&n| n > pool) {
        return Err(Error::invalid("size", big, format!("{} has {} rows, {pool} outside the test share", cfg.data.name(), task.table.len())));
    }
    let t = &task.table;
    let mut notes = vec![format!(
        "Data: {}: {} rows with a target × {} feature columns, target {:?}; {:.0}% of the rows held out for testing, drawn anew for each seed; {} synthetic row(s) per training row.",
        cfg.data.name(),
        t.len(),
        t.columns.len(),
        t.target_name,
        cfg.test_fraction * 100.0,
        cfg.ratio
    )];
    if t.dropped_rows > 0 || t.missing_cells > 0 {
        notes.push(format!(
            "Missing cells: {} row(s) dropped for a missing target; {} missing feature cell(s), imputed in each run with the median (numbers) or the most frequent category of that run's training rows only.",
            t.dropped_rows, t.missing_cells
        ));
    }
    for (name, cats) in t.categorical() {
        notes.push(format!("Categorical column {name:?}, one-hot encoded: {}.", cats.join(", ")));
    }
    let exp = Experiment {
        title: format!("Small-data regression study: {}", cfg.data.name()),
        protocol: cfg.protocol(),
        sizes: cfg.sizes.clone(),
        size_label: "training rows".into(),
        seeds: (0..cfg.seeds as u64).collect(),
        arms: cfg.arms().into_iter().map(|a| Box::new(a) as Box<dyn Arm<TableDraw>>).collect(),
        baseline: "none".into(),
        jobs: cfg.jobs,
        out: cfg.out.clone(),
        progress: cfg.progress,
        restart: cfg.restart,
        notes,
        config: serde_json::to_value(cfg)?,
        deadline: None,
    };
    run_experiment(&exp, || Ok(task.clone()))
}
