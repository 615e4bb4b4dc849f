//! Photometric augmentations: noise, blur, colour jitter and random erasing.

use super::normal_cpu::{add_noise, NormalStream};
use super::{check_batch, check_probability, check_range, new_host_tensor, on_device, read_host_values, select_samples, AugRng, Augment};
use crate::params::ParamGuard;
use crate::{Error, Result};
use tch::{Device, Kind, Tensor};

/// The unchecked parameters of [`GaussianNoise`]: set them with the builder methods, then
/// [`GaussianNoiseParams::build`] (or [`ParamGuard::check`]) returns the checked operation.
#[derive(Debug, Clone, PartialEq)]
pub struct GaussianNoiseParams {
    pub sigma: (f64, f64),
    pub clip: bool,
}

/// Additive Gaussian noise with a standard deviation drawn per sample from `sigma`,
/// then clipped to `[0, 1]` (clipping lowers the measured deviation near 0 and 1).
#[derive(Debug, Clone, PartialEq)]
pub struct GaussianNoise(GaussianNoiseParams);

impl std::ops::Deref for GaussianNoise {
    type Target = GaussianNoiseParams;
    /// The parameters, checked; read-only.
    fn deref(&self) -> &GaussianNoiseParams {
        &self.0
    }
}

impl GaussianNoise {
    /// [`GaussianNoiseParams::new`]: set the rest with its builder methods, then `build()`.
    pub fn new(sigma: f64) -> GaussianNoiseParams {
        GaussianNoiseParams::new(sigma)
    }
}

impl ParamGuard for GaussianNoiseParams {
    type Checked = GaussianNoise;
    fn check_ref(&self) -> Result<()> {
        self.clone().build().map(|_| ())
    }
    fn check(self) -> Result<GaussianNoise> {
        self.build()
    }
}

impl GaussianNoiseParams {
    /// Noise of standard deviation `sigma`, clipped.
    pub fn new(sigma: f64) -> Self {
        GaussianNoiseParams { sigma: (sigma, sigma), clip: true }
    }
    /// A standard deviation drawn per sample from `[lo, hi]`.
    pub fn sigma_range(mut self, lo: f64, hi: f64) -> Self {
        self.sigma = (lo, hi);
        self
    }
    /// Clip the result to `[0, 1]` (default true; without it values leave `[0, 1]`).
    pub fn clip(mut self, clip: bool) -> Self {
        self.clip = clip;
        self
    }
    /// Check the parameters.
    pub fn build(self) -> Result<GaussianNoise> {
        check_range("sigma", self.sigma.0, self.sigma.1)?;
        if self.sigma.0 < 0.0 {
            return Err(Error::invalid("sigma", self.sigma.0, "must be ≥ 0"));
        }
        Ok(GaussianNoise(self))
    }
}

impl Augment for GaussianNoise {
    fn name(&self) -> String {
        format!("noise(σ={})", self.sigma.1)
    }

    fn apply_rng(&self, x: &Tensor, rng: &mut AugRng) -> Result<Tensor> {
        let (n, ..) = check_batch("GaussianNoise", x, true)?;
        let sigma = rng.uniform(n as usize, self.sigma.0, self.sigma.1);
        let mut stream = NormalStream::new(rng);
        if x.device() == Device::Cpu && !x.requires_grad() {
            // one fused pass per sample: draws, scale, add, clip
            let sigma: Vec<f32> = sigma.iter().map(|&s| s as f32).collect();
            return read_host_values(x, |input| new_host_tensor(&x.size(), |out| add_noise(input, out, &sigma, self.clip, &mut stream)));
        }
        // elsewhere the same draws (made on the host in the same order), then the same
        // arithmetic on the device
        let mut out = new_host_tensor(&x.size(), |z| stream.fill_samples(z, n as usize, |_, _, _| {})).to_device(x.device());
        let _ = out.f_mul_(&on_device(&sigma, x).view([n, 1, 1, 1]))?.f_add_(x)?;
        if self.clip {
            let _ = out.f_clamp_(0.0, 1.0)?;
        }
        Ok(out)
    }
}

/// 1-D Gaussian kernel of width `sigma`, radius ⌈3σ⌉, normalised.
pub(crate) fn kernel(sigma: f64) -> Vec<f64> {
    let r = (3.0 * sigma).ceil().max(1.0) as i64;
    let k: Vec<f64> = (-r..=r).map(|i| (-(i * i) as f64 / (2.0 * sigma * sigma)).exp()).collect();
    let s: f64 = k.iter().sum();
    k.into_iter().map(|v| v / s).collect()
}

/// Separable blur of every channel of `x` with per-sample kernels `[n, len]` (odd
/// len), reflect padding. One grouped convolution per direction for the whole batch.
pub(crate) fn blur_per_sample(x: &Tensor, kernels: &[Vec<f64>]) -> Result<Tensor> {
    let (n, c, h, w) = (x.size()[0], x.size()[1], x.size()[2], x.size()[3]);
    let len = kernels.iter().map(Vec::len).max().unwrap_or(1) as i64;
    // centre shorter kernels inside the longest
    let flat: Vec<f64> = kernels
        .iter()
        .flat_map(|k| {
            let pad = (len as usize - k.len()) / 2;
            std::iter::repeat(0.0).take(pad).chain(k.iter().copied()).chain(std::iter::repeat(0.0).take(pad))
        })
        .collect();
    let k = on_device(&flat, x).view([n, 1, len]).repeat([1, c, 1]).view([n * c, 1, len]);
    let r = len / 2;
    if r >= h || r >= w {
        return Err(Error::invalid("blur sigma", format!("radius {r}"), format!("too wide for a {h}×{w} image")));
    }
    let y = x.reshape([1, n * c, h, w]).f_reflection_pad2d([r, r, r, r])?;
    let y = y.f_conv2d(&k.view([n * c, 1, 1, len]), None::<Tensor>, [1, 1], [0, 0], [1, 1], n * c)?;
    let y = y.f_conv2d(&k.view([n * c, 1, len, 1]), None::<Tensor>, [1, 1], [0, 0], [1, 1], n * c)?;
    Ok(y.view([n, c, h, w]))
}

/// Blur every sample with the same `sigma` (used by the elastic transform).
pub(crate) fn blur_fixed(x: &Tensor, sigma: f64) -> Result<Tensor> {
    let n = x.size()[0] as usize;
    blur_per_sample(x, &vec![kernel(sigma); n])
}

/// The unchecked parameters of [`GaussianBlur`]: set them with the builder methods, then
/// [`GaussianBlurParams::build`] (or [`ParamGuard::check`]) returns the checked operation.
#[derive(Debug, Clone, PartialEq)]
pub struct GaussianBlurParams {
    pub sigma: (f64, f64),
}

/// Gaussian blur with a width drawn per sample from `sigma` (pixels).
#[derive(Debug, Clone, PartialEq)]
pub struct GaussianBlur(GaussianBlurParams);

impl std::ops::Deref for GaussianBlur {
    type Target = GaussianBlurParams;
    /// The parameters, checked; read-only.
    fn deref(&self) -> &GaussianBlurParams {
        &self.0
    }
}

impl GaussianBlur {
    /// [`GaussianBlurParams::new`]: set the rest with its builder methods, then `build()`.
    pub fn new(lo: f64, hi: f64) -> GaussianBlurParams {
        GaussianBlurParams::new(lo, hi)
    }
}

impl ParamGuard for GaussianBlurParams {
    type Checked = GaussianBlur;
    fn check_ref(&self) -> Result<()> {
        self.clone().build().map(|_| ())
    }
    fn check(self) -> Result<GaussianBlur> {
        self.build()
    }
}

impl GaussianBlurParams {
    /// Blur widths uniform in `[lo, hi]` pixels.
    pub fn new(lo: f64, hi: f64) -> Self {
        GaussianBlurParams { sigma: (lo, hi) }
    }
    /// Check the parameters.
    pub fn build(self) -> Result<GaussianBlur> {
        check_range("blur sigma", self.sigma.0, self.sigma.1)?;
        if self.sigma.0 <= 0.0 {
            return Err(Error::invalid("blur sigma", self.sigma.0, "must be > 0"));
        }
        Ok(GaussianBlur(self))
    }
}

impl Augment for GaussianBlur {
    fn name(&self) -> String {
        "blur".into()
    }

    fn apply_rng(&self, x: &Tensor, rng: &mut AugRng) -> Result<Tensor> {
        let (n, ..) = check_batch("GaussianBlur", x, true)?;
        let kernels: Vec<Vec<f64>> = rng.uniform(n as usize, self.sigma.0, self.sigma.1).into_iter().map(kernel).collect();
        blur_per_sample(x, &kernels)
    }
}

/// The unchecked parameters of [`ColorJitter`]: set them with the builder methods, then
/// [`ColorJitterParams::build`] (or [`ParamGuard::check`]) returns the checked operation.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ColorJitterParams {
    pub brightness: f64,
    pub contrast: f64,
    pub saturation: f64,
    pub hue: f64,
}

/// Random brightness, contrast and (RGB only) saturation and hue, each factor drawn
/// per sample: brightness and contrast in `[1 − b, 1 + b]`, hue as a rotation of the
/// chroma plane (YIQ) by up to `hue` × 360°. Applied in that order; clipped.
#[derive(Debug, Clone, PartialEq)]
pub struct ColorJitter(ColorJitterParams);

impl std::ops::Deref for ColorJitter {
    type Target = ColorJitterParams;
    /// The parameters, checked; read-only.
    fn deref(&self) -> &ColorJitterParams {
        &self.0
    }
}

impl ColorJitter {
    /// [`ColorJitterParams::new`]: set the rest with its builder methods, then `build()`.
    pub fn new() -> ColorJitterParams {
        ColorJitterParams::new()
    }
}

impl ParamGuard for ColorJitterParams {
    type Checked = ColorJitter;
    fn check_ref(&self) -> Result<()> {
        self.clone().build().map(|_| ())
    }
    fn check(self) -> Result<ColorJitter> {
        self.build()
    }
}

impl ColorJitterParams {
    /// No change; set the amounts you want.
    pub fn new() -> Self {
        Self::default()
    }
    /// Brightness factor range `1 ± b`.
    pub fn brightness(mut self, b: f64) -> Self {
        self.brightness = b;
        self
    }
    /// Contrast factor range `1 ± c`.
    pub fn contrast(mut self, c: f64) -> Self {
        self.contrast = c;
        self
    }
    /// Saturation factor range `1 ± s` (RGB only).
    pub fn saturation(mut self, s: f64) -> Self {
        self.saturation = s;
        self
    }
    /// Hue shift range `± h` turns, h ≤ 0.5 (RGB only).
    pub fn hue(mut self, h: f64) -> Self {
        self.hue = h;
        self
    }
    /// Check the parameters.
    pub fn build(self) -> Result<ColorJitter> {
        for (name, v) in [("brightness", self.brightness), ("contrast", self.contrast), ("saturation", self.saturation)] {
            if !(0.0..=1.0).contains(&v) {
                return Err(Error::invalid(name, v, "must lie in [0, 1] (factors 1 ± value)"));
            }
        }
        if !(0.0..=0.5).contains(&self.hue) {
            return Err(Error::invalid("hue", self.hue, "must lie in [0, 0.5]"));
        }
        Ok(ColorJitter(self))
    }
}

pub(crate) fn gray(x: &Tensor) -> Tensor {
    if x.size()[1] == 1 {
        return x.shallow_clone();
    }
    let w = Tensor::from_slice(&[0.299f32, 0.587, 0.114]).to_device(x.device()).view([1, 3, 1, 1]);
    (x * w).sum_dim_intlist(1, true, Kind::Float)
}

impl Augment for ColorJitter {
    fn name(&self) -> String {
        "color_jitter".into()
    }

    fn apply_rng(&self, x: &Tensor, rng: &mut AugRng) -> Result<Tensor> {
        let (n, c, ..) = check_batch("ColorJitter", x, false)?;
        let factor = |rng: &mut AugRng, a: f64| on_device(&rng.uniform(n as usize, 1.0 - a, 1.0 + a), x).view([n, 1, 1, 1]);
        let mut y = (x * factor(rng, self.brightness)).clamp(0.0, 1.0);
        let mean = gray(&y).mean_dim([1i64, 2, 3].as_slice(), true, Kind::Float);
        y = ((&y - &mean) * factor(rng, self.contrast) + &mean).clamp(0.0, 1.0);
        if c == 3 {
            let g = gray(&y);
            y = ((&y - &g) * factor(rng, self.saturation) + &g).clamp(0.0, 1.0);
            if self.hue > 0.0 {
                let angles = rng.uniform(n as usize, -self.hue, self.hue);
                y = rotate_hue(&y, &angles)?.clamp(0.0, 1.0);
            }
        }
        Ok(y)
    }
}

/// Rotate the chroma (I, Q) of YIQ by `turns[n]` × 360° per sample.
fn rotate_hue(x: &Tensor, turns: &[f64]) -> Result<Tensor> {
    let n = x.size()[0];
    let to_yiq = Tensor::from_slice(&[0.299f32, 0.587, 0.114, 0.596, -0.274, -0.322, 0.211, -0.523, 0.312]).view([3, 3]).to_device(x.device());
    let from_yiq = Tensor::f_linalg_inv(&to_yiq)?;
    let rot: Vec<f64> = turns
        .iter()
        .flat_map(|t| {
            let a = t * std::f64::consts::TAU;
            [1.0, 0.0, 0.0, 0.0, a.cos(), -a.sin(), 0.0, a.sin(), a.cos()]
        })
        .collect();
    let rot = on_device(&rot, x).view([n, 3, 3]);
    let m = from_yiq.matmul(&rot).matmul(&to_yiq); // [n, 3, 3]
    Ok(Tensor::einsum("nij,njhw->nihw", &[m, x.shallow_clone()], None::<i64>))
}

/// The unchecked parameters of [`RandomErasing`]: set them with the builder methods, then
/// [`RandomErasingParams::build`] (or [`ParamGuard::check`]) returns the checked operation.
#[derive(Debug, Clone, PartialEq)]
pub struct RandomErasingParams {
    pub p: f64,
    pub scale: (f64, f64),
    pub ratio: (f64, f64),
    pub value: f64,
}

/// Random erasing / cutout (Zhong et al. 2020; DeVries & Taylor 2017): with
/// probability `p` a rectangle of random area (`scale` × image) and aspect `ratio` is
/// set to `value`.
#[derive(Debug, Clone, PartialEq)]
pub struct RandomErasing(RandomErasingParams);

impl std::ops::Deref for RandomErasing {
    type Target = RandomErasingParams;
    /// The parameters, checked; read-only.
    fn deref(&self) -> &RandomErasingParams {
        &self.0
    }
}

impl RandomErasing {
    /// [`RandomErasingParams::new`]: set the rest with its builder methods, then `build()`.
    pub fn new(p: f64) -> RandomErasingParams {
        RandomErasingParams::new(p)
    }
}

impl ParamGuard for RandomErasingParams {
    type Checked = RandomErasing;
    fn check_ref(&self) -> Result<()> {
        self.clone().build().map(|_| ())
    }
    fn check(self) -> Result<RandomErasing> {
        self.build()
    }
}

impl RandomErasingParams {
    /// torchvision's defaults: scale (0.02, 0.33), ratio (0.3, 3.3), value 0.
    pub fn new(p: f64) -> Self {
        RandomErasingParams { p, scale: (0.02, 0.33), ratio: (0.3, 3.3), value: 0.0 }
    }
    /// Range of the erased area as a fraction of the image.
    pub fn scale(mut self, lo: f64, hi: f64) -> Self {
        self.scale = (lo, hi);
        self
    }
    /// Value written into the rectangle.
    pub fn value(mut self, v: f64) -> Self {
        self.value = v;
        self
    }
    /// Check the parameters.
    pub fn build(self) -> Result<RandomErasing> {
        check_probability("erasing p", self.p)?;
        check_range("erasing scale", self.scale.0, self.scale.1)?;
        check_range("erasing ratio", self.ratio.0, self.ratio.1)?;
        if self.scale.0 < 0.0 || self.scale.1 > 1.0 || self.ratio.0 <= 0.0 {
            return Err(Error::invalid("erasing scale/ratio", format!("{:?}/{:?}", self.scale, self.ratio), "scale in [0, 1], ratio > 0"));
        }
        if !(0.0..=1.0).contains(&self.value) {
            return Err(Error::invalid("erasing value", self.value, "must lie in [0, 1]"));
        }
        Ok(RandomErasing(self))
    }
}

impl Augment for RandomErasing {
    fn name(&self) -> String {
        "erasing".into()
    }

    fn apply_rng(&self, x: &Tensor, rng: &mut AugRng) -> Result<Tensor> {
        let (n, _, h, w) = check_batch("RandomErasing", x, true)?;
        let (hf, wf) = (h as f64, w as f64);
        let mut boxes = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let area = hf * wf * rng.uniform(1, self.scale.0, self.scale.1)[0];
            let r = rng.uniform(1, self.ratio.0.ln(), self.ratio.1.ln())[0].exp();
            let eh = (area / r).sqrt().round().clamp(1.0, hf);
            let ew = (area * r).sqrt().round().clamp(1.0, wf);
            let top = rng.below(1, (hf - eh) as usize + 1)[0] as f64;
            let left = rng.below(1, (wf - ew) as usize + 1)[0] as f64;
            boxes.push([top, top + eh, left, left + ew]);
        }
        let erased = x.masked_fill(&super::box_mask(x, &boxes), self.value);
        Ok(select_samples(&rng.bernoulli(n as usize, self.p), &erased, x))
    }
}
