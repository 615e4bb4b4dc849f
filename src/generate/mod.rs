//! Synthetic data. So far: the Gaussian copula synthesizer for tables
//! ([`GaussianCopula`], and [`CopulaSynth`] as a tabular augmentation that the
//! tabular study can use as `copula`). The GAN and diffusion models are issues #6
//! and #7.

mod copula;

pub use copula::{normal_cdf, normal_quantile, CopulaSynth, GaussianCopula};
