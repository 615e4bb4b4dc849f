//! Judging synthetic images: does a classifier trained on the *full* real training set
//! recognise each sample as the class it was generated for?
//!
//! The judge is the small CNN trained on all 60,000 Fashion-MNIST training images; its
//! weights are committed ([`JUDGE`]) with the command that reproduces them
//! (`smalldata generate judge`). [`judge_samples`] gives the agreement rate and the
//! Fowlkes–Mallows index between asked and recognised classes (FMI protocol (a)),
//! per-class agreement, and the same judge's accuracy on real test images — the
//! ceiling the synthetic figure is read against.

use crate::data::ImageDataset;
use crate::error::IoContext;
use crate::evaluate::{fmi_label_agreement, precision_recall_f1, Average};
use crate::train::{Classifier, ModelKind, ModelSpec, TrainConfig, Trainer};
use crate::{Error, Result};
use std::path::Path;
use tch::{Device, Tensor};

/// The committed judge for Fashion-MNIST (relative to the crate root).
pub const JUDGE: &str = "data/pretrained/judge_fmnist_cnn.safetensors";

/// The committed judge (see [`crate::data::asset_path`] for where it is looked for).
pub fn judge_path() -> std::path::PathBuf {
    crate::data::asset_path(JUDGE)
}

/// The judge's architecture: the small CNN for 28×28 gray images of 10 classes.
pub fn judge_spec() -> ModelSpec {
    ModelSpec::new(ModelKind::SmallCnn, [1, 28, 28], 10)
}

/// Train a judge on `train` (all of it) and save it to `out`: the small CNN, Adam
/// 1e-3 with a cosine schedule, batch 128, `steps` steps, seeded.
pub fn train_judge(train: &ImageDataset, steps: usize, seed: u64, out: &Path) -> Result<Classifier> {
    let spec = ModelSpec::new(ModelKind::SmallCnn, train.image_shape(), train.num_classes());
    let mut model = Classifier::new(spec, seed, crate::device()?)?;
    let cfg = TrainConfig {
        length: crate::train::Length::Steps(steps),
        batch_size: 128,
        schedule: crate::train::Schedule::Cosine { warmup_steps: 100 },
        seed,
        progress: true,
        ..TrainConfig::default()
    };
    Trainer::new(cfg).fit(&mut model, train)?;
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).at(dir)?;
    }
    model.save(out)?;
    Ok(model)
}

/// Load the committed Fashion-MNIST judge on `device`.
pub fn load_judge(device: Device) -> Result<Classifier> {
    let mut judge = Classifier::new(judge_spec(), 0, device)?;
    judge.load(judge_path())?;
    Ok(judge)
}

/// How a judge reads a set of synthetic images.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SampleJudgement {
    pub samples: usize,
    /// Share of samples the judge labels as the class they were generated for.
    pub label_agreement: f64,
    /// Fowlkes–Mallows index between asked and judged labels.
    pub fmi: f64,
    /// Agreement per asked class (recall of the judge on each class's samples).
    pub per_class: Vec<f64>,
    /// Macro F1 of the judge's labels against the asked ones.
    pub macro_f1: f64,
}

/// Judge `images` (`[N, C, H, W]` in `[0, 1]`) generated for `asked` labels.
pub fn judge_samples(judge: &Classifier, images: &Tensor, asked: &Tensor) -> Result<SampleJudgement> {
    let asked: Vec<i64> = Vec::<i64>::try_from(asked.to_device(Device::Cpu))?;
    if asked.len() as i64 != images.size()[0] {
        return Err(Error::shape("judged samples", format!("{} labels", images.size()[0]), format!("{} labels", asked.len())));
    }
    if asked.is_empty() {
        return Err(Error::invalid("judged samples", 0, "need at least one sample"));
    }
    let judged = judge.predict(images)?;
    let (fmi, label_agreement) = fmi_label_agreement(&asked, &judged)?;
    let classes = asked.iter().copied().max().unwrap_or(0).max(0) as usize + 1;
    let per_class = (0..classes as i64)
        .map(|c| {
            let mine: Vec<usize> = (0..asked.len()).filter(|&i| asked[i] == c).collect();
            if mine.is_empty() {
                f64::NAN
            } else {
                mine.iter().filter(|&&i| judged[i] == c).count() as f64 / mine.len() as f64
            }
        })
        .collect();
    let macro_f1 = precision_recall_f1(&asked, &judged, Average::Macro)?.f1;
    Ok(SampleJudgement { samples: asked.len(), label_agreement, fmi, per_class, macro_f1 })
}
