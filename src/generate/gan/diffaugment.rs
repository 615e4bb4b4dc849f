//! DiffAugment (Zhao et al. 2020): the same random, differentiable augmentations
//! applied to real and generated images every time the discriminator sees them, in
//! both the discriminator's and the generator's updates. The discriminator can no
//! longer memorise a few hundred real images, and since the ops are differentiable
//! the generator still gets gradients through them — while it is not taught to
//! produce augmented images, as it would be if only real images were augmented.
//!
//! The policy is the paper's `color,translation,cutout`, on images in `[-1, 1]`:
//! brightness `+U(−½, ½)`; saturation `×U(0, 2)` around the per-pixel channel mean
//! (RGB only); contrast `×U(½, 3/2)` around the image mean; translation by up to ⅛ of
//! the side with zero fill; one zeroed square of half the side at a random place.

use crate::augment::AugRng;
use tch::{Kind, Tensor};

/// Apply the `color,translation,cutout` policy to a batch `[N, C, H, W]`; every
/// sample draws its own parameters from `rng`.
pub fn diff_augment(x: &Tensor, rng: &mut AugRng) -> Tensor {
    let x = color(x, rng);
    let x = translation(&x, rng, 0.125);
    cutout(&x, rng, 0.5)
}

fn per_sample(rng: &mut AugRng, n: i64, lo: f64, hi: f64, x: &Tensor) -> Tensor {
    let v: Vec<f32> = rng.uniform(n as usize, lo, hi).into_iter().map(|v| v as f32).collect();
    Tensor::from_slice(&v).view([n, 1, 1, 1]).to_device(x.device())
}

fn color(x: &Tensor, rng: &mut AugRng) -> Tensor {
    let n = x.size()[0];
    let x = x + per_sample(rng, n, -0.5, 0.5, x);
    let x = if x.size()[1] > 1 {
        let mean = x.mean_dim([1i64].as_slice(), true, Kind::Float);
        (&x - &mean) * per_sample(rng, n, 0.0, 2.0, &x) + mean
    } else {
        x
    };
    let mean = x.mean_dim([1i64, 2, 3].as_slice(), true, Kind::Float);
    (&x - &mean) * per_sample(rng, n, 0.5, 1.5, &x) + mean
}

/// Shift each image by whole pixels in `[-r·side, r·side]`, filling with zeros.
fn translation(x: &Tensor, rng: &mut AugRng, ratio: f64) -> Tensor {
    let [n, c, h, w] = x.size()[..] else { unreachable!("a batch is [N, C, H, W]") };
    let (sh, sw) = (((h as f64) * ratio + 0.5) as i64, ((w as f64) * ratio + 0.5) as i64);
    let dy: Vec<i64> = rng.below(n as usize, (2 * sh + 1) as usize).into_iter().map(|v| v as i64).collect();
    let dx: Vec<i64> = rng.below(n as usize, (2 * sw + 1) as usize).into_iter().map(|v| v as i64).collect();
    let dev = x.device();
    let padded = x.constant_pad_nd([sw, sw, sh, sh]);
    // row r of the output reads row r + dy of the padded image (dy in 0..=2·sh)
    let rows = Tensor::arange(h, (Kind::Int64, dev)).view([1, 1, h, 1]) + Tensor::from_slice(&dy).to_device(dev).view([n, 1, 1, 1]);
    let picked = padded.gather(2, &rows.expand([n, c, h, w + 2 * sw], false), false);
    let cols = Tensor::arange(w, (Kind::Int64, dev)).view([1, 1, 1, w]) + Tensor::from_slice(&dx).to_device(dev).view([n, 1, 1, 1]);
    picked.gather(3, &cols.expand([n, c, h, w], false), false)
}

/// Zero one square of `ratio`·side per image, centred anywhere (clipped at the border).
fn cutout(x: &Tensor, rng: &mut AugRng, ratio: f64) -> Tensor {
    let [n, _, h, w] = x.size()[..] else { unreachable!("a batch is [N, C, H, W]") };
    let (ch, cw) = (((h as f64) * ratio + 0.5) as i64, ((w as f64) * ratio + 0.5) as i64);
    let cy: Vec<i64> = rng.below(n as usize, (h + 1 - ch % 2) as usize).into_iter().map(|v| v as i64).collect();
    let cx: Vec<i64> = rng.below(n as usize, (w + 1 - cw % 2) as usize).into_iter().map(|v| v as i64).collect();
    let dev = x.device();
    let inside = |centre: Vec<i64>, side: i64, len: i64, shape: [i64; 4]| {
        let pos = Tensor::arange(len, (Kind::Int64, dev)).view(shape);
        let lo = Tensor::from_slice(&centre).to_device(dev).view([n, 1, 1, 1]) - side / 2;
        pos.ge_tensor(&lo).logical_and(&pos.lt_tensor(&(lo + side)))
    };
    let hole = inside(cy, ch, h, [1, 1, h, 1]).logical_and(&inside(cx, cw, w, [1, 1, 1, w]));
    x * hole.logical_not().to_kind(Kind::Float)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn translation_shifts_whole_pixels_and_cutout_zeroes_a_square() {
        let x = Tensor::ones([64, 1, 16, 16], (Kind::Float, tch::Device::Cpu));
        let mut rng = AugRng::new(0);
        let t = translation(&x, &mut rng, 0.125);
        // each image keeps (16 − |dy|)(16 − |dx|) ones, |dy|, |dx| ≤ 2
        for i in 0..64 {
            let kept = t.get(i).sum(Kind::Float).double_value(&[]) as i64;
            assert!([256, 240, 224, 225, 210, 196].contains(&kept), "image {i}: {kept}");
        }
        let c = cutout(&x, &mut rng, 0.5);
        for i in 0..64 {
            let zeroed = 256 - c.get(i).sum(Kind::Float).double_value(&[]) as i64;
            assert!(zeroed > 0 && zeroed <= 64, "image {i}: {zeroed}");
        }
        // same seed, same augmentation; gradients flow to the input
        let y = Tensor::rand([4, 3, 8, 8], (Kind::Float, tch::Device::Cpu)).set_requires_grad(true);
        let a = diff_augment(&y, &mut AugRng::new(5));
        let b = diff_augment(&y, &mut AugRng::new(5));
        assert!(a.equal(&b));
        a.sum(Kind::Float).backward();
        assert!(y.grad().abs().sum(Kind::Float).double_value(&[]) > 0.0);
    }
}
