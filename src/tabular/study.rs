//! The small-data regression study: training sizes × augmentation × model × seeds,
//! scored by RMSE and MAE on held-out rows, resumable like the image study.
//!
//! For each seed the table is split once into a pool and a test set (`test_fraction`
//! of the rows); the `n` training rows are the first `n` of a seeded shuffle of the
//! pool, so sizes are nested and every model and augmentation of a seed sees the same
//! rows (paired design). Augmentation adds `ratio × n` synthetic rows made from the
//! training rows only.

use super::regressors::Regressor;
use crate::augment::tabular::{augment_and_concat, GaussianJitter, Mixup, Smogn, Smoter, TabularAugment};
use crate::data::{train_val_split, TabularData};
use crate::error::IoContext;
use crate::evaluate::{mae, paired_comparison, r2, rmse, PairedComparison, Summary};
use crate::plot::{bar_chart_ci, line_chart, write_atomic, Figure, Series};
use crate::study::{ResultsFile, Row};
use crate::{derive_seed, Error, Result};
use rand::seq::SliceRandom;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

/// Where the table comes from.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TabularSource {
    Diabetes,
    Winequality,
    Csv { path: PathBuf, target: String },
}

impl TabularSource {
    /// `diabetes`, `winequality`, or a path to a CSV (with `target` naming its column).
    pub fn parse(name: &str, target: &str) -> Self {
        match name {
            "diabetes" => TabularSource::Diabetes,
            "winequality" => TabularSource::Winequality,
            path => TabularSource::Csv { path: path.into(), target: target.into() },
        }
    }

    pub fn load(&self) -> Result<TabularData> {
        match self {
            TabularSource::Diabetes => TabularData::diabetes(),
            TabularSource::Winequality => TabularData::winequality(),
            TabularSource::Csv { path, target } => TabularData::from_csv(path, target),
        }
    }

    pub fn name(&self) -> String {
        match self {
            TabularSource::Diabetes => "diabetes".into(),
            TabularSource::Winequality => "winequality".into(),
            TabularSource::Csv { path, .. } => path.display().to_string(),
        }
    }
}

/// A tabular augmentation arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TabularMethod {
    None,
    Jitter,
    Mixup,
    Smoter,
    Smogn,
    /// Rows sampled from a Gaussian copula fitted on the training rows (features and target).
    Copula,
    /// Rows sampled from a conditional WGAN-GP fitted on the training rows.
    Gan,
}

impl std::str::FromStr for TabularMethod {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "none" => TabularMethod::None,
            "jitter" => TabularMethod::Jitter,
            "mixup" => TabularMethod::Mixup,
            "smoter" => TabularMethod::Smoter,
            "smogn" => TabularMethod::Smogn,
            "copula" => TabularMethod::Copula,
            "gan" => TabularMethod::Gan,
            other => return Err(Error::invalid("augmentation", other, "known: none, jitter, mixup, smoter, smogn, copula, gan")),
        })
    }
}

impl TabularMethod {
    pub fn name(&self) -> &'static str {
        match self {
            TabularMethod::None => "none",
            TabularMethod::Jitter => "jitter",
            TabularMethod::Mixup => "mixup",
            TabularMethod::Smoter => "smoter",
            TabularMethod::Smogn => "smogn",
            TabularMethod::Copula => "copula",
            TabularMethod::Gan => "gan",
        }
    }

    /// The augmentation (`None` for `none`).
    pub fn build(&self) -> Option<Box<dyn TabularAugment>> {
        match self {
            TabularMethod::None => None,
            TabularMethod::Jitter => Some(Box::new(GaussianJitter::default())),
            TabularMethod::Mixup => Some(Box::new(Mixup::default())),
            TabularMethod::Smoter => Some(Box::new(Smoter::default())),
            TabularMethod::Smogn => Some(Box::new(Smogn::default())),
            TabularMethod::Copula => Some(Box::new(crate::generate::CopulaSynth)),
            TabularMethod::Gan => Some(Box::new(crate::generate::GanSynth::default())),
        }
    }
}

/// A whole tabular study.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TabularStudyConfig {
    pub data: TabularSource,
    /// Training rows, one grid row each.
    pub sizes: Vec<usize>,
    pub methods: Vec<TabularMethod>,
    pub models: Vec<Regressor>,
    pub seeds: usize,
    /// Share of the rows held out for testing, per seed.
    pub test_fraction: f64,
    /// Synthetic rows added per training row.
    pub ratio: f64,
    pub out: PathBuf,
    pub progress: bool,
}

impl Default for TabularStudyConfig {
    /// Diabetes, 20/50/100/200 rows, every augmentation, OLS, ridge, lasso, SVR, kNN
    /// and the MLP, 5 seeds, 30% test rows, 1 synthetic row per real one.
    fn default() -> Self {
        TabularStudyConfig {
            data: TabularSource::Diabetes,
            sizes: vec![20, 50, 100, 200],
            methods: vec![TabularMethod::None, TabularMethod::Jitter, TabularMethod::Mixup, TabularMethod::Smoter, TabularMethod::Smogn],
            models: ["ols", "ridge", "lasso", "svr", "knn", "mlp"].iter().map(|m| m.parse().expect("known model")).collect(),
            seeds: 5,
            test_fraction: 0.3,
            ratio: 1.0,
            out: PathBuf::from("report/tabular"),
            progress: true,
        }
    }
}

/// One (size, augmentation, model, seed) result.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TabularRow {
    pub n_train: usize,
    pub augment: String,
    pub model: String,
    pub seed: u64,
    pub rmse: f64,
    pub mae: f64,
    pub r2: f64,
    pub fit_seconds: f64,
    pub test_rows: usize,
    pub protocol: String,
}

impl Row for TabularRow {
    type Key = (usize, String, String, u64);
    fn row_key(&self) -> Self::Key {
        (self.n_train, self.augment.clone(), self.model.clone(), self.seed)
    }
    fn protocol(&self) -> &str {
        &self.protocol
    }
}

impl TabularStudyConfig {
    /// Checks that need no data.
    pub fn check(&self) -> Result<()> {
        if self.sizes.is_empty() || self.sizes.contains(&0) {
            return Err(Error::invalid("sizes", format!("{:?}", self.sizes), "give training sizes of at least 1 row"));
        }
        if self.seeds == 0 {
            return Err(Error::invalid("seeds", 0, "a study needs at least 1 seed (3 or more for confidence intervals)"));
        }
        if self.methods.is_empty() || self.models.is_empty() {
            return Err(Error::invalid("methods / models", format!("{} / {}", self.methods.len(), self.models.len()), "need at least one of each"));
        }
        if !(self.test_fraction > 0.0 && self.test_fraction < 1.0) {
            return Err(Error::invalid("test fraction", self.test_fraction, "must lie strictly between 0 and 1"));
        }
        if !(self.ratio >= 0.0 && self.ratio.is_finite()) {
            return Err(Error::invalid("synthetic ratio", self.ratio, "must be ≥ 0"));
        }
        for m in &self.models {
            m.check()?;
        }
        Ok(())
    }

    fn protocol(&self) -> String {
        serde_json::json!({"data": self.data, "test_fraction": self.test_fraction, "ratio": self.ratio, "models": self.models}).to_string()
    }
}

/// One model × augmentation at one size, over seeds.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TabularSummaryRow {
    pub n_train: usize,
    pub model: String,
    pub augment: String,
    pub rmse: Summary,
    pub mae: Summary,
    /// `augment − none` for the same model and seeds (negative: the augmentation lowered the error).
    pub rmse_vs_none: Option<PairedComparison>,
    pub mae_vs_none: Option<PairedComparison>,
}

/// The result of [`run_tabular_study`].
#[derive(Debug, Clone)]
pub struct TabularOutcome {
    pub rows: Vec<TabularRow>,
    pub summary: Vec<TabularSummaryRow>,
    pub ran: usize,
    pub resumed: usize,
    pub report: PathBuf,
}

/// Run (or resume) a tabular study and write `results.jsonl`, `summary.csv`, charts
/// and `index.html` into `cfg.out`.
pub fn run_tabular_study(cfg: &TabularStudyConfig) -> Result<TabularOutcome> {
    cfg.check()?;
    let data = cfg.data.load()?;
    let pool_rows = data.len() - (data.len() as f64 * cfg.test_fraction).round() as usize;
    if let Some(&big) = cfg.sizes.iter().find(|&&n| n > pool_rows) {
        return Err(Error::invalid("size", big, format!("{} has {} rows, {pool_rows} outside the test share", cfg.data.name(), data.len())));
    }
    std::fs::create_dir_all(&cfg.out).at(&cfg.out)?;
    write_atomic(&cfg.out.join("study.json"), serde_json::to_string_pretty(cfg)?.as_bytes())?;
    let mut results = ResultsFile::<TabularRow>::open(cfg.out.join(crate::study::RESULTS_FILE))?;
    let protocol = cfg.protocol();
    results.check_protocol(&protocol)?;
    let done = results.done();
    let mut grid = Vec::new();
    for seed in 0..cfg.seeds as u64 {
        for &n in &cfg.sizes {
            for m in &cfg.methods {
                for r in &cfg.models {
                    grid.push((n, m.name().to_string(), r.name().to_string(), seed));
                }
            }
        }
    }
    let resumed = grid.iter().filter(|k| done.contains(*k)).count();
    let mut ran = 0;
    for seed in 0..cfg.seeds as u64 {
        let (pool, test) = train_val_split(data.len(), cfg.test_fraction, seed)?;
        let mut pool = pool;
        pool.shuffle(&mut crate::rng(derive_seed(seed, "rows")));
        let test_data = data.select(&test)?;
        for &n in &cfg.sizes {
            let train = data.select(&pool[..n])?;
            for method in &cfg.methods {
                let todo: Vec<&Regressor> =
                    cfg.models.iter().filter(|r| !done.contains(&(n, method.name().to_string(), r.name().to_string(), seed))).collect();
                if todo.is_empty() {
                    continue;
                }
                let (x, y) = match method.build() {
                    None => (train.x.clone(), train.y.clone()),
                    Some(a) => {
                        let n_new = (cfg.ratio * n as f64).round() as usize;
                        augment_and_concat(a.as_ref(), &train.x, &train.y, n_new, derive_seed(seed, &format!("augment/{n}")))?
                    }
                };
                for reg in todo {
                    let t = std::time::Instant::now();
                    let pred = reg
                        .fit(x.view(), y.view(), seed)
                        .and_then(|f| f.predict(test_data.x.view()))
                        .map_err(|e| Error::invalid("run", format!("n={n} {} {} seed {seed}", method.name(), reg.name()), e.to_string()))?;
                    let secs = t.elapsed().as_secs_f64();
                    let (yt, yp) = (test_data.y.as_slice().expect("contiguous"), pred.as_slice().expect("contiguous"));
                    let row = TabularRow {
                        n_train: n,
                        augment: method.name().into(),
                        model: reg.name().into(),
                        seed,
                        rmse: rmse(yt, yp)?,
                        mae: mae(yt, yp)?,
                        r2: r2(yt, yp)?,
                        fit_seconds: secs,
                        test_rows: test.len(),
                        protocol: protocol.clone(),
                    };
                    if cfg.progress {
                        println!("n={n} {} {} seed {seed}: RMSE {:.3}, MAE {:.3}", row.augment, row.model, row.rmse, row.mae);
                    }
                    results.append(row)?;
                    ran += 1;
                }
            }
        }
    }
    let by_key: BTreeMap<_, _> = results.rows().iter().map(|r| (r.row_key(), r.clone())).collect();
    let rows: Vec<TabularRow> = grid.iter().filter_map(|k| by_key.get(k).cloned()).collect();
    let summary = summarize_tabular(&rows, cfg)?;
    let report = write_tabular_report(cfg, &summary, &data)?;
    Ok(TabularOutcome { rows, summary, ran, resumed, report })
}


/// Per size, model and augmentation: RMSE and MAE over seeds, and the paired
/// difference to `none` for the same model.
pub fn summarize_tabular(rows: &[TabularRow], cfg: &TabularStudyConfig) -> Result<Vec<TabularSummaryRow>> {
    let mut out = Vec::new();
    let get = |n: usize, m: &str, r: &str, f: fn(&TabularRow) -> f64| -> Vec<f64> {
        let mut v: Vec<(u64, f64)> = rows.iter().filter(|x| x.n_train == n && x.augment == m && x.model == r).map(|x| (x.seed, f(x))).collect();
        v.sort_by_key(|p| p.0);
        v.into_iter().map(|p| p.1).collect()
    };
    for &n in &cfg.sizes {
        for reg in &cfg.models {
            let base_rmse = get(n, "none", reg.name(), |r| r.rmse);
            let base_mae = get(n, "none", reg.name(), |r| r.mae);
            for m in &cfg.methods {
                let (e, a) = (get(n, m.name(), reg.name(), |r| r.rmse), get(n, m.name(), reg.name(), |r| r.mae));
                if e.is_empty() {
                    continue;
                }
                let vs = |base: &[f64], x: &[f64]| -> Result<Option<PairedComparison>> {
                    if *m == TabularMethod::None || base.len() != x.len() || x.len() < 2 {
                        return Ok(None);
                    }
                    paired_comparison(base, x, 0.95).map(Some)
                };
                out.push(TabularSummaryRow {
                    n_train: n,
                    model: reg.name().into(),
                    augment: m.name().into(),
                    rmse: Summary::of_runs(&e)?,
                    mae: Summary::of_runs(&a)?,
                    rmse_vs_none: vs(&base_rmse, &e)?,
                    mae_vs_none: vs(&base_mae, &a)?,
                });
            }
        }
    }
    if out.is_empty() {
        return Err(Error::invalid("results", rows.len(), "no finished runs to summarise"));
    }
    Ok(out)
}

/// The summary as a plain-text table.
pub fn tabular_table(summary: &[TabularSummaryRow]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{:>6}  {:<10} {:<8} {:<19} {:<19} {:<20} {:>6}", "n", "model", "augment", "RMSE", "MAE", "ΔRMSE vs none", "p");
    for r in summary {
        let (d, p) = match &r.rmse_vs_none {
            Some(c) => (format!("{:+.3} ± {:.3}", c.mean_diff, (c.ci_high - c.ci_low) / 2.0), format!("{:.3}", c.p_value)),
            None => ("—".into(), "—".into()),
        };
        let pm = |x: &Summary| if x.n >= 2 { format!("{:.3} ± {:.3}", x.mean, x.half_width()) } else { format!("{:.3}", x.mean) };
        let _ = writeln!(s, "{:>6}  {:<10} {:<8} {:<19} {:<19} {:<20} {:>6}", r.n_train, r.model, r.augment, pm(&r.rmse), pm(&r.mae), d, p);
    }
    let _ = writeln!(s, "(mean ± half-width of the 95% CI over seeds; Δ: paired difference to none for the same model — negative is better)");
    s
}

/// The study's charts: RMSE against training rows per model (no augmentation, 95%
/// bands), and per size the paired RMSE change of every (model, augmentation).
pub fn tabular_charts(summary: &[TabularSummaryRow], cfg: &TabularStudyConfig) -> Result<Vec<(String, Figure)>> {
    let mut charts: Vec<(String, Figure)> = Vec::new();
    let series: Vec<Series> = cfg
        .models
        .iter()
        .filter_map(|reg| {
            let pts: Vec<&TabularSummaryRow> = summary.iter().filter(|r| r.model == reg.name() && r.augment == "none").collect();
            (!pts.is_empty()).then(|| Series {
                name: reg.name().into(),
                x: pts.iter().map(|r| r.n_train as f64).collect(),
                y: pts.iter().map(|r| r.rmse.mean).collect(),
                band: Some((pts.iter().map(|r| r.rmse.ci_low).collect(), pts.iter().map(|r| r.rmse.ci_high).collect())),
            })
        })
        .collect();
    if !series.is_empty() {
        charts.push(("rmse_vs_n".into(), line_chart("test RMSE vs training rows, no augmentation (95% CI)", "training rows", "RMSE", series, true)?));
    }
    for &n in &cfg.sizes {
        let gains: Vec<&TabularSummaryRow> = summary.iter().filter(|r| r.n_train == n && r.rmse_vs_none.is_some()).collect();
        if gains.is_empty() {
            continue;
        }
        let labels: Vec<String> = gains.iter().map(|r| format!("{}/{}", r.model, r.augment)).collect();
        let values: Vec<f64> = gains.iter().map(|r| r.rmse_vs_none.map(|c| c.mean_diff).unwrap_or(0.0)).collect();
        let errors: Vec<(f64, f64)> = gains.iter().map(|r| r.rmse_vs_none.map(|c| (c.ci_low, c.ci_high)).unwrap_or((0.0, 0.0))).collect();
        charts.push((
            format!("rmse_change_n{n}"),
            bar_chart_ci(&format!("RMSE change from augmentation, {n} training rows (paired, 95% CI)"), &labels, &values, &errors, "Δ RMSE")?,
        ));
    }
    Ok(charts)
}

fn write_tabular_report(cfg: &TabularStudyConfig, summary: &[TabularSummaryRow], data: &TabularData) -> Result<PathBuf> {
    let mut csv = String::from("n_train,model,augment,seeds,rmse_mean,rmse_ci_low,rmse_ci_high,mae_mean,mae_ci_low,mae_ci_high,rmse_diff_vs_none,rmse_diff_ci_low,rmse_diff_ci_high,rmse_p_value\n");
    for r in summary {
        let d = r.rmse_vs_none.map(|c| format!("{},{},{},{}", c.mean_diff, c.ci_low, c.ci_high, c.p_value)).unwrap_or_else(|| ",,,".into());
        let _ = writeln!(
            csv,
            "{},{},{},{},{},{},{},{},{},{},{d}",
            r.n_train, r.model, r.augment, r.rmse.n, r.rmse.mean, r.rmse.ci_low, r.rmse.ci_high, r.mae.mean, r.mae.ci_low, r.mae.ci_high
        );
    }
    write_atomic(&cfg.out.join("summary.csv"), csv.as_bytes())?;
    let charts = tabular_charts(summary, cfg)?;
    for (name, f) in &charts {
        f.save(cfg.out.join(format!("{name}.svg")))?;
        f.save(cfg.out.join(format!("{name}.png")))?;
    }
    let table = crate::study::html_table(
        &["n", "model", "augment", "RMSE", "MAE", "ΔRMSE vs none", "p"],
        summary.iter().map(|r| {
            let pm = |x: &Summary| format!("{:.3} ± {:.3}", x.mean, x.half_width());
            let (d, p) = r.rmse_vs_none.map(|c| (format!("{:+.3} ± {:.3}", c.mean_diff, (c.ci_high - c.ci_low) / 2.0), format!("{:.3}", c.p_value))).unwrap_or(("—".into(), "—".into()));
            vec![r.n_train.to_string(), r.model.clone(), r.augment.clone(), pm(&r.rmse), pm(&r.mae), d, p]
        }),
    );
    let figures: String = charts.iter().map(|(_, f)| format!("<figure>{}</figure>", f.svg)).collect();
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>smalldata tabular study</title>\
         <style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto}}table{{border-collapse:collapse}}td,th{{padding:2px 8px;border-bottom:1px solid #ddd}}</style></head><body>\
         <h1>Small-data regression study: {}</h1><p>{} rows × {} features, target {:?}; {} seeds, {:.0}% of rows held out per seed; {} synthetic row(s) per training row.</p>{table}\
         <p>Every run: <a href=\"results.jsonl\">results.jsonl</a>; this table: <a href=\"summary.csv\">summary.csv</a>.</p>{figures}</body></html>",
        cfg.data.name(),
        data.len(),
        data.nfeatures(),
        data.target_name,
        cfg.seeds,
        cfg.test_fraction * 100.0,
        cfg.ratio
    );
    let page = cfg.out.join("index.html");
    write_atomic(&page, html.as_bytes())?;
    Ok(page)
}
