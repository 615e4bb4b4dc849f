//! Regression errors, as scikit-learn's `root_mean_squared_error`,
//! `mean_absolute_error`, `r2_score` and `mean_absolute_percentage_error`.

use super::check::{finite, non_empty, same_len};
use crate::Result;

fn check(what: &str, y: &[f64], yhat: &[f64]) -> Result<()> {
    same_len(what, y.len(), yhat.len())?;
    non_empty(what, y.len())?;
    finite(&format!("{what}: y_true"), y)?;
    finite(&format!("{what}: y_pred"), yhat)
}

/// Root mean squared error.
pub fn rmse(y: &[f64], yhat: &[f64]) -> Result<f64> {
    check("RMSE", y, yhat)?;
    Ok((y.iter().zip(yhat).map(|(a, b)| (a - b) * (a - b)).sum::<f64>() / y.len() as f64).sqrt())
}

/// Mean absolute error.
pub fn mae(y: &[f64], yhat: &[f64]) -> Result<f64> {
    check("MAE", y, yhat)?;
    Ok(y.iter().zip(yhat).map(|(a, b)| (a - b).abs()).sum::<f64>() / y.len() as f64)
}

/// Coefficient of determination. When `y` is constant: 1 for a perfect prediction,
/// else 0 (scikit-learn's `force_finite=True`).
pub fn r2(y: &[f64], yhat: &[f64]) -> Result<f64> {
    check("R²", y, yhat)?;
    let mean = y.iter().sum::<f64>() / y.len() as f64;
    let ss_res: f64 = y.iter().zip(yhat).map(|(a, b)| (a - b) * (a - b)).sum();
    let ss_tot: f64 = y.iter().map(|a| (a - mean) * (a - mean)).sum();
    Ok(if ss_tot == 0.0 {
        if ss_res == 0.0 {
            1.0
        } else {
            0.0
        }
    } else {
        1.0 - ss_res / ss_tot
    })
}

/// Mean absolute percentage error as a fraction (not ×100): `mean(|y − ŷ| / max(|y|, ε))`
/// with ε the f64 machine epsilon, so a zero target gives a huge term, not a NaN.
pub fn mape(y: &[f64], yhat: &[f64]) -> Result<f64> {
    check("MAPE", y, yhat)?;
    Ok(y.iter().zip(yhat).map(|(a, b)| (a - b).abs() / a.abs().max(f64::EPSILON)).sum::<f64>() / y.len() as f64)
}

/// The four regression scores at once.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RegressionScores {
    pub rmse: f64,
    pub mae: f64,
    pub r2: f64,
    pub mape: f64,
}

impl RegressionScores {
    /// All four scores of `yhat` against `y`.
    pub fn compute(y: &[f64], yhat: &[f64]) -> Result<Self> {
        Ok(RegressionScores { rmse: rmse(y, yhat)?, mae: mae(y, yhat)?, r2: r2(y, yhat)?, mape: mape(y, yhat)? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_values_and_errors() {
        let s = RegressionScores::compute(&[1.0, 2.0, 3.0], &[1.0, 2.0, 5.0]).unwrap();
        assert!((s.rmse - (4.0f64 / 3.0).sqrt()).abs() < 1e-15);
        assert!((s.mae - 2.0 / 3.0).abs() < 1e-15);
        assert!((s.r2 - (1.0 - 4.0 / 2.0)).abs() < 1e-15);
        assert!((s.mape - (2.0 / 3.0) / 3.0).abs() < 1e-15);
        assert!(rmse(&[1.0], &[f64::NAN]).is_err());
        assert!(rmse(&[], &[]).is_err());
        assert!(mae(&[1.0, 2.0], &[1.0]).is_err());
    }
}
