//! `results.jsonl`: one JSON line per finished run, appended and flushed to disk as
//! each run ends, so a killed experiment loses at most the runs in flight and resumes
//! where it stopped; and the one row type every experiment writes.

use crate::error::IoContext;
use crate::{Error, Result};
use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};

/// What a run measured on the test set: classification or regression scores.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "task", rename_all = "kebab-case")]
pub enum Scores {
    Classification {
        accuracy: f64,
        /// Macro one-vs-rest AUC-ROC.
        auc_macro_ovr: f64,
        /// Mean test cross-entropy, when the run measured it.
        #[serde(default)]
        log_loss: Option<f64>,
    },
    Regression { rmse: f64, mae: f64, r2: f64 },
}

/// A metric a summary reports. Each knows its direction, so "better" and "best"
/// never depend on the caller remembering that a lower RMSE is good.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Metric {
    Accuracy,
    /// Macro one-vs-rest AUC-ROC.
    Auc,
    LogLoss,
    Rmse,
    Mae,
    R2,
}

impl Metric {
    /// Every metric of a task, the primary one (which picks the best arm) first.
    pub fn of_task(classification: bool) -> &'static [Metric] {
        if classification {
            &[Metric::Auc, Metric::Accuracy, Metric::LogLoss]
        } else {
            &[Metric::Rmse, Metric::Mae, Metric::R2]
        }
    }

    /// Short name, as in CSV headers and file names (`auc`, `rmse`).
    pub fn name(&self) -> &'static str {
        match self {
            Metric::Accuracy => "accuracy",
            Metric::Auc => "auc",
            Metric::LogLoss => "log_loss",
            Metric::Rmse => "rmse",
            Metric::Mae => "mae",
            Metric::R2 => "r2",
        }
    }

    /// Name for tables and chart axes.
    pub fn label(&self) -> &'static str {
        match self {
            Metric::Accuracy => "accuracy",
            Metric::Auc => "AUC (OvR macro)",
            Metric::LogLoss => "log loss",
            Metric::Rmse => "RMSE",
            Metric::Mae => "MAE",
            Metric::R2 => "R²",
        }
    }

    /// True for accuracy, AUC and R²; false for the losses and errors.
    pub fn higher_is_better(&self) -> bool {
        matches!(self, Metric::Accuracy | Metric::Auc | Metric::R2)
    }
}

impl std::str::FromStr for Metric {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "accuracy" => Metric::Accuracy,
            "auc" => Metric::Auc,
            "log_loss" | "log-loss" => Metric::LogLoss,
            "rmse" => Metric::Rmse,
            "mae" => Metric::Mae,
            "r2" => Metric::R2,
            other => return Err(Error::invalid("metric", other, "known: accuracy, auc, log_loss, rmse, mae, r2")),
        })
    }
}

impl Scores {
    /// The value of `metric`, when this kind of run measures it.
    pub fn get(&self, metric: Metric) -> Option<f64> {
        match (*self, metric) {
            (Scores::Classification { accuracy, .. }, Metric::Accuracy) => Some(accuracy),
            (Scores::Classification { auc_macro_ovr, .. }, Metric::Auc) => Some(auc_macro_ovr),
            (Scores::Classification { log_loss, .. }, Metric::LogLoss) => log_loss,
            (Scores::Regression { rmse, .. }, Metric::Rmse) => Some(rmse),
            (Scores::Regression { mae, .. }, Metric::Mae) => Some(mae),
            (Scores::Regression { r2, .. }, Metric::R2) => Some(r2),
            _ => None,
        }
    }

    pub fn is_classification(&self) -> bool {
        matches!(self, Scores::Classification { .. })
    }
}

/// The result of one (size, arm, seed) run: the one row type of every experiment.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunRow {
    /// Training examples: images per class, or rows of a table.
    pub size: usize,
    /// The arm's short name (`none`, `crop+rotate`, `lora-8`, `ridge/jitter`, …).
    pub arm: String,
    pub seed: u64,
    pub scores: Scores,
    /// Seconds to make synthetic data (if any) and train.
    pub train_seconds: f64,
    pub eval_seconds: f64,
    /// Mean training loss over the last epoch, when the run recorded it.
    #[serde(default)]
    pub final_train_loss: Option<f64>,
    /// Test examples scored.
    pub test_size: usize,
    /// The arm with all its parameters: a resumed experiment never mixes runs of
    /// different settings under one name.
    pub arm_params: String,
    /// What the run itself reported (trainable parameters, …), if anything.
    #[serde(default)]
    pub detail: Option<String>,
    /// Hash of the protocol the run followed ([`super::protocol_hash`]).
    pub protocol: String,
}

impl RunRow {
    /// The run's identity in the grid.
    pub fn key(&self) -> (usize, String, u64) {
        (self.size, self.arm.clone(), self.seed)
    }

    /// Shorthand for `self.scores.get(metric)`.
    pub fn metric(&self, metric: Metric) -> Option<f64> {
        self.scores.get(metric)
    }

    /// Accuracy of a classification run (NaN for regression).
    pub fn accuracy(&self) -> f64 {
        self.metric(Metric::Accuracy).unwrap_or(f64::NAN)
    }

    /// Macro one-vs-rest AUC of a classification run (NaN for regression).
    pub fn auc(&self) -> f64 {
        self.metric(Metric::Auc).unwrap_or(f64::NAN)
    }
}

/// A result row that a [`ResultsFile`] can store: JSON, with a key naming its grid cell.
pub trait Row: serde::Serialize + serde::de::DeserializeOwned {
    type Key: std::hash::Hash + Eq + Clone;
    fn row_key(&self) -> Self::Key;
    /// The protocol the run followed: rows of different protocols never mix.
    fn protocol(&self) -> &str;
}

impl Row for RunRow {
    type Key = (usize, String, u64);
    fn row_key(&self) -> Self::Key {
        self.key()
    }
    fn protocol(&self) -> &str {
        &self.protocol
    }
}

/// Remove the results file at `path` (a study's `--restart`); absent is fine.
pub fn discard_results(path: impl AsRef<Path>) -> Result<()> {
    match std::fs::remove_file(path.as_ref()) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e).at(path.as_ref()),
        _ => Ok(()),
    }
}

/// The results file of a study directory, opened for appending.
#[derive(Debug)]
pub struct ResultsFile<R = RunRow> {
    path: PathBuf,
    file: std::fs::File,
    rows: Vec<R>,
    /// Bytes of an unfinished last line that opening removed (a run killed mid-write).
    pub repaired_bytes: usize,
}

impl<R: Row> ResultsFile<R> {
    /// Open (creating if needed) and read every complete row. An unfinished or
    /// unreadable *last* line — what a kill during a write leaves — is cut off; an
    /// unreadable line elsewhere is an error naming it. A key seen twice keeps its
    /// first row.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let text = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e).at(&path),
        };
        let (rows, good_len) = parse_rows(&path, &text)?;
        let repaired_bytes = text.len() - good_len;
        if repaired_bytes > 0 {
            let f = std::fs::OpenOptions::new().write(true).open(&path).at(&path)?;
            f.set_len(good_len as u64).at(&path)?;
            f.sync_all().at(&path)?;
        }
        let file = std::fs::OpenOptions::new().create(true).append(true).open(&path).at(&path)?;
        Ok(ResultsFile { path, file, rows, repaired_bytes })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// An error naming the file when a stored row was made under another protocol
    /// than `protocol`: resuming would mix incomparable runs.
    pub fn check_protocol(&self, protocol: &str) -> Result<()> {
        match self.rows.iter().find(|r| r.protocol() != protocol) {
            None => Ok(()),
            Some(r) => Err(Error::Format {
                path: self.path.clone(),
                reason: format!(
                    "holds runs made with another protocol ({}; now {protocol}); use another --out, or --restart to discard them",
                    r.protocol()
                ),
            }),
        }
    }

    /// Rows read or appended so far, in file order, one per key.
    pub fn rows(&self) -> &[R] {
        &self.rows
    }

    /// Keys already present.
    pub fn done(&self) -> HashSet<R::Key> {
        self.rows.iter().map(Row::row_key).collect()
    }

    /// Append one row as one line in one write, then flush it to disk.
    pub fn append(&mut self, row: R) -> Result<()> {
        let mut line = serde_json::to_string(&row)?;
        line.push('\n');
        self.file.write_all(line.as_bytes()).at(&self.path)?;
        self.file.sync_data().at(&self.path)?;
        self.rows.push(row);
        Ok(())
    }
}

/// Parse the bytes of a results file as [`ResultsFile::open`] reads them: the complete
/// rows (one per key) and the byte length of the good prefix, which excludes an
/// unfinished last line. `path` names the file in errors.
pub fn parse_rows<R: Row>(path: &Path, bytes: &[u8]) -> Result<(Vec<R>, usize)> {
    let mut rows = Vec::new();
    let mut seen = HashSet::new();
    let mut offset = 0;
    let mut lines = bytes.split_inclusive(|&b| b == b'\n').enumerate().peekable();
    while let Some((i, line)) = lines.next() {
        let last = lines.peek().is_none();
        let complete = line.ends_with(b"\n");
        let parsed = std::str::from_utf8(line).ok().and_then(|s| {
            let s = s.trim();
            if s.is_empty() {
                None
            } else {
                Some(serde_json::from_str::<R>(s))
            }
        });
        match parsed {
            None if complete && std::str::from_utf8(line).is_ok_and(|s| s.trim().is_empty()) => {}
            Some(Ok(row)) if complete => {
                if seen.insert(row.row_key()) {
                    rows.push(row);
                }
            }
            _ if last && !complete => return Ok((rows, offset)), // cut off: a write interrupted by a kill
            Some(Err(e)) => return Err(Error::Format { path: path.to_path_buf(), reason: format!("line {}: {e}", i + 1) }),
            _ => return Err(Error::Format { path: path.to_path_buf(), reason: format!("line {}: not a UTF-8 JSON row", i + 1) }),
        }
        offset += line.len();
    }
    Ok((rows, offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(n: usize, augment: &str, seed: u64) -> RunRow {
        RunRow {
            size: n,
            arm: augment.into(),
            seed,
            scores: Scores::Classification { accuracy: 0.5, auc_macro_ovr: 0.9, log_loss: Some(1.0) },
            train_seconds: 1.0,
            eval_seconds: 0.1,
            final_train_loss: None,
            test_size: 100,
            arm_params: augment.into(),
            detail: None,
            protocol: "p".into(),
        }
    }

    #[test]
    fn appends_reopens_and_cuts_a_torn_last_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.jsonl");
        let mut f = ResultsFile::<RunRow>::open(&path).unwrap();
        f.append(row(10, "none", 0)).unwrap();
        f.append(row(10, "crop", 0)).unwrap();
        drop(f);
        // a kill in the middle of the third write
        let line = serde_json::to_string(&row(10, "rotate", 0)).unwrap();
        let mut raw = std::fs::read(&path).unwrap();
        let good = raw.len();
        raw.extend_from_slice(&line.as_bytes()[..line.len() / 2]);
        std::fs::write(&path, &raw).unwrap();

        let mut f = ResultsFile::<RunRow>::open(&path).unwrap();
        assert_eq!(f.rows().len(), 2);
        assert_eq!(f.repaired_bytes, line.len() / 2);
        assert_eq!(std::fs::metadata(&path).unwrap().len() as usize, good);
        f.append(row(10, "rotate", 0)).unwrap();
        drop(f);
        let f = ResultsFile::<RunRow>::open(&path).unwrap();
        assert_eq!(f.rows().iter().map(|r| r.arm.as_str()).collect::<Vec<_>>(), ["none", "crop", "rotate"]);
        assert_eq!(f.repaired_bytes, 0);
    }

    #[test]
    fn a_bad_line_in_the_middle_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.jsonl");
        let good = serde_json::to_string(&row(10, "none", 0)).unwrap();
        std::fs::write(&path, format!("{good}\n{{\"oops\": 1}}\n{good}\n")).unwrap();
        let err = ResultsFile::<RunRow>::open(&path).unwrap_err().to_string();
        assert!(err.contains("line 2") && err.contains("results.jsonl"), "{err}");
    }

    #[test]
    fn optional_losses_round_trip_and_may_be_absent() {
        let r = row(10, "none", 0);
        let line = serde_json::to_string(&r).unwrap();
        assert!(!line.contains("NaN") && line.contains("\"final_train_loss\":null"));
        assert_eq!(serde_json::from_str::<RunRow>(&line).unwrap(), r);
        let without = line.replace(",\"final_train_loss\":null", "").replace(",\"detail\":null", "");
        assert_eq!(serde_json::from_str::<RunRow>(&without).unwrap(), r);
    }

    #[test]
    fn duplicate_keys_keep_the_first_row() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.jsonl");
        let a = serde_json::to_string(&row(10, "none", 0)).unwrap();
        let mut b = row(10, "none", 0);
        b.scores = Scores::Classification { accuracy: 0.9, auc_macro_ovr: 0.9, log_loss: None };
        let b = serde_json::to_string(&b).unwrap();
        std::fs::write(&path, format!("{a}\n{b}\n")).unwrap();
        let f = ResultsFile::<RunRow>::open(&path).unwrap();
        assert_eq!(f.rows().len(), 1);
        assert_eq!(f.rows()[0].accuracy(), 0.5);
    }
}
