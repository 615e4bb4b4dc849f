//! Batch-level mixing with soft labels: MixUp (Zhang et al. 2018) and CutMix (Yun et
//! al. 2019). Each sample is mixed with another sample of the same batch (a seeded
//! permutation); the labels become the matching mixture of one-hot vectors.

use super::{check_batch, on_device, AugRng};
use crate::{Error, Result};
use rand::seq::SliceRandom;
use tch::{Kind, Tensor};

/// Draw from Beta(a, a) through two Gamma draws (Marsaglia & Tsang 2000).
fn beta(rng: &mut AugRng, a: f64) -> f64 {
    let x = gamma(rng, a);
    let y = gamma(rng, a);
    if x + y == 0.0 {
        0.5
    } else {
        x / (x + y)
    }
}

fn gamma(rng: &mut AugRng, shape: f64) -> f64 {
    use rand::Rng;
    if shape < 1.0 {
        let u: f64 = rng.inner().gen::<f64>().max(f64::MIN_POSITIVE);
        return gamma(rng, shape + 1.0) * u.powf(1.0 / shape);
    }
    let d = shape - 1.0 / 3.0;
    let c = 1.0 / (9.0 * d).sqrt();
    loop {
        let (u1, u2): (f64, f64) = (rng.inner().gen::<f64>().max(f64::MIN_POSITIVE), rng.inner().gen());
        let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
        let v = (1.0 + c * z).powi(3);
        if v <= 0.0 {
            continue;
        }
        let u: f64 = rng.inner().gen::<f64>().max(f64::MIN_POSITIVE);
        if u.ln() < 0.5 * z * z + d - d * v + d * v.ln() {
            return d * v;
        }
    }
}

fn one_hot(labels: &Tensor, k: usize) -> Result<Tensor> {
    if labels.kind() != Kind::Int64 || labels.dim() != 1 {
        return Err(Error::shape("mixing labels", "[N] Int64", format!("{:?} {:?}", labels.size(), labels.kind())));
    }
    let (lo, hi) = (labels.min().int64_value(&[]), labels.max().int64_value(&[]));
    if lo < 0 || hi >= k as i64 {
        return Err(Error::invalid("label", if lo < 0 { lo } else { hi }, format!("labels must lie in 0..{k}")));
    }
    Ok(labels.one_hot(k as i64).to_kind(Kind::Float))
}

fn check_alpha(a: f64) -> Result<()> {
    if !(a > 0.0 && a.is_finite()) {
        return Err(Error::invalid("alpha", a, "must be positive"));
    }
    Ok(())
}

/// MixUp: `x' = λ x + (1 − λ) x[perm]`, `y' = λ y + (1 − λ) y[perm]`, λ ~ Beta(α, α)
/// drawn per sample.
#[derive(Debug, Clone, PartialEq)]
pub struct MixUp {
    pub alpha: f64,
}

impl MixUp {
    /// MixUp with Beta(α, α) weights (α = 0.2–0.4 is common).
    pub fn new(alpha: f64) -> Result<Self> {
        check_alpha(alpha)?;
        Ok(MixUp { alpha })
    }

    /// Mix `images` `[N, C, H, W]` and `labels` `[N]` (in `0..num_classes`); returns the
    /// mixed images and soft labels `[N, num_classes]` whose rows sum to 1.
    pub fn apply(&self, images: &Tensor, labels: &Tensor, num_classes: usize, rng: &mut AugRng) -> Result<(Tensor, Tensor)> {
        check_alpha(self.alpha)?;
        let (n, ..) = check_batch("MixUp", images, true)?;
        let y = one_hot(labels, num_classes)?;
        let perm = permutation(n, rng, images);
        let lam: Vec<f64> = (0..n).map(|_| beta(rng, self.alpha)).collect();
        let l = on_device(&lam, images);
        let xm = images * l.view([n, 1, 1, 1]) + images.index_select(0, &perm) * (1.0 - l.view([n, 1, 1, 1]));
        let ym = &y * l.view([n, 1]) + y.index_select(0, &perm) * (1.0 - l.view([n, 1]));
        Ok((xm, ym))
    }
}

/// CutMix: a box of area `1 − λ` (λ ~ Beta(α, α)) is pasted from `x[perm]`; the
/// labels mix in proportion to the pasted area actually used.
#[derive(Debug, Clone, PartialEq)]
pub struct CutMix {
    pub alpha: f64,
}

impl CutMix {
    /// CutMix with Beta(α, α) (α = 1 in the paper).
    pub fn new(alpha: f64) -> Result<Self> {
        check_alpha(alpha)?;
        Ok(CutMix { alpha })
    }

    /// Like [`MixUp::apply`].
    pub fn apply(&self, images: &Tensor, labels: &Tensor, num_classes: usize, rng: &mut AugRng) -> Result<(Tensor, Tensor)> {
        check_alpha(self.alpha)?;
        let (n, _, h, w) = check_batch("CutMix", images, true)?;
        let y = one_hot(labels, num_classes)?;
        let perm = permutation(n, rng, images);
        let (mut boxes, mut kept) = (Vec::with_capacity(n as usize), Vec::with_capacity(n as usize));
        for _ in 0..n {
            let lam = beta(rng, self.alpha);
            let (ch, cw) = ((h as f64 * (1.0 - lam).sqrt()).round(), (w as f64 * (1.0 - lam).sqrt()).round());
            let cy = rng.uniform(1, 0.0, h as f64)[0].floor();
            let cx = rng.uniform(1, 0.0, w as f64)[0].floor();
            let (a, b) = ((cy - ch / 2.0).max(0.0), (cy + ch / 2.0).min(h as f64));
            let (c, d) = ((cx - cw / 2.0).max(0.0), (cx + cw / 2.0).min(w as f64));
            boxes.push([a, b, c, d]);
            kept.push(1.0 - (b - a) * (d - c) / (h * w) as f64);
        }
        let inside = super::box_mask(images, &boxes);
        let xm = images.index_select(0, &perm).where_self(&inside, images);
        let l = on_device(&kept, images).view([n, 1]);
        let ym = &y * &l + y.index_select(0, &perm) * (1.0 - &l);
        Ok((xm, ym))
    }
}

fn permutation(n: i64, rng: &mut AugRng, like: &Tensor) -> Tensor {
    let mut p: Vec<i64> = (0..n).collect();
    p.shuffle(rng.inner());
    Tensor::from_slice(&p).to_device(like.device())
}
