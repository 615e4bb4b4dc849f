//! Synthetic data.
//!
//! * Images: a class-conditional DCGAN with DiffAugment ([`Gan`]), whose samples can
//!   be mixed into a small training set ([`mix_real_synthetic`]) — the study's `gan`
//!   arm.
//! * Tables: the Gaussian copula ([`GaussianCopula`]; [`CopulaSynth`] is the tabular
//!   study's `copula`) and a conditional WGAN-GP ([`TabularGan`]; [`GanSynth`] is its
//!   `gan`), scored by train-on-synthetic-test-on-real (`smalldata::tabular::run_tabular_tstr`).
//!
//! Checkpoints and the saveable Adam they resume with live in [`crate::train`].

mod copula;
pub mod diffusion;
pub mod gan;
pub mod judge;
pub mod stable_diffusion;
mod tabular_gan;

use crate::data::ImageDataset;
use crate::{Error, Result};
use tch::{Device, Tensor};

pub use copula::{CopulaSynth, GaussianCopula};
/// Moved to [`crate::evaluate`], their home; kept here for callers of the old path.
pub use tabular_gan::{GanSynth, TabularGan, TabularGanConfig};
pub use crate::train::RunSettings;
pub use gan::{run_gan_experiment, Gan, GanArchitecture, GanConfig, GanExperimentConfig, GanExperimentReport, GanHistory, GanLoss, GanTraining};

/// A training set of the real images followed by the synthetic ones (same classes,
/// same image shape): what a classifier trains on when synthetic data is added.
pub fn mix_real_synthetic(real: &ImageDataset, synthetic: &ImageDataset) -> Result<ImageDataset> {
    if real.class_names != synthetic.class_names {
        return Err(Error::invalid("synthetic classes", format!("{:?}", synthetic.class_names), format!("must be the real set's {:?}", real.class_names)));
    }
    if real.image_shape() != synthetic.image_shape() {
        return Err(Error::shape("synthetic images", format!("{:?}", real.image_shape()), format!("{:?}", synthetic.image_shape())));
    }
    let cpu = |t: &Tensor| t.to_device(Device::Cpu);
    ImageDataset::new(
        Tensor::cat(&[cpu(&real.images()), cpu(&synthetic.images())], 0),
        Tensor::cat(&[cpu(&real.labels), cpu(&synthetic.labels)], 0),
        real.class_names.clone(),
    )
}
