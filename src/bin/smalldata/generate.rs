//! `smalldata generate …`: synthetic data — the judge, the GAN, table synthesizers,
//! the diffusion model and textual inversion.
use smalldata::device::use_cpu_threads;
use clap::Subcommand;
use smalldata::data;
use smalldata::generate::diffusion::{DiffusionArchitecture, DiffusionConfig, DiffusionTraining};
use smalldata::generate::{GanArchitecture, GanConfig, GanExperimentConfig, GanTraining, RunSettings};
use smalldata::params::settings;
use smalldata::tabular::{TabularSource, TstrConfig};
use smalldata::generate::stable_diffusion::{load_inversion_images, InversionConfig as SdInversionConfig, LearnableProperty, SampleOptions, StableDiffusion, TextualInversion};
use std::path::PathBuf;

/// How Stable Diffusion samples.
#[derive(clap::Args)]
pub(crate) struct SdSampling {
    /// DDIM steps.
    #[arg(long, default_value_t = SampleOptions::default().steps)]
    sample_steps: usize,
    /// Classifier-free guidance scale (1: none).
    #[arg(long, default_value_t = SampleOptions::default().guidance)]
    guidance: f64,
    #[arg(long, default_value = "")]
    negative_prompt: String,
    /// Picture side in pixels (default: the model's own).
    #[arg(long)]
    size: Option<i64>,
    /// Pictures per batch.
    #[arg(long, default_value_t = 1)]
    batch: usize,
    /// float32, float16 or bfloat16 for the UNet and VAE (default: float32 on the CPU,
    /// float16 on CUDA).
    #[arg(long)]
    dtype: Option<String>,
}

impl SdSampling {
    fn open(&self, model: &std::path::Path) -> smalldata::Result<StableDiffusion> {
        let device = smalldata::device::device()?;
        let kind = match self.dtype.as_deref() {
            None => StableDiffusion::default_kind(device),
            Some("float32") => tch::Kind::Float,
            Some("float16") => tch::Kind::Half,
            Some("bfloat16") => tch::Kind::BFloat16,
            Some(other) => return Err(smalldata::Error::invalid("--dtype", other, "expected float32, float16 or bfloat16")),
        };
        println!("opening {} on {} ({kind:?})", model.display(), smalldata::device::describe(device));
        StableDiffusion::open(model, device, kind)
    }

    fn options(&self, sd: &StableDiffusion, seed: u64) -> SampleOptions {
        let side = self.size.unwrap_or_else(|| sd.native_resolution());
        SampleOptions { steps: self.sample_steps, guidance: self.guidance, negative_prompt: self.negative_prompt.clone(), size: (side, side), seed }
    }
}

#[derive(Subcommand)]
pub(crate) enum GenerateCmd {
    /// Train the judge (small CNN on all Fashion-MNIST training images) that labels synthetic images.
    Judge {
        #[arg(long, default_value_t = 3000)]
        steps: usize,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        #[arg(long, default_value = smalldata::generate::judge::JUDGE)]
        out: PathBuf,
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Train the conditional GAN on n real images per class and evaluate its samples
    /// (judge agreement and FMI, PRDC, C2ST, clusters, TSTR); resumes if killed.
    Gan {
        #[arg(long, default_value_t = GanExperimentConfig::default().n_per_class)]
        n_per_class: usize,
        #[arg(long, default_value_t = GanConfig::default().run.steps)]
        steps: usize,
        /// ns, hinge, wgan-gp or wgan-gp=λ.
        #[arg(long, default_value = "hinge")]
        loss: String,
        /// Turn DiffAugment off (to show what it does).
        #[arg(long)]
        no_diffaugment: bool,
        /// Turn spectral normalisation off.
        #[arg(long)]
        no_spectral_norm: bool,
        /// Discriminator steps per generator step.
        #[arg(long, default_value_t = GanTraining::default().d_steps)]
        d_steps: usize,
        #[arg(long, default_value_t = GanTraining::default().batch_size)]
        batch_size: usize,
        /// Generator and discriminator widths.
        #[arg(long)]
        g_width: Option<i64>,
        #[arg(long)]
        d_width: Option<i64>,
        #[arg(long, default_value_t = GanTraining::default().lr_g)]
        lr: f64,
        /// Steps between checkpoints (a kill loses at most this many steps).
        #[arg(long, default_value_t = RunSettings::default().checkpoint_every)]
        checkpoint_every: usize,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        #[arg(long)]
        data_dir: Option<PathBuf>,
        #[arg(long, default_value = "report/gan")]
        out: PathBuf,
    },
    /// Pretrain the token-conditioned diffusion model on Fashion-MNIST classes 0–8 (no
    /// ankle boots) and export its sampling weights; resumes if killed.
    DiffusionPretrain {
        #[arg(long, default_value_t = DiffusionConfig::default().run.steps)]
        steps: usize,
        /// Tokens per class (k-means clusters within each class when > 1).
        #[arg(long, default_value_t = DiffusionArchitecture::default().tokens_per_class)]
        tokens_per_class: usize,
        #[arg(long, default_value_t = DiffusionArchitecture::default().width)]
        width: i64,
        #[arg(long, default_value_t = DiffusionTraining::default().batch_size)]
        batch_size: usize,
        #[arg(long, default_value_t = DiffusionTraining::default().lr)]
        lr: f64,
        /// Steps between checkpoints (a kill loses at most this many steps).
        #[arg(long, default_value_t = RunSettings::default().checkpoint_every)]
        checkpoint_every: usize,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Pretrain on your image folder instead of Fashion-MNIST: its training part
        /// only (with no train/ and test/, the same 30% per class is held out as
        /// `smalldata study --dataset FOLDER` holds out, and never seen here).
        #[arg(long)]
        folder: Option<PathBuf>,
        /// With --folder: square side (a multiple of 4, at least 8; default: the images').
        #[arg(long)]
        size: Option<u32>,
        /// With --folder: 1 or 3 channels (default: the images').
        #[arg(long)]
        channels: Option<usize>,
        /// Checkpoints (for resuming).
        #[arg(long, default_value = "report/diffusion")]
        out: PathBuf,
        /// Where the sampling weights go.
        #[arg(long, default_value = smalldata::generate::diffusion::PRETRAINED_DIFFUSION)]
        export: PathBuf,
    },
    /// Textual inversion: learn a token for a few ankle boots on the frozen pretrained
    /// model, and judge its samples against the initializer token's.
    Invert {
        #[arg(long, default_value_t = 10)]
        images: usize,
        #[arg(long, default_value = "<boot>")]
        placeholder: String,
        #[arg(long, default_value = "sneaker")]
        initializer: String,
        #[arg(long, default_value_t = smalldata::generate::diffusion::InversionConfig::default().num_vectors)]
        num_vectors: usize,
        /// Learn the token as a convex combination of the known tokens.
        #[arg(long)]
        mixture: bool,
        #[arg(long, default_value_t = smalldata::generate::diffusion::InversionConfig::default().steps)]
        steps: usize,
        #[arg(long, default_value_t = smalldata::generate::diffusion::InversionConfig::default().lr)]
        lr: f64,
        #[arg(long, default_value_t = smalldata::generate::diffusion::InversionConfig::default().batch_size)]
        batch_size: usize,
        /// Train the token on the noisiest 1 − t_min of the schedule only.
        #[arg(long, default_value_t = smalldata::generate::diffusion::InversionConfig::default().t_min)]
        t_min: f64,
        /// Random horizontal flips of the concept images (off by default: Fashion-MNIST's
        /// shoes all point the same way, so a mirrored boot is a new picture to the model).
        #[arg(long)]
        flip: bool,
        /// Judge this learned token (an earlier run's .safetensors) instead of learning one.
        #[arg(long)]
        token: Option<PathBuf>,
        /// ddpm, ddim or ddim=steps.
        #[arg(long, default_value = "ddim=50")]
        sampler: String,
        #[arg(long, default_value_t = 3.0)]
        guidance: f64,
        #[arg(long, default_value_t = 200)]
        samples: usize,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        #[arg(long)]
        pretrained: Option<PathBuf>,
        #[arg(long)]
        data_dir: Option<PathBuf>,
        #[arg(long, default_value = "report/inversion")]
        out: PathBuf,
    },
    /// Textual inversion on a Stable Diffusion 1.x/2.x checkpoint in the diffusers
    /// layout, as diffusers' example script does it: learns the embedding of a new
    /// token from a few pictures; writes learned_embeds.safetensors (which diffusers'
    /// `pipe.load_textual_inversion` reads) and a few samples; resumes if killed.
    SdInvert {
        /// The pipeline folder (model_index.json, tokenizer/, text_encoder/, unet/, vae/, scheduler/).
        #[arg(long)]
        model: PathBuf,
        /// A folder of pictures of the concept (3 to 5 is the usual number).
        #[arg(long)]
        images: PathBuf,
        /// The new token, e.g. "<my-toy>" (not a word the tokenizer knows).
        #[arg(long, default_value_t = SdInversionConfig::default().placeholder)]
        token: String,
        /// A word of one token to start from, e.g. toy.
        #[arg(long, default_value_t = SdInversionConfig::default().initializer)]
        init: String,
        #[arg(long, default_value_t = SdInversionConfig::default().num_vectors)]
        vectors: usize,
        #[arg(long, default_value_t = SdInversionConfig::default().steps)]
        steps: usize,
        /// Learning rate before scaling by the batch size.
        #[arg(long, default_value_t = SdInversionConfig::default().learning_rate)]
        lr: f64,
        /// Do not multiply the learning rate by the batch size.
        #[arg(long)]
        no_scale_lr: bool,
        #[arg(long, default_value_t = SdInversionConfig::default().batch_size)]
        batch_size: usize,
        /// Picture side in pixels (default: the model's own, 512 for SD 1.5).
        #[arg(long)]
        resolution: Option<i64>,
        /// Crop each picture's centre square before resizing.
        #[arg(long)]
        center_crop: bool,
        /// Probability of a horizontal flip.
        #[arg(long, default_value_t = SdInversionConfig::default().flip_p)]
        flip_p: f64,
        /// Learn a style ("a painting in the style of …") rather than an object.
        #[arg(long)]
        style: bool,
        #[arg(long, default_value_t = SdInversionConfig::default().save_every)]
        save_every: usize,
        #[arg(long, default_value_t = SdInversionConfig::default().checkpoint_every)]
        checkpoint_every: usize,
        /// Pictures to sample afterwards with "a photo of TOKEN" (into OUT/samples).
        #[arg(long, default_value_t = 4)]
        samples: usize,
        #[command(flatten)]
        sampling: SdSampling,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        #[arg(long, default_value = "report/sd-inversion")]
        out: PathBuf,
    },
    /// Sample a Stable Diffusion checkpoint into a folder of PNG files, optionally with
    /// learned tokens (learned_embeds.safetensors from sd-invert or from diffusers);
    /// each picture is seeded on its own, and a killed run resumes.
    SdSample {
        #[arg(long)]
        model: PathBuf,
        /// A textual-inversion file to load first (repeatable); its token is named by its key.
        #[arg(long)]
        embeds: Vec<PathBuf>,
        /// E.g. "a photo of <my-toy> on a beach".
        #[arg(long)]
        prompt: String,
        #[arg(long, default_value_t = 8)]
        n: usize,
        #[command(flatten)]
        sampling: SdSampling,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        #[arg(long, default_value = "report/sd-samples")]
        out: PathBuf,
    },
    /// Tables: train on synthetic, test on real (copula and GAN) against TRTR.
    Tstr {
        /// diabetes, winequality, or a CSV path (with --target).
        #[arg(long, default_value = "diabetes")]
        data: String,
        #[arg(long, default_value = "target")]
        target: String,
        #[arg(long, default_value_t = TstrConfig::default().rows)]
        rows: usize,
        #[arg(long, default_value_t = TstrConfig::default().synthetic_rows)]
        synthetic_rows: usize,
        #[arg(long, value_delimiter = ',', default_value = settings(&TstrConfig::default().synthesizers).join(","))]
        synthesizers: Vec<String>,
        #[arg(long, value_delimiter = ',', default_value = settings(&TstrConfig::default().models).join(","))]
        models: Vec<String>,
        #[arg(long, default_value_t = TstrConfig::default().seeds)]
        seeds: usize,
    },
}

pub(crate) fn run(what: GenerateCmd) -> smalldata::Result<()> {
    match what {
        GenerateCmd::Judge { steps, seed, out, data_dir } => {
            use_cpu_threads();
            let t = std::time::Instant::now();
            let data = data::fashion_mnist(data_dir.as_deref())?;
            let judge = smalldata::generate::judge::train_judge(&data.train, steps, seed, &out)?;
            let acc = judge.evaluate(&data.test)?.accuracy;
            println!("judge: {steps} steps in {:.0} s; test accuracy {acc:.4} on {} images; saved {}", t.elapsed().as_secs_f64(), data.test.len(), out.display());
        }
        GenerateCmd::Gan { n_per_class, steps, checkpoint_every, loss, no_diffaugment, no_spectral_norm, d_steps, batch_size, g_width, d_width, lr, seed, data_dir, out } => {
            use_cpu_threads();
            let defaults = smalldata::generate::GanExperimentConfig::default();
            let cfg = smalldata::generate::GanExperimentConfig {
                data_dir,
                n_per_class,
                seed,
                gan: GanConfig {
                    arch: GanArchitecture {
                        spectral_norm: !no_spectral_norm,
                        g_width: g_width.unwrap_or(defaults.gan.arch.g_width),
                        d_width: d_width.unwrap_or(defaults.gan.arch.d_width),
                        ..defaults.gan.arch.clone()
                    },
                    training: GanTraining { loss: loss.parse()?, diff_augment: !no_diffaugment, d_steps, batch_size, lr_g: lr, lr_d: lr, seed, ..defaults.gan.training.clone() },
                    run: RunSettings { steps, checkpoint_every, ..defaults.gan.run.clone() },
                },
                out,
                ..defaults
            };
            let r = smalldata::generate::run_gan_experiment(&cfg)?;
            println!("{}", serde_json::to_string_pretty(&r)?);
            println!(
                "judge agreement {:.3} (FMI {:.3}; judge on real test images {:.3}); TSTR {:.3} vs TRTR {:.3}; trained {} steps in {:.0} s on {} threads",
                r.judge.label_agreement, r.judge.fmi, r.judge_real_accuracy, r.tstr_accuracy, r.trtr_accuracy, r.steps, r.train_seconds, r.threads
            );
        }
        GenerateCmd::SdInvert { model, images, token, init, vectors, steps, lr, no_scale_lr, batch_size, resolution, center_crop, flip_p, style, save_every, checkpoint_every, samples, sampling, seed, out } => {
            use_cpu_threads();
            let sd = sampling.open(&model)?;
            let cfg = SdInversionConfig {
                placeholder: token,
                initializer: init,
                num_vectors: vectors,
                steps,
                learning_rate: lr,
                scale_lr: !no_scale_lr,
                batch_size,
                resolution: resolution.unwrap_or_else(|| sd.native_resolution()),
                center_crop,
                flip_p,
                property: if style { LearnableProperty::Style } else { LearnableProperty::Object },
                seed,
                save_every,
                checkpoint_every,
                ..SdInversionConfig::default()
            };
            cfg.check()?;
            let (files, pictures) = load_inversion_images(&images, cfg.resolution, cfg.center_crop)?;
            println!("{} pictures from {} at {}×{}; token {:?} from {:?}", files.len(), images.display(), cfg.resolution, cfg.resolution, cfg.placeholder, cfg.initializer);
            let mut run = TextualInversion::new(sd, files, pictures, cfg)?;
            let history = run.train(Some(&out), true)?;
            let embeds = out.join("learned_embeds.safetensors");
            println!(
                "textual inversion: {} steps ({} resumed) in {:.1} s; loss first {:.4}, last {:.4}; wrote {}",
                history.losses.len(),
                history.resumed_from,
                history.seconds,
                history.losses.first().copied().unwrap_or(f64::NAN),
                history.losses.last().copied().unwrap_or(f64::NAN),
                embeds.display()
            );
            if samples > 0 {
                let prompt = format!("a photo of {}", run.config().placeholder);
                let sd = run.into_model();
                let opts = sampling.options(&sd, seed);
                let made = sd.sample_to_folder(&prompt, samples, sampling.batch, &opts, &[embeds], &out.join("samples"), true)?;
                println!("{:?}: {} pictures in {} ({} made in {:.1} s, {} already there)", prompt, made.files.len(), out.join("samples").display(), made.written, made.seconds, made.found);
            }
        }
        GenerateCmd::SdSample { model, embeds, prompt, n, sampling, seed, out } => {
            use_cpu_threads();
            let mut sd = sampling.open(&model)?;
            for file in &embeds {
                let tokens = sd.load_textual_inversion(file, None)?;
                println!("loaded {} from {}", tokens.join(", "), file.display());
            }
            let opts = sampling.options(&sd, seed);
            let made = sd.sample_to_folder(&prompt, n, sampling.batch, &opts, &embeds, &out, true)?;
            println!(
                "{prompt:?}: {} pictures of {}×{} in {} ({} made in {:.1} s, {} already there; DDIM {}, guidance {})",
                made.files.len(),
                opts.size.0,
                opts.size.1,
                out.display(),
                made.written,
                made.seconds,
                made.found,
                opts.steps,
                opts.guidance
            );
        }
        GenerateCmd::Tstr { data, target, rows, synthetic_rows, synthesizers, models, seeds } => {
            let cfg = TstrConfig {
                data: TabularSource::parse(&data, &target)?,
                rows,
                synthetic_rows,
                synthesizers: synthesizers.iter().map(|s| s.parse()).collect::<smalldata::Result<_>>()?,
                models: models.iter().map(|s| s.parse()).collect::<smalldata::Result<_>>()?,
                seeds,
                ..Default::default()
            };
            // small MLPs: one thread is fastest, and leaves the other cores alone
            tch::set_num_threads(1);
            let t = std::time::Instant::now();
            let rows = smalldata::tabular::run_tabular_tstr(&cfg)?;
            print!("{}", smalldata::tabular::tstr_table(&rows));
            println!("{} seeds, {} real rows, {} synthetic rows, {:.1} s", cfg.seeds, cfg.rows, cfg.synthetic_rows, t.elapsed().as_secs_f64());
        }
        GenerateCmd::DiffusionPretrain { steps, tokens_per_class, width, batch_size, lr, checkpoint_every, seed, data_dir, folder, size, channels, out, export } => {
            use_cpu_threads();
            use smalldata::generate::diffusion::*;
            let defaults = DiffusionConfig::default();
            let cfg = DiffusionConfig {
                arch: DiffusionArchitecture { tokens_per_class, width, ..defaults.arch },
                training: DiffusionTraining { batch_size, lr, seed, ..defaults.training },
                run: RunSettings { steps, out: Some(out), progress: true, checkpoint_every, ..defaults.run },
            };
            let command = format!(
                "smalldata generate diffusion-pretrain --steps {steps} --tokens-per-class {tokens_per_class} --width {width} --batch-size {batch_size} --lr {lr} --seed {seed}"
            );
            let model = match &folder {
                Some(dir) => {
                    let fc = smalldata::data::FolderConfig { size: size.map(|s| (s, s)), channels, ..Default::default() };
                    let (tt, _) = smalldata::data::image_folder_train_test(dir, &fc, 0.3, 0)?;
                    println!("pretraining on {}", tt.source);
                    let command = format!("{command} --folder {}{}{}", dir.display(), size.map(|s| format!(" --size {s}")).unwrap_or_default(), channels.map(|c| format!(" --channels {c}")).unwrap_or_default());
                    pretrain_diffusion_on(&cfg, &tt.train, &export, &command)?
                }
                None => pretrain_diffusion(&cfg, data_dir.as_deref(), &export, &command)?,
            };
            println!(
                "diffusion: {} steps in {:.0} s, {} weights, {} tokens; final loss {:.4}; exported {}",
                model.step,
                model.history.seconds,
                model.num_parameters(),
                model.vocabulary.tokens.len(),
                model.history.losses.last().map(|l| l.1).unwrap_or(f64::NAN),
                export.display()
            );
        }
        GenerateCmd::Invert { images, placeholder, initializer, num_vectors, mixture, steps, lr, batch_size, t_min, flip, token, sampler, guidance, samples, seed, pretrained, data_dir, out } => {
            use_cpu_threads();
            use smalldata::generate::diffusion::*;
            let defaults = InversionExperimentConfig::default();
            let cfg = InversionExperimentConfig {
                pretrained: pretrained.unwrap_or(defaults.pretrained),
                data_dir,
                images,
                seed,
                inversion: InversionConfig { placeholder, initializer, num_vectors, mixture, steps, lr, batch_size, t_min, flip, seed, progress: true, ..InversionConfig::default() },
                token,
                sampler: sampler.parse()?,
                guidance,
                samples,
                out,
            };
            let r = run_inversion_experiment(&cfg)?;
            println!("{}", serde_json::to_string_pretty(&r)?);
            println!(
                "judged \"ankle boot\": learned token {:.3}, initializer alone {:.3}; ten-class FMI {:.3}; inversion {:.0} s; {:.1} images/s ({:?}, guidance {})",
                r.learned_boot_rate, r.initializer_boot_rate, r.fmi_ten_classes, r.inversion_seconds, r.images_per_second, r.sampler, r.guidance
            );
        }
    }
    Ok(())
}
