//! Bilinear affine warp of CPU batches: the one place where augmentation loops over
//! pixels in Rust instead of calling libtorch.
//!
//! Everything else in `augment/` is whole-batch tensor operations, and so is the warp
//! on a GPU (`affine_grid` + `grid_sample`). On the CPU, libtorch's `grid_sample`
//! reads a materialised `[N, H, W, 2]` grid and gathers every corner through masked
//! vector gathers; at 128×128 it took about twice as long per image as OpenCV's
//! `warpAffine` on one thread (`cargo run --release --example prof_rotate`,
//! `smalldata bench augment`), which made rotation the one operation slower than a
//! per-image peer. An affine map needs no grid: the source position of output pixel
//! `(i, j)` is a linear function of `i` and `j`, computed on the fly; a one-pixel
//! border of the fill value around each plane turns "which corners are inside" into
//! one test per pixel and keeps every read inside the plane; with AVX2 (detected at
//! run time) eight pixels are located at once and their four corners fetched with
//! gathers, and otherwise (and for the last pixels of a row) one pixel at a time.
//!
//! The arithmetic follows `grid_sample(mode = bilinear, padding_mode = zeros,
//! align_corners = false)` step by step in f32 (normalised output coordinates, the
//! affine map, un-normalisation, floor, the weights), so the result equals the
//! tensor path to rounding: the tests below check it against libtorch on random maps.

use super::{new_host_tensor, read_host_values};
use crate::{Error, Result};
use tch::Tensor;

/// `x`: `[N, C, H, W]` f32 on the CPU; `theta`: one sampling matrix per sample (output
/// → input, normalised coordinates, `align_corners = false`); returns
/// `[N, C, out.0, out.1]` f32, bilinear, pixels sampled from outside taking `fill`.
pub(crate) fn warp_cpu(x: &Tensor, theta: &[[f64; 6]], (oh, ow): (i64, i64), fill: f64) -> Result<Tensor> {
    let s = x.size();
    if s.len() != 4 || s[0] as usize != theta.len() || s[2] < 1 || s[3] < 1 || oh < 1 || ow < 1 {
        let want = format!("[N, C, H, W] with N = {} maps, H, W ≥ 1 and an output of at least 1×1", theta.len());
        return Err(Error::shape("warp_cpu", want, format!("{s:?} → {oh}×{ow}")));
    }
    let (n, c, h, w) = (s[0] as usize, s[1] as usize, s[2] as usize, s[3] as usize);
    let (oh, ow) = (oh as usize, ow as usize);
    read_host_values(x, |input| {
        new_host_tensor(&[n as i64, c as i64, oh as i64, ow as i64], |out| warp_planes(input, out, theta, (n, c, h, w), (oh, ow), fill as f32))
    })
}

/// The warp of [`warp_cpu`] from `input` `[n, c, h, w]` into `out` `[n, c, oh, ow]`,
/// row by row with [`row_avx2`] when the CPU has AVX2, else with [`row_any`]; the two
/// give the same bits (tested).
fn warp_planes(input: &[f32], out: &mut [f32], theta: &[[f64; 6]], dims: (usize, usize, usize, usize), out_size: (usize, usize), fill: f32) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above.
        return warp_planes_with(input, out, theta, dims, out_size, fill, |row, dst| unsafe { row_avx2(row, dst) });
    }
    warp_planes_with(input, out, theta, dims, out_size, fill, row_any)
}

/// One output row of one sample: where to read and what the map is.
struct Row<'a> {
    /// The sample's planes, each with a border of the fill: `[c, h + 2, w + 2]`.
    padded: &'a [f32],
    /// `(h + 2)·(w + 2)`, the length of one padded plane.
    plane: usize,
    /// `w + 2`, the row stride of a padded plane.
    pw: usize,
    /// Normalised x of every output column, as `affine_grid` makes them.
    xs: &'a [f32],
    /// The map's columns: source x and y of column `j` are
    /// `row_x + xs[j]·t0` and `row_y + xs[j]·t3` (normalised).
    row_x: f32,
    row_y: f32,
    t0: f32,
    t3: f32,
    /// Input width and height.
    wf: f32,
    hf: f32,
    fill: f32,
    /// Channels; channel `ch` of the row goes to `dst[ch·stride..][..xs.len()]`.
    channels: usize,
    stride: usize,
}

/// Pad every sample and call `row` for each output row with the sample's output
/// from that row's start.
fn warp_planes_with(
    input: &[f32],
    out: &mut [f32],
    theta: &[[f64; 6]],
    (_, c, h, w): (usize, usize, usize, usize),
    (oh, ow): (usize, usize),
    fill: f32,
    mut row: impl FnMut(&Row, &mut [f32]),
) {
    let (ph, pw) = (h + 2, w + 2);
    let mut padded = vec![fill; c * ph * pw];
    // normalised output coordinates, as affine_grid makes them: (2k + 1) / len − 1
    let norm = |k: usize, len: usize| (k as f32 * 2.0 + 1.0) / len as f32 - 1.0;
    let xs: Vec<f32> = (0..ow).map(|j| norm(j, ow)).collect();
    for (sample, t) in theta.iter().enumerate() {
        let t: [f32; 6] = t.map(|v| v as f32);
        let planes = &input[sample * c * h * w..][..c * h * w];
        for (k, src) in planes.chunks_exact(w).enumerate() {
            let (ch, r) = (k / h, k % h);
            padded[ch * ph * pw + (r + 1) * pw + 1..][..w].copy_from_slice(src);
        }
        let dst = &mut out[sample * c * oh * ow..][..c * oh * ow];
        for i in 0..oh {
            let yn = norm(i, oh);
            let job = Row {
                padded: &padded,
                plane: ph * pw,
                pw,
                xs: &xs,
                row_x: yn * t[1] + t[2],
                row_y: yn * t[4] + t[5],
                t0: t[0],
                t3: t[3],
                wf: w as f32,
                hf: h as f32,
                fill,
                channels: c,
                stride: oh * ow,
            };
            row(&job, &mut dst[i * ow..]);
        }
    }
}

/// Source of output column `j` in the padded plane: whether any corner is inside
/// the image, the top-left corner's index and the east and south weights.
#[inline(always)]
fn locate(r: &Row, j: usize) -> (bool, usize, f32, f32) {
    // grid point, grid_sample's un-normalisation ((g + 1)·size − 1) / 2, then + 1
    // for the border of the padded plane
    let px = ((r.row_x + r.xs[j] * r.t0 + 1.0) * r.wf - 1.0) * 0.5 + 1.0;
    let py = ((r.row_y + r.xs[j] * r.t3 + 1.0) * r.hf - 1.0) * 0.5 + 1.0;
    // all four corners outside the image (or a non-finite map): the fill
    let ok = px >= 0.0 && px < r.wf + 1.0 && py >= 0.0 && py < r.hf + 1.0;
    let (px, py) = if ok { (px, py) } else { (0.0, 0.0) };
    // non-negative, so truncation is the floor
    let (x0, y0) = (px as i32, py as i32);
    (ok, y0 as usize * r.pw + x0 as usize, px - x0 as f32, py - y0 as f32)
}

/// Bilinear value of channel `ch` at a located source.
#[inline(always)]
fn blend(r: &Row, ch: usize, (ok, corner, east, south): (bool, usize, f32, f32)) -> f32 {
    let at = ch * r.plane + corner;
    let (top, bottom) = (&r.padded[at..at + 2], &r.padded[at + r.pw..at + r.pw + 2]);
    let upper = top[0] + east * (top[1] - top[0]);
    let lower = bottom[0] + east * (bottom[1] - bottom[0]);
    let v = upper + south * (lower - upper);
    if ok {
        v
    } else {
        r.fill
    }
}

/// Columns `from..` of a row, one pixel at a time.
#[inline(always)]
fn row_from(r: &Row, dst: &mut [f32], from: usize) {
    for j in from..r.xs.len() {
        let at = locate(r, j);
        for ch in 0..r.channels {
            dst[ch * r.stride + j] = blend(r, ch, at);
        }
    }
}

/// A row without SIMD intrinsics (the reference for [`row_avx2`]).
fn row_any(r: &Row, dst: &mut [f32]) {
    row_from(r, dst, 0)
}

/// A row eight pixels at a time: the arithmetic of [`locate`] and [`blend`] in the
/// same order on eight lanes (no fused multiply-adds, so the same bits); each pair of
/// horizontally adjacent corners is one 64-bit element of a gather (four gathers of
/// four for eight pixels: half the elements of gathering corners one by one, which
/// measured 1.6× slower), then de-interleaved; the last `ow mod 8` pixels one by one.
///
/// # Safety
/// The CPU must support AVX2. `r` must describe a padded plane as
/// [`warp_planes_with`] makes it: every located corner index (at most
/// `(h + 1)·pw + w`, since `px < w + 1` and `py < h + 1`) plus `pw + 1` then lies
/// inside each plane, so the gathers read inside `r.padded`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn row_avx2(r: &Row, dst: &mut [f32]) {
    use std::arch::x86_64::*;
    let ow = r.xs.len();
    let full = ow - ow % 8;
    debug_assert!(r.padded.len() >= r.channels * r.plane && dst.len() >= (r.channels - 1) * r.stride + ow);
    let set = _mm256_set1_ps;
    let (one, half, zero) = (set(1.0), set(0.5), _mm256_setzero_ps());
    let (row_x, row_y, t0, t3, wf, hf) = (set(r.row_x), set(r.row_y), set(r.t0), set(r.t3), set(r.wf), set(r.hf));
    let (x_end, y_end, fill) = (set(r.wf + 1.0), set(r.hf + 1.0), set(r.fill));
    let pw = _mm256_set1_epi32(r.pw as i32);
    for j in (0..full).step_by(8) {
        let xn = _mm256_loadu_ps(r.xs.as_ptr().add(j));
        macro_rules! unnorm {
            ($origin:expr, $t:expr, $size:expr) => {
                _mm256_add_ps(_mm256_mul_ps(_mm256_sub_ps(_mm256_mul_ps(_mm256_add_ps(_mm256_add_ps($origin, _mm256_mul_ps(xn, $t)), one), $size), one), half), one)
            };
        }
        let (px, py) = (unnorm!(row_x, t0, wf), unnorm!(row_y, t3, hf));
        let inside_x = _mm256_and_ps(_mm256_cmp_ps::<_CMP_GE_OQ>(px, zero), _mm256_cmp_ps::<_CMP_LT_OQ>(px, x_end));
        let inside_y = _mm256_and_ps(_mm256_cmp_ps::<_CMP_GE_OQ>(py, zero), _mm256_cmp_ps::<_CMP_LT_OQ>(py, y_end));
        let ok = _mm256_and_ps(inside_x, inside_y);
        let (px, py) = (_mm256_and_ps(px, ok), _mm256_and_ps(py, ok));
        let (x0, y0) = (_mm256_cvttps_epi32(px), _mm256_cvttps_epi32(py));
        let east = _mm256_sub_ps(px, _mm256_cvtepi32_ps(x0));
        let south = _mm256_sub_ps(py, _mm256_cvtepi32_ps(y0));
        let corner = _mm256_add_epi32(_mm256_mullo_epi32(y0, pw), x0);
        let (lo, hi) = (_mm256_castsi256_si128(corner), _mm256_extracti128_si256::<1>(corner));
        for ch in 0..r.channels {
            let base = r.padded.as_ptr().add(ch * r.plane) as *const i64;
            let below = r.padded.as_ptr().add(ch * r.plane + r.pw) as *const i64;
            // (left, right) pairs of pixels 0-3 and 4-7; the indices count f32s, hence scale 4
            let t_lo = _mm256_castsi256_ps(_mm256_i32gather_epi64::<4>(base, lo));
            let t_hi = _mm256_castsi256_ps(_mm256_i32gather_epi64::<4>(base, hi));
            let b_lo = _mm256_castsi256_ps(_mm256_i32gather_epi64::<4>(below, lo));
            let b_hi = _mm256_castsi256_ps(_mm256_i32gather_epi64::<4>(below, hi));
            // [l0 r0 l1 r1 | l2 r2 l3 r3] and [l4 r4 l5 r5 | l6 r6 l7 r7] → lefts in
            // order 0 1 4 5 | 2 3 6 7, fixed by a 64-bit permute
            let fix = |v: __m256| _mm256_castpd_ps(_mm256_permute4x64_pd::<0xD8>(_mm256_castps_pd(v)));
            let tl = fix(_mm256_shuffle_ps::<0x88>(t_lo, t_hi));
            let tr = fix(_mm256_shuffle_ps::<0xDD>(t_lo, t_hi));
            let bl = fix(_mm256_shuffle_ps::<0x88>(b_lo, b_hi));
            let br = fix(_mm256_shuffle_ps::<0xDD>(b_lo, b_hi));
            let upper = _mm256_add_ps(tl, _mm256_mul_ps(east, _mm256_sub_ps(tr, tl)));
            let lower = _mm256_add_ps(bl, _mm256_mul_ps(east, _mm256_sub_ps(br, bl)));
            let v = _mm256_add_ps(upper, _mm256_mul_ps(south, _mm256_sub_ps(lower, upper)));
            _mm256_storeu_ps(dst.as_mut_ptr().add(ch * r.stride + j), _mm256_blendv_ps(fill, v, ok));
        }
    }
    row_from(r, dst, full)
}

#[cfg(test)]
mod tests {
    use super::warp_cpu;
    use crate::augment::geometric::affine_grid;
    use rand::{Rng, SeedableRng};
    use tch::{Device, Kind, Tensor};

    /// libtorch's tensor path: grid, then grid_sample of `x − fill` plus `fill`.
    fn reference(x: &Tensor, theta: &[[f64; 6]], out: (i64, i64), fill: f64) -> Tensor {
        let flat: Vec<f32> = theta.iter().flat_map(|t| t.iter().map(|&v| v as f32)).collect();
        let th = Tensor::from_slice(&flat).view([theta.len() as i64, 2, 3]);
        let grid = affine_grid(&th, out.0, out.1);
        (x - fill).grid_sampler(&grid, 0, 0, false) + fill
    }

    #[test]
    fn equals_grid_sample_on_random_maps() {
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(7);
        tch::manual_seed(7);
        for (n, c, h, w, oh, ow) in [(5, 1, 28, 28, 28, 28), (3, 3, 13, 32, 20, 9), (2, 2, 64, 48, 64, 48)] {
            let x = Tensor::rand([n, c, h, w], (Kind::Float, Device::Cpu));
            let theta: Vec<[f64; 6]> = (0..n).map(|_| std::array::from_fn(|_| rng.gen_range(-1.3..1.3))).collect();
            for fill in [0.0, 0.5] {
                let ours = warp_cpu(&x, &theta, (oh, ow), fill).unwrap();
                let theirs = reference(&x, &theta, (oh, ow), fill);
                assert_eq!(ours.size(), theirs.size());
                let diff = (ours - theirs).abs().max().double_value(&[]);
                assert!(diff < 1e-5, "{n}×{c}×{h}×{w} → {oh}×{ow}, fill {fill}: max difference {diff}");
            }
        }
    }

    #[test]
    fn portable_and_dispatched_builds_agree_bit_for_bit() {
        let x = Tensor::rand([3, 2, 30, 21], (Kind::Float, Device::Cpu));
        let input = Vec::<f32>::try_from(x.flatten(0, -1)).unwrap();
        let theta = [[0.9, -0.4, 0.1, 0.4, 0.9, -0.05], [1.1, 0.0, 0.3, 0.2, 0.7, 0.0], [-1.0, 0.0, 0.0, 0.0, 1.0, 0.0]];
        let (mut a, mut b) = (vec![0f32; 3 * 2 * 25 * 17], vec![0f32; 3 * 2 * 25 * 17]);
        super::warp_planes(&input, &mut a, &theta, (3, 2, 30, 21), (25, 17), 0.25);
        super::warp_planes_with(&input, &mut b, &theta, (3, 2, 30, 21), (25, 17), 0.25, super::row_any);
        assert!(a.iter().zip(&b).all(|(p, q)| p.to_bits() == q.to_bits()));
    }

    #[test]
    fn a_map_per_sample_is_required() {
        let x = Tensor::rand([3, 1, 8, 8], (Kind::Float, Device::Cpu));
        let err = warp_cpu(&x, &[[1.0, 0.0, 0.0, 0.0, 1.0, 0.0]; 2], (8, 8), 0.0).unwrap_err().to_string();
        assert!(err.contains("N = 2"), "{err}");
    }

    #[test]
    fn an_empty_image_is_an_error_not_a_panic() {
        let x = Tensor::rand([2, 1, 8, 0], (Kind::Float, Device::Cpu));
        let err = warp_cpu(&x, &[[1.0, 0.0, 0.0, 0.0, 1.0, 0.0]; 2], (8, 8), 0.0).unwrap_err().to_string();
        assert!(err.contains("[2, 1, 8, 0]"), "{err}");
    }

    #[test]
    fn identity_map_returns_the_input() {
        let x = Tensor::rand([2, 3, 17, 11], (Kind::Float, Device::Cpu));
        let id = [[1.0, 0.0, 0.0, 0.0, 1.0, 0.0]; 2];
        let out = warp_cpu(&x, &id, (17, 11), 0.3).unwrap();
        let diff = (out - &x).abs().max().double_value(&[]);
        assert!(diff < 1e-6, "max difference {diff}");
    }
}
