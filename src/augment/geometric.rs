//! Geometric augmentations: rotations, affine maps, flips and elastic deformation
//! (crops are in `crop.rs`). Every per-sample warp is one `affine_grid` + `grid_sample` over the
//! batch (Jaderberg et al. 2015's spatial-transformer sampling), with the sampling
//! matrix built per sample on the host.
//!
//! Convention: a positive angle turns the picture counter-clockwise as displayed
//! (rows going down), as torchvision does; rotation by 90° equals `rot90`.

use super::warp_cpu::warp_cpu;
use super::{check_batch, check_range, on_device, select_samples, AugRng, Augment};
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

pub(super) fn check_fill(fill: Fill) -> Result<()> {
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
