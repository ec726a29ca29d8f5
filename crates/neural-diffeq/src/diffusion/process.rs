//! Forward noising SDEs `dx = f(t) x dt + g(t) dW` on `t ∈ [0, 1]` whose perturbation kernel is
//! Gaussian, `p_t(x | x_0) = N(m(t) x_0, σ(t)² I)` (Song et al. 2021, appendix B):
//!
//! | process | `f(t)` | `g(t)²` | `m(t)` | `σ(t)²` |
//! |---|---|---|---|---|
//! | VP (DDPM, linear β) | `−β(t)/2` | `β(t)` | `e^{−B(t)/2}` | `1 − e^{−B(t)}` |
//! | sub-VP | `−β(t)/2` | `β(t)(1 − e^{−2B(t)})` | `e^{−B(t)/2}` | `(1 − e^{−B(t)})²` |
//! | VE (SMLD) | `0` | `dσ_t²/dt = 2σ_t² ln(σ_max/σ_min)` | `1` | `σ_t² − σ_min²` |
//! | VP, cosine | `−β(t)/2` | `β(t) = −σ(t)² λ'(t)` | `√sigmoid(λ(t))` | `sigmoid(−λ(t))` |
//!
//! with `β(t) = β_min + t(β_max − β_min)`, `B(t) = ∫_0^t β = β_min t + (β_max − β_min) t²/2`,
//! `σ_t = σ_min (σ_max/σ_min)^t`, and for the cosine schedule (Nichol & Dhariwal 2021,
//! `ᾱ = cos²(π t/2)`, written in log-SNR and truncated to `[λ_min, λ_max]` so that `β` stays finite)
//! `λ(t) = −2 ln tan(a t + b)` with `b = atan(e^{−λ_max/2})`, `a = atan(e^{−λ_min/2}) − b`.

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
    /// Variance preserving with the cosine schedule in log-SNR form, `λ(0) = λ_max`, `λ(1) = λ_min`.
    VpCosine {
        /// `λ(1)`, the log signal-to-noise ratio at the end (e.g. −20).
        logsnr_min: f64,
        /// `λ(0)` (e.g. 20).
        logsnr_max: f64,
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

    /// The cosine schedule with `λ ∈ [−20, 20]`.
    pub const VP_COSINE: Process = Process::VpCosine { logsnr_min: -20.0, logsnr_max: 20.0 };

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
            Process::VpCosine { logsnr_min, logsnr_max } => {
                logsnr_min.is_finite() && logsnr_max.is_finite() && logsnr_min < logsnr_max
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

    /// `(λ(t), λ'(t))` of the cosine schedule.
    fn logsnr(logsnr_min: f64, logsnr_max: f64, t: f64) -> (f64, f64) {
        let b = (-0.5 * logsnr_max).exp().atan();
        let a = (-0.5 * logsnr_min).exp().atan() - b;
        let u = a * t + b;
        (-2.0 * u.tan().ln(), -4.0 * a / (2.0 * u).sin())
    }

    /// `f(t)`, the drift being `f(t) x`.
    pub fn drift_coefficient(&self, t: f64) -> f64 {
        match *self {
            Process::Vp { beta_min, beta_max } | Process::SubVp { beta_min, beta_max } => {
                -0.5 * Self::beta(beta_min, beta_max, t).0
            }
            Process::VpCosine { .. } => -0.5 * self.diffusion_squared(t),
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
            Process::VpCosine { logsnr_min, logsnr_max } => {
                let (l, dl) = Self::logsnr(logsnr_min, logsnr_max, t);
                // β = −d ln ᾱ/dt = −σ² λ' with σ² = sigmoid(−λ)
                -dl / (1.0 + l.exp())
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
            Process::VpCosine { logsnr_min, logsnr_max } => {
                let l = Self::logsnr(logsnr_min, logsnr_max, t).0;
                // ᾱ = sigmoid(λ), σ² = sigmoid(−λ)
                ((1.0 / (1.0 + (-l).exp())).sqrt(), (1.0 / (1.0 + l.exp())).sqrt())
            }
        }
    }

    /// The standard deviation of the Gaussian prior the reverse process starts from at `t = 1`
    /// (1 for VP and sub-VP, `σ_max` for VE).
    pub fn prior_std(&self) -> f64 {
        match *self {
            Process::Vp { .. } | Process::SubVp { .. } | Process::VpCosine { .. } => 1.0,
            Process::Ve { sigma_max, .. } => sigma_max,
        }
    }

    /// A short name (`vp`, `vp_cosine`, `sub_vp`, `ve`).
    pub fn name(&self) -> &'static str {
        match self {
            Process::Vp { .. } => "vp",
            Process::VpCosine { .. } => "vp_cosine",
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
    /// `m' = f m` and `v' = 2 f v + g²` (from `m(0)`, `v(0)`), integrated
    /// numerically from the drift and diffusion alone.
    #[test]
    fn kernels_solve_the_moment_equations() {
        for p in [Process::VP, Process::SUB_VP, Process::ve(50.0), Process::VP_COSINE] {
            p.check().unwrap();
            let (m0, s0) = p.marginal(0.0);
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
                    &DVector::from_row_slice(&[m0, s0 * s0]),
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
        assert!(Process::VpCosine { logsnr_min: 5.0, logsnr_max: -5.0 }.check().is_err());
        // the cosine schedule: ᾱ(t) = cos²(π t/2) up to the truncation (2e-5 at t = 0.3)
        let (m, _) = Process::VP_COSINE.marginal(0.3);
        assert!((m * m - (std::f64::consts::FRAC_PI_2 * 0.3).cos().powi(2)).abs() < 1e-4);
    }
}
