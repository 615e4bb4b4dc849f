//! `advise` on a CSV (or a built-in table): every model × none, jitter, mixup,
//! SMOTER, SMOGN, the Gaussian copula and the tabular GAN, each augmented arm
//! compared with its own model trained on the real rows alone.

use super::plan::{Cost, PROBE_SEED};
use super::{Candidates, Stage, StageCommon};
use crate::experiment::{html_escape, run_experiment, Arm, Experiment, ExperimentOutcome, Metric, RunContext, TableTask, Task};
use crate::tabular::{Regressor, SyntheticRows, TabularArm, TabularMethod, TabularProtocol, TabularSource};
use crate::{Error, Result};
use std::path::Path;

/// A table and every arm that applies to it.
#[allow(missing_debug_implementations)]
pub struct TableCandidates {
    pub source: TabularSource,
    pub task: TableTask,
    pub models: Vec<Regressor>,
    pub methods: Vec<TabularMethod>,
    pub ratio: f64,
    /// One cache of synthetic rows per augmentation, shared by the models' arms.
    caches: Vec<SyntheticRows>,
}

impl TableCandidates {
    pub fn new(source: TabularSource, test_fraction: f64) -> Result<Self> {
        let table = source.load()?;
        let task = TableTask::new(table, test_fraction)?;
        let models: Vec<Regressor> = ["ols", "ridge", "lasso", "svr", "knn", "mlp"].iter().map(|m| m.parse()).collect::<Result<_>>()?;
        let methods = vec![
            TabularMethod::None,
            TabularMethod::Jitter,
            TabularMethod::Mixup,
            TabularMethod::Smoter,
            TabularMethod::Smogn,
            TabularMethod::Copula,
            TabularMethod::Gan,
        ];
        let caches = methods.iter().map(|_| SyntheticRows::default()).collect();
        Ok(TableCandidates { source, task, models, methods, ratio: 1.0, caches })
    }

    fn arm(&self, name: &str) -> Result<TabularArm> {
        for &model in &self.models {
            for (k, &method) in self.methods.iter().enumerate() {
                if format!("{}/{}", model.name(), method.name()) == name {
                    return Ok(TabularArm { model, method, ratio: self.ratio, synthetic: self.caches[k].clone() });
                }
            }
        }
        Err(Error::invalid("arm", name, "not a model/augmentation of this table"))
    }

    fn protocol(&self) -> TabularProtocol {
        TabularProtocol { data: self.source.clone(), test_fraction: self.task.test_fraction, ratio: self.ratio }
    }
}

impl Candidates for TableCandidates {
    fn size_label(&self) -> &'static str {
        "training rows"
    }

    fn primary(&self) -> Metric {
        Metric::Rmse
    }

    fn describe_data(&self) -> String {
        let t = &self.task.table;
        format!(
            "{}: {} rows with a target, {} feature column(s), target {:?}; {:.0}% of the rows held out for testing, drawn anew for each seed",
            self.source.name(),
            t.len(),
            t.columns.len(),
            t.target_name,
            self.task.test_fraction * 100.0
        )
    }

    fn max_size(&self) -> usize {
        self.task.pool_rows()
    }

    fn rungs(&self) -> &'static [usize] {
        &[20, 50, 100, 200, 500, 1000, 2000]
    }

    fn arm_names(&self) -> Vec<String> {
        self.models.iter().flat_map(|m| self.methods.iter().map(move |a| format!("{}/{}", m.name(), a.name()))).collect()
    }

    fn baseline_of(&self, arm: &str) -> String {
        format!("{}/none", arm.split('/').next().unwrap_or(arm))
    }

    fn drop_rank(&self, arm: &str) -> Option<u32> {
        match arm.rsplit('/').next() {
            Some("gan") => Some(20),
            Some("copula") | Some("smogn") => Some(10),
            _ => None,
        }
    }

    fn units(&self, size: usize, _factor: usize) -> f64 {
        size as f64
    }

    fn probe(&self, arms: &[String], size: usize, _jobs: usize) -> Result<Vec<Cost>> {
        // table runs are short: one each, in order, is the simplest honest probe
        let draw = self.task.draw(size, PROBE_SEED)?;
        let device = crate::device()?;
        arms.iter()
            .map(|a| {
                let out = self.arm(a)?.run(&draw, &RunContext { size, seed: PROBE_SEED, device })?;
                Ok(Cost { fixed: 0.0, per_unit: (out.train_seconds + out.eval_seconds) / size as f64 })
            })
            .collect()
    }

    fn run_stage(&self, stage: &Stage, out: &Path, common: &StageCommon) -> Result<ExperimentOutcome> {
        let arms = stage.arms.iter().map(|a| Ok(Box::new(self.arm(a)?) as Box<dyn Arm<_>>)).collect::<Result<Vec<_>>>()?;
        // no common baseline: each augmented arm names its own model's `none`
        let baseline = "each model on the real rows".to_string();
        let exp = Experiment {
            title: stage.title.clone(),
            protocol: self.protocol(),
            sizes: stage.sizes.clone(),
            size_label: self.size_label().into(),
            seeds: stage.seeds.clone(),
            arms,
            baseline,
            jobs: common.jobs,
            out: out.to_path_buf(),
            progress: common.progress,
            restart: common.restart,
            notes: vec![format!("Data: {}.", self.describe_data()), self.protocol_note(1)],
            config: serde_json::Value::Null,
            deadline: common.deadline,
        };
        run_experiment(&exp, || Ok(self.task.clone()))
    }

    fn protocol_note(&self, _factor: usize) -> String {
        format!(
            "Models: {}. Each augmentation adds {} synthetic row(s) per training row; each is compared with its own model on the real rows alone. \
             Missing cells are imputed and categories one-hot encoded from each run's training rows.",
            self.models.iter().map(|m| m.name()).collect::<Vec<_>>().join(", "),
            self.ratio
        )
    }

    fn inputs(&self) -> serde_json::Value {
        serde_json::json!({ "kind": "table", "protocol": self.protocol(), "arms": self.arm_names() })
    }

    fn has_length(&self) -> bool {
        false
    }

    fn recipe(&self, arm: &str, size: usize) -> String {
        let (model, method) = arm.split_once('/').unwrap_or((arm, "none"));
        let data = match &self.source {
            TabularSource::Csv { path, target, .. } => format!("--dataset {} --target {target}", path.display()),
            other => format!("--dataset {}", other.name()),
        };
        let augment = if method == "none" { "none".to_string() } else { format!("none,{method}") };
        format!("smalldata tabular {data} --models {model} --augment {augment} --sizes {size} --seeds 5")
    }

    fn page_pictures(&self, _out: &Path, _arms: &[String]) -> Result<String> {
        let t = &self.task.table;
        let cols: String = t
            .columns
            .iter()
            .map(|c| match c {
                crate::data::Column::Numeric { name, .. } => format!("<code>{}</code>", html_escape(name)),
                crate::data::Column::Categorical { name, categories, .. } => format!("<code>{}</code> ({} categories)", html_escape(name), categories.len()),
            })
            .collect::<Vec<_>>()
            .join(", ");
        Ok(format!("<h2>The data</h2><p>{}.</p><p>Feature columns: {cols}.</p>", html_escape(&self.describe_data())))
    }
}
