//! Agreement between two labelings of the same samples, by counting pairs.
//!
//! * Fowlkes–Mallows index (Fowlkes & Mallows 1983): `TP / sqrt((TP+FP)(TP+FN))`
//!   over pairs of samples, as scikit-learn's `fowlkes_mallows_score` (0 when no pair
//!   is together in both labelings);
//! * adjusted Rand index (Hubert & Arabie 1985), as `adjusted_rand_score`.
//!
//! Both work from the contingency table, so they cost O(n + a·b), not O(n²); pair
//! counts are exact integers (i128) until the final division.

use super::check::{non_empty, same_len};
use crate::{Error, Result};
use ndarray::Array2;
use std::collections::HashMap;

/// Contingency table `[classes of a, classes of b]`: `t[i, j]` = number of samples
/// with the i-th distinct value of `a` (in sorted order) and the j-th of `b`.
pub fn contingency(a: &[i64], b: &[i64]) -> Result<Array2<u64>> {
    same_len("contingency table", a.len(), b.len())?;
    non_empty("contingency table", a.len())?;
    let (ia, ka) = dense_codes(a);
    let (ib, kb) = dense_codes(b);
    let mut t = Array2::zeros((ka, kb));
    for (&x, &y) in ia.iter().zip(&ib) {
        t[[x, y]] += 1;
    }
    Ok(t)
}

/// Replace each label by the rank of its value among the distinct values: codes in
/// `0..k` and `k`. Labels in a range no wider than the input (the usual case: class
/// or cluster indices) go through a lookup table; others through a sort.
fn dense_codes(v: &[i64]) -> (Vec<usize>, usize) {
    let (lo, hi) = v.iter().fold((i64::MAX, i64::MIN), |(lo, hi), &x| (lo.min(x), hi.max(x)));
    let span = (hi as i128 - lo as i128 + 1) as usize;
    if span <= v.len().max(1 << 16) {
        let mut code = vec![usize::MAX; span];
        for &x in v {
            code[(x - lo) as usize] = 0;
        }
        let mut k = 0;
        for c in code.iter_mut().filter(|c| **c == 0) {
            *c = k;
            k += 1;
        }
        (v.iter().map(|&x| code[(x - lo) as usize]).collect(), k)
    } else {
        let mut u = v.to_vec();
        u.sort_unstable();
        u.dedup();
        let map: HashMap<i64, usize> = u.iter().enumerate().map(|(i, &x)| (x, i)).collect();
        (v.iter().map(|x| map[x]).collect(), u.len())
    }
}

/// Pairs together in both, sum over rows of pairs, sum over columns of pairs (×2, i.e. ordered pairs).
fn pair_counts(t: &Array2<u64>) -> (i128, i128, i128, i128) {
    let n: i128 = t.iter().map(|&v| v as i128).sum();
    let tk: i128 = t.iter().map(|&v| (v as i128) * (v as i128)).sum::<i128>() - n;
    let rows: i128 = t.rows().into_iter().map(|r| r.iter().map(|&v| v as i128).sum::<i128>().pow(2)).sum::<i128>() - n;
    let cols: i128 = t.columns().into_iter().map(|c| c.iter().map(|&v| v as i128).sum::<i128>().pow(2)).sum::<i128>() - n;
    (n, tk, rows, cols)
}

/// Fowlkes–Mallows index of two labelings (any integer labels; only equality matters).
pub fn fowlkes_mallows(labels_true: &[i64], labels_pred: &[i64]) -> Result<f64> {
    let t = contingency(labels_true, labels_pred).map_err(|e| rename(e, "Fowlkes–Mallows index"))?;
    let (_, tk, row_pairs, col_pairs) = pair_counts(&t);
    // the same operations in the same order as scikit-learn, for bit-level agreement
    Ok(if tk == 0 { 0.0 } else { (tk as f64 / col_pairs as f64).sqrt() * (tk as f64 / row_pairs as f64).sqrt() })
}

/// Adjusted Rand index: 1 for identical partitions, about 0 for independent ones.
pub fn adjusted_rand(labels_true: &[i64], labels_pred: &[i64]) -> Result<f64> {
    let t = contingency(labels_true, labels_pred).map_err(|e| rename(e, "adjusted Rand index"))?;
    let (n, tk, rows, cols) = pair_counts(&t);
    // The pair confusion matrix over ordered pairs (scikit-learn's
    // `pair_confusion_matrix`): together in both, together only in b (`fp`), together
    // only in a (`fn`), apart in both.
    let tp = tk;
    let fp = cols - tk;
    let fn_ = rows - tk;
    let tn = n * n - n - tp - fp - fn_;
    if fn_ == 0 && fp == 0 {
        return Ok(1.0);
    }
    // exact integers, one rounding at the end
    let num = 2 * (tp * tn - fn_ * fp);
    let den = (tp + fn_) * (fn_ + tn) + (tp + fp) * (fp + tn);
    Ok(num as f64 / den as f64)
}

fn rename(e: Error, what: &str) -> Error {
    match e {
        Error::Shape { expected, got, .. } => Error::Shape { context: format!("{what}: lengths of the two labelings"), expected, got },
        Error::InvalidParameter { value, reason, .. } => Error::InvalidParameter { name: what.into(), value, reason },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permutation_invariant_and_edge_cases() {
        assert_eq!(fowlkes_mallows(&[0, 0, 1, 1], &[5, 5, 3, 3]).unwrap(), 1.0);
        assert_eq!(adjusted_rand(&[0, 0, 1, 1], &[5, 5, 3, 3]).unwrap(), 1.0);
        assert_eq!(fowlkes_mallows(&[0, 1, 2], &[0, 1, 2]).unwrap(), 0.0); // no pair anywhere
        assert_eq!(adjusted_rand(&[0, 1, 2], &[0, 1, 2]).unwrap(), 1.0);
        // hand: a = {0,1},{2,3}; b = {0,1,2},{3}: pairs together in both = 1 (0,1)
        // pairs in a = 2, in b = 3 → FMI = 1 / sqrt(2·3)
        let f = fowlkes_mallows(&[0, 0, 1, 1], &[0, 0, 0, 1]).unwrap();
        assert!((f - 1.0 / 6f64.sqrt()).abs() < 1e-15);
        assert!(fowlkes_mallows(&[], &[]).is_err());
        // labels far apart take the sorting path and give the same answer
        let far = [i64::MIN, i64::MIN, 7, 7];
        assert_eq!(fowlkes_mallows(&far, &[0, 0, 0, 1]).unwrap(), fowlkes_mallows(&[0, 0, 1, 1], &[0, 0, 0, 1]).unwrap());
        assert!(fowlkes_mallows(&[0], &[0, 1]).unwrap_err().to_string().contains("Fowlkes"));
    }
}
