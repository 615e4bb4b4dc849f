//! LoRA: low-rank adapters on frozen linear and convolution layers (Hu et al.,
//! "LoRA: Low-Rank Adaptation of Large Language Models", ICLR 2022).
//!
//! A frozen weight `W` (`[out, in]`) is used as `W + (α / r) · B A` with `A`
//! (`[r, in]`) and `B` (`[out, r]`) trainable. `B` starts at zero, so the adapted
//! layer equals the base layer until training moves it; `A` starts as PyTorch
//! initialises a linear layer's weight, from the adapter's seed. For a convolution
//! `A` is an `r`-channel convolution with the base kernel's size, stride and padding
//! and `B` a 1×1 convolution back to the output channels, so `B A` folds into a
//! kernel of the base's shape.
//!
//! The base weights live in one `VarStore` (frozen), the adapters in another, so an
//! optimiser built on the adapters' store can only move them, and the counts of
//! trainable parameters are exact. [`LoraLinear::merge`] folds the adapter into the
//! base weight for inference at the base cost; [`LoraLinear::unmerge`] takes it out.

use crate::augment::AugRng;
use crate::{derive_seed, Error, Result};
use rand::Rng;
use std::sync::Mutex;
use tch::{nn, Tensor};

/// Rank, scale and dropout of an adapter.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LoraConfig {
    /// Rank `r` of the update (1–64 is usual).
    pub rank: i64,
    /// The update is scaled by `alpha / rank`.
    pub alpha: f64,
    /// Dropout on the adapter's input during training.
    pub dropout: f64,
}

impl Default for LoraConfig {
    /// r = 8, α = 16, no dropout.
    fn default() -> Self {
        LoraConfig { rank: 8, alpha: 16.0, dropout: 0.0 }
    }
}

impl LoraConfig {
    pub fn check(&self) -> Result<()> {
        if self.rank < 1 {
            return Err(Error::invalid("LoRA rank", self.rank, "must be at least 1"));
        }
        if !(self.alpha > 0.0 && self.alpha.is_finite()) {
            return Err(Error::invalid("LoRA alpha", self.alpha, "must be positive"));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(Error::invalid("LoRA dropout", self.dropout, "must lie in [0, 1)"));
        }
        Ok(())
    }

    fn scale(&self) -> f64 {
        self.alpha / self.rank as f64
    }
}

/// `A`: PyTorch's default for a layer with `fan_in` inputs, U(±1/√fan_in), seeded.
fn init_a(shape: &[i64], fan_in: i64, seed: u64, device: tch::Device) -> Tensor {
    let mut rng = crate::rng(seed);
    let bound = 1.0 / (fan_in as f64).sqrt();
    let n: i64 = shape.iter().product();
    let v: Vec<f32> = (0..n).map(|_| rng.gen_range(-bound..bound) as f32).collect();
    Tensor::from_slice(&v).view(shape).to_device(device)
}

fn adapter_dropout(x: &Tensor, p: f64, rng: &Mutex<AugRng>, train: bool) -> Tensor {
    if !train || p == 0.0 {
        return x.shallow_clone();
    }
    let keep = rng.lock().unwrap_or_else(|e| e.into_inner()).uniform_tensor(&x.size(), x.device()).ge(p);
    x * keep.to_kind(x.kind()) / (1.0 - p)
}

/// The trainable half of a LoRA linear layer: `A` (`[r, in]`) and `B` (`[out, r]`,
/// zero at start). Its output, `(α / r) · B A x`, is added to the frozen layer's.
#[derive(Debug)]
pub struct LinearAdapter {
    /// `[r, in]`, trainable.
    pub a: Tensor,
    /// `[out, r]`, trainable, zero at start.
    pub b: Tensor,
    pub config: LoraConfig,
    rng: Mutex<AugRng>,
}

impl LinearAdapter {
    /// An adapter for a weight of shape `[out, in]` on `device`, registered under
    /// `adapters` as `lora_a` and `lora_b`.
    pub fn new(out: i64, inp: i64, device: tch::Device, adapters: &nn::Path, config: LoraConfig, seed: u64) -> Result<Self> {
        config.check()?;
        let a = adapters.var_copy("lora_a", &init_a(&[config.rank, inp], inp, derive_seed(seed, "lora_a"), device));
        let b = adapters.zeros("lora_b", &[out, config.rank]);
        Ok(LinearAdapter { a, b, config, rng: Mutex::new(AugRng::new(derive_seed(seed, "lora_dropout"))) })
    }

    /// `(α / r) · B A`, the update to the base weight.
    pub fn delta(&self) -> Tensor {
        self.b.matmul(&self.a) * self.config.scale()
    }

    /// The adapter's contribution for input `x` (`[…, in]` → `[…, out]`), with the
    /// adapter's dropout on `x` when training.
    pub fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let h = adapter_dropout(x, self.config.dropout, &self.rng, train);
        h.matmul(&self.a.tr()).matmul(&self.b.tr()) * self.config.scale()
    }
}

/// A frozen `nn::Linear` with a LoRA adapter.
#[derive(Debug)]
pub struct LoraLinear {
    pub base: nn::Linear,
    pub adapter: LinearAdapter,
    merged: bool,
}

impl LoraLinear {
    /// Wrap `base` (whose weights should live in a frozen store) with adapters
    /// registered under `adapters`.
    pub fn new(base: nn::Linear, adapters: &nn::Path, config: LoraConfig, seed: u64) -> Result<Self> {
        let (out, inp) = (base.ws.size()[0], base.ws.size()[1]);
        let adapter = LinearAdapter::new(out, inp, base.ws.device(), adapters, config, seed)?;
        Ok(LoraLinear { base, adapter, merged: false })
    }

    /// `(α / r) · B A`, the update to the base weight.
    pub fn delta(&self) -> Tensor {
        self.adapter.delta()
    }

    /// Fold the adapter into the base weight (forward then costs what the base costs).
    pub fn merge(&mut self) {
        if !self.merged {
            merge_into(&self.base.ws, &self.delta(), true);
            self.merged = true;
        }
    }

    /// Take a merged adapter back out of the base weight.
    pub fn unmerge(&mut self) {
        if self.merged {
            merge_into(&self.base.ws, &self.delta(), false);
            self.merged = false;
        }
    }

    pub fn is_merged(&self) -> bool {
        self.merged
    }
}

/// Add (`add`) or subtract an adapter's update to a frozen weight in place.
pub(crate) fn merge_into(weight: &Tensor, delta: &Tensor, add: bool) {
    tch::no_grad(|| {
        let mut w = weight.shallow_clone();
        let _ = if add { w.g_add_(delta) } else { w.g_sub_(delta) };
    });
}

impl nn::ModuleT for LoraLinear {
    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let y = x.apply(&self.base);
        if self.merged {
            y
        } else {
            y + self.adapter.forward_t(x, train)
        }
    }
}

/// The trainable half of a LoRA convolution: `A` (an `r`-channel convolution with
/// the base kernel's size, stride, padding and dilation) and `B` (1×1, zero at start).
#[derive(Debug)]
pub struct ConvAdapter {
    /// `[r, in, kh, kw]`.
    pub a: Tensor,
    /// `[out, r, 1, 1]`.
    pub b: Tensor,
    pub config: LoraConfig,
    /// The base convolution's stride, padding and dilation (tch keeps them private).
    pub conv: nn::ConvConfig,
    rng: Mutex<AugRng>,
}

impl ConvAdapter {
    /// An adapter for the kernel `base_ws` (`[out, in, kh, kw]`), built with `conv`,
    /// registered under `adapters`.
    pub fn new(base_ws: &Tensor, conv: nn::ConvConfig, adapters: &nn::Path, config: LoraConfig, seed: u64) -> Result<Self> {
        config.check()?;
        if conv.groups != 1 {
            return Err(Error::invalid("LoRA on a grouped convolution", conv.groups, "only groups = 1 is supported"));
        }
        let s = base_ws.size();
        let (out, inp, kh, kw) = (s[0], s[1], s[2], s[3]);
        let a = adapters.var_copy("lora_a", &init_a(&[config.rank, inp, kh, kw], inp * kh * kw, derive_seed(seed, "lora_a"), base_ws.device()));
        let b = adapters.zeros("lora_b", &[out, config.rank, 1, 1]);
        Ok(ConvAdapter { a, b, config, conv, rng: Mutex::new(AugRng::new(derive_seed(seed, "lora_dropout"))) })
    }

    /// The update folded into a kernel of shape `shape` (the base's).
    pub fn delta(&self, shape: &[i64]) -> Tensor {
        let (out, r) = (self.b.size()[0], self.config.rank);
        (self.b.reshape([out, r]).matmul(&self.a.reshape([r, -1])) * self.config.scale()).reshape(shape)
    }

    /// The adapter's contribution to the output for input `x`.
    pub fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let c = &self.conv;
        let h = adapter_dropout(x, self.config.dropout, &self.rng, train);
        let low = h.conv2d(&self.a, None::<&Tensor>, [c.stride; 2], [c.padding; 2], [c.dilation; 2], 1);
        low.conv2d(&self.b, None::<&Tensor>, [1, 1], [0, 0], [1, 1], 1) * self.config.scale()
    }
}

impl nn::ModuleT for ConvAdapter {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        ConvAdapter::forward_t(self, xs, train)
    }
}

/// A frozen `nn::Conv2D` with a LoRA adapter (groups = 1).
#[derive(Debug)]
pub struct LoraConv2d {
    pub base: nn::Conv2D,
    pub adapter: ConvAdapter,
    merged: bool,
}

impl LoraConv2d {
    /// Wrap `base`, built with `conv`, with adapters registered under `adapters`.
    pub fn new(base: nn::Conv2D, conv: nn::ConvConfig, adapters: &nn::Path, config: LoraConfig, seed: u64) -> Result<Self> {
        let adapter = ConvAdapter::new(&base.ws, conv, adapters, config, seed)?;
        Ok(LoraConv2d { base, adapter, merged: false })
    }

    pub fn delta(&self) -> Tensor {
        self.adapter.delta(&self.base.ws.size())
    }

    pub fn merge(&mut self) {
        if !self.merged {
            merge_into(&self.base.ws, &self.delta(), true);
            self.merged = true;
        }
    }

    pub fn unmerge(&mut self) {
        if self.merged {
            merge_into(&self.base.ws, &self.delta(), false);
            self.merged = false;
        }
    }

    pub fn is_merged(&self) -> bool {
        self.merged
    }
}

impl nn::ModuleT for LoraConv2d {
    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let y = x.apply(&self.base);
        if self.merged {
            y
        } else {
            y + self.adapter.forward_t(x, train)
        }
    }
}

/// Trainable and total scalars of a model split into a frozen base store and a
/// trainable adapter (or head) store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ParameterCount {
    pub trainable: usize,
    pub total: usize,
}

impl ParameterCount {
    /// Count over stores: every parameter counts towards the total, trainable ones
    /// (requires_grad) towards `trainable`. Batch-norm running statistics are
    /// buffers, not parameters (as in PyTorch's `parameters()`), and are left out.
    pub fn of(stores: &[&nn::VarStore]) -> Self {
        let (mut trainable, mut total) = (0, 0);
        for vs in stores {
            for (name, t) in vs.variables() {
                if name.ends_with("running_mean") || name.ends_with("running_var") || name.ends_with("num_batches_tracked") {
                    continue;
                }
                total += t.numel();
                if t.requires_grad() {
                    trainable += t.numel();
                }
            }
        }
        ParameterCount { trainable, total }
    }

    pub fn percent(&self) -> f64 {
        100.0 * self.trainable as f64 / self.total.max(1) as f64
    }
}

impl std::fmt::Display for ParameterCount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} trainable of {} parameters ({:.2}%)", self.trainable, self.total, self.percent())
    }
}
