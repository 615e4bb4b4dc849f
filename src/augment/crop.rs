//! Crops: [`RandomCrop`] (pad, then cut a window, as torchvision's `RandomCrop`) and
//! [`RandomResizedCrop`] (a random area and aspect ratio, resized back). The resized
//! crop samples through the same per-sample affine warp as the other geometric
//! operations ([`super::geometric`]).

use super::geometric::{check_fill, to_normalised, warp, Fill};
use super::{check_batch, check_range, new_host_tensor, read_host_values, AugRng, Augment};
use crate::params::ParamGuard;
use crate::{Error, Result};
use tch::Tensor;

/// The unchecked parameters of [`RandomCrop`]: set them with the builder methods, then
/// [`RandomCropParams::build`] (or [`ParamGuard::check`]) returns the checked operation.
#[derive(Debug, Clone, PartialEq)]
pub struct RandomCropParams {
    pub size: (i64, i64),
    pub padding: i64,
    pub fill: Fill,
}

/// Random crop of a fixed size after optional padding (DeVries & Taylor-style
/// translation augmentation; the standard CIFAR recipe pads 4 and crops 32).
#[derive(Debug, Clone, PartialEq)]
pub struct RandomCrop(RandomCropParams);

impl std::ops::Deref for RandomCrop {
    type Target = RandomCropParams;
    /// The parameters, checked; read-only.
    fn deref(&self) -> &RandomCropParams {
        &self.0
    }
}

impl RandomCrop {
    /// [`RandomCropParams::new`]: set the rest with its builder methods, then `build()`.
    pub fn new(height: i64, width: i64) -> RandomCropParams {
        RandomCropParams::new(height, width)
    }
}

impl ParamGuard for RandomCropParams {
    type Checked = RandomCrop;
    fn check_ref(&self) -> Result<()> {
        self.clone().build().map(|_| ())
    }
    fn check(self) -> Result<RandomCrop> {
        self.build()
    }
}

impl RandomCropParams {
    /// A crop of `height × width`, no padding, constant 0 fill.
    pub fn new(height: i64, width: i64) -> Self {
        RandomCropParams { size: (height, width), padding: 0, fill: Fill::Constant(0.0) }
    }
    /// Pixels added on every side before cropping.
    pub fn padding(mut self, p: i64) -> Self {
        self.padding = p;
        self
    }
    /// What the padding holds.
    pub fn fill(mut self, f: Fill) -> Self {
        self.fill = f;
        self
    }
    /// Check the parameters.
    pub fn build(self) -> Result<RandomCrop> {
        if self.size.0 < 1 || self.size.1 < 1 {
            return Err(Error::invalid("crop size", format!("{:?}", self.size), "must be positive"));
        }
        if self.padding < 0 {
            return Err(Error::invalid("padding", self.padding, "must be ≥ 0"));
        }
        check_fill(self.fill)?;
        Ok(RandomCrop(self))
    }
}

impl Augment for RandomCrop {
    fn name(&self) -> String {
        format!("crop{}x{}+pad{}", self.size.0, self.size.1, self.padding)
    }

    fn apply_rng(&self, x: &Tensor, rng: &mut AugRng) -> Result<Tensor> {
        let (n, _, h, w) = check_batch("RandomCrop", x, true)?;
        let (ch, cw) = self.size;
        let p = self.padding;
        if ch > h + 2 * p || cw > w + 2 * p {
            return Err(Error::invalid(
                "crop size",
                format!("{ch}×{cw}"),
                format!("larger than the {h}×{w} image plus padding {p} on each side"),
            ));
        }
        if self.fill == Fill::Reflect && (p >= h || p >= w) {
            return Err(Error::invalid("padding", p, format!("reflect padding must be smaller than the image ({h}×{w})")));
        }
        let oy: Vec<i64> = rng.below(n as usize, (h + 2 * p - ch + 1) as usize).into_iter().map(|v| v as i64).collect();
        let ox: Vec<i64> = rng.below(n as usize, (w + 2 * p - cw + 1) as usize).into_iter().map(|v| v as i64).collect();
        if x.device() == tch::Device::Cpu && !x.requires_grad() {
            return crop_cpu(x, &oy, &ox, p, (ch, cw), self.fill);
        }
        let padded = match self.fill {
            _ if p == 0 => x.shallow_clone(),
            Fill::Constant(v) if v == 0.0 => x.f_constant_pad_nd([p, p, p, p])?,
            Fill::Constant(v) => x.f_constant_pad_nd([p, p, p, p])? + pad_fill(x, p, v)?,
            Fill::Reflect => x.f_reflection_pad2d([p, p, p, p])?,
        };
        crop_at(&padded, &oy, &ox, (ch, cw))
    }
}

/// Zero-padded `x` plus `v` on the padded border only (so the pad holds `v`).
fn pad_fill(x: &Tensor, p: i64, v: f64) -> Result<Tensor> {
    let ones = Tensor::ones_like(x);
    let inside = ones.f_constant_pad_nd([p, p, p, p])?;
    Ok((1.0 - inside) * v)
}

/// [`RandomCrop`] on the CPU without the padded copy: `out[n, c, i, j]` is pixel
/// `(i + oy[n] − p, j + ox[n] − p)` of `x[n, c]`, positions outside the image taking
/// the fill (a constant, or the mirror image without the edge, as
/// `reflection_pad2d`). Row by row: the part of a row inside the image is one slice
/// copy, the few border pixels are set one by one.
fn crop_cpu(x: &Tensor, oy: &[i64], ox: &[i64], p: i64, (ch, cw): (i64, i64), fill: Fill) -> Result<Tensor> {
    let s = x.size();
    let (n, c, h, w) = (s[0], s[1], s[2], s[3]);
    // source index of padded position k (0 ≤ k < len + 2p), None for a constant fill
    let source = move |k: i64, len: i64| -> Option<usize> {
        let k = k - p;
        match fill {
            _ if (0..len).contains(&k) => Some(k as usize),
            Fill::Reflect => Some(if k < 0 { -k } else { 2 * (len - 1) - k } as usize),
            Fill::Constant(_) => None,
        }
    };
    let value = match fill {
        Fill::Constant(v) => v as f32,
        Fill::Reflect => 0.0,
    };
    let (h_us, w_us, ch_us, cw_us) = (h as usize, w as usize, ch as usize, cw as usize);
    read_host_values(x, |input| {
        new_host_tensor(&[n, c, ch, cw], |out| {
            for (sample, (&y0, &x0)) in oy.iter().zip(ox).enumerate() {
                // columns [lo, hi) of an output row come from one contiguous source run
                let lo = (p - x0).clamp(0, cw) as usize;
                let hi = (w + p - x0).clamp(0, cw) as usize;
                for plane in 0..c as usize {
                    let src = &input[(sample * c as usize + plane) * h_us * w_us..][..h_us * w_us];
                    let dst = &mut out[(sample * c as usize + plane) * ch_us * cw_us..][..ch_us * cw_us];
                    for (i, row) in dst.chunks_exact_mut(cw_us).enumerate() {
                        let Some(r) = source(i as i64 + y0, h) else {
                            row.fill(value);
                            continue;
                        };
                        let src_row = &src[r * w_us..][..w_us];
                        if hi > lo {
                            let start = (lo as i64 + x0 - p) as usize;
                            row[lo..hi].copy_from_slice(&src_row[start..start + hi - lo]);
                        }
                        for j in (0..lo).chain(hi..cw_us) {
                            row[j] = source(j as i64 + x0, w).map_or(value, |k| src_row[k]);
                        }
                    }
                }
            }
        })
    })
}

/// Integer crops at per-sample offsets: `out[n] = x[n, :, oy[n]..oy[n]+h, ox[n]..ox[n]+w]`.
/// Views (`narrow`) stacked into one copy: no index tensors, one pass over the output.
fn crop_at(x: &Tensor, oy: &[i64], ox: &[i64], (h, w): (i64, i64)) -> Result<Tensor> {
    let views = oy
        .iter()
        .zip(ox)
        .enumerate()
        .map(|(i, (&y, &x0))| x.f_select(0, i as i64)?.f_narrow(1, y, h)?.f_narrow(2, x0, w))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(Tensor::f_stack(&views, 0)?)
}

/// The unchecked parameters of [`RandomResizedCrop`]: set them with the builder methods, then
/// [`RandomResizedCropParams::build`] (or [`ParamGuard::check`]) returns the checked operation.
#[derive(Debug, Clone, PartialEq)]
pub struct RandomResizedCropParams {
    pub size: (i64, i64),
    pub scale: (f64, f64),
    pub ratio: (f64, f64),
}

/// Crop a random box of random area (`scale` × image area) and aspect `ratio`, and
/// resize it to `size` (Szegedy et al. 2015, "Inception" crops; torchvision's
/// sampling: 10 tries, then a central crop). Bilinear, without antialiasing.
#[derive(Debug, Clone, PartialEq)]
pub struct RandomResizedCrop(RandomResizedCropParams);

impl std::ops::Deref for RandomResizedCrop {
    type Target = RandomResizedCropParams;
    /// The parameters, checked; read-only.
    fn deref(&self) -> &RandomResizedCropParams {
        &self.0
    }
}

impl RandomResizedCrop {
    /// [`RandomResizedCropParams::new`]: set the rest with its builder methods, then `build()`.
    pub fn new(height: i64, width: i64) -> RandomResizedCropParams {
        RandomResizedCropParams::new(height, width)
    }
}

impl ParamGuard for RandomResizedCropParams {
    type Checked = RandomResizedCrop;
    fn check_ref(&self) -> Result<()> {
        self.clone().build().map(|_| ())
    }
    fn check(self) -> Result<RandomResizedCrop> {
        self.build()
    }
}

impl RandomResizedCropParams {
    /// Output `height × width`, scale (0.08, 1), ratio (3/4, 4/3).
    pub fn new(height: i64, width: i64) -> Self {
        RandomResizedCropParams { size: (height, width), scale: (0.08, 1.0), ratio: (3.0 / 4.0, 4.0 / 3.0) }
    }
    /// Range of the box area as a fraction of the image.
    pub fn scale(mut self, lo: f64, hi: f64) -> Self {
        self.scale = (lo, hi);
        self
    }
    /// Range of the box's width / height.
    pub fn ratio(mut self, lo: f64, hi: f64) -> Self {
        self.ratio = (lo, hi);
        self
    }
    /// Check the parameters.
    pub fn build(self) -> Result<RandomResizedCrop> {
        check_range("scale", self.scale.0, self.scale.1)?;
        check_range("ratio", self.ratio.0, self.ratio.1)?;
        if self.scale.0 <= 0.0 || self.scale.1 > 1.0 {
            return Err(Error::invalid("scale", format!("{:?}", self.scale), "must lie in (0, 1]"));
        }
        if self.ratio.0 <= 0.0 {
            return Err(Error::invalid("ratio", format!("{:?}", self.ratio), "must be positive"));
        }
        if self.size.0 < 1 || self.size.1 < 1 {
            return Err(Error::invalid("size", format!("{:?}", self.size), "must be positive"));
        }
        Ok(RandomResizedCrop(self))
    }
}

impl Augment for RandomResizedCrop {
    fn name(&self) -> String {
        "resized_crop".into()
    }

    fn apply_rng(&self, x: &Tensor, rng: &mut AugRng) -> Result<Tensor> {
        let (n, _, h, w) = check_batch("RandomResizedCrop", x, true)?;
        let (hf, wf) = (h as f64, w as f64);
        let mut theta = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let mut bx = None;
            for _ in 0..10 {
                let area = hf * wf * rng.uniform(1, self.scale.0, self.scale.1)[0];
                let log_r = rng.uniform(1, self.ratio.0.ln(), self.ratio.1.ln())[0];
                let r = log_r.exp();
                let (bw, bh) = ((area * r).sqrt().round(), (area / r).sqrt().round());
                if bw >= 1.0 && bh >= 1.0 && bw <= wf && bh <= hf {
                    let x0 = rng.below(1, (wf - bw) as usize + 1)[0] as f64;
                    let y0 = rng.below(1, (hf - bh) as usize + 1)[0] as f64;
                    bx = Some((x0, y0, bw, bh));
                    break;
                }
            }
            let (x0, y0, bw, bh) = bx.unwrap_or_else(|| {
                let (bw, bh) = (wf.min(hf * self.ratio.1), hf.min(wf / self.ratio.0));
                ((wf - bw) / 2.0, (hf - bh) / 2.0, bw, bh)
            });
            // output pixel u (centred coords, in output pixels) → input centre + u · (box/out)
            let (sx, sy) = (bw / self.size.1 as f64, bh / self.size.0 as f64);
            let (cx, cy) = (x0 + bw / 2.0 - wf / 2.0, y0 + bh / 2.0 - hf / 2.0);
            theta.push(to_normalised([sx, 0.0, 0.0, sy], [cx, cy], (h, w), self.size));
        }
        warp(x, &theta, self.size, 0.0)
    }
}
