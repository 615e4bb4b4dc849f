//! Metrics a small-data study is judged by, with scikit-learn's definitions.
//!
//! | family | functions |
//! |---|---|
//! | labels | [`accuracy`], [`balanced_accuracy`], [`precision_recall_f1`], [`confusion_matrix`] |
//! | probabilities | [`log_loss`], [`roc_curve`], [`roc_auc`], [`roc_auc_multiclass`], [`roc_curves_per_class`] |
//! | regression | [`rmse`], [`mae`], [`r2`], [`mape`] |
//! | clustering | [`fowlkes_mallows`], [`adjusted_rand`], [`contingency`] |
//! | synthetic vs real | [`frechet_distance`], [`prdc`], [`c2st_auc`], [`fmi_label_agreement`], [`fmi_cluster_agreement`], [`train_synthetic_test_real`] |
//! | statistics | [`Summary`], [`paired_comparison`], [`welch_comparison`], [`student_t_cdf`], [`student_t_quantile`] |
//!
//! Every function checks its input and returns an error — never a NaN or a panic —
//! for mismatched lengths, empty input, non-finite values, and values where the
//! metric is undefined (AUC with one class present, for instance). Each is tested
//! against scikit-learn / SciPy on several hundred random cases
//! (`tests/golden/make_evaluate_golden.py`).

mod check;
mod classification;
mod clustering;
mod generative;
mod regression;
mod power;
mod roc;
mod stats;

pub use classification::{
    accuracy, balanced_accuracy, confusion_matrix, log_loss, precision_recall_f1, Average, PrecisionRecallF1,
};
pub use clustering::{adjusted_rand, contingency, fowlkes_mallows};
pub use generative::{
    c2st_auc, fmi_cluster_agreement, fmi_label_agreement, frechet_distance, prdc, train_synthetic_test_real, ClusterAgreement, Prdc,
};
pub use regression::{mae, mape, r2, rmse, RegressionScores};
pub use roc::{roc_auc, roc_auc_multiclass, roc_curve, roc_curves_per_class, MultiClass, RocCurve};
pub use power::{min_detectable_effect, paired_t_power, seeds_needed};
pub use stats::{holm_adjust, normal_cdf, normal_quantile, paired_comparison, student_t_cdf, student_t_quantile, welch_comparison, PairedComparison, Summary, WelchComparison};
