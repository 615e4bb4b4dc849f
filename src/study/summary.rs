//! From result rows to the study's answer: per size, every method's mean and 95%
//! confidence interval, its paired difference to `none`, and the best method.

use super::results::RunRow;
use crate::evaluate::{paired_comparison, PairedComparison, Summary};
use crate::plot::{bar_chart_ci, line_chart, Figure, Series};
use crate::{Error, Result};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Confidence level of every interval in the summary.
pub const LEVEL: f64 = 0.95;

/// One method at one size, over seeds.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MethodSummary {
    pub n_per_class: usize,
    pub method: String,
    pub seeds: usize,
    /// Mean ± CI; the interval is empty (low = high = mean) with a single seed.
    pub accuracy: Summary,
    pub auc: Summary,
    /// `method − none` on the same seeds (absent for `none` itself and with < 2 seeds).
    pub accuracy_vs_none: Option<PairedComparison>,
    pub auc_vs_none: Option<PairedComparison>,
    pub train_seconds: f64,
}

/// The best method at one size, by mean AUC (ties broken by accuracy).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Best {
    pub n_per_class: usize,
    pub method: String,
    pub auc: f64,
    pub accuracy: f64,
    /// Its paired AUC difference to `none` (absent when it is `none`).
    pub auc_vs_none: Option<PairedComparison>,
}

/// The whole table.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StudySummary {
    pub rows: Vec<MethodSummary>,
    pub best: Vec<Best>,
    /// The method every other is compared with (`none` in the augmentation study).
    pub baseline: String,
}


/// Summarise `rows` in the order of `sizes` and `methods`. Only seeds present for
/// every method of a size are used, so paired differences compare like with like.
pub fn summarize(rows: &[RunRow], sizes: &[usize], methods: &[String]) -> Result<StudySummary> {
    summarize_against(rows, sizes, methods, "none")
}

/// [`summarize`] with paired differences to `baseline` instead of `none`.
pub fn summarize_against(rows: &[RunRow], sizes: &[usize], methods: &[String], baseline: &str) -> Result<StudySummary> {
    let mut by: BTreeMap<(usize, &str), BTreeMap<u64, &RunRow>> = BTreeMap::new();
    for r in rows {
        by.entry((r.n_per_class, r.augment.as_str())).or_default().insert(r.seed, r);
    }
    let mut out = StudySummary { rows: Vec::new(), best: Vec::new(), baseline: baseline.to_string() };
    for &n in sizes {
        let present: Vec<&str> = methods.iter().map(String::as_str).filter(|m| by.contains_key(&(n, *m))).collect();
        if present.is_empty() {
            continue;
        }
        let seeds: Vec<u64> = by[&(n, present[0])].keys().copied().filter(|s| present.iter().all(|m| by[&(n, *m)].contains_key(s))).collect();
        if seeds.is_empty() {
            continue;
        }
        let values = |m: &str, f: fn(&RunRow) -> f64| -> Vec<f64> { seeds.iter().map(|s| f(by[&(n, m)][s])).collect() };
        let base = present.contains(&baseline).then(|| (values(baseline, |r| r.accuracy), values(baseline, |r| r.auc_macro_ovr)));
        let first = out.rows.len();
        for &m in &present {
            let (acc, auc) = (values(m, |r| r.accuracy), values(m, |r| r.auc_macro_ovr));
            let vs = |b: &[f64], x: &[f64]| -> Result<Option<PairedComparison>> {
                if m == baseline || seeds.len() < 2 {
                    return Ok(None);
                }
                paired_comparison(b, x, LEVEL).map(Some)
            };
            let (acc_vs, auc_vs) = match &base {
                Some((ba, bu)) => (vs(ba, &acc)?, vs(bu, &auc)?),
                None => (None, None),
            };
            let secs = values(m, |r| r.train_seconds);
            out.rows.push(MethodSummary {
                n_per_class: n,
                method: m.to_string(),
                seeds: seeds.len(),
                accuracy: Summary::of_runs(&acc)?,
                auc: Summary::of_runs(&auc)?,
                accuracy_vs_none: acc_vs,
                auc_vs_none: auc_vs,
                train_seconds: secs.iter().sum::<f64>() / secs.len() as f64,
            });
        }
        let best = out.rows[first..]
            .iter()
            .max_by(|a, b| a.auc.mean.total_cmp(&b.auc.mean).then(a.accuracy.mean.total_cmp(&b.accuracy.mean)))
            .expect("at least one method");
        out.best.push(Best {
            n_per_class: n,
            method: best.method.clone(),
            auc: best.auc.mean,
            accuracy: best.accuracy.mean,
            auc_vs_none: best.auc_vs_none,
        });
    }
    if out.rows.is_empty() {
        return Err(Error::invalid("results", rows.len(), "no finished runs match the study's sizes and methods"));
    }
    Ok(out)
}

fn pm(s: &Summary) -> String {
    if s.n >= 2 {
        format!("{:.4} ± {:.4}", s.mean, s.half_width())
    } else {
        format!("{:.4}", s.mean)
    }
}

fn diff(c: &Option<PairedComparison>) -> (String, String) {
    match c {
        Some(c) => (format!("{:+.4} ± {:.4}", c.mean_diff, (c.ci_high - c.ci_low) / 2.0), format!("{:.3}", c.p_value)),
        None => ("—".into(), "—".into()),
    }
}

impl StudySummary {
    /// A plain-text table, one line per (size, method), then the best per size.
    pub fn to_table(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{:>7}  {:<22} {:>5}  {:<17} {:<17} {:<17} {:>6}  {:<17} {:>6}",
            "n/class",
            "method",
            "seeds",
            "accuracy",
            "AUC (OvR macro)",
            format!("Δacc vs {}", self.baseline),
            "p",
            format!("ΔAUC vs {}", self.baseline),
            "p"
        );
        for r in &self.rows {
            let (da, pa) = diff(&r.accuracy_vs_none);
            let (du, pu) = diff(&r.auc_vs_none);
            let _ = writeln!(
                s,
                "{:>7}  {:<22} {:>5}  {:<17} {:<17} {:<17} {:>6}  {:<17} {:>6}",
                r.n_per_class,
                r.method,
                r.seeds,
                pm(&r.accuracy),
                pm(&r.auc),
                da,
                pa,
                du,
                pu
            );
        }
        let _ = writeln!(s, "(mean ± half-width of the {:.0}% CI over seeds; Δ: paired difference to {}, p: paired t-test)", LEVEL * 100.0, self.baseline);
        for b in &self.best {
            let _ = writeln!(s, "{}", self.best_sentence(b));
        }
        s
    }

    fn best_sentence(&self, b: &Best) -> String {
        let tail = match &b.auc_vs_none {
            Some(c) => format!(
                "; AUC {:+.4} vs {} (95% CI {:+.4} to {:+.4}, p = {:.3}){}",
                c.mean_diff,
                self.baseline,
                c.ci_low,
                c.ci_high,
                c.p_value,
                if c.ci_low > 0.0 { String::new() } else { format!(" — not distinguishable from {} at this number of seeds", self.baseline) }
            ),
            None if b.method == self.baseline => format!(" (nothing beat {})", self.baseline),
            None => String::new(),
        };
        format!("best at n = {}: {} (AUC {:.4}, accuracy {:.4}){}", b.n_per_class, b.method, b.auc, b.accuracy, tail)
    }

    /// CSV with one row per (size, method): means, CI edges, paired differences, p-values.
    pub fn to_csv(&self) -> String {
        let mut s = String::from(
            "n_per_class,method,seeds,accuracy_mean,accuracy_ci_low,accuracy_ci_high,auc_mean,auc_ci_low,auc_ci_high,\
             accuracy_diff_vs_none,accuracy_diff_ci_low,accuracy_diff_ci_high,accuracy_p_value,\
             auc_diff_vs_none,auc_diff_ci_low,auc_diff_ci_high,auc_p_value,train_seconds_mean,best\n",
        );
        let cmp = |c: &Option<PairedComparison>| match c {
            Some(c) => format!("{},{},{},{}", c.mean_diff, c.ci_low, c.ci_high, c.p_value),
            None => ",,,".into(),
        };
        for r in &self.rows {
            let best = self.best.iter().any(|b| b.n_per_class == r.n_per_class && b.method == r.method);
            let _ = writeln!(
                s,
                "{},{},{},{},{},{},{},{},{},{},{},{},{}",
                r.n_per_class,
                r.method,
                r.seeds,
                r.accuracy.mean,
                r.accuracy.ci_low,
                r.accuracy.ci_high,
                r.auc.mean,
                r.auc.ci_low,
                r.auc.ci_high,
                cmp(&r.accuracy_vs_none),
                cmp(&r.auc_vs_none),
                r.train_seconds,
                best
            );
        }
        s
    }

    /// The table as HTML (what evcxr shows inline).
    pub fn to_html(&self) -> String {
        let mut s = String::from(
            "<table><thead><tr><th>n/class</th><th>method</th><th>seeds</th><th>accuracy</th><th>AUC (OvR macro)</th>\
             <th>Δacc vs BASE</th><th>p</th><th>ΔAUC vs BASE</th><th>p</th></tr></thead><tbody>",
        )
        .replace("BASE", &html_escape(&self.baseline));
        for r in &self.rows {
            let best = self.best.iter().any(|b| b.n_per_class == r.n_per_class && b.method == r.method);
            let (da, pa) = diff(&r.accuracy_vs_none);
            let (du, pu) = diff(&r.auc_vs_none);
            let style = if best { " style=\"font-weight:bold\"" } else { "" };
            let _ = write!(
                s,
                "<tr{style}><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{da}</td><td>{pa}</td><td>{du}</td><td>{pu}</td></tr>",
                r.n_per_class,
                html_escape(&r.method),
                r.seeds,
                pm(&r.accuracy),
                pm(&r.auc)
            );
        }
        s.push_str("</tbody></table><ul>");
        for b in &self.best {
            let _ = write!(s, "<li>{}</li>", html_escape(&self.best_sentence(b)));
        }
        s.push_str("</ul>");
        s
    }

    /// Show the table inline in evcxr.
    pub fn evcxr_display(&self) {
        println!("EVCXR_BEGIN_CONTENT text/html\n{}\nEVCXR_END_CONTENT", self.to_html());
    }

    /// A metric (`accuracy` or `auc`) against n per class, one line per method with
    /// its confidence band.
    pub fn metric_vs_n_chart(&self, metric: &str) -> Result<Figure> {
        let pick = |r: &MethodSummary| -> Result<Summary> {
            match metric {
                "accuracy" => Ok(r.accuracy),
                "auc" => Ok(r.auc),
                other => Err(Error::invalid("metric", other, "accuracy or auc")),
            }
        };
        let mut series: Vec<Series> = Vec::new();
        for r in &self.rows {
            let s = pick(r)?;
            let i = match series.iter().position(|x| x.name == r.method) {
                Some(i) => i,
                None => {
                    series.push(Series { name: r.method.clone(), x: vec![], y: vec![], band: Some((vec![], vec![])) });
                    series.len() - 1
                }
            };
            let e = &mut series[i];
            e.x.push(r.n_per_class as f64);
            e.y.push(s.mean);
            if let Some((lo, hi)) = &mut e.band {
                lo.push(s.ci_low);
                hi.push(s.ci_high);
            }
        }
        let label = if metric == "auc" { "AUC-ROC (one-vs-rest, macro)" } else { "accuracy" };
        line_chart(&format!("{label} vs training images per class (95% CI)"), "images per class", label, series, true)
    }

    /// Per size: each method's paired accuracy (or AUC) difference to `none`, with its
    /// 95% CI, as bars. `None` when there is no baseline or fewer than 2 seeds.
    pub fn gain_chart(&self, n_per_class: usize, metric: &str) -> Result<Option<Figure>> {
        let rows: Vec<&MethodSummary> = self.rows.iter().filter(|r| r.n_per_class == n_per_class && r.method != self.baseline).collect();
        let cmp: Vec<(String, PairedComparison)> = rows
            .iter()
            .filter_map(|r| {
                let c = if metric == "auc" { r.auc_vs_none } else { r.accuracy_vs_none };
                c.map(|c| (r.method.clone(), c))
            })
            .collect();
        if cmp.is_empty() {
            return Ok(None);
        }
        let labels: Vec<String> = cmp.iter().map(|(m, _)| m.clone()).collect();
        let values: Vec<f64> = cmp.iter().map(|(_, c)| c.mean_diff).collect();
        let errors: Vec<(f64, f64)> = cmp.iter().map(|(_, c)| (c.ci_low, c.ci_high)).collect();
        let what = if metric == "auc" { "AUC" } else { "accuracy" };
        bar_chart_ci(
            &format!("{what} gain over {}, n = {n_per_class} per class (paired, 95% CI)", if self.baseline == "none" { "no augmentation" } else { &self.baseline }),
            &labels,
            &values,
            &errors,
            &format!("Δ {what}"),
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

pub(crate) fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(n: usize, m: &str, seed: u64, acc: f64) -> RunRow {
        RunRow {
            n_per_class: n,
            augment: m.into(),
            seed,
            accuracy: acc,
            auc_macro_ovr: 0.5 + acc / 2.0,
            log_loss: Some(1.0),
            train_seconds: 2.0,
            eval_seconds: 0.5,
            final_train_loss: Some(0.1),
            test_images: 100,
            method: m.into(),
            protocol: "p".into(),
        }
    }

    #[test]
    fn paired_differences_and_best_follow_the_rows() {
        let mut rows = Vec::new();
        for (seed, base) in [(0, 0.60), (1, 0.64), (2, 0.62)] {
            rows.push(row(10, "none", seed, base));
            rows.push(row(10, "crop", seed, base + 0.05 + 0.01 * seed as f64));
            rows.push(row(10, "noise", seed, base - 0.01));
        }
        rows.push(row(10, "crop", 7, 0.99)); // a seed the others lack: ignored
        let methods: Vec<String> = ["none", "crop", "noise"].map(String::from).to_vec();
        let s = summarize(&rows, &[10], &methods).unwrap();
        assert_eq!(s.rows.len(), 3);
        let crop = &s.rows[1];
        assert_eq!(crop.seeds, 3);
        assert!((crop.accuracy.mean - 0.68).abs() < 1e-12);
        let d = crop.accuracy_vs_none.unwrap();
        assert!((d.mean_diff - 0.06).abs() < 1e-12);
        // differences 0.05, 0.06, 0.07: sd 0.01, t = 0.06 / (0.01/√3)
        assert!((d.t - 0.06 / (0.01 / 3f64.sqrt())).abs() < 1e-6);
        let noise = s.rows[2].accuracy_vs_none.unwrap();
        assert_eq!(noise.p_value, 0.0); // every difference exactly −0.01
        assert!(s.rows[0].accuracy_vs_none.is_none());
        assert_eq!(s.best[0].method, "crop");
        let table = s.to_table();
        assert!(table.contains("best at n = 10: crop"), "{table}");
        let csv = s.to_csv();
        assert_eq!(csv.lines().count(), 4);
        assert!(csv.lines().nth(2).unwrap().starts_with("10,crop,3,0.68"));
        assert!(csv.lines().nth(2).unwrap().ends_with(",true"));
        assert!(s.metric_vs_n_chart("accuracy").is_ok());
        assert!(s.gain_chart(10, "auc").unwrap().is_some());
        assert!(s.metric_vs_n_chart("f1").is_err());
    }

    #[test]
    fn one_seed_gives_means_without_intervals() {
        let rows = vec![row(5, "none", 0, 0.5), row(5, "crop", 0, 0.6)];
        let s = summarize(&rows, &[5], &["none".into(), "crop".into()]).unwrap();
        assert_eq!(s.rows[1].accuracy.n, 1);
        assert!(s.rows[1].accuracy_vs_none.is_none());
        assert!(s.gain_chart(5, "accuracy").unwrap().is_none());
        assert!(summarize(&rows, &[50], &["none".into()]).is_err());
    }
}
