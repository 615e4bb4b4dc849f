//! The study's files: `summary.csv`, charts (SVG and PNG) and `index.html`.

use super::summary::{html_escape, StudySummary};
use super::StudyConfig;
use crate::plot::{write_atomic, Figure};
use crate::Result;
use std::path::{Path, PathBuf};

/// Write the summary, the charts and the HTML page into `out`; returns the page's path.
pub fn write_report(cfg: &StudyConfig, summary: &StudySummary, data_source: &str, out: &Path) -> Result<PathBuf> {
    write_atomic(&out.join("summary.csv"), summary.to_csv().as_bytes())?;
    let mut charts: Vec<(String, Figure)> = vec![
        ("accuracy_vs_n".into(), summary.metric_vs_n_chart("accuracy")?),
        ("auc_vs_n".into(), summary.metric_vs_n_chart("auc")?),
    ];
    let mut sizes: Vec<usize> = summary.rows.iter().map(|r| r.n_per_class).collect();
    sizes.dedup();
    for &n in &sizes {
        for metric in ["accuracy", "auc"] {
            if let Some(f) = summary.gain_chart(n, metric)? {
                charts.push((format!("gain_{metric}_n{n}"), f));
            }
        }
    }
    for (name, fig) in &charts {
        fig.save(out.join(format!("{name}.svg")))?;
        fig.save(out.join(format!("{name}.png")))?;
    }
    let methods: Vec<String> = cfg.methods().iter().map(|m| format!("<li><b>{}</b>: {}</li>", html_escape(&m.name()), html_escape(&m.describe()))).collect();
    let figures: String = charts.iter().map(|(name, f)| format!("<figure>{}<figcaption>{name}.svg</figcaption></figure>", f.svg)).collect();
    let t = &cfg.train;
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>smalldata augmentation study</title>\
         <style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto}}table{{border-collapse:collapse}}\
         td,th{{padding:2px 8px;border-bottom:1px solid #ddd;text-align:right}}td:nth-child(2){{text-align:left}}\
         figure{{display:inline-block;margin:1em}}</style></head><body>\
         <h1>Augmentation study</h1>\
         <p>Data: {data}. Model: {model}. Training: {opt:?}, lr {lr}, batch {batch}, {length:?}, schedule {schedule:?}. \
         Seeds: {seeds} (each seed fixes the subsample, the initial weights and the batch order for every method). \
         Scores on {test}.</p>\
         <h2>Methods</h2><ul>{methods}</ul>\
         <h2>Results</h2>{table}\
         <p>Rows of every run: <a href=\"results.jsonl\">results.jsonl</a>; this table: <a href=\"summary.csv\">summary.csv</a>.</p>\
         <h2>Charts</h2>{figures}</body></html>",
        data = html_escape(data_source),
        model = cfg.model,
        opt = t.optimizer,
        lr = t.lr,
        batch = t.batch_size,
        length = t.length,
        schedule = t.schedule,
        seeds = cfg.seeds,
        test = match cfg.test_limit {
            Some(k) => format!("a stratified subset of {k} test images"),
            None => "the whole test set".into(),
        },
        methods = methods.join(""),
        table = summary.to_html(),
    );
    let page = out.join("index.html");
    write_atomic(&page, html.as_bytes())?;
    Ok(page)
}
