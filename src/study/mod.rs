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
//! The study runs on the experiment engine ([`crate::experiment`]): each method is an
//! [`Arm`] over an [`ImageTask`], so the study is resumable, runs in parallel with
//! one CPU thread per run, and writes `results.jsonl`, `study.json`, `summary.csv`,
//! charts and `index.html` like every other experiment. The data is a built-in
//! dataset or the user's own image folder ([`StudyData::Folder`]).
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
//!
//! On your own images: a folder with one sub-folder of pictures per class (here
//! written by the example itself). With no `train/` and `test/` inside, 30% of each
//! class is held out once for testing; size and channels are what the images are.
//!
//! ```
//! use smalldata::image::{GrayImage, Luma};
//! use smalldata::study::{run_study, Op, StudyConfig, StudyData};
//! use smalldata::train::{Length, TrainConfig};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let tmp = std::env::temp_dir().join(format!("smalldata-doc-folder-{}", std::process::id()));
//! for (k, class) in ["dark", "light"].iter().enumerate() {
//!     std::fs::create_dir_all(tmp.join("images").join(class))?;
//!     for i in 0..6u32 {
//!         let img = GrayImage::from_fn(16, 16, |x, y| Luma([(k as u32 * 150 + (x * y + i) % 60) as u8]));
//!         img.save(tmp.join("images").join(class).join(format!("{i}.png")))?;
//!     }
//! }
//! let cfg = StudyConfig {
//!     data: StudyData::folder(tmp.join("images")),
//!     sizes: vec![2, 4],
//!     ops: vec![Op::Noise { sigma: 0.05 }],
//!     seeds: 2,
//!     train: TrainConfig { length: Length::Steps(20), batch_size: 8, progress: false, ..TrainConfig::default() },
//!     out: tmp.join("report"),
//!     progress: false,
//!     ..StudyConfig::default()
//! };
//! let outcome = run_study(&cfg)?;
//! assert_eq!(outcome.class_names, ["dark", "light"]);
//! assert_eq!(outcome.test_images, 4); // round(30% of 6) = 2 per class
//! assert!(outcome.data_source.contains("gray 16×16"));
//! println!("{}", outcome.summary.to_table()); // in a notebook, `outcome` alone shows it inline
//! # std::fs::remove_dir_all(tmp).ok();
//! # Ok(()) }
//! ```

mod config;
mod op;

pub use config::{methods, DiffusionArm, GanArm, Method, StableDiffusionArm, StudyConfig, StudyData, StudyProtocol};
pub use op::{Op, REFERENCE_SIDE};
pub use crate::experiment::{discard_results, ExperimentSummary, RunRow, CONFIG_FILE, RESULTS_FILE};

use crate::data::ImageDataset;
use crate::experiment::{run_experiment, Arm, ArmOutput, Experiment, ImageDraw, ImageTask, RunContext, Scores};
use crate::generate::diffusion::{textual_inversion, DiffusionModel, InversionConfig};
use crate::generate::{mix_real_synthetic, Gan};
use crate::train::{Classifier, ModelKind, ModelSpec, TrainConfig, Trainer};
use crate::{Error, Result};
use std::path::PathBuf;
use std::time::Instant;
use tch::Tensor;

/// What [`run_study`] returns.
#[derive(Debug, Clone)]
pub struct StudyOutcome {
    pub summary: ExperimentSummary,
    /// Every row of the grid, in grid order.
    pub rows: Vec<RunRow>,
    /// Runs trained by this call, and runs found already done.
    pub ran: usize,
    pub resumed: usize,
    /// Where the data came from (for a folder: classes, test part, size, channels).
    pub data_source: String,
    pub class_names: Vec<String>,
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

/// One method of the study as an experiment arm: (synthetic data, then) the
/// classifier trained with the method's augmentation, scored on the test set.
#[derive(Debug, Clone)]
pub struct ImageArm {
    pub method: Method,
    pub model: ModelKind,
    /// Its `seed` is replaced by the run's seed.
    pub train: TrainConfig,
}

impl Arm<ImageDraw> for ImageArm {
    fn name(&self) -> String {
        self.method.name()
    }

    fn describe(&self) -> String {
        self.method.describe()
    }

    fn run(&self, draw: &ImageDraw, ctx: &RunContext) -> Result<ArmOutput> {
        let (n, seed, device) = (ctx.size, ctx.seed, ctx.device);
        let started = Instant::now();
        let subset = match &self.method {
            Method::Gan(arm) => add_gan_samples(&draw.train, arm, n, seed, device)?,
            Method::Diffusion(arm) => add_diffusion_samples(&draw.train, arm, n, seed, device)?,
            Method::StableDiffusion(arm) => add_stable_diffusion_samples(&draw.train, arm, n, seed, device)?,
            _ => draw.train.shallow_clone(),
        };
        let generate_seconds = started.elapsed().as_secs_f64();
        let [_, h, w] = subset.image_shape();
        let spec = ModelSpec::new(self.model, subset.image_shape(), subset.num_classes());
        let mut model = Classifier::new(spec, seed, device)?;
        let pipeline = self.method.pipeline(h as i64, w as i64)?;
        let mut trainer = Trainer::new(TrainConfig { seed, progress: false, ..self.train.clone() });
        if let Some(p) = &pipeline {
            trainer = trainer.augment(p.as_ref());
        }
        if let Some(mix) = self.method.batch_mix()? {
            trainer = trainer.mix(mix);
        }
        let history = trainer.fit(&mut model, &subset)?;
        let t = Instant::now();
        let scores = model.evaluate(&draw.test)?;
        Ok(ArmOutput {
            scores: Scores::Classification { accuracy: scores.accuracy, auc_macro_ovr: scores.auc_macro_ovr, log_loss: Some(scores.log_loss) },
            train_seconds: history.seconds + generate_seconds,
            eval_seconds: t.elapsed().as_secs_f64(),
            final_train_loss: history.train_loss.last().map(|l| l.1),
            test_size: scores.n,
            detail: None,
        })
    }
}

/// Run (or resume) the study `cfg` and write its report. Flags are checked before
/// any data is loaded, and sizes against the data before any training starts.
pub fn run_study(cfg: &StudyConfig) -> Result<StudyOutcome> {
    run_study_with(cfg, Vec::new())
}

/// [`run_study`] with more arms beside the study's methods — transfer strategies
/// from [`crate::finetune`], say — compared with `none` like the others and checked
/// against the data ([`Arm::preflight`]) before any run.
pub fn run_study_with(cfg: &StudyConfig, extra: Vec<Box<dyn Arm<ImageDraw>>>) -> Result<StudyOutcome> {
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
    let counts: Vec<String> = test.class_names.iter().zip(test.class_counts()).map(|(c, k)| format!("{c} {k}")).collect();
    let t = &cfg.train;
    let mut notes = vec![
        format!("Data: {}.", data.source),
        format!("Test images per class: {} ({} in all{}).", counts.join(", "), test.len(), if cfg.test_limit.is_some() { ", a stratified subset" } else { "" }),
        format!(
            "Model: {}. Training: {:?}, lr {}, batch {}, {:?}, schedule {:?}.",
            cfg.model, t.optimizer, t.lr, t.batch_size, t.length, t.schedule
        ),
    ];
    let [_, h, w] = test.image_shape();
    if h.min(w) != 28 {
        notes.push(format!(
            "Operations given in pixels (the crop's padding, blur and elastic sigma) are stated for 28 px images and scaled here by {}/28 = {:.2}.",
            h.min(w),
            h.min(w) as f64 / 28.0
        ));
    }
    let exp = Experiment {
        title: "Augmentation study".into(),
        protocol: cfg.protocol(),
        sizes: cfg.sizes.clone(),
        size_label: "images per class".into(),
        seeds: (0..cfg.seeds as u64).collect(),
        arms: cfg
            .methods()
            .into_iter()
            .map(|method| Box::new(ImageArm { method, model: cfg.model, train: cfg.train.clone() }) as Box<dyn Arm<ImageDraw>>)
            .chain(extra)
            .collect(),
        baseline: "none".into(),
        jobs: cfg.jobs,
        out: cfg.out.clone(),
        progress: cfg.progress,
        restart: cfg.restart,
        notes,
        config: serde_json::to_value(cfg)?,
        deadline: None,
    };
    let task = ImageTask { train: data.train, test };
    let outcome = run_experiment(&exp, || Ok(task.shallow_clone()))?;
    Ok(StudyOutcome {
        summary: outcome.summary,
        rows: outcome.rows,
        ran: outcome.ran,
        resumed: outcome.resumed,
        data_source: data.source.clone(),
        class_names: task.test.class_names.clone(),
        test_images: task.test.len(),
        report: outcome.report,
        seconds: outcome.seconds,
    })
}

/// The run's real images plus `ratio × n` per class from a conditional GAN trained
/// on them. Images whose sides are not multiples of 4 (what the GAN's up- and
/// down-sampling needs) are resized up to the next multiple for the GAN, and its
/// samples resized back (bilinear).
fn add_gan_samples(subset: &ImageDataset, arm: &GanArm, n: usize, seed: u64, device: tch::Device) -> Result<ImageDataset> {
    let [c, h, w] = subset.image_shape();
    let up = |s: usize| s.max(8).div_ceil(4) * 4;
    let (gh, gw) = (up(h), up(w));
    let resized = if (gh, gw) == (h, w) {
        subset.shallow_clone()
    } else {
        let images = subset.images().f_upsample_bilinear2d([gh as i64, gw as i64], false, None, None)?.clamp(0.0, 1.0);
        ImageDataset::new(images, subset.labels.shallow_clone(), subset.class_names.clone())?
    };
    let mut cfg = arm.gan.clone();
    cfg.training.seed = crate::derive_seed(seed, "study-gan");
    cfg.run.out = None;
    cfg.run.progress = false;
    let mut gan = Gan::new(cfg, [c, gh, gw], subset.num_classes(), device)?;
    gan.train(&resized)?;
    let mut synthetic = gan.sample_dataset(arm.ratio * n, crate::derive_seed(seed, "study-gan-sample"), &subset.class_names)?;
    if (gh, gw) != (h, w) {
        let images = synthetic.images().f_upsample_bilinear2d([h as i64, w as i64], false, None, None)?.clamp(0.0, 1.0);
        synthetic = ImageDataset::new(images, synthetic.labels.shallow_clone(), synthetic.class_names.clone())?;
    }
    mix_real_synthetic(subset, &synthetic)
}

/// The run's real images plus, for `arm.class` (or every class), `ratio × n` images
/// sampled from a token learned on the run's own images of that class.
fn add_diffusion_samples(subset: &ImageDataset, arm: &DiffusionArm, n: usize, seed: u64, device: tch::Device) -> Result<ImageDataset> {
    let model = DiffusionModel::load_pretrained(&arm.pretrained, device)?;
    let classes = arm_classes(subset, &arm.class, "diffusion class")?;
    let labels = subset.labels_vec();
    let mut synthetic = subset.shallow_clone();
    for &class in &classes {
        let mine: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == class as i64).collect();
        let concept = subset.select(&mine)?;
        // one class keeps the seeds of the single-class arm; several get one stream each
        let tag = |what: &str| if arm.class.is_some() { what.to_string() } else { format!("{what}/{class}") };
        let name = &subset.class_names[class];
        let known = model.vocabulary.class_tokens(name).is_ok();
        let cfg = InversionConfig {
            seed: crate::derive_seed(seed, &tag("study-inversion")),
            progress: false,
            initializer: if known && arm.class.is_none() { name.clone() } else { arm.inversion.initializer.clone() },
            ..arm.inversion.clone()
        };
        let (token, _) = textual_inversion(&model, &concept, &cfg)?;
        let images = model.sample_prompt(&token.vectors, arm.ratio * n, arm.sampler, arm.guidance, crate::derive_seed(seed, &tag("study-diffusion-sample")))?;
        let made = ImageDataset::new(images, Tensor::full([(arm.ratio * n) as i64], class as i64, (tch::Kind::Int64, tch::Device::Cpu)), subset.class_names.clone())?;
        synthetic = mix_real_synthetic(&synthetic, &made)?;
    }
    Ok(synthetic)
}

/// The classes an arm generates for: `class` (by name, any case) or all of them.
fn arm_classes(subset: &ImageDataset, class: &Option<String>, what: &str) -> Result<Vec<usize>> {
    Ok(match class {
        Some(name) => vec![subset
            .class_names
            .iter()
            .position(|c| c.eq_ignore_ascii_case(name))
            .ok_or_else(|| Error::invalid(what, name, "not a class of the data"))?],
        None => (0..subset.num_classes()).collect(),
    })
}

/// The run's real images plus, for `arm.class` (or every class), `ratio × n`
/// pictures from a Stable Diffusion checkpoint prompted by a token learned on the
/// run's own images of that class.
fn add_stable_diffusion_samples(subset: &ImageDataset, arm: &StableDiffusionArm, n: usize, seed: u64, device: tch::Device) -> Result<ImageDataset> {
    use crate::generate::stable_diffusion::{to_dataset_shape, training_pictures, InversionConfig as SdInversion, SampleOptions, StableDiffusion, TextualInversion};
    let mut sd = StableDiffusion::open(&arm.model, device, StableDiffusion::default_kind(device))?;
    let resolution = arm.resolution.unwrap_or_else(|| sd.native_resolution());
    let classes = arm_classes(subset, &arm.class, "stable-diffusion class")?;
    let labels = subset.labels_vec();
    let mut synthetic = subset.shallow_clone();
    for &class in &classes {
        let mine: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == class as i64).collect();
        let concept = subset.select(&mine)?;
        let tag = |what: &str| if arm.class.is_some() { what.to_string() } else { format!("{what}/{class}") };
        let name = &subset.class_names[class];
        let base = &arm.inversion.placeholder;
        let placeholder = match (arm.class.is_some(), base.strip_suffix('>')) {
            (true, _) => base.clone(),
            (false, Some(stem)) => format!("{stem}-{class}>"),
            (false, None) => format!("{base}-{class}"),
        };
        let single = sd.tokenizer.encode(name).len() == 1;
        let cfg = SdInversion {
            placeholder,
            initializer: if single { name.clone() } else { arm.inversion.initializer.clone() },
            resolution,
            seed: crate::derive_seed(seed, &tag("study-sd-inversion")),
            save_every: 0,
            checkpoint_every: 0,
            ..arm.inversion.clone()
        };
        let files = mine.iter().map(|i| PathBuf::from(format!("{name}/{i}"))).collect();
        let mut inversion = TextualInversion::new(sd, files, training_pictures(&concept.images(), resolution)?, cfg)?;
        inversion.train(None, false)?;
        let prompt = format!("a photo of {}", inversion.config().placeholder);
        sd = inversion.into_model();
        let opts = SampleOptions { steps: arm.sample_steps, guidance: arm.guidance, negative_prompt: String::new(), size: (resolution, resolution), seed: crate::derive_seed(seed, &tag("study-sd-sample")) };
        let count = arm.ratio * n;
        let indices: Vec<usize> = (0..count).collect();
        let pictures = indices.chunks(arm.batch).map(|chunk| sd.sample_pictures(&prompt, chunk, &opts)).collect::<Result<Vec<_>>>()?;
        let images = to_dataset_shape(&Tensor::cat(&pictures, 0), subset.image_shape())?;
        let made = ImageDataset::new(images, Tensor::full([count as i64], class as i64, (tch::Kind::Int64, tch::Device::Cpu)), subset.class_names.clone())?;
        synthetic = mix_real_synthetic(&synthetic, &made)?;
    }
    Ok(synthetic)
}
