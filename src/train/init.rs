//! Seeded weight initialisation and the channels-last memory layout.
//!
//! tch initialises layers from libtorch's process-global generator, which any other
//! thread may draw from or reseed. [`reset_parameters`] overwrites every trainable
//! variable from a generator of our own, visiting them in name order, so the same
//! seed gives the same initial weights whatever else runs in the process. The
//! distributions are PyTorch's defaults, so a model starts as its PyTorch twin would:
//!
//! | variable | rule |
//! |---|---|
//! | weight of a convolution or linear layer (rank ≥ 2) | U(−1/√fan_in, 1/√fan_in) (Kaiming uniform with a = √5) |
//! | its bias | U(−1/√fan_in, 1/√fan_in) with the weight's fan_in |
//! | batch-norm weight / bias (rank 1, no rank ≥ 2 sibling) | 1 / 0 |

use crate::{Error, Result};
use rand::Rng;
use std::collections::BTreeMap;
use tch::{nn, Tensor};

/// Overwrite every trainable variable of `vs` from `seed` (see the module docs).
pub fn reset_parameters(vs: &nn::VarStore, seed: u64) -> Result<()> {
    reset_parameters_under(vs, "", seed)
}

/// Overwrite the trainable variables of `vs` whose names start with `prefix` (e.g.
/// `"head."`) from `seed`. They get the values [`reset_parameters`] would give them in
/// a store of their own: the visiting order (by name) is the same.
pub fn reset_parameters_under(vs: &nn::VarStore, prefix: &str, seed: u64) -> Result<()> {
    let mut rng = crate::rng(seed);
    let trainable: Vec<Tensor> = vs.trainable_variables();
    let is_trainable = |t: &Tensor| trainable.iter().any(|v| v.data_ptr() == t.data_ptr());
    let vars: BTreeMap<String, Tensor> = vs.variables().into_iter().filter(|(k, _)| k.starts_with(prefix)).collect();
    let all = vs.variables();
    let fan_in = |t: &Tensor| -> i64 {
        let s = t.size();
        s.iter().skip(1).product::<i64>().max(1)
    };
    tch::no_grad(|| -> Result<()> {
        for (name, var) in &vars {
            if !is_trainable(var) {
                continue;
            }
            let dims = var.size();
            let (layer, leaf) = name.rsplit_once('.').unwrap_or(("", name.as_str()));
            let sibling_weight = all.get(&format!("{layer}.weight")).filter(|w| w.dim() >= 2);
            let values: Vec<f32> = match (leaf, dims.len(), sibling_weight) {
                (_, d, _) if d >= 2 => uniform(&mut rng, var.numel(), 1.0 / (fan_in(var) as f64).sqrt()),
                ("bias", 1, Some(weight)) => uniform(&mut rng, var.numel(), 1.0 / (fan_in(weight) as f64).sqrt()),
                ("weight", 1, _) => vec![1.0; var.numel()],
                ("bias", 1, _) => vec![0.0; var.numel()],
                _ => {
                    return Err(Error::invalid(
                        "variable",
                        name,
                        "reset_parameters knows conv/linear weights and biases and batch-norm scales and shifts",
                    ))
                }
            };
            let new = Tensor::from_slice(&values).view(dims.as_slice()).to_device(var.device()).to_kind(var.kind());
            var.shallow_clone().copy_(&new);
        }
        Ok(())
    })
}

fn uniform(rng: &mut impl Rng, n: usize, bound: f64) -> Vec<f32> {
    (0..n).map(|_| rng.gen_range(-bound..bound) as f32).collect()
}

/// The same values with channels-last strides (`[N, C, H, W]` stored as NHWC).
/// Convolutions, pooling and their gradients run about 1.5× faster on the CPU in this
/// layout; results are unchanged up to float rounding. Other ranks are returned as is.
pub fn channels_last(x: &Tensor) -> Tensor {
    if x.dim() != 4 {
        return x.shallow_clone();
    }
    let s = x.size();
    let (c, h, w) = (s[1], s[2], s[3]);
    let strides = [c * h * w, 1, w * c, c];
    if x.stride() == strides {
        return x.shallow_clone();
    }
    let out = Tensor::empty_strided(s.as_slice(), &strides[..], (x.kind(), x.device()));
    let mut o = out.shallow_clone();
    o.copy_(x);
    out
}

/// Store every rank-4 variable of `vs` (convolution weights) channels-last, in place:
/// the variables keep their identity, so optimisers built before or after see them.
pub fn to_channels_last(vs: &nn::VarStore) {
    tch::no_grad(|| {
        for (_, mut var) in vs.variables() {
            if var.dim() == 4 {
                let cl = channels_last(&var);
                var.set_data(&cl);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_last_keeps_values_and_sets_strides() {
        let x = Tensor::arange(2 * 3 * 4 * 5, (tch::Kind::Float, tch::Device::Cpu)).view([2, 3, 4, 5]);
        let y = channels_last(&x);
        assert_eq!(y.stride(), vec![60, 1, 15, 3]);
        assert!(y.equal(&x));
        // single channel: the channel stride must still be 1 (what libtorch checks)
        let g = channels_last(&Tensor::zeros([2, 1, 3, 3], (tch::Kind::Float, tch::Device::Cpu)));
        assert_eq!(g.stride(), vec![9, 1, 3, 1]);
    }
}
