//! The trainer: seeded initialisation, determinism, learning, callbacks,
//! early stopping, checkpoints and configuration errors.
use smalldata::augment::RandomCrop;
use smalldata::data::ImageDataset;
use smalldata::train::*;
use tch::{Device, Kind, Tensor};

/// Two classes that differ in which half of the image is bright, plus noise.
fn toy(n: usize, seed: u64) -> ImageDataset {
    let mut rng = smalldata::augment::AugRng::new(seed);
    let noise = rng.uniform_tensor(&[n as i64, 1, 8, 8], Device::Cpu) * 0.3;
    let labels: Vec<i64> = (0..n as i64).map(|i| i % 2).collect();
    let lab = Tensor::from_slice(&labels);
    let top = Tensor::zeros([1, 1, 8, 8], (Kind::Float, Device::Cpu));
    let _ = top.narrow(2, 0, 4).fill_(0.7);
    let bottom = top.flip([2]);
    let is_top = lab.view([n as i64, 1, 1, 1]).to_kind(Kind::Float);
    let images: Tensor = (&top * &is_top + &bottom * (is_top.ones_like() - &is_top) + noise).clamp(0.0, 1.0);
    ImageDataset::new(images, lab, vec!["top".into(), "bottom".into()]).unwrap()
}

fn spec(kind: ModelKind) -> ModelSpec {
    ModelSpec::new(kind, [1, 8, 8], 2)
}

fn quick(steps: usize, seed: u64) -> TrainConfig {
    TrainConfig { length: Length::Steps(steps), batch_size: 16, seed, progress: false, ..TrainConfig::default() }
}

fn same_weights(a: &Classifier, b: &Classifier) -> bool {
    a.weights().iter().zip(b.weights().iter()).all(|((na, ta), (nb, tb))| na == nb && ta.equal(tb))
}

#[test]
fn small_cnn_has_the_documented_size_and_channels_last_weights() {
    let m = Classifier::new(ModelSpec::new(ModelKind::SmallCnn, [1, 28, 28], 10), 0, Device::Cpu).unwrap();
    // conv1 320 + conv2 18,496 + fc1 401,536 + fc2 1,290
    assert_eq!(m.num_parameters(), 421_642);
    let conv2 = m.vs.variables()["conv2.weight"].shallow_clone();
    assert_eq!(conv2.stride(), vec![288, 1, 96, 32], "conv weights are stored channels-last");
    let r = Classifier::new(ModelSpec::new(ModelKind::SmallResNet, [3, 32, 32], 10), 0, Device::Cpu).unwrap();
    let out = r.forward_t(&Tensor::rand([2, 3, 32, 32], (Kind::Float, Device::Cpu)), false);
    assert_eq!(out.size(), vec![2, 10]);
}

#[test]
fn initial_weights_follow_the_seed_even_with_other_threads_using_the_global_generator() {
    let noisy = std::thread::spawn(|| {
        for i in 0..200 {
            tch::manual_seed(i);
            let _ = Tensor::randn([64, 64], (Kind::Float, Device::Cpu));
        }
    });
    let a = Classifier::new(spec(ModelKind::SmallCnn), 5, Device::Cpu).unwrap();
    let b = Classifier::new(spec(ModelKind::SmallCnn), 5, Device::Cpu).unwrap();
    let c = Classifier::new(spec(ModelKind::SmallCnn), 6, Device::Cpu).unwrap();
    noisy.join().unwrap();
    assert!(same_weights(&a, &b));
    assert!(!same_weights(&a, &c));
    // PyTorch's default bound for fc2 (fan_in 128): |w| ≤ 1/√128
    let w = a.vs.variables()["fc2.weight"].abs().max().double_value(&[]);
    assert!(w <= 1.0 / 128f64.sqrt() && w > 0.05, "{w}");
}

#[test]
fn training_learns_and_the_same_seed_gives_bit_identical_weights() {
    let train = toy(64, 0);
    let test = toy(200, 1);
    let crop = RandomCrop::new(8, 8).padding(1).build().unwrap();
    let fit = |seed| {
        let mut m = Classifier::new(spec(ModelKind::SmallCnn), seed, Device::Cpu).unwrap();
        let before = m.accuracy_and_loss(&train).unwrap().1;
        let h = Trainer::new(quick(60, seed)).augment(&crop).fit(&mut m, &train).unwrap();
        (m, before, h)
    };
    let (a, before, ha) = fit(3);
    let (b, _, hb) = fit(3);
    assert!(same_weights(&a, &b));
    assert_eq!(ha.train_loss, hb.train_loss);
    assert_eq!(ha.steps, 60);
    assert_eq!(ha.epochs, 15); // 64 images, batch 16: 4 steps per epoch
    let (acc, after) = a.accuracy_and_loss(&train).unwrap();
    assert!(after < before * 0.5, "loss {before} → {after}");
    let scores = a.evaluate(&test).unwrap();
    assert!(acc > 0.9 && scores.accuracy > 0.9 && scores.auc_macro_ovr > 0.95, "{scores}");
    let (c, _, _) = fit(4);
    assert!(!same_weights(&a, &c));
}

#[test]
fn resnet_with_one_cycle_sgd_trains_too() {
    let train = toy(64, 2);
    let cfg = TrainConfig {
        optimizer: Optimizer::Sgd { momentum: 0.9, nesterov: true },
        lr: 0.05,
        schedule: "one-cycle".parse().unwrap(),
        ..quick(40, 0)
    };
    let mut m = Classifier::new(spec(ModelKind::SmallResNet), 0, Device::Cpu).unwrap();
    Trainer::new(cfg).fit(&mut m, &train).unwrap();
    assert!(m.accuracy_and_loss(&toy(100, 3)).unwrap().0 > 0.9);
}

#[test]
fn schedules_have_their_shapes() {
    let cos = Schedule::Cosine { warmup_steps: 10 };
    assert!((cos.lr(1.0, 0, 110) - 0.1).abs() < 1e-12);
    assert!((cos.lr(1.0, 9, 110) - 1.0).abs() < 1e-12);
    assert!((cos.lr(1.0, 10, 110) - 1.0).abs() < 1e-12);
    assert!((cos.lr(1.0, 60, 110) - 0.5).abs() < 1e-12);
    assert!(cos.lr(1.0, 109, 110) < 0.001);
    let oc: Schedule = "one-cycle".parse().unwrap();
    let lrs: Vec<f64> = (0..100).map(|s| oc.lr(1.0, s, 100)).collect();
    assert!((lrs[0] - 1.0 / 25.0).abs() < 1e-12);
    let peak = lrs.iter().cloned().fold(0.0, f64::max);
    assert!((peak - 1.0).abs() < 1e-9);
    let at = lrs.iter().position(|&l| l == peak).unwrap();
    assert!((28..=30).contains(&at), "peak at {at}");
    assert!((lrs[99] - 1.0 / 25.0 / 1e4).abs() < 1e-12);
    assert_eq!(Schedule::Constant.lr(0.3, 50, 100), 0.3);
}

#[derive(Default)]
struct Counter {
    epochs_before: usize,
    epochs_after: usize,
    batches_before: usize,
    batches_after: usize,
    stop_at: Option<usize>,
}

impl Callback for Counter {
    fn before_epoch(&mut self, _: &mut TrainState, _: &Classifier) -> smalldata::Result<()> {
        self.epochs_before += 1;
        Ok(())
    }
    fn after_epoch(&mut self, _: &mut TrainState, _: &Classifier) -> smalldata::Result<()> {
        self.epochs_after += 1;
        Ok(())
    }
    fn before_batch(&mut self, _: &mut TrainState, _: &Classifier) -> smalldata::Result<()> {
        self.batches_before += 1;
        Ok(())
    }
    fn after_batch(&mut self, s: &mut TrainState, _: &Classifier) -> smalldata::Result<()> {
        self.batches_after += 1;
        if Some(s.step) == self.stop_at {
            s.stop = true;
        }
        Ok(())
    }
}

#[test]
fn callbacks_see_every_epoch_and_batch_and_can_stop() {
    let train = toy(40, 0); // batch 16: 3 batches per epoch (16, 16, 8)
    let mut c = Counter::default();
    let mut m = Classifier::new(spec(ModelKind::SmallCnn), 0, Device::Cpu).unwrap();
    let h = Trainer::new(TrainConfig { length: Length::Epochs(4), ..quick(1, 0) }).callback(&mut c).fit(&mut m, &train).unwrap();
    assert_eq!((c.epochs_before, c.epochs_after, c.batches_before, c.batches_after), (4, 4, 12, 12));
    assert_eq!(h.steps, 12);
    let mut s = Counter { stop_at: Some(5), ..Default::default() };
    let h = Trainer::new(quick(100, 0)).callback(&mut s).fit(&mut m, &train).unwrap();
    assert_eq!((h.steps, s.batches_after), (5, 5));
}

#[test]
fn early_stopping_stops_and_restores_the_best_weights() {
    let train = toy(32, 0);
    let val = toy(64, 9);
    let cfg = TrainConfig {
        eval_every: Some(2),
        // only a drop of more than 0.05 in validation loss counts as progress
        early_stopping: Some(EarlyStopping { patience: 3, min_delta: 0.05, ..Default::default() }),
        ..quick(400, 1)
    };
    let mut m = Classifier::new(spec(ModelKind::SmallCnn), 1, Device::Cpu).unwrap();
    let h = Trainer::new(cfg).validation(&val).fit(&mut m, &train).unwrap();
    assert!(h.stopped_early && h.steps < 400, "{h:?}");
    let best = h.best_step.unwrap();
    let best_loss = h.val.iter().find(|v| v.step == best).unwrap().loss;
    assert_eq!(h.val.last().unwrap().step, best + 3 * 2, "stops after 3 evaluations without progress: {h:?}");
    assert!(h.val.iter().filter(|v| v.step <= best).all(|v| v.loss >= best_loss));
    let now = m.accuracy_and_loss(&val).unwrap().1;
    assert!((now - best_loss).abs() < 1e-6, "restored weights give {now}, best was {best_loss}");
}

#[test]
fn checkpoints_round_trip_and_bad_files_name_the_tensor() {
    let dir = tempfile::tempdir().unwrap();
    let train = toy(32, 0);
    let path = dir.path().join("model.safetensors");
    let mut cp = Checkpoint { path: path.clone(), every: 1 };
    let mut a = Classifier::new(spec(ModelKind::SmallCnn), 0, Device::Cpu).unwrap();
    Trainer::new(quick(6, 0)).callback(&mut cp).fit(&mut a, &train).unwrap();
    let mut b = Classifier::new(spec(ModelKind::SmallCnn), 1, Device::Cpu).unwrap();
    assert!(!same_weights(&a, &b));
    b.load(&path).unwrap();
    assert!(same_weights(&a, &b));
    assert!(a.predict_logits(&train.images()).unwrap().equal(&b.predict_logits(&train.images()).unwrap()));

    // a file lacking one tensor, and one with a misshaped tensor
    let mut w = a.weights();
    w.retain(|(n, _)| n != "fc2.bias");
    Tensor::write_safetensors(&w, dir.path().join("missing.safetensors")).unwrap();
    let err = b.load(dir.path().join("missing.safetensors")).unwrap_err().to_string();
    assert!(err.contains("fc2.bias") && err.contains("missing.safetensors"), "{err}");
    let mut w = a.weights();
    w.iter_mut().find(|(n, _)| n == "fc1.bias").unwrap().1 = Tensor::zeros([3], (Kind::Float, Device::Cpu));
    Tensor::write_safetensors(&w, dir.path().join("shape.safetensors")).unwrap();
    let err = b.load(dir.path().join("shape.safetensors")).unwrap_err().to_string();
    assert!(err.contains("fc1.bias"), "{err}");
    assert!(b.load(dir.path().join("nope.safetensors")).is_err());
}

#[test]
fn bad_configurations_and_data_are_errors_naming_the_value() {
    let train = toy(16, 0);
    let mut m = Classifier::new(spec(ModelKind::SmallCnn), 0, Device::Cpu).unwrap();
    let err = |cfg: TrainConfig| Trainer::new(cfg).fit(&mut Classifier::new(spec(ModelKind::SmallCnn), 0, Device::Cpu).unwrap(), &train).unwrap_err().to_string();
    assert!(err(TrainConfig { lr: 0.0, ..quick(1, 0) }).contains("learning rate = 0"));
    assert!(err(TrainConfig { batch_size: 0, ..quick(1, 0) }).contains("batch size = 0"));
    assert!(err(quick(0, 0)).contains("steps = 0"));
    assert!(err(TrainConfig { early_stopping: Some(EarlyStopping::default()), ..quick(1, 0) }).contains("validation"));
    let wrong = ImageDataset::new(Tensor::zeros([4, 1, 12, 12], (Kind::Float, Device::Cpu)), Tensor::zeros([4], (Kind::Int64, Device::Cpu)), vec!["a".into(), "b".into()]).unwrap();
    let e = Trainer::new(quick(1, 0)).fit(&mut m, &wrong).unwrap_err().to_string();
    assert!(e.contains("[1, 12, 12]") && e.contains("[1, 8, 8]"), "{e}");
    assert!(ModelSpec { image_size: (3, 10), ..spec(ModelKind::SmallCnn) }.check().unwrap_err().to_string().contains("3×10"));
    // any side of at least 4 works: the poolings floor odd sizes (25 → 12 → 6)
    let odd = ImageDataset::new(Tensor::rand([6, 1, 25, 25], (Kind::Float, Device::Cpu)), Tensor::from_slice(&[0i64, 1, 0, 1, 0, 1]), vec!["a".into(), "b".into()]).unwrap();
    let mut m25 = Classifier::new(ModelSpec { image_size: (25, 25), ..spec(ModelKind::SmallCnn) }, 0, Device::Cpu).unwrap();
    Trainer::new(quick(2, 0)).fit(&mut m25, &odd).unwrap();
    assert!("vgg".parse::<ModelKind>().unwrap_err().to_string().contains("vgg"));
    assert!("rmsprop".parse::<Optimizer>().unwrap_err().to_string().contains("rmsprop"));
}

#[test]
fn a_group_rate_scales_its_variables_updates_and_drop_last_keeps_batches_full() {
    let data = toy(40, 0);
    let max_change = |factor: Option<f64>| {
        let mut m = Classifier::new(spec(ModelKind::SmallCnn), 0, Device::Cpu).unwrap();
        let before = m.weights();
        let mut trainer = Trainer::new(quick(5, 0));
        if let Some(f) = factor {
            trainer = trainer.group_lr(0, f);
        }
        trainer.fit(&mut m, &data).unwrap();
        before.iter().zip(m.weights()).map(|((_, a), (_, b))| (a - b).abs().max().double_value(&[])).fold(0.0, f64::max)
    };
    let (plain, slowed) = (max_change(None), max_change(Some(1e-6)));
    // Adam's step is about lr in size whatever the gradient: 5 steps move a weight by ~5e-3
    assert!(plain > 1e-3, "{plain}");
    assert!(slowed < 1e-7, "a factor of 1e-6 must shrink every update: {slowed}");
    let mut m = Classifier::new(spec(ModelKind::SmallCnn), 0, Device::Cpu).unwrap();
    let e = Trainer::new(quick(5, 0)).group_lr(0, 0.0).fit(&mut m, &data).unwrap_err().to_string();
    assert!(e.contains("group 0") && e.contains('0'), "{e}");
    // 40 images in batches of 16: two full batches an epoch with drop_last, three without
    let mut m = Classifier::new(spec(ModelKind::SmallCnn), 0, Device::Cpu).unwrap();
    let h = Trainer::new(TrainConfig { length: Length::Epochs(2), drop_last: true, ..quick(0, 0) }).fit(&mut m, &data).unwrap();
    assert_eq!(h.steps, 4);
    let h = Trainer::new(TrainConfig { length: Length::Epochs(2), ..quick(0, 0) }).fit(&mut m, &data).unwrap();
    assert_eq!(h.steps, 6);
    let e = Trainer::new(TrainConfig { batch_size: 64, drop_last: true, ..quick(3, 0) }).fit(&mut m, &data).unwrap_err().to_string();
    assert!(e.contains("64") && e.contains("40"), "{e}");
}
