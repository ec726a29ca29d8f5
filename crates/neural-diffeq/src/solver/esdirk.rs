//! Implicit ESDIRK methods (Kværnø 2004) for stiff problems, with simplified Newton iterations.
//!
//! Each implicit stage solves `z = ψ + hγ f(t + c_i h, z)` with `M = I − hγJ`, the Jacobian `J`
//! taken once per step at `(t, y)`: from finite differences or a user function for
//! `DVector<f64>`, from autograd for tensors (`[B, D]` states whose rows evolve independently, so
//! the Jacobian is `[B, D, D]`).

use super::esdirk_tableaus::{EsdirkTableau, KVAERNO3, KVAERNO5};
use super::{OdeMethod, Solver, Stats, Step};
use crate::error::{Error, Result};
use crate::state::State;
use crate::term::OdeTerm;
use nalgebra::{DMatrix, DVector};
use tch::Tensor;

/// States that support the linear algebra of a Newton iteration.
pub trait NewtonState: State {
    /// The Newton matrix `I − hγJ`, factorised.
    type Factor;
    /// Builds and factorises `I − hγ ∂f/∂y` at `(t, y)`.
    fn newton_matrix(
        term: &dyn OdeTerm<Self>,
        t: f64,
        y: &Self,
        f0: &Self,
        hg: f64,
        user: Option<&UserJacobian<Self>>,
        stats: &mut Stats,
    ) -> Result<Self::Factor>;
    /// Solves `M x = r`.
    fn solve(m: &Self::Factor, r: &Self) -> Result<Self>;
}

/// A user-supplied Jacobian `∂f/∂y (t, y)` for `DVector<f64>` states.
pub type UserJacobian<S> = Box<dyn Fn(f64, &S) -> Result<DMatrix<f64>> + Send + Sync>;

impl NewtonState for DVector<f64> {
    type Factor = nalgebra::LU<f64, nalgebra::Dyn, nalgebra::Dyn>;
    fn newton_matrix(
        term: &dyn OdeTerm<Self>,
        t: f64,
        y: &Self,
        f0: &Self,
        hg: f64,
        user: Option<&UserJacobian<Self>>,
        stats: &mut Stats,
    ) -> Result<Self::Factor> {
        let n = y.len();
        let j = match user {
            Some(u) => u(t, y)?,
            None => {
                // forward differences, δ_j = √ε · max(|y_j|, 1)
                let mut j = DMatrix::zeros(n, n);
                for c in 0..n {
                    let d = f64::EPSILON.sqrt() * y[c].abs().max(1.0);
                    let mut yp = y.clone();
                    yp[c] += d;
                    stats.nfe += 1;
                    let fp = term.vf(t, &yp)?;
                    j.set_column(c, &((fp - f0) / d));
                }
                j
            }
        };
        Ok((DMatrix::identity(n, n) - j * hg).lu())
    }
    fn solve(m: &Self::Factor, r: &Self) -> Result<Self> {
        m.solve(r).ok_or_else(|| crate::error::invalid("Newton matrix", "singular", "cannot solve"))
    }
}

impl NewtonState for Tensor {
    type Factor = Tensor;
    fn newton_matrix(
        term: &dyn OdeTerm<Self>,
        t: f64,
        y: &Self,
        _f0: &Self,
        hg: f64,
        _user: Option<&UserJacobian<Self>>,
        stats: &mut Stats,
    ) -> Result<Self::Factor> {
        let (_, d) = y.size2().map_err(|_| {
            crate::error::invalid(
                "y",
                format!("{:?}", y.size()),
                "implicit tensor solves need [batch, dim] states",
            )
        })?;
        let yr = y.detach().set_requires_grad(true);
        let fy = tch::with_grad(|| term.vf(t, &yr))?;
        stats.nfe += 1;
        Ok(newton_factor(&batch_jacobian(&fy, &yr, d)?, hg))
    }
    fn solve(m: &Self::Factor, r: &Self) -> Result<Self> {
        Ok(Tensor::f_linalg_solve(m, &r.unsqueeze(-1), true)?.squeeze_dim(-1))
    }
}

/// The per-sample Jacobians `∂f_b/∂y_b` `[B, D(out), D(in)]` of `fy = f(yr)` (both `[B, D]`, rows
/// independent), one vector–Jacobian product per output dimension; `fy`'s graph is kept.
pub(crate) fn batch_jacobian(fy: &Tensor, yr: &Tensor, d: i64) -> Result<Tensor> {
    let mut rows = Vec::with_capacity(d as usize);
    for k in 0..d {
        // the sum must be built with grad mode on as well: under an outer no_grad it would
        // have no graph, and libtorch's backward does not survive that
        let g =
            tch::with_grad(|| Tensor::f_run_backward(&[fy.select(1, k).sum(fy.kind())], &[yr], true, false))?;
        rows.push(g[0].shallow_clone()); // [B, D] = ∂f_k/∂y per sample
    }
    Ok(Tensor::stack(&rows, 1))
}

/// The per-sample Newton matrix `I − hγ J` for Jacobians `j [B, D, D]`, without a graph.
pub(crate) fn newton_factor(j: &Tensor, hg: f64) -> Tensor {
    let d = j.size()[1];
    let eye = Tensor::eye(d, (j.kind(), j.device())).unsqueeze(0);
    (eye - j * hg).detach()
}

/// An ESDIRK method with its Newton settings.
pub struct Esdirk<S: NewtonState> {
    /// The tableau.
    pub tableau: &'static EsdirkTableau,
    /// Newton stops when the scaled RMS of the update is below 1 with these tolerances
    /// (use about 1/100 of the step controller's).
    pub newton_rtol: f64,
    /// Absolute Newton tolerance.
    pub newton_atol: f64,
    /// Newton iterations per stage before the step is declared failed (and retried smaller).
    pub max_newton: usize,
    /// Optional exact Jacobian (f64 states).
    pub jacobian: Option<UserJacobian<S>>,
}

impl<S: NewtonState> std::fmt::Debug for Esdirk<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Esdirk")
            .field("tableau", &self.tableau.name)
            .field("newton_rtol", &self.newton_rtol)
            .finish()
    }
}

impl<S: NewtonState> Esdirk<S> {
    /// Kvaerno5 (order 5(4)) with Newton tolerances `1e-2 ×` the given step tolerances.
    pub fn kvaerno5(rtol: f64, atol: f64) -> Self {
        Esdirk {
            tableau: &KVAERNO5,
            newton_rtol: 1e-2 * rtol,
            newton_atol: 1e-2 * atol,
            max_newton: 10,
            jacobian: None,
        }
    }
    /// Kvaerno3 (order 3(2)).
    pub fn kvaerno3(rtol: f64, atol: f64) -> Self {
        Esdirk {
            tableau: &KVAERNO3,
            newton_rtol: 1e-2 * rtol,
            newton_atol: 1e-2 * atol,
            max_newton: 10,
            jacobian: None,
        }
    }
    /// Uses an exact Jacobian.
    pub fn with_jacobian(mut self, j: UserJacobian<S>) -> Self {
        self.jacobian = Some(j);
        self
    }
}

impl<S: NewtonState> Solver<S> for Esdirk<S> {
    fn method(&self) -> OdeMethod {
        let tb = self.tableau;
        OdeMethod {
            name: tb.name,
            order: tb.order,
            error_order: Some(tb.embedded_order),
            fsal: false,
            implicit: true,
        }
    }
    fn step(
        &self,
        term: &dyn OdeTerm<S>,
        t: f64,
        y: &S,
        f0: Option<&S>,
        h: f64,
        _keep: bool,
        stats: &mut Stats,
    ) -> Result<Step<S>> {
        let tb = self.tableau;
        let k0 = match f0 {
            Some(f) => f.dup(),
            None => {
                stats.nfe += 1;
                term.vf(t, y)?
            }
        };
        let hg = h * tb.gamma;
        let m = S::newton_matrix(term, t, y, &k0, hg, self.jacobian.as_ref(), stats)?;
        let mut ks = vec![k0.dup()];
        for i in 1..tb.c.len() {
            let terms: Vec<(f64, &S)> =
                tb.a[i].iter().zip(&ks).filter(|(a, _)| **a != 0.0).map(|(a, k)| (h * a, k)).collect();
            let psi = y.lincomb(&terms)?;
            let ti = t + tb.c[i] * h;
            // predictor: the previous stage derivative
            let mut z = psi.lincomb(&[(hg, &ks[i - 1])])?;
            let mut converged = false;
            for _ in 0..self.max_newton {
                stats.nfe += 1;
                let fz = term.vf(ti, &z)?;
                // residual r = z − ψ − hγ f(z); update Δ = −M⁻¹ r
                let r = z.lincomb(&[(-1.0, &psi), (-hg, &fz)])?;
                let delta = S::solve(&m, &r)?;
                let dn = S::scaled_rms(&delta, &z, self.newton_rtol, self.newton_atol)?;
                z = z.lincomb(&[(-1.0, &delta)])?;
                if !dn.is_finite() {
                    break;
                }
                if dn <= 1.0 {
                    converged = true;
                    break;
                }
            }
            if !converged {
                return Ok(Step {
                    y1: y.dup(),
                    err: None,
                    f0: k0,
                    f1: None,
                    ks,
                    stage_ys: vec![],
                    newton_failed: true,
                });
            }
            // k_i from the converged stage: (z − ψ) / (hγ)
            let ki = S::combination(&[(1.0 / hg, &z), (-1.0 / hg, &psi)])?;
            ks.push(ki);
        }
        let bt: Vec<(f64, &S)> =
            tb.b.iter().zip(&ks).filter(|(b, _)| **b != 0.0).map(|(b, k)| (h * b, k)).collect();
        let y1 = y.lincomb(&bt)?;
        let et: Vec<(f64, &S)> =
            tb.e.iter().zip(&ks).filter(|(e, _)| **e != 0.0).map(|(e, k)| (h * e, k)).collect();
        let err = S::combination(&et)?;
        Ok(Step { y1, err: Some(err), f0: k0, f1: None, ks, stage_ys: vec![], newton_failed: false })
    }
}

/// Kept for error messages of the solve loop.
pub(crate) fn newton_error(t: f64, dt: f64) -> Error {
    Error::NewtonFailed { t, dt }
}
