//! The continuous adjoint (Chen et al. 2018): `a' = −aᵀ ∂f/∂y`, `g' = −aᵀ ∂f/∂θ` solved from `t1`
//! back to `t0`, picking up each save time's cotangent on the way.
//!
//! - **Explicit methods — backsolve**: `y` is solved backwards beside `a` and `g` (state
//!   `[y, a, g_θ…]`), so the memory does not grow with the steps (torchdiffeq's `odeint_adjoint`,
//!   diffrax's `BacksolveAdjoint`).
//! - **Implicit methods — interpolating adjoint**: a stiff, dissipative `y` cannot be solved
//!   backwards (its decay `e^{−kt}` becomes growth `e^{kt}`: at k = 1000 the backward solve of a
//!   test problem shrank its step to 5e-16 and stopped), so the forward solve keeps its dense
//!   output and the backward state is `[a, g_θ…]` with `y(t)` read from it (the
//!   interpolating adjoint of SciMLSensitivity). Memory grows with the forward steps, as for
//!   recomputation.
//!
//! The implicit methods' simplified Newton iteration on the augmented state uses the diagonal
//! blocks of its Jacobian, `M_y = I − hγJ` and `M_a = I + hγJᵀ` (`J = ∂f/∂y`, the `a` block
//! being `−Jᵀ`), and the identity for `g`, whose right-hand side does not depend on it. The
//! neglected blocks are strictly lower triangular (`a'` depends on `y`, `g'` on both), so on the
//! linearised system the iteration matrix `M̃⁻¹(M̃ − M)` is nilpotent and its error vanishes after
//! three sweeps: the coupling costs iterations, never convergence.

use super::{accumulate, TensorTuple};
use crate::controller::{PidController, StepControl};
use crate::dense::DenseOutput;
use crate::error::{invalid, Result};
use crate::solve::{solve, SaveAt};
use crate::solver::esdirk::{batch_jacobian, newton_factor, NewtonState, UserJacobian};
use crate::solver::{Esdirk, ExplicitRk, Solver, Stats};
use crate::state::State;
use crate::term::OdeTerm;
use tch::{Kind, Tensor};

/// `[y, a, g_θ…]` (backsolve) or `[a, g_θ…]` (interpolating) as one state (the tuple's norm
/// settings apply); the leading `blocks` parts are `[B, D]` and get a Newton block.
#[derive(Debug)]
pub(crate) struct AdjointState {
    tuple: TensorTuple,
    blocks: usize,
}

impl State for AdjointState {
    fn dup(&self) -> Self {
        AdjointState { tuple: self.tuple.dup(), blocks: self.blocks }
    }
    fn lincomb(&self, terms: &[(f64, &Self)]) -> Result<Self> {
        let ts: Vec<(f64, &TensorTuple)> = terms.iter().map(|(c, x)| (*c, &x.tuple)).collect();
        Ok(AdjointState { tuple: self.tuple.lincomb(&ts)?, blocks: self.blocks })
    }
    fn combination(terms: &[(f64, &Self)]) -> Result<Self> {
        let blocks = terms.first().map_or(0, |(_, x)| x.blocks);
        let ts: Vec<(f64, &TensorTuple)> = terms.iter().map(|(c, x)| (*c, &x.tuple)).collect();
        Ok(AdjointState { tuple: TensorTuple::combination(&ts)?, blocks })
    }
    fn error_norm(err: &Self, y0: &Self, y1: &Self, rtol: f64, atol: f64) -> Result<f64> {
        TensorTuple::error_norm(&err.tuple, &y0.tuple, &y1.tuple, rtol, atol)
    }
    fn scaled_rms(x: &Self, y: &Self, rtol: f64, atol: f64) -> Result<f64> {
        TensorTuple::scaled_rms(&x.tuple, &y.tuple, rtol, atol)
    }
    fn is_finite(&self) -> Result<bool> {
        self.tuple.is_finite()
    }
    fn len(&self) -> usize {
        self.tuple.len()
    }
    fn shape(&self) -> Vec<i64> {
        self.tuple.shape()
    }
}

impl NewtonState for AdjointState {
    /// `I − hγ J_ii` for each leading block, `[B, D, D]`.
    type Factor = Vec<Tensor>;
    fn newton_matrix(
        term: &dyn OdeTerm<Self>,
        t: f64,
        y: &Self,
        _f0: &Self,
        hg: f64,
        _user: Option<&UserJacobian<Self>>,
        stats: &mut Stats,
    ) -> Result<Self::Factor> {
        let first = &y.tuple.parts[0];
        let (_, d) = first.size2().map_err(|_| {
            invalid("y", format!("{:?}", first.size()), "implicit adjoint solves need [batch, dim] states")
        })?;
        // inputs that require grad make the augmented term build its outputs with a graph
        let parts: Vec<Tensor> = y
            .tuple
            .parts
            .iter()
            .enumerate()
            .map(|(i, p)| if i < y.blocks { p.detach().set_requires_grad(true) } else { p.detach() })
            .collect();
        let inputs: Vec<Tensor> = parts[..y.blocks].iter().map(Tensor::shallow_clone).collect();
        let state =
            AdjointState { tuple: TensorTuple { parts, norm_parts: y.tuple.norm_parts }, blocks: y.blocks };
        let out = tch::with_grad(|| term.vf(t, &state))?;
        stats.nfe += 1;
        inputs
            .iter()
            .enumerate()
            .map(|(i, x)| Ok(newton_factor(&batch_jacobian(&out.tuple.parts[i], x, d)?, hg)))
            .collect()
    }
    fn solve(m: &Self::Factor, r: &Self) -> Result<Self> {
        let mut parts = Vec::with_capacity(r.tuple.parts.len());
        for (i, p) in r.tuple.parts.iter().enumerate() {
            parts.push(match m.get(i) {
                Some(mi) => <Tensor as NewtonState>::solve(mi, p)?,
                None => p.shallow_clone(),
            });
        }
        Ok(AdjointState { tuple: TensorTuple { parts, norm_parts: r.tuple.norm_parts }, blocks: r.blocks })
    }
}

/// [`solve_backward_at`](super::solve_backward_at) with the continuous adjoint: the forward solve
/// without a graph, then one backward solve per interval between save times (see the module).
#[allow(clippy::too_many_arguments)]
pub(crate) fn continuous_adjoint(
    term: &dyn OdeTerm<Tensor>,
    params: &[Tensor],
    solver: &dyn Solver<Tensor>,
    (span, y0): ((f64, f64), &Tensor),
    control: &StepControl,
    (rtol, atol, seminorm): (f64, f64, bool),
    ts: &[f64],
    cotangents: impl FnOnce(&[Tensor]) -> Result<Vec<Tensor>>,
) -> Result<(Vec<Tensor>, Tensor, Stats, Stats)> {
    let interpolate = solver.method().implicit;
    let saveat = SaveAt { ts: ts.to_vec(), dense: interpolate, ..Default::default() };
    let sol = tch::no_grad(|| solve(term, solver, span, y0, control, &saveat))?;
    let cots = cotangents(&sol.ys)?;
    // leading [B, D] parts: y and a (backsolve) or a alone (interpolating)
    let blocks = if interpolate { 1 } else { 2 };
    let norm_parts = if seminorm { blocks } else { blocks + params.len() };
    let dense = sol.dense.as_ref();
    let aug = |t: f64, s: &AdjointState| -> Result<AdjointState> {
        let p = &s.tuple.parts;
        let a = &p[blocks - 1];
        // inputs with grad (a Newton matrix being built): outputs keep their graph
        let keep = a.requires_grad();
        let y = match dense {
            Some(d) => forward_state(d, t)?.detach().set_requires_grad(true),
            None if keep => p[0].shallow_clone(),
            None => p[0].detach().set_requires_grad(true),
        };
        let f = tch::with_grad(|| term.vf(t, &y))?;
        let mut inputs: Vec<&Tensor> = vec![&y];
        inputs.extend(params.iter());
        let g =
            tch::with_grad(|| Tensor::f_run_backward(&[(&f * a).sum(Kind::Double)], &inputs, keep, keep))?;
        let mut out = Vec::with_capacity(p.len());
        if dense.is_none() {
            out.push(if keep { f } else { f.detach() });
        }
        out.push(-&g[0]);
        for (q, gi) in params.iter().zip(&g[1..]) {
            out.push(if gi.defined() { -gi } else { q.zeros_like() });
        }
        Ok(AdjointState { tuple: TensorTuple { parts: out, norm_parts: s.tuple.norm_parts }, blocks })
    };
    let back_control = match control {
        StepControl::Adaptive(p) => {
            StepControl::Adaptive(PidController { rtol, atol, dt0: None, jump_ts: vec![], ..p.clone() })
        }
        StepControl::Constant { dt } => StepControl::Constant { dt: -dt },
    };
    let back_solver = backward_solver(solver, rtol, atol)?;
    // backwards from each save time to the one before (t0 last), the adjoint picking up that
    // time's cotangent and (backsolve) the state restarting from the forward solution
    let mut a = y0.zeros_like();
    let mut acc: Vec<Tensor> = params.iter().map(|p| p.zeros_like()).collect();
    let mut back = Stats::default();
    for k in (0..ts.len()).rev() {
        a = &a + &cots[k];
        let to = if k > 0 { ts[k - 1] } else { span.0 };
        let mut parts = if interpolate { vec![] } else { vec![sol.ys[k].shallow_clone()] };
        parts.push(a.shallow_clone());
        parts.extend(acc.iter().map(Tensor::shallow_clone));
        let state = AdjointState { tuple: TensorTuple { parts, norm_parts }, blocks };
        let piece = tch::no_grad(|| {
            solve(&aug, back_solver.as_ref(), (ts[k], to), &state, &back_control, &SaveAt::t1())
        })?;
        back.merge(&piece.stats);
        let fin = &piece.ys.last().expect("end saved").tuple;
        a = fin.parts[blocks - 1].shallow_clone();
        acc = fin.parts[blocks..].iter().map(Tensor::shallow_clone).collect();
    }
    accumulate(params, &acc);
    Ok((sol.ys, a, sol.stats, back))
}

/// The forward solution at `t`; a stage time beyond either end (Kværnø 5 has a node at
/// `c = 1.23`) extends the end segment's interpolant.
fn forward_state(dense: &DenseOutput<Tensor>, t: f64) -> Result<Tensor> {
    let (Some(first), Some(last)) = (dense.segments.first(), dense.segments.last()) else {
        return Err(invalid("dense output", "empty", "the forward solve took no step"));
    };
    let dir = first.h.signum();
    if (t - first.t0) * dir < 0.0 {
        first.evaluate(t)
    } else if (t - (last.t0 + last.h)) * dir > 0.0 {
        last.evaluate(t)
    } else {
        dense.evaluate(t)
    }
}

/// The backward solver for the forward `solver`: the same explicit tableau, or the same Kværnø
/// method with Newton tolerances `1e-2 ×` the backward ones.
pub(crate) fn backward_solver(
    solver: &dyn Solver<Tensor>,
    rtol: f64,
    atol: f64,
) -> Result<Box<dyn Solver<AdjointState>>> {
    match solver.name() {
        "kvaerno3" => Ok(Box::new(Esdirk::<AdjointState>::kvaerno3(rtol, atol))),
        "kvaerno5" => Ok(Box::new(Esdirk::<AdjointState>::kvaerno5(rtol, atol))),
        name => Ok(Box::new(ExplicitRk::by_name(name)?)),
    }
}
