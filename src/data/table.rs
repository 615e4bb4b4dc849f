//! A user's CSV as it is: numeric and categorical columns, with missing cells.
//!
//! [`Table::from_csv`] reads a header row and data rows. A column is **numeric**
//! when at least half of its present cells parse as finite numbers; then every
//! present cell must be one, and a stray word is an error naming its row and column
//! (a typo in a numeric column is far more common than a categorical column of
//! mostly numbers). Otherwise it is **categorical**: its distinct texts, sorted, are
//! its categories. Missing cells are empty or one of [`MISSING_TOKENS`].
//!
//! Nothing is imputed at reading time. [`Table::prepare`] turns a (train, test) pair
//! of row sets into numeric [`TabularData`]: a missing number becomes the **median
//! of that run's training rows**, a missing category the most frequent one in them
//! (fitted on training rows only, never on test rows). Categories become one-hot
//! columns (`name=value`) in **reference coding**: the training rows' most frequent
//! level is the reference (all zeros), so the columns are not collinear with a
//! model's intercept, and a level absent from the training rows is coded as the
//! reference. A column with no value, or a single value, in the training rows is
//! dropped for that run. What it did is returned as notes.

use super::tabular::TabularData;
use crate::{Error, Result};
use ndarray::{Array1, Array2};
use std::ops::Range;
use std::path::Path;

/// Cell texts read as "missing" (compared after trimming; case-sensitive except `nan`).
pub const MISSING_TOKENS: [&str; 7] = ["", "NA", "NaN", "nan", "null", "?", "N/A"];

/// What to do with missing cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Missing {
    /// Drop rows whose target is missing; impute missing features per run.
    #[default]
    Impute,
    /// Any missing cell is an error naming its row and column.
    Error,
}

impl std::str::FromStr for Missing {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "impute" => Ok(Missing::Impute),
            "error" => Ok(Missing::Error),
            other => Err(Error::invalid("missing", other, "impute or error")),
        }
    }
}

/// One feature column.
#[derive(Debug, Clone, PartialEq)]
pub enum Column {
    /// Values with `NaN` where the cell was missing.
    Numeric { name: String, values: Vec<f64> },
    /// Category index per row (`None`: missing) into `categories` (sorted).
    Categorical { name: String, categories: Vec<String>, codes: Vec<Option<usize>> },
}

impl Column {
    pub fn name(&self) -> &str {
        match self {
            Column::Numeric { name, .. } | Column::Categorical { name, .. } => name,
        }
    }

    fn present(&self, row: usize) -> bool {
        match self {
            Column::Numeric { values, .. } => !values[row].is_nan(),
            Column::Categorical { codes, .. } => codes[row].is_some(),
        }
    }
}

/// A table read from a CSV: feature columns, a finite target, and what reading found.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub columns: Vec<Column>,
    pub y: Vec<f64>,
    pub target_name: String,
    /// Where it came from (the file, or a built-in's name).
    pub source: String,
    /// Rows dropped because their target was missing.
    pub dropped_rows: usize,
    /// Missing feature cells in the rows kept.
    pub missing_cells: usize,
}

/// A run's numeric training and test tables made from a [`Table`].
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    pub train: TabularData,
    pub test: TabularData,
    /// Column ranges of the one-hot groups in `train.x` / `test.x` (reference
    /// coding: a row of zeros is the reference level).
    pub one_hot: Vec<Range<usize>>,
    /// What was imputed or dropped, for the report.
    pub notes: Vec<String>,
}

impl From<TabularData> for Table {
    fn from(d: TabularData) -> Self {
        let columns = d.feature_names.iter().enumerate().map(|(j, n)| Column::Numeric { name: n.clone(), values: d.x.column(j).to_vec() }).collect();
        Table { columns, y: d.y.to_vec(), target_name: d.target_name, source: "in memory".into(), dropped_rows: 0, missing_cells: 0 }
    }
}

fn is_missing(cell: &str) -> bool {
    MISSING_TOKENS.contains(&cell)
}

impl Table {
    /// Read `path` with `target` as the target column (see the module docs).
    /// Errors name the file, the row (data rows count from 1) and the column.
    pub fn from_csv(path: impl AsRef<Path>, target: &str, missing: Missing) -> Result<Table> {
        let path = path.as_ref();
        let file = std::fs::File::open(path).map_err(|source| Error::Io { path: path.into(), source })?;
        Self::from_csv_reader(file, path, target, missing)
    }

    /// [`Table::from_csv`] on any reader (the bytes of a CSV file); `path` names the
    /// source in errors.
    pub fn from_csv_reader(input: impl std::io::Read, path: &Path, target: &str, missing: Missing) -> Result<Table> {
        let mut reader = csv::ReaderBuilder::new().has_headers(true).flexible(true).trim(csv::Trim::All).from_reader(input);
        let err = |row: usize, column: &str, reason: String| Error::Csv { path: path.into(), row, column: column.to_string(), reason };
        let header: Vec<String> = reader.headers().map_err(|e| err(0, "", e.to_string()))?.iter().map(str::to_string).collect();
        let Some(t) = header.iter().position(|h| h == target) else {
            return Err(err(0, target, format!("target column not in header {header:?}")));
        };
        let mut cells: Vec<Vec<String>> = vec![Vec::new(); header.len()];
        let mut rows = 0;
        let mut dropped = 0;
        // the file row of each kept row, for errors after dropping
        let mut kept_rows = Vec::new();
        for (i, record) in reader.records().enumerate() {
            let row = i + 1;
            let record = record.map_err(|e| err(row, "", e.to_string()))?;
            if record.len() != header.len() {
                return Err(err(row, "", format!("ragged row: {} fields, the header has {}", record.len(), header.len())));
            }
            if let Some(c) = (0..header.len()).find(|&c| is_missing(&record[c])) {
                if missing == Missing::Error {
                    return Err(err(row, &header[c], format!("missing value {:?} (--missing impute would drop the row or impute the cell)", &record[c])));
                }
            }
            rows += 1;
            if is_missing(&record[t]) {
                dropped += 1;
                continue;
            }
            kept_rows.push(row);
            for (c, cell) in record.iter().enumerate() {
                cells[c].push(cell.to_string());
            }
        }
        if rows == 0 {
            return Err(err(0, "", "no data rows after the header".into()));
        }
        if cells[t].is_empty() {
            return Err(err(0, target, format!("the target is missing in all {rows} rows")));
        }
        let parse = |row: usize, c: usize, cell: &str| -> Result<f64> {
            let v: f64 = cell.parse().map_err(|_| err(row, &header[c], format!("{cell:?} is not a number")))?;
            if v.is_finite() { Ok(v) } else { Err(err(row, &header[c], format!("non-finite value {cell:?}"))) }
        };
        let y = cells[t].iter().enumerate().map(|(i, c)| parse(kept_rows[i], t, c)).collect::<Result<Vec<f64>>>()?;
        let mut columns = Vec::new();
        let mut missing_cells = 0;
        for (c, name) in header.iter().enumerate().filter(|(c, _)| *c != t) {
            let col = &cells[c];
            let present: Vec<(usize, &String)> = col.iter().enumerate().filter(|(_, s)| !is_missing(s)).collect();
            missing_cells += col.len() - present.len();
            if present.is_empty() {
                return Err(err(0, name, "every cell of this column is missing; remove the column".into()));
            }
            let numeric = present.iter().filter(|(_, s)| s.parse::<f64>().is_ok()).count();
            if 2 * numeric >= present.len() {
                let mut values = vec![f64::NAN; col.len()];
                for (i, s) in present {
                    values[i] = parse(kept_rows[i], c, s)?;
                }
                columns.push(Column::Numeric { name: name.clone(), values });
            } else {
                let mut categories: Vec<String> = present.iter().map(|(_, s)| (*s).clone()).collect();
                categories.sort();
                categories.dedup();
                let codes = col.iter().map(|s| if is_missing(s) { None } else { categories.binary_search(s).ok() }).collect();
                columns.push(Column::Categorical { name: name.clone(), categories, codes });
            }
        }
        Ok(Table { columns, y, target_name: target.to_string(), source: path.display().to_string(), dropped_rows: dropped, missing_cells })
    }

    /// Rows kept (those with a target).
    pub fn len(&self) -> usize {
        self.y.len()
    }

    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }

    /// The categorical columns and their categories, for the report.
    pub fn categorical(&self) -> Vec<(&str, &[String])> {
        self.columns
            .iter()
            .filter_map(|c| match c {
                Column::Categorical { name, categories, .. } => Some((name.as_str(), categories.as_slice())),
                _ => None,
            })
            .collect()
    }

    /// Numeric training and test tables for one run (see the module docs). Fails
    /// when no feature column has a value in the training rows.
    pub fn prepare(&self, train: &[usize], test: &[usize]) -> Result<Prepared> {
        if let Some(&bad) = train.iter().chain(test).find(|&&i| i >= self.len()) {
            return Err(Error::invalid("row index", bad, format!("the table has {} rows", self.len())));
        }
        let mut names = Vec::new();
        let mut one_hot = Vec::new();
        let mut notes = Vec::new();
        let (mut xt, mut xs): (Vec<Vec<f64>>, Vec<Vec<f64>>) = (vec![Vec::new(); train.len()], vec![Vec::new(); test.len()]);
        let (mut imputed_train, mut imputed_test) = (0, 0);
        for col in &self.columns {
            let seen = train.iter().filter(|&&i| col.present(i)).count();
            if seen == 0 {
                notes.push(format!("column {:?} dropped: no value in this run's {} training rows", col.name(), train.len()));
                continue;
            }
            imputed_train += train.len() - seen;
            imputed_test += test.iter().filter(|&&i| !col.present(i)).count();
            match col {
                Column::Numeric { name, values } => {
                    let mut v: Vec<f64> = train.iter().map(|&i| values[i]).filter(|v| !v.is_nan()).collect();
                    v.sort_by(f64::total_cmp);
                    let median = if v.len() % 2 == 1 { v[v.len() / 2] } else { (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0 };
                    let fill = |i: usize| if values[i].is_nan() { median } else { values[i] };
                    if train.iter().all(|&i| fill(i) == median) && train.len() > 1 {
                        notes.push(format!("column {name:?} dropped: constant ({median}) in this run's training rows"));
                        continue;
                    }
                    train.iter().zip(xt.iter_mut()).for_each(|(&i, r)| r.push(fill(i)));
                    test.iter().zip(xs.iter_mut()).for_each(|(&i, r)| r.push(fill(i)));
                    names.push(name.clone());
                }
                Column::Categorical { name, categories, codes } => {
                    let mut counts = vec![0usize; categories.len()];
                    train.iter().filter_map(|&i| codes[i]).for_each(|k| counts[k] += 1);
                    // the reference level: the most frequent in the training rows (ties: the first)
                    let mode = (0..counts.len()).max_by_key(|&k| (counts[k], std::cmp::Reverse(k))).unwrap_or(0);
                    let kept: Vec<usize> = (0..categories.len()).filter(|&k| k != mode && counts[k] > 0).collect();
                    let absent: Vec<&str> = (0..categories.len()).filter(|&k| counts[k] == 0).map(|k| categories[k].as_str()).collect();
                    if !absent.is_empty() {
                        notes.push(format!("column {name:?}: level(s) {absent:?} absent from this run's training rows, coded as the reference {:?}", categories[mode]));
                    }
                    let start = names.len();
                    let fill = |i: usize, r: &mut Vec<f64>| {
                        let k = codes[i].filter(|k| kept.contains(k)).unwrap_or(mode);
                        r.extend(kept.iter().map(|&j| if j == k { 1.0 } else { 0.0 }));
                    };
                    train.iter().zip(xt.iter_mut()).for_each(|(&i, r)| fill(i, r));
                    test.iter().zip(xs.iter_mut()).for_each(|(&i, r)| fill(i, r));
                    names.extend(kept.iter().map(|&k| format!("{name}={}", categories[k])));
                    if !kept.is_empty() {
                        one_hot.push(start..names.len());
                    }
                }
            }
        }
        if names.is_empty() {
            return Err(Error::invalid("features", 0, format!("no feature column of {} has a value in the {} training rows", self.source, train.len())));
        }
        if imputed_train + imputed_test > 0 {
            notes.push(format!("imputed {imputed_train} missing cell(s) in the training rows and {imputed_test} in the test rows from the training rows"));
        }
        let d = names.len();
        let to = |rows: Vec<Vec<f64>>, idx: &[usize]| -> Result<TabularData> {
            let n = rows.len();
            let x = Array2::from_shape_vec((n, d), rows.into_iter().flatten().collect()).map_err(|e| Error::shape("prepared features", format!("({n}, {d})"), e))?;
            let y = Array1::from_iter(idx.iter().map(|&i| self.y[i]));
            TabularData::new(x, y, names.clone(), self.target_name.clone())
        };
        Ok(Prepared { train: to(xt, train)?, test: to(xs, test)?, one_hot, notes })
    }

    /// The whole table as numbers, when it has no categorical column and no
    /// missing cell (what [`TabularData::from_csv`] requires).
    pub fn into_numeric(self) -> Result<TabularData> {
        let n = self.len();
        let mut x = Array2::zeros((n, self.columns.len()));
        let mut names = Vec::new();
        for (j, c) in self.columns.into_iter().enumerate() {
            match c {
                Column::Numeric { name, values } => {
                    x.column_mut(j).assign(&Array1::from(values));
                    names.push(name);
                }
                Column::Categorical { name, categories, .. } => {
                    return Err(Error::Csv {
                        path: self.source.clone().into(),
                        row: 0,
                        column: name,
                        reason: format!("a categorical column ({} categories, e.g. {:?}); read it with Table::from_csv", categories.len(), categories[0]),
                    })
                }
            }
        }
        TabularData::new(x, Array1::from(self.y), names, self.target_name)
    }
}

/// Put synthetic rows back on valid reference-coded one-hot codes. In each group
/// the implicit reference level has the value `1 − Σ group`; the level with the
/// largest value wins (ties: the reference, then the first column). After mixup or
/// SMOTER (a convex combination of two parents) this is the category of the parent
/// with the larger weight; after a small jitter it is the row's own category; after
/// a synthesizer, its most likely one.
pub fn project_one_hot(x: &mut Array2<f64>, groups: &[Range<usize>]) {
    for mut row in x.rows_mut() {
        for g in groups {
            let reference = 1.0 - g.clone().map(|j| row[j]).sum::<f64>();
            let k = g.clone().max_by(|&a, &b| row[a].total_cmp(&row[b]).then(b.cmp(&a))).filter(|&k| row[k] > reference);
            for j in g.clone() {
                row[j] = if Some(j) == k { 1.0 } else { 0.0 };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn csv(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    #[test]
    fn the_strict_reader_takes_the_target_anywhere() {
        let f = csv("a,y,b\n1,10,2\n3,30,4\n");
        let t = TabularData::from_csv(f.path(), "y").unwrap();
        assert_eq!(t.x, ndarray::array![[1.0, 2.0], [3.0, 4.0]]);
        assert_eq!(t.y, ndarray::array![10.0, 30.0]);
        assert_eq!(t.feature_names, vec!["a", "b"]);
        let f = csv("a,c,y\n1,x,10\n3,z,30\n");
        assert!(TabularData::from_csv(f.path(), "y").unwrap_err().to_string().contains("categorical"));
    }

    #[test]
    fn missing_cells_are_imputed_from_training_rows_only() {
        let f = csv("a,colour,y\n1,red,10\nNA,blue,20\n3,,30\n100,red,NA\n5,blue,50\n?,red,60\n");
        let t = Table::from_csv(f.path(), "y", Missing::Impute).unwrap();
        assert_eq!((t.len(), t.dropped_rows, t.missing_cells), (5, 1, 3));
        assert_eq!(t.categorical(), vec![("colour", &["blue".to_string(), "red".to_string()][..])]);
        // train rows 0, 2, 3 (a = 1, 3, 5: median 3), test rows 1, 4
        let p = t.prepare(&[0, 2, 3], &[1, 4]).unwrap();
        // blue and red once each in the training rows: the first, blue, is the reference
        assert_eq!(p.train.feature_names, vec!["a", "colour=red"]);
        assert_eq!(p.one_hot, vec![1..2]);
        // row 2 has no colour: the training mode, blue (the reference, 0)
        assert_eq!(p.train.x, ndarray::array![[1.0, 1.0], [3.0, 0.0], [5.0, 0.0]]);
        // test row 1 had a = NA → the training median 3, never a test statistic
        assert_eq!(p.test.x, ndarray::array![[3.0, 0.0], [3.0, 1.0]]);
        assert_eq!(p.test.y, ndarray::array![20.0, 60.0]);
        assert!(p.notes.iter().any(|n| n.contains("imputed 1") && n.contains("2 in the test")), "{:?}", p.notes);
    }

    #[test]
    fn a_column_without_training_values_is_dropped_for_that_run() {
        let f = csv("a,b,y\n1,NA,1\n2,NA,2\n3,7,3\n");
        let t = Table::from_csv(f.path(), "y", Missing::Impute).unwrap();
        let p = t.prepare(&[0, 1], &[2]).unwrap();
        assert_eq!(p.train.feature_names, vec!["a"]);
        assert!(p.notes[0].contains("\"b\" dropped"), "{:?}", p.notes);
    }

    #[test]
    fn errors_name_row_and_column() {
        let f = csv("a,b,y\n1,2,3\n4,five,6\n7,8,9\n");
        let e = Table::from_csv(f.path(), "y", Missing::Impute).unwrap_err().to_string();
        assert!(e.contains("row 2") && e.contains("\"b\"") && e.contains("five"), "{e}");
        let f = csv("a,b,y\n1,NA,3\n4,,6\n");
        let e = Table::from_csv(f.path(), "y", Missing::Impute).unwrap_err().to_string();
        assert!(e.contains("\"b\"") && e.contains("every cell"), "{e}");
        let f = csv("a,y\n1,3\nNA,6\n");
        let e = Table::from_csv(f.path(), "y", Missing::Error).unwrap_err().to_string();
        assert!(e.contains("row 2") && e.contains("\"a\"") && e.contains("NA"), "{e}");
    }

    #[test]
    fn one_hot_projection_keeps_codes_valid() {
        // two coded levels and an implicit reference (1 − the sum)
        let mut x = ndarray::array![[0.3, 0.7, 5.0], [0.5, 0.5, 1.0], [1.02, -0.01, 2.0], [0.2, 0.1, 3.0]];
        project_one_hot(&mut x, &[0..2]);
        assert_eq!(x, ndarray::array![[0.0, 1.0, 5.0], [1.0, 0.0, 1.0], [1.0, 0.0, 2.0], [0.0, 0.0, 3.0]]);
    }

    #[test]
    fn levels_absent_from_training_and_constant_columns() {
        let f = csv("k,c,y\n1,a,1\n1,a,2\n1,b,3\n2,c,4\n");
        let t = Table::from_csv(f.path(), "y", Missing::Impute).unwrap();
        let p = t.prepare(&[0, 1, 2], &[3]).unwrap();
        // k is 1 on every training row; c: a is the reference, b coded, c absent
        assert_eq!(p.train.feature_names, vec!["c=b"]);
        assert_eq!(p.test.x, ndarray::array![[0.0]]);
        assert!(p.notes.iter().any(|n| n.contains("\"k\" dropped: constant")), "{:?}", p.notes);
        assert!(p.notes.iter().any(|n| n.contains("[\"c\"] absent")), "{:?}", p.notes);
    }
}
