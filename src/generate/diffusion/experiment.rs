//! The two runs behind the committed diffusion results: pretraining on Fashion-MNIST
//! classes 0–8 (ankle boots never shown), and textual inversion of "ankle boot" from a
//! few of its images, judged by the classifier trained on all real classes.

use super::{assign_tokens, textual_inversion_resumable, InversionCheckpoints, DiffusionConfig, DiffusionModel, InversionConfig, LearnedToken, Sampler, Vocabulary};
use crate::data::{fashion_mnist, ImageDataset};
use crate::error::IoContext;
use crate::evaluate::fmi_label_agreement;
use crate::generate::gan::sort_by_label;
use crate::generate::judge::{judge_samples, load_judge};
use crate::{Error, Result};
use std::path::{Path, PathBuf};
use std::time::Instant;
use tch::{Device, Kind, Tensor};

/// The committed pretrained model (relative to the crate root), with its `.json`.
pub const PRETRAINED_DIFFUSION: &str = "data/pretrained/ddpm_fmnist_0-8.safetensors";

/// The committed model (see [`crate::data::asset_path`] for where it is looked for).
pub fn pretrained_diffusion_path() -> PathBuf {
    crate::data::asset_path(PRETRAINED_DIFFUSION)
}

/// Fashion-MNIST's class of ankle boots, the concept the pretrained model never saw.
pub const HELD_OUT_CLASS: i64 = 9;

/// The images of `data` whose label is not `held_out`, relabelled `0..` in order.
pub fn without_class(data: &ImageDataset, held_out: i64) -> Result<ImageDataset> {
    let kept: Vec<i64> = (0..data.num_classes() as i64).filter(|&c| c != held_out).collect();
    crate::data::classes_subset(data, &kept)
}

/// Pretrain (or resume) on every Fashion-MNIST training image except ankle boots and
/// export the sampling weights to `export`.
pub fn pretrain_diffusion(cfg: &DiffusionConfig, data_dir: Option<&Path>, export: &Path, command: &str) -> Result<DiffusionModel> {
    let data = fashion_mnist(data_dir)?;
    let train = without_class(&data.train, HELD_OUT_CLASS)?;
    pretrain_diffusion_on(cfg, &train, export, command)
}

/// Pretrain (or resume) on `train` — the user's own images of a related domain, say
/// the training part of an image folder, never its held-out test part — with one
/// token per class name (`tokens_per_class` each), and export the sampling weights.
pub fn pretrain_diffusion_on(cfg: &DiffusionConfig, train: &ImageDataset, export: &Path, command: &str) -> Result<DiffusionModel> {
    let train = train.shallow_clone();
    let vocab = Vocabulary::new(&train.class_names, cfg.arch.tokens_per_class);
    let tokens = assign_tokens(&train, &vocab, cfg.training.seed)?;
    let mut model = DiffusionModel::new(cfg.clone(), train.image_shape(), vocab, crate::device()?)?;
    model.train(&train, &tokens)?;
    model.export(export, command)?;
    Ok(model)
}

/// What [`run_inversion_experiment`] does.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct InversionExperimentConfig {
    pub pretrained: PathBuf,
    pub data_dir: Option<PathBuf>,
    /// Concept images (ankle boots from the training set).
    pub images: usize,
    /// Seed of the image choice.
    pub seed: u64,
    pub inversion: InversionConfig,
    /// Judge this previously learned token (written by an earlier run) instead of
    /// learning one: for trying samplers and guidance scales on the same token.
    #[serde(default)]
    pub token: Option<PathBuf>,
    pub sampler: Sampler,
    pub guidance: f64,
    /// Samples judged per condition.
    pub samples: usize,
    pub out: PathBuf,
}

impl Default for InversionExperimentConfig {
    /// 10 ankle boots, `<boot>` initialised from `sneaker`, DDIM-50 with guidance 3, 200 samples.
    fn default() -> Self {
        InversionExperimentConfig {
            pretrained: pretrained_diffusion_path(),
            data_dir: None,
            images: 10,
            seed: 0,
            inversion: InversionConfig { placeholder: "<boot>".into(), initializer: "sneaker".into(), progress: true, ..InversionConfig::default() },
            token: None,
            sampler: Sampler::Ddim { steps: 50, eta: 0.0 },
            guidance: 3.0,
            samples: 200,
            out: PathBuf::from("report/inversion"),
        }
    }
}

/// What the inversion experiment measured.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct InversionReport {
    pub images: usize,
    pub inversion_seconds: f64,
    pub threads: i32,
    /// Share of learned-token samples the judge labels "ankle boot".
    pub learned_boot_rate: f64,
    /// The same for samples of the initializer token alone.
    pub initializer_boot_rate: f64,
    /// What the judge calls the initializer's samples most often, and how often it agrees with the initializer.
    pub initializer_agreement: f64,
    /// FMI between asked and judged labels over samples of all ten classes: the nine
    /// known tokens plus the learned token standing for "ankle boot".
    pub fmi_ten_classes: f64,
    /// Agreement over those ten classes.
    pub agreement_ten_classes: f64,
    /// DDIM sampling speed on this machine (images per second, guidance included).
    pub images_per_second: f64,
    pub sampler: Sampler,
    pub guidance: f64,
    pub final_loss: f64,
    /// How much each condition lowers the diffusion loss on held-out real images.
    pub conditioning: ConditioningLosses,
}

/// Mean diffusion loss (same `t` and `ε` draws for every condition) on 200 held-out
/// test images of the new concept and of the initializer's class. The drop from the
/// null token to a class's own token says how much the model's conditioning can
/// explain of images it knows; the drop for the learned token on the new concept,
/// how much of it the model can be steered to.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ConditioningLosses {
    pub concept_null: f64,
    pub concept_initializer: f64,
    pub concept_learned: f64,
    pub known_null: f64,
    /// The best of the initializer class's own tokens on its images.
    pub known_own_token: f64,
}

/// Mean diffusion loss of `images` (`[0, 1]`) under one condition `[L, D]`, over
/// `repeats` draws of `(t, ε)` fixed by `seed`.
pub fn mean_diffusion_loss(model: &DiffusionModel, images: &Tensor, cond: &Tensor, seed: u64, repeats: usize) -> f64 {
    let (unet, _) = model.sampling_net();
    let x0 = images.to_device(model.device()) * 2.0 - 1.0;
    let n = x0.size()[0];
    let dims = cond.size();
    let conds = cond.to_device(model.device()).unsqueeze(0).expand([n, dims[0], dims[1]], true);
    let mut total = 0.0;
    for r in 0..repeats {
        let mut rng = crate::augment::AugRng::new(crate::derive_seed(seed, &format!("loss-{r}")));
        total += tch::no_grad(|| model.loss_with(unet, &x0, &conds, &mut rng)).double_value(&[]);
    }
    total / repeats as f64
}

/// Learn `<boot>` from a few ankle boots and judge samples of the learned token, of the
/// initializer token, and of all ten classes; writes `inversion_report.json`, the token
/// (`<placeholder>.safetensors`) and a grid (real | initializer | learned).
pub fn run_inversion_experiment(cfg: &InversionExperimentConfig) -> Result<InversionReport> {
    cfg.inversion.check()?;
    if cfg.images == 0 || cfg.samples == 0 {
        return Err(Error::invalid("inversion experiment", format!("{} images, {} samples", cfg.images, cfg.samples), "need at least 1 of each"));
    }
    let device = crate::device()?;
    let model = DiffusionModel::load_pretrained(&cfg.pretrained, device)?;
    let data = fashion_mnist(cfg.data_dir.as_deref())?;
    let labels = data.train.labels_vec();
    let boots_all: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == HELD_OUT_CLASS).collect();
    let mut pick = boots_all.clone();
    rand::seq::SliceRandom::shuffle(pick.as_mut_slice(), &mut crate::rng(crate::derive_seed(cfg.seed, "inversion-images")));
    let concept = data.train.select(&pick[..cfg.images.min(pick.len())])?;
    let concept = ImageDataset::new(concept.images(), Tensor::zeros([concept.labels.size()[0]], (Kind::Int64, Device::Cpu)), vec!["concept".into()])?;
    std::fs::create_dir_all(&cfg.out).at(&cfg.out)?;
    let _lock = crate::io::OutputLock::acquire(&cfg.out)?;

    // A killed run continues from its last checkpoint (every 20 steps) and learns the same token.
    let checkpoints = InversionCheckpoints { dir: cfg.out.join("inversion_checkpoint"), every: 20 };
    let (learned, history) = match &cfg.token {
        Some(path) => (LearnedToken::load(path)?, Default::default()),
        None => textual_inversion_resumable(&model, &concept, &cfg.inversion, Some(&checkpoints))?,
    };
    learned.save(&cfg.out.join(format!("{}.safetensors", cfg.inversion.placeholder.trim_matches(['<', '>']))))?;

    let judge = load_judge(Device::Cpu)?;
    let n = cfg.samples;
    let started = Instant::now();
    let learned_imgs = model.sample_prompt(&learned.vectors, n, cfg.sampler, cfg.guidance, crate::derive_seed(cfg.seed, "learned"))?;
    let images_per_second = n as f64 / started.elapsed().as_secs_f64();
    let init_ids = model.vocabulary.class_tokens(&cfg.inversion.initializer)?.to_vec();
    let init_cond = model.token_condition(&init_ids)?.mean_dim([0i64].as_slice(), false, Kind::Float);
    let init_imgs = model.sample_prompt(&init_cond, n, cfg.sampler, cfg.guidance, crate::derive_seed(cfg.seed, "initializer"))?;
    let boot_rate = |imgs: &Tensor| -> Result<f64> {
        let asked = Tensor::full([imgs.size()[0]], HELD_OUT_CLASS, (Kind::Int64, Device::Cpu));
        Ok(judge_samples(&judge, imgs, &asked)?.label_agreement)
    };
    let init_class = data.train.class_names.iter().position(|c| c.eq_ignore_ascii_case(&cfg.inversion.initializer)).unwrap_or(0) as i64;
    let initializer_agreement = judge_samples(&judge, &init_imgs, &Tensor::full([n as i64], init_class, (Kind::Int64, Device::Cpu)))?.label_agreement;

    // ten classes: 20 samples of each known class token, 20 of the learned token as class 9
    let k = 20.min(n);
    let known: Vec<&str> = model.vocabulary.classes.iter().map(|(c, _)| c.as_str()).collect();
    let (known_imgs, known_labels) = model.sample_classes(&known, k, cfg.sampler, cfg.guidance, crate::derive_seed(cfg.seed, "known"))?;
    let known_labels: Vec<i64> = Vec::<i64>::try_from(known_labels)?.into_iter().map(|l| if l >= HELD_OUT_CLASS { l + 1 } else { l }).collect();
    let all = Tensor::cat(&[known_imgs, learned_imgs.narrow(0, 0, k as i64)], 0);
    let asked: Vec<i64> = known_labels.into_iter().chain(std::iter::repeat(HELD_OUT_CLASS).take(k)).collect();
    let judged = judge.predict(&all)?;
    let (fmi, agreement) = fmi_label_agreement(&asked, &judged)?;

    let test_labels = data.test.labels_vec();
    let test_of = |class: i64| -> Result<Tensor> {
        let idx: Vec<usize> = (0..test_labels.len()).filter(|&i| test_labels[i] == class).take(200).collect();
        Ok(data.test.select(&idx)?.images())
    };
    let (concept_test, known_test) = (test_of(HELD_OUT_CLASS)?, test_of(init_class)?);
    let null = model.token_condition(&[0])?.squeeze_dim(0);
    let loss = |imgs: &Tensor, cond: &Tensor| mean_diffusion_loss(&model, imgs, cond, cfg.seed, 4);
    let conditioning = ConditioningLosses {
        concept_null: loss(&concept_test, &null),
        concept_initializer: loss(&concept_test, &init_cond),
        concept_learned: loss(&concept_test, &learned.vectors),
        known_null: loss(&known_test, &null),
        known_own_token: init_ids
            .iter()
            .map(|&id| model.token_condition(&[id]).map(|c| loss(&known_test, &c.squeeze_dim(0))))
            .collect::<Result<Vec<f64>>>()?
            .into_iter()
            .fold(f64::INFINITY, f64::min),
    };

    let row = |t: &Tensor| t.narrow(0, 0, 10.min(t.size()[0]));
    crate::plot::image_grid(&Tensor::cat(&[row(&concept.images()), row(&init_imgs), row(&learned_imgs)], 0), 10, 2)?.save(cfg.out.join("real_initializer_learned.png"))?;
    let all_labels = Tensor::from_slice(&asked);
    let grid_set = ImageDataset::new(all.shallow_clone(), all_labels, data.train.class_names.clone())?;
    crate::plot::image_grid(&sort_by_label(&grid_set.subsample_per_class(8.min(k), 0)?), 8.min(k), 2)?.save(cfg.out.join("ten_classes.png"))?;

    let report = InversionReport {
        images: concept.len(),
        inversion_seconds: history.seconds,
        threads: tch::get_num_threads(),
        learned_boot_rate: boot_rate(&learned_imgs)?,
        initializer_boot_rate: boot_rate(&init_imgs)?,
        initializer_agreement,
        fmi_ten_classes: fmi,
        agreement_ten_classes: agreement,
        images_per_second,
        sampler: cfg.sampler,
        guidance: cfg.guidance,
        final_loss: history.losses.last().map(|l| l.1).unwrap_or(f64::NAN),
        conditioning,
    };
    crate::io::write_atomic(&cfg.out.join("inversion_report.json"), serde_json::to_string_pretty(&report)?.as_bytes())?;
    Ok(report)
}
