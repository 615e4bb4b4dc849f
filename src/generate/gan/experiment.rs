//! The GAN experiment on Fashion-MNIST: train the conditional GAN on `n` real images
//! per class, then read its samples every way the evaluate module offers — the judge's
//! label agreement and FMI, PRDC and C2ST on pixels, FMI cluster agreement, and TSTR
//! (a classifier trained on synthetic images only, tested on real ones) beside TRTR
//! (the same classifier trained on the `n` real images).

use super::{Gan, GanConfig};
use crate::data::{fashion_mnist, pixels, ImageDataset};
use crate::error::IoContext;
use crate::evaluate::{c2st_auc, fmi_cluster_agreement, prdc, ClusterAgreement, Prdc};
use crate::generate::judge::{judge_samples, load_judge, SampleJudgement};
use crate::train::{Classifier, ModelKind, ModelSpec, TrainConfig, Trainer};
use crate::{Error, Result};
use std::path::PathBuf;
use std::time::Instant;
use tch::Tensor;

/// What [`run_gan_experiment`] does.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GanExperimentConfig {
    /// Fashion-MNIST's folder (`None`: the usual places).
    pub data_dir: Option<PathBuf>,
    pub n_per_class: usize,
    /// Seed of the real subsample (the GAN's own seed is in `gan`).
    pub seed: u64,
    pub gan: GanConfig,
    /// Synthetic images per class to evaluate.
    pub samples_per_class: usize,
    /// Real test images per class for PRDC, C2ST, clusters and TSTR.
    pub test_per_class: usize,
    /// Where the checkpoint, grids and `gan_report.json` go.
    pub out: PathBuf,
}

impl Default for GanExperimentConfig {
    /// 50 images per class, the default GAN, 100 samples and 200 test images per class, into `report/gan`.
    fn default() -> Self {
        GanExperimentConfig {
            data_dir: None,
            n_per_class: 50,
            seed: 0,
            gan: { let mut g = GanConfig::default(); g.run.progress = true; g.run.sample_every = 500; g },
            samples_per_class: 100,
            test_per_class: 200,
            out: PathBuf::from("report/gan"),
        }
    }
}

/// What the experiment measured.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GanExperimentReport {
    pub n_per_class: usize,
    pub steps: usize,
    /// Training time (summed over resumes).
    pub train_seconds: f64,
    pub threads: i32,
    /// The judge on the synthetic samples.
    pub judge: SampleJudgement,
    /// The judge's accuracy on the real test images used here (the ceiling).
    pub judge_real_accuracy: f64,
    /// Precision/recall/density/coverage on pixels, k = 5, against real test images.
    pub prdc: Prdc,
    /// C2ST AUC (logistic regression on pixels, 5 folds): 0.5 = indistinguishable.
    pub c2st_auc: f64,
    /// FMI of classes vs k-means clusters fitted on the real training images.
    pub clusters: ClusterAgreement,
    /// Accuracy on real test images of a small CNN trained on synthetic images only.
    pub tstr_accuracy: f64,
    /// The same CNN trained on the `n` real images per class.
    pub trtr_accuracy: f64,
}

/// A fresh small CNN trained as in the default study (400 steps of Adam, seeded) on
/// `train`, scored on `test`: accuracy.
fn train_and_score(train: &ImageDataset, test: &ImageDataset, seed: u64) -> Result<f64> {
    let spec = ModelSpec::new(ModelKind::SmallCnn, train.image_shape(), train.num_classes());
    let mut model = Classifier::new(spec, seed, crate::device()?)?;
    Trainer::new(TrainConfig { seed, progress: false, ..TrainConfig::default() }).fit(&mut model, train)?;
    Ok(model.evaluate(test)?.accuracy)
}

/// Train (or resume) the GAN and evaluate its samples; writes `gan_report.json`, the
/// final sample grid and a grid of real (top) against synthetic images.
pub fn run_gan_experiment(cfg: &GanExperimentConfig) -> Result<GanExperimentReport> {
    cfg.gan.check()?;
    if cfg.n_per_class == 0 || cfg.samples_per_class == 0 || cfg.test_per_class < 2 {
        return Err(Error::invalid(
            "GAN experiment sizes",
            format!("n {}, samples {}, test {}", cfg.n_per_class, cfg.samples_per_class, cfg.test_per_class),
            "need n ≥ 1, samples ≥ 1 and test ≥ 2 per class",
        ));
    }
    let data = fashion_mnist(cfg.data_dir.as_deref())?;
    let real = data.train.subsample_per_class(cfg.n_per_class, cfg.seed)?;
    let test = data.test.subsample_per_class(cfg.test_per_class.min(data.test.class_counts().into_iter().min().unwrap_or(0)), 0)?;
    std::fs::create_dir_all(&cfg.out).at(&cfg.out)?;
    let mut gan_cfg = cfg.gan.clone();
    gan_cfg.run.out = Some(cfg.out.clone());
    let mut gan = Gan::new(gan_cfg, real.image_shape(), real.num_classes(), crate::device()?)?;
    let started = Instant::now();
    let history = gan.train(&real)?;
    if cfg.gan.run.progress {
        println!("GAN: {} steps in {:.0} s ({:.0} s this run)", gan.step, history.seconds, started.elapsed().as_secs_f64());
    }

    let synth = gan.sample_dataset(cfg.samples_per_class, crate::derive_seed(cfg.seed, "gan-eval"), &real.class_names)?;
    let judge = load_judge(crate::device()?)?;
    let judged = judge_samples(&judge, &synth.images(), &synth.labels)?;
    let judge_real_accuracy = judge.evaluate(&test)?.accuracy;

    let (synth_px, test_px, real_px) = (pixels(&synth.images())?, pixels(&test.images())?, pixels(&real.images())?);
    let prdc = prdc(test_px.view(), synth_px.view(), 5)?;
    let c2st = c2st_auc(test_px.view(), synth_px.view(), 5, cfg.seed)?;
    let clusters = fmi_cluster_agreement(
        real_px.view(),
        (test_px.view(), &test.labels_vec()),
        (synth_px.view(), &synth.labels_vec()),
        real.num_classes(),
        cfg.seed,
    )?;
    let tstr_accuracy = train_and_score(&synth, &test, cfg.seed)?;
    let trtr_accuracy = train_and_score(&real, &test, cfg.seed)?;

    // real images (top rows) above synthetic ones, 10 per class
    let k = 10.min(cfg.n_per_class).min(cfg.samples_per_class);
    let real_k = real.subsample_per_class(k, 0)?;
    let synth_k = synth.subsample_per_class(k, 0)?;
    crate::plot::image_grid(&Tensor::cat(&[sort_by_label(&real_k), sort_by_label(&synth_k)], 0), k, 2)?.save(cfg.out.join("real_vs_gan.png"))?;

    let report = GanExperimentReport {
        n_per_class: cfg.n_per_class,
        steps: gan.step,
        train_seconds: history.seconds,
        threads: tch::get_num_threads(),
        judge: judged,
        judge_real_accuracy,
        prdc,
        c2st_auc: c2st,
        clusters,
        tstr_accuracy,
        trtr_accuracy,
    };
    crate::io::write_atomic(&cfg.out.join("gan_report.json"), serde_json::to_string_pretty(&report)?.as_bytes())?;
    Ok(report)
}

/// Images ordered by label (stable), for grids with one row per class.
pub fn sort_by_label(d: &ImageDataset) -> Tensor {
    let order = d.labels.argsort(0, false);
    d.batch_images(&order)
}
