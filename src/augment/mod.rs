//! Data augmentation for image batches and tables.
//!
//! Image operations work on whole batches `[N, C, H, W]` of f32 in `[0, 1]`, on the
//! CPU or a GPU, with tensor operations (an affine sampling grid, masks, grouped
//! convolutions) rather than per-pixel Rust loops. The exceptions are the three
//! operations a small-data study runs most, on CPU batches that do not require grad:
//! the bilinear affine warp of rotations and affine maps (`warp_cpu.rs`), the crop
//! (row copies, no padded intermediate) and Gaussian noise (vectorised draws fused
//! with the add and the clip, `normal_cpu.rs`). Each is tested equal to the tensor
//! path, which GPUs and grad-requiring batches still take, and each is several times
//! faster than it on one thread (`smalldata bench augment`). **Each sample draws its
//! own parameters** (its own crop, angle, noise), unlike a batch-level transform that
//! applies one draw to the whole batch.
//!
//! Randomness comes from an [`AugRng`] passed in, so a pipeline is a pure
//! description and the same seed gives bit-identical output on the CPU. Parameters
//! are drawn on the host from the seeded generator; per-pixel noise is drawn on the
//! host from generators seeded by it, never from libtorch's process-global
//! generator, so a GPU batch gets the same noise as a CPU one.
//!
//! An operation cannot hold invalid parameters: `RandomCrop::new(28, 28)` returns
//! unchecked [`RandomCropParams`], whose builder methods set the rest, and `build()`
//! (or [`crate::params::ParamGuard::check`]) checks them once, with an error naming
//! the bad value, and returns the [`RandomCrop`] that can be applied. The checked
//! operation reads its parameters through `Deref` and cannot be changed.
//!
//! ```no_run
//! use smalldata::augment::{Augment, Compose, GaussianNoise, RandomCrop, RandomRotation};
//! # fn main() -> smalldata::Result<()> {
//! let images = tch::Tensor::rand([8, 1, 28, 28], (tch::Kind::Float, tch::Device::Cpu));
//! let pipeline = Compose::new(vec![
//!     Box::new(RandomCrop::new(28, 28).padding(4).build()?),
//!     Box::new(RandomRotation::new(-15.0, 15.0).build()?),
//!     Box::new(GaussianNoise::new(0.05).build()?),
//! ]);
//! let out = pipeline.apply(&images, 0)?; // seed 0
//! assert_eq!(out.size(), images.size());
//! # Ok(()) }
//! ```
//!
//! | family | file | operations |
//! |---|---|---|
//! | crops | `crop.rs` | [`RandomCrop`], [`RandomResizedCrop`] |
//! | geometric | `geometric.rs` | [`RandomRotation`], [`RandomAffine`], [`Flip`], [`ElasticTransform`] |
//! | photometric | `photometric.rs` | [`GaussianNoise`], [`GaussianBlur`], [`ColorJitter`], [`RandomErasing`] |
//! | batch mixing | `mix.rs` | [`MixUp`], [`CutMix`] (soft labels) |
//! | composition | `compose.rs` | [`Compose`], [`RandomApply`], [`OneOf`], [`Identity`] |
//! | policies | `policy.rs` | [`RandAugment`], [`TrivialAugmentWide`] |
//! | tables | `tabular.rs` | jitter, mixup, SMOTER, SMOGN-style |

mod compose;
mod crop;
mod geometric;
mod mix;
mod normal_cpu;
mod photometric;
mod policy;
mod preview;
mod warp_cpu;
pub mod tabular;

pub use compose::{Compose, Identity, OneOf, RandomApply};
pub use crop::{RandomCrop, RandomCropParams, RandomResizedCrop, RandomResizedCropParams};
pub use geometric::{ElasticTransform, ElasticTransformParams, Fill, Flip, FlipParams, RandomAffine, RandomAffineParams, RandomRotation, RandomRotationParams};
pub use mix::{CutMix, MixUp};
pub use photometric::{ColorJitter, ColorJitterParams, GaussianBlur, GaussianBlurParams, GaussianNoise, GaussianNoiseParams, RandomErasing, RandomErasingParams};
pub use policy::{PolicyOp, RandAugment, TrivialAugmentWide};
pub use preview::{preview, preview_labelled};

use crate::{Error, Result};
use rand::Rng;
use tch::{Kind, Tensor};

/// The random generator threaded through a pipeline.
#[derive(Debug, Clone)]
pub struct AugRng(rand_xoshiro::Xoshiro256PlusPlus);

impl AugRng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        AugRng(crate::rng(seed))
    }

    /// `n` draws uniform in `[lo, hi)` (exactly `lo` when `lo == hi`).
    pub fn uniform(&mut self, n: usize, lo: f64, hi: f64) -> Vec<f64> {
        (0..n).map(|_| if hi > lo { self.0.gen_range(lo..hi) } else { lo }).collect()
    }

    /// `n` coin flips that are true with probability `p`.
    pub fn bernoulli(&mut self, n: usize, p: f64) -> Vec<bool> {
        (0..n).map(|_| self.0.gen::<f64>() < p).collect()
    }

    /// `n` integers uniform in `0..k`.
    pub fn below(&mut self, n: usize, k: usize) -> Vec<usize> {
        (0..n).map(|_| self.0.gen_range(0..k.max(1))).collect()
    }

    /// A tensor of standard normal draws (ziggurat), shaped like `like`, on its
    /// device. Drawn on the host from this generator — not from libtorch's global
    /// one, which other threads may reseed — so pipelines are reproducible under
    /// parallelism and give the same numbers on the CPU and a GPU.
    pub fn normal_like(&mut self, like: &Tensor) -> Tensor {
        let rng = &mut self.0;
        let noise = new_host_tensor(&like.size(), |v| v.iter_mut().for_each(|x| *x = rng.sample(rand_distr::StandardNormal)));
        noise.to_device(like.device())
    }

    /// A tensor of uniform draws in `[0, 1)` of the given shape on `device`, from this generator.
    pub fn uniform_tensor(&mut self, shape: &[i64], device: tch::Device) -> Tensor {
        let n: i64 = shape.iter().product();
        let v: Vec<f32> = (0..n).map(|_| self.0.gen::<f32>()).collect();
        Tensor::from_slice(&v).view(shape).to_device(device)
    }

    /// The underlying generator.
    pub fn inner(&mut self) -> &mut rand_xoshiro::Xoshiro256PlusPlus {
        &mut self.0
    }
}

/// An image augmentation: a pure description; randomness comes from the generator.
pub trait Augment: std::fmt::Debug + Send + Sync {
    /// A short name for tables and charts, e.g. `crop` or `rotate(±15°)`.
    fn name(&self) -> String;

    /// Transform a batch `[N, C, H, W]` f32 in `[0, 1]`; each sample draws its own
    /// parameters from `rng`. Returns `[N, C, H', W']` in `[0, 1]` on the same device
    /// (`H' = H`, `W' = W` except for crops to another size).
    fn apply_rng(&self, images: &Tensor, rng: &mut AugRng) -> Result<Tensor>;

    /// [`Augment::apply_rng`] with a fresh generator for `seed`.
    fn apply(&self, images: &Tensor, seed: u64) -> Result<Tensor> {
        self.apply_rng(images, &mut AugRng::new(seed))
    }

    /// The same operation on one `image::DynamicImage` (grey stays grey, anything
    /// else becomes RGB), for previews.
    fn apply_image(&self, image: &image::DynamicImage, seed: u64) -> Result<image::DynamicImage> {
        let gray = matches!(image.color(), image::ColorType::L8 | image::ColorType::L16 | image::ColorType::La8);
        let (w, h) = (image.width() as i64, image.height() as i64);
        let (raw, c) = if gray { (image.to_luma8().into_raw(), 1) } else { (image.to_rgb8().into_raw(), 3) };
        let x = Tensor::from_slice(&raw).view([1, h, w, c]).permute([0, 3, 1, 2]).to_kind(Kind::Float) / 255.0;
        let y = self.apply(&x, seed)?;
        let (oh, ow) = (y.size()[2], y.size()[3]);
        let bytes = crate::data::to_u8_bytes(&y.permute([0, 2, 3, 1]))?; // HWC for the image crate
        let bad = || Error::shape("augmented image buffer", oh * ow * c, "another size");
        Ok(if gray {
            image::DynamicImage::ImageLuma8(image::GrayImage::from_raw(ow as u32, oh as u32, bytes).ok_or_else(bad)?)
        } else {
            image::DynamicImage::ImageRgb8(image::RgbImage::from_raw(ow as u32, oh as u32, bytes).ok_or_else(bad)?)
        })
    }
}

/// Check an input batch: rank 4, float, 1 or 3 channels (or any when `any_channels`).
pub(crate) fn check_batch(what: &str, x: &Tensor, any_channels: bool) -> Result<(i64, i64, i64, i64)> {
    let s = x.size();
    if s.len() != 4 {
        return Err(Error::shape(format!("{what}: images"), "[N, C, H, W]", format!("{s:?} (rank {})", s.len())));
    }
    if x.kind() != Kind::Float {
        return Err(Error::shape(format!("{what}: images kind"), "Float", format!("{:?}", x.kind())));
    }
    if !any_channels && s[1] != 1 && s[1] != 3 {
        return Err(Error::shape(format!("{what}: channels"), "1 or 3", s[1]));
    }
    Ok((s[0], s[1], s[2], s[3]))
}

/// Error unless `p` is a probability.
pub(crate) fn check_probability(name: &str, p: f64) -> Result<()> {
    if !(0.0..=1.0).contains(&p) {
        return Err(Error::invalid(name, p, "a probability must lie in [0, 1]"));
    }
    Ok(())
}

/// Error unless `lo <= hi` and both are finite.
pub(crate) fn check_range(name: &str, lo: f64, hi: f64) -> Result<()> {
    if !lo.is_finite() || !hi.is_finite() || lo > hi {
        return Err(Error::invalid(name, format!("({lo}, {hi})"), "needs finite bounds with low ≤ high"));
    }
    Ok(())
}

/// A new contiguous f32 CPU tensor of `shape` whose values `write` sets in place
/// (row-major), without the intermediate `Vec` and copy of `Tensor::from_slice`.
pub(crate) fn new_host_tensor(shape: &[i64], write: impl FnOnce(&mut [f32])) -> Tensor {
    let t = Tensor::empty(shape, (Kind::Float, tch::Device::Cpu));
    let len = shape.iter().product::<i64>() as usize;
    if len > 0 {
        // SAFETY: `t` was just allocated, contiguous, f32, on the CPU, with `len`
        // elements, and nothing else refers to its storage while `write` runs.
        let values = unsafe { std::slice::from_raw_parts_mut(t.data_ptr() as *mut f32, len) };
        write(values);
    }
    t
}

/// Run `read` on the values of `x` (f32 on the CPU, made contiguous if it is not),
/// row-major, without copying them out of the tensor.
pub(crate) fn read_host_values<R>(x: &Tensor, read: impl FnOnce(&[f32]) -> R) -> Result<R> {
    if x.device() != tch::Device::Cpu || x.kind() != Kind::Float {
        return Err(Error::invalid("host tensor", format!("{:?} on {:?}", x.kind(), x.device()), "needs f32 on the CPU"));
    }
    let x = x.f_contiguous()?;
    let len = x.numel();
    if len == 0 {
        return Ok(read(&[]));
    }
    // SAFETY: `x` is contiguous f32 on the CPU with `len` elements and stays alive
    // (and unmodified: it is not shared mutably here) for the whole call.
    let values = unsafe { std::slice::from_raw_parts(x.data_ptr() as *const f32, len) };
    Ok(read(values))
}

/// Host values to a tensor on `like`'s device.
pub(crate) fn on_device(values: &[f64], like: &Tensor) -> Tensor {
    Tensor::from_slice(values).to_kind(Kind::Float).to_device(like.device())
}

/// Per-sample rectangles as a mask `[N, 1, H, W]` on `like`'s device: sample `n` is true
/// inside `boxes[n] = [top, bottom, left, right)` (pixels, end exclusive).
pub(crate) fn box_mask(like: &Tensor, boxes: &[[f64; 4]]) -> Tensor {
    let (n, h, w) = (boxes.len() as i64, like.size()[2], like.size()[3]);
    let dev = like.device();
    let yy = Tensor::arange(h, (Kind::Float, dev)).view([1, 1, h, 1]);
    let xx = Tensor::arange(w, (Kind::Float, dev)).view([1, 1, 1, w]);
    let edge = |k: usize| on_device(&boxes.iter().map(|b| b[k]).collect::<Vec<_>>(), like).view([n, 1, 1, 1]);
    yy.ge_tensor(&edge(0)).logical_and(&yy.lt_tensor(&edge(1))).logical_and(&xx.ge_tensor(&edge(2))).logical_and(&xx.lt_tensor(&edge(3)))
}

/// Per-sample selection: `mask[n]` picks `a[n]`, else `b[n]`.
pub(crate) fn select_samples(mask: &[bool], a: &Tensor, b: &Tensor) -> Tensor {
    let m = Tensor::from_slice(&mask.iter().map(|&v| v as u8).collect::<Vec<_>>()).to_kind(Kind::Bool).to_device(a.device());
    a.where_self(&m.view([-1, 1, 1, 1]), b)
}
