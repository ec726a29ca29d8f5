//! Learning-rate schedules, evaluated per epoch (`Trainer::fit`) or per step (`Trainer::run_steps`).

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::f64::consts::PI;

/// A learning-rate schedule `η(e)` over epochs `e = 0, 1, …` from the optimizer's base rate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LrSchedule {
    /// `η(e) = η₀`.
    #[default]
    Constant,
    /// `η(e) = η₀ γ^{⌊e / step⌋}`.
    Step {
        /// Epochs between decays.
        step_size: usize,
        /// Decay factor γ.
        gamma: f64,
    },
    /// Cosine annealing (Loshchilov & Hutter 2017):
    /// `η(e) = η_min + (η₀ − η_min)(1 + cos(π e / E)) / 2`.
    Cosine {
        /// Period E in epochs (the rate stays at η_min after it).
        t_max: usize,
        /// Final rate η_min.
        eta_min: f64,
    },
    /// Cosine power annealing (Hundt et al. 2019, sharpDARTS):
    /// `c_e = (1 + cos(π e / E)) / 2`, `q_e = p^{c_e + 1}`, `q̂_e = (q_e − p) / (p² − p)`,
    /// `η(e) = η_min + q̂_e (η₀ − η_min)`. Larger `p` decays faster early.
    CosinePower {
        /// Period E in epochs.
        t_max: usize,
        /// Final rate η_min.
        eta_min: f64,
        /// Power p > 1 (the paper uses 2).
        power: f64,
    },
    /// Piecewise-constant absolute rates: `η(e) = rates[i]` where `i` counts the boundaries
    /// `≤ e` (the optimizer's base rate is not used), e.g. `boundaries [500], rates [1e-2, 3e-3]`.
    Piecewise {
        /// Increasing epochs (or steps) at which the next rate starts.
        boundaries: Vec<usize>,
        /// One more rate than boundaries.
        rates: Vec<f64>,
    },
    /// Linear warm-up `η(e) = η₀ (e + 1) / (W + 1)` for `e < W`, then `then` from epoch 0.
    Warmup {
        /// Warm-up length W in epochs.
        epochs: usize,
        /// Schedule after the warm-up.
        then: Box<LrSchedule>,
    },
}

impl LrSchedule {
    /// Wraps this schedule in a linear warm-up of `epochs` epochs.
    pub fn with_warmup(self, epochs: usize) -> Self {
        LrSchedule::Warmup { epochs, then: Box::new(self) }
    }

    /// Checks the parameters.
    pub fn validate(&self) -> Result<()> {
        match self {
            LrSchedule::Constant => Ok(()),
            LrSchedule::Step { step_size, gamma } => {
                if *step_size == 0 {
                    return Err(Error::invalid("step_size", step_size, "must be > 0"));
                }
                if !(gamma.is_finite() && *gamma > 0.0) {
                    return Err(Error::invalid("gamma", gamma, "must be finite and > 0"));
                }
                Ok(())
            }
            LrSchedule::Cosine { t_max, eta_min } | LrSchedule::CosinePower { t_max, eta_min, .. } => {
                if *t_max == 0 {
                    return Err(Error::invalid("t_max", t_max, "must be > 0"));
                }
                if !(eta_min.is_finite() && *eta_min >= 0.0) {
                    return Err(Error::invalid("eta_min", eta_min, "must be finite and >= 0"));
                }
                if let LrSchedule::CosinePower { power, .. } = self {
                    if !(power.is_finite() && *power > 1.0) {
                        return Err(Error::invalid("power", power, "must be finite and > 1"));
                    }
                }
                Ok(())
            }
            LrSchedule::Piecewise { boundaries, rates } => {
                if rates.len() != boundaries.len() + 1 {
                    return Err(Error::invalid(
                        "rates",
                        rates.len(),
                        format!("need one more rate than boundaries ({})", boundaries.len()),
                    ));
                }
                if boundaries.windows(2).any(|w| w[0] >= w[1]) {
                    return Err(Error::invalid("boundaries", format!("{boundaries:?}"), "must increase"));
                }
                if let Some(r) = rates.iter().find(|r| !(r.is_finite() && **r > 0.0)) {
                    return Err(Error::invalid("rates", r, "must be finite and > 0"));
                }
                Ok(())
            }
            LrSchedule::Warmup { then, .. } => then.validate(),
        }
    }

    /// Learning rate at epoch `epoch` for base rate `base`.
    pub fn lr(&self, base: f64, epoch: usize) -> f64 {
        match self {
            LrSchedule::Constant => base,
            LrSchedule::Step { step_size, gamma } => base * gamma.powi((epoch / step_size) as i32),
            LrSchedule::Cosine { t_max, eta_min } => {
                let e = epoch.min(*t_max) as f64;
                eta_min + (base - eta_min) * (1.0 + (PI * e / *t_max as f64).cos()) / 2.0
            }
            LrSchedule::CosinePower { t_max, eta_min, power } => {
                let e = epoch.min(*t_max) as f64;
                let c = (1.0 + (PI * e / *t_max as f64).cos()) / 2.0;
                let q = power.powf(c + 1.0);
                let q_hat = (q - power) / (power * power - power);
                eta_min + q_hat * (base - eta_min)
            }
            LrSchedule::Piecewise { boundaries, rates } => {
                rates[boundaries.iter().take_while(|b| **b <= epoch).count()]
            }
            LrSchedule::Warmup { epochs, then } => {
                if epoch < *epochs {
                    base * (epoch + 1) as f64 / (*epochs + 1) as f64
                } else {
                    then.lr(base, epoch - epochs)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_abs_diff_eq;

    #[test]
    fn closed_forms() {
        assert_abs_diff_eq!(LrSchedule::Constant.lr(0.1, 50), 0.1);
        let s = LrSchedule::Step { step_size: 10, gamma: 0.5 };
        assert_abs_diff_eq!(s.lr(1.0, 9), 1.0);
        assert_abs_diff_eq!(s.lr(1.0, 25), 0.25);
        let c = LrSchedule::Cosine { t_max: 10, eta_min: 0.0 };
        assert_abs_diff_eq!(c.lr(1.0, 0), 1.0);
        assert_abs_diff_eq!(c.lr(1.0, 5), 0.5, epsilon = 1e-12);
        assert_abs_diff_eq!(c.lr(1.0, 10), 0.0, epsilon = 1e-12);
        assert_abs_diff_eq!(c.lr(1.0, 20), 0.0, epsilon = 1e-12);
        let w = LrSchedule::Constant.with_warmup(4);
        let lrs: Vec<f64> = (0..6).map(|e| w.lr(1.0, e)).collect();
        assert_eq!(lrs, vec![0.2, 0.4, 0.6, 0.8, 1.0, 1.0]);
    }

    /// sharpDARTS cosine power annealing: endpoints are η₀ and η_min; at the midpoint
    /// c = 1/2, q = 2^{1.5}, q̂ = (2√2 − 2)/2 = √2 − 1 for p = 2 — below plain cosine's 1/2.
    #[test]
    fn cosine_power_matches_paper_formula() {
        let s = LrSchedule::CosinePower { t_max: 10, eta_min: 0.01, power: 2.0 };
        assert_abs_diff_eq!(s.lr(0.1, 0), 0.1, epsilon = 1e-12);
        assert_abs_diff_eq!(s.lr(0.1, 10), 0.01, epsilon = 1e-12);
        let mid = 0.01 + (2f64.sqrt() - 1.0) * 0.09;
        assert_abs_diff_eq!(s.lr(0.1, 5), mid, epsilon = 1e-12);
        let cos = LrSchedule::Cosine { t_max: 10, eta_min: 0.01 };
        assert!(s.lr(0.1, 5) < cos.lr(0.1, 5));
        // monotone decreasing
        for e in 0..10 {
            assert!(s.lr(0.1, e + 1) < s.lr(0.1, e));
        }
    }

    #[test]
    fn piecewise_rates() {
        let s = LrSchedule::Piecewise { boundaries: vec![2, 4], rates: vec![1e-2, 3e-3, 1e-4] };
        s.validate().unwrap();
        let lrs: Vec<f64> = (0..6).map(|e| s.lr(99.0, e)).collect();
        assert_eq!(lrs, vec![1e-2, 1e-2, 3e-3, 3e-3, 1e-4, 1e-4]);
        assert!(LrSchedule::Piecewise { boundaries: vec![2], rates: vec![1.0] }.validate().is_err());
        assert!(LrSchedule::Piecewise { boundaries: vec![2, 2], rates: vec![1.0; 3] }.validate().is_err());
        assert!(LrSchedule::Piecewise { boundaries: vec![], rates: vec![f64::NAN] }.validate().is_err());
    }

    #[test]
    fn validation() {
        assert!(LrSchedule::Step { step_size: 0, gamma: 0.5 }.validate().is_err());
        assert!(LrSchedule::CosinePower { t_max: 5, eta_min: 0.0, power: 1.0 }.validate().is_err());
        assert!(LrSchedule::Cosine { t_max: 0, eta_min: 0.0 }.with_warmup(2).validate().is_err());
    }
}
