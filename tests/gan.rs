//! The conditional GAN: shapes, a discriminator step that learns, checkpoints that
//! resume exactly, and configs that are refused.

use smalldata::augment::AugRng;
use smalldata::data::ImageDataset;
use smalldata::generate::{mix_real_synthetic, Gan, GanConfig, GanLoss};
use smalldata::tch::{Device, Kind, Tensor};

fn tiny(loss: GanLoss) -> GanConfig {
    GanConfig { loss, z_dim: 16, g_width: 8, d_width: 8, batch_size: 8, steps: 6, checkpoint_every: 3, ..GanConfig::default() }
}

/// 4 classes of 8×8 gray images: class c is a bright square in corner c.
fn squares(n_per_class: usize) -> ImageDataset {
    let mut images = Tensor::zeros([4 * n_per_class as i64, 1, 8, 8], (Kind::Float, Device::Cpu));
    let mut labels = Vec::new();
    for c in 0..4i64 {
        for i in 0..n_per_class as i64 {
            let k = c * n_per_class as i64 + i;
            let (r, col) = ((c / 2) * 4, (c % 2) * 4);
            let _ = images.get(k).narrow(1, r, 4).narrow(2, col, 4).fill_(0.5 + 0.05 * (i % 10) as f64);
            labels.push(c);
        }
    }
    images = images.contiguous();
    ImageDataset::new(images, Tensor::from_slice(&labels), (0..4).map(|c| format!("corner {c}")).collect()).unwrap()
}

#[test]
fn shapes_for_gray_and_rgb() {
    for (shape, classes) in [([1usize, 28, 28], 10usize), ([3, 32, 32], 10), ([1, 8, 8], 4)] {
        let gan = Gan::new(tiny(GanLoss::Hinge), shape, classes, Device::Cpu).unwrap();
        let z = Tensor::zeros([5, 16], (Kind::Float, Device::Cpu));
        let y = Tensor::from_slice(&[0i64, 1, 2, 3, 0]);
        let x = gan.generator.forward(&z, &y, false);
        assert_eq!(x.size(), vec![5, shape[0] as i64, shape[1] as i64, shape[2] as i64]);
        assert!(x.abs().max().double_value(&[]) <= 1.0);
        assert_eq!(gan.discriminator.forward(&x, &y, true).size(), vec![5]);
        let (images, labels) = gan.sample(3, 0).unwrap();
        assert_eq!(images.size()[0], 3 * classes as i64);
        assert_eq!(Vec::<i64>::try_from(labels).unwrap()[..4], [0, 0, 0, 1]);
        assert!(images.min().double_value(&[]) >= 0.0 && images.max().double_value(&[]) <= 1.0);
    }
}

#[test]
fn a_discriminator_step_lowers_its_loss_on_a_fixed_batch() {
    let data = squares(4);
    for loss in [GanLoss::NonSaturating, GanLoss::Hinge, GanLoss::WganGp { lambda: 10.0 }] {
        let mut gan = Gan::new(GanConfig { diff_augment: false, lr_d: 1e-3, ..tiny(loss) }, [1, 8, 8], 4, Device::Cpu).unwrap();
        let real = &data.images * 2.0 - 1.0;
        let z = Tensor::zeros([16, 16], (Kind::Float, Device::Cpu)).normal_(0.0, 1.0);
        let fake = smalldata::tch::no_grad(|| gan.generator.forward(&z, &data.labels, true));
        let before = gan.discriminator_step(&real, &data.labels, &fake, &data.labels, &mut AugRng::new(1));
        let after = gan.d_loss(&real, &data.labels, &fake, &data.labels, &mut AugRng::new(1)).double_value(&[]);
        assert!(after < before, "{loss:?}: {before} → {after}");
    }
}

#[test]
fn same_seed_same_samples_and_resume_is_exact() {
    let data = squares(6);
    let dir = tempfile::tempdir().unwrap();
    // uninterrupted: 6 steps
    let mut straight = Gan::new(tiny(GanLoss::Hinge), [1, 8, 8], 4, Device::Cpu).unwrap();
    straight.train(&data).unwrap();
    let (a, _) = straight.sample(5, 7).unwrap();
    let mut again = Gan::new(tiny(GanLoss::Hinge), [1, 8, 8], 4, Device::Cpu).unwrap();
    again.train(&data).unwrap();
    assert!(a.equal(&again.sample(5, 7).unwrap().0), "same seed must give the same samples");
    assert!(!a.equal(&straight.sample(5, 8).unwrap().0), "another sampling seed gives other samples");

    // interrupted after 3 steps (a checkpoint every 3), then resumed in a fresh GAN
    let cfg = GanConfig { out: Some(dir.path().to_path_buf()), ..tiny(GanLoss::Hinge) };
    let mut first = Gan::new(GanConfig { steps: 3, ..cfg.clone() }, [1, 8, 8], 4, Device::Cpu).unwrap();
    first.train(&data).unwrap();
    assert!(dir.path().join("checkpoint.safetensors").exists());
    let mut resumed = Gan::new(cfg.clone(), [1, 8, 8], 4, Device::Cpu).unwrap();
    let history = resumed.train(&data).unwrap();
    assert_eq!(history.resumed_from, 3);
    assert_eq!(resumed.step, 6);
    assert!(a.equal(&resumed.sample(5, 7).unwrap().0), "a resumed run must end where an uninterrupted one does");

    // checkpoint round trip: a loaded GAN samples exactly what the saved one does
    let mut loaded = Gan::new(cfg.clone(), [1, 8, 8], 4, Device::Cpu).unwrap();
    loaded.load(dir.path()).unwrap();
    assert_eq!(loaded.step, 6);
    assert!(a.equal(&loaded.sample(5, 7).unwrap().0));

    // a checkpoint of other settings is refused, naming the file
    let mut other = Gan::new(GanConfig { loss: GanLoss::NonSaturating, ..cfg }, [1, 8, 8], 4, Device::Cpu).unwrap();
    let err = other.train(&data).unwrap_err().to_string();
    assert!(err.contains("checkpoint.json") && err.contains("other settings"), "{err}");
}

#[test]
fn invalid_configs_are_refused() {
    let ok = tiny(GanLoss::Hinge);
    let bad = [
        GanConfig { z_dim: 0, ..ok.clone() },
        GanConfig { g_width: 7, ..ok.clone() },
        GanConfig { steps: 0, ..ok.clone() },
        GanConfig { batch_size: 1, ..ok.clone() },
        GanConfig { lr_g: -1.0, ..ok.clone() },
        GanConfig { ema: Some(1.5), ..ok.clone() },
        GanConfig { loss: GanLoss::WganGp { lambda: -1.0 }, ..ok.clone() },
    ];
    for cfg in bad {
        assert!(Gan::new(cfg.clone(), [1, 8, 8], 4, Device::Cpu).is_err(), "{cfg:?}");
    }
    let err = Gan::new(ok.clone(), [1, 30, 30], 4, Device::Cpu).unwrap_err().to_string();
    assert!(err.contains("30×30"), "{err}");
    assert!(Gan::new(ok.clone(), [2, 8, 8], 4, Device::Cpu).is_err());
    assert!("foo".parse::<GanLoss>().unwrap_err().to_string().contains("foo"));
    assert_eq!("wgan-gp=5".parse::<GanLoss>().unwrap(), GanLoss::WganGp { lambda: 5.0 });
    // data of another shape than the GAN's
    let mut gan = Gan::new(ok, [1, 16, 16], 4, Device::Cpu).unwrap();
    assert!(gan.train(&squares(2)).is_err());
    assert!(gan.sample_classes(&[4], 1, 0).unwrap_err().to_string().contains('4'));
}

#[test]
fn mixing_real_and_synthetic() {
    let real = squares(2);
    let gan = Gan::new(tiny(GanLoss::Hinge), [1, 8, 8], 4, Device::Cpu).unwrap();
    let synth = gan.sample_dataset(3, 0, &real.class_names).unwrap();
    let mixed = mix_real_synthetic(&real, &synth).unwrap();
    assert_eq!(mixed.len(), 8 + 12);
    assert_eq!(mixed.class_counts(), vec![5, 5, 5, 5]);
    let other = ImageDataset::new(synth.images.shallow_clone(), synth.labels.shallow_clone(), vec!["a".into(), "b".into(), "c".into(), "d".into()]).unwrap();
    assert!(mix_real_synthetic(&real, &other).is_err());
}
