//! Automatic augmentation policies with (almost) no search:
//!
//! * RandAugment (Cubuk et al. 2020): each sample gets `n` operations chosen
//!   uniformly, all at one global magnitude `m` (of 30);
//! * TrivialAugment Wide (Müller & Hutter 2021): each sample gets one operation at a
//!   magnitude drawn uniformly, over wider ranges.
//!
//! The operations and their largest magnitudes follow torchvision's tables; Equalize
//! is left out (a per-image histogram equalisation has no cheap batched form here),
//! so the lists have 13 operations instead of 14. Signed operations (shear, translate,
//! rotate, and the enhancement factors) take a random sign per sample.

use super::geometric::{cos_sin, to_normalised, warp};
use super::photometric::{blur_per_sample, gray};
use super::{check_batch, AugRng, Augment};
use crate::{Error, Result};
use tch::{Kind, Tensor};

/// The operations a policy draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyOp {
    Identity,
    ShearX,
    ShearY,
    TranslateX,
    TranslateY,
    Rotate,
    Brightness,
    Color,
    Contrast,
    Sharpness,
    Posterize,
    Solarize,
    AutoContrast,
}

const OPS: [PolicyOp; 13] = [
    PolicyOp::Identity,
    PolicyOp::ShearX,
    PolicyOp::ShearY,
    PolicyOp::TranslateX,
    PolicyOp::TranslateY,
    PolicyOp::Rotate,
    PolicyOp::Brightness,
    PolicyOp::Color,
    PolicyOp::Contrast,
    PolicyOp::Sharpness,
    PolicyOp::Posterize,
    PolicyOp::Solarize,
    PolicyOp::AutoContrast,
];

/// Largest magnitude of each operation: (RandAugment, TrivialAugment Wide). Translate
/// is a fraction of the width (RandAugment: 150/331 of the size, as torchvision) or in
/// pixels for Wide (32); posterize is the number of bits removed; solarize the drop of
/// the threshold from 1.
fn max_magnitude(op: PolicyOp, wide: bool, width: f64) -> f64 {
    use PolicyOp::*;
    match (op, wide) {
        (ShearX | ShearY, false) => 0.3,
        (ShearX | ShearY, true) => 0.99,
        (TranslateX | TranslateY, false) => 150.0 / 331.0 * width,
        (TranslateX | TranslateY, true) => 32.0,
        (Rotate, false) => 30.0,
        (Rotate, true) => 135.0,
        (Brightness | Color | Contrast | Sharpness, false) => 0.9,
        (Brightness | Color | Contrast | Sharpness, true) => 0.99,
        (Posterize, false) => 4.0,
        (Posterize, true) => 6.0,
        (Solarize, _) => 1.0,
        (Identity | AutoContrast, _) => 0.0,
    }
}

fn signed(op: PolicyOp) -> bool {
    use PolicyOp::*;
    matches!(op, ShearX | ShearY | TranslateX | TranslateY | Rotate | Brightness | Color | Contrast | Sharpness)
}

fn blend(a: &Tensor, b: &Tensor, factor: &Tensor) -> Tensor {
    // b + factor · (a − b): factor 1 gives a, 0 gives b
    (b + (a - b) * factor).clamp(0.0, 1.0)
}

/// Apply `op` to `x` `[k, C, H, W]` with one magnitude per sample (in the op's units).
fn apply_op(op: PolicyOp, x: &Tensor, mags: &[f64]) -> Result<Tensor> {
    use PolicyOp::*;
    let (k, _, h, w) = (x.size()[0], x.size()[1], x.size()[2], x.size()[3]);
    let m = super::on_device(mags, x).view([k, 1, 1, 1]);
    let one_plus_m: Tensor = &m + 1.0;
    let affine = |lin: &dyn Fn(f64) -> ([f64; 4], [f64; 2])| -> Result<Tensor> {
        let theta: Vec<[f64; 6]> = mags.iter().map(|&v| {
            let (a, t) = lin(v);
            to_normalised(a, t, (h, w), (h, w))
        }).collect();
        warp(x, &theta, (h, w), 0.0)
    };
    Ok(match op {
        Identity => x.shallow_clone(),
        ShearX => affine(&|s| ([1.0, s, 0.0, 1.0], [0.0, 0.0]))?,
        ShearY => affine(&|s| ([1.0, 0.0, s, 1.0], [0.0, 0.0]))?,
        TranslateX => affine(&|t| ([1.0, 0.0, 0.0, 1.0], [-t, 0.0]))?,
        TranslateY => affine(&|t| ([1.0, 0.0, 0.0, 1.0], [0.0, -t]))?,
        Rotate => affine(&|d| {
            let (c, s) = cos_sin(d);
            ([c, -s, s, c], [0.0, 0.0])
        })?,
        Brightness => (x * &one_plus_m).clamp(0.0, 1.0),
        Color => blend(x, &gray(x), &one_plus_m),
        Contrast => {
            let mean = gray(x).mean_dim([1i64, 2, 3].as_slice(), true, Kind::Float);
            blend(x, &mean.expand_as(x), &one_plus_m)
        }
        Sharpness => {
            let smooth = blur_per_sample(x, &vec![vec![1.0 / 13.0, 11.0 / 13.0, 1.0 / 13.0]; k as usize])?;
            blend(x, &smooth, &one_plus_m)
        }
        Posterize => {
            // keep 8 − bits bits of the 8-bit value
            let levels = mags.iter().map(|b| 2f64.powf(8.0 - b.round())).collect::<Vec<_>>();
            let l = super::on_device(&levels, x).view([k, 1, 1, 1]);
            let step: Tensor = 256.0 / &l;
            ((x * 255.0).round() / &step).floor() * &step / 255.0
        }
        Solarize => {
            let threshold: Tensor = 1.0 - &m;
            let inverted: Tensor = 1.0 - x;
            inverted.where_self(&x.ge_tensor(&threshold), x)
        }
        AutoContrast => {
            let lo = x.amin([2i64, 3].as_slice(), true);
            let hi = x.amax([2i64, 3].as_slice(), true);
            let span = (&hi - &lo).clamp_min(1e-6);
            ((x - &lo) / span).where_self(&hi.gt_tensor(&lo), x).clamp(0.0, 1.0)
        }
    })
}

/// Run one policy round: `choice[i]` names the op of sample i, `mags[i]` its magnitude.
fn apply_round(x: &Tensor, choice: &[usize], mags: &[f64]) -> Result<Tensor> {
    let mut out = x.shallow_clone();
    for (o, &op) in OPS.iter().enumerate() {
        let idx: Vec<i64> = choice.iter().enumerate().filter(|(_, &c)| c == o).map(|(i, _)| i as i64).collect();
        if idx.is_empty() || op == PolicyOp::Identity {
            continue;
        }
        let m: Vec<f64> = idx.iter().map(|&i| mags[i as usize]).collect();
        let t = Tensor::from_slice(&idx).to_device(x.device());
        let y = apply_op(op, &x.index_select(0, &t), &m)?;
        out = out.f_index_copy(0, &t, &y)?;
    }
    Ok(out)
}

/// RandAugment: `n` operations per sample at magnitude `m` of 30.
#[derive(Debug, Clone, PartialEq)]
pub struct RandAugment {
    pub n: usize,
    pub m: f64,
}

impl RandAugment {
    /// `n` operations (2 is typical) at magnitude `m` in `0..=30` (9 is typical).
    pub fn new(n: usize, m: f64) -> Result<Self> {
        if n == 0 || n > 13 {
            return Err(Error::invalid("RandAugment n", n, "must lie in 1..=13"));
        }
        if !(0.0..=30.0).contains(&m) {
            return Err(Error::invalid("RandAugment m", m, "must lie in [0, 30]"));
        }
        Ok(RandAugment { n, m })
    }
}

impl Augment for RandAugment {
    fn name(&self) -> String {
        format!("randaugment(n={},m={})", self.n, self.m)
    }

    fn apply_rng(&self, x: &Tensor, rng: &mut AugRng) -> Result<Tensor> {
        let (n, _, _, w) = check_batch("RandAugment", x, false)?;
        let mut y = x.shallow_clone();
        for _ in 0..self.n {
            let choice = rng.below(n as usize, OPS.len());
            let sign = rng.bernoulli(n as usize, 0.5);
            let mags: Vec<f64> = (0..n as usize)
                .map(|i| {
                    let op = OPS[choice[i]];
                    let v = self.m / 30.0 * max_magnitude(op, false, w as f64);
                    if signed(op) && sign[i] { -v } else { v }
                })
                .collect();
            y = apply_round(&y, &choice, &mags)?;
        }
        Ok(y)
    }
}

/// TrivialAugment Wide: one operation per sample at a uniformly drawn magnitude.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TrivialAugmentWide;

impl Augment for TrivialAugmentWide {
    fn name(&self) -> String {
        "trivialaugment".into()
    }

    fn apply_rng(&self, x: &Tensor, rng: &mut AugRng) -> Result<Tensor> {
        let (n, _, _, w) = check_batch("TrivialAugmentWide", x, false)?;
        let choice = rng.below(n as usize, OPS.len());
        let bins = rng.below(n as usize, 31);
        let sign = rng.bernoulli(n as usize, 0.5);
        let mags: Vec<f64> = (0..n as usize)
            .map(|i| {
                let op = OPS[choice[i]];
                let v = bins[i] as f64 / 30.0 * max_magnitude(op, true, w as f64);
                if signed(op) && sign[i] { -v } else { v }
            })
            .collect();
        apply_round(x, &choice, &mags)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_op_keeps_shape_and_range() {
        tch::manual_seed(0);
        let x = Tensor::rand([4, 3, 12, 12], (Kind::Float, tch::Device::Cpu));
        for op in OPS {
            let mags = vec![max_magnitude(op, true, 12.0) * 0.7; 4];
            let y = apply_op(op, &x, &mags).unwrap();
            assert_eq!(y.size(), x.size(), "{op:?}");
            assert!(y.min().double_value(&[]) >= 0.0 && y.max().double_value(&[]) <= 1.0, "{op:?}");
        }
    }

    #[test]
    fn zero_magnitude_enhancements_are_identities() {
        let x = Tensor::rand([2, 3, 8, 8], (Kind::Float, tch::Device::Cpu));
        for op in [PolicyOp::Brightness, PolicyOp::Color, PolicyOp::Contrast, PolicyOp::Sharpness, PolicyOp::Posterize] {
            let y = apply_op(op, &x, &[0.0, 0.0]).unwrap();
            let tol = if op == PolicyOp::Posterize { 0.5 / 255.0 + 1e-6 } else { 1e-6 };
            assert!((&y - &x).abs().max().double_value(&[]) <= tol, "{op:?}");
        }
        assert!(RandAugment::new(0, 9.0).is_err());
        assert!(RandAugment::new(2, 31.0).unwrap_err().to_string().contains("31"));
    }
}
