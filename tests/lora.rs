//! LoRA adapters: identity at start, merge = adapted forward, unmerge restores,
//! training moves only the adapters, exact parameter counts, checked configs.
use smalldata::finetune::*;
use tch::nn::{self, ModuleT, OptimizerConfig};
use tch::{Device, Kind, Tensor};

fn stores() -> (nn::VarStore, nn::VarStore) {
    (nn::VarStore::new(Device::Cpu), nn::VarStore::new(Device::Cpu))
}

fn x(shape: &[i64], seed: u64) -> Tensor {
    smalldata::augment::AugRng::new(seed).uniform_tensor(shape, Device::Cpu) * 2.0 - 1.0
}

#[test]
fn lora_linear_starts_as_the_base_and_merges_exactly() {
    let (base_vs, ad_vs) = stores();
    let base = nn::linear(base_vs.root() / "fc", 20, 7, Default::default());
    smalldata::train::init::reset_parameters(&base_vs, 0).unwrap();
    let mut base_vs = base_vs;
    base_vs.freeze();
    let reference = base.ws.copy();
    let input = x(&[5, 20], 1);
    let want = input.apply(&base);
    let mut lora = LoraLinear::new(base, &(ad_vs.root() / "fc"), LoraConfig { rank: 4, alpha: 8.0, dropout: 0.0 }, 0).unwrap();
    assert!(max_abs_diff(&lora.forward_t(&input, false), &want) < 1e-6, "B = 0: the adapted layer is the base layer");

    // train the adapter a few steps on a random target: only A and B move
    let mut opt = nn::Adam::default().build(&ad_vs, 1e-2).unwrap();
    let target = x(&[5, 7], 2);
    let before = (lora.adapter.a.copy(), lora.adapter.b.copy());
    for _ in 0..5 {
        let loss = lora.forward_t(&input, true).mse_loss(&target, tch::Reduction::Mean);
        opt.backward_step(&loss);
    }
    assert!(lora.base.ws.equal(&reference), "frozen weight bit-identical");
    assert!(!lora.adapter.a.equal(&before.0) && !lora.adapter.b.equal(&before.1));
    assert!(lora.base.ws.grad().defined() == false || lora.base.ws.grad().abs().sum(Kind::Double).double_value(&[]) == 0.0);

    let adapted = lora.forward_t(&input, false);
    lora.merge();
    assert!(lora.is_merged());
    assert!(max_abs_diff(&lora.forward_t(&input, false), &adapted) < 1e-5, "merged forward = adapted forward");
    assert!(!lora.base.ws.equal(&reference));
    lora.unmerge();
    assert!(max_abs_diff(&lora.base.ws, &reference) < 1e-6, "unmerge restores the base weight");
    assert!(max_abs_diff(&lora.forward_t(&input, false), &adapted) < 1e-5);
}

#[test]
fn lora_conv_starts_as_the_base_and_merges_exactly() {
    let (base_vs, ad_vs) = stores();
    let cfg = nn::ConvConfig { stride: 2, padding: 1, ..Default::default() };
    let base = nn::conv2d(base_vs.root() / "conv", 3, 8, 3, cfg);
    let mut base_vs = base_vs;
    base_vs.freeze();
    let reference = base.ws.copy();
    let input = x(&[2, 3, 9, 9], 3);
    let want = input.apply(&base);
    let mut lora = LoraConv2d::new(base, cfg, &(ad_vs.root() / "conv"), LoraConfig { rank: 2, alpha: 4.0, dropout: 0.1 }, 5).unwrap();
    assert!(max_abs_diff(&lora.forward_t(&input, false), &want) < 1e-6);
    let mut opt = nn::Sgd::default().build(&ad_vs, 0.1).unwrap();
    for _ in 0..3 {
        let loss = lora.forward_t(&input, true).pow_tensor_scalar(2).mean(Kind::Float);
        opt.backward_step(&loss);
    }
    assert!(lora.base.ws.equal(&reference));
    let adapted = lora.forward_t(&input, false);
    assert!(max_abs_diff(&adapted, &want) > 1e-4, "training moved the adapter");
    lora.merge();
    assert!(max_abs_diff(&lora.forward_t(&input, false), &adapted) < 1e-5);
    lora.unmerge();
    assert!(max_abs_diff(&lora.base.ws, &reference) < 1e-6);
}

#[test]
fn parameter_counts_are_exact_and_configs_are_checked() {
    let (base_vs, ad_vs) = stores();
    let base = nn::linear(base_vs.root() / "fc", 100, 50, Default::default());
    let mut base_vs = base_vs;
    base_vs.freeze();
    let _lora = LoraLinear::new(base, &(ad_vs.root() / "fc"), LoraConfig { rank: 4, ..Default::default() }, 0).unwrap();
    let count = ParameterCount::of(&[&base_vs, &ad_vs]);
    // base 100·50 + 50 = 5,050 frozen; adapters 4·100 + 50·4 = 600 trainable
    assert_eq!(count, ParameterCount { trainable: 600, total: 5050 + 600 });
    assert!((count.percent() - 600.0 / 5650.0 * 100.0).abs() < 1e-12);
    assert!(count.to_string().contains("600 trainable of 5650"));
    for (bad, shows) in [
        (LoraConfig { rank: 0, ..Default::default() }, "rank = 0"),
        (LoraConfig { alpha: -1.0, ..Default::default() }, "alpha = -1"),
        (LoraConfig { dropout: 1.0, ..Default::default() }, "dropout = 1"),
    ] {
        let (b, a) = stores();
        let l = nn::linear(b.root(), 3, 3, Default::default());
        let e = LoraLinear::new(l, &a.root(), bad, 0).unwrap_err().to_string();
        assert!(e.contains(shows), "{e}");
    }
}

/// The largest absolute elementwise difference between two tensors of one shape.
fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).abs().max().double_value(&[])
}
