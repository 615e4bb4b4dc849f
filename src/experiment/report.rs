//! An experiment's files beside `results.jsonl` and `study.json`: `summary.csv`,
//! the charts (SVG and PNG) and `index.html`.

use super::engine::ArmInfo;
use super::summary::{html_escape, ExperimentSummary};
use crate::io::write_atomic;
use crate::plot::Figure;
use crate::Result;
use std::path::{Path, PathBuf};

/// What the page says beside the numbers.
#[derive(Debug, Clone, Copy)]
pub struct ReportInfo<'a> {
    pub title: &'a str,
    /// Paragraphs on the data and the set-up (data source, test part, classes, …).
    pub notes: &'a [String],
    pub arms: &'a [ArmInfo],
    pub seeds: usize,
}

/// The charts of a summary: each shown metric against size (for a table with
/// per-arm baselines, the baselines only), and per size the paired change of each
/// arm in the primary metric and, for classification, accuracy.
pub fn charts(summary: &ExperimentSummary) -> Result<Vec<(String, Figure)>> {
    use super::results::Metric;
    let baselines: Vec<&str> = {
        let mut b: Vec<&str> = summary.rows.iter().filter_map(|r| r.baseline.as_deref()).filter(|b| *b != summary.baseline).collect();
        b.sort_unstable();
        b.dedup();
        b
    };
    let mut out = Vec::new();
    let over_n: Vec<Metric> = summary.metrics.iter().copied().filter(|m| !matches!(m, Metric::LogLoss | Metric::R2)).collect();
    for &m in &over_n {
        out.push((format!("{}_vs_n", m.name()), summary.metric_vs_n_chart(m, &baselines)?));
    }
    let mut sizes: Vec<usize> = summary.rows.iter().map(|r| r.size).collect();
    sizes.dedup();
    for &n in &sizes {
        for &m in &over_n {
            if let Some(f) = summary.gain_chart(n, m)? {
                out.push((format!("gain_{}_n{n}", m.name()), f));
            }
        }
    }
    Ok(out)
}

/// Write `summary.csv`, the charts and `index.html` into `out`; returns the page's path.
pub fn write_report(out: &Path, summary: &ExperimentSummary, info: &ReportInfo) -> Result<PathBuf> {
    write_atomic(&out.join("summary.csv"), summary.to_csv()?.as_bytes())?;
    let charts = charts(summary)?;
    for (name, fig) in &charts {
        fig.save(out.join(format!("{name}.svg")))?;
        fig.save(out.join(format!("{name}.png")))?;
    }
    let arms: String = info
        .arms
        .iter()
        .map(|a| {
            let vs = a.baseline.as_ref().map(|b| format!(" (compared with <b>{}</b>)", html_escape(b))).unwrap_or_default();
            format!("<li><b>{}</b>: {}{vs}</li>", html_escape(&a.name), html_escape(&a.params))
        })
        .collect();
    let notes: String = info.notes.iter().map(|n| format!("<p>{}</p>", html_escape(n))).collect();
    let figures: String = charts.iter().map(|(name, f)| format!("<figure>{}<figcaption>{name}.svg</figcaption></figure>", f.svg)).collect();
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>smalldata: {title}</title>\
         <style>body{{font-family:sans-serif;max-width:1200px;margin:2em auto}}table{{border-collapse:collapse}}\
         td,th{{padding:2px 8px;border-bottom:1px solid #ddd;text-align:right}}td:nth-child(2),th:nth-child(2){{text-align:left}}\
         figure{{display:inline-block;margin:1em}}</style></head><body>\
         <h1>{title}</h1>{notes}\
         <p>{seeds} seed(s); each seed fixes the training draw shared by every arm (and, where an arm trains a network, \
         its initial weights and batch order), so differences between arms are paired.</p>\
         <h2>Arms</h2><ul>{arms}</ul>\
         <h2>Results</h2>{table}\
         <p>Rows of every run: <a href=\"results.jsonl\">results.jsonl</a>; this table: <a href=\"summary.csv\">summary.csv</a>; \
         what was run: <a href=\"study.json\">study.json</a>.</p>\
         <h2>Charts</h2>{figures}</body></html>",
        title = html_escape(info.title),
        seeds = info.seeds,
        table = summary.to_html(),
    );
    let page = out.join("index.html");
    write_atomic(&page, html.as_bytes())?;
    Ok(page)
}
