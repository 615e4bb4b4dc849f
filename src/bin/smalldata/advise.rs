//! `smalldata advise PATH`: flags to an [`AdviseConfig`]; the library plans and runs.
use clap::Args;
use smalldata::advise::{run_advise, AdviseConfig, AdviseData, LengthRule};
use crate::study::FolderFlags;
use std::path::PathBuf;

#[derive(Args)]
pub struct AdviseArgs {
    /// An image folder (<class>/<images>, or train/<class>/ and test/<class>/), a CSV
    /// file (with --target), or a built-in dataset: fashion-mnist,
    /// fashion-mnist-embedded, digits, diabetes, winequality.
    #[arg(default_value = "fashion-mnist")]
    path: String,
    /// Target column of a CSV.
    #[arg(long)]
    target: Option<String>,
    /// Time for the whole call, probe included: 10m, 90s, 1h30m, or seconds.
    #[arg(long, default_value = "10m")]
    budget: String,
    /// Seeds of the confirmation stage (new seeds; never fewer than 3).
    #[arg(long)]
    seeds: Option<usize>,
    /// Seeds of the screening stage.
    #[arg(long)]
    screen_seeds: Option<usize>,
    /// Arms carried from screening to confirmation.
    #[arg(long)]
    keep: Option<usize>,
    /// Images: training length is this many epochs…
    #[arg(long)]
    epochs: Option<usize>,
    /// …but at least this many steps…
    #[arg(long)]
    min_steps: Option<usize>,
    /// …and at most this many.
    #[arg(long)]
    max_steps: Option<usize>,
    /// Images: score on a stratified subset of at most this many test images (0: all).
    #[arg(long)]
    test_limit: Option<usize>,
    #[command(flatten)]
    folder: FolderFlags,
    /// Image folder without train/ and test/ (or a CSV): share held out for testing.
    #[arg(long)]
    test_fraction: Option<f64>,
    /// A pretrained backbone: adds the transfer strategies as arms.
    #[arg(long)]
    backbone: Option<PathBuf>,
    /// A pretrained diffusion model of the images' size: adds textual inversion.
    #[arg(long)]
    diffusion_model: Option<PathBuf>,
    /// Runs in parallel (default: the number of cores).
    #[arg(long)]
    jobs: Option<usize>,
    #[arg(long, default_value = "report/advise")]
    out: PathBuf,
    /// Discard the plan and the results in --out.
    #[arg(long)]
    restart: bool,
    #[arg(long)]
    quiet: bool,
}

impl AdviseArgs {
    pub fn config(&self) -> smalldata::Result<AdviseConfig> {
        let d = AdviseConfig::default();
        let test_fraction = self.test_fraction.unwrap_or(d.test_fraction);
        let data = match AdviseData::detect(&self.path, self.target.as_deref())? {
            AdviseData::Images(images) => AdviseData::Images(self.folder.apply(images, &self.path, test_fraction)?),
            _ if self.folder.given() => return Err(FolderFlags::not_a_folder(&self.path)),
            table => table,
        };
        let rule = LengthRule {
            epochs: self.epochs.unwrap_or(d.rule.epochs),
            min_steps: self.min_steps.unwrap_or(d.rule.min_steps),
            max_steps: self.max_steps.unwrap_or(d.rule.max_steps),
        };
        let cfg = AdviseConfig {
            data,
            budget_seconds: smalldata::advise::plan::parse_budget(&self.budget)?,
            screen_seeds: self.screen_seeds.unwrap_or(d.screen_seeds),
            confirm_seeds: self.seeds.unwrap_or(d.confirm_seeds),
            keep: self.keep.unwrap_or(d.keep),
            rule,
            test_limit: match self.test_limit {
                Some(0) => None,
                Some(k) => Some(k),
                None => d.test_limit,
            },
            test_fraction,
            backbone: self.backbone.clone(),
            diffusion_model: self.diffusion_model.clone(),
            jobs: self.jobs.unwrap_or(d.jobs),
            out: self.out.clone(),
            progress: !self.quiet,
            restart: self.restart,
        };
        cfg.check()?;
        Ok(cfg)
    }
}

/// Run and print the verdict and where the page is.
pub fn advise(cfg: &AdviseConfig) -> smalldata::Result<()> {
    let advice = run_advise(cfg)?;
    println!();
    for s in &advice.sentences {
        println!("{s}");
    }
    println!("\nrecipe: {}", advice.recipe);
    println!("{:.0} s ({} the plan); report: {}", advice.seconds, if advice.complete { "completed" } else { "stopped at the budget, before finishing" }, advice.report.display());
    Ok(())
}
