//! Composition: chains, random application, choice among operations.

use super::{check_batch, check_probability, select_samples, AugRng, Augment};
use crate::{Error, Result};
use tch::{Kind, Tensor};

/// Leaves the images unchanged (the "none" arm of a study).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Identity;

impl Augment for Identity {
    fn name(&self) -> String {
        "none".into()
    }
    fn apply_rng(&self, x: &Tensor, _rng: &mut AugRng) -> Result<Tensor> {
        check_batch("Identity", x, true)?;
        Ok(x.shallow_clone())
    }
}

/// Operations applied one after the other.
#[derive(Debug)]
pub struct Compose {
    pub ops: Vec<Box<dyn Augment>>,
}

impl Compose {
    /// Chain `ops` in order.
    pub fn new(ops: Vec<Box<dyn Augment>>) -> Self {
        Compose { ops }
    }
}

impl Augment for Compose {
    fn name(&self) -> String {
        if self.ops.is_empty() {
            return "none".into();
        }
        self.ops.iter().map(|o| o.name()).collect::<Vec<_>>().join("+")
    }
    fn apply_rng(&self, x: &Tensor, rng: &mut AugRng) -> Result<Tensor> {
        let mut y = x.shallow_clone();
        for op in &self.ops {
            y = op.apply_rng(&y, rng)?;
        }
        Ok(y)
    }
}

/// Apply `op` to each sample with probability `p` (chosen per sample).
#[derive(Debug)]
pub struct RandomApply {
    pub op: Box<dyn Augment>,
    pub p: f64,
}

impl RandomApply {
    /// `op` with probability `p`.
    pub fn new(op: Box<dyn Augment>, p: f64) -> Result<Self> {
        check_probability("RandomApply p", p)?;
        Ok(RandomApply { op, p })
    }
}

impl Augment for RandomApply {
    fn name(&self) -> String {
        format!("{}@{}", self.op.name(), self.p)
    }
    fn apply_rng(&self, x: &Tensor, rng: &mut AugRng) -> Result<Tensor> {
        check_probability("RandomApply p", self.p)?;
        let (n, ..) = check_batch("RandomApply", x, true)?;
        let mask = rng.bernoulli(n as usize, self.p);
        let y = self.op.apply_rng(x, rng)?;
        if y.size() != x.size() {
            return Err(Error::shape("RandomApply: the operation must keep the size", format!("{:?}", x.size()), format!("{:?}", y.size())));
        }
        Ok(select_samples(&mask, &y, x))
    }
}

/// One operation per sample, chosen with the given weights (uniform by default).
#[derive(Debug)]
pub struct OneOf {
    pub ops: Vec<Box<dyn Augment>>,
    pub weights: Vec<f64>,
}

impl OneOf {
    /// Choose uniformly among `ops`.
    pub fn new(ops: Vec<Box<dyn Augment>>) -> Result<Self> {
        let k = ops.len();
        Self::weighted(ops, vec![1.0; k])
    }

    /// Choose with probabilities proportional to `weights`.
    pub fn weighted(ops: Vec<Box<dyn Augment>>, weights: Vec<f64>) -> Result<Self> {
        if ops.is_empty() {
            return Err(Error::invalid("OneOf operations", "[]", "needs at least one operation"));
        }
        if weights.len() != ops.len() {
            return Err(Error::shape("OneOf weights vs operations", ops.len(), weights.len()));
        }
        if let Some(w) = weights.iter().find(|w| !(w.is_finite() && **w >= 0.0)) {
            return Err(Error::invalid("OneOf weight", w, "weights must be finite and ≥ 0"));
        }
        if weights.iter().sum::<f64>() <= 0.0 {
            return Err(Error::invalid("OneOf weights", format!("{weights:?}"), "at least one weight must be positive"));
        }
        Ok(OneOf { ops, weights })
    }
}

impl Augment for OneOf {
    fn name(&self) -> String {
        format!("oneof({})", self.ops.iter().map(|o| o.name()).collect::<Vec<_>>().join("|"))
    }
    fn apply_rng(&self, x: &Tensor, rng: &mut AugRng) -> Result<Tensor> {
        let (n, ..) = check_batch("OneOf", x, true)?;
        let total: f64 = self.weights.iter().sum();
        let choice: Vec<usize> = rng
            .uniform(n as usize, 0.0, total)
            .into_iter()
            .map(|u| {
                let mut acc = 0.0;
                self.weights.iter().position(|w| {
                    acc += w;
                    u < acc
                })
                .unwrap_or(self.weights.len() - 1)
            })
            .collect();
        let mut out = x.shallow_clone();
        for (k, op) in self.ops.iter().enumerate() {
            let mask: Vec<bool> = choice.iter().map(|&c| c == k).collect();
            if !mask.iter().any(|&m| m) {
                continue;
            }
            // only the chosen samples go through the operation
            let idx: Vec<i64> = (0..n).filter(|&i| mask[i as usize]).collect();
            let idx = Tensor::from_slice(&idx).to_device(x.device());
            let y = op.apply_rng(&x.index_select(0, &idx), rng)?;
            out = out.f_index_copy(0, &idx, &y.to_kind(Kind::Float))?;
        }
        Ok(out)
    }
}
