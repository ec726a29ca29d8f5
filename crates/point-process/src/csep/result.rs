//! The outcome of a CSEP consistency test.

use serde::{Deserialize, Serialize};

/// Quantile score(s) of the observed statistic under the forecast's distribution of it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Quantile {
    /// `γ = P(X ≤ x_obs)` (one-sided; small values reject the forecast).
    Gamma(f64),
    /// `δ1 = P(X ≥ x_obs)` and `δ2 = P(X ≤ x_obs)` (two-sided).
    Deltas {
        /// `P(X ≥ x_obs)`.
        delta1: f64,
        /// `P(X ≤ x_obs)`.
        delta2: f64,
    },
}

/// The distribution the observed statistic is compared with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum TestDistribution {
    /// Poisson with this mean.
    Poisson {
        /// Mean `Λ`.
        mean: f64,
    },
    /// Negative binomial with this mean and variance.
    NegativeBinomial {
        /// Mean.
        mean: f64,
        /// Variance (> mean).
        variance: f64,
    },
    /// Values of the statistic on simulated or forecast catalogues.
    Samples(Vec<f64>),
}

/// Whether the test could be evaluated as defined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Status {
    /// Evaluated as defined.
    Normal,
    /// An observed event fell in a cell the forecast catalogues never reached; the statistic was
    /// computed over the cells they reached (pycsep's `undersampled`).
    Undersampled,
    /// Not defined for this observation (e.g. no observed event); quantiles are NaN.
    NotValid,
}

/// The result of one consistency test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestResult {
    /// Test name, as pycsep names it (e.g. `Poisson L-Test`, `Catalog S-Test`).
    pub name: String,
    /// Observed statistic (a count, a log-likelihood, or the magnitude test's D).
    pub observed: f64,
    /// Quantile score(s).
    pub quantile: Quantile,
    /// The comparison distribution.
    pub distribution: TestDistribution,
    /// Evaluation status.
    pub status: Status,
}

impl TestResult {
    /// The one-sided score a forecast is judged by: γ for gridded likelihood tests, δ2 for the
    /// catalogue S- and pseudo-likelihood tests, δ1 for the catalogue M-test, and `min(δ1, δ2)`
    /// for number tests.
    pub fn score(&self) -> f64 {
        match self.quantile {
            Quantile::Gamma(g) => g,
            Quantile::Deltas { delta1, delta2 } => {
                if self.name.contains("N-Test") {
                    delta1.min(delta2)
                } else if self.name.contains("M-Test") {
                    delta1
                } else {
                    delta2
                }
            }
        }
    }
    /// Whether the forecast passes at level `alpha`: `score ≥ alpha / 2` for the two-sided number
    /// tests, `score ≥ alpha` otherwise; a test that is not valid passes vacuously.
    pub fn passes(&self, alpha: f64) -> bool {
        if self.status == Status::NotValid {
            return true;
        }
        if self.name.contains("N-Test") {
            self.score() >= alpha / 2.0
        } else {
            self.score() >= alpha
        }
    }
    /// Central interval `[lo, hi]` of the comparison distribution holding `1 − alpha` of it
    /// (empirical quantiles of samples; exact quantiles of Poisson and negative-binomial laws).
    pub fn interval(&self, alpha: f64) -> (f64, f64) {
        match &self.distribution {
            TestDistribution::Samples(s) => {
                let mut v: Vec<f64> = s.iter().copied().filter(|x| !x.is_nan()).collect();
                if v.is_empty() {
                    return (f64::NAN, f64::NAN);
                }
                v.sort_by(f64::total_cmp);
                let at = |q: f64| v[((q * (v.len() - 1) as f64).round() as usize).min(v.len() - 1)];
                (at(alpha / 2.0), at(1.0 - alpha / 2.0))
            }
            TestDistribution::Poisson { mean } => {
                let cdf = |n: f64| super::stats::poisson_cdf(n, *mean);
                (
                    super::stats::discrete_ppf(alpha / 2.0, cdf),
                    super::stats::discrete_ppf(1.0 - alpha / 2.0, cdf),
                )
            }
            TestDistribution::NegativeBinomial { mean, variance } => {
                let cdf = |n: f64| super::stats::negative_binomial_cdf(n, *mean, *variance);
                (
                    super::stats::discrete_ppf(alpha / 2.0, cdf),
                    super::stats::discrete_ppf(1.0 - alpha / 2.0, cdf),
                )
            }
        }
    }
}
