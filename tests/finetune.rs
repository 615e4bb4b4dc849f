//! Transfer learning: the backbone's LoRA injection, weight loading with key
//! reports, the strategies' trainable parameters, frozen weights staying frozen.
use smalldata::data::{classes_subset, ImageDataset};
use smalldata::finetune::*;
use tch::{nn, Device, Kind, Tensor};

fn toy(n: usize, classes: i64, seed: u64) -> ImageDataset {
    let mut rng = smalldata::augment::AugRng::new(seed);
    let images = rng.uniform_tensor(&[n as i64, 1, 28, 28], Device::Cpu);
    let labels = Tensor::from_slice(&(0..n as i64).map(|i| i % classes).collect::<Vec<_>>());
    // make the classes separable: brighten a class-specific band
    let band = labels.to_kind(Kind::Float).view([n as i64, 1, 1, 1]) / classes as f64;
    ImageDataset::new((images * 0.3 + band).clamp(0.0, 1.0), labels, (0..classes).map(|c| c.to_string()).collect()).unwrap()
}

/// A checkpoint written from a freshly initialised backbone.
fn checkpoint(dir: &std::path::Path) -> std::path::PathBuf {
    let (vs, _net) = backbone(None, 0, Device::Cpu).unwrap();
    let named: Vec<(String, Tensor)> = vs.variables().into_iter().map(|(k, v)| (k, v.contiguous())).collect();
    let path = dir.join("backbone.safetensors");
    Tensor::write_safetensors(&named, &path).unwrap();
    path
}

#[test]
fn lora_goes_where_the_pattern_says_and_starts_as_the_base() {
    let dir = tempfile::tempdir().unwrap();
    let path = checkpoint(dir.path());
    let (_vs, mut net) = backbone(Some(&path), 0, Device::Cpu).unwrap();
    let names = net.conv_names();
    assert_eq!(names[0], "stem");
    assert!(names.contains(&"block2.down".to_string()) && names.len() == 9, "{names:?}");
    let x = toy(4, 5, 1).images();
    let before = net.features(&x, false);
    let adapters = nn::VarStore::new(Device::Cpu);
    let n = net.add_lora(&LoraTargets::pattern(r"block[23]\..*"), &adapters.root(), LoraConfig::default(), 0).unwrap();
    assert_eq!(n, 6, "conv1, conv2, down of two blocks");
    assert!(max_abs_diff(&net.features(&x, false), &before) < 1e-6);
    let e = net.add_lora(&LoraTargets::names(&["nothing"]), &adapters.root(), LoraConfig::default(), 0).unwrap_err().to_string();
    assert!(e.contains("nothing") && e.contains("block1.conv1"), "{e}");
}

#[test]
fn weight_files_report_missing_unexpected_and_misshaped_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = checkpoint(dir.path());
    let vs = nn::VarStore::new(Device::Cpu);
    let _net = ResNetBackbone::new(&vs.root(), 1);
    let report = load_weights(&vs, &path, |k| Some(k.to_string()), true).unwrap();
    assert!(report.missing.is_empty() && report.unexpected.is_empty());
    // a renamed file, as torchvision names would arrive: one key dropped, one unknown
    let mut tensors = Tensor::read_safetensors(&path).unwrap();
    tensors.retain(|(k, _)| k != "stem_bn.weight");
    tensors.push(("fc.weight".into(), Tensor::zeros([10, 128], (Kind::Float, Device::Cpu))));
    let partial = dir.path().join("partial.safetensors");
    Tensor::write_safetensors(&tensors, &partial).unwrap();
    let report = load_weights(&vs, &partial, |k| Some(k.to_string()), false).unwrap();
    assert_eq!(report.missing, vec!["stem_bn.weight".to_string()]);
    assert_eq!(report.unexpected, vec!["fc.weight".to_string()]);
    let e = load_weights(&vs, &partial, |k| Some(k.to_string()), true).unwrap_err().to_string();
    assert!(e.contains("stem_bn.weight") && e.contains("fc.weight") && e.contains("partial.safetensors"), "{e}");
    // the rename hook can drop keys
    let report = load_weights(&vs, &partial, |k| (k != "fc.weight").then(|| k.to_string()), false).unwrap();
    assert!(report.unexpected.is_empty());
    let mut bad = Tensor::read_safetensors(&path).unwrap();
    bad.iter_mut().find(|(k, _)| k == "block1.conv1.weight").unwrap().1 = Tensor::zeros([3, 3], (Kind::Float, Device::Cpu));
    let misshaped = dir.path().join("misshaped.safetensors");
    Tensor::write_safetensors(&bad, &misshaped).unwrap();
    let e = load_weights(&vs, &misshaped, |k| Some(k.to_string()), false).unwrap_err().to_string();
    assert!(e.contains("block1.conv1.weight") && e.contains("[3, 3]"), "{e}");
}

#[test]
fn strategies_train_what_they_should_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let path = checkpoint(dir.path());
    let (train, test) = (toy(20, 5, 2), toy(50, 5, 3));
    let cfg = TransferConfig { steps: 6, batch_size: 10, lr: 1e-3, image_size: None };
    let mut counts = std::collections::BTreeMap::new();
    for s in ["scratch", "frozen-linear", "frozen-mlp", "lora=4", "full", "gradual"] {
        let strategy: Strategy = s.parse().unwrap();
        let r = run_strategy(strategy, &path, &train, &test, &cfg, 0).unwrap();
        assert!(r.accuracy >= 0.0 && r.auc_macro_ovr > 0.0);
        counts.insert(s, r.parameters);
        // same seed, same numbers
        let again = run_strategy(strategy, &path, &train, &test, &cfg, 0).unwrap();
        assert_eq!((r.accuracy, r.auc_macro_ovr), (again.accuracy, again.auc_macro_ovr), "{s}");
    }
    let backbone_total = counts["frozen-linear"].total - 645; // linear head: 128·5 + 5
    assert_eq!(backbone_total, parameters_in(&path), "running statistics are buffers, not parameters");
    assert_eq!(counts["frozen-linear"].trainable, 645);
    assert_eq!(counts["frozen-mlp"].trainable, 128 * 128 + 128 + 128 * 5 + 5);
    assert_eq!(counts["scratch"].trainable, counts["scratch"].total);
    assert_eq!(counts["full"].trainable, backbone_total + 645);
    assert_eq!(counts["gradual"].trainable, counts["full"].trainable, "gradual ends with everything unfrozen");
    let lora = counts["lora=4"];
    assert!(lora.trainable > 645 && lora.percent() < 15.0, "{lora}");
    assert!("lora=0".parse::<Strategy>().is_err() && "frozen=2".parse::<Strategy>().is_err());
}

/// Scalars in a checkpoint that are parameters (not batch-norm running statistics).
fn parameters_in(path: &std::path::Path) -> usize {
    Tensor::read_safetensors(path).unwrap().iter().filter(|(k, _)| !k.contains("running")).map(|(_, t)| t.numel()).sum()
}

#[test]
fn lora_training_leaves_the_backbone_bit_identical() {
    let dir = tempfile::tempdir().unwrap();
    let path = checkpoint(dir.path());
    let before = Tensor::read_safetensors(&path).unwrap();
    let (vs, mut net) = backbone(Some(&path), 0, Device::Cpu).unwrap();
    let mut vs = vs;
    vs.freeze();
    let adapters = nn::VarStore::new(Device::Cpu);
    net.add_lora(&LoraTargets::pattern(r"block\d+\..*"), &adapters.root(), LoraConfig { rank: 2, alpha: 4.0, dropout: 0.0 }, 1).unwrap();
    let head = nn::linear(adapters.root() / "head", FEATURES, 5, Default::default());
    use tch::nn::{Module, OptimizerConfig};
    let mut opt = nn::Adam::default().build(&adapters, 1e-2).unwrap();
    let data = toy(10, 5, 4);
    for _ in 0..3 {
        let loss = head.forward(&net.features(&data.images(), false)).cross_entropy_for_logits(&data.labels);
        opt.backward_step(&loss);
    }
    let vars = vs.variables();
    for (k, t) in before {
        assert!(vars[&k].equal(&t), "{k} changed");
    }
}

#[test]
fn target_classes_are_relabelled_in_order() {
    let data = toy(30, 10, 5);
    let sub = classes_subset(&data, &TARGET_CLASSES).unwrap();
    assert_eq!(sub.len(), 15);
    assert_eq!(sub.num_classes(), 5);
    assert_eq!(sub.class_names, vec!["5", "6", "7", "8", "9"]);
    assert!(sub.labels_vec().iter().all(|&l| (0..5).contains(&l)));
    assert!(classes_subset(&data, &[42]).is_err());
}

/// torchvision's state-dict names and shapes for resnet18/34/50, written by
/// `scripts/export_torchvision_resnet.py --keys` from torchvision itself.
fn torchvision_keys() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/torchvision_resnet_keys.json")).unwrap()).unwrap()
}

#[test]
fn torchvision_named_weights_load_into_tch_resnets() {
    let keys = torchvision_keys();
    let dir = tempfile::tempdir().unwrap();
    for (name, model) in [("resnet18", TorchvisionResNet::ResNet18), ("resnet34", TorchvisionResNet::ResNet34), ("resnet50", TorchvisionResNet::ResNet50)] {
        // a file with every torchvision tensor, randomly initialised
        let mut rng = smalldata::augment::AugRng::new(0);
        let tensors: Vec<(String, Tensor)> = keys[name]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, shape)| {
                let shape: Vec<i64> = shape.as_array().unwrap().iter().map(|d| d.as_i64().unwrap()).collect();
                (k.clone(), rng.uniform_tensor(&shape, Device::Cpu))
            })
            .collect();
        let path = dir.path().join(format!("{name}.safetensors"));
        Tensor::write_safetensors(&tensors, &path).unwrap();
        // with the classifier: every tch variable is filled, nothing unexpected
        let (vs, net, report) = load_torchvision_resnet(model, &path, Some(1000), Device::Cpu, true).unwrap();
        let counters = tensors.iter().filter(|(k, _)| k.ends_with("num_batches_tracked")).count();
        assert_eq!(report.loaded, tensors.len() - counters, "{name}");
        let conv1 = tensors.iter().find(|(k, _)| k == "conv1.weight").unwrap();
        assert!(vs.variables()["conv1.weight"].equal(&conv1.1), "{name}: values copied under the same name");
        let out = net.forward_t(&Tensor::zeros([1, 3, 64, 64], (Kind::Float, Device::Cpu)), false);
        assert_eq!(out.size(), vec![1, 1000]);
        // without it: fc.* dropped, features out
        let (_, net, report) = load_torchvision_resnet(model, &path, None, Device::Cpu, true).unwrap();
        assert!(report.missing.is_empty() && report.unexpected.is_empty());
        assert_eq!(net.forward_t(&Tensor::zeros([1, 3, 64, 64], (Kind::Float, Device::Cpu)), false).size(), vec![1, model.features()]);
    }
    // a resnet18 file loaded as resnet34: the missing blocks are named
    let (_, _, report) = load_torchvision_resnet(TorchvisionResNet::ResNet34, &dir.path().join("resnet18.safetensors"), Some(1000), Device::Cpu, false).unwrap();
    assert!(report.missing.iter().any(|k| k.starts_with("layer3.5.")), "{:?}", report.missing);
    let e = load_torchvision_resnet(TorchvisionResNet::ResNet34, &dir.path().join("resnet18.safetensors"), Some(1000), Device::Cpu, true).unwrap_err().to_string();
    assert!(e.contains("missing keys") && e.contains("layer3.5.conv1.weight"), "{e}");
    assert!(load_torchvision_resnet(TorchvisionResNet::ResNet18, &dir.path().join("none.safetensors"), None, Device::Cpu, true).is_err());
}

#[test]
fn the_transfer_study_resumes_from_its_results_file() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = TransferStudyConfig {
        sizes: vec![2],
        strategies: vec!["scratch".parse().unwrap(), "frozen-linear".parse().unwrap(), "lora=2".parse().unwrap()],
        seeds: 2,
        train: TransferConfig { steps: 3, batch_size: 5, lr: 1e-3, image_size: None },
        test_limit: Some(50),
        out: dir.path().to_path_buf(),
        progress: false,
        ..TransferStudyConfig::default()
    };
    let first = run_transfer_study(&cfg).unwrap();
    assert_eq!((first.ran, first.rows.len()), (6, 6));
    assert!(first.rows.iter().all(|r| r.metric(smalldata::experiment::Metric::LogLoss).is_some_and(f64::is_finite)));
    assert!(first.rows.iter().all(|r| r.detail.as_deref().is_some_and(|d| d.contains("trainable"))), "{:?}", first.rows[0].detail);
    for f in ["study.json", "summary.csv", "index.html", "accuracy_vs_n.svg"] {
        assert!(dir.path().join(f).exists(), "{f}");
    }
    let again = run_transfer_study(&cfg).unwrap();
    assert_eq!((again.ran, again.resumed), (0, 6));
    assert_eq!(again.rows, first.rows);
    assert_eq!(again.summary.baseline, "scratch");
    let missing = TransferStudyConfig { checkpoint: dir.path().join("nope.safetensors"), ..cfg };
    assert!(run_transfer_study(&missing).unwrap_err().to_string().contains("nope.safetensors"));
}

/// The largest absolute elementwise difference between two tensors of one shape.
fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).abs().max().double_value(&[])
}

#[test]
fn the_classifier_and_the_backbone_are_one_network_with_one_set_of_names() {
    use smalldata::train::{ModelKind, ModelSpec};
    let classifier = nn::VarStore::new(Device::Cpu);
    let spec = ModelSpec::new(ModelKind::SmallResNet, [1, 28, 28], 5);
    let model = spec.build(&classifier.root(), 0).unwrap();
    let backbone_vs = nn::VarStore::new(Device::Cpu);
    let net = ResNetBackbone::new(&backbone_vs.root(), 1);
    let mut extra: Vec<String> = classifier.variables().keys().filter(|k| !backbone_vs.variables().contains_key(*k)).cloned().collect();
    extra.sort();
    assert_eq!(extra, ["fc.bias", "fc.weight"], "the classifier is the backbone plus fc");
    assert!(backbone_vs.variables().keys().all(|k| classifier.variables().contains_key(k)));
    // the same weights give the same features: logits = fc(features)
    tch::no_grad(|| {
        for (k, v) in backbone_vs.variables() {
            v.shallow_clone().copy_(&classifier.variables()[&k]);
        }
    });
    let x = toy(3, 2, 1).images();
    let fc = classifier.variables();
    let want = net.features(&x, false).matmul(&fc["fc.weight"].tr()) + &fc["fc.bias"];
    assert!(max_abs_diff(&model.forward_t(&x, false), &want) < 1e-5);
}

/// torchvision's ResNet-18 layout built here (names, stem, max pool, downsampling)
/// computes what tch's port of torchvision's network computes with the same weights.
#[test]
fn the_torchvision_layout_matches_tch_s_resnet18() {
    let reference = nn::VarStore::new(Device::Cpu);
    let tv = tch::vision::resnet::resnet18_no_final_layer(&reference.root());
    smalldata::train::init::reset_parameters(&reference, 3).unwrap();
    // non-trivial running statistics, so that eval-mode batch norm is exercised
    tch::no_grad(|| {
        for (k, v) in reference.variables() {
            if k.ends_with("running_var") {
                v.shallow_clone().copy_(&(v.rand_like() + 0.5));
            } else if k.ends_with("running_mean") {
                v.shallow_clone().copy_(&(v.rand_like() - 0.5));
            }
        }
    });
    let ours_vs = nn::VarStore::new(Device::Cpu);
    let ours = ResNetBackbone::torchvision(&ours_vs.root(), 3, [2, 2, 2, 2]);
    let mut a: Vec<String> = reference.variables().into_keys().collect();
    let mut b: Vec<String> = ours_vs.variables().into_keys().collect();
    a.sort();
    b.sort();
    assert_eq!(a, b, "torchvision's names");
    tch::no_grad(|| {
        for (k, v) in ours_vs.variables() {
            v.shallow_clone().copy_(&reference.variables()[&k]);
        }
    });
    let x = smalldata::augment::AugRng::new(4).uniform_tensor(&[2, 3, 40, 36], Device::Cpu);
    use tch::nn::ModuleT;
    let want = tv.forward_t(&x, false).view([2, -1]);
    assert_eq!(ours.features_dim(), 512);
    assert!(max_abs_diff(&ours.features(&x, false), &want) < 1e-5);
}

#[test]
fn backbones_are_told_apart_by_their_path() {
    let dir = tempfile::tempdir().unwrap();
    let small = checkpoint(dir.path());
    assert!(matches!(Pretrained::open(&small).unwrap(), Pretrained::SmallResNet { in_channels: 1, .. }));
    let vs = nn::VarStore::new(Device::Cpu);
    let _ = tch::vision::resnet::resnet34(&vs.root(), 10);
    let r34 = dir.path().join("r34.safetensors");
    vs.save(&r34).unwrap();
    let p = Pretrained::open(&r34).unwrap();
    assert_eq!(p.describe(), "torchvision ResNet-34");
    assert_eq!(p.input().size, Some((224, 224)));
    let vit = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/vit/model");
    let p = Pretrained::open(&vit).unwrap();
    assert_eq!(p.input().mean, vec![0.5, 0.4, 0.3]);
    assert!(p.check_images([3, 2, 2], None).is_ok(), "resized to the checkpoint's 16×16 when no size is given");
    let e = p.check_images([3, 28, 28], Some((3, 3))).unwrap_err().to_string();
    assert!(e.contains("4×4") && e.contains("3×3"), "{e}");
    let vs = nn::VarStore::new(Device::Cpu);
    let _ = tch::vision::resnet::resnet50(&vs.root(), 10);
    let r50 = dir.path().join("r50.safetensors");
    vs.save(&r50).unwrap();
    let e = Pretrained::open(&r50).unwrap_err().to_string();
    assert!(e.contains("bottleneck"), "{e}");
    let junk = dir.path().join("junk.safetensors");
    std::fs::write(&junk, [255u8; 16]).unwrap();
    assert!(Pretrained::open(&junk).unwrap_err().to_string().contains("junk.safetensors"));
}

#[test]
fn images_are_prepared_as_the_backbone_wants() {
    let input = InputSpec { channels: 3, size: Some((8, 8)), mean: IMAGENET_MEAN.to_vec(), std: IMAGENET_STD.to_vec() };
    let p = Prepare::new(&input, None, Device::Cpu);
    let gray = Tensor::full([2, 1, 4, 4], 0.5, (Kind::Float, Device::Cpu));
    let y = p.apply(&gray);
    assert_eq!(y.size(), vec![2, 3, 8, 8]);
    for c in 0..3 {
        let want = (0.5 - IMAGENET_MEAN[c]) / IMAGENET_STD[c];
        assert!((y.get(0).get(c as i64).mean(Kind::Double).double_value(&[]) - want).abs() < 1e-5);
    }
    // RGB to one channel: ITU-R 601 luma
    let gray_input = InputSpec { channels: 1, size: None, mean: vec![0.0], std: vec![1.0] };
    let rgb = Tensor::from_slice(&[1.0f32, 0.0, 0.0]).view([1, 3, 1, 1]);
    let y = Prepare::new(&gray_input, None, Device::Cpu).apply(&rgb);
    assert!((y.double_value(&[0, 0, 0, 0]) - 0.299).abs() < 1e-6);
}
