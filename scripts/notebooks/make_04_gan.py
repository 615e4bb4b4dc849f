"""Writes notebooks/04_gan.ipynb (without outputs; `make notebook-run NB=...` fills them)."""
from nb import Notebook

nb = Notebook()
md, code = nb.md, nb.code

md(r"""
# 04 · Synthetic images from a conditional GAN

A generative adversarial network trains two networks against each other: a **generator** turns noise (and here a class label) into an image, a **discriminator** scores how real an image looks. Trained on *n* images per class, the generator can then produce as many new images of any class as we ask for — the hope being that a classifier trained on real + synthetic images generalises better than one trained on the few real ones.

Two honest warnings before we start:

* A GAN learns only what is in its training images. With 50 images per class it can interpolate between them, not invent new modes of variation; synthetic images are at best a learned augmentation.
* With so few images the discriminator memorises the real set within a few hundred steps and its feedback to the generator becomes useless. **DiffAugment** (Zhao et al. 2020) is the standard remedy: the same random, differentiable colour / translation / cutout transforms are applied to every image the discriminator sees, real or generated, in both updates.

This notebook trains `smalldata::generate::Gan` on 50 Fashion-MNIST images per class, looks at its samples, asks a classifier trained on all 60,000 real images (the *judge*) whether it recognises them, and adds them to a small training set.
""")
code(r"""
:dep smalldata = { path = ".." }
use smalldata::prelude::*;
""")
code(r"""
use smalldata::generate::{Gan, GanConfig, GanLoss, mix_real_synthetic};
use smalldata::generate::judge::{load_judge, judge_samples};
let fm = fashion_mnist(None)?;
let real = fm.train.subsample_per_class(50, 0)?;
println!("{} real training images, {} classes of {:?}; test set: {}", real.len(), real.num_classes(), real.image_shape(), fm.source);
""")
code(r"""
image_grid(&real.subsample_per_class(8, 1)?.images, 8, 2)?
""")
md(r"""
## The model and its arguments

`GanConfig` holds every choice; `GanConfig::default()` is what `smalldata generate gan` runs.

| field | default | what it does |
|---|---|---|
| `loss` | `Hinge` | `NonSaturating` (Goodfellow's), `Hinge`, or `WganGp { lambda }` (Wasserstein with gradient penalty; use `d_steps: 5`) |
| `spectral_norm` | `true` | divides each discriminator weight by its largest singular value: keeps the discriminator smooth |
| `diff_augment` | `true` | colour, translation (⅛ of the side) and cutout (½ of the side) on everything the discriminator sees |
| `z_dim`, `g_width`, `d_width` | 64, 32, 32 | noise size and network widths (the generator's widest layer has `2 · g_width` channels) |
| `steps`, `batch_size`, `d_steps` | 3000, 64, 1 | generator updates, images per batch, discriminator updates per generator update |
| `lr_g`, `lr_d`, `betas` | 2e-4, 2e-4, (0.5, 0.999) | Adam for both networks |
| `ema` | `Some(0.999)` | sample from an exponential moving average of the generator's weights (warmed up, with its own batch-norm statistics) |
| `out`, `checkpoint_every`, `sample_every` | `None`, 500, 0 | where checkpoints and sample grids go; training resumes from the checkpoint after a kill |

The generator embeds the label and concatenates it with the noise; the discriminator is a *projection* discriminator (its score is `linear(h) + ⟨embed(y), h⟩` over its features `h`). Here we train for 800 steps — about two minutes on two CPU cores — instead of the default 3,000.
""")
code(r"""
let cfg = GanConfig { steps: 800, checkpoint_every: 400, out: Some("../report/notebook-04/gan".into()), ..GanConfig::default() };
let mut gan = Gan::new(cfg, real.image_shape(), real.num_classes(), smalldata::device()?)?;
let (g_params, d_params) = gan.num_parameters();
println!("generator {g_params} weights, discriminator {d_params}");
let history = gan.train(&real)?;
println!("{} steps ({} resumed from the checkpoint), {:.0} s of training", gan.step, history.resumed_from, history.seconds);
""")
md(r"""
The losses do not converge the way a classifier's do: the two networks chase each other. With the hinge loss, a discriminator loss near 2 means it can no longer tell real from generated images, near 0 that it separates them perfectly (a sign of memorisation when the samples look good).
""")
code(r"""
let steps: Vec<f64> = history.losses.iter().map(|l| l.0 as f64).collect();
line_chart("GAN losses (hinge)", "generator step", "loss", vec![
    Series { name: "discriminator".into(), x: steps.clone(), y: history.losses.iter().map(|l| l.1).collect(), band: None },
    Series { name: "generator".into(), x: steps.clone(), y: history.losses.iter().map(|l| l.2).collect(), band: None },
], false)?
""")
md(r"""
One row per class (T-shirt, trouser, pullover, dress, coat, sandal, shirt, sneaker, bag, ankle boot), eight samples each, from the averaged generator:
""")
code(r"""
gan.sample_grid(8, 0)?
""")
md(r"""
## Does a classifier recognise them?

The judge is the small CNN trained on all 60,000 real training images (accuracy 0.908 on the real test set; its weights are in `data/pretrained/`). For 100 samples per class we report the share it labels as the class the generator was asked for, and the Fowlkes–Mallows index between asked and judged labels (1 = a perfect match up to renaming, about 0.1 = no class information).
""")
code(r"""
let judge = load_judge(Device::Cpu)?;
let (images, labels) = gan.sample(100, 1)?;
let verdict = judge_samples(&judge, &images, &labels)?;
println!("label agreement {:.3}, FMI {:.3}, macro F1 {:.3}", verdict.label_agreement, verdict.fmi, verdict.macro_f1);
""")
code(r"""
bar_chart("judge agreement per class (800 GAN steps)", &real.class_names, &verdict.per_class, "share recognised")?
""")
md(r"""
## Adding the samples to a small training set

The question that matters: does a classifier trained on the real images *plus* synthetic ones do better on the real test set? Below, the study's classifier (small CNN, 400 Adam steps) is trained with seeds 0–2 on 10 real images per class, alone and with 40 synthetic images per class added.

Read the result with care: to save time this reuses the GAN above, which saw **50** real images per class — 40 more than the classifier gets — so the synthetic images smuggle in information the small set does not have. The cell shows the mechanics, not the answer. The honest protocol is the study's `gan` arm (`smalldata study --ops none --gan 4`), which trains a GAN on each run's own images only; its table is in the README.
""")
code(r"""
use smalldata::train::{Classifier, ModelKind, ModelSpec, TrainConfig, Trainer};
use smalldata::evaluate::Summary;
let test = fm.test.subsample_per_class(100, 0)?;
let small = real.subsample_per_class(10, 0)?;
let synthetic = gan.sample_dataset(40, 2, &real.class_names)?;
let mixed = mix_real_synthetic(&small, &synthetic)?;
let mut acc: Vec<Vec<f64>> = vec![vec![], vec![]];
for seed in 0..3u64 {
    for (k, train) in [&small, &mixed].into_iter().enumerate() {
        let mut model = Classifier::new(ModelSpec::new(ModelKind::SmallCnn, train.image_shape(), 10), seed, Device::Cpu)?;
        Trainer::new(TrainConfig { seed, progress: false, ..TrainConfig::default() }).fit(&mut model, train)?;
        acc[k].push(model.evaluate(&test)?.accuracy);
    }
}
let summaries: Vec<Summary> = acc.iter().map(|a| Summary::of(a)).collect::<Result<_>>()?;
for (name, s) in ["10 real", "10 real + 40 GAN"].iter().zip(&summaries) { println!("{name:<18} accuracy {:.3} [{:.3}, {:.3}]", s.mean, s.ci_low, s.ci_high); }
""")
code(r"""
bar_chart_ci("test accuracy, 3 classifier seeds (95% CI)", &["10 real".to_string(), "10 real + 40 GAN".to_string()],
    &summaries.iter().map(|s| s.mean).collect::<Vec<_>>(),
    &summaries.iter().map(|s| (s.ci_low, s.ci_high)).collect::<Vec<_>>(), "accuracy")?
""")
md(r"""
## What must hold

Shapes and ranges of the samples, and floors that an untrained generator cannot pass: after 800 steps the judge recognises clearly more samples than chance (0.1) would give — about 0.38 on the development machine; the full 3,000-step run of `smalldata generate gan` reaches the figures in the README.
""")
code(r"""
assert_eq!(images.size(), vec![1000, 1, 28, 28]);
assert!(images.min().double_value(&[]) >= 0.0 && images.max().double_value(&[]) <= 1.0);
assert_eq!(mixed.len(), 100 + 400);
assert!(verdict.label_agreement > 0.25, "agreement {}", verdict.label_agreement);
assert!(acc.iter().flatten().all(|&a| a > 0.4), "{acc:?}");
println!("all checks passed");
""")

nb.write("04_gan.ipynb")
