//! What a notebook or a script needs in one line: `use smalldata::prelude::*;`.

pub use crate::data::{
    cifar10, digits, fashion_mnist, fashion_mnist_embedded, image_folder, image_folder_train_test, kfold, read_image_folder, stratified_kfold,
    stratified_split, stratified_subsample, train_val_split, FolderConfig, ImageDataset, Missing, Table, TabularData, TrainTest,
};
pub use crate::experiment::{Metric, Scores};
pub use crate::device::device;
pub use crate::{rng, Error, Result};
pub use crate::{linfa, ndarray, plotters, tch};
pub use ndarray::{array, Array1, Array2, Axis};
pub use tch::{nn, Device, Kind, Tensor};
pub use crate::plot::{bar_chart, bar_chart_ci, confusion_heatmap, image_grid, image_grid_with_labels, image_grid_with_row_labels, line_chart, roc_chart, Figure, ImageGrid, Series};
