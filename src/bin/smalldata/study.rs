//! `smalldata study` and `smalldata demo`: flags to a [`StudyConfig`] plus the arms
//! that other verbs provide (transfer strategies over --backbone).
use clap::Args;
use smalldata::experiment::{Arm, ImageDraw};
use super::comma;
use smalldata::params::settings;
use smalldata::study::{StudyConfig, StudyData};
use smalldata::train::{Length, TrainConfig};
use std::path::PathBuf;

/// How an image folder is read; shared by every command that takes one.
#[derive(Args)]
pub struct FolderFlags {
    /// Image folder: square side in pixels (default: the median side, capped at 64).
    #[arg(long)]
    size: Option<u32>,
    /// Image folder: 1 or 3 channels (default: 3 when any image has colour).
    #[arg(long)]
    channels: Option<usize>,
    /// Image folder: skip files that cannot be decoded (listed in the report).
    #[arg(long)]
    skip_bad: bool,
}

impl FolderFlags {
    /// Whether any flag was given.
    pub fn given(&self) -> bool {
        self.size.is_some() || self.channels.is_some() || self.skip_bad
    }

    /// The error for flags given with data that is not a folder (named `name`).
    pub fn not_a_folder(name: &str) -> smalldata::Error {
        smalldata::Error::invalid("--size/--channels/--skip-bad", name, "apply to an image folder only")
    }

    /// `data` with these flags when it is a folder; an error naming `name` when the
    /// flags are given for anything else.
    pub fn apply(&self, data: StudyData, name: &str, test_fraction: f64) -> smalldata::Result<StudyData> {
        match data {
            StudyData::Folder { path, .. } => Ok(StudyData::Folder { path, size: self.size, channels: self.channels, skip_bad: self.skip_bad, test_fraction }),
            _ if self.given() => Err(Self::not_a_folder(name)),
            other => Ok(other),
        }
    }
}

#[derive(Args)]
pub struct StudyArgs {
    /// fashion-mnist, fashion-mnist-embedded, cifar10 (with --data-dir), digits, or
    /// the path of your image folder (<class>/<images>, or train/<class>/ and
    /// test/<class>/).
    #[arg(long, default_value = "fashion-mnist")]
    dataset: String,
    #[command(flatten)]
    folder: FolderFlags,
    /// Image folder without train/ and test/: share of each class held out for testing.
    #[arg(long, default_value_t = 0.3)]
    test_fraction: f64,
    /// Where the dataset's files are (default: searched; see `smalldata info`).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Training images per class, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = comma(&StudyConfig::default().sizes))]
    sizes: Vec<usize>,
    /// Operations to combine: crop[=padding], rotate[=degrees], noise[=sigma], flip,
    /// erase, blur[=sigma], jitter[=strength], affine, elastic; `none` for no
    /// operation (only the `none` arm, and --policies / --gan if given).
    #[arg(long, value_delimiter = ',', default_value = settings(&StudyConfig::default().ops).join(","))]
    ops: Vec<String>,
    /// Also compare RandAugment and TrivialAugmentWide.
    #[arg(long)]
    policies: bool,
    /// Add the `gan` arm: this many synthetic images per real one, from a conditional
    /// GAN trained on each run's real images.
    #[arg(long)]
    gan: Option<usize>,
    /// Generator updates of the `gan` arm.
    #[arg(long, default_value_t = smalldata::study::GanArm::default().gan.run.steps)]
    gan_steps: usize,
    /// Add the `diffusion` arm with this many synthetic images per real one. On
    /// Fashion-MNIST without --diffusion-model: ankle boots, from a token learned on
    /// each run's boots (textual inversion on the committed model); with
    /// --diffusion-model: every class, on that model.
    #[arg(long)]
    diffusion: Option<usize>,
    /// A pretrained diffusion model (`smalldata generate diffusion-pretrain`) for the
    /// `diffusion` arm on your own images: one token per class is inverted from each
    /// run's images (the model must take the images' size and channels). Adds the arm
    /// (4 synthetic images per real one unless --diffusion says otherwise).
    #[arg(long)]
    diffusion_model: Option<PathBuf>,
    /// A Stable Diffusion 1.x/2.x pipeline folder (diffusers layout): adds the
    /// `stable-diffusion` arm, one token per class learned from each run's images by
    /// textual inversion, --sd-ratio pictures per real image sampled from it.
    #[arg(long)]
    sd_model: Option<PathBuf>,
    #[arg(long, default_value_t = smalldata::study::StableDiffusionArm::default().ratio)]
    sd_ratio: usize,
    /// Inversion steps of the `stable-diffusion` arm.
    #[arg(long, default_value_t = smalldata::study::StableDiffusionArm::default().inversion.steps)]
    sd_steps: usize,
    /// The word each `stable-diffusion` token starts from when the class name is not
    /// a single token of the model's vocabulary.
    #[arg(long, default_value_t = smalldata::study::StableDiffusionArm::default().inversion.initializer)]
    sd_init: String,
    /// Picture side of the `stable-diffusion` arm (default: the model's own).
    #[arg(long)]
    sd_resolution: Option<i64>,
    /// DDIM steps of the `stable-diffusion` arm's sampling.
    #[arg(long, default_value_t = smalldata::study::StableDiffusionArm::default().sample_steps)]
    sd_sample_steps: usize,
    /// A pretrained backbone (the committed Fashion-MNIST ResNet, or one made by
    /// `smalldata finetune pretrain`): adds the transfer strategies as arms.
    #[arg(long)]
    backbone: Option<PathBuf>,
    /// Transfer strategies added with --backbone.
    #[arg(long, value_delimiter = ',', default_value = "frozen-linear,lora=8,full")]
    strategies: Vec<String>,
    /// Inversion steps of the `diffusion` arm.
    #[arg(long, default_value_t = smalldata::generate::diffusion::InversionConfig::default().steps)]
    inversion_steps: usize,
    /// Number of seeds (0, 1, …); 3 or more for confidence intervals.
    #[arg(long, default_value_t = StudyConfig::default().seeds)]
    seeds: usize,
    /// small-cnn or small-resnet.
    #[arg(long, default_value_t = StudyConfig::default().model.to_string())]
    model: String,
    /// Optimisation steps per run (ignored when --epochs is given).
    #[arg(long, default_value_t = default_steps())]
    steps: usize,
    /// Train for this many epochs instead of a fixed number of steps.
    #[arg(long)]
    epochs: Option<usize>,
    #[arg(long, default_value_t = TrainConfig::default().batch_size)]
    batch_size: usize,
    #[arg(long, default_value_t = TrainConfig::default().lr)]
    lr: f64,
    /// adam, adamw, sgd or nesterov.
    #[arg(long, default_value = "adam")]
    optimizer: String,
    #[arg(long, default_value_t = TrainConfig::default().weight_decay)]
    weight_decay: f64,
    /// constant, cosine or one-cycle.
    #[arg(long, default_value = "constant")]
    schedule: String,
    /// Score on a stratified subset of this many test images (default: all).
    #[arg(long)]
    test_limit: Option<usize>,
    /// Runs in parallel, one CPU thread each (default: the number of cores).
    #[arg(long)]
    jobs: Option<usize>,
    #[arg(long, default_value = "report/study")]
    out: PathBuf,
    /// Discard the results already in --out instead of resuming.
    #[arg(long)]
    restart: bool,
    /// No per-run lines or progress bar.
    #[arg(long)]
    quiet: bool,
}

/// The study's default number of steps per run (0, which the study refuses, if the
/// library's default ever became a number of epochs: --epochs would then be the flag).
fn default_steps() -> usize {
    match StudyConfig::default().train.length {
        Length::Steps(s) => s,
        Length::Epochs(_) => 0,
    }
}

impl StudyArgs {
    pub fn config(&self) -> smalldata::Result<StudyConfig> {
        let defaults = StudyConfig::default();
        let train = TrainConfig {
            optimizer: self.optimizer.parse()?,
            lr: self.lr,
            weight_decay: self.weight_decay,
            schedule: self.schedule.parse()?,
            batch_size: self.batch_size,
            length: match self.epochs {
                Some(e) => Length::Epochs(e),
                None => Length::Steps(self.steps),
            },
            ..defaults.train.clone()
        };
        let parsed = StudyData::parse(&self.dataset, self.data_dir.clone())?;
        let is_folder = matches!(parsed, StudyData::Folder { .. });
        let data = self.folder.apply(parsed, &self.dataset, self.test_fraction)?;
        let cfg = StudyConfig {
            data,
            sizes: self.sizes.clone(),
            ops: self.ops.iter().filter(|o| !o.is_empty() && o.as_str() != "none").map(|o| o.parse()).collect::<smalldata::Result<_>>()?,
            policies: self.policies,
            gan: self.gan.map(|ratio| {
                let arm = smalldata::study::GanArm::default();
                let mut gan = arm.gan;
                gan.run.steps = self.gan_steps;
                smalldata::study::GanArm { ratio, gan }
            }),
            diffusion: self.diffusion_arm(is_folder),
            stable_diffusion: self.sd_model.as_ref().map(|model| {
                let arm = smalldata::study::StableDiffusionArm::default();
                let inversion = smalldata::generate::stable_diffusion::InversionConfig { steps: self.sd_steps, initializer: self.sd_init.clone(), ..arm.inversion.clone() };
                smalldata::study::StableDiffusionArm { model: model.clone(), ratio: self.sd_ratio, resolution: self.sd_resolution, sample_steps: self.sd_sample_steps, inversion, ..arm }
            }),
            seeds: self.seeds,
            model: self.model.parse()?,
            train,
            test_limit: self.test_limit,
            jobs: self.jobs.unwrap_or(defaults.jobs),
            out: self.out.clone(),
            progress: !self.quiet,
            restart: self.restart,
        };
        cfg.check()?;
        Ok(cfg)
    }
}

impl StudyArgs {
    /// The diffusion arm: with --diffusion-model, every class on that model; with
    /// --diffusion alone, ankle boots on the committed Fashion-MNIST model — which a
    /// folder of other images cannot use, so there it is skipped with a line.
    fn diffusion_arm(&self, is_folder: bool) -> Option<smalldata::study::DiffusionArm> {
        let arm = smalldata::study::DiffusionArm::default();
        let inversion = smalldata::generate::diffusion::InversionConfig { steps: self.inversion_steps, ..arm.inversion.clone() };
        match (&self.diffusion_model, self.diffusion) {
            (Some(model), ratio) => {
                Some(smalldata::study::DiffusionArm { class: None, ratio: ratio.unwrap_or(arm.ratio), pretrained: model.clone(), inversion, ..arm })
            }
            (None, Some(_)) if is_folder => {
                println!("diffusion arm skipped: give --diffusion-model, a model pretrained on images of this size (smalldata generate diffusion-pretrain --folder)");
                None
            }
            (None, Some(ratio)) => Some(smalldata::study::DiffusionArm { ratio, inversion, ..arm }),
            (None, None) => None,
        }
    }

    /// Transfer strategies over --backbone, as arms beside the study's methods.
    pub fn transfer_arms(&self) -> smalldata::Result<Vec<Box<dyn Arm<ImageDraw>>>> {
        let Some(backbone) = &self.backbone else {
            println!("transfer arms skipped: no --backbone given");
            return Ok(Vec::new());
        };
        self.strategies
            .iter()
            .map(|s| {
                let arm = smalldata::finetune::TransferArm { strategy: s.parse()?, checkpoint: backbone.clone(), train: Default::default() };
                Ok(Box::new(arm) as Box<dyn Arm<ImageDraw>>)
            })
            .collect()
    }
}

pub fn study_with(cfg: &StudyConfig, extra: Vec<Box<dyn Arm<ImageDraw>>>) -> smalldata::Result<()> {
    let outcome = smalldata::study::run_study_with(cfg, extra)?;
    println!();
    print!("{}", outcome.summary.to_table());
    println!(
        "\n{} runs ({} trained now, {} resumed) on {} test images from {}; {:.0} s",
        outcome.rows.len(),
        outcome.ran,
        outcome.resumed,
        outcome.test_images,
        outcome.data_source,
        outcome.seconds
    );
    println!("report: {}", outcome.report.display());
    Ok(())
}
