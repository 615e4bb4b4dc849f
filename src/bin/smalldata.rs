//! The `smalldata` command: a thin layer over the library.
use clap::{Parser, Subcommand, ValueEnum};
use smalldata::data::{self, FolderConfig, ImageDataset, TabularData};
use std::path::PathBuf;
use std::process::ExitCode;

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
        /// Image size for an image folder, e.g. 28 or 32.
        #[arg(long, default_value_t = 28)]
        size: u32,
        /// Channels for an image folder: 1 or 3.
        #[arg(long, default_value_t = 1)]
        channels: usize,
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
        /// Where to write the JSON report.
        #[arg(long, default_value = "report/bench-augment.json")]
        out: PathBuf,
        /// The Python with torchvision and albumentations.
        #[arg(long, default_value = ".venv/bin/python")]
        python: PathBuf,
    },
    /// The main job on the embedded default data.
    Demo {
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum BenchArg {
    /// crop, rotate and noise images/s against torchvision and albumentations
    Augment,
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
                    let cfg = FolderConfig { size: (size, size), channels };
                    vec![("folder".into(), data::image_folder(need("folder")?, &cfg)?)]
                }
                DatasetArg::Csv => {
                    print!("{}", TabularData::from_csv(need("csv")?, &target)?.summary("csv"));
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
        Command::Bench { what: BenchArg::Augment, out, python } => {
            smalldata::bench::augment(&python, &out)?;
        }
        Command::Demo { seed } => {
            // The study issue replaces this with the augmentation study.
            let tt = data::fashion_mnist_embedded()?;
            println!("smalldata demo on the embedded Fashion-MNIST subset (device {})", smalldata::device::describe(smalldata::device()?));
            print!("{}", tt.train.summary("train"));
            print!("{}", tt.test.summary("test"));
            for n in [10, 50] {
                let sub = tt.train.subsample_per_class(n, seed)?;
                println!("subsample: {} images, {} per class (seed {seed})", sub.len(), n);
            }
            print!("{}", TabularData::diabetes()?.summary("diabetes"));
        }
    }
    Ok(())
}
