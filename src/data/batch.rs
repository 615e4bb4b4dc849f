//! Mini-batches in a seeded order.

use super::images::ImageDataset;
use crate::rng;
use rand::seq::SliceRandom;
use tch::Tensor;

/// Batches of indices of `0..n`: shuffled with `seed` when given, in order otherwise.
/// The last batch is shorter unless `drop_last`.
pub fn batch_indices(n: usize, batch_size: usize, seed: Option<u64>, drop_last: bool) -> Vec<Vec<usize>> {
    let batch_size = batch_size.max(1);
    let mut idx: Vec<usize> = (0..n).collect();
    if let Some(seed) = seed {
        idx.shuffle(&mut rng(seed));
    }
    idx.chunks(batch_size).filter(|c| !drop_last || c.len() == batch_size).map(|c| c.to_vec()).collect()
}

/// Iterator over `(images [B, C, H, W], labels [B])` of an [`ImageDataset`].
#[derive(Debug)]
pub struct Batches<'a> {
    data: &'a ImageDataset,
    order: std::vec::IntoIter<Vec<usize>>,
}

impl<'a> Batches<'a> {
    /// Batches of `data` in an order fixed by `seed` (`None`: dataset order).
    pub fn new(data: &'a ImageDataset, batch_size: usize, seed: Option<u64>, drop_last: bool) -> Self {
        Batches { data, order: batch_indices(data.len(), batch_size, seed, drop_last).into_iter() }
    }
}

impl Iterator for Batches<'_> {
    type Item = (Tensor, Tensor);

    fn next(&mut self) -> Option<Self::Item> {
        let batch = self.order.next()?;
        let idx = Tensor::from_slice(&batch.iter().map(|&i| i as i64).collect::<Vec<_>>()).to_device(self.data.labels.device());
        Some((self.data.batch_images(&idx), self.data.labels.index_select(0, &idx)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.order.size_hint()
    }
}

impl ExactSizeIterator for Batches<'_> {}

impl ImageDataset {
    /// Mini-batches in an order fixed by `seed` (see [`Batches`]).
    pub fn batches(&self, batch_size: usize, seed: Option<u64>) -> Batches<'_> {
        Batches::new(self, batch_size, seed, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn covers_all_once_and_is_seeded() {
        let b = batch_indices(10, 3, Some(1), false);
        assert_eq!(b.iter().map(Vec::len).collect::<Vec<_>>(), vec![3, 3, 3, 1]);
        let mut all: Vec<_> = b.concat();
        all.sort_unstable();
        assert_eq!(all, (0..10).collect::<Vec<_>>());
        assert_eq!(b, batch_indices(10, 3, Some(1), false));
        assert_eq!(batch_indices(10, 3, Some(1), true).len(), 3);
        assert_eq!(batch_indices(4, 2, None, false), vec![vec![0, 1], vec![2, 3]]);
    }
}
