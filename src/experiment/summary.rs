//! From result rows to an experiment's answer: per size and arm, every metric's mean
//! and 95% confidence interval over seeds, the paired difference to the arm's
//! baseline with its interval and p-value, the Holm-adjusted p across the arms
//! compared at that size, and the best arm per size.

use super::engine::ArmInfo;
use super::results::{Metric, RunRow};
use crate::evaluate::{holm_adjust, paired_comparison, PairedComparison, Summary};
use crate::plot::{bar_chart_ci, line_chart, Figure, Series};
use crate::{Error, Result};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Confidence level of every interval in a summary.
pub const LEVEL: f64 = 0.95;

/// One metric of one arm at one size.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct MetricSummary {
    pub metric: Metric,
    /// Mean ± CI over seeds; the interval is empty (low = high = mean) with one seed.
    pub summary: Summary,
    /// `arm − baseline` on the same seeds (absent for the baseline itself, with
    /// fewer than 2 seeds, or when the baseline did not run).
    pub vs_baseline: Option<PairedComparison>,
    /// The paired test's p adjusted by Holm's method across every arm compared at
    /// this size on this metric.
    pub holm_p: Option<f64>,
}

/// One arm at one size, over seeds.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ArmSummary {
    pub size: usize,
    pub arm: String,
    pub baseline: Option<String>,
    pub seeds: usize,
    pub metrics: Vec<MetricSummary>,
    pub train_seconds: f64,
}

impl ArmSummary {
    /// The summary of `metric`, when the runs measured it.
    pub fn metric(&self, metric: Metric) -> Option<&MetricSummary> {
        self.metrics.iter().find(|m| m.metric == metric)
    }

    /// Mean ± CI of `metric`; a NaN summary (n = 0) when the runs did not measure it.
    pub fn get(&self, metric: Metric) -> Summary {
        self.metric(metric).map(|m| m.summary).unwrap_or(Summary { n: 0, mean: f64::NAN, std: f64::NAN, level: LEVEL, ci_low: f64::NAN, ci_high: f64::NAN })
    }
}

/// The best arm at one size by the primary metric (AUC, or RMSE for regression).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Best {
    pub size: usize,
    pub arm: String,
    pub metric: Metric,
    pub mean: f64,
    /// Its paired difference to its baseline and the Holm-adjusted p.
    pub vs_baseline: Option<PairedComparison>,
    pub holm_p: Option<f64>,
    pub baseline: Option<String>,
}

/// The whole table.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ExperimentSummary {
    pub rows: Vec<ArmSummary>,
    pub best: Vec<Best>,
    /// The arm compared with unless an arm names its own (`none`, `scratch`).
    pub baseline: String,
    /// The metrics measured, primary first.
    pub metrics: Vec<Metric>,
    /// What a size counts ("images per class", "training rows").
    pub size_label: String,
}

/// Summarise `rows` in the order of `sizes` and `arms`. Only seeds present for every
/// arm of a size are used, so paired differences compare like with like.
pub fn summarize(rows: &[RunRow], sizes: &[usize], arms: &[ArmInfo], baseline: &str, size_label: &str) -> Result<ExperimentSummary> {
    let metrics: Vec<Metric> = match rows.first() {
        Some(r) => Metric::of_task(r.scores.is_classification()).iter().copied().filter(|&m| rows.iter().all(|r| r.metric(m).is_some())).collect(),
        None => return Err(Error::invalid("results", 0, "no finished runs to summarise")),
    };
    let mut by: BTreeMap<(usize, &str), BTreeMap<u64, &RunRow>> = BTreeMap::new();
    for r in rows {
        by.entry((r.size, r.arm.as_str())).or_default().insert(r.seed, r);
    }
    let mut out = ExperimentSummary { rows: Vec::new(), best: Vec::new(), baseline: baseline.into(), metrics: metrics.clone(), size_label: size_label.into() };
    for &n in sizes {
        let present: Vec<&ArmInfo> = arms.iter().filter(|a| by.contains_key(&(n, a.name.as_str()))).collect();
        let Some(first) = present.first() else { continue };
        let seeds: Vec<u64> =
            by[&(n, first.name.as_str())].keys().copied().filter(|s| present.iter().all(|a| by[&(n, a.name.as_str())].contains_key(s))).collect();
        if seeds.is_empty() {
            continue;
        }
        let values = |arm: &str, m: Metric| -> Vec<f64> { seeds.iter().map(|s| by[&(n, arm)][s].metric(m).unwrap_or(f64::NAN)).collect() };
        let start = out.rows.len();
        for a in &present {
            let mut ms = Vec::new();
            for &m in &metrics {
                let x = values(&a.name, m);
                let vs = match &a.baseline {
                    Some(b) if seeds.len() >= 2 && by.contains_key(&(n, b.as_str())) => Some(paired_comparison(&values(b, m), &x, LEVEL)?),
                    _ => None,
                };
                ms.push(MetricSummary { metric: m, summary: Summary::of_runs(&x)?, vs_baseline: vs, holm_p: None });
            }
            let secs: Vec<f64> = seeds.iter().map(|s| by[&(n, a.name.as_str())][s].train_seconds).collect();
            out.rows.push(ArmSummary {
                size: n,
                arm: a.name.clone(),
                baseline: a.baseline.clone(),
                seeds: seeds.len(),
                metrics: ms,
                train_seconds: secs.iter().sum::<f64>() / secs.len() as f64,
            });
        }
        // Holm across the arms compared at this size, one family per metric
        for k in 0..metrics.len() {
            let idx: Vec<usize> = (start..out.rows.len()).filter(|&i| out.rows[i].metrics[k].vs_baseline.is_some()).collect();
            let ps: Vec<f64> = idx.iter().filter_map(|&i| out.rows[i].metrics[k].vs_baseline.map(|c| c.p_value)).collect();
            for (&i, p) in idx.iter().zip(holm_adjust(&ps)?) {
                out.rows[i].metrics[k].holm_p = Some(p);
            }
        }
        let primary = metrics[0];
        let sign = if primary.higher_is_better() { 1.0 } else { -1.0 };
        let best = out.rows[start..]
            .iter()
            .max_by(|a, b| {
                let (x, y) = (sign * a.metrics[0].summary.mean, sign * b.metrics[0].summary.mean);
                let tie = |r: &ArmSummary| r.metrics.get(1).map(|m| m.summary.mean * if m.metric.higher_is_better() { 1.0 } else { -1.0 }).unwrap_or(0.0);
                x.total_cmp(&y).then(tie(a).total_cmp(&tie(b)))
            })
            .ok_or_else(|| Error::invalid("results", rows.len(), "no arm at this size"))?;
        out.best.push(Best {
            size: n,
            arm: best.arm.clone(),
            metric: primary,
            mean: best.metrics[0].summary.mean,
            vs_baseline: best.metrics[0].vs_baseline,
            holm_p: best.metrics[0].holm_p,
            baseline: best.baseline.clone(),
        });
    }
    if out.rows.is_empty() {
        return Err(Error::invalid("results", rows.len(), "no finished runs match the experiment's sizes and arms"));
    }
    Ok(out)
}

fn pm(s: &Summary, digits: usize) -> String {
    if s.n >= 2 {
        format!("{:.digits$} ± {:.digits$}", s.mean, s.half_width())
    } else {
        format!("{:.digits$}", s.mean)
    }
}

fn diff(c: &Option<PairedComparison>, digits: usize) -> (String, String) {
    match c {
        Some(c) => (format!("{:+.digits$} ± {:.digits$}", c.mean_diff, (c.ci_high - c.ci_low) / 2.0), format!("{:.3}", c.p_value)),
        None => ("—".into(), "—".into()),
    }
}

fn digits(m: Metric) -> usize {
    match m {
        Metric::Accuracy | Metric::Auc | Metric::R2 => 4,
        _ => 3,
    }
}

impl ExperimentSummary {
    /// The two metrics a table shows: accuracy and AUC, or RMSE and MAE.
    fn shown(&self) -> Vec<Metric> {
        let mut m: Vec<Metric> = self.metrics.iter().copied().filter(|m| !matches!(m, Metric::LogLoss | Metric::R2)).collect();
        m.sort();
        m
    }

    /// The rows of one arm, one per size.
    pub fn arm(&self, arm: &str) -> Vec<&ArmSummary> {
        self.rows.iter().filter(|r| r.arm == arm).collect()
    }

    /// The row of `arm` at `size`.
    pub fn get(&self, size: usize, arm: &str) -> Option<&ArmSummary> {
        self.rows.iter().find(|r| r.size == size && r.arm == arm)
    }

    fn header_and_cells(&self) -> (Vec<String>, Vec<Vec<String>>) {
        let shown = self.shown();
        let mut header: Vec<String> = vec!["n".into(), "arm".into(), "seeds".into()];
        header.extend(shown.iter().map(|m| m.label().to_string()));
        for m in &shown {
            header.extend([format!("Δ{}", m.label()), "p".into(), "p (Holm)".into()]);
        }
        let cells = self
            .rows
            .iter()
            .map(|r| {
                let mut c = vec![r.size.to_string(), r.arm.clone(), r.seeds.to_string()];
                c.extend(shown.iter().map(|&m| pm(&r.get(m), digits(m))));
                for &m in &shown {
                    let ms = r.metric(m);
                    let (d, p) = diff(&ms.and_then(|x| x.vs_baseline), digits(m));
                    let h = ms.and_then(|x| x.holm_p).map(|p| format!("{p:.3}")).unwrap_or_else(|| "—".into());
                    c.extend([d, p, h]);
                }
                c
            })
            .collect();
        (header, cells)
    }

    /// A plain-text table, one line per (size, arm), then the best per size.
    pub fn to_table(&self) -> String {
        let (header, cells) = self.header_and_cells();
        let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
        for row in &cells {
            for (w, c) in widths.iter_mut().zip(row) {
                *w = (*w).max(c.chars().count());
            }
        }
        let line = |cells: &[String]| -> String {
            let parts: Vec<String> = cells
                .iter()
                .zip(&widths)
                .enumerate()
                .map(|(i, (c, &w))| {
                    let pad = w - c.chars().count();
                    if i == 1 { format!("{c}{}", " ".repeat(pad)) } else { format!("{}{c}", " ".repeat(pad)) }
                })
                .collect();
            parts.join("  ").trim_end().to_string()
        };
        let mut s = String::new();
        let _ = writeln!(s, "{}", line(&header));
        for row in &cells {
            let _ = writeln!(s, "{}", line(row));
        }
        let _ = writeln!(
            s,
            "(n: {}; mean ± half-width of the {:.0}% CI over seeds; Δ: paired difference to {} on the same seeds, p: paired t-test, p (Holm): adjusted across the arms at that n)",
            self.size_label,
            LEVEL * 100.0,
            self.baseline_phrase()
        );
        for b in &self.best {
            let _ = writeln!(s, "{}", self.best_sentence(b));
        }
        s
    }

    fn baseline_phrase(&self) -> String {
        if self.rows.iter().any(|r| r.baseline.as_deref().is_some_and(|b| b != self.baseline)) {
            "each arm's baseline".into()
        } else {
            self.baseline.clone()
        }
    }

    /// "best at n = 10: crop (AUC 0.9557); AUC +0.0051 vs none (95% CI …, p = …, Holm p = …)".
    pub fn best_sentence(&self, b: &Best) -> String {
        let d = digits(b.metric);
        let base = b.baseline.clone().unwrap_or_else(|| self.baseline.clone());
        let tail = match &b.vs_baseline {
            Some(c) => {
                let clear = if b.metric.higher_is_better() { c.ci_low > 0.0 } else { c.ci_high < 0.0 };
                format!(
                    "; {} {:+.d$} vs {base} (95% CI {:+.d$} to {:+.d$}, p = {:.3}, Holm p = {}){}",
                    b.metric.label(),
                    c.mean_diff,
                    c.ci_low,
                    c.ci_high,
                    c.p_value,
                    b.holm_p.map(|p| format!("{p:.3}")).unwrap_or_else(|| "—".into()),
                    if clear { String::new() } else { format!(" — not distinguishable from {base} at this number of seeds") }
                )
            }
            None if b.baseline.is_none() => format!(" (nothing beat {})", self.baseline),
            None => String::new(),
        };
        format!("best at n = {}: {} ({} {:.d$}){}", b.size, b.arm, b.metric.label(), b.mean, tail)
    }

    /// CSV (through the `csv` crate): one record per (size, arm) with every metric's
    /// mean and CI edges, the paired difference with its CI, p and Holm p.
    pub fn to_csv(&self) -> Result<String> {
        let mut w = csv::Writer::from_writer(Vec::new());
        let mut header: Vec<String> = vec!["size".into(), "arm".into(), "baseline".into(), "seeds".into()];
        for m in &self.metrics {
            let n = m.name();
            header.extend(
                ["mean", "ci_low", "ci_high", "diff", "diff_ci_low", "diff_ci_high", "p_value", "p_holm"].iter().map(|s| format!("{n}_{s}")),
            );
        }
        header.extend(["train_seconds_mean".into(), "best".into()]);
        let csv_err = |e: csv::Error| Error::invalid("summary.csv", "record", e.to_string());
        w.write_record(&header).map_err(csv_err)?;
        let num = |x: Option<f64>| x.map(|v| v.to_string()).unwrap_or_default();
        for r in &self.rows {
            let best = self.best.iter().any(|b| b.size == r.size && b.arm == r.arm);
            let mut rec = vec![r.size.to_string(), r.arm.clone(), r.baseline.clone().unwrap_or_default(), r.seeds.to_string()];
            for &m in &self.metrics {
                let ms = r.metric(m);
                let s = ms.map(|x| x.summary);
                let c = ms.and_then(|x| x.vs_baseline);
                rec.extend([
                    num(s.map(|s| s.mean)),
                    num(s.map(|s| s.ci_low)),
                    num(s.map(|s| s.ci_high)),
                    num(c.map(|c| c.mean_diff)),
                    num(c.map(|c| c.ci_low)),
                    num(c.map(|c| c.ci_high)),
                    num(c.map(|c| c.p_value)),
                    num(ms.and_then(|x| x.holm_p)),
                ]);
            }
            rec.extend([r.train_seconds.to_string(), best.to_string()]);
            w.write_record(&rec).map_err(csv_err)?;
        }
        let bytes = w.into_inner().map_err(|e| Error::invalid("summary.csv", "buffer", e.to_string()))?;
        String::from_utf8(bytes).map_err(|e| Error::invalid("summary.csv", "text", e.to_string()))
    }

    /// The table as HTML (what evcxr shows inline); the best arm per size in bold,
    /// and a sentence on each best arm below.
    pub fn to_html(&self) -> String {
        let mut s = self.to_html_table(true);
        s.push_str("<ul>");
        for b in &self.best {
            let _ = write!(s, "<li>{}</li>", html_escape(&self.best_sentence(b)));
        }
        s.push_str("</ul>");
        s
    }

    /// The table alone as HTML, the best arm per size in bold when `mark_best`.
    pub fn to_html_table(&self, mark_best: bool) -> String {
        let (header, cells) = self.header_and_cells();
        let mut s = String::from("<table><thead><tr>");
        for h in &header {
            let _ = write!(s, "<th>{}</th>", html_escape(h));
        }
        s.push_str("</tr></thead><tbody>");
        for (r, row) in self.rows.iter().zip(&cells) {
            let best = mark_best && self.best.iter().any(|b| b.size == r.size && b.arm == r.arm);
            s.push_str(if best { "<tr style=\"font-weight:bold\">" } else { "<tr>" });
            for c in row {
                let _ = write!(s, "<td>{}</td>", html_escape(c));
            }
            s.push_str("</tr>");
        }
        s.push_str("</tbody></table>");
        s
    }

    /// Show the table inline in evcxr.
    pub fn evcxr_display(&self) {
        println!("EVCXR_BEGIN_CONTENT text/html\n{}\nEVCXR_END_CONTENT", self.to_html());
    }

    /// `metric` against the training size, one line per arm with its 95% band.
    /// `arms`: only these arms (all when empty), e.g. the baselines of a tabular study.
    pub fn metric_vs_n_chart(&self, metric: Metric, arms: &[&str]) -> Result<Figure> {
        if !self.metrics.contains(&metric) {
            return Err(Error::invalid("metric", metric.name(), format!("this experiment measured {:?}", self.metrics.iter().map(Metric::name).collect::<Vec<_>>())));
        }
        let mut series: Vec<Series> = Vec::new();
        for r in self.rows.iter().filter(|r| arms.is_empty() || arms.contains(&r.arm.as_str())) {
            let s = r.get(metric);
            let i = match series.iter().position(|x| x.name == r.arm) {
                Some(i) => i,
                None => {
                    series.push(Series { name: r.arm.clone(), x: vec![], y: vec![], band: Some((vec![], vec![])) });
                    series.len() - 1
                }
            };
            let e = &mut series[i];
            e.x.push(r.size as f64);
            e.y.push(s.mean);
            if let Some((lo, hi)) = &mut e.band {
                lo.push(s.ci_low);
                hi.push(s.ci_high);
            }
        }
        line_chart(&format!("{} vs {} (95% CI)", metric.label(), self.size_label), &self.size_label, metric.label(), series, true)
    }

    /// At one size: each arm's paired difference in `metric` to its baseline, with
    /// its 95% CI, as bars. `None` when nothing was compared (one seed, no baseline).
    pub fn gain_chart(&self, size: usize, metric: Metric) -> Result<Option<Figure>> {
        let cmp: Vec<(String, PairedComparison)> = self
            .rows
            .iter()
            .filter(|r| r.size == size)
            .filter_map(|r| r.metric(metric).and_then(|m| m.vs_baseline).map(|c| (r.arm.clone(), c)))
            .collect();
        if cmp.is_empty() {
            return Ok(None);
        }
        let labels: Vec<String> = cmp.iter().map(|(m, _)| m.clone()).collect();
        let values: Vec<f64> = cmp.iter().map(|(_, c)| c.mean_diff).collect();
        let errors: Vec<(f64, f64)> = cmp.iter().map(|(_, c)| (c.ci_low, c.ci_high)).collect();
        let over = match self.baseline_phrase().as_str() {
            "none" => "no augmentation".to_string(),
            b => b.to_string(),
        };
        let better = if metric.higher_is_better() { "higher is better" } else { "lower is better" };
        bar_chart_ci(
            &format!("{} change over {over}, n = {size} (paired, 95% CI; {better})", metric.label()),
            &labels,
            &values,
            &errors,
            &format!("Δ {}", metric.label()),
        )
        .map(Some)
    }
}

/// An HTML table from a header and rows of cells (escaped).
pub fn html_table(header: &[&str], rows: impl Iterator<Item = Vec<String>>) -> String {
    let mut s = String::from("<table><thead><tr>");
    for h in header {
        let _ = write!(s, "<th>{}</th>", html_escape(h));
    }
    s.push_str("</tr></thead><tbody>");
    for row in rows {
        s.push_str("<tr>");
        for c in row {
            let _ = write!(s, "<td>{}</td>", html_escape(&c));
        }
        s.push_str("</tr>");
    }
    s.push_str("</tbody></table>");
    s
}

/// Escape text for HTML element content and attribute values.
pub fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::Scores;

    fn row(n: usize, m: &str, seed: u64, acc: f64) -> RunRow {
        RunRow {
            size: n,
            arm: m.into(),
            seed,
            scores: Scores::Classification { accuracy: acc, auc_macro_ovr: 0.5 + acc / 2.0, log_loss: Some(1.0) },
            train_seconds: 2.0,
            eval_seconds: 0.5,
            final_train_loss: Some(0.1),
            test_size: 100,
            arm_params: m.into(),
            detail: None,
            protocol: "p".into(),
        }
    }

    fn arms(names: &[&str], baseline: &str) -> Vec<ArmInfo> {
        names.iter().map(|n| ArmInfo { name: n.to_string(), params: n.to_string(), baseline: (*n != baseline).then(|| baseline.to_string()) }).collect()
    }

    #[test]
    fn paired_differences_holm_and_best_follow_the_rows() {
        let mut rows = Vec::new();
        for (seed, base) in [(0, 0.60), (1, 0.64), (2, 0.62)] {
            rows.push(row(10, "none", seed, base));
            rows.push(row(10, "crop", seed, base + 0.05 + 0.01 * seed as f64));
            rows.push(row(10, "noise", seed, base - 0.01 + 0.005 * seed as f64));
        }
        rows.push(row(10, "crop", 7, 0.99)); // a seed the others lack: ignored
        let s = summarize(&rows, &[10], &arms(&["none", "crop", "noise"], "none"), "none", "images per class").unwrap();
        assert_eq!(s.metrics, vec![Metric::Auc, Metric::Accuracy, Metric::LogLoss]);
        assert_eq!(s.rows.len(), 3);
        let crop = &s.rows[1];
        assert_eq!(crop.seeds, 3);
        assert!((crop.get(Metric::Accuracy).mean - 0.68).abs() < 1e-12);
        let d = crop.metric(Metric::Accuracy).unwrap().vs_baseline.unwrap();
        assert!((d.mean_diff - 0.06).abs() < 1e-12);
        // differences 0.05, 0.06, 0.07: sd 0.01, t = 0.06 / (0.01/√3)
        assert!((d.t - 0.06 / (0.01 / 3f64.sqrt())).abs() < 1e-6);
        // Holm over the two compared arms: the smaller p doubled, the larger kept (≥ it)
        let p_crop = d.p_value;
        let p_noise = s.rows[2].metric(Metric::Accuracy).unwrap().vs_baseline.unwrap().p_value;
        let (lo, hi) = if p_crop < p_noise { (p_crop, p_noise) } else { (p_noise, p_crop) };
        let holm: Vec<f64> = s.rows[1..].iter().map(|r| r.metric(Metric::Accuracy).unwrap().holm_p.unwrap()).collect();
        let want_lo = (2.0 * lo).min(1.0);
        assert!(holm.iter().any(|&h| (h - want_lo).abs() < 1e-12), "{holm:?}");
        assert!(holm.iter().any(|&h| (h - hi.max(want_lo)).abs() < 1e-12), "{holm:?}");
        assert!(s.rows[0].metric(Metric::Accuracy).unwrap().vs_baseline.is_none());
        assert_eq!(s.best[0].arm, "crop");
        let table = s.to_table();
        assert!(table.contains("best at n = 10: crop") && table.contains("Holm"), "{table}");
        let csv = s.to_csv().unwrap();
        assert_eq!(csv.lines().count(), 4);
        let mut rd = csv::Reader::from_reader(csv.as_bytes());
        let h = rd.headers().unwrap().clone();
        let rec: Vec<csv::StringRecord> = rd.records().map(|r| r.unwrap()).collect();
        let col = |name: &str| h.iter().position(|x| x == name).unwrap();
        assert_eq!(&rec[1][col("arm")], "crop");
        assert!((rec[1][col("accuracy_mean")].parse::<f64>().unwrap() - 0.68).abs() < 1e-12);
        assert_eq!(&rec[1][col("best")], "true");
        assert!(s.metric_vs_n_chart(Metric::Accuracy, &[]).is_ok());
        assert!(s.gain_chart(10, Metric::Auc).unwrap().is_some());
        assert!(s.metric_vs_n_chart(Metric::Rmse, &[]).is_err());
    }

    #[test]
    fn regression_prefers_the_lower_error_and_uses_each_arms_baseline() {
        let reg = |n: usize, arm: &str, seed: u64, rmse: f64| RunRow {
            scores: Scores::Regression { rmse, mae: rmse * 0.8, r2: 0.5 },
            ..row(n, arm, seed, 0.0)
        };
        let mut rows = Vec::new();
        for seed in 0..3u64 {
            let e = seed as f64;
            rows.extend([reg(20, "ridge/none", seed, 10.0 + e), reg(20, "ridge/jitter", seed, 9.0 + e * 1.1), reg(20, "knn/none", seed, 12.0 + e)]);
        }
        let arms = vec![
            ArmInfo { name: "ridge/none".into(), params: "".into(), baseline: None },
            ArmInfo { name: "ridge/jitter".into(), params: "".into(), baseline: Some("ridge/none".into()) },
            ArmInfo { name: "knn/none".into(), params: "".into(), baseline: None },
        ];
        let s = summarize(&rows, &[20], &arms, "none", "training rows").unwrap();
        assert_eq!(s.metrics[0], Metric::Rmse);
        assert_eq!(s.best[0].arm, "ridge/jitter");
        let c = s.rows[1].metric(Metric::Rmse).unwrap().vs_baseline.unwrap();
        assert!((c.mean_diff - (-1.0 + 0.1)).abs() < 1e-12, "{c:?}");
        assert!(s.rows[2].metric(Metric::Rmse).unwrap().vs_baseline.is_none());
    }

    #[test]
    fn one_seed_gives_means_without_intervals() {
        let rows = vec![row(5, "none", 0, 0.5), row(5, "crop", 0, 0.6)];
        let a = arms(&["none", "crop"], "none");
        let s = summarize(&rows, &[5], &a, "none", "images per class").unwrap();
        assert_eq!(s.rows[1].get(Metric::Accuracy).n, 1);
        assert!(s.rows[1].metric(Metric::Accuracy).unwrap().vs_baseline.is_none());
        assert!(s.gain_chart(5, Metric::Accuracy).unwrap().is_none());
        assert!(summarize(&rows, &[50], &a, "none", "").is_err());
    }
}
