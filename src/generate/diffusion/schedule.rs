//! The noise schedule and the samplers of a DDPM, apart from any network.
//!
//! Forward process (Ho et al. 2020): `q(x_t | x_{t−1}) = N(√(1−β_t) x_{t−1}, β_t I)`,
//! so `q(x_t | x_0) = N(√ᾱ_t x_0, (1−ᾱ_t) I)` with `ᾱ_t = Π_{s≤t} (1−β_s)`. Steps are
//! numbered `1..=T` in the papers and `0..T` here (index `i` is step `i + 1`).
//!
//! Samplers, given a noise predictor `ε̂(x_t, t)`:
//! * **DDPM** ancestral: `x_{t−1} = μ̃_t(x̂_0, x_t) + σ_t z` with the posterior mean
//!   `μ̃_t = √ᾱ_{t−1} β_t/(1−ᾱ_t) · x̂_0 + √α_t (1−ᾱ_{t−1})/(1−ᾱ_t) · x_t` and the
//!   posterior variance `σ_t² = β̃_t = (1−ᾱ_{t−1})/(1−ᾱ_t) · β_t`;
//! * **DDIM** (Song et al. 2021) on a sub-sequence of steps: `x_{t'} = √ᾱ_{t'} x̂_0 +
//!   √(1−ᾱ_{t'}−σ²) ε̂ + σ z` with `σ = η √((1−ᾱ_{t'})/(1−ᾱ_t)) √(1−ᾱ_t/ᾱ_{t'})`.
//!   η = 0 is deterministic; η = 1 over all T steps is the DDPM update above.
//!
//! Both use `x̂_0 = (x_t − √(1−ᾱ_t) ε̂)/√ᾱ_t`, optionally clipped to `[−1, 1]` (DDIM then
//! uses the ε implied by the clipped `x̂_0`, which keeps the two samplers equal).

use crate::augment::AugRng;
use crate::{Error, Result};
use tch::{Device, Kind, Tensor};

/// How `β_t` grows with `t`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScheduleKind {
    /// `β` linear from `beta_start` to `beta_end` (Ho et al.: 1e-4 to 0.02 over 1,000 steps).
    Linear { beta_start: f64, beta_end: f64 },
    /// `ᾱ_t = f(t)/f(0)`, `f(t) = cos²(((t/T + s)/(1 + s)) · π/2)`, `β` capped at 0.999
    /// (Nichol & Dhariwal 2021, s = 0.008).
    Cosine { s: f64 },
}

/// `β_t`, `α_t` and `ᾱ_t` for `t = 1..=T` (stored at index `t − 1`), in f64.
#[derive(Debug, Clone, PartialEq)]
pub struct NoiseSchedule {
    pub kind: ScheduleKind,
    pub betas: Vec<f64>,
    pub alphas: Vec<f64>,
    pub alpha_bars: Vec<f64>,
}

impl NoiseSchedule {
    /// A schedule of `steps` (T) steps.
    pub fn new(kind: ScheduleKind, steps: usize) -> Result<Self> {
        if steps < 2 {
            return Err(Error::invalid("diffusion steps", steps, "need at least 2"));
        }
        let betas: Vec<f64> = match kind {
            ScheduleKind::Linear { beta_start, beta_end } => {
                if !(0.0 < beta_start && beta_start <= beta_end && beta_end < 1.0) {
                    return Err(Error::invalid("linear schedule", format!("β from {beta_start} to {beta_end}"), "need 0 < start ≤ end < 1"));
                }
                (0..steps).map(|i| beta_start + (beta_end - beta_start) * i as f64 / (steps - 1) as f64).collect()
            }
            ScheduleKind::Cosine { s } => {
                if !(s >= 0.0 && s.is_finite()) {
                    return Err(Error::invalid("cosine schedule offset s", s, "must be ≥ 0"));
                }
                let f = |t: f64| (((t / steps as f64 + s) / (1.0 + s)) * std::f64::consts::FRAC_PI_2).cos().powi(2);
                (1..=steps).map(|t| (1.0 - f(t as f64) / f(t as f64 - 1.0)).clamp(1e-8, 0.999)).collect()
            }
        };
        let alphas: Vec<f64> = betas.iter().map(|b| 1.0 - b).collect();
        let alpha_bars: Vec<f64> = alphas.iter().scan(1.0, |acc, a| {
            *acc *= a;
            Some(*acc)
        }).collect();
        Ok(NoiseSchedule { kind, betas, alphas, alpha_bars })
    }

    /// T.
    pub fn len(&self) -> usize {
        self.betas.len()
    }

    pub fn is_empty(&self) -> bool {
        self.betas.is_empty()
    }

    /// `ᾱ` before step index `i` (1 for the first step).
    fn alpha_bar_prev(&self, i: usize) -> f64 {
        if i == 0 {
            1.0
        } else {
            self.alpha_bars[i - 1]
        }
    }

    /// Draw `x_t ~ q(x_t | x_0)` in closed form: `√ᾱ_t x_0 + √(1−ᾱ_t) ε`, each sample at
    /// its own step index `t` (`[N]`, i64 in `0..T`).
    pub fn q_sample(&self, x0: &Tensor, t: &Tensor, noise: &Tensor) -> Tensor {
        let n = x0.size()[0];
        let ab = Tensor::from_slice(&self.alpha_bars.iter().map(|&v| v as f32).collect::<Vec<_>>()).to_device(x0.device());
        let ab_t = ab.index_select(0, t).view([n, 1, 1, 1]);
        &ab_t.sqrt() * x0 + (-&ab_t + 1.0).sqrt() * noise
    }

    /// One forward step `x_t = √(1−β_t) x_{t−1} + √β_t ε` at step index `i`.
    pub fn q_step(&self, x_prev: &Tensor, i: usize, noise: &Tensor) -> Tensor {
        x_prev * (1.0 - self.betas[i]).sqrt() + noise * self.betas[i].sqrt()
    }

    /// `x̂_0` from `x_t` and `ε̂` at step index `i`, optionally clipped.
    pub fn predict_x0(&self, x: &Tensor, eps: &Tensor, i: usize, clip: bool) -> Tensor {
        let ab = self.alpha_bars[i];
        let x0 = (x - eps * (1.0 - ab).sqrt()) / ab.sqrt();
        if clip {
            x0.clamp(-1.0, 1.0)
        } else {
            x0
        }
    }

    /// One DDPM ancestral step from index `i` (posterior mean and variance β̃); `z` is
    /// the fresh noise (ignored at `i = 0`).
    pub fn ddpm_step(&self, x: &Tensor, eps: &Tensor, i: usize, z: &Tensor, clip: bool) -> Tensor {
        let (ab, ab_prev, beta, alpha) = (self.alpha_bars[i], self.alpha_bar_prev(i), self.betas[i], self.alphas[i]);
        let x0 = self.predict_x0(x, eps, i, clip);
        let mean = x0 * (ab_prev.sqrt() * beta / (1.0 - ab)) + x * (alpha.sqrt() * (1.0 - ab_prev) / (1.0 - ab));
        if i == 0 {
            mean
        } else {
            mean + z * ((1.0 - ab_prev) / (1.0 - ab) * beta).sqrt()
        }
    }

    /// One DDIM step from index `i` to index `j < i` (or to `x_0` when `j` is `None`).
    pub fn ddim_step(&self, x: &Tensor, eps: &Tensor, i: usize, j: Option<usize>, eta: f64, z: &Tensor, clip: bool) -> Tensor {
        let ab = self.alpha_bars[i];
        let ab_next = j.map_or(1.0, |j| self.alpha_bars[j]);
        let x0 = self.predict_x0(x, eps, i, clip);
        let eps = if clip { (x - &x0 * ab.sqrt()) / (1.0 - ab).sqrt() } else { eps.shallow_clone() };
        let sigma = eta * ((1.0 - ab_next) / (1.0 - ab)).sqrt() * (1.0 - ab / ab_next).sqrt();
        let dir = eps * (1.0 - ab_next - sigma * sigma).max(0.0).sqrt();
        let out = x0 * ab_next.sqrt() + dir;
        if sigma > 0.0 {
            out + z * sigma
        } else {
            out
        }
    }

    /// The step indices a sampler visits, from T−1 down: all of them for DDPM, `k`
    /// evenly spaced ones (always ending at 0) for DDIM.
    pub fn timesteps(&self, k: usize) -> Result<Vec<usize>> {
        let t = self.len();
        if k == 0 || k > t {
            return Err(Error::invalid("sampling steps", k, format!("must lie in 1..={t}")));
        }
        let mut v: Vec<usize> = (0..k).map(|s| ((s as f64) * (t as f64) / (k as f64)).floor() as usize).collect();
        v.dedup();
        v.reverse();
        Ok(v)
    }
}

/// How to turn noise into images.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Sampler {
    /// Ancestral sampling over all T steps.
    Ddpm,
    /// DDIM over `steps` evenly spaced steps; `eta` 0 is deterministic.
    Ddim { steps: usize, eta: f64 },
}

impl std::str::FromStr for Sampler {
    type Err = Error;
    /// `ddpm`, `ddim` (50 steps, η 0) or `ddim=K`.
    fn from_str(s: &str) -> Result<Self> {
        let (name, k, _) = crate::params::parse_setting(s, "sampler", 50.0)?;
        match name.as_str() {
            "ddpm" => Ok(Sampler::Ddpm),
            "ddim" if k >= 1.0 && k.fract() == 0.0 => Ok(Sampler::Ddim { steps: k as usize, eta: 0.0 }),
            _ => Err(Error::invalid("sampler", s, "ddpm, ddim or ddim=steps")),
        }
    }
}

/// Run `sampler` from pure noise of `shape` with the noise predictor `eps(x_t, i)`;
/// every random draw (the starting noise, then one `z` per step) comes from `rng`, in
/// that order, so two samplers given the same seed see the same draws.
pub fn sample_loop(
    schedule: &NoiseSchedule,
    sampler: Sampler,
    shape: &[i64],
    device: Device,
    clip: bool,
    rng: &mut AugRng,
    mut eps: impl FnMut(&Tensor, usize) -> Tensor,
) -> Result<Tensor> {
    let like = Tensor::zeros(shape, (Kind::Float, Device::Cpu));
    let mut x = rng.normal_like(&like).to_device(device);
    match sampler {
        Sampler::Ddpm => {
            for i in (0..schedule.len()).rev() {
                let e = tch::no_grad(|| eps(&x, i));
                let z = rng.normal_like(&like).to_device(device);
                x = tch::no_grad(|| schedule.ddpm_step(&x, &e, i, &z, clip));
            }
        }
        Sampler::Ddim { steps, eta } => {
            if !(0.0..=1.0).contains(&eta) {
                return Err(Error::invalid("DDIM η", eta, "must lie in [0, 1]"));
            }
            let ts = schedule.timesteps(steps)?;
            for (k, &i) in ts.iter().enumerate() {
                let e = tch::no_grad(|| eps(&x, i));
                let z = rng.normal_like(&like).to_device(device);
                x = tch::no_grad(|| schedule.ddim_step(&x, &e, i, ts.get(k + 1).copied(), eta, &z, clip));
            }
        }
    }
    Ok(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn linear(t: usize) -> NoiseSchedule {
        NoiseSchedule::new(ScheduleKind::Linear { beta_start: 1e-4, beta_end: 0.02 }, t).unwrap()
    }

    #[test]
    fn closed_form_matches_iterating_the_forward_process() {
        // E[x_t] = √ᾱ_t x_0 and Var[x_t] = 1 − ᾱ_t when iterating q(x_t | x_{t−1}):
        // check both on 20,000 chains against the closed form's parameters
        for s in [linear(100), NoiseSchedule::new(ScheduleKind::Cosine { s: 0.008 }, 100).unwrap()] {
            let mut rng = AugRng::new(0);
            let x0 = Tensor::full([20_000, 1, 1, 1], 0.7, (Kind::Float, Device::Cpu));
            let mut x = x0.copy();
            for i in 0..60 {
                x = s.q_step(&x, i, &rng.normal_like(&x));
            }
            let (mean, var) = (x.mean(Kind::Float).double_value(&[]), x.var(true).double_value(&[]));
            let ab = s.alpha_bars[59];
            assert!((mean - 0.7 * ab.sqrt()).abs() < 0.02, "{mean} vs {}", 0.7 * ab.sqrt());
            assert!((var - (1.0 - ab)).abs() < 0.02, "{var} vs {}", 1.0 - ab);
            // and q_sample with a fixed noise is exactly the formula
            let t = Tensor::from_slice(&[59i64]);
            let e = Tensor::from_slice(&[0.3f32]).view([1, 1, 1, 1]);
            let got = s.q_sample(&x0.narrow(0, 0, 1), &t, &e).double_value(&[0, 0, 0, 0]);
            assert!((got - (ab.sqrt() * 0.7 + (1.0 - ab).sqrt() * 0.3)).abs() < 1e-6);
        }
    }

    #[test]
    fn cosine_schedule_ends_near_pure_noise() {
        let s = NoiseSchedule::new(ScheduleKind::Cosine { s: 0.008 }, 1000).unwrap();
        assert!(s.alpha_bars[999] < 1e-4 && s.alpha_bars[0] > 0.999);
        assert!(s.betas.iter().all(|&b| b > 0.0 && b <= 0.999));
        assert!(NoiseSchedule::new(ScheduleKind::Linear { beta_start: 0.1, beta_end: 0.01 }, 10).is_err());
        assert!(NoiseSchedule::new(ScheduleKind::Cosine { s: 0.0 }, 1).is_err());
    }

    /// A fixed, non-trivial noise predictor (depends on x and t).
    fn toy_eps(x: &Tensor, i: usize) -> Tensor {
        x.sin() * 0.5 + (i as f64 / 50.0)
    }

    #[test]
    fn ddim_eta_one_over_all_steps_is_ddpm_and_eta_zero_is_deterministic() {
        let s = linear(50);
        for clip in [false, true] {
            let ddpm = sample_loop(&s, Sampler::Ddpm, &[3, 1, 4, 4], Device::Cpu, clip, &mut AugRng::new(9), toy_eps).unwrap();
            let ddim = sample_loop(&s, Sampler::Ddim { steps: 50, eta: 1.0 }, &[3, 1, 4, 4], Device::Cpu, clip, &mut AugRng::new(9), toy_eps).unwrap();
            let diff = (&ddpm - &ddim).abs().max().double_value(&[]);
            assert!(diff < 1e-4, "clip {clip}: max |DDPM − DDIM(η=1)| = {diff}");
        }
        // η = 0: the result does not depend on the per-step draws, only on the start
        let a = sample_loop(&s, Sampler::Ddim { steps: 10, eta: 0.0 }, &[2, 1, 4, 4], Device::Cpu, false, &mut AugRng::new(1), toy_eps).unwrap();
        let mut rng = AugRng::new(1);
        let start = rng.normal_like(&Tensor::zeros([2, 1, 4, 4], (Kind::Float, Device::Cpu)));
        let ts = s.timesteps(10).unwrap();
        let mut x = start;
        let garbage = Tensor::full([2, 1, 4, 4], 123.0, (Kind::Float, Device::Cpu));
        for (k, &i) in ts.iter().enumerate() {
            x = s.ddim_step(&x, &toy_eps(&x, i), i, ts.get(k + 1).copied(), 0.0, &garbage, false);
        }
        assert!(a.allclose(&x, 1e-6, 1e-6, false));
        assert_eq!(ts.len(), 10);
        assert_eq!(*ts.last().unwrap(), 0);
        assert!(s.timesteps(51).is_err());
        assert!("ddim=x".parse::<Sampler>().is_err());
        assert_eq!("ddim=20".parse::<Sampler>().unwrap(), Sampler::Ddim { steps: 20, eta: 0.0 });
    }
}
