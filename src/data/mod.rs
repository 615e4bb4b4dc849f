//! Loading real data and cutting it into the small samples a study needs.
//!
//! | source | function | result |
//! |---|---|---|
//! | Fashion-MNIST / MNIST (IDX, raw or gz) | [`fashion_mnist`], [`load_mnist_dir`] | [`TrainTest`] of `[N,1,28,28]` |
//! | CIFAR-10 binary batches | [`cifar10`], [`read_cifar10_batch`] | `[N,3,32,32]` |
//! | image folder (one sub-folder per class) | [`image_folder`] | `[N,C,H,W]` at a chosen size |
//! | scikit-learn digits (embedded) | [`digits`] | `[1797,1,8,8]` |
//! | CSV with a header, diabetes, winequality | [`TabularData`] | `Array2<f64>` + `Array1<f64>` |
//!
//! Images are always `[N, C, H, W]`, read as f32 in `[0, 1]` ([`ImageDataset::images`]),
//! with `[N]` i64 labels ([`ImageDataset`]). The IDX, CIFAR-10 and folder readers hold
//! the pixels as bytes until then; digits, whose values are 0–16, as floats. Splits
//! ([`stratified_subsample`], [`stratified_split`], [`kfold`]) and batches
//! ([`Batches`]) take a seed.

mod batch;
mod cifar;
mod convert;
mod digits;
mod folder;
pub mod idx;
mod images;
mod mnist;
mod split;
mod table;
mod tabular;

pub use batch::{batch_indices, Batches};
pub use cifar::{cifar10, parse_cifar10, read_cifar10_batch, CIFAR10_CLASSES};
pub use convert::{array_to_tensor, images_to_linfa, pixels, tensor_to_array1, tensor_to_array2, tensor_to_arrayd};
pub use digits::{digits, parse_digits_csv};
pub use folder::{decode_picture, image_folder, image_folder_train_test, picture_limits, read_image_folder, FolderConfig, FolderReport, MAX_PICTURE_BYTES, MAX_PICTURE_SIDE};
pub use images::{classes_subset, to_u8_bytes, DatasetSummary, ImageDataset};
pub use mnist::{
    fashion_dir, fashion_mnist, fashion_mnist_embedded, fashion_search_path, load_mnist_dir, TrainTest, DATA_ENV, DEBIAN_FASHION_DIR,
    FASHION_CLASSES,
};
pub use split::{group_by_class, kfold, stratified_kfold, stratified_split, stratified_subsample, train_val_split};
pub use table::{project_one_hot, Column, Missing, Prepared, Table, MISSING_TOKENS};
pub use tabular::TabularData;

impl ImageDataset {
    /// `n_per_class` images of every class, chosen with `seed` (nested across `n`;
    /// see [`stratified_subsample`]).
    pub fn subsample_per_class(&self, n_per_class: usize, seed: u64) -> crate::Result<ImageDataset> {
        let idx = stratified_subsample(&self.labels_vec(), self.num_classes(), n_per_class, seed)?;
        self.select(&idx)
    }

    /// Stratified (train, validation) split.
    pub fn split_validation(&self, val_fraction: f64, seed: u64) -> crate::Result<(ImageDataset, ImageDataset)> {
        let (t, v) = stratified_split(&self.labels_vec(), self.num_classes(), val_fraction, seed)?;
        Ok((self.select(&t)?, self.select(&v)?))
    }
}

/// The variable naming the folder that holds the project's committed files (`data/`,
/// `tests/golden/`) when the binary runs away from the checkout it was built in.
pub const ASSETS_ENV: &str = "SMALLDATA_ASSETS";

/// A committed file of the project (`rel` to the crate root, e.g. the pretrained
/// checkpoints under `data/pretrained/`), found where the binary runs: under
/// `$SMALLDATA_ASSETS`, under the checkout the binary was built from, or under the
/// current directory — the first that holds it. When none does, the checkout's path,
/// so that the error a reader gives names the place the file was expected.
///
/// A binary copied to another machine (a GPU machine without a Rust toolchain) or
/// installed with `cargo install` no longer sits beside the checkout it was built in;
/// `env!("CARGO_MANIFEST_DIR")` alone would point into a folder that is not there.
pub fn asset_path(rel: &str) -> std::path::PathBuf {
    use std::path::PathBuf;
    let built_in = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel);
    let from_env = std::env::var_os(ASSETS_ENV).filter(|v| !v.is_empty()).map(|d| PathBuf::from(d).join(rel));
    let here = PathBuf::from(rel);
    from_env.into_iter().chain([built_in.clone(), here]).find(|p| p.exists()).unwrap_or(built_in)
}

#[cfg(test)]
mod asset_tests {
    use super::*;

    #[test]
    fn asset_path_prefers_the_named_folder_and_falls_back_to_the_checkout() {
        let checkout = asset_path("data/pretrained");
        assert!(checkout.is_dir(), "{}", checkout.display());
        assert_eq!(checkout, std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/pretrained"));
        // a file missing everywhere: the checkout's path, so errors name it
        let missing = asset_path("data/no-such-file.bin");
        assert!(missing.starts_with(env!("CARGO_MANIFEST_DIR")) && !missing.exists());
    }
}
