//! The noise schedule from `scheduler/scheduler_config.json`: DDPM forward noise for
//! training, DDIM steps for sampling. SD 1.x ships a PNDM config and SD 2.x a DDIM
//! one; both carry the betas, `steps_offset`, `set_alpha_to_one`, `timestep_spacing`
//! and `prediction_type` read here.

use super::config::{read_config, ConfigValue};
use crate::{Error, Result};
use serde::Deserialize;
use std::path::Path;
use tch::{Device, Kind, Tensor};

/// What the UNet predicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Prediction {
    /// The noise (SD 1.x, SD 2 base at 512).
    Epsilon,
    /// The velocity `sqrt(ᾱ)·ε − sqrt(1−ᾱ)·x₀` (SD 2.x at 768).
    VPrediction,
}

/// `scheduler_config.json`: the fields the schedule and the DDIM steps use.
#[derive(Debug, Clone, Deserialize)]
pub struct SchedulerConfig {
    /// Training timesteps (1000).
    #[serde(default = "thousand")]
    pub num_train_timesteps: i64,
    /// First beta.
    #[serde(default = "beta_start")]
    pub beta_start: f64,
    /// Last beta.
    #[serde(default = "beta_end")]
    pub beta_end: f64,
    /// `scaled_linear` (SD), `linear` (diffusers' default) or `squaredcos_cap_v2`.
    #[serde(default = "linear")]
    pub beta_schedule: String,
    /// Explicit betas, overriding the schedule.
    #[serde(default)]
    pub trained_betas: Option<Vec<f64>>,
    /// Added to every inference timestep under "leading" spacing (1 in SD).
    #[serde(default)]
    pub steps_offset: i64,
    /// Whether the step past the last uses ᾱ = 1 (else ᾱ₀).
    #[serde(default = "yes")]
    pub set_alpha_to_one: bool,
    /// `leading` (the default), `trailing` or `linspace`.
    #[serde(default = "leading")]
    pub timestep_spacing: String,
    /// What the UNet predicts.
    #[serde(default = "epsilon")]
    pub prediction_type: Prediction,
    /// Clip the predicted x₀ to ±`clip_sample_range`. DDIM's default is true, and
    /// SD 1.x's PNDM config does not say, so DDIM built from it clips (as diffusers'
    /// `DDIMScheduler.from_config` does); SD 2.x's config says false.
    #[serde(default = "yes")]
    pub clip_sample: bool,
    /// The clipping bound.
    #[serde(default = "one")]
    pub clip_sample_range: f64,
    /// diffusers' class name, for messages.
    #[serde(rename = "_class_name", default)]
    pub class_name: Option<String>,
    #[serde(default)]
    rescale_betas_zero_snr: bool,
    #[serde(default)]
    thresholding: bool,
}

fn thousand() -> i64 {
    1000
}
fn beta_start() -> f64 {
    0.0001
}
fn beta_end() -> f64 {
    0.02
}
fn linear() -> String {
    "linear".into()
}
fn yes() -> bool {
    true
}
fn one() -> f64 {
    1.0
}
fn leading() -> String {
    "leading".into()
}
fn epsilon() -> Prediction {
    Prediction::Epsilon
}

impl ConfigValue for SchedulerConfig {
    fn check(&self, path: &Path) -> Result<()> {
        let bad = |reason: String| Err(Error::Format { path: path.into(), reason });
        if self.trained_betas.is_none() && !matches!(self.beta_schedule.as_str(), "linear" | "scaled_linear" | "squaredcos_cap_v2") {
            return bad(format!("beta_schedule {:?} is not supported (linear, scaled_linear, squaredcos_cap_v2)", self.beta_schedule));
        }
        if !matches!(self.timestep_spacing.as_str(), "leading" | "trailing" | "linspace") {
            return bad(format!("timestep_spacing {:?} is not supported (leading, trailing, linspace)", self.timestep_spacing));
        }
        if self.rescale_betas_zero_snr || self.thresholding {
            return bad("rescale_betas_zero_snr and thresholding are not supported".into());
        }
        if self.num_train_timesteps < 2 {
            return bad(format!("num_train_timesteps {} is too small", self.num_train_timesteps));
        }
        Ok(())
    }
}

/// The schedule's ᾱ_t, and the steps that use it.
#[derive(Debug)]
pub struct Scheduler {
    config: SchedulerConfig,
    alphas_cumprod: Tensor,
}

impl Scheduler {
    /// Reads and checks `scheduler_config.json`.
    pub fn read(path: &Path) -> Result<Self> {
        Ok(Self::new(read_config(path)?))
    }

    /// The schedule of a checked config: betas computed in float32, as diffusers does.
    pub fn new(config: SchedulerConfig) -> Self {
        let n = config.num_train_timesteps;
        let opts = (Kind::Float, Device::Cpu);
        let betas = if let Some(b) = &config.trained_betas {
            Tensor::from_slice(b).to_kind(Kind::Float)
        } else {
            match config.beta_schedule.as_str() {
                "scaled_linear" => Tensor::linspace(config.beta_start.sqrt(), config.beta_end.sqrt(), n, opts).square(),
                "squaredcos_cap_v2" => {
                    let bar = |t: f64| ((t + 0.008) / 1.008 * std::f64::consts::FRAC_PI_2).cos().powi(2);
                    let b: Vec<f64> = (0..n).map(|i| (1.0 - bar((i + 1) as f64 / n as f64) / bar(i as f64 / n as f64)).min(0.999)).collect();
                    Tensor::from_slice(&b).to_kind(Kind::Float)
                }
                _ => Tensor::linspace(config.beta_start, config.beta_end, n, opts),
            }
        };
        let alphas_cumprod = (betas.neg() + 1.0).cumprod(0, Kind::Float);
        Scheduler { config, alphas_cumprod }
    }

    /// The configuration.
    pub fn config(&self) -> &SchedulerConfig {
        &self.config
    }

    /// What the UNet predicts.
    pub fn prediction(&self) -> Prediction {
        self.config.prediction_type
    }

    /// ᾱ_t for every training timestep, float32 on the CPU.
    pub fn alphas_cumprod(&self) -> &Tensor {
        &self.alphas_cumprod
    }

    fn gather(&self, t: &Tensor, like: &Tensor) -> Tensor {
        let a = self.alphas_cumprod.to_device(like.device()).index_select(0, &t.to_device(like.device()).to_kind(Kind::Int64)).to_kind(like.kind());
        let mut shape = vec![-1i64];
        shape.extend(std::iter::repeat(1).take(like.dim() - 1));
        a.view(shape.as_slice())
    }

    /// DDPM's forward noise: `sqrt(ᾱ_t)·x₀ + sqrt(1−ᾱ_t)·ε`.
    pub fn add_noise(&self, x0: &Tensor, noise: &Tensor, t: &Tensor) -> Tensor {
        let a = self.gather(t, x0);
        a.sqrt() * x0 + (a.neg() + 1.0).sqrt() * noise
    }

    /// The v-prediction target `sqrt(ᾱ_t)·ε − sqrt(1−ᾱ_t)·x₀`.
    pub fn velocity(&self, x0: &Tensor, noise: &Tensor, t: &Tensor) -> Tensor {
        let a = self.gather(t, x0);
        a.sqrt() * noise - (a.neg() + 1.0).sqrt() * x0
    }

    /// The training target for the UNet: the noise, or the velocity.
    pub fn target(&self, x0: &Tensor, noise: &Tensor, t: &Tensor) -> Tensor {
        match self.config.prediction_type {
            Prediction::Epsilon => noise.shallow_clone(),
            Prediction::VPrediction => self.velocity(x0, noise, t),
        }
    }

    /// DDIM's inference timesteps for `steps` steps, largest first, under the
    /// config's spacing.
    pub fn ddim_timesteps(&self, steps: usize) -> Result<Vec<i64>> {
        let n = self.config.num_train_timesteps;
        let k = steps as i64;
        if k < 1 || k > n {
            return Err(Error::invalid("sampling steps", steps, format!("must be between 1 and the {n} training timesteps")));
        }
        Ok(match self.config.timestep_spacing.as_str() {
            "linspace" => (0..k).rev().map(|i| if k == 1 { 0 } else { (i as f64 * (n - 1) as f64 / (k - 1) as f64).round_ties_even() as i64 }).collect(),
            "trailing" => {
                let ratio = n as f64 / k as f64;
                (0..k).map(|i| (n as f64 - i as f64 * ratio).round_ties_even() as i64 - 1).collect()
            }
            _ => (0..k).rev().map(|i| i * (n / k) + self.config.steps_offset).collect(),
        })
    }

    /// One deterministic DDIM step (η = 0) from `x` at timestep `t` with the UNet's
    /// output `pred`, for a run of `steps` steps.
    pub fn ddim_step(&self, pred: &Tensor, t: i64, x: &Tensor, steps: usize) -> Tensor {
        let n = self.config.num_train_timesteps;
        let prev = t - n / steps as i64;
        let acp = |i: i64| self.alphas_cumprod.double_value(&[i]);
        let a_t = acp(t);
        let a_prev = if prev >= 0 { acp(prev) } else if self.config.set_alpha_to_one { 1.0 } else { acp(0) };
        let b_t = 1.0 - a_t;
        let (x0, eps) = match self.config.prediction_type {
            Prediction::Epsilon => ((x - pred * b_t.sqrt()) / a_t.sqrt(), pred.shallow_clone()),
            Prediction::VPrediction => (x * a_t.sqrt() - pred * b_t.sqrt(), pred * a_t.sqrt() + x * b_t.sqrt()),
        };
        let r = self.config.clip_sample_range;
        let x0 = if self.config.clip_sample { x0.clamp(-r, r) } else { x0 };
        x0 * a_prev.sqrt() + eps * (1.0 - a_prev).sqrt()
    }
}
