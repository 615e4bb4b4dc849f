//! ROC curves and the area under them (Hanley & McNeil 1982; multi-class one-vs-one
//! after Hand & Till 2001), with scikit-learn's conventions:
//!
//! * tied scores form one threshold (one point on the curve);
//! * [`roc_curve`] drops collinear intermediate points (`drop_intermediate=True`) and
//!   starts at `(0, 0)` with threshold `+inf`;
//! * AUC is the trapezoidal area under the curve, which equals the Mann–Whitney
//!   probability that a positive outranks a negative, ties counting one half.
//!
//! Scores are sorted once (a radix sort on the IEEE-754 bits for large inputs), and
//! the area is accumulated in integer counts, divided once at the end.

use super::check::{finite, labels_below, same_len};
use crate::{Error, Result};
use ndarray::ArrayView2;

/// A ROC curve: `fpr[i]`, `tpr[i]` are reached by predicting positive when
/// `score >= thresholds[i]`; `thresholds[0]` is `+inf` (nothing predicted positive).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RocCurve {
    pub fpr: Vec<f64>,
    pub tpr: Vec<f64>,
    pub thresholds: Vec<f64>,
}

/// Counts at each distinct threshold, scores descending: cumulative false and true
/// positives and the threshold itself.
struct Steps {
    fps: Vec<u64>,
    tps: Vec<u64>,
    thresholds: Vec<f64>,
}

impl Steps {
    fn negatives(&self) -> u64 {
        self.fps.last().copied().unwrap_or(0)
    }
    fn positives(&self) -> u64 {
        self.tps.last().copied().unwrap_or(0)
    }

    /// Trapezoidal area, exact in integers until the final division.
    fn auc(&self, what: &str) -> Result<f64> {
        let (p, n) = (self.positives(), self.negatives());
        if p == 0 || n == 0 {
            let only = if p == 0 { "negative" } else { "positive" };
            return Err(Error::undefined(what, format!("only {only} samples are present (AUC needs both classes)")));
        }
        let (mut area2, mut f0, mut t0) = (0u128, 0u64, 0u64);
        for (&f, &t) in self.fps.iter().zip(&self.tps) {
            area2 += (f - f0) as u128 * (t + t0) as u128;
            (f0, t0) = (f, t);
        }
        Ok(area2 as f64 / (2.0 * p as f64 * n as f64))
    }
}

/// Order-preserving map of a finite f64 to u64 (`-0.0` and `0.0` map alike).
fn key(x: f64) -> u64 {
    let b = (x + 0.0).to_bits();
    if b >> 63 == 1 {
        !b
    } else {
        b | (1 << 63)
    }
}

/// Keys sorted descending, each carrying its positive flag.
fn sorted_desc(scores: &[f64], positive: impl Fn(usize) -> bool) -> (Vec<u64>, Vec<bool>) {
    let n = scores.len();
    // descending order = ascending order of the complemented key
    let mut pairs: Vec<(u64, bool)> = (0..n).map(|i| (!key(scores[i]), positive(i))).collect();
    if n < 1 << 16 {
        pairs.sort_unstable_by_key(|p| p.0);
    } else {
        radix_sort(&mut pairs);
    }
    pairs.into_iter().map(|(k, p)| (!k, p)).unzip()
}

/// LSD radix sort on the u64 key, 16 bits a pass; passes where every key has the
/// same digit are skipped.
fn radix_sort(v: &mut Vec<(u64, bool)>) {
    let mut buf = v.clone();
    for pass in 0..4 {
        let shift = pass * 16;
        let mut counts = vec![0usize; 1 << 16];
        for &(k, _) in v.iter() {
            counts[((k >> shift) & 0xffff) as usize] += 1;
        }
        if counts.iter().any(|&c| c == v.len()) {
            continue;
        }
        let mut pos = 0;
        for c in counts.iter_mut() {
            let here = *c;
            *c = pos;
            pos += here;
        }
        for &item in v.iter() {
            let d = ((item.0 >> shift) & 0xffff) as usize;
            buf[counts[d]] = item;
            counts[d] += 1;
        }
        std::mem::swap(v, &mut buf);
    }
}

fn key_to_f64(k: u64) -> f64 {
    let b = if k >> 63 == 1 { k & !(1 << 63) } else { !k };
    f64::from_bits(b)
}

fn steps(scores: &[f64], positive: impl Fn(usize) -> bool) -> Steps {
    let (keys, pos) = sorted_desc(scores, positive);
    let n = keys.len();
    let mut s = Steps { fps: Vec::new(), tps: Vec::new(), thresholds: Vec::new() };
    let (mut tp, mut fp) = (0u64, 0u64);
    for i in 0..n {
        if pos[i] {
            tp += 1;
        } else {
            fp += 1;
        }
        if i + 1 == n || keys[i + 1] != keys[i] {
            s.fps.push(fp);
            s.tps.push(tp);
            s.thresholds.push(key_to_f64(keys[i]));
        }
    }
    s
}

fn binary_labels(y_true: &[i64]) -> Result<()> {
    if let Some((i, l)) = y_true.iter().enumerate().find(|(_, &l)| l != 0 && l != 1) {
        return Err(Error::invalid("binary label", l, format!("at index {i}: binary labels must be 0 or 1")));
    }
    Ok(())
}

fn check_binary(y_true: &[i64], scores: &[f64]) -> Result<()> {
    same_len("roc", y_true.len(), scores.len())?;
    super::check::non_empty("roc: y_true", y_true.len())?;
    binary_labels(y_true)?;
    finite("roc: scores", scores)
}

/// ROC curve of binary labels (`0`/`1`) against scores (higher = more positive),
/// as scikit-learn's `roc_curve(y_true, y_score)`.
pub fn roc_curve(y_true: &[i64], scores: &[f64]) -> Result<RocCurve> {
    check_binary(y_true, scores)?;
    let s = steps(scores, |i| y_true[i] == 1);
    let (p, n) = (s.positives(), s.negatives());
    if p == 0 || n == 0 {
        let only = if p == 0 { "negative" } else { "positive" };
        return Err(Error::undefined("ROC curve", format!("only {only} samples are present")));
    }
    // Keep the end points and every point where the curve changes direction.
    let m = s.fps.len();
    let keep: Vec<usize> = (0..m)
        .filter(|&i| {
            i == 0 || i + 1 == m || {
                let d2 = |v: &[u64]| v[i + 1] as i128 - 2 * v[i] as i128 + v[i - 1] as i128;
                d2(&s.fps) != 0 || d2(&s.tps) != 0
            }
        })
        .collect();
    let keep = if m <= 2 { (0..m).collect() } else { keep };
    let mut curve = RocCurve { fpr: vec![0.0], tpr: vec![0.0], thresholds: vec![f64::INFINITY] };
    for i in keep {
        curve.fpr.push(s.fps[i] as f64 / n as f64);
        curve.tpr.push(s.tps[i] as f64 / p as f64);
        curve.thresholds.push(s.thresholds[i]);
    }
    Ok(curve)
}

/// Area under the ROC curve of binary labels (`0`/`1`) against scores, as
/// scikit-learn's `roc_auc_score(y_true, y_score)`. An error when one class is absent.
pub fn roc_auc(y_true: &[i64], scores: &[f64]) -> Result<f64> {
    check_binary(y_true, scores)?;
    steps(scores, |i| y_true[i] == 1).auc("ROC AUC")
}

/// Multi-class AUC strategies (scikit-learn's `multi_class` × `average`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum MultiClass {
    /// One-vs-rest, unweighted mean over classes.
    OvrMacro,
    /// One-vs-rest, mean weighted by class prevalence.
    OvrWeighted,
    /// One-vs-rest on the flattened indicator matrix.
    OvrMicro,
    /// One-vs-one (Hand & Till 2001), unweighted mean over class pairs.
    OvoMacro,
    /// One-vs-one, weighted by the prevalence of each pair.
    OvoWeighted,
}

/// Check `[n, k]` class probabilities against labels in `0..k` with every class present.
fn check_proba(y_true: &[i64], proba: &ArrayView2<f64>) -> Result<Vec<usize>> {
    let (n, k) = proba.dim();
    same_len("multi-class AUC: labels vs probability rows", y_true.len(), n)?;
    super::check::non_empty("multi-class AUC: y_true", n)?;
    if k < 2 {
        return Err(Error::shape("multi-class AUC probability columns", "at least 2", k));
    }
    labels_below("multi-class AUC label", y_true, k)?;
    if let Some(((r, c), v)) = proba.indexed_iter().find(|(_, v)| !v.is_finite()) {
        return Err(Error::NonFinite { context: format!("probabilities at row {r}, class {c}"), value: *v });
    }
    for (r, row) in proba.rows().into_iter().enumerate() {
        let sum: f64 = row.sum();
        // numpy.allclose(1, sum), as scikit-learn checks
        if (sum - 1.0).abs() > 1e-8 + 1e-5 {
            return Err(Error::invalid(
                "probability row sum",
                sum,
                format!("row {r}: one-vs-rest and one-vs-one AUC need probabilities summing to 1 over classes"),
            ));
        }
    }
    let mut counts = vec![0usize; k];
    for &l in y_true {
        counts[l as usize] += 1;
    }
    if let Some(c) = counts.iter().position(|&c| c == 0) {
        return Err(Error::undefined("multi-class AUC", format!("class {c} has no sample in y_true")));
    }
    Ok(counts)
}

/// Multi-class AUC from `[n, k]` probabilities (rows sum to 1) and labels in `0..k`,
/// as scikit-learn's `roc_auc_score(y, proba, multi_class=…, average=…)`. Every class
/// must occur in `y_true`.
pub fn roc_auc_multiclass(y_true: &[i64], proba: ArrayView2<f64>, strategy: MultiClass) -> Result<f64> {
    let counts = check_proba(y_true, &proba)?;
    let (n, k) = proba.dim();
    let column = |c: usize| proba.column(c).to_vec();
    match strategy {
        MultiClass::OvrMacro | MultiClass::OvrWeighted => {
            let (mut total, mut weight) = (0.0, 0.0);
            for c in 0..k {
                let auc = steps(&column(c), |i| y_true[i] == c as i64).auc("one-vs-rest AUC")?;
                let w = if strategy == MultiClass::OvrMacro { 1.0 } else { counts[c] as f64 };
                total += w * auc;
                weight += w;
            }
            Ok(total / weight)
        }
        MultiClass::OvrMicro => {
            let flat: Vec<f64> = proba.iter().copied().collect(); // row-major: index = i * k + c
            steps(&flat, |j| y_true[j / k] == (j % k) as i64).auc("micro-averaged AUC")
        }
        MultiClass::OvoMacro | MultiClass::OvoWeighted => {
            let (mut total, mut weight) = (0.0, 0.0);
            for a in 0..k {
                for b in a + 1..k {
                    let rows: Vec<usize> = (0..n).filter(|&i| y_true[i] == a as i64 || y_true[i] == b as i64).collect();
                    let sa: Vec<f64> = rows.iter().map(|&i| proba[[i, a]]).collect();
                    let sb: Vec<f64> = rows.iter().map(|&i| proba[[i, b]]).collect();
                    let auc_a = steps(&sa, |j| y_true[rows[j]] == a as i64).auc("one-vs-one AUC")?;
                    let auc_b = steps(&sb, |j| y_true[rows[j]] == b as i64).auc("one-vs-one AUC")?;
                    let w = if strategy == MultiClass::OvoMacro { 1.0 } else { rows.len() as f64 / n as f64 };
                    total += w * (auc_a + auc_b) / 2.0;
                    weight += w;
                }
            }
            Ok(total / weight)
        }
    }
}

/// One-vs-rest ROC curve of every class, and the macro-average curve (every class's
/// true-positive rate interpolated on the union of their false-positive rates, then
/// averaged), for plotting. Returns `(per_class, macro_average)`.
pub fn roc_curves_per_class(y_true: &[i64], proba: ArrayView2<f64>) -> Result<(Vec<RocCurve>, RocCurve)> {
    check_proba(y_true, &proba)?;
    let k = proba.ncols();
    let curves: Vec<RocCurve> = (0..k)
        .map(|c| {
            let yc: Vec<i64> = y_true.iter().map(|&l| (l == c as i64) as i64).collect();
            roc_curve(&yc, &proba.column(c).to_vec())
        })
        .collect::<Result<_>>()?;
    let mut grid: Vec<f64> = curves.iter().flat_map(|c| c.fpr.iter().copied()).collect();
    grid.sort_by(f64::total_cmp);
    grid.dedup();
    let mut tpr: Vec<f64> = grid.iter().map(|&x| curves.iter().map(|c| interp(x, &c.fpr, &c.tpr)).sum::<f64>() / k as f64).collect();
    // like every ROC curve, the average starts at (0, 0)
    grid.insert(0, 0.0);
    tpr.insert(0, 0.0);
    let thresholds = vec![f64::NAN; grid.len()];
    Ok((curves, RocCurve { fpr: grid, tpr, thresholds }))
}

/// Linear interpolation of `(xs, ys)` at `x` (xs ascending, possibly with repeats:
/// the last point at a repeated x wins, as numpy.interp).
fn interp(x: f64, xs: &[f64], ys: &[f64]) -> f64 {
    let i = xs.partition_point(|&v| v <= x);
    if i == 0 {
        return ys[0];
    }
    if i == xs.len() {
        return ys[xs.len() - 1];
    }
    let (x0, x1, y0, y1) = (xs[i - 1], xs[i], ys[i - 1], ys[i]);
    if x1 == x0 {
        y1
    } else {
        y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_auc_with_ties() {
        // positives 0.8, 0.4 ; negatives 0.4, 0.1: pairs (0.8>0.4, 0.8>0.1, 0.4=0.4, 0.4>0.1) = 3.5/4
        assert_eq!(roc_auc(&[1, 1, 0, 0], &[0.8, 0.4, 0.4, 0.1]).unwrap(), 0.875);
        assert_eq!(roc_auc(&[0, 1], &[0.5, 0.5]).unwrap(), 0.5);
        assert_eq!(roc_auc(&[0, 1], &[-0.0, 0.0]).unwrap(), 0.5);
    }

    #[test]
    fn radix_and_comparison_sort_agree() {
        let mut rng = crate::rng(1);
        let s: Vec<f64> = (0..70_000).map(|_| (rand::Rng::gen::<f64>(&mut rng) - 0.5) * 1e3).map(|v: f64| (v * 10.0).round()).collect();
        let y: Vec<i64> = s.iter().enumerate().map(|(i, v)| ((i % 3 == 0) ^ (*v > 0.0)) as i64).collect();
        let fast = roc_auc(&y, &s).unwrap();
        // brute-force Mann–Whitney on a slice, by comparison
        let (pos, neg): (Vec<(usize, &f64)>, Vec<(usize, &f64)>) = s.iter().enumerate().take(3000).partition(|(i, _)| y[*i] == 1);
        let mut wins = 0.0;
        for (_, p) in &pos {
            for (_, q) in &neg {
                wins += if p > q { 1.0 } else if p == q { 0.5 } else { 0.0 };
            }
        }
        let slow = wins / (pos.len() * neg.len()) as f64;
        let small = roc_auc(&y[..3000], &s[..3000]).unwrap();
        assert!((slow - small).abs() < 1e-12);
        let mut pairs: Vec<(u64, bool)> = s.iter().map(|&v| (!key(v), true)).collect();
        let mut sorted = pairs.clone();
        radix_sort(&mut pairs);
        sorted.sort_unstable_by_key(|p| p.0);
        assert_eq!(pairs.iter().map(|p| p.0).collect::<Vec<_>>(), sorted.iter().map(|p| p.0).collect::<Vec<_>>());
        assert!((0.0..=1.0).contains(&fast));
    }

    #[test]
    fn undefined_and_bad_input() {
        assert!(matches!(roc_auc(&[1, 1], &[0.1, 0.2]), Err(Error::Undefined { .. })));
        assert!(roc_auc(&[0, 2], &[0.1, 0.2]).unwrap_err().to_string().contains('2'));
        assert!(matches!(roc_auc(&[0, 1], &[0.1, f64::NAN]), Err(Error::NonFinite { .. })));
        assert!(matches!(roc_auc(&[0, 1], &[0.1]), Err(Error::Shape { .. })));
        assert!(roc_auc(&[], &[]).is_err());
        let p = ndarray::array![[0.5, 0.6], [0.5, 0.5]];
        assert!(roc_auc_multiclass(&[0, 1], p.view(), MultiClass::OvrMacro).unwrap_err().to_string().contains("row 0"));
        let p = ndarray::array![[0.5, 0.5], [0.5, 0.5]];
        assert!(matches!(roc_auc_multiclass(&[0, 0], p.view(), MultiClass::OvoMacro), Err(Error::Undefined { .. })));
    }
}
