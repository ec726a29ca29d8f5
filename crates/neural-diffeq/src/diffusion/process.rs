//! Forward noising SDEs `dx = f(t) x dt + g(t) dW` on `t ∈ [0, 1]` whose perturbation kernel is
//! Gaussian, `p_t(x | x_0) = N(m(t) x_0, σ(t)² I)` (Song et al. 2021, appendix B):
//!
//! | process | `f(t)` | `g(t)²` | `m(t)` | `σ(t)²` |
//! |---|---|---|---|---|
//! | VP (DDPM, linear β) | `−β(t)/2` | `β(t)` | `e^{−B(t)/2}` | `1 − e^{−B(t)}` |
//! | sub-VP | `−β(t)/2` | `β(t)(1 − e^{−2B(t)})` | `e^{−B(t)/2}` | `(1 − e^{−B(t)})²` |
//! | VE (SMLD) | `0` | `dσ_t²/dt = 2σ_t² ln(σ_max/σ_min)` | `1` | `σ_t² − σ_min²` |
//!
//! with `β(t) = β_min + t(β_max − β_min)`, `B(t) = ∫_0^t β = β_min t + (β_max − β_min) t²/2` and
//! `σ_t = σ_min (σ_max/σ_min)^t`.

use crate::error::{invalid, Result};

/// A forward noising process.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Process {
    /// Variance preserving (the continuous DDPM) with a linear `β(t)`.
    Vp {
        /// `β(0)`.
        beta_min: f64,
        /// `β(1)`.
        beta_max: f64,
    },
    /// Sub-variance preserving.
    SubVp {
        /// `β(0)`.
        beta_min: f64,
        /// `β(1)`.
        beta_max: f64,
    },
    /// Variance exploding (noise-conditional score networks).
    Ve {
        /// `σ(0)`.
        sigma_min: f64,
        /// `σ(1)`.
        sigma_max: f64,
    },
}

impl Process {
    /// VP with Song et al.'s `β_min = 0.1`, `β_max = 20`.
    pub const VP: Process = Process::Vp { beta_min: 0.1, beta_max: 20.0 };
    /// Sub-VP with `β_min = 0.1`, `β_max = 20`.
    pub const SUB_VP: Process = Process::SubVp { beta_min: 0.1, beta_max: 20.0 };

    /// VE with `σ_min = 0.01` and `σ_max` (about the largest distance between data points).
    pub fn ve(sigma_max: f64) -> Self {
        Process::Ve { sigma_min: 0.01, sigma_max }
    }

    /// Checks the parameters: `0 ≤ β_min < β_max` finite; `0 < σ_min < σ_max` finite.
    ///
    /// # Errors
    /// The parameters, when they are not.
    pub fn check(&self) -> Result<()> {
        let ok = match *self {
            Process::Vp { beta_min, beta_max } | Process::SubVp { beta_min, beta_max } => {
                beta_min.is_finite() && beta_max.is_finite() && beta_min >= 0.0 && beta_min < beta_max
            }
            Process::Ve { sigma_min, sigma_max } => {
                sigma_min.is_finite() && sigma_max.is_finite() && sigma_min > 0.0 && sigma_min < sigma_max
            }
        };
        if ok {
            Ok(())
        } else {
            Err(invalid(
                "process",
                format!("{self:?}"),
                "need 0 <= beta_min < beta_max or 0 < sigma_min < sigma_max",
            ))
        }
    }

    fn beta(beta_min: f64, beta_max: f64, t: f64) -> (f64, f64) {
        (beta_min + t * (beta_max - beta_min), beta_min * t + 0.5 * (beta_max - beta_min) * t * t)
    }

    /// `f(t)`, the drift being `f(t) x`.
    pub fn drift_coefficient(&self, t: f64) -> f64 {
        match *self {
            Process::Vp { beta_min, beta_max } | Process::SubVp { beta_min, beta_max } => {
                -0.5 * Self::beta(beta_min, beta_max, t).0
            }
            Process::Ve { .. } => 0.0,
        }
    }

    /// `g(t)²`.
    pub fn diffusion_squared(&self, t: f64) -> f64 {
        match *self {
            Process::Vp { beta_min, beta_max } => Self::beta(beta_min, beta_max, t).0,
            Process::SubVp { beta_min, beta_max } => {
                let (b, big) = Self::beta(beta_min, beta_max, t);
                b * (1.0 - (-2.0 * big).exp())
            }
            Process::Ve { sigma_min, sigma_max } => {
                let s = sigma_min * (sigma_max / sigma_min).powf(t);
                2.0 * s * s * (sigma_max / sigma_min).ln()
            }
        }
    }

    /// `(m(t), σ(t))` of the perturbation kernel `N(m(t) x_0, σ(t)² I)`.
    pub fn marginal(&self, t: f64) -> (f64, f64) {
        match *self {
            Process::Vp { beta_min, beta_max } => {
                let big = Self::beta(beta_min, beta_max, t).1;
                ((-0.5 * big).exp(), (-(-big).exp_m1()).sqrt())
            }
            Process::SubVp { beta_min, beta_max } => {
                let big = Self::beta(beta_min, beta_max, t).1;
                ((-0.5 * big).exp(), -(-big).exp_m1())
            }
            Process::Ve { sigma_min, sigma_max } => {
                let s = sigma_min * (sigma_max / sigma_min).powf(t);
                (1.0, (s * s - sigma_min * sigma_min).max(0.0).sqrt())
            }
        }
    }

    /// The standard deviation of the Gaussian prior the reverse process starts from at `t = 1`
    /// (1 for VP and sub-VP, `σ_max` for VE).
    pub fn prior_std(&self) -> f64 {
        match *self {
            Process::Vp { .. } | Process::SubVp { .. } => 1.0,
            Process::Ve { sigma_max, .. } => sigma_max,
        }
    }

    /// A short name (`vp`, `sub_vp`, `ve`).
    pub fn name(&self) -> &'static str {
        match self {
            Process::Vp { .. } => "vp",
            Process::SubVp { .. } => "sub_vp",
            Process::Ve { .. } => "ve",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::StepControl;
    use crate::solve::{solve, SaveAt};
    use crate::solver::ExplicitRk;
    use nalgebra::DVector;

    /// The kernel's mean factor and variance solve the moment equations of the linear SDE,
    /// `m' = f m` and `v' = 2 f v + g²` (with `v(0) = 0`, VE from `σ_min²`), integrated
    /// numerically from the drift and diffusion alone.
    #[test]
    fn kernels_solve_the_moment_equations() {
        for p in [Process::VP, Process::SUB_VP, Process::ve(50.0)] {
            p.check().unwrap();
            let rhs = |t: f64, y: &DVector<f64>| {
                let f = p.drift_coefficient(t);
                Ok(DVector::from_row_slice(&[f * y[0], 2.0 * f * y[1] + p.diffusion_squared(t)]))
            };
            let c = StepControl::adaptive(1e-11, 1e-13);
            for t in [0.1, 0.5, 1.0] {
                let sol = solve(
                    &rhs,
                    &ExplicitRk::dopri8(),
                    (0.0, t),
                    &DVector::from_row_slice(&[1.0, 0.0]),
                    &c,
                    &SaveAt::t1(),
                )
                .unwrap();
                let y = sol.ys.last().unwrap();
                let (m, s) = p.marginal(t);
                assert!((y[0] - m).abs() < 1e-8 * m.max(1e-3), "{} t={t}: m {} vs {m}", p.name(), y[0]);
                assert!(
                    (y[1] - s * s).abs() < 1e-7 * (s * s).max(1e-3),
                    "{} t={t}: v {} vs {}",
                    p.name(),
                    y[1],
                    s * s
                );
            }
        }
        assert!(Process::Vp { beta_min: 1.0, beta_max: 0.5 }.check().is_err());
        assert!(Process::Ve { sigma_min: 0.0, sigma_max: 1.0 }.check().is_err());
        assert!(Process::Ve { sigma_min: 0.1, sigma_max: f64::NAN }.check().is_err());
    }
}
