//! Seeded subsampling and splitting: the `n_per_class` subsample a small-data study
//! starts from, train/validation splits and k-fold cross-validation.
//!
//! Every function takes a seed and is deterministic across runs and platforms (it
//! uses [`crate::rng`], a Xoshiro256++ generator, whose stream is fixed by its spec).
//!
//! The per-class subsample is *nested*: for one seed, the 10-per-class subsample is
//! contained in the 50-per-class one, because each class is shuffled once and the
//! first `n` are taken. A study that grows `n` therefore adds data rather than
//! swapping it, which keeps curves over `n` smooth and comparisons paired.

use crate::{rng, Error, Result};
use rand::seq::SliceRandom;

/// Indices of `n_per_class` examples of every class in `0..num_classes`, sorted.
///
/// Errors: [`Error::NotEnoughSamples`] when a class holds fewer than `n_per_class`
/// examples (including an empty class); an invalid parameter for `n_per_class == 0`
/// or a label outside `0..num_classes`.
pub fn stratified_subsample(labels: &[i64], num_classes: usize, n_per_class: usize, seed: u64) -> Result<Vec<usize>> {
    if n_per_class == 0 {
        return Err(Error::invalid("n_per_class", 0, "must be at least 1"));
    }
    let by_class = group_by_class(labels, num_classes)?;
    let mut rng = rng(seed);
    let mut out = Vec::with_capacity(n_per_class * num_classes);
    for (class, mut members) in by_class.into_iter().enumerate() {
        if members.len() < n_per_class {
            return Err(Error::NotEnoughSamples { class: class as i64, asked: n_per_class, available: members.len() });
        }
        members.shuffle(&mut rng);
        out.extend_from_slice(&members[..n_per_class]);
    }
    out.sort_unstable();
    Ok(out)
}

/// Split `labels` into (train, validation) index sets, keeping class proportions:
/// each class sends `round(fraction · count)` examples to validation, at least one
/// when it has two or more. Both returned lists are sorted.
pub fn stratified_split(labels: &[i64], num_classes: usize, val_fraction: f64, seed: u64) -> Result<(Vec<usize>, Vec<usize>)> {
    check_fraction(val_fraction)?;
    let by_class = group_by_class(labels, num_classes)?;
    let mut rng = rng(seed);
    let (mut train, mut val) = (Vec::new(), Vec::new());
    for mut members in by_class {
        members.shuffle(&mut rng);
        let mut k = (val_fraction * members.len() as f64).round() as usize;
        if k == 0 && members.len() >= 2 {
            k = 1;
        }
        k = k.min(members.len().saturating_sub(1));
        val.extend_from_slice(&members[..k]);
        train.extend_from_slice(&members[k..]);
    }
    train.sort_unstable();
    val.sort_unstable();
    Ok((train, val))
}

/// Split `0..n` at random into (train, validation) with `round(fraction · n)`
/// validation rows (sorted lists). For regression, where there are no classes.
pub fn train_val_split(n: usize, val_fraction: f64, seed: u64) -> Result<(Vec<usize>, Vec<usize>)> {
    check_fraction(val_fraction)?;
    let mut idx: Vec<usize> = (0..n).collect();
    idx.shuffle(&mut rng(seed));
    let k = (val_fraction * n as f64).round() as usize;
    let (mut val, mut train) = (idx[..k].to_vec(), idx[k..].to_vec());
    train.sort_unstable();
    val.sort_unstable();
    Ok((train, val))
}

/// `k` folds of `0..n` after a seeded shuffle: `(train, validation)` per fold, each
/// index in exactly one validation set; fold sizes differ by at most one.
pub fn kfold(n: usize, k: usize, seed: u64) -> Result<Vec<(Vec<usize>, Vec<usize>)>> {
    if k < 2 || k > n {
        return Err(Error::invalid("k", k, format!("k-fold needs 2 ≤ k ≤ n = {n}")));
    }
    let mut idx: Vec<usize> = (0..n).collect();
    idx.shuffle(&mut rng(seed));
    let folds: Vec<Vec<usize>> = (0..k).map(|f| idx.iter().skip(f).step_by(k).copied().collect()).collect();
    Ok(folds_to_splits(folds))
}

/// Stratified k-fold: each class is shuffled and dealt round-robin to the folds, so
/// every fold holds about `1/k` of each class.
pub fn stratified_kfold(labels: &[i64], num_classes: usize, k: usize, seed: u64) -> Result<Vec<(Vec<usize>, Vec<usize>)>> {
    if k < 2 || k > labels.len() {
        return Err(Error::invalid("k", k, format!("k-fold needs 2 ≤ k ≤ n = {}", labels.len())));
    }
    let by_class = group_by_class(labels, num_classes)?;
    let mut rng = rng(seed);
    let mut folds = vec![Vec::new(); k];
    let mut next = 0;
    for mut members in by_class {
        members.shuffle(&mut rng);
        for i in members {
            folds[next % k].push(i);
            next += 1;
        }
    }
    Ok(folds_to_splits(folds))
}

fn folds_to_splits(folds: Vec<Vec<usize>>) -> Vec<(Vec<usize>, Vec<usize>)> {
    (0..folds.len())
        .map(|f| {
            let mut val = folds[f].clone();
            let mut train: Vec<usize> = folds.iter().enumerate().filter(|(g, _)| *g != f).flat_map(|(_, v)| v.iter().copied()).collect();
            val.sort_unstable();
            train.sort_unstable();
            (train, val)
        })
        .collect()
}

fn check_fraction(f: f64) -> Result<()> {
    if !(0.0..1.0).contains(&f) {
        return Err(Error::invalid("val_fraction", f, "must lie in [0, 1)"));
    }
    Ok(())
}

/// Indices of each class, in order; an error for a label outside `0..num_classes`.
pub fn group_by_class(labels: &[i64], num_classes: usize) -> Result<Vec<Vec<usize>>> {
    let mut by_class = vec![Vec::new(); num_classes];
    for (i, &l) in labels.iter().enumerate() {
        if l < 0 || l as usize >= num_classes {
            return Err(Error::invalid("label", l, format!("at index {i}: labels must lie in 0..{num_classes}")));
        }
        by_class[l as usize].push(i);
    }
    Ok(by_class)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels() -> Vec<i64> {
        (0..100).map(|i| (i % 4) as i64).collect()
    }

    #[test]
    fn subsample_counts_nesting_and_determinism() {
        let l = labels();
        let a = stratified_subsample(&l, 4, 5, 7).unwrap();
        assert_eq!(a.len(), 20);
        for c in 0..4 {
            assert_eq!(a.iter().filter(|&&i| l[i] == c).count(), 5);
        }
        assert_eq!(a, stratified_subsample(&l, 4, 5, 7).unwrap());
        assert_ne!(a, stratified_subsample(&l, 4, 5, 8).unwrap());
        let b = stratified_subsample(&l, 4, 10, 7).unwrap();
        assert!(a.iter().all(|i| b.contains(i)), "10-per-class must contain 5-per-class");
    }

    #[test]
    fn too_many_and_empty_class() {
        let l = labels();
        match stratified_subsample(&l, 4, 26, 0).unwrap_err() {
            Error::NotEnoughSamples { class: 0, asked: 26, available: 25 } => {}
            e => panic!("{e}"),
        }
        match stratified_subsample(&l, 5, 1, 0).unwrap_err() {
            Error::NotEnoughSamples { class: 4, available: 0, .. } => {}
            e => panic!("{e}"),
        }
    }

    #[test]
    fn splits_partition() {
        let l = labels();
        let (t, v) = stratified_split(&l, 4, 0.2, 1).unwrap();
        assert_eq!((t.len(), v.len()), (80, 20));
        let mut all: Vec<_> = t.iter().chain(&v).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..100).collect::<Vec<_>>());
        let (t, v) = train_val_split(10, 0.3, 1).unwrap();
        assert_eq!((t.len(), v.len()), (7, 3));
        assert!(train_val_split(10, 1.0, 1).is_err());
    }

    #[test]
    fn kfold_covers_each_index_once() {
        for folds in [kfold(23, 5, 3).unwrap(), stratified_kfold(&labels()[..23], 4, 5, 3).unwrap()] {
            let mut seen = vec![0; 23];
            for (train, val) in &folds {
                assert_eq!(train.len() + val.len(), 23);
                for &i in val {
                    seen[i] += 1;
                }
            }
            assert!(seen.iter().all(|&s| s == 1));
        }
        assert!(kfold(3, 5, 0).is_err());
    }
}
