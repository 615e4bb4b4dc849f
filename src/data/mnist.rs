//! MNIST-format datasets: Fashion-MNIST (Xiao, Rasul & Vollgraf, 2017) and MNIST.
//!
//! [`fashion_mnist`] looks for the four IDX files in, in order:
//! 1. the directory the caller names (an error if it is missing or incomplete);
//! 2. `$SMALLDATA_DATA` (and `$SMALLDATA_DATA/fashion-mnist`);
//! 3. `/usr/share/datasets/fashion-mnist` (Debian's `dataset-fashion-mnist`);
//! 4. the embedded subset compiled into the crate: 200 training and 100 test images
//!    per class, taken from the real files by `scripts/make_fashion_subset.py`.
//!
//! Each file may be gzip-compressed (`*.gz`) or raw.

use super::idx::{parse_idx, read_idx, IdxArray};
use super::images::ImageDataset;
use crate::{Error, Result};
use std::path::{Path, PathBuf};

/// Environment variable naming a directory searched for datasets.
pub const DATA_ENV: &str = "SMALLDATA_DATA";

/// Where Debian's `dataset-fashion-mnist` package installs the files.
pub const DEBIAN_FASHION_DIR: &str = "/usr/share/datasets/fashion-mnist";

/// The ten Fashion-MNIST classes, by label.
pub const FASHION_CLASSES: [&str; 10] =
    ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

/// Train and test halves of a dataset, with where they came from.
#[derive(Debug, Clone)]
pub struct TrainTest {
    pub train: ImageDataset,
    pub test: ImageDataset,
    /// The directory read, or `embedded subset`.
    pub source: String,
}

const EMBEDDED: [(&str, &[u8]); 4] = [
    ("train-images-idx3-ubyte.gz", include_bytes!("../../data/fashion-mnist-subset/train-images-idx3-ubyte.gz")),
    ("train-labels-idx1-ubyte.gz", include_bytes!("../../data/fashion-mnist-subset/train-labels-idx1-ubyte.gz")),
    ("t10k-images-idx3-ubyte.gz", include_bytes!("../../data/fashion-mnist-subset/t10k-images-idx3-ubyte.gz")),
    ("t10k-labels-idx1-ubyte.gz", include_bytes!("../../data/fashion-mnist-subset/t10k-labels-idx1-ubyte.gz")),
];

/// Load Fashion-MNIST from `dir` if given, else from the first place that holds it
/// (see the module docs). Never fails for lack of files: the embedded subset is last.
pub fn fashion_mnist(dir: Option<&Path>) -> Result<TrainTest> {
    let names: Vec<String> = FASHION_CLASSES.iter().map(|s| s.to_string()).collect();
    if let Some(dir) = dir {
        return load_mnist_dir(dir, names);
    }
    match fashion_dir() {
        Some(dir) => load_mnist_dir(&dir, names),
        None => fashion_mnist_embedded(),
    }
}

/// The first directory of [`fashion_search_path`] that holds Fashion-MNIST, if any.
pub fn fashion_dir() -> Option<PathBuf> {
    fashion_search_path().into_iter().find(|d| find_file(d, "train-images-idx3-ubyte").is_some())
}

/// Only the embedded subset (2,000 train + 1,000 test images), whatever is installed.
pub fn fashion_mnist_embedded() -> Result<TrainTest> {
    let names: Vec<String> = FASHION_CLASSES.iter().map(|s| s.to_string()).collect();
    let parse = |i: usize| parse_idx(EMBEDDED[i].1, Path::new(&format!("<embedded>/{}", EMBEDDED[i].0)));
    let origin = Path::new("<embedded fashion-mnist subset>");
    Ok(TrainTest {
        train: to_dataset(parse(0)?, parse(1)?, names.clone(), origin)?,
        test: to_dataset(parse(2)?, parse(3)?, names, origin)?,
        source: "embedded subset".into(),
    })
}

/// The directories searched for Fashion-MNIST, in order, before the embedded subset.
pub fn fashion_search_path() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Ok(d) = std::env::var(DATA_ENV) {
        if !d.is_empty() {
            dirs.push(PathBuf::from(&d).join("fashion-mnist"));
            dirs.push(PathBuf::from(d));
        }
    }
    dirs.push(PathBuf::from(DEBIAN_FASHION_DIR));
    dirs
}

/// Load an MNIST-layout directory (`train-images-idx3-ubyte[.gz]`, `train-labels-idx1-ubyte[.gz]`,
/// `t10k-images-idx3-ubyte[.gz]`, `t10k-labels-idx1-ubyte[.gz]`) with the given class names.
pub fn load_mnist_dir(dir: &Path, class_names: Vec<String>) -> Result<TrainTest> {
    if !dir.is_dir() {
        return Err(Error::NotFound { what: "MNIST-format directory".into(), searched: vec![dir.to_path_buf()] });
    }
    let read = |stem: &str| -> Result<(IdxArray, PathBuf)> {
        let path = find_file(dir, stem).ok_or_else(|| Error::NotFound {
            what: format!("{stem} (raw or .gz)"),
            searched: vec![dir.join(stem), dir.join(format!("{stem}.gz"))],
        })?;
        Ok((read_idx(&path)?, path))
    };
    let (ti, tip) = read("train-images-idx3-ubyte")?;
    let (tl, _) = read("train-labels-idx1-ubyte")?;
    let (vi, vip) = read("t10k-images-idx3-ubyte")?;
    let (vl, _) = read("t10k-labels-idx1-ubyte")?;
    Ok(TrainTest {
        train: to_dataset(ti, tl, class_names.clone(), &tip)?,
        test: to_dataset(vi, vl, class_names, &vip)?,
        source: dir.display().to_string(),
    })
}

fn find_file(dir: &Path, stem: &str) -> Option<PathBuf> {
    [dir.join(stem), dir.join(format!("{stem}.gz"))].into_iter().find(|p| p.is_file())
}

/// Pair an images IDX (`[N, H, W]`) with a labels IDX (`[N]`).
fn to_dataset(images: IdxArray, labels: IdxArray, class_names: Vec<String>, origin: &Path) -> Result<ImageDataset> {
    if images.dims.len() != 3 {
        return Err(Error::format(origin, format!("images must have 3 dimensions [N, H, W], found {:?}", images.dims)));
    }
    if labels.dims.len() != 1 {
        return Err(Error::format(origin, format!("labels must have 1 dimension [N], found {:?}", labels.dims)));
    }
    let (n, h, w) = (images.dims[0], images.dims[1], images.dims[2]);
    if labels.dims[0] != n {
        return Err(Error::format(origin, format!("image/label count mismatch: {n} images but {} labels", labels.dims[0])));
    }
    if let Some((row, &bad)) = labels.data.iter().enumerate().find(|(_, &l)| l as usize >= class_names.len()) {
        return Err(Error::format(origin, format!("label {bad} at index {row} is outside 0..{}", class_names.len())));
    }
    let labels: Vec<i64> = labels.data.iter().map(|&l| l as i64).collect();
    ImageDataset::from_u8(&images.data, [n, 1, h, w], &labels, class_names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_subset_is_stratified() {
        let tt = fashion_mnist_embedded().unwrap();
        assert_eq!(tt.train.len(), 2000);
        assert_eq!(tt.test.len(), 1000);
        assert_eq!(tt.train.class_counts(), vec![200; 10]);
        assert_eq!(tt.test.class_counts(), vec![100; 10]);
        assert_eq!(tt.train.image_shape(), [1, 28, 28]);
    }
}
