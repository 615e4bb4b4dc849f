//! Every reader of a file a user hands over, as a function of the file's bytes: the
//! entry points that `make fuzz` (the crate in `fuzz/`) and the regression tests
//! (`tests/readers.rs`) drive.
//!
//! A reader must never panic, hang or allocate what a header merely claims: on any
//! bytes it returns a value or an [`Error`](crate::Error) naming the file. The names
//! in [`READERS`] are the fuzz targets' and the corpus folders' (`fuzz/corpus/NAME`).

use crate::Result;
use std::path::Path;

/// One reader: its name and the function that reads `bytes` as that kind of file.
pub type Reader = fn(&[u8]) -> Result<()>;

/// The readers, by name.
pub const READERS: &[(&str, Reader)] = &[
    ("idx", idx),
    ("cifar", cifar),
    ("picture", picture),
    ("csv", csv),
    ("safetensors", safetensors),
    ("results", results),
    ("config", config),
];

/// The reader called `name`.
pub fn reader(name: &str) -> Option<Reader> {
    READERS.iter().find(|(n, _)| *n == name).map(|(_, r)| *r)
}

fn origin(name: &str) -> &Path {
    Path::new(name)
}

/// An IDX file (MNIST, Fashion-MNIST), raw or gzip-compressed.
pub fn idx(bytes: &[u8]) -> Result<()> {
    crate::data::idx::parse_idx(bytes, origin("fuzz.idx")).map(drop)
}

/// A CIFAR-10 binary batch.
pub fn cifar(bytes: &[u8]) -> Result<()> {
    crate::data::parse_cifar10(bytes, origin("fuzz.bin")).map(drop)
}

/// A picture of an image folder (PNG, JPEG, BMP, GIF, TIFF, WebP, PNM), decoded and
/// brought to 32×32 RGB as the folder reader does.
pub fn picture(bytes: &[u8]) -> Result<()> {
    crate::data::decode_picture(bytes, origin("fuzz.png"), (32, 32), 3).map(drop)
}

/// A CSV table with a `target` column, missing cells imputed.
pub fn csv(bytes: &[u8]) -> Result<()> {
    crate::data::Table::from_csv_reader(bytes, origin("fuzz.csv"), "target", crate::data::Missing::Impute).map(drop)
}

/// A safetensors file: checkpoints, pretrained weights, learned embeddings, adapters.
pub fn safetensors(bytes: &[u8]) -> Result<()> {
    crate::io::parse_safetensors(bytes, origin("fuzz.safetensors")).map(drop)
}

/// An experiment's `results.jsonl`.
pub fn results(bytes: &[u8]) -> Result<()> {
    crate::experiment::parse_rows::<crate::experiment::RunRow>(origin("results.jsonl"), bytes).map(drop)
}

/// The `config.json` of each pretrained component: the Stable Diffusion UNet, VAE,
/// CLIP text encoder and scheduler, a Hugging Face ViT and a peft LoRA adapter. The
/// same bytes go to every parser (each with its own checks).
pub fn config(bytes: &[u8]) -> Result<()> {
    use crate::generate::stable_diffusion::{config::parse_config, ClipTextConfig, SchedulerConfig, UNetConfig, VaeConfig};
    let path = origin("config.json");
    let outcomes = [
        parse_config::<UNetConfig>(bytes, path).map(drop),
        parse_config::<VaeConfig>(bytes, path).map(drop),
        parse_config::<ClipTextConfig>(bytes, path).map(drop),
        parse_config::<SchedulerConfig>(bytes, path).map(drop),
        serde_json::from_slice::<crate::finetune::VitConfig>(bytes).map_err(crate::Error::from).and_then(|c| c.check()),
        serde_json::from_slice::<crate::finetune::PeftConfig>(bytes).map_err(crate::Error::from).and_then(|c| c.check()),
    ];
    // Ok when some parser takes the bytes, else the first parser's error
    if outcomes.iter().any(Result::is_ok) {
        return Ok(());
    }
    outcomes.into_iter().next().unwrap_or(Ok(()))
}
