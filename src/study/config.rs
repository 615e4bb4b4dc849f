//! What a study runs: data, sizes, augmentation methods, seeds, model and training.

use super::op::{Op, REFERENCE_SIDE};
use crate::augment::{Augment, Compose, RandAugment, TrivialAugmentWide};
use crate::data::{fashion_mnist, fashion_mnist_embedded, TrainTest};
use crate::generate::diffusion::{InversionConfig, Sampler};
use crate::generate::GanConfig;
use crate::train::{ModelKind, TrainConfig};
use crate::{Error, Result};
use std::path::PathBuf;

/// The image dataset a study draws its small training sets from and scores on.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StudyData {
    /// Fashion-MNIST from `dir`, or the first place that holds it (the full 10,000
    /// test images), falling back to the embedded subset (1,000 test images).
    FashionMnist { dir: Option<PathBuf> },
    /// The embedded subset only: 200 train and 100 test images per class.
    FashionMnistEmbedded,
    /// CIFAR-10 binary batches in `dir`.
    Cifar10 { dir: PathBuf },
    /// scikit-learn's 8×8 digits, split 75/25 (stratified, seed 0).
    Digits,
    /// The user's image folder: `path/train/<class>/…` + `path/test/<class>/…`, or
    /// `path/<class>/…` of which `test_fraction` of each class is held out once
    /// (seed 0, the same for every seed of the study). Size and channels default to
    /// what the images are ([`crate::data::FolderConfig`]).
    Folder {
        path: PathBuf,
        /// Square side in pixels (default: the median side of the images, capped at 64).
        size: Option<u32>,
        /// 1 or 3 (default: 3 when any image has colour).
        channels: Option<usize>,
        /// Skip undecodable files (listed in the report) instead of failing.
        skip_bad: bool,
        test_fraction: f64,
    },
}

impl StudyData {
    /// The user's image folder with the defaults: size and channels from the images,
    /// 30% of each class held out for testing when no `train/` + `test/` are given.
    pub fn folder(path: impl Into<PathBuf>) -> Self {
        StudyData::Folder { path: path.into(), size: None, channels: None, skip_bad: false, test_fraction: 0.3 }
    }

    /// `fashion-mnist`, `fashion-mnist-embedded`, `cifar10` (needs `dir`), `digits`,
    /// or the path of an image folder.
    pub fn parse(name: &str, dir: Option<PathBuf>) -> Result<Self> {
        match name {
            "fashion-mnist" => Ok(StudyData::FashionMnist { dir }),
            "fashion-mnist-embedded" => Ok(StudyData::FashionMnistEmbedded),
            "cifar10" => match dir {
                Some(dir) => Ok(StudyData::Cifar10 { dir }),
                None => Err(Error::invalid("dataset", name, "cifar10 needs --data-dir naming the folder of its binary batches")),
            },
            "digits" => Ok(StudyData::Digits),
            path if std::path::Path::new(path).is_dir() => Ok(StudyData::folder(path)),
            other => Err(Error::invalid(
                "dataset",
                other,
                "neither a folder nor a known dataset (fashion-mnist, fashion-mnist-embedded, cifar10, digits); a folder holds <class>/<images> or train/<class>/ and test/<class>/",
            )),
        }
    }

    /// Load the train and test halves.
    pub fn load(&self) -> Result<TrainTest> {
        match self {
            StudyData::FashionMnist { dir } => fashion_mnist(dir.as_deref()),
            StudyData::FashionMnistEmbedded => fashion_mnist_embedded(),
            StudyData::Cifar10 { dir } => crate::data::cifar10(dir),
            StudyData::Digits => {
                let all = crate::data::digits()?;
                let (train, test) = all.split_validation(0.25, 0)?;
                Ok(TrainTest { train, test, source: "scikit-learn digits (embedded), 75/25 split".into() })
            }
            StudyData::Folder { path, size, channels, skip_bad, test_fraction } => {
                let cfg = crate::data::FolderConfig { size: size.map(|s| (s, s)), channels: *channels, skip_bad: *skip_bad, ..Default::default() };
                crate::data::image_folder_train_test(path, &cfg, *test_fraction, 0).map(|(tt, _)| tt)
            }
        }
    }
}


/// One arm of the study: no augmentation, a combination of operations applied in
/// order, or an automatic policy.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    Ops(Vec<Op>),
    /// RandAugment with n = 2 operations at magnitude 9 (of 30).
    RandAugment,
    TrivialAugment,
    /// MixUp on each batch (Zhang et al. 2018), Beta(0.2, 0.2) weights, soft labels.
    MixUp,
    /// CutMix on each batch (Yun et al. 2019), Beta(1, 1) box areas, soft labels.
    CutMix,
    /// Synthetic images from a conditional GAN trained on the run's own real images.
    Gan(GanArm),
    /// Synthetic images of one few-shot class from the pretrained diffusion model,
    /// prompted by a token learned (textual inversion) on the run's images of it.
    Diffusion(DiffusionArm),
    /// Synthetic images from a Stable Diffusion checkpoint (diffusers layout),
    /// prompted by tokens learned on the run's own images of each class.
    StableDiffusion(StableDiffusionArm),
}

/// The study's `diffusion` arm: for the class `class` — one the pretrained model has
/// never seen — or, with `class: None`, for **every** class, learn a token from the
/// run's `n` real images of it (textual inversion, seeded by the run's seed), sample
/// `ratio × n` images from it, add them to that class, train, score on the real test
/// set. The pretrained model must take the data's image shape (channels and size).
/// Each token starts from the model's token for a class of the same name when it
/// has one, else from `inversion.initializer`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DiffusionArm {
    pub class: Option<String>,
    pub ratio: usize,
    /// The exported pretrained model (`smalldata generate diffusion-pretrain`).
    pub pretrained: PathBuf,
    pub inversion: InversionConfig,
    pub sampler: Sampler,
    pub guidance: f64,
}

impl Default for DiffusionArm {
    /// Ankle boots, 4 synthetic images per real one, the committed model, the default
    /// inversion from `sneaker`, DDIM-50 with guidance 3.
    fn default() -> Self {
        DiffusionArm {
            class: Some("ankle boot".into()),
            ratio: 4,
            pretrained: crate::generate::diffusion::pretrained_diffusion_path(),
            inversion: InversionConfig { placeholder: "<concept>".into(), initializer: "sneaker".into(), ..InversionConfig::default() },
            sampler: Sampler::Ddim { steps: 50, eta: 0.0 },
            guidance: 3.0,
        }
    }
}

/// The study's `stable-diffusion` arm: for the class `class`, or with `None` for
/// every class, learn a token from the run's `n` real images of it by textual
/// inversion on a Stable Diffusion 1.x/2.x checkpoint (diffusers' procedure: see
/// [`crate::generate::stable_diffusion::TextualInversion`]; seeded by the run's
/// seed), sample `ratio × n` pictures of "a photo of TOKEN", bring them to the data's
/// size and channels, add them to that class, train, score on the real test set.
/// Each token starts from the class name when it is a single token of the model's
/// vocabulary ("shirt"), else from `inversion.initializer`; with several classes the
/// placeholder gets the class index (`<concept-3>`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StableDiffusionArm {
    pub class: Option<String>,
    pub ratio: usize,
    /// The pipeline folder (`model_index.json`, `unet/`, `vae/`, …).
    pub model: PathBuf,
    /// Its `seed` is replaced by one derived from the run's, its `resolution` by
    /// `resolution` below, and it saves nothing.
    pub inversion: crate::generate::stable_diffusion::InversionConfig,
    /// Side of the pictures the token is learned on and sampled at (default: the
    /// model's own, 512 for SD 1.5; the data's images are upscaled to it).
    pub resolution: Option<i64>,
    /// DDIM steps and guidance scale of the sampling.
    pub sample_steps: usize,
    pub guidance: f64,
    /// Pictures sampled at once.
    pub batch: usize,
}

impl Default for StableDiffusionArm {
    /// Every class, 4 pictures per real image, 100 inversion steps of diffusers'
    /// default learning rate (5e-4, scaled by a batch of 4), DDIM-25 with guidance 7.5.
    fn default() -> Self {
        use crate::generate::stable_diffusion::InversionConfig;
        StableDiffusionArm {
            class: None,
            ratio: 4,
            model: PathBuf::new(),
            inversion: InversionConfig { steps: 100, batch_size: 4, save_every: 0, checkpoint_every: 0, ..InversionConfig::default() },
            resolution: None,
            sample_steps: 25,
            guidance: 7.5,
            batch: 4,
        }
    }
}

/// The study's `gan` arm: train the conditional GAN on the `n` real images per class
/// of the run (seeded by the run's seed), add `ratio × n` synthetic images per class,
/// train the classifier on both, score on the real test set.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GanArm {
    /// Synthetic images per real image.
    pub ratio: usize,
    /// The GAN (its `seed`, `out` and `progress` are set per run).
    pub gan: GanConfig,
}

impl Default for GanArm {
    /// 4 synthetic images per real one, the default GAN cut to 2,000 steps.
    fn default() -> Self {
        GanArm { ratio: 4, gan: GanConfig::with_steps(2000) }
    }
}

impl Method {
    /// `none`, `crop`, `crop+rotate`, …, `randaugment`, `trivialaugment`.
    pub fn name(&self) -> String {
        match self {
            Method::Ops(ops) if ops.is_empty() => "none".into(),
            Method::Ops(ops) => ops.iter().map(|o| o.name()).collect::<Vec<_>>().join("+"),
            Method::RandAugment => "randaugment".into(),
            Method::TrivialAugment => "trivialaugment".into(),
            Method::MixUp => "mixup".into(),
            Method::CutMix => "cutmix".into(),
            Method::Gan(_) => "gan".into(),
            Method::Diffusion(_) => "diffusion".into(),
            Method::StableDiffusion(_) => "stable-diffusion".into(),
        }
    }

    /// The name with every parameter, stored with each result so that a resumed
    /// study never mixes runs of different settings under one name.
    pub fn describe(&self) -> String {
        match self {
            Method::Ops(ops) if ops.is_empty() => "none".into(),
            Method::Ops(ops) => ops.iter().map(|o| o.describe()).collect::<Vec<_>>().join(" + "),
            Method::RandAugment => "RandAugment(n 2, m 9)".into(),
            Method::TrivialAugment => "TrivialAugmentWide".into(),
            Method::MixUp => "MixUp(alpha 0.2)".into(),
            Method::CutMix => "CutMix(alpha 1.0)".into(),
            Method::Gan(arm) => {
                let g = &arm.gan;
                format!(
                    "GAN ×{} ({:?}, SN {}, DiffAugment {}, widths {}/{}, {} steps of {}, lr {}/{}, EMA {:?})",
                    arm.ratio, g.training.loss, g.arch.spectral_norm, g.training.diff_augment, g.arch.g_width, g.arch.d_width, g.run.steps, g.training.batch_size, g.training.lr_g, g.training.lr_d, g.training.ema
                )
            }
            Method::Diffusion(arm) => {
                let i = &arm.inversion;
                format!(
                    "diffusion ×{} for {} ({}; inversion from {:?}, {} vector(s), {} steps of {}, lr {}; {:?}, guidance {})",
                    arm.ratio,
                    match &arm.class {
                        Some(c) => format!("{c:?}"),
                        None => "every class".into(),
                    },
                    arm.pretrained.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default(),
                    i.initializer,
                    i.num_vectors,
                    i.steps,
                    i.batch_size,
                    i.lr,
                    arm.sampler,
                    arm.guidance
                )
            }
            Method::StableDiffusion(arm) => {
                let i = &arm.inversion;
                format!(
                    "Stable Diffusion ×{} for {} ({}; inversion from {:?}, {} vector(s), {} steps of {}, lr {}{}, at {}; DDIM-{}, guidance {})",
                    arm.ratio,
                    match &arm.class {
                        Some(c) => format!("{c:?}"),
                        None => "every class".into(),
                    },
                    arm.model.display(),
                    i.initializer,
                    i.num_vectors,
                    i.steps,
                    i.batch_size,
                    i.learning_rate,
                    if i.scale_lr { " scaled" } else { "" },
                    arm.resolution.map_or("the model's resolution".into(), |r| format!("{r} px")),
                    arm.sample_steps,
                    arm.guidance
                )
            }
        }
    }

    /// The batch mixing of `mixup` and `cutmix` (applied by the trainer after the
    /// per-image pipeline); `None` for every other method.
    pub fn batch_mix(&self) -> Result<Option<crate::train::BatchMix>> {
        Ok(match self {
            Method::MixUp => Some(crate::train::BatchMix::MixUp(crate::augment::MixUp::new(0.2)?)),
            Method::CutMix => Some(crate::train::BatchMix::CutMix(crate::augment::CutMix::new(1.0)?)),
            _ => None,
        })
    }

    /// The pipeline for images of `height` × `width` (`None` for `none`, the batch
    /// mixes and the generators).
    pub fn pipeline(&self, height: i64, width: i64) -> Result<Option<Box<dyn Augment>>> {
        Ok(match self {
            Method::Ops(ops) if ops.is_empty() => None,
            Method::MixUp | Method::CutMix => None,
            Method::Gan(arm) => {
                arm.gan.check()?;
                if arm.ratio == 0 {
                    return Err(Error::invalid("GAN ratio", 0, "synthetic images per real one must be at least 1"));
                }
                None
            }
            Method::Diffusion(arm) => {
                arm.inversion.check()?;
                if arm.ratio == 0 {
                    return Err(Error::invalid("diffusion ratio", 0, "synthetic images per real one must be at least 1"));
                }
                if !arm.pretrained.exists() {
                    return Err(Error::NotFound { what: "pretrained diffusion model".into(), searched: vec![arm.pretrained.clone()] });
                }
                None
            }
            Method::StableDiffusion(arm) => {
                arm.inversion.check()?;
                if arm.ratio == 0 || arm.batch == 0 || arm.sample_steps == 0 {
                    return Err(Error::invalid("stable-diffusion arm", format!("ratio {}, batch {}, sample steps {}", arm.ratio, arm.batch, arm.sample_steps), "each must be at least 1"));
                }
                if !arm.model.join("model_index.json").is_file() {
                    return Err(Error::NotFound { what: "Stable Diffusion pipeline folder (with model_index.json)".into(), searched: vec![arm.model.clone()] });
                }
                None
            }
            Method::Ops(ops) if ops.len() == 1 => Some(ops[0].build(height, width)?),
            Method::Ops(ops) => Some(Box::new(Compose::new(ops.iter().map(|o| o.build(height, width)).collect::<Result<_>>()?))),
            Method::RandAugment => Some(Box::new(RandAugment::new(2, 9.0)?)),
            Method::TrivialAugment => Some(Box::new(TrivialAugmentWide)),
        })
    }
}

/// Every combination of `ops` — none, each alone, every pair, …, all — in that
/// order, keeping the given order inside a combination; then the policies.
pub fn methods(ops: &[Op], policies: bool) -> Vec<Method> {
    let k = ops.len();
    let mut subsets: Vec<u32> = (0..1u32 << k).collect();
    subsets.sort_by_key(|m| (m.count_ones(), (0..k).map(|i| (m >> i) & 1 == 0).collect::<Vec<_>>()));
    let mut out: Vec<Method> =
        subsets.into_iter().map(|m| Method::Ops((0..k).filter(|i| (m >> i) & 1 == 1).map(|i| ops[i]).collect())).collect();
    if policies {
        out.push(Method::RandAugment);
        out.push(Method::TrivialAugment);
    }
    out
}

/// A whole study. [`StudyConfig::default`] is the default protocol that `make demo` runs.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StudyConfig {
    pub data: StudyData,
    /// Training images per class, one grid row each.
    pub sizes: Vec<usize>,
    pub ops: Vec<Op>,
    /// Add RandAugment and TrivialAugmentWide as methods.
    pub policies: bool,
    /// Add the `gan` arm (synthetic images from a GAN trained on each run's images).
    #[serde(default)]
    pub gan: Option<GanArm>,
    /// Add the `diffusion` arm (synthetic images of one class by textual inversion).
    #[serde(default)]
    pub diffusion: Option<DiffusionArm>,
    /// Add the `stable-diffusion` arm (synthetic images of every class, or one, by
    /// textual inversion on a Stable Diffusion checkpoint).
    #[serde(default)]
    pub stable_diffusion: Option<StableDiffusionArm>,
    /// Seeds 0..seeds; each seed fixes the subsample, initial weights and batch order
    /// shared by every method (the paired design).
    pub seeds: usize,
    pub model: ModelKind,
    /// How each run trains; its `seed` is replaced by the run's seed.
    pub train: TrainConfig,
    /// Score on a stratified subset of this many test images (all when `None`).
    pub test_limit: Option<usize>,
    /// Runs in parallel, each on one CPU thread (results do not depend on it).
    pub jobs: usize,
    pub out: PathBuf,
    /// Show a progress bar over runs (on a terminal).
    pub progress: bool,
    /// Discard the results already in `out` instead of resuming.
    #[serde(default)]
    pub restart: bool,
}

/// What makes two runs of a study comparable: data, model, training (its seed and
/// progress flag aside) and test set. Not the grid, which may grow between resumes.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StudyProtocol {
    pub data: StudyData,
    pub model: ModelKind,
    pub train: TrainConfig,
    pub test_limit: Option<usize>,
}

impl Default for StudyConfig {
    /// Fashion-MNIST, n ∈ {10, 50}, crop (padding 3), rotate (±15°), noise (σ 0.1),
    /// all 8 combinations, 3 seeds, the small CNN, Adam lr 1e-3, batch 64, 400 steps,
    /// scored on the whole test set, into `report/`.
    fn default() -> Self {
        StudyConfig {
            data: StudyData::FashionMnist { dir: None },
            sizes: vec![10, 50],
            ops: vec![Op::Crop { padding: 3 }, Op::Rotate { degrees: 15.0 }, Op::Noise { sigma: 0.1 }],
            policies: false,
            gan: None,
            diffusion: None,
            stable_diffusion: None,
            seeds: 3,
            model: ModelKind::SmallCnn,
            train: TrainConfig { progress: false, ..TrainConfig::default() },
            test_limit: None,
            jobs: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            out: PathBuf::from("report"),
            progress: true,
            restart: false,
        }
    }
}

impl StudyConfig {
    /// The methods compared, in table order.
    pub fn methods(&self) -> Vec<Method> {
        let mut m = methods(&self.ops, self.policies);
        m.extend(self.gan.clone().map(Method::Gan));
        m.extend(self.diffusion.clone().map(Method::Diffusion));
        m.extend(self.stable_diffusion.clone().map(Method::StableDiffusion));
        m
    }

    /// Checks that need no data: run before anything is loaded or trained.
    pub fn check(&self) -> Result<()> {
        crate::experiment::check_grid(&self.sizes, self.seeds)?;
        if self.jobs == 0 {
            return Err(Error::invalid("jobs", 0, "must be at least 1"));
        }
        let mut names: Vec<&str> = self.ops.iter().map(|o| o.name()).collect();
        names.sort_unstable();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(Error::invalid("ops", w[0], "each operation may appear once"));
        }
        if self.ops.len() > 8 {
            return Err(Error::invalid("number of ops", self.ops.len(), "at most 8 (2^8 = 256 combinations per size and seed)"));
        }
        if self.test_limit == Some(0) {
            return Err(Error::invalid("test limit", 0, "must be at least 1 image"));
        }
        self.train.check()?;
        // Parameters are given for the reference size, 28×28, and scaled to the data's
        // (see `pipeline`): building every pipeline there checks every operation's
        // parameters before any data is read; `check_data` builds them again at the
        // data's own size.
        for m in self.methods() {
            m.pipeline(REFERENCE_SIDE, REFERENCE_SIDE)?;
        }
        Ok(())
    }

    /// Checks against the loaded data: every size must fit every class.
    pub fn check_data(&self, data: &TrainTest) -> Result<()> {
        let counts = data.train.class_counts();
        let largest = *self.sizes.iter().max().unwrap_or(&0);
        if let Some((class, &have)) = counts.iter().enumerate().find(|(_, &c)| c < largest) {
            return Err(Error::invalid(
                "size",
                largest,
                format!(
                    "class {class} ({}) has only {have} training images in {}",
                    data.train.class_names.get(class).map(String::as_str).unwrap_or("?"),
                    data.source
                ),
            ));
        }
        let [c, h, w] = data.train.image_shape();
        for m in self.methods() {
            m.pipeline(h as i64, w as i64)?;
            if let Method::Gan(_) = m {
                // the arm resizes to multiples of 4 (at least 8) for the GAN
                let up = |s: usize| s.max(8).div_ceil(4) * 4;
                crate::generate::gan::check_shape([c, up(h), up(w)], data.train.num_classes())?;
            }
            if let Method::StableDiffusion(arm) = &m {
                if let Some(class) = &arm.class {
                    if !data.train.class_names.iter().any(|n| n.eq_ignore_ascii_case(class)) {
                        return Err(Error::invalid("stable-diffusion class", class, format!("the data's classes are {:?}", data.train.class_names)));
                    }
                }
            }
            if let Method::Diffusion(arm) = &m {
                if let Some(class) = &arm.class {
                    if !data.train.class_names.iter().any(|n| n.eq_ignore_ascii_case(class)) {
                        return Err(Error::invalid("diffusion class", class, format!("the data's classes are {:?}", data.train.class_names)));
                    }
                }
                let model = crate::generate::diffusion::DiffusionModel::load_pretrained(&arm.pretrained, tch::Device::Cpu)?;
                if model.shape != [c, h, w] {
                    return Err(Error::shape(
                        format!("diffusion model {} vs the data's images", arm.pretrained.display()),
                        format!("{:?} (what the model was trained on)", model.shape),
                        format!("{:?} (the data; --size and --channels change it)", [c, h, w]),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The study's protocol (stored in `study.json`, its hash in every row).
    pub fn protocol(&self) -> StudyProtocol {
        StudyProtocol {
            data: self.data.clone(),
            model: self.model,
            train: TrainConfig { seed: 0, progress: false, ..self.train.clone() },
            test_limit: self.test_limit,
        }
    }
}
