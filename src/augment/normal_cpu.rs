//! Standard normal draws in bulk for [`GaussianNoise`](super::GaussianNoise):
//! sixteen interleaved xoshiro128++ streams and the Box–Muller transform, written so
//! that the compiler vectorises it.
//!
//! Noise is the one augmentation whose cost is all random numbers: a 128×128 image
//! needs 16,384 normal draws, and a scalar ziggurat on a 64-bit generator (what
//! `rand_distr::StandardNormal` is) spends about 3 ns on each, several times the time
//! of everything else the operation does. Here each block of 32 draws comes from
//! sixteen independent generators advanced in lock step (one per vector lane) and
//! sixteen Box–Muller pairs, with no branch and no table:
//!
//! * radius `sqrt(−2 ln u)`, `u = (k + 1)·2⁻²⁴` from the top 24 bits of one output,
//!   so `0 < u ≤ 1` and `|z| ≤ sqrt(48 ln 2) ≈ 5.77`;
//! * angle from another output: its top two bits pick the quadrant and the next 23
//!   give a uniform offset inside it, so only `sin` and `cos` on `[−π/4, π/4]` are
//!   needed;
//! * `ln` on the mantissa through `ln m = 2 atanh((m − 1)/(m + 1))` with
//!   `m ∈ [√½, √2)`, and `sin`, `cos` as Taylor polynomials; the tests below hold
//!   each against f64 (`ln` on all 2²⁴ inputs) to a few f32 ulps and the draws
//!   against the normal distribution (moments, tails, Kolmogorov–Smirnov).
//!
//! The same Rust is compiled three times, for AVX-512 and AVX2 (picked at run time)
//! and for the baseline; only additions, multiplications, division and square root appear, all
//! correctly rounded, and Rust never fuses a multiply and an add, so all builds give
//! the same bits (tested). The streams are seeded from the caller's [`AugRng`], so a
//! seed still fixes everything.

use super::AugRng;
use rand::RngCore;

/// Generators advanced in lock step: one per lane of an AVX-512 vector, two AVX2
/// vectors (whose independent chains also keep more arithmetic in flight).
const LANES: usize = 16;
/// Draws per block: a Box–Muller pair per lane.
const BLOCK: usize = 2 * LANES;

/// [`LANES`] xoshiro128++ generators, advanced together.
#[derive(Debug, Clone)]
pub(crate) struct NormalStream {
    /// `s[k][lane]`: state word `k` of each lane's generator.
    s: [[u32; LANES]; 4],
}

impl NormalStream {
    /// Seed the generators from `rng` (128 bits each; an all-zero state, the
    /// one state xoshiro cannot leave, is replaced).
    pub(crate) fn new(rng: &mut AugRng) -> Self {
        let mut s = [[0u32; LANES]; 4];
        for lane in 0..LANES {
            let (a, b) = (rng.inner().next_u64(), rng.inner().next_u64());
            let words = [a as u32, (a >> 32) as u32, b as u32, (b >> 32) as u32];
            for (k, w) in words.into_iter().enumerate() {
                s[k][lane] = w;
            }
            if words == [0; 4] {
                s[0][lane] = 1;
            }
        }
        NormalStream { s }
    }

    /// Fill `out`, `samples` equal parts one after the other, with standard normal
    /// draws, calling `then(sample, offset, block)` on each block of draws (`offset`
    /// counts from the start of its sample) right after it is written, while it is
    /// still in registers or L1 (how [`add_noise`] fuses its arithmetic). Each sample
    /// starts a new block, and a partial last block discards its unused draws: this
    /// order fixes which draw lands where, on the CPU path and the device path alike.
    pub(crate) fn fill_samples(&mut self, out: &mut [f32], samples: usize, then: impl FnMut(usize, usize, &mut [f32])) {
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU supports AVX-512F, checked just above.
                return unsafe { self.fill_avx512(out, samples, then) };
            }
            if std::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU supports AVX2, checked just above.
                return unsafe { self.fill_avx2(out, samples, then) };
            }
        }
        self.fill_any(out, samples, then)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn fill_avx512(&mut self, out: &mut [f32], samples: usize, then: impl FnMut(usize, usize, &mut [f32])) {
        self.fill_any(out, samples, then)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn fill_avx2(&mut self, out: &mut [f32], samples: usize, then: impl FnMut(usize, usize, &mut [f32])) {
        self.fill_any(out, samples, then)
    }

    #[inline(always)]
    fn fill_any(&mut self, out: &mut [f32], samples: usize, mut then: impl FnMut(usize, usize, &mut [f32])) {
        if out.is_empty() || samples == 0 {
            return;
        }
        for (sample, part) in out.chunks_exact_mut(out.len() / samples).enumerate() {
            let (blocks, rest) = part.as_chunks_mut::<BLOCK>();
            for (k, block) in blocks.iter_mut().enumerate() {
                self.block(block);
                then(sample, k * BLOCK, block);
            }
            if !rest.is_empty() {
                let mut last = [0f32; BLOCK];
                self.block(&mut last);
                rest.copy_from_slice(&last[..rest.len()]);
                then(sample, blocks.len() * BLOCK, rest);
            }
        }
    }

    /// One output of every lane's generator (xoshiro128++: Blackman and Vigna).
    #[inline(always)]
    fn next(&mut self) -> [u32; LANES] {
        let [s0, s1, s2, s3] = &mut self.s;
        let mut out = [0u32; LANES];
        for l in 0..LANES {
            out[l] = s0[l].wrapping_add(s3[l]).rotate_left(7).wrapping_add(s0[l]);
            let t = s1[l] << 9;
            s2[l] ^= s0[l];
            s3[l] ^= s1[l];
            s1[l] ^= s2[l];
            s0[l] ^= s3[l];
            s2[l] ^= t;
            s3[l] = s3[l].rotate_left(11);
        }
        out
    }

    /// [`BLOCK`] draws: lane `l` gives `out[l]` (the cosine half of its pair) and
    /// `out[LANES + l]` (the sine half).
    #[inline(always)]
    fn block(&mut self, out: &mut [f32; BLOCK]) {
        let (radial, angular) = (self.next(), self.next());
        let (lo, hi) = out.split_at_mut(LANES);
        for l in 0..LANES {
            // u in (0, 1]: 24 bits, exact in f32
            let u = ((radial[l] >> 8) as i32 + 1) as f32 * (1.0 / 16_777_216.0);
            let r = (-2.0 * ln_unit(u)).sqrt();
            // quadrant from the top two bits, θ ∈ [−π/4, π/4) from the next 23
            let q = angular[l] >> 30;
            let frac = ((angular[l] >> 7) & 0x7f_ffff) as i32 as f32 * (1.0 / 8_388_608.0);
            let theta = (frac - 0.5) * std::f32::consts::FRAC_PI_2;
            let (s, c) = sin_cos_quarter(theta);
            // rotate (cos θ, sin θ) by q quarter turns: swap when q is odd, then signs
            let odd = q & 1 == 1;
            let (x, y) = if odd { (s, c) } else { (c, s) };
            let x_neg = ((q + 1) >> 1) & 1; // q = 1, 2
            let y_neg = q >> 1; // q = 2, 3
            lo[l] = r * f32::from_bits(x.to_bits() ^ (x_neg << 31));
            hi[l] = r * f32::from_bits(y.to_bits() ^ (y_neg << 31));
        }
    }
}

/// `ln u` for a positive normal f32 `u`: `u = m·2ᵉ` with `m ∈ [√½, √2)`, then
/// `ln m = 2 atanh(s) = 2(s + s³/3 + s⁵/5 + …)` with `s = (m − 1)/(m + 1)`,
/// `|s| ≤ 0.172`, so five terms leave an error below 10⁻⁹.
#[inline(always)]
fn ln_unit(u: f32) -> f32 {
    let bits = u.to_bits() as i32;
    let mut e = (bits >> 23) - 127;
    let mut m = f32::from_bits(((bits & 0x7f_ffff) | 0x3f80_0000) as u32); // [1, 2)
    let big = m > std::f32::consts::SQRT_2;
    m = if big { m * 0.5 } else { m };
    e += big as i32;
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let series = 1.0 + s2 * (1.0 / 3.0 + s2 * (1.0 / 5.0 + s2 * (1.0 / 7.0 + s2 * (1.0 / 9.0))));
    e as f32 * std::f32::consts::LN_2 + 2.0 * s * series
}

/// `(sin θ, cos θ)` for `|θ| ≤ π/4` from their Taylor series to θ⁹ and θ¹⁰ (errors
/// below 2·10⁻⁹ and 10⁻¹⁰ there).
#[inline(always)]
fn sin_cos_quarter(theta: f32) -> (f32, f32) {
    let t2 = theta * theta;
    let sin = theta * (1.0 + t2 * (-1.0 / 6.0 + t2 * (1.0 / 120.0 + t2 * (-1.0 / 5040.0 + t2 * (1.0 / 362_880.0)))));
    let cos = 1.0 + t2 * (-0.5 + t2 * (1.0 / 24.0 + t2 * (-1.0 / 720.0 + t2 * (1.0 / 40_320.0 + t2 * (-1.0 / 3_628_800.0)))));
    (sin, cos)
}

/// `out[i] = clamp(x[i] + sigma·z[i])` for every sample (`x`, `out`: `[n, len]` row
/// major, one `sigma` per sample), `z` standard normal from `stream`, clamped to
/// `[0, 1]` when `clip`: each block of draws is turned into output values as soon as
/// it is made.
pub(crate) fn add_noise(x: &[f32], out: &mut [f32], sigma: &[f32], clip: bool, stream: &mut NormalStream) {
    let len = x.len() / sigma.len().max(1);
    stream.fill_samples(out, sigma.len(), |sample, at, z| {
        let (s, xs) = (sigma[sample], &x[sample * len + at..][..z.len()]);
        if clip {
            z.iter_mut().zip(xs).for_each(|(o, &v)| *o = (v + s * *o).clamp(0.0, 1.0));
        } else {
            z.iter_mut().zip(xs).for_each(|(o, &v)| *o = v + s * *o);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draws(seed: u64, n: usize) -> Vec<f32> {
        let mut out = vec![0f32; n];
        NormalStream::new(&mut AugRng::new(seed)).fill_samples(&mut out, 1, |_, _, _| {});
        out
    }

    #[test]
    fn ln_is_within_a_few_ulps_on_every_possible_input() {
        let mut worst = 0f64;
        for k in 0..(1u32 << 24) {
            let u = (k + 1) as f32 * (1.0 / 16_777_216.0);
            let (ours, exact) = (ln_unit(u) as f64, (u as f64).ln());
            // absolute error in units of the f32 spacing at the exact value (at least
            // the spacing near 1, where ln u → 0 and a relative measure breaks down)
            let ulp = (exact.abs().max(1e-7) as f32).to_bits();
            let spacing = (f32::from_bits(ulp + 1) - f32::from_bits(ulp)) as f64;
            worst = worst.max((ours - exact).abs() / spacing);
        }
        assert!(worst <= 4.0, "worst error {worst} ulps");
    }

    #[test]
    fn sin_cos_match_f64_on_the_quarter() {
        for k in 0..=100_000 {
            let t = (k as f32 / 100_000.0 - 0.5) * std::f32::consts::FRAC_PI_2;
            let (s, c) = sin_cos_quarter(t);
            assert!((s as f64 - (t as f64).sin()).abs() < 3e-7, "sin {t}");
            assert!((c as f64 - (t as f64).cos()).abs() < 3e-7, "cos {t}");
        }
    }

    #[test]
    fn draws_are_standard_normal() {
        let n = 2_000_000;
        let z: Vec<f64> = draws(11, n).into_iter().map(f64::from).collect();
        let mean = z.iter().sum::<f64>() / n as f64;
        let var = z.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64;
        let skew = z.iter().map(|v| (v - mean).powi(3)).sum::<f64>() / n as f64 / var.powf(1.5);
        let kurt = z.iter().map(|v| (v - mean).powi(4)).sum::<f64>() / n as f64 / (var * var);
        // standard errors at n = 2·10⁶: mean 7·10⁻⁴, var 10⁻³, skew 1.7·10⁻³, kurt 3.5·10⁻³
        assert!(mean.abs() < 4e-3, "mean {mean}");
        assert!((var - 1.0).abs() < 5e-3, "variance {var}");
        assert!(skew.abs() < 1e-2, "skewness {skew}");
        assert!((kurt - 3.0).abs() < 2e-2, "kurtosis {kurt}");
        // tails: P(|z| > 2) = 0.0455, P(|z| > 3) = 0.0027
        let beyond = |t: f64| z.iter().filter(|v| v.abs() > t).count() as f64 / n as f64;
        assert!((beyond(2.0) - 0.04550).abs() < 1e-3, "P(|z| > 2) = {}", beyond(2.0));
        assert!((beyond(3.0) - 0.00270).abs() < 2e-4, "P(|z| > 3) = {}", beyond(3.0));
        // Kolmogorov–Smirnov against Φ: the 0.1% critical value is 1.95/√n
        let mut sorted = z;
        sorted.sort_by(f64::total_cmp);
        let cdf = normal_cdf_at_sorted(&sorted);
        let d = cdf
            .iter()
            .enumerate()
            .map(|(i, &p)| (p - i as f64 / n as f64).abs().max(((i + 1) as f64 / n as f64 - p).abs()))
            .fold(0.0, f64::max);
        assert!(d < 1.95 / (n as f64).sqrt(), "KS distance {d}");
    }

    /// Φ at each of the ascending points `x`: ½ plus the integral of the density from
    /// 0 to the first point, then from each point to the next, by Simpson's rule
    /// (fine steps from 0, one panel per gap: the gaps of 10⁶ sorted draws are tiny,
    /// and the errors, each of order gap⁵, stay far below 10⁻⁹ in total).
    fn normal_cdf_at_sorted(x: &[f64]) -> Vec<f64> {
        let phi = |t: f64| (-0.5 * t * t).exp() / (2.0 * std::f64::consts::PI).sqrt();
        let simpson = |a: f64, b: f64, panels: usize| {
            let h = (b - a) / (2 * panels) as f64;
            let inner: f64 = (1..2 * panels).map(|i| phi(a + i as f64 * h) * if i % 2 == 1 { 4.0 } else { 2.0 }).sum();
            (phi(a) + inner + phi(b)) * h / 3.0
        };
        let mut out = Vec::with_capacity(x.len());
        let mut p = 0.5 + simpson(0.0, x[0], 20_000);
        out.push(p);
        for w in x.windows(2) {
            p += simpson(w[0], w[1], 1);
            out.push(p);
        }
        out
    }

    #[test]
    fn lanes_are_independent_and_blocks_differ() {
        let z = draws(5, 4096);
        // correlation between consecutive draws and between the two halves of a pair
        let corr = |a: &[f32], b: &[f32]| {
            let n = a.len() as f64;
            a.iter().zip(b).map(|(&x, &y)| x as f64 * y as f64).sum::<f64>() / n
        };
        assert!(corr(&z[..4095], &z[1..]).abs() < 0.06);
        let (cosines, sines): (Vec<f32>, Vec<f32>) = z.chunks_exact(BLOCK).flat_map(|b| (0..LANES).map(move |l| (b[l], b[LANES + l]))).unzip();
        assert!(corr(&cosines, &sines).abs() < 0.06);
        assert_ne!(draws(5, 64), draws(6, 64));
        assert_eq!(draws(5, 64), draws(5, 64));
    }

    #[test]
    fn portable_and_dispatched_builds_agree_bit_for_bit() {
        let mut a = vec![0f32; 1003];
        let mut b = vec![0f32; 1003];
        NormalStream::new(&mut AugRng::new(9)).fill_samples(&mut a, 1, |_, _, _| {});
        NormalStream::new(&mut AugRng::new(9)).fill_any(&mut b, 1, |_, _, _| {});
        let mut c = vec![0f32; 1003];
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: AVX2 is there, checked just above.
            unsafe { NormalStream::new(&mut AugRng::new(9)).fill_avx2(&mut c, 1, |_, _, _| {}) };
            assert!(c.iter().zip(&b).all(|(p, q)| p.to_bits() == q.to_bits()));
        }
        assert!(a.iter().zip(&b).all(|(p, q)| p.to_bits() == q.to_bits()));
    }

    #[test]
    fn a_partial_block_is_the_start_of_a_full_one() {
        assert_eq!(draws(3, 37)[..], draws(3, 48)[..37]);
    }
}
