//! Tabular regression on small data: linfa baselines, an MLP, and the study that
//! asks which model and which augmentation help at which training size.
//!
//! * [`Regressor`]: OLS, ridge, lasso, elastic net, SVR, k-nearest neighbours and an
//!   MLP behind one enum — `regressor.fit(x, y, seed)?.predict(x_test)?`, or
//!   [`fit_predict`] on a `linfa::Dataset`. Features are standardised on the training
//!   rows only. The linear models match scikit-learn (`tests/tabular_golden.rs`).
//! * [`run_tabular_study`]: sizes × augmentation (none, jitter, mixup, SMOTER,
//!   SMOGN, copula, GAN) × model × seeds on any CSV (numeric and categorical
//!   columns, missing cells), RMSE, MAE and R² with confidence intervals and paired
//!   differences, on the experiment engine.
//!
//! ```
//! use smalldata::data::TabularData;
//! use smalldata::tabular::Regressor;
//! let d = TabularData::diabetes()?;
//! let (train, test) = (d.select(&(0..300).collect::<Vec<_>>())?, d.select(&(300..442).collect::<Vec<_>>())?);
//! let fit = "ridge=1".parse::<Regressor>()?.fit(train.x.view(), train.y.view(), 0)?;
//! let pred = fit.predict(test.x.view())?;
//! let rmse = smalldata::evaluate::rmse(test.y.as_slice().unwrap(), pred.as_slice().unwrap())?;
//! assert!(rmse < 60.0, "{rmse}");
//! # Ok::<(), smalldata::Error>(())
//! ```

mod mlp;
mod regressors;
mod study;
mod tstr;

pub use regressors::{fit_predict, Fitted, Regressor, Scaler};
pub use tstr::{run_tabular_tstr, tstr_table, TstrConfig, TstrRow};
pub use study::{run_tabular_study, SyntheticRows, TabularArm, TabularMethod, TabularProtocol, TabularSource, TabularStudyConfig};
