//! Properties every image augmentation must keep, and the exact identities.

use proptest::prelude::*;
use smalldata::augment::*;
use tch::{Device, Kind, Tensor};

mod common;
use common::all_ops;

fn batch(n: i64, c: i64, h: i64, w: i64, seed: i64) -> Tensor {
    tch::manual_seed(seed);
    Tensor::rand([n, c, h, w], (Kind::Float, Device::Cpu))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]

    #[test]
    fn shape_kind_and_range_are_kept(n in 1i64..6, rgb in any::<bool>(), seed in 0u64..1000, op in 0usize..17) {
        let c = if rgb { 3 } else { 1 };
        let x = batch(n, c, 16, 16, seed as i64);
        let ops = all_ops();
        let y = ops[op].apply(&x, seed).unwrap();
        prop_assert_eq!(y.size(), x.size(), "{}", ops[op].name());
        prop_assert_eq!(y.kind(), Kind::Float);
        let (lo, hi) = (y.min().double_value(&[]), y.max().double_value(&[]));
        prop_assert!(lo >= 0.0 && hi <= 1.0, "{}: range [{lo}, {hi}]", ops[op].name());
    }

    #[test]
    fn same_seed_same_bits(seed in 0u64..1000, op in 0usize..17) {
        let x = batch(4, 3, 16, 16, 1);
        let ops = all_ops();
        let a = ops[op].apply(&x, seed).unwrap();
        let b = ops[op].apply(&x, seed).unwrap();
        prop_assert!(a.equal(&b), "{} is not deterministic", ops[op].name());
    }
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).abs().max().double_value(&[])
}

#[test]
fn zero_rotation_and_unpadded_full_crop_are_identities() {
    let x = batch(5, 3, 12, 20, 3);
    let r = RandomRotation::new(0.0, 0.0).build().unwrap().apply(&x, 0).unwrap();
    assert!(max_abs_diff(&r, &x) < 1e-5, "{}", max_abs_diff(&r, &x));
    let c = RandomCrop::new(12, 20).build().unwrap().apply(&x, 0).unwrap();
    assert!(c.equal(&x));
    let a = RandomAffine::new().build().unwrap().apply(&x, 0).unwrap();
    assert!(max_abs_diff(&a, &x) < 1e-5);
}

#[test]
fn rotation_by_90_is_rot90() {
    let x = batch(3, 1, 16, 16, 4);
    let r = RandomRotation::new(90.0, 90.0).build().unwrap().apply(&x, 0).unwrap();
    let want = x.rot90(1, [2, 3]);
    assert!(max_abs_diff(&r, &want) < 1e-5, "{}", max_abs_diff(&r, &want));
    let r = RandomRotation::new(-90.0, -90.0).build().unwrap().apply(&x, 0).unwrap();
    assert!(max_abs_diff(&r, &x.rot90(-1, [2, 3])) < 1e-5);
}

#[test]
fn crop_offsets_are_integer_shifts_of_the_padded_image() {
    let x = batch(6, 1, 8, 8, 5);
    let y = RandomCrop::new(8, 8).padding(2).build().unwrap().apply(&x, 9).unwrap();
    let padded = x.constant_pad_nd([2, 2, 2, 2]);
    for i in 0..6 {
        let found = (0..5).any(|dy| (0..5).any(|dx| padded.get(i).narrow(1, dy, 8).narrow(2, dx, 8).equal(&y.get(i))));
        assert!(found, "sample {i} is not a crop of the padded image");
    }
}

#[test]
fn flips_twice_are_the_identity() {
    let x = batch(4, 3, 9, 7, 6);
    for f in [Flip::horizontal(1.0).build().unwrap(), Flip::vertical(1.0).build().unwrap()] {
        let once = f.apply(&x, 0).unwrap();
        assert!(!once.equal(&x));
        assert!(f.apply(&once, 1).unwrap().equal(&x));
    }
    assert!(Flip::horizontal(1.0).build().unwrap().apply(&x, 0).unwrap().equal(&x.flip([3])));
}

#[test]
fn noise_has_the_asked_sigma() {
    let x = Tensor::full([64, 1, 32, 32], 0.5, (Kind::Float, Device::Cpu));
    for sigma in [0.02, 0.1] {
        let y = GaussianNoise::new(sigma).clip(false).build().unwrap().apply(&x, 3).unwrap();
        let measured = (&y - &x).std(true).double_value(&[]);
        assert!((measured - sigma).abs() < 0.02 * sigma, "asked {sigma}, measured {measured}");
    }
}

#[test]
fn mixing_gives_soft_labels_that_sum_to_one() {
    let x = batch(16, 1, 8, 8, 7);
    let labels = Tensor::from_slice(&[0i64, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3]);
    let mut rng = AugRng::new(0);
    for (images, soft) in [
        MixUp::new(0.4).unwrap().apply(&x, &labels, 4, &mut rng).unwrap(),
        CutMix::new(1.0).unwrap().apply(&x, &labels, 4, &mut rng).unwrap(),
    ] {
        assert_eq!(images.size(), x.size());
        assert_eq!(soft.size(), vec![16, 4]);
        let sums = soft.sum_dim_intlist(1, false, Kind::Float);
        assert!(max_abs_diff(&sums, &Tensor::ones([16], (Kind::Float, Device::Cpu))) < 1e-6);
        assert!(soft.min().double_value(&[]) >= 0.0);
    }
    assert!(MixUp::new(0.0).is_err());
    assert!(MixUp::new(0.4).unwrap().apply(&x, &labels, 3, &mut rng).unwrap_err().to_string().contains('3'));
}

#[test]
fn bad_parameters_name_the_value() {
    let msg = |e: smalldata::Error| e.to_string();
    assert!(msg(Flip::horizontal(1.5).build().unwrap_err()).contains("1.5"));
    assert!(msg(RandomApply::new(Box::new(Identity), -0.1).unwrap_err()).contains("-0.1"));
    assert!(msg(GaussianNoise::new(-0.2).build().unwrap_err()).contains("-0.2"));
    let x = batch(2, 1, 8, 8, 0);
    let e = msg(RandomCrop::new(20, 20).padding(2).build().unwrap().apply(&x, 0).unwrap_err());
    assert!(e.contains("20×20") && e.contains("8×8"), "{e}");
    let e = msg(GaussianNoise::new(0.1).build().unwrap().apply(&Tensor::zeros([8, 8], (Kind::Float, Device::Cpu)), 0).unwrap_err());
    assert!(e.contains("[8, 8]"), "{e}");
    let e = msg(ColorJitter::new().brightness(0.2).build().unwrap().apply(&batch(2, 4, 8, 8, 0), 0).unwrap_err());
    assert!(e.contains("channels") && e.contains('4'), "{e}");
    assert!(msg(RandomRotation::new(10.0, -10.0).build().unwrap_err()).contains("(10, -10)"));
    // the same check through ParamGuard, without consuming the parameters
    use smalldata::params::ParamGuard;
    let bad = RandomErasing::new(2.0);
    assert!(msg(bad.check_ref().unwrap_err()).contains('2'));
    assert!(bad.check().is_err() && RandomErasing::new(0.5).check().is_ok());
}

#[test]
fn preview_shows_originals_then_copies() {
    let x = batch(3, 1, 10, 10, 2);
    let g = preview(&RandomRotation::new(-20.0, 20.0).build().unwrap(), &x, 4, 0).unwrap();
    // 5 columns of 10·9 px (magnified to about 84 px) + gutters, 3 rows, 20 px of
    // column headers above
    assert_eq!((g.width, g.height), (5 * 92 + 2, 20 + 3 * 92 + 2));
    // with a label per row the grid widens to the left; a label per image is required
    let names: Vec<String> = ["shirt", "bag", "ankle boot"].iter().map(|s| s.to_string()).collect();
    let labelled = preview_labelled(&RandomRotation::new(-20.0, 20.0).build().unwrap(), &x, &names, 4, 0).unwrap();
    assert!(labelled.width > g.width && labelled.height == g.height);
    assert!(preview_labelled(&RandomRotation::new(-20.0, 20.0).build().unwrap(), &x, &names[..2], 4, 0).is_err());
}

/// On CPU batches crop, noise and the affine warps run in host kernels; a batch that
/// requires grad takes the whole-batch tensor path (the one GPUs use). For the same
/// seed both must give the same numbers: crop and noise exactly (the same draws and,
/// for noise, the same f32 arithmetic), the warp to rounding.
#[test]
fn host_kernels_equal_the_tensor_path() {
    let base = batch(5, 3, 13, 17, 8);
    // a non-contiguous input as well: the host kernels must read it in logical order
    let transposed = batch(5, 3, 17, 13, 9).transpose(2, 3);
    let ops: Vec<(Box<dyn Augment>, f64)> = vec![
        (Box::new(RandomCrop::new(13, 17).padding(3).build().unwrap()), 0.0),
        (Box::new(RandomCrop::new(9, 11).padding(4).fill(Fill::Constant(0.3)).build().unwrap()), 0.0),
        (Box::new(RandomCrop::new(13, 17).padding(5).fill(Fill::Reflect).build().unwrap()), 0.0),
        (Box::new(RandomCrop::new(7, 5).build().unwrap()), 0.0),
        (Box::new(GaussianNoise::new(0.2).build().unwrap()), 0.0),
        (Box::new(GaussianNoise::new(0.1).sigma_range(0.0, 0.5).clip(false).build().unwrap()), 0.0),
        (Box::new(RandomRotation::new(-40.0, 40.0).fill(0.2).build().unwrap()), 1e-5),
    ];
    for x in [&base, &transposed] {
        for (op, tolerance) in &ops {
            for seed in 0..3 {
                let host = op.apply(x, seed).unwrap();
                let tensor_path = op.apply(&x.copy().set_requires_grad(true), seed).unwrap().detach();
                assert_eq!(host.size(), tensor_path.size(), "{}", op.name());
                let diff = max_abs_diff(&host, &tensor_path);
                assert!(diff <= *tolerance, "{} seed {seed}: host and tensor paths differ by {diff}", op.name());
            }
        }
    }
}
