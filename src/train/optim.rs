//! Adam whose state can be saved and restored, so that a generative model's training
//! resumes after a kill exactly where it stopped. (tch's optimisers keep their moments
//! inside libtorch, out of reach of a checkpoint.)
//!
//! The update is PyTorch's `torch.optim.Adam` without weight decay:
//! `m ← β₁m + (1−β₁)g`, `v ← β₂v + (1−β₂)g²`,
//! `p ← p − lr/(1−β₁ᵗ) · m / (√v/√(1−β₂ᵗ) + ε)`.

use crate::{Error, Result};
use tch::{nn, Kind, Tensor};

/// Adam over the trainable variables of one [`nn::VarStore`], with its state as named tensors.
#[derive(Debug)]
pub struct Adam {
    pub lr: f64,
    pub betas: (f64, f64),
    pub eps: f64,
    /// Updates made so far (t in the bias corrections).
    pub t: i64,
    params: Vec<(String, Tensor)>,
    m: Vec<Tensor>,
    v: Vec<Tensor>,
}

impl Adam {
    /// Adam over every trainable variable of `vs`, in name order.
    pub fn new(vs: &nn::VarStore, lr: f64, betas: (f64, f64)) -> Result<Self> {
        if !(lr > 0.0 && lr.is_finite()) {
            return Err(Error::invalid("learning rate", lr, "must be a positive number"));
        }
        for (what, b) in [("beta1", betas.0), ("beta2", betas.1)] {
            if !(0.0..1.0).contains(&b) {
                return Err(Error::invalid(what, b, "must lie in [0, 1)"));
            }
        }
        let trainable = vs.trainable_variables();
        let mut params: Vec<(String, Tensor)> =
            vs.variables().into_iter().filter(|(_, v)| trainable.iter().any(|t| t.data_ptr() == v.data_ptr())).collect();
        params.sort_by(|a, b| a.0.cmp(&b.0));
        let m = params.iter().map(|(_, p)| p.zeros_like().detach()).collect();
        let v = params.iter().map(|(_, p)| p.zeros_like().detach()).collect();
        Ok(Adam { lr, betas, eps: 1e-8, t: 0, params, m, v })
    }

    /// Clear the gradients of every parameter.
    pub fn zero_grad(&mut self) {
        for (_, p) in &mut self.params {
            let mut g = p.grad();
            if g.defined() {
                let _ = g.detach_();
                let _ = g.zero_();
            }
        }
    }

    /// One update from the current gradients (parameters without a gradient are left alone).
    pub fn step(&mut self) {
        self.t += 1;
        let (b1, b2) = self.betas;
        let bc1 = 1.0 - b1.powi(self.t as i32);
        let bc2 = 1.0 - b2.powi(self.t as i32);
        tch::no_grad(|| {
            for (((_, p), m), v) in self.params.iter().zip(&mut self.m).zip(&mut self.v) {
                let g = p.grad();
                if !g.defined() {
                    continue;
                }
                let _ = m.g_mul_scalar_(b1).g_add_(&(&g * (1.0 - b1)));
                let _ = v.g_mul_scalar_(b2).g_add_(&(&g * &g * (1.0 - b2)));
                let denom = v.sqrt() / bc2.sqrt() + self.eps;
                let _ = p.shallow_clone().g_sub_(&(&*m / denom * (self.lr / bc1)));
            }
        });
    }

    /// The state as named tensors under `prefix`: `{prefix}/m/{name}`, `{prefix}/v/{name}`, `{prefix}/t`.
    pub fn state(&self, prefix: &str) -> Vec<(String, Tensor)> {
        let mut out = vec![(format!("{prefix}/t"), Tensor::from_slice(&[self.t]))];
        for (((name, _), m), v) in self.params.iter().zip(&self.m).zip(&self.v) {
            out.push((format!("{prefix}/m/{name}"), m.copy()));
            out.push((format!("{prefix}/v/{name}"), v.copy()));
        }
        out
    }

    /// Restore what [`Adam::state`] saved; every tensor must be there with its shape.
    pub fn load_state(&mut self, prefix: &str, stored: &std::collections::HashMap<String, Tensor>) -> Result<()> {
        let get = |key: String| stored.get(&key).ok_or_else(|| Error::invalid("optimizer state", key, "missing from the checkpoint"));
        self.t = get(format!("{prefix}/t"))?.int64_value(&[0]);
        tch::no_grad(|| {
            for (((name, p), m), v) in self.params.iter().zip(&mut self.m).zip(&mut self.v) {
                for (slot, dst) in [("m", &mut *m), ("v", &mut *v)] {
                    let src = get(format!("{prefix}/{slot}/{name}"))?;
                    if src.size() != p.size() {
                        return Err(Error::shape(format!("optimizer state {prefix}/{slot}/{name}"), format!("{:?}", p.size()), format!("{:?}", src.size())));
                    }
                    dst.copy_(&src.to_kind(Kind::Float).to_device(p.device()));
                }
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two steps on f(p) = Σ (p − 3)², against the update written out by hand
    /// (PyTorch's formula, computed in f64).
    #[test]
    fn matches_the_formula() {
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let p = vs.root().var_copy("p", &Tensor::from_slice(&[1.0f32, -2.0]));
        let mut opt = Adam::new(&vs, 0.1, (0.9, 0.999)).unwrap();
        let (mut m, mut v, mut x) = ([0.0f64; 2], [0.0f64; 2], [1.0f64, -2.0]);
        for t in 1..=2 {
            opt.zero_grad();
            (&p - 3.0).square().sum(Kind::Float).backward();
            opt.step();
            for i in 0..2 {
                let g = 2.0 * (x[i] - 3.0);
                m[i] = 0.9 * m[i] + 0.1 * g;
                v[i] = 0.999 * v[i] + 0.001 * g * g;
                let (bc1, bc2) = (1.0 - 0.9f64.powi(t), 1.0 - 0.999f64.powi(t));
                x[i] -= 0.1 / bc1 * m[i] / (v[i].sqrt() / bc2.sqrt() + 1e-8);
            }
        }
        for i in 0..2 {
            assert!((p.double_value(&[i as i64]) - x[i]).abs() < 1e-5, "{} vs {}", p.double_value(&[i as i64]), x[i]);
        }
        assert!(Adam::new(&vs, -1.0, (0.9, 0.999)).is_err());
        assert!(Adam::new(&vs, 0.1, (1.0, 0.999)).is_err());
    }
}
