//! Train on synthetic, test on real (TSTR) for tables: for each seed, the `rows`
//! training rows the tabular study would draw, each synthesizer fitted on them alone,
//! each regressor fitted on the synthetic rows only and scored on the real test rows,
//! beside the same regressor fitted on the real rows (TRTR). A synthesizer whose rows
//! teach a model as much as the real ones scores a TSTR close to TRTR.

use crate::evaluate::{mae, paired_comparison, rmse, train_synthetic_test_real, PairedComparison, Summary};
use super::{Regressor, TabularMethod, TabularSource};
use crate::{derive_seed, Error, Result};
use ndarray::{Array1, Array2};
use std::fmt::Write as _;

/// What [`run_tabular_tstr`] compares.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TstrConfig {
    pub data: TabularSource,
    /// Real training rows per seed.
    pub rows: usize,
    /// Synthetic rows each synthesizer makes from them.
    pub synthetic_rows: usize,
    pub synthesizers: Vec<TabularMethod>,
    pub models: Vec<Regressor>,
    pub seeds: usize,
    pub test_fraction: f64,
}

impl Default for TstrConfig {
    /// Diabetes, 50 real rows, 50 synthetic rows, copula and GAN, ridge (α 1), kNN and
    /// SVR, 5 seeds, 30% test rows (the tabular study's split).
    fn default() -> Self {
        TstrConfig {
            data: TabularSource::Diabetes,
            rows: 50,
            synthetic_rows: 50,
            synthesizers: vec![TabularMethod::Copula, TabularMethod::Gan],
            models: vec![Regressor::Ridge { alpha: 1.0 }, Regressor::knn(), Regressor::svr()],
            seeds: 5,
            test_fraction: 0.3,
        }
    }
}

/// One cell of the TSTR table.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TstrRow {
    /// The synthesizer, or `real` for TRTR.
    pub train_data: String,
    pub model: String,
    pub rmse: Summary,
    pub mae: Summary,
    /// TSTR − TRTR RMSE, paired by seed (`None` for the `real` rows).
    pub rmse_gap: Option<PairedComparison>,
}

/// Run the comparison; rows are grouped by model, `real` first.
pub fn run_tabular_tstr(cfg: &TstrConfig) -> Result<Vec<TstrRow>> {
    if cfg.seeds < 2 {
        return Err(Error::invalid("TSTR seeds", cfg.seeds, "need at least 2 for confidence intervals"));
    }
    if cfg.rows < 2 || cfg.synthetic_rows < 2 {
        return Err(Error::invalid("TSTR rows", format!("real {}, synthetic {}", cfg.rows, cfg.synthetic_rows), "need at least 2 of each"));
    }
    if let Some(m) = cfg.synthesizers.iter().find(|m| m.build().is_none()) {
        return Err(Error::invalid("synthesizer", m.name(), "is not a synthesizer (copula, gan, or an augmentation such as smoter)"));
    }
    for m in &cfg.models {
        m.check()?;
    }
    let task = crate::experiment::TableTask::new(cfg.data.load()?, cfg.test_fraction)?;
    let pool_rows = task.pool_rows();
    if cfg.rows > pool_rows {
        return Err(Error::invalid("TSTR rows", cfg.rows, format!("{} has {pool_rows} rows outside the test share", cfg.data.name())));
    }
    // scores[train_data][model] = (rmse per seed, mae per seed)
    let names: Vec<String> = std::iter::once("real".to_string()).chain(cfg.synthesizers.iter().map(|m| m.name().to_string())).collect();
    let mut scores = vec![vec![(Vec::new(), Vec::new()); cfg.models.len()]; names.len()];
    for seed in 0..cfg.seeds as u64 {
        let crate::experiment::TableDraw { train, test, .. } = crate::experiment::Task::draw(&task, cfg.rows, seed)?;
        for (s, synth) in cfg.synthesizers.iter().enumerate() {
            let aug = synth.build().ok_or_else(|| Error::invalid("synthesizer", synth.name(), "makes no rows"))?;
            let (sx, sy) = aug.augment(&train.x, &train.y, cfg.synthetic_rows, derive_seed(seed, &format!("tstr/{}", synth.name())))?;
            for (m, model) in cfg.models.iter().enumerate() {
                let fit_score = |x: &Array2<f64>, y: &Array1<f64>, tx: &Array2<f64>, ty: &Array1<f64>| -> Result<(f64, f64)> {
                    let pred = model.fit(x.view(), y.view(), seed)?.predict(tx.view())?;
                    let (t, p) = (ty.to_vec(), pred.to_vec());
                    Ok((rmse(&t, &p)?, mae(&t, &p)?))
                };
                let (tstr, trtr) = train_synthetic_test_real((&sx, &sy), (&train.x, &train.y), (&test.x, &test.y), fit_score)?;
                scores[s + 1][m].0.push(tstr.0);
                scores[s + 1][m].1.push(tstr.1);
                if s == 0 {
                    scores[0][m].0.push(trtr.0);
                    scores[0][m].1.push(trtr.1);
                }
            }
        }
    }
    let mut out = Vec::new();
    for (m, model) in cfg.models.iter().enumerate() {
        for (t, name) in names.iter().enumerate() {
            let (r, a) = &scores[t][m];
            out.push(TstrRow {
                train_data: name.clone(),
                model: model.name().to_string(),
                rmse: Summary::of(r)?,
                mae: Summary::of(a)?,
                rmse_gap: if t == 0 { None } else { Some(paired_comparison(&scores[0][m].0, r, 0.95)?) },
            });
        }
    }
    Ok(out)
}

/// The TSTR table as text: mean ± 95% CI half-width over seeds, and the paired gap.
pub fn tstr_table(rows: &[TstrRow]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{:<10} {:<8} {:>16} {:>16} {:>24}", "model", "train on", "RMSE", "MAE", "RMSE − TRTR [95% CI]");
    for r in rows {
        let gap = match &r.rmse_gap {
            None => "(TRTR)".to_string(),
            Some(g) => format!("{:+.2} [{:+.2}, {:+.2}]", g.mean_diff, g.ci_low, g.ci_high),
        };
        let _ = writeln!(
            s,
            "{:<10} {:<8} {:>16} {:>16} {:>24}",
            r.model,
            r.train_data,
            format!("{:.2} ± {:.2}", r.rmse.mean, r.rmse.half_width()),
            format!("{:.2} ± {:.2}", r.mae.mean, r.mae.half_width()),
            gap
        );
    }
    s
}
