//! The crate's two tasks: image classification and tabular regression. Each turns
//! a (size, seed) cell into the draw every arm of that cell shares.

use super::engine::Task;
use crate::data::{train_val_split, ImageDataset, Table};
use crate::{derive_seed, Error, Result};
use rand::seq::SliceRandom;
use std::ops::Range;
use std::sync::Arc;

/// Image classification: a training pool and a fixed test set. A draw is
/// `size` images of every class, chosen by the seed (nested across sizes; see
/// [`crate::data::stratified_subsample`]), and the whole test set.
#[derive(Debug)]
pub struct ImageTask {
    pub train: ImageDataset,
    pub test: ImageDataset,
}

/// What every arm of an image cell receives.
#[derive(Debug)]
pub struct ImageDraw {
    pub train: ImageDataset,
    pub test: ImageDataset,
}

impl ImageTask {
    /// A view sharing the tensors (for another worker thread).
    pub fn shallow_clone(&self) -> ImageTask {
        ImageTask { train: self.train.shallow_clone(), test: self.test.shallow_clone() }
    }
}

impl Task for ImageTask {
    type Draw = ImageDraw;
    fn draw(&self, size: usize, seed: u64) -> Result<ImageDraw> {
        Ok(ImageDraw { train: self.train.subsample_per_class(size, seed)?, test: self.test.shallow_clone() })
    }
}

/// Tabular regression: for each seed the table is split once into a pool and a test
/// part (`test_fraction` of the rows); the `size` training rows are the first `size`
/// of a seeded shuffle of the pool, so sizes are nested. Missing cells are imputed
/// and categories one-hot encoded from the training rows of the draw alone
/// ([`Table::prepare`]).
#[derive(Debug, Clone)]
pub struct TableTask {
    pub table: Arc<Table>,
    pub test_fraction: f64,
}

/// What every arm of a tabular cell receives.
#[derive(Debug, Clone)]
pub struct TableDraw {
    pub train: crate::data::TabularData,
    pub test: crate::data::TabularData,
    /// Column ranges of one-hot groups (synthetic rows must stay valid codes).
    pub one_hot: Vec<Range<usize>>,
    /// What preparing the draw imputed or dropped.
    pub notes: Vec<String>,
}

impl TableTask {
    /// Checks the test share (strictly between 0 and 1).
    pub fn new(table: Table, test_fraction: f64) -> Result<Self> {
        if !(test_fraction > 0.0 && test_fraction < 1.0) {
            return Err(Error::invalid("test fraction", test_fraction, "must lie strictly between 0 and 1"));
        }
        Ok(TableTask { table: Arc::new(table), test_fraction })
    }

    /// Rows available for training after the test share.
    pub fn pool_rows(&self) -> usize {
        let n = self.table.len();
        n - (n as f64 * self.test_fraction).round() as usize
    }
}

impl Task for TableTask {
    type Draw = TableDraw;
    fn draw(&self, size: usize, seed: u64) -> Result<TableDraw> {
        let (mut pool, test) = train_val_split(self.table.len(), self.test_fraction, seed)?;
        if size > pool.len() {
            return Err(Error::invalid("size", size, format!("{} has {} rows, {} outside the test share", self.table.source, self.table.len(), pool.len())));
        }
        pool.shuffle(&mut crate::rng(derive_seed(seed, "rows")));
        let p = self.table.prepare(&pool[..size], &test)?;
        Ok(TableDraw { train: p.train, test: p.test, one_hot: p.one_hot, notes: p.notes })
    }
}
