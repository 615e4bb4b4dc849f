//! The experiment engine under every study: a grid of training sizes × arms ×
//! seeds, paired per seed, run in parallel, resumable, summarised and reported the
//! same way whatever the arms do.
//!
//! * An **arm** ([`Arm`]) is anything that turns a training draw into scores on the
//!   test set. The engine knows no arm by name: augmentation pipelines, GAN and
//!   diffusion synthetic data, transfer strategies and tabular models are provided
//!   by their own modules and only implement the trait.
//! * A **task** ([`Task`]) gives each (size, seed) cell its draw — the training
//!   subsample and the test set — and every arm of the cell gets the same one: the
//!   design is **paired**, so the difference between two arms on one seed is due to
//!   the arms alone. [`ImageTask`] and [`TableTask`] are the two tasks of the crate.
//! * The **protocol** (data, model, training, test set) is a typed value of the
//!   verb's own; `study.json` keeps it and every row of `results.jsonl` carries its
//!   hash, so a resumed experiment never mixes incomparable runs ([`protocol`]).
//! * Each finished run is appended to `results.jsonl` and flushed; a killed
//!   experiment started again runs only what is missing ([`ResultsFile`]). Runs go in
//!   parallel, each on one libtorch thread, and all randomness comes from the run's
//!   seed: the numbers do not depend on `jobs` or on the order runs finish.
//! * One [`RunRow`], one [`ExperimentSummary`] (mean ± 95% CI per arm and size, the
//!   paired difference to the baseline with its CI and p, and Holm's adjustment
//!   across the arms compared at a size), one report (`summary.csv`, charts,
//!   `index.html`).
//! * A failing run is an [`Error::Run`](crate::Error::Run) naming its cell and
//!   holding the original error.
//!
//! A whole experiment with an arm written on the spot: predict a table's target
//! with the training mean, or with the training median.
//!
//! ```
//! use smalldata::data::TabularData;
//! use smalldata::experiment::*;
//! use smalldata::ndarray::{Array1, Array2};
//! # fn main() -> smalldata::Result<()> {
//! struct Constant { median: bool }
//! impl Arm<TableDraw> for Constant {
//!     fn name(&self) -> String { if self.median { "median".into() } else { "mean".into() } }
//!     fn describe(&self) -> String { format!("predict the training {}", self.name()) }
//!     fn run(&self, d: &TableDraw, _: &RunContext) -> smalldata::Result<ArmOutput> {
//!         let mut y = d.train.y.to_vec();
//!         y.sort_by(f64::total_cmp);
//!         let guess = if self.median { y[y.len() / 2] } else { y.iter().sum::<f64>() / y.len() as f64 };
//!         let pred = vec![guess; d.test.len()];
//!         let truth = d.test.y.as_slice().unwrap_or(&[]);
//!         Ok(ArmOutput {
//!             scores: Scores::Regression {
//!                 rmse: smalldata::evaluate::rmse(truth, &pred)?,
//!                 mae: smalldata::evaluate::mae(truth, &pred)?,
//!                 r2: smalldata::evaluate::r2(truth, &pred)?,
//!             },
//!             train_seconds: 0.0, eval_seconds: 0.0, final_train_loss: None,
//!             test_size: d.test.len(), detail: None,
//!         })
//!     }
//! }
//! let x = Array2::from_shape_fn((60, 1), |(i, _)| i as f64);
//! let y = Array1::from_shape_fn(60, |i| (i % 7) as f64 + if i % 10 == 0 { 30.0 } else { 0.0 });
//! let table = TabularData::new(x, y, vec!["x".into()], "y")?;
//! let out = std::env::temp_dir().join(format!("smalldata-doc-engine-{}", std::process::id()));
//! let exp = Experiment {
//!     title: "mean or median".into(),
//!     protocol: "toy v1".to_string(),
//!     sizes: vec![10, 30],
//!     size_label: "training rows".into(),
//!     seeds: (0..4).collect(),
//!     arms: vec![Box::new(Constant { median: false }), Box::new(Constant { median: true })],
//!     baseline: "mean".into(),
//!     jobs: 2,
//!     out: out.clone(),
//!     progress: false,
//!     restart: true,
//!     notes: vec![],
//!     config: serde_json::Value::Null,
//!     deadline: None,
//! };
//! let task = TableTask::new(table.into(), 0.3)?;
//! let outcome = run_experiment(&exp, || Ok(task.clone()))?;
//! assert_eq!(outcome.rows.len(), 2 * 2 * 4);
//! println!("{}", outcome.summary.to_table());
//! # std::fs::remove_dir_all(out).ok();
//! # Ok(()) }
//! ```

mod engine;
pub mod protocol;
mod report;
mod results;
mod summary;
mod tasks;

pub use engine::{
    check_grid, parallel_runs, run_experiment, Arm, ArmInfo, ArmOutput, Experiment, ExperimentOutcome, RunContext, StudyFile, Task, CONFIG_FILE, RESULTS_FILE,
};
pub use protocol::{protocol_hash, Protocol};
pub use report::{charts, write_report, ReportInfo};
pub use results::{discard_results, parse_rows, Metric, ResultsFile, Row, RunRow, Scores};
pub use summary::{html_escape, html_table, summarize, ArmSummary, Best, ExperimentSummary, MetricSummary, LEVEL};
pub use tasks::{ImageDraw, ImageTask, TableDraw, TableTask};
