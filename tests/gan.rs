//! The conditional GAN: shapes, a discriminator step that learns, checkpoints that
//! resume exactly, and configs that are refused.

use smalldata::augment::AugRng;
use smalldata::data::ImageDataset;
use smalldata::generate::{mix_real_synthetic, Gan, GanArchitecture, GanConfig, GanLoss, GanTraining, RunSettings};
use smalldata::tch::{Device, Kind, Tensor};

fn tiny(loss: GanLoss) -> GanConfig {
    GanConfig {
        arch: GanArchitecture { z_dim: 16, g_width: 8, d_width: 8, ..GanArchitecture::default() },
        training: GanTraining { loss, batch_size: 8, ..GanTraining::default() },
        run: RunSettings { steps: 6, checkpoint_every: 3, ..RunSettings::default() },
    }
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
        let x = gan.nets.generator.forward(&z, &y, false);
        assert_eq!(x.size(), vec![5, shape[0] as i64, shape[1] as i64, shape[2] as i64]);
        assert!(x.abs().max().double_value(&[]) <= 1.0);
        assert_eq!(gan.nets.discriminator.forward(&x, &y, true).size(), vec![5]);
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
        let mut cfg = tiny(loss);
        (cfg.training.diff_augment, cfg.training.lr_d) = (false, 1e-3);
        let mut gan = Gan::new(cfg, [1, 8, 8], 4, Device::Cpu).unwrap();
        let real = &data.images() * 2.0 - 1.0;
        let z = Tensor::zeros([16, 16], (Kind::Float, Device::Cpu)).normal_(0.0, 1.0);
        let fake = smalldata::tch::no_grad(|| gan.nets.generator.forward(&z, &data.labels, true));
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
    let mut cfg = tiny(GanLoss::Hinge);
    cfg.run.out = Some(dir.path().to_path_buf());
    let mut three = cfg.clone();
    three.run.steps = 3;
    let mut first = Gan::new(three, [1, 8, 8], 4, Device::Cpu).unwrap();
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
    let mut ns = cfg.clone();
    ns.training.loss = GanLoss::NonSaturating;
    let mut other = Gan::new(ns, [1, 8, 8], 4, Device::Cpu).unwrap();
    let err = other.train(&data).unwrap_err().to_string();
    assert!(err.contains("checkpoint.json") && err.contains("other settings"), "{err}");
    assert!(err.contains("training.loss") && err.contains("hinge") && err.contains("non-saturating"), "names what differs: {err}");
    // how long, where and how visibly it runs may change between a run and its resumption
    let mut longer = cfg.clone();
    (longer.run.steps, longer.run.checkpoint_every, longer.run.progress) = (7, 5, false);
    let mut continued = Gan::new(longer, [1, 8, 8], 4, Device::Cpu).unwrap();
    assert_eq!(continued.train(&data).unwrap().resumed_from, 6);
}

#[test]
fn invalid_configs_are_refused() {
    let ok = tiny(GanLoss::Hinge);
    let with = |change: &dyn Fn(&mut GanConfig)| {
        let mut c = ok.clone();
        change(&mut c);
        c
    };
    let bad = [
        with(&|c| c.arch.z_dim = 0),
        with(&|c| c.arch.g_width = 7),
        with(&|c| c.run.steps = 0),
        with(&|c| c.training.batch_size = 1),
        with(&|c| c.training.lr_g = -1.0),
        with(&|c| c.training.ema = Some(1.5)),
        with(&|c| c.training.loss = GanLoss::WganGp { lambda: -1.0 }),
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
    let other = ImageDataset::new(synth.images(), synth.labels.shallow_clone(), vec!["a".into(), "b".into(), "c".into(), "d".into()]).unwrap();
    assert!(mix_real_synthetic(&real, &other).is_err());
}
