//! Continuous normalising flows (Chen et al. 2018; FFJORD, Grathwohl et al. 2019):
//! `dz/dt = f(t, z)`, `d log p/dt = −tr(∂f/∂z)`, with Hutchinson's estimator
//! `tr(A) ≈ εᵀ A ε` (ε Rademacher, fixed along a solve) or the exact trace for small dimensions.
//!
//! Training by maximum likelihood, with the kinetic-energy and Jacobian-norm regularisers of
//! RNODE (Finlay et al. 2020) and any gradient strategy, is in [`ffjord`].

use crate::controller::StepControl;
use crate::error::{invalid, Result};
use crate::solve::{solve, SaveAt};
use crate::solver::{Solver, Stats};
use crate::term::OdeTerm;
use core_tensor::nn::{Activation, Mlp, MlpConfig};
use tch::{nn, nn::ModuleT, Kind, Tensor};

pub mod ffjord;

pub use ffjord::{CnfStep, Rnode};

/// How the divergence is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trace {
    /// `tr(J)` exactly, one vector–Jacobian product per dimension.
    Exact,
    /// Hutchinson's estimator with one Rademacher probe per sample.
    Hutchinson,
}

/// A CNF whose dynamics is an MLP of `[z, t]`.
#[derive(Debug)]
pub struct Cnf {
    mlp: Mlp,
    dim: i64,
    trace: Trace,
    noise: std::cell::RefCell<Option<Tensor>>,
}

/// The divergence of the dynamics and, when asked, the squared Frobenius norm of its Jacobian.
struct Divergence {
    /// `f(t, z)`, `[B, D]`.
    f: Tensor,
    /// `tr(∂f/∂z)` (exact or Hutchinson), `[B]`.
    trace: Tensor,
    /// `‖∂f/∂z‖²_F` (exact) or its Hutchinson estimate `‖εᵀ ∂f/∂z‖²`, `[B]`.
    frobenius: Option<Tensor>,
}

/// The augmented state `[z, ∫ tr]` packed as `[B, D + 1]`, or with `regularise`
/// `[z, ∫ tr, s ∫ ‖f‖², s ∫ ‖∂f/∂z‖²_F]` as `[B, D + 3]` with `s = PENALTY_SCALE`.
struct CnfTerm<'a> {
    cnf: &'a Cnf,
    regularise: bool,
}

impl Cnf {
    /// A CNF on `dim` dimensions with the given hidden widths (softplus, smooth divergence).
    pub fn new(path: &nn::Path<'_>, dim: i64, hidden: &[i64], trace: Trace) -> Result<Self> {
        if dim <= 0 {
            return Err(invalid("dim", dim, "must be > 0"));
        }
        let mut w = vec![dim + 1];
        w.extend(hidden);
        w.push(dim);
        Ok(Cnf {
            mlp: Mlp::new(path, &w, MlpConfig::default().activation(Activation::Softplus))?,
            dim,
            trace,
            noise: std::cell::RefCell::new(None),
        })
    }

    /// The data dimension `D`.
    pub fn dim(&self) -> i64 {
        self.dim
    }

    /// How the divergence is computed.
    pub fn trace(&self) -> Trace {
        self.trace
    }

    /// The same flow with another divergence (evaluate a Hutchinson-trained flow exactly, say).
    pub fn set_trace(&mut self, trace: Trace) {
        self.trace = trace;
    }

    /// `f(t, z)`.
    pub fn velocity(&self, t: f64, z: &Tensor) -> Tensor {
        let tt = Tensor::full([z.size()[0], 1], t, (z.kind(), z.device()));
        self.mlp.forward_t(&Tensor::cat(&[z.shallow_clone(), tt], 1), false)
    }

    /// `(f(t, z), −tr(∂f/∂z))` with a graph (create_graph) so training can backpropagate.
    pub fn dynamics(&self, t: f64, z: &Tensor) -> Result<(Tensor, Tensor)> {
        let d = self.divergence(t, z, false)?;
        Ok((d.f, -d.trace))
    }

    fn divergence(&self, t: f64, z: &Tensor, frobenius: bool) -> Result<Divergence> {
        let z = if z.requires_grad() { z.shallow_clone() } else { z.detach().set_requires_grad(true) };
        let f = tch::with_grad(|| self.velocity(t, &z));
        let probe = self.noise.borrow().as_ref().map(Tensor::shallow_clone);
        let (trace, frobenius) = jacobian_trace(&f, &z, self.trace, probe.as_ref(), frobenius)?;
        Ok(Divergence { f, trace, frobenius })
    }

    /// Checks `x [B, D]` and draws the Hutchinson probe for a solve of it.
    fn prepare(&self, x: &Tensor) -> Result<(i64, i64)> {
        let (b, d) =
            x.size2().map_err(|_| invalid("x", format!("{:?}", x.size()), "expected [batch, dim]"))?;
        if d != self.dim {
            return Err(invalid(
                "x",
                format!("{:?}", x.size()),
                &format!("last dimension must be {}", self.dim),
            ));
        }
        if self.trace == Trace::Hutchinson {
            let e = Tensor::randint(2, [b, d], (x.kind(), x.device())) * 2.0 - 1.0;
            *self.noise.borrow_mut() = Some(e);
        }
        Ok((b, d))
    }

    /// Log-density of `x [B, D]`: the flow carries `x` at `t = 0` to `z(1)` under a standard normal
    /// base, and `log p(x) = log N(z(1)) + ∫_0^1 tr(∂f/∂z) dt` (instantaneous change of variables).
    /// Returns `[B]` log-densities and the solver counters.
    pub fn log_prob(
        &self,
        x: &Tensor,
        solver: &dyn Solver<Tensor>,
        control: &StepControl,
    ) -> Result<(Tensor, Stats)> {
        let (b, d) = self.prepare(x)?;
        let y0 = Tensor::cat(&[x.shallow_clone(), Tensor::zeros([b, 1], (x.kind(), x.device()))], 1);
        let term = CnfTerm { cnf: self, regularise: false };
        let sol = solve(&term, solver, (0.0, 1.0), &y0, control, &SaveAt::t1())?;
        let y1 = sol.ys.last().expect("t1 saved");
        Ok((standard_normal_log_density(&y1.narrow(1, 0, d)) + y1.select(1, d), sol.stats))
    }

    /// `n` samples: `z ~ N(0, I)` carried from `t = 1` back to `t = 0` by the velocity alone.
    /// Returns `[n, D]` (no graph) and the solver counters.
    pub fn sample(
        &self,
        n: i64,
        solver: &dyn Solver<Tensor>,
        control: &StepControl,
        options: (Kind, tch::Device),
    ) -> Result<(Tensor, Stats)> {
        if n <= 0 {
            return Err(invalid("n", n, "must be > 0"));
        }
        let z = Tensor::randn([n, self.dim], options);
        let term = |t: f64, z: &Tensor| Ok(self.velocity(t, z));
        let sol = tch::no_grad(|| solve(&term, solver, (1.0, 0.0), &z, control, &SaveAt::t1()))?;
        Ok((sol.ys.last().expect("t0 saved").shallow_clone(), sol.stats))
    }
}

/// `tr(∂f/∂z)` per row for `f = f(z)` (both `[B, D]`, rows independent, `f` with a graph to `z`),
/// exactly (one vector–Jacobian product per dimension) or by Hutchinson's estimator with the probe
/// `ε [B, D]`, and optionally `‖∂f/∂z‖²_F` (exact) or its estimate `‖εᵀ ∂f/∂z‖²`. The products are
/// built with `create_graph`, so the results can be differentiated again.
///
/// # Errors
/// Hutchinson without a probe; libtorch's errors.
pub(crate) fn jacobian_trace(
    f: &Tensor,
    z: &Tensor,
    trace: Trace,
    probe: Option<&Tensor>,
    frobenius: bool,
) -> Result<(Tensor, Option<Tensor>)> {
    let sum1 = |x: Tensor| x.sum_dim_intlist([1].as_slice(), false, x.kind());
    match trace {
        Trace::Exact => {
            let mut tr = Tensor::zeros([z.size()[0]], (z.kind(), z.device()));
            let mut fr = frobenius.then(|| Tensor::zeros([z.size()[0]], (z.kind(), z.device())));
            for k in 0..z.size()[1] {
                let g = tch::with_grad(|| {
                    Tensor::f_run_backward(&[f.select(1, k).sum(f.kind())], &[z], true, true)
                })?;
                tr += g[0].select(1, k);
                if let Some(fr) = fr.as_mut() {
                    *fr += sum1(g[0].square());
                }
            }
            Ok((tr, fr))
        }
        Trace::Hutchinson => {
            let eps =
                probe.ok_or_else(|| invalid("probe", "unset", "Hutchinson's estimator needs a probe"))?;
            let g = tch::with_grad(|| Tensor::f_run_backward(&[(f * eps).sum(f.kind())], &[z], true, true))?;
            let g = g[0].shallow_clone();
            let fr = frobenius.then(|| sum1(g.square()));
            Ok((sum1(g * eps), fr))
        }
    }
}

/// `log N(z; 0, I)` per row of `z [B, D]`.
fn standard_normal_log_density(z: &Tensor) -> Tensor {
    let d = z.size()[1] as f64;
    (z.square().sum_dim_intlist([1].as_slice(), false, z.kind()) + d * (2.0 * std::f64::consts::PI).ln())
        * -0.5
}

/// The penalty channels carry `s·K` and `s·J`: at `s = 1e-6` they are far below the absolute
/// tolerance, so the step-size control follows the flow and its log-density alone (the penalties
/// need no accuracy of their own, as the adjoint's parameter channels under the seminorm), while
/// floating point keeps their relative precision.
pub(crate) const PENALTY_SCALE: f64 = 1e-6;

impl OdeTerm<Tensor> for CnfTerm<'_> {
    fn vf(&self, t: f64, y: &Tensor) -> Result<Tensor> {
        let d = self.cnf.dim;
        let z = y.narrow(1, 0, d);
        let div = self.cnf.divergence(t, &z, self.regularise)?;
        // the channel after z accumulates ∫ tr(∂f/∂z) dt
        let mut parts = vec![div.trace.unsqueeze(1)];
        if let Some(frob) = div.frobenius {
            let kinetic = div.f.square().sum_dim_intlist([1].as_slice(), true, div.f.kind());
            parts.push(kinetic * PENALTY_SCALE);
            parts.push(frob.unsqueeze(1) * PENALTY_SCALE);
        }
        parts.insert(0, div.f);
        Ok(Tensor::cat(&parts, 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::solver::ExplicitRk;
    use tch::Device;

    /// The CNF log-density equals `log N(z(1)) + log |det ∂z(1)/∂x|`, the determinant taken by
    /// autograd through the solver (an independent route), and Hutchinson's estimator is unbiased.
    #[test]
    fn log_density_matches_jacobian_determinant() {
        core_tensor::seed::seed_torch(0);
        let mut vs = nn::VarStore::new(Device::Cpu);
        let cnf = Cnf::new(&vs.root(), 2, &[16, 16], Trace::Exact).unwrap();
        vs.double();
        let x = Tensor::randn([3, 2], (Kind::Double, Device::Cpu));
        let c = StepControl::adaptive(1e-10, 1e-10);
        let (lp, _) = cnf.log_prob(&x, &ExplicitRk::dopri5(), &c).unwrap();
        for i in 0..3 {
            let xi = x.narrow(0, i, 1).detach().set_requires_grad(true);
            let term = |t: f64, z: &Tensor| Ok(cnf.velocity(t, z));
            let z1 =
                tch::with_grad(|| solve(&term, &ExplicitRk::dopri5(), (0.0, 1.0), &xi, &c, &SaveAt::t1()))
                    .unwrap()
                    .ys
                    .pop()
                    .unwrap();
            let mut rows = Vec::new();
            for k in 0..2 {
                let g = Tensor::run_backward(&[z1.select(1, k).sum(Kind::Double)], &[&xi], true, false);
                rows.push(g[0].squeeze_dim(0));
            }
            let jac = Tensor::stack(&rows, 0);
            let logdet = jac.det().abs().log().double_value(&[]);
            let z = z1.detach();
            let base = -0.5
                * (z.square().sum(Kind::Double).double_value(&[]) + 2.0 * (2.0 * std::f64::consts::PI).ln());
            let expected = base + logdet;
            assert!(
                (lp.double_value(&[i]) - expected).abs() < 1e-6,
                "{} vs {expected}",
                lp.double_value(&[i])
            );
        }
        // Hutchinson: the mean of εᵀJε over probes approaches tr J
        let vs2 = nn::VarStore::new(Device::Cpu);
        let mut h = Cnf::new(&vs2.root(), 2, &[16], Trace::Exact).unwrap();
        let z = Tensor::randn([1, 2], (Kind::Float, Device::Cpu));
        let (_, ndiv) = h.dynamics(0.3, &z).unwrap();
        h.trace = Trace::Hutchinson;
        let mut acc = 0.0;
        let n = 4000;
        for _ in 0..n {
            *h.noise.borrow_mut() = Some(Tensor::randint(2, [1, 2], (Kind::Float, Device::Cpu)) * 2.0 - 1.0);
            acc += h.dynamics(0.3, &z).unwrap().1.double_value(&[0]);
        }
        let est = acc / n as f64;
        let tr = ndiv.double_value(&[0]);
        assert!((est - tr).abs() < 0.05 * tr.abs().max(0.1), "{est} vs {tr}");
    }
}
