//! Explicit Runge–Kutta methods driven by a [`Tableau`].

use super::tableau::Tableau;
use super::tableaus;
use super::{OdeMethod, Solver, Stats, Step};
use crate::dense::Interpolant;
use crate::error::Result;
use crate::state::State;
use crate::term::OdeTerm;

/// An explicit Runge–Kutta method defined by its tableau.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExplicitRk {
    /// The tableau.
    pub tableau: &'static Tableau,
}

impl ExplicitRk {
    /// Forward Euler (order 1, constant steps).
    pub fn euler() -> Self {
        ExplicitRk { tableau: &tableaus::EULER }
    }
    /// Explicit midpoint 2(1).
    pub fn midpoint() -> Self {
        ExplicitRk { tableau: &tableaus::MIDPOINT }
    }
    /// Heun 2(1).
    pub fn heun() -> Self {
        ExplicitRk { tableau: &tableaus::HEUN }
    }
    /// Classic RK4 (constant steps).
    pub fn rk4() -> Self {
        ExplicitRk { tableau: &tableaus::RK4 }
    }
    /// Bogacki–Shampine 3(2).
    pub fn bosh3() -> Self {
        ExplicitRk { tableau: &tableaus::BOSH3 }
    }
    /// Dormand–Prince 5(4).
    pub fn dopri5() -> Self {
        ExplicitRk { tableau: &tableaus::DOPRI5 }
    }
    /// Tsitouras 5(4).
    pub fn tsit5() -> Self {
        ExplicitRk { tableau: &tableaus::TSIT5 }
    }
    /// Dormand–Prince 8(5,3) (DOP853).
    pub fn dopri8() -> Self {
        ExplicitRk { tableau: &tableaus::DOPRI8 }
    }
    /// Whether the tableau is Dormand–Prince 5(4), whose own 4th-order dense output is used. By
    /// content, not address: a `const` tableau has no fixed address (two references to it may or
    /// may not be equal, depending on the optimisation level).
    fn is_dopri5(&self) -> bool {
        let d = &tableaus::DOPRI5;
        self.tableau.name == d.name && self.tableau.c == d.c && self.tableau.b == d.b && self.tableau.a == d.a
    }
    /// By name: euler, midpoint, heun, rk4, bosh3, dopri5, tsit5, dopri8.
    pub fn by_name(name: &str) -> Result<Self> {
        tableaus::ALL.iter().find(|t| t.name == name).map(|t| ExplicitRk { tableau: t }).ok_or_else(|| {
            crate::error::invalid(
                "solver",
                name,
                "expected euler, midpoint, heun, rk4, bosh3, dopri5, tsit5 or dopri8",
            )
        })
    }
}

impl<S: State> Solver<S> for ExplicitRk {
    fn method(&self) -> OdeMethod {
        let tb = self.tableau;
        OdeMethod {
            name: tb.name,
            order: tb.order,
            error_order: tb.embedded_order,
            fsal: tb.fsal,
            implicit: false,
        }
    }
    fn step(
        &self,
        term: &dyn OdeTerm<S>,
        t: f64,
        y: &S,
        f0: Option<&S>,
        h: f64,
        keep_stages: bool,
        stats: &mut Stats,
    ) -> Result<Step<S>> {
        let tb = self.tableau;
        let s = tb.stages();
        let mut ks: Vec<S> = Vec::with_capacity(s);
        let mut stage_ys = Vec::new();
        let k0 = match f0 {
            Some(f) => f.dup(),
            None => {
                stats.nfe += 1;
                term.vf(t, y)?
            }
        };
        ks.push(k0);
        if keep_stages {
            stage_ys.push(y.dup());
        }
        let last_is_fsal = tb.fsal;
        let mut y1: Option<S> = None;
        for i in 1..s {
            let row = tb.a[i];
            let terms: Vec<(f64, &S)> =
                row.iter().zip(&ks).filter(|(a, _)| **a != 0.0).map(|(a, k)| (h * a, k)).collect();
            let yi = y.lincomb(&terms)?;
            stats.nfe += 1;
            let ki = term.vf(t + tb.c[i] * h, &yi)?;
            if keep_stages {
                stage_ys.push(yi.dup());
            }
            if last_is_fsal && i == s - 1 {
                y1 = Some(yi);
            }
            ks.push(ki);
        }
        let y1 = match y1 {
            Some(v) => v,
            None => {
                let terms: Vec<(f64, &S)> =
                    tb.b.iter().zip(&ks).filter(|(b, _)| **b != 0.0).map(|(b, k)| (h * b, k)).collect();
                y.lincomb(&terms)?
            }
        };
        let err = match (tb.e, tb.e3) {
            (Some(e), None) => {
                let terms: Vec<(f64, &S)> =
                    e.iter().zip(&ks).filter(|(c, _)| **c != 0.0).map(|(c, k)| (h * c, k)).collect();
                Some(S::combination(&terms)?)
            }
            (Some(e5), Some(_)) => {
                // DOP853: the controller combines both estimates; the 5th-order one is reported.
                let terms: Vec<(f64, &S)> =
                    e5.iter().zip(&ks).filter(|(c, _)| **c != 0.0).map(|(c, k)| (h * c, k)).collect();
                Some(S::combination(&terms)?)
            }
            _ => None,
        };
        let f1 = if last_is_fsal { ks.last().map(State::dup) } else { None };
        let f0 = ks[0].dup();
        Ok(Step { y1, err, f0, f1, ks, stage_ys, newton_failed: false })
    }
    fn error_norm(&self, step: &Step<S>, h: f64, y0: &S, rtol: f64, atol: f64) -> Result<f64> {
        combined_error_norm(self.tableau, step, h, y0, rtol, atol)
    }
    fn dense_order(&self) -> u32 {
        if self.is_dopri5() {
            4
        } else {
            3
        }
    }
    fn interpolant(&self, step: &Step<S>, y0: &S, f1: &S, h: f64) -> Result<Interpolant<S>> {
        if self.is_dopri5() {
            let r2 = S::combination(&[(1.0, &step.y1), (-1.0, y0)])?;
            let r3 = S::combination(&[(h, &step.ks[0]), (-1.0, &r2)])?;
            let r4 = S::combination(&[(1.0, &r2), (-h, &step.ks[6]), (-1.0, &r3)])?;
            let terms: Vec<(f64, &S)> = tableaus::DOPRI5_DENSE
                .iter()
                .zip(&step.ks)
                .filter(|(d, _)| **d != 0.0)
                .map(|(d, k)| (h * d, k))
                .collect();
            let r5 = S::combination(&terms)?;
            return Ok(Interpolant::Dopri5 { y0: y0.dup(), r2, r3, r4, r5 });
        }
        Ok(Interpolant::Hermite { y0: y0.dup(), y1: step.y1.dup(), f0: step.f0.dup(), f1: f1.dup() })
    }
}

/// DOP853's combined error norm (Hairer): `‖e5‖² / sqrt(‖e5‖² + 0.01 ‖e3‖²)`; the plain RMS norm
/// for other tableaux.
fn combined_error_norm<S: State>(
    tb: &Tableau,
    step: &Step<S>,
    h: f64,
    y0: &S,
    rtol: f64,
    atol: f64,
) -> Result<f64> {
    let Some(err) = &step.err else { return Ok(0.0) };
    let n5 = S::error_norm(err, y0, &step.y1, rtol, atol)?;
    match tb.e3 {
        None => Ok(n5),
        Some(e3) => {
            let terms: Vec<(f64, &S)> =
                e3.iter().zip(&step.ks).filter(|(c, _)| **c != 0.0).map(|(c, k)| (h * c, k)).collect();
            let n3 = S::error_norm(&S::combination(&terms)?, y0, &step.y1, rtol, atol)?;
            let den = (n5 * n5 + 0.01 * n3 * n3).sqrt();
            Ok(if den > 0.0 { n5 * n5 / den } else { 0.0 })
        }
    }
}
