//! Geometric augmentations: crops, rotations, affine maps, flips and elastic
//! deformation. Every per-sample warp is one `affine_grid` + `grid_sample` over the
//! batch (Jaderberg et al. 2015's spatial-transformer sampling), with the sampling
//! matrix built per sample on the host.
//!
//! Convention: a positive angle turns the picture counter-clockwise as displayed
//! (rows going down), as torchvision does; rotation by 90° equals `rot90`.

use super::warp_cpu::warp_cpu;
use super::{check_batch, check_range, new_host_tensor, on_device, read_host_values, select_samples, AugRng, Augment};
use crate::params::ParamGuard;
use crate::{Error, Result};
use tch::Tensor;

/// How pixels outside the image are filled.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Fill {
    /// A constant value in `[0, 1]`.
    Constant(f64),
    /// Mirror the image at its border (`d c b | a b c d | c b a`), as `numpy.pad(mode="reflect")`.
    Reflect,
}

fn check_fill(fill: Fill) -> Result<()> {
    if let Fill::Constant(v) = fill {
        if !(0.0..=1.0).contains(&v) {
            return Err(Error::invalid("fill", v, "a constant fill must lie in [0, 1]"));
        }
    }
    Ok(())
}

/// Sample `x` on per-sample affine grids. `theta` holds one `[2, 3]` sampling matrix
/// per sample (output → input, normalised coordinates, `align_corners = false`), as
/// `f64` rows; `out` is the output height and width. Bilinear; outside pixels take the
/// constant `fill`. f32 batches on the CPU go through [`warp_cpu`] (same numbers to
/// rounding, about twice as fast); everything else through `grid_sample`.
pub(crate) fn warp(x: &Tensor, theta: &[[f64; 6]], out: (i64, i64), fill: f64) -> Result<Tensor> {
    if x.device() == tch::Device::Cpu && x.kind() == tch::Kind::Float && !x.requires_grad() {
        return warp_cpu(x, theta, out, fill);
    }
    let n = x.size()[0];
    let flat: Vec<f64> = theta.iter().flat_map(|t| t.iter().copied()).collect();
    let theta = on_device(&flat, x).view([n, 2, 3]);
    let grid = affine_grid(&theta, out.0, out.1);
    if fill == 0.0 {
        return Ok(x.f_grid_sampler(&grid, 0, 0, false)?);
    }
    // grid_sample pads with zeros: shift so that zero is the fill value
    let shifted = x - fill;
    Ok(shifted.f_grid_sampler(&grid, 0, 0, false)? + fill)
}

/// The sampling grid `[N, H, W, 2]` of affine maps `theta: [N, 2, 3]` (normalised
/// coordinates, `align_corners = false`), as `torch.nn.functional.affine_grid` makes it.
/// `affine_grid_generator` multiplies an `[N, H·W, 3]` grid by `θᵀ` in a batched
/// matmul, slow on CPU for an inner dimension of 3 (it took as long as the sampling
/// itself at 128×128). An affine map separates into a part that depends on the row
/// and a part that depends on the column, so the grid is one broadcast sum of an
/// `[N, H, 1, 2]` and an `[N, 1, W, 2]` tensor. Exact wherever the coefficients are
/// 0 or ±1 (rotations by multiples of 90°, the identity).
pub(crate) fn affine_grid(theta: &Tensor, h: i64, w: i64) -> Tensor {
    let (n, dev) = (theta.size()[0], theta.device());
    let base = |len: i64| (Tensor::arange(len, (tch::Kind::Float, dev)) * 2.0 + 1.0) / len as f64 - 1.0;
    let (xs, ys) = (base(w).view([1, 1, w, 1]), base(h).view([1, h, 1, 1]));
    let col = |k: i64| theta.select(2, k).view([n, 1, 1, 2]); // coefficient k of (x, y) outputs
    let rows = ys * col(1) + col(2); // [N, H, 1, 2]
    let cols = xs * col(0); // [N, 1, W, 2]
    rows + cols
}

/// Sampling matrix (normalised coordinates) of a pixel-space linear map `a` (2×2,
/// row-major, output → input) and input offset `t` (pixels), for an `h × w` input
/// sampled onto an `oh × ow` output.
pub(crate) fn to_normalised(a: [f64; 4], t: [f64; 2], (h, w): (i64, i64), (oh, ow): (i64, i64)) -> [f64; 6] {
    let (w, h, ow, oh) = (w as f64, h as f64, ow as f64, oh as f64);
    // x_in_norm = (2/w) x_in, x_in = a · (ow/2 · x_out_norm) + t
    [a[0] * ow / w, a[1] * oh / w, 2.0 * t[0] / w, a[2] * ow / h, a[3] * oh / h, 2.0 * t[1] / h]
}

/// cos and sin of `deg` degrees, exact at multiples of 90°.
pub(crate) fn cos_sin(deg: f64) -> (f64, f64) {
    let r = deg.to_radians();
    let snap = |v: f64| if v.abs() < 1e-12 { 0.0 } else if (v.abs() - 1.0).abs() < 1e-12 { v.signum() } else { v };
    (snap(r.cos()), snap(r.sin()))
}

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

/// The unchecked parameters of [`RandomRotation`]: set them with the builder methods, then
/// [`RandomRotationParams::build`] (or [`ParamGuard::check`]) returns the checked operation.
#[derive(Debug, Clone, PartialEq)]
pub struct RandomRotationParams {
    pub degrees: (f64, f64),
    pub fill: f64,
}

/// Rotation by a random angle in `degrees` (counter-clockwise positive), about the
/// centre, keeping the size; corners take the constant `fill`.
#[derive(Debug, Clone, PartialEq)]
pub struct RandomRotation(RandomRotationParams);

impl std::ops::Deref for RandomRotation {
    type Target = RandomRotationParams;
    /// The parameters, checked; read-only.
    fn deref(&self) -> &RandomRotationParams {
        &self.0
    }
}

impl RandomRotation {
    /// [`RandomRotationParams::new`]: set the rest with its builder methods, then `build()`.
    pub fn new(lo: f64, hi: f64) -> RandomRotationParams {
        RandomRotationParams::new(lo, hi)
    }
}

impl ParamGuard for RandomRotationParams {
    type Checked = RandomRotation;
    fn check_ref(&self) -> Result<()> {
        self.clone().build().map(|_| ())
    }
    fn check(self) -> Result<RandomRotation> {
        self.build()
    }
}

impl RandomRotationParams {
    /// Angles uniform in `[lo, hi]` degrees, fill 0.
    pub fn new(lo: f64, hi: f64) -> Self {
        RandomRotationParams { degrees: (lo, hi), fill: 0.0 }
    }
    /// Value of the pixels rotated in from outside.
    pub fn fill(mut self, v: f64) -> Self {
        self.fill = v;
        self
    }
    /// Check the parameters.
    pub fn build(self) -> Result<RandomRotation> {
        check_range("degrees", self.degrees.0, self.degrees.1)?;
        check_fill(Fill::Constant(self.fill))?;
        Ok(RandomRotation(self))
    }
}

impl Augment for RandomRotation {
    fn name(&self) -> String {
        format!("rotate({}°..{}°)", self.degrees.0, self.degrees.1)
    }

    fn apply_rng(&self, x: &Tensor, rng: &mut AugRng) -> Result<Tensor> {
        let (n, _, h, w) = check_batch("RandomRotation", x, true)?;
        let theta: Vec<[f64; 6]> = rng
            .uniform(n as usize, self.degrees.0, self.degrees.1)
            .into_iter()
            .map(|d| {
                let (c, s) = cos_sin(d);
                to_normalised([c, -s, s, c], [0.0, 0.0], (h, w), (h, w))
            })
            .collect();
        warp(x, &theta, (h, w), self.fill)
    }
}

/// The unchecked parameters of [`RandomAffine`]: set them with the builder methods, then
/// [`RandomAffineParams::build`] (or [`ParamGuard::check`]) returns the checked operation.
#[derive(Debug, Clone, PartialEq)]
pub struct RandomAffineParams {
    pub degrees: (f64, f64),
    pub translate: (f64, f64),
    pub scale: (f64, f64),
    pub shear_x: (f64, f64),
    pub shear_y: (f64, f64),
    pub fill: f64,
}

/// Random affine map: rotation, translation (fraction of the size), scale and shear
/// (degrees, along x then y), composed about the centre; size kept; constant fill.
#[derive(Debug, Clone, PartialEq)]
pub struct RandomAffine(RandomAffineParams);

impl std::ops::Deref for RandomAffine {
    type Target = RandomAffineParams;
    /// The parameters, checked; read-only.
    fn deref(&self) -> &RandomAffineParams {
        &self.0
    }
}

impl RandomAffine {
    /// [`RandomAffineParams::new`]: set the rest with its builder methods, then `build()`.
    pub fn new() -> RandomAffineParams {
        RandomAffineParams::new()
    }
}

impl ParamGuard for RandomAffineParams {
    type Checked = RandomAffine;
    fn check_ref(&self) -> Result<()> {
        self.clone().build().map(|_| ())
    }
    fn check(self) -> Result<RandomAffine> {
        self.build()
    }
}

impl Default for RandomAffineParams {
    fn default() -> Self {
        RandomAffineParams { degrees: (0.0, 0.0), translate: (0.0, 0.0), scale: (1.0, 1.0), shear_x: (0.0, 0.0), shear_y: (0.0, 0.0), fill: 0.0 }
    }
}

impl RandomAffineParams {
    /// The identity map; set the parts you want.
    pub fn new() -> Self {
        Self::default()
    }
    /// Rotation range in degrees.
    pub fn degrees(mut self, lo: f64, hi: f64) -> Self {
        self.degrees = (lo, hi);
        self
    }
    /// Largest shift as a fraction of width and height (shifts uniform in ±).
    pub fn translate(mut self, fx: f64, fy: f64) -> Self {
        self.translate = (fx, fy);
        self
    }
    /// Zoom range (> 1 enlarges).
    pub fn scale(mut self, lo: f64, hi: f64) -> Self {
        self.scale = (lo, hi);
        self
    }
    /// Shear range along x, in degrees.
    pub fn shear_x(mut self, lo: f64, hi: f64) -> Self {
        self.shear_x = (lo, hi);
        self
    }
    /// Shear range along y, in degrees.
    pub fn shear_y(mut self, lo: f64, hi: f64) -> Self {
        self.shear_y = (lo, hi);
        self
    }
    /// Fill value of the uncovered pixels.
    pub fn fill(mut self, v: f64) -> Self {
        self.fill = v;
        self
    }
    /// Check the parameters.
    pub fn build(self) -> Result<RandomAffine> {
        check_range("degrees", self.degrees.0, self.degrees.1)?;
        check_range("scale", self.scale.0, self.scale.1)?;
        check_range("shear_x", self.shear_x.0, self.shear_x.1)?;
        check_range("shear_y", self.shear_y.0, self.shear_y.1)?;
        if self.scale.0 <= 0.0 {
            return Err(Error::invalid("scale", format!("{:?}", self.scale), "must be positive"));
        }
        for (name, t) in [("translate x", self.translate.0), ("translate y", self.translate.1)] {
            if !(0.0..=1.0).contains(&t) {
                return Err(Error::invalid(name, t, "a fraction of the size must lie in [0, 1]"));
            }
        }
        for s in [self.shear_x.0, self.shear_x.1, self.shear_y.0, self.shear_y.1] {
            if s.abs() >= 89.0 {
                return Err(Error::invalid("shear", s, "must lie strictly between −89° and 89°"));
            }
        }
        check_fill(Fill::Constant(self.fill))?;
        Ok(RandomAffine(self))
    }
}

impl Augment for RandomAffine {
    fn name(&self) -> String {
        "affine".into()
    }

    fn apply_rng(&self, x: &Tensor, rng: &mut AugRng) -> Result<Tensor> {
        let (n, _, h, w) = check_batch("RandomAffine", x, true)?;
        let mut theta = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let a = rng.uniform(1, self.degrees.0, self.degrees.1)[0];
            let s = rng.uniform(1, self.scale.0, self.scale.1)[0];
            let shx = rng.uniform(1, self.shear_x.0, self.shear_x.1)[0].to_radians().tan();
            let shy = rng.uniform(1, self.shear_y.0, self.shear_y.1)[0].to_radians().tan();
            let tx = rng.uniform(1, -self.translate.0, self.translate.0)[0] * w as f64;
            let ty = rng.uniform(1, -self.translate.1, self.translate.1)[0] * h as f64;
            // forward (input → output): translate ∘ rotate(−a, as displayed ccw) ∘ shear ∘ scale
            let (c, sn) = cos_sin(a);
            let rot = [c, sn, -sn, c];
            let shear = [1.0, shx, shy, 1.0 + shx * shy];
            let f = mul(rot, mul(shear, [s, 0.0, 0.0, s]));
            let det = f[0] * f[3] - f[1] * f[2];
            let inv = [f[3] / det, -f[1] / det, -f[2] / det, f[0] / det];
            // input = inv · (output − t)
            let t = [-(inv[0] * tx + inv[1] * ty), -(inv[2] * tx + inv[3] * ty)];
            theta.push(to_normalised(inv, t, (h, w), (h, w)));
        }
        warp(x, &theta, (h, w), self.fill)
    }
}

fn mul(a: [f64; 4], b: [f64; 4]) -> [f64; 4] {
    [a[0] * b[0] + a[1] * b[2], a[0] * b[1] + a[1] * b[3], a[2] * b[0] + a[3] * b[2], a[2] * b[1] + a[3] * b[3]]
}

/// The unchecked parameters of [`Flip`]: set them with the builder methods, then
/// [`FlipParams::build`] (or [`ParamGuard::check`]) returns the checked operation.
#[derive(Debug, Clone, PartialEq)]
pub struct FlipParams {
    pub horizontal: bool,
    pub vertical: bool,
    pub p: f64,
}

/// Mirror each sample left–right and/or top–bottom with probability `p`.
#[derive(Debug, Clone, PartialEq)]
pub struct Flip(FlipParams);

impl std::ops::Deref for Flip {
    type Target = FlipParams;
    /// The parameters, checked; read-only.
    fn deref(&self) -> &FlipParams {
        &self.0
    }
}

impl Flip {
    /// [`FlipParams::horizontal`]: set the rest with its builder methods, then `build()`.
    pub fn horizontal(p: f64) -> FlipParams {
        FlipParams::horizontal(p)
    }
    /// [`FlipParams::vertical`]: set the rest with its builder methods, then `build()`.
    pub fn vertical(p: f64) -> FlipParams {
        FlipParams::vertical(p)
    }
}

impl ParamGuard for FlipParams {
    type Checked = Flip;
    fn check_ref(&self) -> Result<()> {
        self.clone().build().map(|_| ())
    }
    fn check(self) -> Result<Flip> {
        self.build()
    }
}

impl FlipParams {
    /// Left–right mirror with probability `p`.
    pub fn horizontal(p: f64) -> Self {
        FlipParams { horizontal: true, vertical: false, p }
    }
    /// Top–bottom mirror with probability `p`.
    pub fn vertical(p: f64) -> Self {
        FlipParams { horizontal: false, vertical: true, p }
    }
    /// Check the parameters.
    pub fn build(self) -> Result<Flip> {
        super::check_probability("flip p", self.p)?;
        Ok(Flip(self))
    }
}

impl Augment for Flip {
    fn name(&self) -> String {
        match (self.horizontal, self.vertical) {
            (true, false) => "hflip".into(),
            (false, true) => "vflip".into(),
            _ => "flip".into(),
        }
    }

    fn apply_rng(&self, x: &Tensor, rng: &mut AugRng) -> Result<Tensor> {
        let (n, ..) = check_batch("Flip", x, true)?;
        let mut dims = Vec::new();
        if self.vertical {
            dims.push(2);
        }
        if self.horizontal {
            dims.push(3);
        }
        let flipped = x.f_flip(dims)?;
        Ok(select_samples(&rng.bernoulli(n as usize, self.p), &flipped, x))
    }
}

/// The unchecked parameters of [`ElasticTransform`]: set them with the builder methods, then
/// [`ElasticTransformParams::build`] (or [`ParamGuard::check`]) returns the checked operation.
#[derive(Debug, Clone, PartialEq)]
pub struct ElasticTransformParams {
    pub alpha: f64,
    pub sigma: f64,
}

/// Elastic deformation (Simard et al. 2003): a random displacement field, smoothed
/// by a Gaussian of width `sigma` pixels and scaled to `alpha` pixels, moves each
/// pixel; bilinear, constant 0 outside.
#[derive(Debug, Clone, PartialEq)]
pub struct ElasticTransform(ElasticTransformParams);

impl std::ops::Deref for ElasticTransform {
    type Target = ElasticTransformParams;
    /// The parameters, checked; read-only.
    fn deref(&self) -> &ElasticTransformParams {
        &self.0
    }
}

impl ElasticTransform {
    /// [`ElasticTransformParams::new`]: set the rest with its builder methods, then `build()`.
    pub fn new(alpha: f64, sigma: f64) -> ElasticTransformParams {
        ElasticTransformParams::new(alpha, sigma)
    }
}

impl ParamGuard for ElasticTransformParams {
    type Checked = ElasticTransform;
    fn check_ref(&self) -> Result<()> {
        self.clone().build().map(|_| ())
    }
    fn check(self) -> Result<ElasticTransform> {
        self.build()
    }
}

impl ElasticTransformParams {
    /// Displacement strength `alpha` (pixels) and smoothness `sigma` (pixels).
    pub fn new(alpha: f64, sigma: f64) -> Self {
        ElasticTransformParams { alpha, sigma }
    }
    /// Check the parameters.
    pub fn build(self) -> Result<ElasticTransform> {
        if !(self.alpha >= 0.0 && self.alpha.is_finite()) {
            return Err(Error::invalid("alpha", self.alpha, "must be ≥ 0"));
        }
        if !(self.sigma > 0.0 && self.sigma.is_finite()) {
            return Err(Error::invalid("sigma", self.sigma, "must be > 0"));
        }
        Ok(ElasticTransform(self))
    }
}

impl Augment for ElasticTransform {
    fn name(&self) -> String {
        "elastic".into()
    }

    fn apply_rng(&self, x: &Tensor, rng: &mut AugRng) -> Result<Tensor> {
        let (n, _, h, w) = check_batch("ElasticTransform", x, true)?;
        let noise = rng.uniform_tensor(&[n, 2, h, w], x.device()) * 2.0 - 1.0;
        let smooth = super::photometric::blur_fixed(&noise, self.sigma)?; // [n, 2, h, w]
        // displacement in pixels → normalised units
        let scale = Tensor::from_slice(&[2.0 / w as f32, 2.0 / h as f32]).to_device(x.device()).view([1, 2, 1, 1]);
        let disp = (smooth * self.alpha * scale).permute([0, 2, 3, 1]); // [n, h, w, 2]
        let identity = on_device(&[1.0, 0.0, 0.0, 0.0, 1.0, 0.0], x).view([1, 2, 3]);
        let grid = affine_grid(&identity, h, w) + disp;
        Ok(x.f_grid_sampler(&grid, 0, 0, false)?)
    }
}

#[cfg(test)]
mod tests {
    use super::affine_grid;
    use tch::{Device, Kind, Tensor};

    #[test]
    fn affine_grid_matches_libtorch() {
        let theta = Tensor::randn([5, 2, 3], (Kind::Float, Device::Cpu));
        for (h, w) in [(7, 7), (28, 28), (13, 32)] {
            let ours = affine_grid(&theta, h, w);
            let torch = Tensor::affine_grid_generator(&theta, [5, 1, h, w], false);
            assert_eq!(ours.size(), torch.size());
            let diff = (ours - torch).abs().max().double_value(&[]);
            assert!(diff < 1e-5, "{h}×{w}: max difference {diff}");
        }
    }
}
