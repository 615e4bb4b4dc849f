//! scikit-learn's `digits`: 1,797 handwritten digits as 8×8 images with 17 grey
//! levels (0–16), from the UCI "Optical Recognition of Handwritten Digits" data
//! (Alpaydin & Kaynak, 1998; CC BY 4.0).
//!
//! The CSV (`data/digits/digits.csv.gz`, copied byte for byte from the scikit-learn
//! 1.9.1 wheel by `scripts/extract_sklearn_data.py`) is compiled into the crate: each row
//! has 64 pixel values then the label.

use super::images::ImageDataset;
use crate::{Error, Result};
use std::io::Read;
use std::path::Path;

const DIGITS_GZ: &[u8] = include_bytes!("../../data/digits/digits.csv.gz");

/// The digits as `[1797, 1, 8, 8]` images in `[0, 1]` (grey level / 16), labels 0–9.
pub fn digits() -> Result<ImageDataset> {
    let origin = Path::new("<embedded>/digits.csv.gz");
    let mut text = String::new();
    flate2::read::GzDecoder::new(DIGITS_GZ)
        .read_to_string(&mut text)
        .map_err(|e| Error::format(origin, e.to_string()))?;
    parse_digits_csv(&text, origin)
}

/// Parse rows of 64 grey levels (0–16) and a label (0–9).
pub fn parse_digits_csv(text: &str, origin: &Path) -> Result<ImageDataset> {
    let mut pixels = Vec::new();
    let mut labels = Vec::new();
    for (row, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let values: Vec<&str> = line.split(',').collect();
        if values.len() != 65 {
            return Err(Error::Csv {
                path: origin.into(),
                row: row + 1,
                column: String::new(),
                reason: format!("expected 65 values (64 pixels + label), found {}", values.len()),
            });
        }
        for (col, v) in values.iter().enumerate() {
            let x: f32 = v.trim().parse().map_err(|_| Error::Csv {
                path: origin.into(),
                row: row + 1,
                column: col.to_string(),
                reason: format!("{v:?} is not a number"),
            })?;
            if col < 64 {
                pixels.push(x / 16.0);
            } else {
                labels.push(x as i64);
            }
        }
    }
    let n = labels.len() as i64;
    let images = tch::Tensor::from_slice(&pixels).view([n, 1, 8, 8]);
    let names = (0..10).map(|d| d.to_string()).collect();
    ImageDataset::new(images, tch::Tensor::from_slice(&labels), names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_have_sklearn_counts() {
        let d = digits().unwrap();
        assert_eq!(d.len(), 1797);
        // sklearn.datasets.load_digits(): np.bincount(y)
        assert_eq!(d.class_counts(), vec![178, 182, 177, 183, 181, 182, 181, 179, 174, 180]);
        assert_eq!(d.image_shape(), [1, 8, 8]);
    }
}
