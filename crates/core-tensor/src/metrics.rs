//! Evaluation metrics on `f64` slices (convert tensors with [`crate::interop`]), each checked
//! against hand-computed values.

pub mod classification;
pub mod probabilistic;
pub mod ranking;
pub mod regression;

pub use classification::{accuracy, accuracy_logits, ece, roc_auc};
pub use probabilistic::{
    crps_ensemble, crps_gaussian, gaussian_nll, interval_coverage, normal_cdf, normal_pdf,
};
pub use ranking::{kendall_tau, pearson, precision_at_k, spearman_rho};
pub use regression::{mae, mean_var, relative_lp, rmse};

use crate::error::{ensure_finite, Error, Result};

/// Checks two slices have equal, non-zero length and finite values.
pub(crate) fn check_pair(na: &str, a: &[f64], nb: &str, b: &[f64]) -> Result<()> {
    if a.is_empty() {
        return Err(Error::invalid(na, "[]", "must not be empty"));
    }
    if a.len() != b.len() {
        return Err(Error::shape(nb, [a.len()], [b.len()]));
    }
    ensure_finite(na, a)?;
    ensure_finite(nb, b)
}
