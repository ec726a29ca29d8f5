//! Step-size control: constant steps or a PID controller (Söderlind) on the embedded error estimate.

use crate::error::{invalid, Result};
use serde::{Deserialize, Serialize};

/// Adaptive step-size controller.
///
/// With `ε_n = 1 / ‖err_n‖` (RMS of `err / (atol + rtol · max(|y0|, |y1|))`) and `k` the order of
/// the embedded method + 1, the next step is `h · clip(safety · ε_n^{β1/k} ε_{n−1}^{β2/k} ε_{n−2}^{β3/k},
/// factormin, factormax)` with `β1 = p + i + d`, `β2 = −(p + 2d)`, `β3 = d` (Söderlind 2003, as in
/// diffrax). The defaults (`p = d = 0`, `i = 1`) are the classic I-controller of torchdiffeq. A step
/// is accepted when `‖err‖ ≤ 1`; a rejected step never grows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PidController {
    /// Relative tolerance.
    pub rtol: f64,
    /// Absolute tolerance.
    pub atol: f64,
    /// Proportional coefficient.
    pub pcoeff: f64,
    /// Integral coefficient.
    pub icoeff: f64,
    /// Derivative coefficient.
    pub dcoeff: f64,
    /// Safety factor.
    pub safety: f64,
    /// Smallest step-size factor.
    pub factormin: f64,
    /// Largest step-size factor.
    pub factormax: f64,
    /// Smallest allowed |step| (error [`StepSizeTooSmall`](crate::Error::StepSizeTooSmall) below).
    pub dtmin: f64,
    /// Largest allowed |step|.
    pub dtmax: f64,
    /// Step budget (error [`MaxSteps`](crate::Error::MaxSteps) beyond).
    pub max_steps: usize,
    /// First step; `None` uses Hairer's heuristic.
    pub dt0: Option<f64>,
    /// Times the solver must step exactly onto (discontinuities of the vector field).
    pub jump_ts: Vec<f64>,
}

impl PidController {
    /// I-controller with the given tolerances and the usual defaults (safety 0.9, factors 0.2–10).
    pub fn new(rtol: f64, atol: f64) -> Self {
        PidController {
            rtol,
            atol,
            pcoeff: 0.0,
            icoeff: 1.0,
            dcoeff: 0.0,
            safety: 0.9,
            factormin: 0.2,
            factormax: 10.0,
            dtmin: 0.0,
            dtmax: f64::INFINITY,
            max_steps: 100_000,
            dt0: None,
            jump_ts: Vec::new(),
        }
    }
    /// Sets the PID coefficients.
    pub fn pid(mut self, p: f64, i: f64, d: f64) -> Self {
        self.pcoeff = p;
        self.icoeff = i;
        self.dcoeff = d;
        self
    }
    /// Sets the step budget.
    pub fn max_steps(mut self, n: usize) -> Self {
        self.max_steps = n;
        self
    }
    /// Sets the smallest and largest step-size factors.
    pub fn factors(mut self, min: f64, max: f64) -> Self {
        self.factormin = min;
        self.factormax = max;
        self
    }
    /// Sets the minimal step.
    pub fn dtmin(mut self, dt: f64) -> Self {
        self.dtmin = dt;
        self
    }
    /// Sets the maximal step.
    pub fn dtmax(mut self, dt: f64) -> Self {
        self.dtmax = dt;
        self
    }
    /// Sets the first step.
    pub fn dt0(mut self, dt: f64) -> Self {
        self.dt0 = Some(dt);
        self
    }
    /// Times to step exactly onto.
    pub fn jump_ts(mut self, ts: Vec<f64>) -> Self {
        self.jump_ts = ts;
        self
    }
    /// Checks the settings.
    pub fn validate(&self) -> Result<()> {
        for (n, v) in [("rtol", self.rtol), ("atol", self.atol)] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(invalid(n, v, "must be finite and >= 0"));
            }
        }
        if self.rtol == 0.0 && self.atol == 0.0 {
            return Err(invalid("rtol, atol", "0, 0", "at least one tolerance must be > 0"));
        }
        if !(self.safety > 0.0 && self.safety <= 1.0) {
            return Err(invalid("safety", self.safety, "must be in (0, 1]"));
        }
        if !(self.factormin > 0.0 && self.factormin < 1.0 && self.factormax > 1.0) {
            return Err(invalid(
                "factormin, factormax",
                format!("{}, {}", self.factormin, self.factormax),
                "need 0 < factormin < 1 < factormax",
            ));
        }
        if !(self.dtmin >= 0.0 && self.dtmax > self.dtmin) {
            return Err(invalid(
                "dtmin, dtmax",
                format!("{}, {}", self.dtmin, self.dtmax),
                "need 0 <= dtmin < dtmax",
            ));
        }
        if self.max_steps == 0 {
            return Err(invalid("max_steps", 0, "must be > 0"));
        }
        if let Some(d) = self.dt0 {
            if !(d.is_finite() && d != 0.0) {
                return Err(invalid("dt0", d, "must be finite and non-zero"));
            }
        }
        if self.jump_ts.iter().any(|t| !t.is_finite()) {
            return Err(invalid("jump_ts", "non-finite", "times must be finite"));
        }
        Ok(())
    }

    /// The step-size factor after a step with inverse scaled errors `inv = [ε_n, ε_{n−1}, ε_{n−2}]`
    /// when the local error scales as `h^k` (`k = q + 1` for an embedded estimate of order `q`;
    /// `k = p + ½` for an SDE method of strong order `p`); `accepted` caps the factor at 1 when false.
    pub fn factor(&self, inv: [f64; 3], k: f64, accepted: bool) -> f64 {
        let b1 = self.pcoeff + self.icoeff + self.dcoeff;
        let b2 = -(self.pcoeff + 2.0 * self.dcoeff);
        let b3 = self.dcoeff;
        let pw = |x: f64, b: f64| if b == 0.0 { 1.0 } else { x.powf(b / k) };
        let f = self.safety * pw(inv[0], b1) * pw(inv[1], b2) * pw(inv[2], b3);
        let f = if f.is_finite() { f } else { self.factormax };
        let max = if accepted { self.factormax } else { 1.0 };
        f.clamp(self.factormin, max)
    }
}

/// How steps are chosen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum StepControl {
    /// Constant steps `dt` (the last one shortened to land on `t1`).
    Constant {
        /// Step size (its sign must match the direction of integration).
        dt: f64,
    },
    /// Adaptive steps.
    Adaptive(PidController),
}

impl StepControl {
    /// Constant steps.
    pub fn constant(dt: f64) -> Self {
        StepControl::Constant { dt }
    }
    /// Adaptive I-controller with tolerances.
    pub fn adaptive(rtol: f64, atol: f64) -> Self {
        StepControl::Adaptive(PidController::new(rtol, atol))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn i_controller_factor() {
        let c = PidController::new(1e-6, 1e-6);
        // error norm 0.5 for a 4th-order estimate: 0.9 · 2^{1/5}
        assert!((c.factor([2.0, 1.0, 1.0], 5.0, true) - 0.9 * 2f64.powf(0.2)).abs() < 1e-12);
        assert_eq!(c.factor([1e-30, 1.0, 1.0], 5.0, false), 0.2);
        assert_eq!(c.factor([1e30, 1.0, 1.0], 5.0, true), 10.0);
        assert!(c.factor([1e30, 1.0, 1.0], 5.0, false) <= 1.0);
        assert!(PidController::new(0.0, 0.0).validate().is_err());
        assert!(PidController::new(1e-3, -1.0).validate().unwrap_err().to_string().contains("atol"));
    }
}
