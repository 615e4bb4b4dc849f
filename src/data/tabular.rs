//! Tabular regression data: a feature matrix, a target and their names.
//!
//! Sources: any CSV with a header ([`TabularData::from_csv`]), and the two built-ins
//! shipped inside `linfa-datasets`: diabetes (Efron et al. 2004; 442 × 10) and red
//! winequality (Cortez et al. 2009; 1,599 × 11, target = quality score).

use crate::{Error, Result};
use linfa::prelude::Records;
use linfa::Dataset;
use ndarray::{Array1, Array2, Axis};
use std::path::Path;

/// Features `x` (`[n, d]`, finite), target `y` (`[n]`, finite) and their names.
#[derive(Debug, Clone, PartialEq)]
pub struct TabularData {
    pub x: Array2<f64>,
    pub y: Array1<f64>,
    pub feature_names: Vec<String>,
    pub target_name: String,
}

impl TabularData {
    /// Build from arrays, checking shapes and that every value is finite.
    pub fn new(x: Array2<f64>, y: Array1<f64>, feature_names: Vec<String>, target_name: impl Into<String>) -> Result<Self> {
        if x.nrows() != y.len() {
            return Err(Error::shape("TabularData rows of x vs y", x.nrows(), y.len()));
        }
        if feature_names.len() != x.ncols() {
            return Err(Error::shape("TabularData feature names vs columns", x.ncols(), feature_names.len()));
        }
        if let Some(((r, c), v)) = x.indexed_iter().find(|(_, v)| !v.is_finite()) {
            return Err(Error::NonFinite { context: format!("row {r}, feature {:?}", feature_names[c]), value: *v });
        }
        let target_name = target_name.into();
        if let Some((r, v)) = y.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(Error::NonFinite { context: format!("row {r}, target {target_name:?}"), value: *v });
        }
        Ok(TabularData { x, y, feature_names, target_name })
    }

    /// Read a CSV with a header row, strictly: `target` names the target column;
    /// every other column is a numeric feature and no cell may be missing. Errors
    /// name the file, row (data rows count from 1) and column for: a missing target
    /// column, a ragged row, a non-numeric cell, a missing, NaN or infinite value, a
    /// categorical column, and a file with no data rows. For CSVs with missing cells
    /// or categorical columns, read a [`super::Table`].
    pub fn from_csv(path: impl AsRef<Path>, target: &str) -> Result<Self> {
        super::table::Table::from_csv(path, target, super::table::Missing::Error)?.into_numeric()
    }

    /// The diabetes data of Efron et al. (2004) as scikit-learn's `load_diabetes()`
    /// gives it: 442 rows × 10 features, each feature centred and scaled to unit
    /// Euclidean norm (standardised, then divided by √442); target: a measure of
    /// disease progression one year after baseline.
    ///
    /// Read from the files of the scikit-learn wheel embedded in the crate, not from
    /// `linfa_datasets::diabetes()`, which loses the first row (its reader takes the
    /// header-less file's first line for a header, giving 441 rows).
    pub fn diabetes() -> Result<Self> {
        let mut d = Self::diabetes_raw()?;
        let n = d.len() as f64;
        for mut col in d.x.columns_mut() {
            let mean = col.mean().unwrap_or(0.0);
            let std = col.std(0.0);
            col.mapv_inplace(|v| (v - mean) / std / n.sqrt());
        }
        Ok(d)
    }

    /// The diabetes data in original units (age in years, sex coded 1/2, BMI, mean
    /// blood pressure, six blood serum measurements), as `load_diabetes(scaled=False)`.
    pub fn diabetes_raw() -> Result<Self> {
        const X: &[u8] = include_bytes!("../../data/diabetes/diabetes_data_raw.csv.gz");
        const Y: &[u8] = include_bytes!("../../data/diabetes/diabetes_target.csv.gz");
        let (x, cols) = parse_gz_table(X, "diabetes_data_raw.csv.gz")?;
        let (y, _) = parse_gz_table(Y, "diabetes_target.csv.gz")?;
        let rows = y.len();
        let x = Array2::from_shape_vec((rows, cols), x).map_err(|e| Error::shape("diabetes features", format!("({rows}, {cols})"), e))?;
        let names = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"].map(String::from).to_vec();
        Self::new(x, Array1::from(y), names, "progression")
    }

    /// The red wine quality data (1,599 × 11, target: quality score 3–8 as a number).
    pub fn winequality() -> Result<Self> {
        let ds = linfa_datasets::winequality();
        let names = name_or_default(ds.feature_names(), ds.nfeatures());
        let y = ds.targets().mapv(|q| q as f64);
        Self::new(ds.records().to_owned(), y, names, "quality")
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.y.len()
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }

    /// Number of feature columns.
    pub fn nfeatures(&self) -> usize {
        self.x.ncols()
    }

    /// The rows at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> Result<Self> {
        if let Some(&bad) = indices.iter().find(|&&i| i >= self.len()) {
            return Err(Error::invalid("row index", bad, format!("the table has {} rows", self.len())));
        }
        Ok(TabularData {
            x: self.x.select(Axis(0), indices),
            y: self.y.select(Axis(0), indices),
            feature_names: self.feature_names.clone(),
            target_name: self.target_name.clone(),
        })
    }

    /// As a linfa dataset (records, targets, feature names).
    pub fn to_linfa(&self) -> Dataset<f64, f64, ndarray::Ix1> {
        Dataset::new(self.x.clone(), self.y.clone()).with_feature_names(self.feature_names.clone())
    }

    /// From a linfa dataset with a real-valued target.
    pub fn from_linfa(ds: &Dataset<f64, f64, ndarray::Ix1>, target_name: &str) -> Result<Self> {
        let names = name_or_default(ds.feature_names(), ds.nfeatures());
        Self::new(ds.records().to_owned(), ds.targets().to_owned(), names, target_name)
    }

    /// Per-feature mean and standard deviation, and the target's, as a printable table.
    pub fn summary(&self, name: &str) -> String {
        let mut s = format!("{name}: {} rows × {} features, target {:?}\n", self.len(), self.nfeatures(), self.target_name);
        let col = |v: ndarray::ArrayView1<f64>| (v.mean().unwrap_or(f64::NAN), v.std(0.0));
        for (j, f) in self.feature_names.iter().enumerate() {
            let (m, sd) = col(self.x.column(j));
            s += &format!("  {f:<24} mean {m:>10.4}  std {sd:>10.4}\n");
        }
        let (m, sd) = col(self.y.view());
        s += &format!("  {:<24} mean {m:>10.4}  std {sd:>10.4}  (target)\n", self.target_name);
        s
    }
}

/// Whitespace- or comma-separated numbers, gzip-compressed and without a header:
/// all values in row-major order and the number of columns.
fn parse_gz_table(gz: &[u8], name: &str) -> Result<(Vec<f64>, usize)> {
    use std::io::Read;
    let origin = format!("<embedded>/{name}");
    let mut text = String::new();
    flate2::read::GzDecoder::new(gz).read_to_string(&mut text).map_err(|e| Error::format(&origin, e.to_string()))?;
    let mut values = Vec::new();
    let mut cols = 0;
    for (row, line) in text.lines().filter(|l| !l.trim().is_empty()).enumerate() {
        let before = values.len();
        for cell in line.split(|c: char| c == ',' || c.is_whitespace()).filter(|c| !c.is_empty()) {
            let v = cell.parse().map_err(|_| Error::Csv {
                path: origin.clone().into(),
                row: row + 1,
                column: String::new(),
                reason: format!("{cell:?} is not a number"),
            })?;
            values.push(v);
        }
        let n = values.len() - before;
        if row == 0 {
            cols = n;
        } else if n != cols {
            return Err(Error::Csv { path: origin.into(), row: row + 1, column: String::new(), reason: format!("{n} values, expected {cols}") });
        }
    }
    Ok((values, cols))
}

fn name_or_default(names: &[String], n: usize) -> Vec<String> {
    if names.len() == n {
        names.to_vec()
    } else {
        (0..n).map(|i| format!("x{i}")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    /// linfa-datasets ships the *pre-scaled* file that scikit-learn distributed before
    /// 1.1 (all but its first row survive linfa's reader). That file was scaled from
    /// slightly different arithmetic and agrees with today's `load_diabetes()` to about
    /// 1e-5 only; the exact check against scikit-learn is in `tests/golden`.
    #[test]
    fn diabetes_scaling_matches_sklearn_values_in_linfa_datasets() {
        let ours = TabularData::diabetes().unwrap();
        let theirs = linfa_datasets::diabetes();
        assert_eq!(theirs.records().nrows(), 441);
        let diff = (&ours.x.slice(ndarray::s![1.., ..]) - theirs.records()).mapv(f64::abs);
        assert!(diff.iter().all(|&d| d < 2e-5), "max diff {}", diff.fold(0.0f64, |a, &b| a.max(b)));
        assert_eq!(ours.y.slice(ndarray::s![1..]), theirs.targets());
        // unit norm columns, as sklearn's load_diabetes(scaled=True)
        for col in ours.x.columns() {
            assert!((col.dot(&col) - 1.0).abs() < 1e-9);
        }
    }

    #[test]
    fn builtins_have_documented_shapes() {
        let d = TabularData::diabetes().unwrap();
        assert_eq!((d.len(), d.nfeatures()), (442, 10));
        assert_eq!(d.y[0], 151.0);
        let w = TabularData::winequality().unwrap();
        assert_eq!((w.len(), w.nfeatures()), (1599, 11));
    }
}
