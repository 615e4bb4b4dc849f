//! The token-conditioned diffusion model and textual inversion.

use smalldata::data::ImageDataset;
use smalldata::generate::diffusion::*;
use smalldata::tch::{nn, Device, Kind, Tensor};

fn tiny() -> DiffusionConfig {
    DiffusionConfig {
        arch: DiffusionArchitecture { timesteps: 50, width: 8, token_dim: 8, tokens_per_class: 2, ..DiffusionArchitecture::default() },
        training: DiffusionTraining { batch_size: 8, ..DiffusionTraining::default() },
        run: RunSettings { steps: 4, checkpoint_every: 2, ..RunSettings::default() },
    }
}

/// `tiny()` changed by `change`.
fn tiny_with(change: impl Fn(&mut DiffusionConfig)) -> DiffusionConfig {
    let mut c = tiny();
    change(&mut c);
    c
}

/// 3 classes of 8×8 gray images: a bright square in corner c, two brightness levels.
fn squares(n_per_class: usize) -> ImageDataset {
    let images = Tensor::zeros([3 * n_per_class as i64, 1, 8, 8], (Kind::Float, Device::Cpu));
    let mut labels = Vec::new();
    for c in 0..3i64 {
        for i in 0..n_per_class as i64 {
            let k = c * n_per_class as i64 + i;
            let _ = images.get(k).narrow(1, (c % 2) * 4, 4).narrow(2, (c / 2) * 4, 4).fill_(if i % 2 == 0 { 0.5 } else { 1.0 });
            labels.push(c);
        }
    }
    ImageDataset::new(images, Tensor::from_slice(&labels), vec!["top".into(), "bottom".into(), "right".into()]).unwrap()
}

fn model(data: &ImageDataset, cfg: DiffusionConfig) -> DiffusionModel {
    let vocab = Vocabulary::new(&data.class_names, cfg.arch.tokens_per_class);
    DiffusionModel::new(cfg, data.image_shape(), vocab, Device::Cpu).unwrap()
}

#[test]
fn unet_shapes_for_gray_and_rgb_and_multi_vector_conditions() {
    for (c, side) in [(1i64, 28i64), (3, 32)] {
        let vs = nn::VarStore::new(Device::Cpu);
        let unet = UNet::new(&vs.root(), c, 16, 8);
        let x = Tensor::zeros([2, c, side, side], (Kind::Float, Device::Cpu));
        let t = Tensor::from_slice(&[0i64, 999]);
        for len in [1, 3] {
            let cond = Tensor::ones([2, len, 8], (Kind::Float, Device::Cpu));
            assert_eq!(unet.forward(&x, &t, &cond).size(), vec![2, c, side, side]);
        }
    }
    assert_eq!(timestep_features(&Tensor::from_slice(&[0i64, 5]), 16).size(), vec![2, 16]);
}

#[test]
fn vocabulary_and_cluster_tokens() {
    let data = squares(6);
    let vocab = Vocabulary::new(&data.class_names, 2);
    assert_eq!(vocab.tokens, vec!["<null>", "top/0", "top/1", "bottom/0", "bottom/1", "right/0", "right/1"]);
    assert_eq!(vocab.class_tokens("Bottom").unwrap(), &[3, 4]);
    assert!(vocab.class_tokens("left").unwrap_err().to_string().contains("left"));
    let tokens = assign_tokens(&data, &vocab, 0).unwrap();
    // each class's two brightness levels land in its two clusters
    for c in 0..3 {
        let mine = &tokens[c * 6..(c + 1) * 6];
        assert!(mine.iter().all(|&t| vocab.classes[c].1.contains(&t)), "{mine:?}");
        assert_ne!(mine[0], mine[1]);
        assert_eq!(mine[0], mine[2]);
    }
}

#[test]
fn training_resumes_exactly_and_samples_are_seeded() {
    let data = squares(4);
    let vocab = Vocabulary::new(&data.class_names, 2);
    let tokens = assign_tokens(&data, &vocab, 0).unwrap();
    let sampler = Sampler::Ddim { steps: 5, eta: 0.0 };
    let mut straight = model(&data, tiny());
    straight.train(&data, &tokens).unwrap();
    let (a, labels) = straight.sample_classes(&["top", "right"], 3, sampler, 2.0, 1).unwrap();
    assert_eq!(a.size(), vec![6, 1, 8, 8]);
    assert_eq!(Vec::<i64>::try_from(labels).unwrap(), vec![0, 0, 0, 1, 1, 1]);
    assert!(a.min().double_value(&[]) >= 0.0 && a.max().double_value(&[]) <= 1.0);
    assert!(a.equal(&straight.sample_classes(&["top", "right"], 3, sampler, 2.0, 1).unwrap().0));

    let dir = tempfile::tempdir().unwrap();
    let cfg = tiny_with(|c| c.run.out = Some(dir.path().to_path_buf()));
    let mut two = cfg.clone();
    two.run.steps = 2;
    model(&data, two).train(&data, &tokens).unwrap();
    let mut resumed = model(&data, cfg.clone());
    assert_eq!(resumed.train(&data, &tokens).unwrap().resumed_from, 2);
    assert!(a.equal(&resumed.sample_classes(&["top", "right"], 3, sampler, 2.0, 1).unwrap().0), "resumed ≠ uninterrupted");

    // export / load_pretrained keeps the sampling weights
    let file = dir.path().join("pre.safetensors");
    resumed.export(&file, "test").unwrap();
    let loaded = DiffusionModel::load_pretrained(&file, Device::Cpu).unwrap();
    assert!(a.equal(&loaded.sample_classes(&["top", "right"], 3, sampler, 2.0, 1).unwrap().0));
    // a checkpoint of other settings is refused
    let mut faster = cfg.clone();
    faster.training.lr = 0.5;
    let err = model(&data, faster).train(&data, &tokens).unwrap_err().to_string();
    assert!(err.contains("checkpoint.json") && err.contains("training.lr: 0.001 there, 0.5 here"), "{err}");
}

#[test]
fn inversion_trains_only_the_new_token() {
    let data = squares(4);
    let mut m = model(&data, tiny_with(|c| (c.arch.tokens_per_class, c.run.steps) = (1, 3)));
    let tokens = assign_tokens(&data, &m.vocabulary, 0).unwrap();
    m.train(&data, &tokens).unwrap();
    let before: Vec<(String, Tensor)> = m.sampling_store().variables().into_iter().map(|(k, v)| (k, v.copy())).collect();
    let concept = data.subsample_per_class(2, 0).unwrap();
    let cfg = InversionConfig { placeholder: "<new>".into(), initializer: "top".into(), num_vectors: 2, steps: 5, batch_size: 4, ..InversionConfig::default() };
    let (learned, history) = textual_inversion(&m, &concept, &cfg).unwrap();
    assert_eq!(history.losses.last().unwrap().0, 5);
    // every pretrained weight is bit-identical and never received a gradient
    let after = m.sampling_store().variables();
    for (k, v) in &before {
        assert!(v.equal(&after[k]), "{k} changed");
        assert!(!after[k].grad().defined() || after[k].grad().abs().sum(Kind::Float).double_value(&[]) == 0.0, "{k} has a gradient");
    }
    // the new vectors moved away from the initializer's
    assert_eq!(learned.vectors.size(), vec![2, 8]);
    let init = m.token_condition(m.vocabulary.class_tokens("top").unwrap()).unwrap().view([1, 8]);
    assert!((&learned.vectors - init).abs().max().double_value(&[]) > 0.0);
    // and from each other: the vectors of a token are a set, so equal starts would stay equal
    assert!((learned.vectors.get(0) - learned.vectors.get(1)).abs().max().double_value(&[]) > 1e-4);
    // a mixture token stays inside the box spanned by the known tokens
    let (mixed, _) = textual_inversion(&m, &concept, &InversionConfig { mixture: true, lr: 0.1, ..cfg.clone() }).unwrap();
    let (_, table) = m.sampling_net();
    let known = table.narrow(0, 1, table.size()[0] - 1);
    let (lo, hi) = (known.amin([0i64].as_slice(), false), known.amax([0i64].as_slice(), false));
    assert!(bool::try_from(mixed.vectors.ge_tensor(&(&lo - 1e-6)).all()).unwrap() && bool::try_from(mixed.vectors.le_tensor(&(&hi + 1e-6)).all()).unwrap());
    assert!(m.sampling_store().variables().iter().all(|(k, v)| v.equal(&after[k])));
    // saved alone, loaded back, usable as a prompt
    let dir = tempfile::tempdir().unwrap();
    learned.save(&dir.path().join("new.safetensors")).unwrap();
    let back = LearnedToken::load(&dir.path().join("new.safetensors")).unwrap();
    assert_eq!(back.placeholder, "<new>");
    assert!(back.vectors.equal(&learned.vectors));
    let imgs = m.sample_prompt(&back.vectors, 2, Sampler::Ddim { steps: 4, eta: 0.0 }, 3.0, 0).unwrap();
    assert_eq!(imgs.size(), vec![2, 1, 8, 8]);
}

#[test]
fn invalid_settings_are_refused() {
    let data = squares(2);
    for cfg in [
        tiny_with(|c| c.arch.width = 12),
        tiny_with(|c| c.arch.tokens_per_class = 0),
        tiny_with(|c| c.training.p_uncond = 1.0),
        tiny_with(|c| c.arch.timesteps = 1),
        tiny_with(|c| c.arch.token_dim = 7),
        tiny_with(|c| c.arch.schedule = ScheduleKind::Linear { beta_start: 0.5, beta_end: 0.1 }),
    ] {
        let vocab = Vocabulary::new(&data.class_names, 1);
        assert!(DiffusionModel::new(cfg.clone(), [1, 8, 8], vocab, Device::Cpu).is_err(), "{cfg:?}");
    }
    let vocab = Vocabulary::new(&data.class_names, 1);
    assert!(DiffusionModel::new(tiny(), [1, 10, 10], vocab, Device::Cpu).unwrap_err().to_string().contains("10×10"));
    let m = model(&data, tiny());
    let ok = InversionConfig { steps: 1, ..InversionConfig::default() };
    let err = textual_inversion(&m, &data, &InversionConfig { initializer: "sneaker".into(), ..ok.clone() }).unwrap_err().to_string();
    assert!(err.contains("sneaker"), "{err}");
    assert!(textual_inversion(&m, &data, &InversionConfig { initializer: "top".into(), num_vectors: 0, ..ok.clone() }).is_err());
    assert!(textual_inversion(&m, &data, &InversionConfig { initializer: "top".into(), placeholder: "top/1".into(), ..ok.clone() }).is_err());
    assert!(m.sample_prompt(&Tensor::zeros([1, 5], (Kind::Float, Device::Cpu)), 1, Sampler::Ddpm, 1.0, 0).is_err());
    assert!(m.sample_prompt(&Tensor::zeros([1, 8], (Kind::Float, Device::Cpu)), 1, Sampler::Ddim { steps: 5, eta: 2.0 }, 1.0, 0).is_err());
    let mut m = m;
    assert!(m.train(&data, &[0; 6]).is_err(), "token 0 is the null token");
}
