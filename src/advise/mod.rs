//! `advise`: point it at your data, get a verdict you can trust.
//!
//! One call answers *on my data, which of augmentation, synthetic data and transfer
//! learning helps, and by how much?* for an image folder (or a built-in image set)
//! or a CSV. It runs in three stages on the experiment engine, each its own
//! resumable experiment in a sub-folder of the output:
//!
//! 1. **screen** — every arm that applies, at one size, on a few seeds;
//! 2. **confirm** — the few best arms and their baselines on **new** seeds (so the
//!    seeds that chose the winners do not also judge them), at every size of the
//!    plan. The verdict and the Holm adjustment come from this stage alone.
//! 3. **stability** (images) — the best arm and `none` again at twice the training
//!    length: does the ranking hold?
//!
//! Before any of it, a short probe times every arm on this machine, and a plan
//! ([`plan::Plan`], saved as `plan.json`) fits sizes, seeds and arms into the time
//! budget, trimming in a stated order. The budget is also a deadline: when it
//! passes, no new run starts and the page reports what there is. A second call
//! follows the saved plan and resumes every stage; a larger budget extends it.
//!
//! ```no_run
//! use smalldata::advise::{run_advise, AdviseConfig, AdviseData};
//! # fn main() -> smalldata::Result<()> {
//! let cfg = AdviseConfig { data: AdviseData::detect("my_images/", None)?, budget_seconds: 600.0, ..AdviseConfig::default() };
//! let advice = run_advise(&cfg)?;
//! for line in &advice.sentences {
//!     println!("{line}");
//! }
//! # Ok(()) }
//! ```

pub mod images;
mod page;
pub mod plan;
mod stability;
pub mod table;
pub mod verdict;

pub use images::{ImageCandidates, LengthRule};
pub use plan::{Plan, PLAN_FILE};
pub use stability::{Stability, StabilityRow};
pub use table::TableCandidates;
pub use verdict::{ArmEffect, Effect, SizeVerdict};

use crate::data::Missing;
use crate::experiment::{ExperimentOutcome, ExperimentSummary, Metric};
use crate::study::StudyData;
use crate::tabular::TabularSource;
use crate::{Error, Result};
use plan::{ArmPlan, Cost, PlanInput};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// What `advise` looks at.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AdviseData {
    Images(StudyData),
    Table(TabularSource),
}

impl AdviseData {
    /// A short name for titles: the last component of the folder or CSV, or the name
    /// of the built-in set.
    pub fn name(&self) -> String {
        let last = |p: &Path| p.file_name().map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into_owned());
        match self {
            AdviseData::Table(TabularSource::Csv { path, .. }) => last(path),
            AdviseData::Table(t) => t.name(),
            AdviseData::Images(StudyData::Folder { path, .. }) => last(path),
            AdviseData::Images(StudyData::Cifar10 { .. }) => "cifar-10".into(),
            AdviseData::Images(StudyData::FashionMnist { .. } | StudyData::FashionMnistEmbedded) => "fashion-mnist".into(),
            AdviseData::Images(StudyData::Digits) => "digits".into(),
        }
    }

    /// A CSV file (needs `target`), `diabetes` / `winequality`, an image folder, or a
    /// built-in image set (`fashion-mnist`, `fashion-mnist-embedded`, `digits`).
    pub fn detect(path: &str, target: Option<&str>) -> Result<Self> {
        let p = Path::new(path);
        let is_csv = p.is_file() && p.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv") || e.eq_ignore_ascii_case("tsv"));
        if is_csv || (p.is_file() && target.is_some()) {
            let target = target.ok_or_else(|| Error::invalid("--target", path, "a CSV needs the name of its target column (--target)"))?;
            return Ok(AdviseData::Table(TabularSource::Csv { path: p.to_path_buf(), target: target.into(), missing: Missing::Impute }));
        }
        if p.is_file() {
            return Err(Error::invalid("data", path, "a file that is not a .csv; give a CSV (with --target) or an image folder"));
        }
        match path {
            "diabetes" | "winequality" => Ok(AdviseData::Table(TabularSource::parse(path, target.unwrap_or("target"))?)),
            _ => Ok(AdviseData::Images(StudyData::parse(path, None)?)),
        }
    }
}

/// Everything `advise` needs. [`AdviseConfig::default`] is what `make demo` runs.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AdviseConfig {
    pub data: AdviseData,
    /// Wall-clock budget of the whole call, probe included.
    pub budget_seconds: f64,
    pub screen_seeds: usize,
    /// Seeds of the confirmation stage (at least 3; trimming never goes below 3).
    pub confirm_seeds: usize,
    /// Arms carried from screening to confirmation.
    pub keep: usize,
    /// Images: how long each run trains.
    pub rule: LengthRule,
    /// Images: score on a stratified subset of at most this many test images.
    pub test_limit: Option<usize>,
    /// Tables: share of rows held out per seed.
    pub test_fraction: f64,
    /// Images: a pretrained backbone adds the transfer strategies as arms.
    pub backbone: Option<PathBuf>,
    /// Images: a pretrained diffusion model adds the textual-inversion arm.
    pub diffusion_model: Option<PathBuf>,
    pub jobs: usize,
    pub out: PathBuf,
    pub progress: bool,
    /// Discard the plan and every stage's results in `out`.
    pub restart: bool,
}

impl Default for AdviseConfig {
    /// Fashion-MNIST (the full set where installed, else the embedded subset), 10
    /// minutes, 2 screening and 5 confirmation seeds, 3 arms confirmed, into
    /// `report/advise`.
    fn default() -> Self {
        AdviseConfig {
            data: AdviseData::Images(StudyData::FashionMnist { dir: None }),
            budget_seconds: 600.0,
            screen_seeds: 2,
            confirm_seeds: 5,
            keep: 3,
            rule: LengthRule::default(),
            test_limit: Some(2000),
            test_fraction: 0.3,
            backbone: None,
            diffusion_model: None,
            jobs: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            out: PathBuf::from("report/advise"),
            progress: true,
            restart: false,
        }
    }
}

impl AdviseConfig {
    pub fn check(&self) -> Result<()> {
        if !(self.budget_seconds > 0.0 && self.budget_seconds.is_finite()) {
            return Err(Error::invalid("budget", self.budget_seconds, "must be a positive number of seconds"));
        }
        if self.screen_seeds == 0 {
            return Err(Error::invalid("screening seeds", 0, "must be at least 1"));
        }
        if self.confirm_seeds < plan::MIN_CONFIRM_SEEDS {
            return Err(Error::invalid("confirmation seeds", self.confirm_seeds, format!("must be at least {} (5 or more recommended)", plan::MIN_CONFIRM_SEEDS)));
        }
        if self.keep == 0 {
            return Err(Error::invalid("arms confirmed", 0, "must be at least 1"));
        }
        if self.jobs == 0 {
            return Err(Error::invalid("jobs", 0, "must be at least 1"));
        }
        if !(self.test_fraction > 0.0 && self.test_fraction < 1.0) {
            return Err(Error::invalid("test fraction", self.test_fraction, "must lie strictly between 0 and 1"));
        }
        self.rule.check()
    }
}

/// One stage of the plan, as the candidates run it.
#[derive(Debug, Clone)]
pub struct Stage {
    pub title: String,
    pub sizes: Vec<usize>,
    pub seeds: Vec<u64>,
    pub arms: Vec<String>,
    /// Training length multiplier.
    pub factor: usize,
}

/// What every stage shares.
#[derive(Debug, Clone, Copy)]
pub struct StageCommon {
    pub jobs: usize,
    pub progress: bool,
    pub restart: bool,
    pub deadline: Option<Instant>,
}

/// A kind of data and the arms that apply to it: what `advise` plans and runs.
pub trait Candidates {
    /// What a size counts.
    fn size_label(&self) -> &'static str;
    /// The metric the verdict is about.
    fn primary(&self) -> Metric;
    fn describe_data(&self) -> String;
    /// The largest size the data allows.
    fn max_size(&self) -> usize;
    /// The usual ladder of sizes.
    fn rungs(&self) -> &'static [usize];
    /// Every applicable arm, baselines included, in table order.
    fn arm_names(&self) -> Vec<String>;
    fn baseline_of(&self, arm: &str) -> String;
    /// Order of dropping when the budget is short (higher first); `None`: kept.
    fn drop_rank(&self, arm: &str) -> Option<u32>;
    /// Cost units (training steps, rows) of one run at `size` and length `factor`.
    fn units(&self, size: usize, factor: usize) -> f64;
    /// Each arm's cost, measured on this machine.
    fn probe(&self, arms: &[String], size: usize, jobs: usize) -> Result<Vec<Cost>>;
    fn run_stage(&self, stage: &Stage, out: &Path, common: &StageCommon) -> Result<ExperimentOutcome>;
    fn protocol_note(&self, factor: usize) -> String;
    /// What the plan depends on besides the budget (checked on every later call).
    fn inputs(&self) -> serde_json::Value;
    /// Whether runs have a training length (and so a stability stage).
    fn has_length(&self) -> bool;
    /// One line that reproduces `arm` at `size` from the CLI or a notebook.
    fn recipe(&self, arm: &str, size: usize) -> String;
    /// The page's data section (and, for images, augmented samples of `arms`).
    fn page_pictures(&self, out: &Path, arms: &[String]) -> Result<String>;
}

/// Seconds this call spent per stage, and runs done now or found done.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StageTime {
    pub stage: String,
    pub planned_runs: usize,
    pub estimated_seconds: f64,
    pub seconds: f64,
    pub ran: usize,
    pub resumed: usize,
    pub skipped: usize,
}

/// What `advise` found (also saved as `advice.json`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Advice {
    pub data: String,
    /// The data's short name ([`AdviseData::name`]), for titles.
    #[serde(default)]
    pub name: String,
    pub plan: Plan,
    /// Arms carried from screening to confirmation.
    pub confirmed: Vec<String>,
    pub verdicts: Vec<SizeVerdict>,
    pub stability: Option<Stability>,
    /// The verdict in sentences, the recommendation last.
    pub sentences: Vec<String>,
    /// One line to reproduce the recommended arm.
    pub recipe: String,
    /// Every planned run finished.
    pub complete: bool,
    pub times: Vec<StageTime>,
    pub seconds: f64,
    pub report: PathBuf,
    #[serde(skip)]
    pub screen: Option<ExperimentSummary>,
    #[serde(skip)]
    pub confirm: Option<ExperimentSummary>,
}

impl Advice {
    /// The verdict and the forest plot inline in evcxr.
    pub fn evcxr_display(&self) {
        let text: String = self.sentences.iter().map(|s| format!("<p>{}</p>", crate::experiment::html_escape(s))).collect();
        let forest = self.forest_plot().ok().flatten().map(|f| f.svg).unwrap_or_default();
        println!("EVCXR_BEGIN_CONTENT text/html\n<div>{text}{forest}</div>\nEVCXR_END_CONTENT");
    }

    /// The forest plot of every confirmed arm × size (`None` before confirmation).
    pub fn forest_plot(&self) -> Result<Option<crate::plot::Figure>> {
        page::forest(&self.verdicts, &self.name)
    }
}

/// Run (or continue) `advise` as `cfg` says; write `plan.json`, the stages'
/// folders, `advice.json` and `index.html` into `cfg.out`.
pub fn run_advise(cfg: &AdviseConfig) -> Result<Advice> {
    cfg.check()?;
    let started = Instant::now();
    let deadline = started + std::time::Duration::from_secs_f64(cfg.budget_seconds);
    match &cfg.data {
        AdviseData::Images(data) => {
            let diffusion = cfg.diffusion_model.as_ref().map(|m| crate::study::DiffusionArm { class: None, pretrained: m.clone(), ..Default::default() });
            let transfer = match &cfg.backbone {
                Some(b) => ["frozen-linear", "lora=8", "full"]
                    .iter()
                    .map(|s| Ok(crate::finetune::TransferArm { strategy: s.parse()?, checkpoint: b.clone(), train: Default::default() }))
                    .collect::<Result<Vec<_>>>()?,
                None => Vec::new(),
            };
            let c = ImageCandidates::new(data.clone(), cfg.test_limit, cfg.rule, diffusion, transfer)?;
            advise_with(&c, cfg, started, deadline)
        }
        AdviseData::Table(source) => {
            let c = TableCandidates::new(source.clone(), cfg.test_fraction)?;
            advise_with(&c, cfg, started, deadline)
        }
    }
}

/// The plan saved in `out`, if any.
fn load_plan(path: &Path) -> Result<Option<Plan>> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text).map(Some).map_err(|e| Error::format(path, format!("is not an advise plan ({e}); use another --out, or --restart"))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::Io { path: path.to_path_buf(), source: e }),
    }
}

fn say(cfg: &AdviseConfig, line: &str) {
    if cfg.progress {
        println!("{line}");
    }
}

/// The whole flow on any kind of data.
pub fn advise_with(c: &dyn Candidates, cfg: &AdviseConfig, started: Instant, deadline: Instant) -> Result<Advice> {
    std::fs::create_dir_all(&cfg.out).map_err(|e| Error::Io { path: cfg.out.clone(), source: e })?;
    // one advise per folder at a time (its stages lock their own sub-folders)
    let _lock = crate::io::OutputLock::acquire(&cfg.out)?;
    let plan_path = cfg.out.join(PLAN_FILE);
    let max = c.max_size();
    if max < 2 {
        return Err(Error::invalid("data", c.describe_data(), format!("{max} training example(s) per {}: too few to compare anything", c.size_label())));
    }
    let ladder = plan::ladder(c.rungs(), max);
    let screen_size = ladder[1.min(ladder.len() - 1)];
    let inputs = serde_json::json!({ "candidates": c.inputs(), "jobs": cfg.jobs, "keep": cfg.keep, "screen_seeds": cfg.screen_seeds, "confirm_seeds": cfg.confirm_seeds });
    let saved = if cfg.restart { None } else { load_plan(&plan_path)? };
    let units = |n: usize, f: usize| c.units(n, f);
    let plan = match saved {
        Some(p) if p.inputs != inputs => {
            return Err(Error::format(&plan_path, "was made for other data, arms or settings; use another --out, or --restart to discard it and its results"));
        }
        Some(p) if p.budget_seconds == cfg.budget_seconds => {
            say(cfg, &format!("following the saved plan {}", plan_path.display()));
            p
        }
        Some(p) => {
            say(cfg, &format!("budget changed ({:.0} s → {:.0} s): re-planning from the saved costs, keeping every finished run", p.budget_seconds, cfg.budget_seconds));
            let arms = p.arms.iter().map(|a| ArmPlan { screened: true, ..a.clone() }).collect();
            let input = PlanInput { budget_seconds: cfg.budget_seconds, arms, probe_seconds: 0.0, ..plan_input(c, cfg, &inputs, &ladder, screen_size) };
            let new = plan::make_plan(input, &units)?;
            crate::io::write_atomic(&plan_path, serde_json::to_string_pretty(&new)?.as_bytes())?;
            new
        }
        None => {
            let names = c.arm_names();
            say(cfg, &format!("probing the cost of {} arms at {screen_size} {} …", names.len(), c.size_label()));
            let t = Instant::now();
            let costs = c.probe(&names, screen_size, cfg.jobs)?;
            let arms = names
                .iter()
                .zip(costs)
                .map(|(n, cost)| ArmPlan { name: n.clone(), baseline: c.baseline_of(n), cost, screened: true, drop_rank: c.drop_rank(n) })
                .collect();
            let input = PlanInput { arms, probe_seconds: t.elapsed().as_secs_f64(), ..plan_input(c, cfg, &inputs, &ladder, screen_size) };
            let new = plan::make_plan(input, &units)?;
            crate::io::write_atomic(&plan_path, serde_json::to_string_pretty(&new)?.as_bytes())?;
            new
        }
    };
    say(cfg, &page::plan_text(&plan, c.size_label()));
    let common = StageCommon { jobs: cfg.jobs, progress: cfg.progress, restart: cfg.restart, deadline: Some(deadline) };
    let mut times = Vec::new();
    let mut complete = true;

    // 1. screening
    let screened: Vec<String> = plan.arms.iter().filter(|a| a.screened).map(|a| a.name.clone()).collect();
    let stage = Stage { title: "advise: screening".into(), sizes: vec![plan.screen_size], seeds: plan.screen_seeds.clone(), arms: screened.clone(), factor: 1 };
    let Some(screen) = timed(c, &stage, &cfg.out.join("screen"), &common, plan.estimate.screen, &mut times)? else {
        return Err(Error::invalid(
            "budget",
            format!("{:.0} s", cfg.budget_seconds),
            format!("it ran out before the first screening run (the cost probe took {:.0} s); give a larger --budget", plan.estimate.probe),
        ));
    };
    complete &= screen.skipped == 0;

    // 2. confirmation: the best `keep` screened arms and their baselines, on new seeds
    let mut confirmed = Vec::new();
    let mut confirm = None;
    if complete {
        confirmed = choose(&screen.summary, plan.screen_size, plan.keep, c);
        let mut arms: Vec<String> = Vec::new();
        for a in &confirmed {
            let b = c.baseline_of(a);
            if !arms.contains(&b) {
                arms.push(b);
            }
        }
        arms.extend(confirmed.iter().cloned());
        let stage = Stage { title: "advise: confirmation".into(), sizes: plan.confirm_sizes.clone(), seeds: plan.confirm_seeds.clone(), arms, factor: 1 };
        let out = timed(c, &stage, &cfg.out.join("confirm"), &common, plan.estimate.confirm, &mut times)?;
        complete &= out.as_ref().is_some_and(|o| o.skipped == 0);
        confirm = out;
    }
    let verdicts = match &confirm {
        Some(o) => verdict::verdicts(&o.summary, c.primary())?,
        None => Vec::new(),
    };

    // 3. stability: the confirmed arms and their baseline again at twice the length
    let mut stability = None;
    if let (true, true, Some(v)) = (complete && plan.stability, c.has_length(), verdicts.iter().find(|v| v.size == plan.screen_size)) {
        let mut arms: Vec<String> = Vec::new();
        for a in &v.arms {
            if !arms.contains(&a.baseline) {
                arms.insert(0, a.baseline.clone());
            }
            arms.push(a.arm.clone());
        }
        let stage = Stage { title: "advise: stability at twice the length".into(), sizes: vec![plan.screen_size], seeds: plan.confirm_seeds.clone(), arms, factor: 2 };
        let out = timed(c, &stage, &cfg.out.join("stability"), &common, plan.estimate.stability, &mut times)?;
        complete &= out.as_ref().is_some_and(|o| o.skipped == 0);
        if let Some(out) = out.filter(|o| o.skipped == 0) {
            stability = Some(Stability::compare(v, &verdict::verdicts(&out.summary, c.primary())?, c.primary()));
        }
    }

    let (sentences, recipe) = page::conclusions(c, &plan, &verdicts, stability.as_ref(), complete, &screen.summary);
    let mut advice = Advice {
        data: c.describe_data(),
        name: cfg.data.name(),
        plan,
        confirmed,
        verdicts,
        stability,
        sentences,
        recipe,
        complete,
        times,
        seconds: started.elapsed().as_secs_f64(),
        report: cfg.out.join("index.html"),
        screen: Some(screen.summary),
        confirm: confirm.map(|o| o.summary),
    };
    page::write_page(c, &cfg.out, &mut advice)?;
    crate::io::write_atomic(&cfg.out.join("advice.json"), serde_json::to_string_pretty(&advice)?.as_bytes())?;
    Ok(advice)
}

fn plan_input(c: &dyn Candidates, cfg: &AdviseConfig, inputs: &serde_json::Value, ladder: &[usize], screen_size: usize) -> PlanInput {
    PlanInput {
        inputs: inputs.clone(),
        budget_seconds: cfg.budget_seconds,
        jobs: cfg.jobs,
        ladder: ladder.to_vec(),
        screen_size,
        screen_seeds: cfg.screen_seeds,
        confirm_seeds: cfg.confirm_seeds,
        keep: cfg.keep,
        stability: c.has_length(),
        arms: Vec::new(),
        probe_seconds: 0.0,
    }
}

/// Run a stage and record its time against the plan's estimate; `None` when the
/// deadline had passed before it could start.
fn timed(c: &dyn Candidates, stage: &Stage, out: &Path, common: &StageCommon, estimate: f64, times: &mut Vec<StageTime>) -> Result<Option<ExperimentOutcome>> {
    let t = Instant::now();
    let planned_runs = stage.sizes.len() * stage.seeds.len() * stage.arms.len();
    let name = stage.title.trim_start_matches("advise: ").to_string();
    if common.deadline.is_some_and(|d| t >= d) {
        times.push(StageTime { stage: name, planned_runs, estimated_seconds: estimate, skipped: planned_runs, ..StageTime::default() });
        return Ok(None);
    }
    let o = c.run_stage(stage, out, common)?;
    times.push(StageTime {
        stage: name,
        planned_runs,
        estimated_seconds: estimate,
        seconds: t.elapsed().as_secs_f64(),
        ran: o.ran,
        resumed: o.resumed,
        skipped: o.skipped,
    });
    Ok(Some(o))
}

/// The `keep` best non-baseline arms at `size` by the primary metric's mean.
fn choose(summary: &ExperimentSummary, size: usize, keep: usize, c: &dyn Candidates) -> Vec<String> {
    let m = c.primary();
    let sign = if m.higher_is_better() { 1.0 } else { -1.0 };
    let mut rows: Vec<(&str, f64)> = summary
        .rows
        .iter()
        .filter(|r| r.size == size && c.baseline_of(&r.arm) != r.arm)
        .filter_map(|r| r.metric(m).map(|x| (r.arm.as_str(), sign * x.summary.mean)))
        .collect();
    // best first; ties keep table order
    rows.sort_by(|a, b| b.1.total_cmp(&a.1));
    rows.into_iter().take(keep).map(|(a, _)| a.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict_at(arms: &[(&str, f64)]) -> SizeVerdict {
        SizeVerdict {
            size: 10,
            seeds: 3,
            metric: Metric::Accuracy,
            best: None,
            seeds_for_best: None,
            detectable: None,
            arms: arms.iter().map(|&(arm, diff)| ArmEffect {
                arm: arm.into(),
                baseline: "none".into(),
                mean: 0.7 + diff,
                baseline_mean: 0.7,
                diff,
                ci_low: diff - 0.01,
                ci_high: diff + 0.01,
                p: 0.5,
                holm_p: 0.5,
                sd_diff: 0.01,
                effect: Effect::Unclear,
            }).collect(),
        }
    }

    #[test]
    fn stability_says_what_changed() {
        let planned = verdict_at(&[("crop", 0.02), ("mixup", 0.01)]);
        // the same best arm on the same side: holds
        let s = Stability::compare(&planned, &[verdict_at(&[("crop", 0.03), ("mixup", -0.01)])], Metric::Accuracy);
        assert!(s.holds && s.outcome(Metric::Accuracy).starts_with("holds (crop stays the best"), "{}", s.outcome(Metric::Accuracy));
        // another arm becomes the best
        let s = Stability::compare(&planned, &[verdict_at(&[("crop", 0.0), ("mixup", 0.02)])], Metric::Accuracy);
        assert_eq!(s.outcome(Metric::Accuracy), "does not hold (crop was best, mixup is now)");
        // the best stays the best but crosses its baseline: say so, not "mixup was best, mixup is now"
        let planned = verdict_at(&[("crop", -0.02), ("mixup", -0.0004)]);
        let s = Stability::compare(&planned, &[verdict_at(&[("crop", -0.01), ("mixup", 0.013)])], Metric::Accuracy);
        assert!(!s.holds);
        assert_eq!(s.outcome(Metric::Accuracy), "does not hold (mixup stays the best, but moves from +0.0 points to +1.3 points against none)");
    }

    #[test]
    fn the_forest_plot_names_the_data() {
        let folder = AdviseData::Images(StudyData::folder("/tmp/x/digits"));
        let csv = AdviseData::Table(TabularSource::Csv { path: "/data/diabetes.csv".into(), target: "y".into(), missing: Missing::Impute });
        assert_eq!((folder.name().as_str(), csv.name().as_str()), ("digits", "diabetes.csv"));
        assert_eq!(AdviseData::Images(StudyData::Digits).name(), "digits");
        let svg = page::forest(&[verdict_at(&[("crop", 0.02)])], "digits").unwrap().unwrap().svg;
        assert!(svg.contains("digits: every confirmed arm"), "the data's name not in the title");
    }

    #[test]
    fn differences_never_read_minus_zero() {
        assert_eq!(verdict::show_diff(Metric::Accuracy, -0.0004), "+0.0 points");
        assert_eq!(verdict::show_diff(Metric::Accuracy, -0.0134), "-1.3 points");
        assert_eq!(verdict::show_diff(Metric::Rmse, -0.0001), "+0.000");
        assert_eq!(verdict::show_diff(Metric::Rmse, 2.5), "+2.500");
    }
}
