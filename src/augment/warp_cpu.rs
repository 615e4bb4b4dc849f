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
//! one test per pixel; and each row is done in a vectorisable pass over positions and
//! weights followed by a pass of loads and linear interpolations per channel.
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
    if s.len() != 4 || s[0] as usize != theta.len() || oh < 1 || ow < 1 {
        return Err(Error::shape("warp_cpu", format!("[N, C, H, W] with N = {} maps and an output of at least 1×1", theta.len()), format!("{s:?} → {oh}×{ow}")));
    }
    let (n, c, h, w) = (s[0] as usize, s[1] as usize, s[2] as usize, s[3] as usize);
    let (oh, ow) = (oh as usize, ow as usize);
    read_host_values(x, |input| {
        new_host_tensor(&[n as i64, c as i64, oh as i64, ow as i64], |out| warp_planes(input, out, theta, (n, c, h, w), (oh, ow), fill as f32))
    })
}

/// The warp of [`warp_cpu`] from `input` `[n, c, h, w]` into `out` `[n, c, oh, ow]`.
///
/// Each output row is done in two passes so that the compiler can vectorise the
/// first: (1) branch-free, for every pixel of the row, the source position, its
/// top-left corner in the padded plane and the two interpolation weights; (2) per
/// channel, the four loads and three linear interpolations.
fn warp_planes(input: &[f32], out: &mut [f32], theta: &[[f64; 6]], dims: (usize, usize, usize, usize), out_size: (usize, usize), fill: f32) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above.
        return unsafe { warp_planes_avx2(input, out, theta, dims, out_size, fill) };
    }
    warp_planes_any(input, out, theta, dims, out_size, fill)
}

/// [`warp_planes_any`] compiled for AVX2 (8 lanes in the first pass instead of SSE2's
/// 4). No fused multiply-adds are formed (Rust never contracts), so the numbers are
/// the same bit for bit as the portable build's.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn warp_planes_avx2(input: &[f32], out: &mut [f32], theta: &[[f64; 6]], dims: (usize, usize, usize, usize), out_size: (usize, usize), fill: f32) {
    warp_planes_any(input, out, theta, dims, out_size, fill)
}

#[inline(always)]
fn warp_planes_any(input: &[f32], out: &mut [f32], theta: &[[f64; 6]], (_, c, h, w): (usize, usize, usize, usize), (oh, ow): (usize, usize), fill: f32) {
    // the sample's planes, each with a border of `fill`: row-major [c, h + 2, w + 2]
    let (ph, pw) = (h + 2, w + 2);
    let mut padded = vec![fill; c * ph * pw];
    // normalised output coordinates, as affine_grid makes them: (2k + 1) / len − 1
    let norm = |k: usize, len: usize| (k as f32 * 2.0 + 1.0) / len as f32 - 1.0;
    let xs: Vec<f32> = (0..ow).map(|j| norm(j, ow)).collect();
    let (wf, hf) = (w as f32, h as f32);
    // per pixel of one output row: corner index, east and south weights, inside or not
    let (mut corner, mut east, mut south, mut inside) = (vec![0u32; ow], vec![0f32; ow], vec![0f32; ow], vec![false; ow]);
    for (sample, t) in theta.iter().enumerate() {
        let t: [f32; 6] = t.map(|v| v as f32);
        let planes = &input[sample * c * h * w..][..c * h * w];
        for (k, src) in planes.chunks_exact(w).enumerate() {
            let (ch, row) = (k / h, k % h);
            padded[ch * ph * pw + (row + 1) * pw + 1..][..w].copy_from_slice(src);
        }
        let dst = &mut out[sample * c * oh * ow..][..c * oh * ow];
        for i in 0..oh {
            let yn = norm(i, oh);
            let (row_x, row_y) = (yn * t[1] + t[2], yn * t[4] + t[5]);
            for j in 0..ow {
                // grid point, grid_sample's un-normalisation ((g + 1)·size − 1) / 2,
                // then + 1 for the border of the padded plane
                let px = ((row_x + xs[j] * t[0] + 1.0) * wf - 1.0) * 0.5 + 1.0;
                let py = ((row_y + xs[j] * t[3] + 1.0) * hf - 1.0) * 0.5 + 1.0;
                // all four corners outside the image (or a non-finite map): the fill
                let ok = px >= 0.0 && px < wf + 1.0 && py >= 0.0 && py < hf + 1.0;
                let (px, py) = if ok { (px, py) } else { (0.0, 0.0) };
                // non-negative, so truncation is the floor (and cheaper than floorf)
                let (x0, y0) = (px as u32, py as u32);
                east[j] = px - x0 as f32;
                south[j] = py - y0 as f32;
                corner[j] = y0 * pw as u32 + x0;
                inside[j] = ok;
            }
            for ch in 0..c {
                let plane = &padded[ch * ph * pw..][..ph * pw];
                let dst_row = &mut dst[(ch * oh + i) * ow..][..ow];
                for j in 0..ow {
                    let at = corner[j] as usize;
                    let (top, bottom) = (&plane[at..at + 2], &plane[at + pw..at + pw + 2]);
                    let upper = top[0] + east[j] * (top[1] - top[0]);
                    let lower = bottom[0] + east[j] * (bottom[1] - bottom[0]);
                    let v = upper + south[j] * (lower - upper);
                    dst_row[j] = if inside[j] { v } else { fill };
                }
            }
        }
    }
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
        super::warp_planes_any(&input, &mut b, &theta, (3, 2, 30, 21), (25, 17), 0.25);
        assert!(a.iter().zip(&b).all(|(p, q)| p.to_bits() == q.to_bits()));
    }

    #[test]
    fn a_map_per_sample_is_required() {
        let x = Tensor::rand([3, 1, 8, 8], (Kind::Float, Device::Cpu));
        let err = warp_cpu(&x, &[[1.0, 0.0, 0.0, 0.0, 1.0, 0.0]; 2], (8, 8), 0.0).unwrap_err().to_string();
        assert!(err.contains("N = 2"), "{err}");
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
