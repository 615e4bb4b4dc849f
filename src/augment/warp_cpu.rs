//! Bilinear affine warp of CPU batches: the one place where augmentation loops over
//! pixels in Rust instead of calling libtorch.
//!
//! Everything else in `augment/` is whole-batch tensor operations, and so is the warp
//! on a GPU (`affine_grid` + `grid_sample`). On the CPU, libtorch's `grid_sample`
//! reads a materialised `[N, H, W, 2]` grid and gathers every corner through masked
//! vector gathers; at 128×128 it took about twice as long per image as OpenCV's
//! `warpAffine` on one thread (measured with `cargo run --release --example
//! prof_rotate` and `bench/augment_peers.py`), which made rotation the one operation
//! slower than a per-image peer. An affine map needs no grid: the source position of
//! output pixel `(i, j)` is a linear function of `i` and `j`, so it is computed on the
//! fly, and a one-pixel border of the fill value around each image removes every
//! per-corner bounds check.
//!
//! The arithmetic follows `grid_sample(mode = bilinear, padding_mode = zeros,
//! align_corners = false)` step by step in f32 (normalised output coordinates, the
//! affine map, un-normalisation, floor, the four weights), so the result equals the
//! tensor path to rounding: `tests` below check it against libtorch on random maps.

use super::{new_host_tensor, read_host_values};
use crate::Result;
use tch::Tensor;

/// `x`: `[N, C, H, W]` f32 on the CPU; `theta`: one sampling matrix per sample (output
/// → input, normalised coordinates, `align_corners = false`); returns
/// `[N, C, out.0, out.1]` f32, bilinear, pixels sampled from outside taking `fill`.
pub(crate) fn warp_cpu(x: &Tensor, theta: &[[f64; 6]], (oh, ow): (i64, i64), fill: f64) -> Result<Tensor> {
    let s = x.size();
    let (n, c, h, w) = (s[0] as usize, s[1] as usize, s[2] as usize, s[3] as usize);
    let (oh, ow) = (oh as usize, ow as usize);
    read_host_values(x, |input| {
        new_host_tensor(&[n as i64, c as i64, oh as i64, ow as i64], |out| warp_planes(input, out, theta, (n, c, h, w), (oh, ow), fill as f32))
    })
}

/// The warp of [`warp_cpu`] from `input` `[n, c, h, w]` into `out` `[n, c, oh, ow]`.
fn warp_planes(input: &[f32], out: &mut [f32], theta: &[[f64; 6]], (n, c, h, w): (usize, usize, usize, usize), (oh, ow): (usize, usize), fill: f32) {
    // one image plane with a border of `fill`: row-major [h + 2, w + 2]
    let (ph, pw) = (h + 2, w + 2);
    let mut padded = vec![fill; ph * pw];
    // normalised output coordinates, as affine_grid makes them: (2k + 1) / len − 1
    let norm = |k: usize, len: usize| (k as f32 * 2.0 + 1.0) / len as f32 - 1.0;
    let xs: Vec<f32> = (0..ow).map(|j| norm(j, ow)).collect();
    let (wf, hf) = (w as f32, h as f32);
    for (sample, t) in theta.iter().enumerate().take(n) {
        let t: [f32; 6] = t.map(|v| v as f32);
        for ch in 0..c {
            let plane = &input[(sample * c + ch) * h * w..][..h * w];
            for (row, src) in plane.chunks_exact(w).enumerate() {
                padded[(row + 1) * pw + 1..][..w].copy_from_slice(src);
            }
            let dst = &mut out[(sample * c + ch) * oh * ow..][..oh * ow];
            for (i, dst_row) in dst.chunks_exact_mut(ow).enumerate() {
                let yn = norm(i, oh);
                let (row_x, row_y) = (yn * t[1] + t[2], yn * t[4] + t[5]);
                for (j, o) in dst_row.iter_mut().enumerate() {
                    // grid point, then grid_sample's un-normalisation ((g + 1)·size − 1) / 2
                    let gx = row_x + xs[j] * t[0];
                    let gy = row_y + xs[j] * t[3];
                    let ix = ((gx + 1.0) * wf - 1.0) * 0.5;
                    let iy = ((gy + 1.0) * hf - 1.0) * 0.5;
                    // in the padded plane; all four corners outside the image (or a
                    // non-finite map) give the fill
                    let (px, py) = (ix + 1.0, iy + 1.0);
                    if !(px >= 0.0 && px < wf + 1.0 && py >= 0.0 && py < hf + 1.0) {
                        *o = fill;
                        continue;
                    }
                    // non-negative here, so truncation is the floor (and cheaper than floorf)
                    let (x0, y0) = (px as i32, py as i32);
                    let (e, s) = (px - x0 as f32, py - y0 as f32); // weights of the east and south corners
                    let (wt, nt) = (1.0 - e, 1.0 - s);
                    let at = y0 as usize * pw + x0 as usize;
                    let (top, bottom) = (&padded[at..at + 2], &padded[at + pw..at + pw + 2]);
                    let (nw, ne, sw, se) = (top[0], top[1], bottom[0], bottom[1]);
                    *o = nt * wt * nw + nt * e * ne + s * wt * sw + s * e * se;
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
    fn identity_map_returns_the_input() {
        let x = Tensor::rand([2, 3, 17, 11], (Kind::Float, Device::Cpu));
        let id = [[1.0, 0.0, 0.0, 0.0, 1.0, 0.0]; 2];
        let out = warp_cpu(&x, &id, (17, 11), 0.3).unwrap();
        let diff = (out - &x).abs().max().double_value(&[]);
        assert!(diff < 1e-6, "max difference {diff}");
    }
}
