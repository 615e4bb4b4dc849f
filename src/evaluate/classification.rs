//! Metrics on predicted labels and predicted probabilities, as scikit-learn defines
//! them (`accuracy_score`, `balanced_accuracy_score`, `precision_recall_fscore_support`
//! with `zero_division=0`, `confusion_matrix`, `log_loss`).
//!
//! Labels are class indices (`i64`). Where scikit-learn takes the classes to be the
//! union of those in `y_true` and `y_pred`, so do we.

use super::check::{labels_below, non_empty, same_len};
use crate::{Error, Result};
use ndarray::{Array2, ArrayView2};

fn check_pair(what: &str, y_true: &[i64], y_pred: &[i64]) -> Result<()> {
    same_len(what, y_true.len(), y_pred.len())?;
    non_empty(what, y_true.len())?;
    if let Some((i, l)) = y_true.iter().chain(y_pred).enumerate().find(|(_, &l)| l < 0) {
        let (side, i) = if i < y_true.len() { ("y_true", i) } else { ("y_pred", i - y_true.len()) };
        return Err(Error::invalid(format!("{what}: {side}"), l, format!("at index {i}: labels are class indices ≥ 0")));
    }
    Ok(())
}

/// Fraction of predictions equal to the truth.
pub fn accuracy(y_true: &[i64], y_pred: &[i64]) -> Result<f64> {
    check_pair("accuracy", y_true, y_pred)?;
    let hits = y_true.iter().zip(y_pred).filter(|(a, b)| a == b).count();
    Ok(hits as f64 / y_true.len() as f64)
}

/// `[k, k]` counts, rows = true class, columns = predicted class, for classes `0..k`.
pub fn confusion_matrix(y_true: &[i64], y_pred: &[i64], num_classes: usize) -> Result<Array2<u64>> {
    check_pair("confusion matrix", y_true, y_pred)?;
    labels_below("confusion matrix: y_true", y_true, num_classes)?;
    labels_below("confusion matrix: y_pred", y_pred, num_classes)?;
    let mut m = Array2::zeros((num_classes, num_classes));
    for (&t, &p) in y_true.iter().zip(y_pred) {
        m[[t as usize, p as usize]] += 1;
    }
    Ok(m)
}

/// Per-class true positives, predicted counts and true counts over `0..=max label`.
fn counts(y_true: &[i64], y_pred: &[i64]) -> (Vec<u64>, Vec<u64>, Vec<u64>) {
    let k = y_true.iter().chain(y_pred).copied().max().unwrap_or(0) as usize + 1;
    let (mut tp, mut pred, mut truth) = (vec![0; k], vec![0; k], vec![0; k]);
    for (&t, &p) in y_true.iter().zip(y_pred) {
        truth[t as usize] += 1;
        pred[p as usize] += 1;
        if t == p {
            tp[t as usize] += 1;
        }
    }
    (tp, pred, truth)
}

/// Mean recall over the classes present in `y_true`.
pub fn balanced_accuracy(y_true: &[i64], y_pred: &[i64]) -> Result<f64> {
    check_pair("balanced accuracy", y_true, y_pred)?;
    let (tp, _, truth) = counts(y_true, y_pred);
    let recalls: Vec<f64> = tp.iter().zip(&truth).filter(|(_, &t)| t > 0).map(|(&h, &t)| h as f64 / t as f64).collect();
    Ok(recalls.iter().sum::<f64>() / recalls.len() as f64)
}

/// How per-class scores are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Average {
    /// Unweighted mean over the classes in `y_true ∪ y_pred`.
    Macro,
    /// Mean weighted by each class's number of true samples.
    Weighted,
}

/// Precision, recall and F1 averaged over classes.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct PrecisionRecallF1 {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

/// Precision, recall and F1, with 0 for a class whose ratio has a zero denominator
/// (scikit-learn's `zero_division=0`).
pub fn precision_recall_f1(y_true: &[i64], y_pred: &[i64], average: Average) -> Result<PrecisionRecallF1> {
    check_pair("precision/recall/F1", y_true, y_pred)?;
    let (tp, pred, truth) = counts(y_true, y_pred);
    let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let (mut p, mut r, mut f, mut w) = (0.0, 0.0, 0.0, 0.0);
    for c in 0..tp.len() {
        if pred[c] == 0 && truth[c] == 0 {
            continue; // not a label of this problem
        }
        let weight = match average {
            Average::Macro => 1.0,
            Average::Weighted => truth[c] as f64,
        };
        p += weight * ratio(tp[c], pred[c]);
        r += weight * ratio(tp[c], truth[c]);
        f += weight * ratio(2 * tp[c], pred[c] + truth[c]);
        w += weight;
    }
    Ok(PrecisionRecallF1 { precision: p / w, recall: r / w, f1: f / w })
}

/// Mean negative log-likelihood of the true class, probabilities clipped to
/// `[ε, 1 − ε]` (ε = f64 machine epsilon), as scikit-learn's `log_loss`.
/// `proba` is `[n, k]` with rows summing to 1; labels lie in `0..k`.
pub fn log_loss(y_true: &[i64], proba: ArrayView2<f64>) -> Result<f64> {
    let (n, k) = proba.dim();
    same_len("log loss: labels vs probability rows", y_true.len(), n)?;
    non_empty("log loss", n)?;
    labels_below("log loss label", y_true, k)?;
    let eps = f64::EPSILON;
    let mut total = 0.0;
    for (i, row) in proba.rows().into_iter().enumerate() {
        if let Some((c, v)) = row.iter().enumerate().find(|(_, v)| !v.is_finite() || **v < 0.0) {
            return Err(Error::invalid("probability", v, format!("row {i}, class {c}: probabilities must be finite and ≥ 0")));
        }
        let sum = row.sum();
        if (sum - 1.0).abs() > 1e-8 + 1e-5 {
            return Err(Error::invalid("probability row sum", sum, format!("row {i}: probabilities must sum to 1")));
        }
        total -= row[y_true[i] as usize].clamp(eps, 1.0 - eps).ln();
    }
    Ok(total / n as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_hand_cases() {
        let t = [0, 0, 1, 1, 2];
        let p = [0, 1, 1, 1, 0];
        assert_eq!(accuracy(&t, &p).unwrap(), 0.6);
        // recalls: 1/2, 2/2, 0/1
        assert!((balanced_accuracy(&t, &p).unwrap() - 0.5).abs() < 1e-15);
        let m = confusion_matrix(&t, &p, 3).unwrap();
        assert_eq!(m, ndarray::array![[1, 1, 0], [0, 2, 0], [1, 0, 0]]);
        let prf = precision_recall_f1(&t, &p, Average::Macro).unwrap();
        // precision: 1/2, 2/3, 0 ; recall 1/2, 1, 0
        assert!((prf.precision - (0.5 + 2.0 / 3.0) / 3.0).abs() < 1e-15);
        assert!((prf.recall - 0.5).abs() < 1e-15);
        assert!(accuracy(&[0], &[0, 1]).is_err());
        assert!(accuracy(&[], &[]).is_err());
        assert!(confusion_matrix(&[0, 3], &[0, 0], 3).unwrap_err().to_string().contains('3'));
    }

    #[test]
    fn log_loss_checks_rows() {
        let p = ndarray::array![[0.9, 0.1], [0.2, 0.8]];
        let want = -(0.9f64.ln() + 0.8f64.ln()) / 2.0;
        assert!((log_loss(&[0, 1], p.view()).unwrap() - want).abs() < 1e-15);
        let bad = ndarray::array![[0.9, 0.3]];
        assert!(log_loss(&[0], bad.view()).unwrap_err().to_string().contains("row 0"));
    }
}
