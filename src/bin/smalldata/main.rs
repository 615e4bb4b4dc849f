//! The `smalldata` command: a thin layer over the library.
use clap::{Args, Parser, Subcommand, ValueEnum};
use smalldata::data::{self, FolderConfig, ImageDataset, TabularData};
use smalldata::finetune::{TransferConfig, TransferStudyConfig};
use smalldata::params::settings;
use smalldata::tabular::{run_tabular_study, TabularSource, TabularStudyConfig};
use std::path::PathBuf;
use std::process::ExitCode;

mod advise;
mod generate;
mod study;
use advise::{advise, AdviseArgs};
use generate::GenerateCmd;
use study::{study_with, StudyArgs};

/// A default list as the command line spells it: `10,50`.
pub(crate) fn comma<T: std::fmt::Display>(values: &[T]) -> String {
    values.iter().map(T::to_string).collect::<Vec<_>>().join(",")
}

#[derive(Parser)]
#[command(name = "smalldata", version, about = "Machine learning on small datasets: what really helps?")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Versions, device and where each dataset is found.
    Info {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Load a dataset and print its summary.
    Data {
        #[arg(value_enum)]
        dataset: DatasetArg,
        /// Directory (fashion-mnist, mnist, cifar10, folder) or CSV file (csv).
        #[arg(long)]
        path: Option<PathBuf>,
        /// Target column of a CSV.
        #[arg(long, default_value = "target")]
        target: String,
        /// Image size for an image folder, e.g. 28 or 32 (default: the median side of
        /// the images, capped at 64).
        #[arg(long)]
        size: Option<u32>,
        /// Channels for an image folder: 1 or 3 (default: 3 when any image has colour).
        #[arg(long)]
        channels: Option<usize>,
        /// Also draw a stratified subsample of this many images per class.
        #[arg(long)]
        n_per_class: Option<usize>,
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// Benchmarks beside the peers, printed as ratios and written as JSON.
    Bench {
        #[arg(value_enum)]
        what: BenchArg,
        /// Where to write the JSON report (default: report/bench-<what>.json).
        #[arg(long)]
        out: Option<PathBuf>,
        /// study: sizes (images per class).
        #[arg(long, value_delimiter = ',', default_value = "10,50")]
        sizes: Vec<usize>,
        /// study: seeds.
        #[arg(long, default_value_t = 3)]
        seeds: usize,
        /// study: steps per run; vit-lora: timed steps (at most 20).
        #[arg(long, default_value_t = 400)]
        steps: usize,
        /// vit-lora: images per step.
        #[arg(long, default_value_t = 4)]
        batch: i64,
        /// vit-lora: float32 or bfloat16.
        #[arg(long, default_value = "float32")]
        dtype: String,
        /// The Python with torchvision and albumentations.
        #[arg(long, default_value = ".venv/bin/python")]
        python: PathBuf,
    },
    /// What helps on your data, and by how much: screens every applicable arm,
    /// confirms the best on new seeds, and writes a verdict page (within --budget).
    Advise(AdviseArgs),
    /// The augmentation study: sizes × augmentation combinations × seeds, with
    /// confidence intervals, written to --out (resumes if killed).
    Study(StudyArgs),
    /// The small-data regression study: sizes × augmentation × model × seeds, RMSE and
    /// MAE with confidence intervals, written to --out (resumes if killed).
    Tabular(TabularArgs),
    /// Transfer learning on few labels: pretrain the backbone, or compare strategies.
    Finetune {
        #[command(subcommand)]
        what: FinetuneCmd,
    },
    /// Synthetic data: train the judge, or train and evaluate the conditional GAN.
    Generate {
        #[command(subcommand)]
        what: GenerateCmd,
    },
    /// The main job: `advise` on the default data (Fashion-MNIST where installed,
    /// else the embedded subset) with the default 10-minute budget.
    Demo {
        /// Where the report goes.
        #[arg(long, default_value = "report/advise")]
        out: PathBuf,
        /// Runs in parallel (default: the number of cores).
        #[arg(long)]
        jobs: Option<usize>,
    },
}

#[derive(Subcommand)]
enum FinetuneCmd {
    /// Train a backbone on Fashion-MNIST classes 0–4 and save it: the small ResNet
    /// (a safetensors file) or a small ViT (a Hugging Face folder).
    Pretrain {
        #[arg(long, default_value_t = 1500)]
        steps: usize,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// small-resnet, or vit (hidden 64, 4 layers, 4 heads, patch 4, MLP 128).
        #[arg(long, default_value = "small-resnet")]
        arch: smalldata::finetune::SourceArch,
        /// Default: data/pretrained/resnet_fmnist_0-4.safetensors, or
        /// data/pretrained/vit_fmnist_0-4 with --arch vit.
        #[arg(long)]
        out: Option<PathBuf>,
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Pretrain on your image folder (read as gray, --size px; its held-out 30% per
        /// class, or its test/ part, is the source test set) instead of Fashion-MNIST 0–4.
        #[arg(long)]
        folder: Option<PathBuf>,
        /// With --folder: square side in pixels.
        #[arg(long, default_value_t = 28)]
        size: u32,
    },
    /// Compare scratch, frozen + head, LoRA, full and gradual fine-tuning on classes 5–9.
    Run {
        /// The backbone: a safetensors file (the project's small ResNet, or a
        /// torchvision ResNet-18/34), or a Hugging Face ViT folder.
        #[arg(long, default_value = smalldata::finetune::PRETRAINED)]
        checkpoint: PathBuf,
        #[arg(long, value_delimiter = ',', default_value = comma(&TransferStudyConfig::default().sizes))]
        sizes: Vec<usize>,
        /// scratch, frozen-linear, frozen-mlp, lora[=rank], full, gradual.
        #[arg(long, value_delimiter = ',', default_value = settings(&TransferStudyConfig::default().strategies).join(","))]
        strategies: Vec<String>,
        #[arg(long, default_value_t = TransferStudyConfig::default().seeds)]
        seeds: usize,
        #[arg(long, default_value_t = TransferConfig::default().steps)]
        steps: usize,
        #[arg(long, default_value_t = TransferConfig::default().batch_size)]
        batch_size: usize,
        #[arg(long, default_value_t = TransferConfig::default().lr)]
        lr: f64,
        /// Square side the backbone sees, instead of its checkpoint's (224 for
        /// torchvision's ResNets; a smaller side is faster on a CPU).
        #[arg(long)]
        image_size: Option<i64>,
        #[arg(long)]
        test_limit: Option<usize>,
        #[arg(long)]
        jobs: Option<usize>,
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Your image folder as the target task (read at the backbone's size and
        /// channels) instead of Fashion-MNIST classes 5–9.
        #[arg(long)]
        folder: Option<PathBuf>,
        #[arg(long, default_value = "report/finetune")]
        out: PathBuf,
        /// Discard the results already in --out instead of resuming.
        #[arg(long)]
        restart: bool,
        #[arg(long)]
        quiet: bool,
    },
}

#[derive(Args)]
struct TabularArgs {
    /// diabetes, winequality, or the path of a CSV file (with --target).
    #[arg(long, default_value = "diabetes")]
    dataset: String,
    /// Target column of a CSV.
    #[arg(long, default_value = "target")]
    target: String,
    /// Training rows, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = comma(&TabularStudyConfig::default().sizes))]
    sizes: Vec<usize>,
    /// Augmentations: none, jitter, mixup, smoter, smogn, copula, gan.
    #[arg(long, value_delimiter = ',', default_value = settings(&TabularStudyConfig::default().methods).join(","))]
    augment: Vec<String>,
    /// Models: ols, ridge[=alpha], lasso[=alpha], elasticnet[=alpha], svr[=C], knn[=k], mlp[=hidden].
    #[arg(long, value_delimiter = ',', default_value = settings(&TabularStudyConfig::default().models).join(","))]
    models: Vec<String>,
    #[arg(long, default_value_t = TabularStudyConfig::default().seeds)]
    seeds: usize,
    /// Share of rows held out for testing, per seed.
    #[arg(long, default_value_t = TabularStudyConfig::default().test_fraction)]
    test_fraction: f64,
    /// Synthetic rows per training row.
    #[arg(long, default_value_t = TabularStudyConfig::default().ratio)]
    ratio: f64,
    /// Missing cells of a CSV (empty, NA, NaN, nan, null, ?, N/A): `impute` drops rows
    /// without a target and imputes features from each run's training rows;
    /// `error` stops at the first one, naming its row and column.
    #[arg(long, default_value = "impute")]
    missing: String,
    /// Runs in parallel (default: the number of cores).
    #[arg(long)]
    jobs: Option<usize>,
    #[arg(long, default_value = "report/tabular")]
    out: PathBuf,
    /// Discard the results already in --out instead of resuming.
    #[arg(long)]
    restart: bool,
    #[arg(long)]
    quiet: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum BenchArg {
    /// crop, rotate and noise images/s against torchvision and albumentations
    Augment,
    /// the default study protocol against the same in PyTorch: accuracy and wall time
    Study,
    /// linear-model fit times against scikit-learn
    Tabular,
    /// a ViT-B/16 LoRA training step against transformers + peft (time, counts, memory)
    VitLora,
}

#[derive(Clone, Copy, ValueEnum)]
enum DatasetArg {
    FashionMnist,
    Mnist,
    Cifar10,
    Digits,
    Folder,
    Csv,
    Diabetes,
    Winequality,
}


fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> smalldata::Result<()> {
    match cli.command {
        Command::Info { json } => {
            let info = smalldata::info();
            if json {
                println!("{}", serde_json::to_string_pretty(&info)?);
            } else {
                print!("{info}");
            }
        }
        Command::Data { dataset, path, target, size, channels, n_per_class, seed } => {
            let need = |what: &str| {
                path.clone().ok_or_else(|| smalldata::Error::invalid("--path", "(missing)", format!("{what} needs --path")))
            };
            let images: Vec<(String, ImageDataset)> = match dataset {
                DatasetArg::FashionMnist => {
                    let tt = data::fashion_mnist(path.as_deref())?;
                    println!("source: {}", tt.source);
                    vec![("fashion-mnist train".into(), tt.train), ("fashion-mnist test".into(), tt.test)]
                }
                DatasetArg::Mnist => {
                    let names = (0..10).map(|d| d.to_string()).collect();
                    let tt = data::load_mnist_dir(&need("mnist")?, names)?;
                    vec![("mnist train".into(), tt.train), ("mnist test".into(), tt.test)]
                }
                DatasetArg::Cifar10 => {
                    let tt = data::cifar10(need("cifar10")?)?;
                    vec![("cifar10 train".into(), tt.train), ("cifar10 test".into(), tt.test)]
                }
                DatasetArg::Digits => vec![("digits".into(), data::digits()?)],
                DatasetArg::Folder => {
                    let cfg = FolderConfig { size: size.map(|s| (s, s)), channels, ..Default::default() };
                    let (d, report) = data::read_image_folder(need("folder")?, &cfg)?;
                    println!("read: {}", report.describe());
                    vec![("folder".into(), d)]
                }
                DatasetArg::Csv => {
                    let t = data::Table::from_csv(need("csv")?, &target, data::Missing::Impute)?;
                    println!(
                        "{}: {} rows with a target ({} dropped without one), {} feature columns, {} missing feature cells",
                        t.source,
                        t.len(),
                        t.dropped_rows,
                        t.columns.len(),
                        t.missing_cells
                    );
                    for (name, cats) in t.categorical() {
                        println!("  categorical {name:?}: {}", cats.join(", "));
                    }
                    vec![]
                }
                DatasetArg::Diabetes => {
                    print!("{}", TabularData::diabetes()?.summary("diabetes"));
                    vec![]
                }
                DatasetArg::Winequality => {
                    print!("{}", TabularData::winequality()?.summary("winequality"));
                    vec![]
                }
            };
            for (name, ds) in &images {
                print!("{}", ds.summary(name));
            }
            if let (Some(n), Some((name, ds))) = (n_per_class, images.first()) {
                let sub = ds.subsample_per_class(n, seed)?;
                print!("{}", sub.summary(&format!("{name}, {n} per class (seed {seed})")));
            }
        }
        Command::Bench { what: BenchArg::Augment, out, python, .. } => {
            smalldata::bench::augment(&python, &out.unwrap_or_else(|| "report/bench-augment.json".into()))?;
        }
        Command::Bench { what: BenchArg::Tabular, out, python, .. } => {
            smalldata::bench::tabular(&python, &out.unwrap_or_else(|| "report/bench-tabular.json".into()), 20)?;
        }
        Command::Bench { what: BenchArg::VitLora, out, python, batch, steps, dtype, .. } => {
            smalldata::bench::vit_lora(&python, &out.unwrap_or_else(|| "report/bench-vit-lora.json".into()), batch, steps.min(20), &dtype)?;
        }
        Command::Bench { what: BenchArg::Study, out, python, sizes, seeds, steps, .. } => {
            smalldata::bench::study(&python, &out.unwrap_or_else(|| "report/bench-study.json".into()), &sizes, seeds, steps)?;
        }
        Command::Study(args) => {
            let cfg = args.config()?;
            study_with(&cfg, args.transfer_arms()?)?;
        }
        Command::Tabular(a) => {
            let missing: data::Missing = a.missing.parse()?;
            let source = match TabularSource::parse(&a.dataset, &a.target)? {
                TabularSource::Csv { path, target, .. } => TabularSource::Csv { path, target, missing },
                builtin => builtin,
            };
            let defaults = TabularStudyConfig::default();
            let cfg = TabularStudyConfig {
                data: source,
                sizes: a.sizes,
                methods: a.augment.iter().map(|m| m.parse()).collect::<smalldata::Result<_>>()?,
                models: a.models.iter().map(|m| m.parse()).collect::<smalldata::Result<_>>()?,
                seeds: a.seeds,
                test_fraction: a.test_fraction,
                ratio: a.ratio,
                out: a.out,
                progress: !a.quiet,
                jobs: a.jobs.unwrap_or(defaults.jobs),
                restart: a.restart,
            };
            cfg.check()?;
            let outcome = run_tabular_study(&cfg)?;
            print!("\n{}", outcome.summary.to_table());
            println!("{} runs ({} fitted now, {} resumed); {:.0} s\nreport: {}", outcome.rows.len(), outcome.ran, outcome.resumed, outcome.seconds, outcome.report.display());
        }
        Command::Finetune { what: FinetuneCmd::Pretrain { steps, seed, arch, out, data_dir, folder, size } } => {
            let out = out.unwrap_or_else(|| arch.default_out());
            tch::set_num_threads(std::thread::available_parallelism().map(|n| n.get() as i32).unwrap_or(1));
            let t = std::time::Instant::now();
            let acc = match &folder {
                Some(dir) => {
                    let fc = FolderConfig { size: Some((size, size)), channels: Some(1), ..Default::default() };
                    let (tt, _) = data::image_folder_train_test(dir, &fc, 0.3, 0)?;
                    println!("pretraining on {}", tt.source);
                    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
                        std::fs::create_dir_all(parent).map_err(|source| smalldata::Error::Io { path: parent.into(), source })?;
                    }
                    smalldata::finetune::pretrain(arch, &tt.train, &tt.test, steps, seed, &out)?
                }
                None => smalldata::finetune::pretrain_source(arch, data_dir.as_deref(), steps, seed, &out)?,
            };
            println!("pretrained {steps} steps in {:.0} s; source-test accuracy (classes 0–4) {acc:.4}; saved {}", t.elapsed().as_secs_f64(), out.display());
        }
        Command::Finetune {
            what: FinetuneCmd::Run { checkpoint, sizes, strategies, seeds, steps, batch_size, lr, image_size, test_limit, jobs, data_dir, folder, out, restart, quiet },
        } => {
            let defaults = smalldata::finetune::TransferStudyConfig::default();
            let cfg = smalldata::finetune::TransferStudyConfig {
                checkpoint,
                data_dir,
                folder,
                sizes,
                strategies: strategies.iter().map(|s| s.parse()).collect::<smalldata::Result<_>>()?,
                seeds,
                train: smalldata::finetune::TransferConfig { steps, batch_size, lr, image_size },
                test_limit,
                jobs: jobs.unwrap_or(defaults.jobs),
                out,
                progress: !quiet,
                restart,
            };
            let outcome = smalldata::finetune::run_transfer_study(&cfg)?;
            print!("\n{}", outcome.summary.to_table());
            println!("{} runs ({} trained now, {} resumed); report: {}", outcome.rows.len(), outcome.ran, outcome.resumed, outcome.report.display());
        }
        Command::Generate { what } => generate::run(what)?,
        Command::Demo { out, jobs } => {
            let defaults = smalldata::advise::AdviseConfig::default();
            let cfg = smalldata::advise::AdviseConfig { out, jobs: jobs.unwrap_or(defaults.jobs), ..defaults };
            println!("smalldata demo: advise on the default data (device {})", smalldata::device::describe(smalldata::device()?));
            advise(&cfg)?;
        }
        Command::Advise(args) => advise(&args.config()?)?,
    }
    Ok(())
}
