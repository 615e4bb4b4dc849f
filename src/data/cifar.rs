//! CIFAR-10 in its binary version (Krizhevsky, "Learning Multiple Layers of Features
//! from Tiny Images", 2009).
//!
//! Each file (`data_batch_1.bin` … `data_batch_5.bin`, `test_batch.bin`) is a run of
//! 3,073-byte records: one label byte (0–9), then 1,024 red, 1,024 green and 1,024
//! blue bytes of a 32×32 image, rows first — already the CHW layout tensors use.

use super::images::ImageDataset;
use super::mnist::TrainTest;
use crate::error::IoContext;
use crate::{Error, Result};
use std::path::Path;

/// The ten CIFAR-10 classes, by label.
pub const CIFAR10_CLASSES: [&str; 10] =
    ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

const RECORD: usize = 1 + 3 * 32 * 32;

/// Read one CIFAR-10 binary batch file into `[N, 3, 32, 32]` images.
pub fn read_cifar10_batch(path: impl AsRef<Path>) -> Result<ImageDataset> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).at(path)?;
    parse_cifar10(&bytes, path)
}

/// Parse the bytes of a CIFAR-10 binary batch; `origin` names the source in errors.
pub fn parse_cifar10(bytes: &[u8], origin: &Path) -> Result<ImageDataset> {
    if bytes.is_empty() || bytes.len() % RECORD != 0 {
        return Err(Error::format(
            origin,
            format!(
                "{} bytes is not a whole number of {RECORD}-byte CIFAR-10 records ({} full records and {} bytes left over)",
                bytes.len(),
                bytes.len() / RECORD,
                bytes.len() % RECORD
            ),
        ));
    }
    let n = bytes.len() / RECORD;
    let mut labels = Vec::with_capacity(n);
    let mut pixels = Vec::with_capacity(n * (RECORD - 1));
    for (i, rec) in bytes.chunks_exact(RECORD).enumerate() {
        if rec[0] >= 10 {
            return Err(Error::format(origin, format!("record {i}: label byte {} is not a CIFAR-10 class (0–9)", rec[0])));
        }
        labels.push(rec[0] as i64);
        pixels.extend_from_slice(&rec[1..]);
    }
    ImageDataset::from_u8(&pixels, [n, 3, 32, 32], &labels, CIFAR10_CLASSES.iter().map(|s| s.to_string()).collect())
}

/// Load the CIFAR-10 binary directory (`cifar-10-batches-bin`): the five training
/// batches concatenated, and the test batch.
pub fn cifar10(dir: impl AsRef<Path>) -> Result<TrainTest> {
    let dir = dir.as_ref();
    if !dir.is_dir() {
        return Err(Error::NotFound { what: "CIFAR-10 binary directory".into(), searched: vec![dir.to_path_buf()] });
    }
    let mut parts = Vec::new();
    for i in 1..=5 {
        parts.push(read_cifar10_batch(dir.join(format!("data_batch_{i}.bin")))?);
    }
    let images: Vec<_> = parts.iter().map(|p| p.stored_images().shallow_clone()).collect();
    let labels: Vec<_> = parts.iter().map(|p| p.labels.shallow_clone()).collect();
    let train = ImageDataset::new(
        tch::Tensor::f_cat(&images, 0)?,
        tch::Tensor::f_cat(&labels, 0)?,
        CIFAR10_CLASSES.iter().map(|s| s.to_string()).collect(),
    )?;
    let test = read_cifar10_batch(dir.join("test_batch.bin"))?;
    Ok(TrainTest { train, test, source: dir.display().to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_records_in_chw_order() {
        let mut rec = vec![3u8];
        rec.extend((0..3 * 1024).map(|i| (i / 1024) as u8 * 100)); // R=0, G=100, B=200
        let ds = parse_cifar10(&rec, Path::new("b.bin")).unwrap();
        assert_eq!(ds.labels_vec(), vec![3]);
        assert_eq!(ds.image_shape(), [3, 32, 32]);
        let g = ds.images().double_value(&[0, 1, 5, 5]);
        assert!((g - 100.0 / 255.0).abs() < 1e-6);
    }

    #[test]
    fn partial_record_is_an_error() {
        let e = parse_cifar10(&vec![0u8; RECORD + 10], Path::new("b.bin")).unwrap_err().to_string();
        assert!(e.contains("b.bin") && e.contains("10 bytes left over"), "{e}");
    }

    #[test]
    fn bad_label_is_named() {
        let mut rec = vec![0u8; RECORD];
        rec[0] = 12;
        assert!(parse_cifar10(&rec, Path::new("b")).unwrap_err().to_string().contains("12"));
    }
}
