//! Gradients through solves of tensor ODEs: backpropagation through the solver steps, recomputation
//! from per-step checkpoints, binomial checkpointing with a bounded number of stored states, and
//! the continuous adjoint (backsolve) with the seminorm option.
//!
//! The continuous adjoint runs backwards with the forward method: the same explicit tableau, or
//! the same Kværnø method with a Newton iteration on the augmented state (`augmented`).
//!
//! All four return `∂L/∂y0` and accumulate `∂L/∂θ` into the parameters' `.grad`, given the
//! cotangent `∂L/∂y(t1)`, so they can replace `loss.backward()` in a training step.

mod augmented;

use crate::checkpoint;
use crate::controller::StepControl;
use crate::error::{invalid, Result};
use crate::solve::{solve, SaveAt, Solution};
use crate::solver::{Solver, Stats};
use crate::state::State;
use crate::term::OdeTerm;
use augmented::continuous_adjoint;
use tch::{Kind, Tensor};

/// How gradients are obtained.
#[derive(Debug, Clone, PartialEq)]
pub enum Gradient {
    /// Backpropagation through every solver operation (fast, memory grows with the steps).
    Backprop,
    /// Forward without a graph keeping the state at each accepted step; backward replays one step at
    /// a time with a graph (memory of one step; the gradient of the discrete solve, equal to
    /// `Backprop`).
    Recompute,
    /// Binomial checkpointing ([`crate::checkpoint`]): the forward solve keeps only the step
    /// sizes; the backward pass holds at most `checkpoints` intermediate states and recomputes the
    /// fewest steps that allows (the gradient of the discrete solve, equal to `Backprop`).
    Checkpointed {
        /// Intermediate states held at most.
        checkpoints: usize,
    },
    /// Continuous adjoint (Chen et al. 2018): solve `a' = −aᵀ∂f/∂y`, `g' = −aᵀ∂f/∂θ` backwards
    /// together with `y`. With `seminorm` the parameter-gradient channels are left out of the error
    /// norm (Kidger et al. 2021).
    Adjoint {
        /// Relative tolerance of the backward solve.
        rtol: f64,
        /// Absolute tolerance of the backward solve.
        atol: f64,
        /// Use the seminorm.
        seminorm: bool,
    },
}

/// A tuple of tensors solved as one state; the error norm covers the first `norm_parts` of them.
#[derive(Debug)]
pub struct TensorTuple {
    /// The parts.
    pub parts: Vec<Tensor>,
    /// How many leading parts enter the error norm.
    pub norm_parts: usize,
}

impl State for TensorTuple {
    fn dup(&self) -> Self {
        TensorTuple {
            parts: self.parts.iter().map(Tensor::shallow_clone).collect(),
            norm_parts: self.norm_parts,
        }
    }
    fn lincomb(&self, terms: &[(f64, &Self)]) -> Result<Self> {
        let parts = (0..self.parts.len())
            .map(|i| {
                let ts: Vec<(f64, &Tensor)> = terms.iter().map(|(c, x)| (*c, &x.parts[i])).collect();
                self.parts[i].lincomb(&ts)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(TensorTuple { parts, norm_parts: self.norm_parts })
    }
    fn combination(terms: &[(f64, &Self)]) -> Result<Self> {
        let first = terms.first().ok_or_else(|| invalid("terms", "[]", "need at least one term"))?.1;
        let parts = (0..first.parts.len())
            .map(|i| {
                let ts: Vec<(f64, &Tensor)> = terms.iter().map(|(c, x)| (*c, &x.parts[i])).collect();
                Tensor::combination(&ts)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(TensorTuple { parts, norm_parts: first.norm_parts })
    }
    fn error_norm(err: &Self, y0: &Self, y1: &Self, rtol: f64, atol: f64) -> Result<f64> {
        // RMS over all components of the parts in the norm
        let (mut sq, mut n) = (0.0, 0usize);
        for i in 0..err.norm_parts {
            let r = Tensor::error_norm(&err.parts[i], &y0.parts[i], &y1.parts[i], rtol, atol)?;
            let m = err.parts[i].numel();
            sq += r * r * m as f64;
            n += m;
        }
        Ok((sq / n.max(1) as f64).sqrt())
    }
    fn scaled_rms(x: &Self, y: &Self, rtol: f64, atol: f64) -> Result<f64> {
        let (mut sq, mut n) = (0.0, 0usize);
        for i in 0..x.norm_parts {
            let r = Tensor::scaled_rms(&x.parts[i], &y.parts[i], rtol, atol)?;
            let m = x.parts[i].numel();
            sq += r * r * m as f64;
            n += m;
        }
        Ok((sq / n.max(1) as f64).sqrt())
    }
    fn is_finite(&self) -> Result<bool> {
        for p in &self.parts {
            if !p.is_finite()? {
                return Ok(false);
            }
        }
        Ok(true)
    }
    fn len(&self) -> usize {
        self.parts.iter().map(Tensor::numel).sum()
    }
    fn shape(&self) -> Vec<i64> {
        vec![self.len() as i64]
    }
}

/// Solves forward and backpropagates the cotangent `grad_y1 = ∂L/∂y(t1)` with the chosen strategy.
/// Returns `y(t1)` (detached), `∂L/∂y0`, and the forward and backward counters; `∂L/∂θ` is added to
/// the `.grad` of each tensor of `params`.
pub fn solve_backward(
    term: &dyn OdeTerm<Tensor>,
    params: &[Tensor],
    solver: &dyn Solver<Tensor>,
    span: (f64, f64),
    y0: &Tensor,
    control: &StepControl,
    gradient: &Gradient,
    grad_y1: impl FnOnce(&Tensor) -> Result<Tensor>,
) -> Result<(Tensor, Tensor, Stats, Stats)> {
    let (mut ys, gy0, fwd, back) =
        solve_backward_at(term, params, solver, span, y0, control, gradient, &[span.1], |ys| {
            Ok(vec![grad_y1(&ys[0])?])
        })?;
    Ok((ys.pop().expect("one save time"), gy0, fwd, back))
}

/// [`solve_backward`] for a loss of the states at several times: solves over `span`, saves
/// `y(t_k)` at `ts` (strictly monotone along the span, the last one `t1`), and backpropagates the
/// cotangents `grad_ys(y(t_1), …, y(t_K)) = (∂L/∂y(t_1), …)` with the chosen strategy, as
/// torchdiffeq's `odeint_adjoint` over a time grid or diffrax's `SaveAt(ts=…)`. The discrete
/// strategies (`Recompute`, `Checkpointed`) make the solver step onto every `t_k` (with a constant
/// step, the `t_k` must lie on its grid) and add each cotangent where the backward sweep passes
/// it; the continuous adjoint solves backwards from one save time to the one before, adding the
/// cotangent there and restarting from the forward state. Returns the saved states (detached),
/// `∂L/∂y0` and the counters.
///
/// # Errors
/// `ts` empty, unsorted, outside the span or not ending at `t1`; off the constant-step grid for
/// the discrete strategies; `grad_ys` returning the wrong number of cotangents; and every error of
/// the solves.
pub fn solve_backward_at(
    term: &dyn OdeTerm<Tensor>,
    params: &[Tensor],
    solver: &dyn Solver<Tensor>,
    span: (f64, f64),
    y0: &Tensor,
    control: &StepControl,
    gradient: &Gradient,
    ts: &[f64],
    grad_ys: impl FnOnce(&[Tensor]) -> Result<Vec<Tensor>>,
) -> Result<(Vec<Tensor>, Tensor, Stats, Stats)> {
    check_save_times(span, ts)?;
    let cotangents = |ys: &[Tensor]| one_cotangent_each(ys, grad_ys);
    let saveat = SaveAt { ts: ts.to_vec(), ..Default::default() };
    match gradient {
        Gradient::Backprop => {
            // adaptive steps land on the save times, as in the discrete strategies, so that all
            // of them differentiate the same discrete solution
            let ctl = match control {
                StepControl::Adaptive(_) => stepping_onto(control, span, ts)?,
                StepControl::Constant { .. } => control.clone(),
            };
            let y0r = y0.detach().set_requires_grad(true);
            let sol = tch::with_grad(|| solve(term, solver, span, &y0r, &ctl, &saveat))?;
            let detached: Vec<Tensor> = sol.ys.iter().map(Tensor::detach).collect();
            let cots = cotangents(&detached)?;
            let gy0 = backprop_cotangents(&sol.ys, &cots, &y0r, params)?;
            Ok((detached, gy0, sol.stats, Stats::default()))
        }
        Gradient::Recompute | Gradient::Checkpointed { .. } => {
            let onto = stepping_onto(control, span, ts)?;
            let recompute = matches!(gradient, Gradient::Recompute);
            // Recompute keeps the state at every step end (not the steps' stage data), checkpointing
            // only the states at the save times
            let saveat = if recompute { SaveAt { every_step: true, ..Default::default() } } else { saveat };
            let mut sol: Solution<Tensor> =
                tch::no_grad(|| solve(term, solver, span, y0, &onto, &saveat.with_step_sizes()))?;
            let steps = std::mem::take(&mut sol.step_sizes);
            if recompute && sol.ys.len() != steps.len() + 1 {
                return Err(invalid("saveat", sol.ys.len(), "expected the state at every step end"));
            }
            // the step each save time ends
            let ends: Vec<usize> = ts
                .iter()
                .map(|&t| {
                    steps
                        .iter()
                        .position(|&(s, h)| ((s + h) - t).abs() <= 1e-9 * (1.0 + t.abs()))
                        .ok_or_else(|| invalid("ts", t, "the solve did not step onto this save time"))
                })
                .collect::<Result<_>>()?;
            let saved: Vec<Tensor> = if recompute {
                ends.iter().map(|&j| sol.ys[j + 1].shallow_clone()).collect()
            } else {
                std::mem::take(&mut sol.ys)
            };
            let cots = cotangents(&saved)?;
            // the cotangent each step's end receives (the last one starts the sweep)
            // (distinct save times end distinct steps: the solver stepped onto each of them)
            let mut at_end: Vec<Option<&Tensor>> = vec![None; steps.len()];
            for (k, &j) in ends.iter().enumerate().take(ts.len() - 1) {
                at_end[j] = Some(&cots[k]);
            }
            let mut cot = cots.last().expect("at least one save time").shallow_clone();
            let mut back = Stats::default();
            let mut param_grads: Vec<Tensor> = params.iter().map(|p| p.zeros_like()).collect();
            if recompute {
                let y_start = &sol.ys;
                for i in (0..steps.len()).rev() {
                    cot = replay(
                        term,
                        solver,
                        params,
                        steps[i],
                        &y_start[i],
                        (&cot, at_end[i]),
                        &mut back,
                        &mut param_grads,
                    )?;
                }
            } else {
                let Gradient::Checkpointed { checkpoints } = gradient else { unreachable!("matched above") };
                let back = std::cell::RefCell::new(&mut back);
                let advance = |from: usize, to: usize, y: &Tensor| -> Result<Tensor> {
                    let mut y = y.shallow_clone();
                    let mut back = back.borrow_mut();
                    for &(t, h) in &steps[from..to] {
                        y = tch::no_grad(|| solver.step(term, t, &y, None, h, false, &mut back))?.y1;
                        back.steps += 1;
                    }
                    Ok(y)
                };
                let reverse = |step: usize, y: &Tensor| -> Result<()> {
                    let carried = cot.shallow_clone();
                    cot = replay(
                        term,
                        solver,
                        params,
                        steps[step],
                        y,
                        (&carried, at_end[step]),
                        &mut back.borrow_mut(),
                        &mut param_grads,
                    )?;
                    Ok(())
                };
                checkpoint::run_schedule(steps.len(), *checkpoints, y0.detach(), advance, reverse)?;
            }
            accumulate(params, &param_grads);
            Ok((saved, cot, sol.stats, back))
        }
        Gradient::Adjoint { rtol, atol, seminorm } => continuous_adjoint(
            term,
            params,
            solver,
            (span, y0),
            control,
            (*rtol, *atol, *seminorm),
            ts,
            cotangents,
        ),
    }
}

/// `grad_ys(ys)`, checked to give one cotangent per saved state.
pub(crate) fn one_cotangent_each(
    ys: &[Tensor],
    grad_ys: impl FnOnce(&[Tensor]) -> Result<Vec<Tensor>>,
) -> Result<Vec<Tensor>> {
    let c = grad_ys(ys)?;
    if c.len() != ys.len() {
        return Err(invalid(
            "grad_ys",
            format!("{} cotangents", c.len()),
            &format!("need one per save point ({})", ys.len()),
        ));
    }
    Ok(c)
}

/// `ts` non-empty, strictly monotone along `span`, inside it and ending at `t1`.
fn check_save_times(span: (f64, f64), ts: &[f64]) -> Result<()> {
    let dir = (span.1 - span.0).signum();
    let Some(&last) = ts.last() else { return Err(invalid("ts", "[]", "need at least one save time")) };
    if last != span.1 {
        return Err(invalid("ts", last, &format!("the last save time must be t1 = {}", span.1)));
    }
    let inside = |t: f64| (t - span.0) * dir > 0.0 && (span.1 - t) * dir >= 0.0;
    if ts.iter().any(|&t| !inside(t)) || ts.windows(2).any(|w| !((w[1] - w[0]) * dir > 0.0)) {
        return Err(invalid("ts", format!("{ts:?}"), "need strictly monotone times inside (t0, t1]"));
    }
    Ok(())
}

/// The control with every save time a point the solver steps onto: added to an adaptive
/// controller's jump times, checked against a constant step's grid.
fn stepping_onto(control: &StepControl, span: (f64, f64), ts: &[f64]) -> Result<StepControl> {
    match control {
        StepControl::Adaptive(p) => {
            let mut p = p.clone();
            p.jump_ts.extend(ts.iter().copied().filter(|&t| t != span.1));
            Ok(StepControl::Adaptive(p))
        }
        StepControl::Constant { dt } => {
            for &t in ts {
                let k = (t - span.0) / dt;
                if (k - k.round()).abs() > 1e-9 * k.abs().max(1.0) {
                    return Err(invalid("ts", t, &format!("not on the constant-step grid t0 + k·{dt}")));
                }
            }
            Ok(control.clone())
        }
    }
}

/// Replays the step `(t, h)` from `y` with a graph and pulls back the cotangent at its end — the
/// one carried from later steps plus, where a save time ends the step, that time's own: returns
/// the cotangent at the step's start and adds the parameters' share to `param_grads`.
fn replay(
    term: &dyn OdeTerm<Tensor>,
    solver: &dyn Solver<Tensor>,
    params: &[Tensor],
    (t, h): (f64, f64),
    y: &Tensor,
    (carried, saved): (&Tensor, Option<&Tensor>),
    back: &mut Stats,
    param_grads: &mut [Tensor],
) -> Result<Tensor> {
    // a new tensor: the carried cotangent may share storage with the caller's cotangents
    let cot = match saved {
        Some(c) => carried + c,
        None => carried.shallow_clone(),
    };
    let yi = y.detach().set_requires_grad(true);
    let st = tch::with_grad(|| solver.step(term, t, &yi, None, h, false, back))?;
    back.steps += 1;
    pull_back(&st.y1, &yi, &cot, params, param_grads)
}

/// `∂⟨y1, cot⟩/∂yi` for a step result `y1` built with a graph from `yi`; the parameters' share is
/// added to `param_grads`. The replay of every discrete strategy (ODE and SDE) ends here.
pub(crate) fn pull_back(
    y1: &Tensor,
    yi: &Tensor,
    cot: &Tensor,
    params: &[Tensor],
    param_grads: &mut [Tensor],
) -> Result<Tensor> {
    let mut inputs: Vec<&Tensor> = vec![yi];
    inputs.extend(params.iter());
    // the objective is built in grad mode too: under a caller's no_grad it would have no graph
    let g =
        tch::with_grad(|| Tensor::f_run_backward(&[(y1 * cot).sum(Kind::Double)], &inputs, false, false))?;
    for (acc, gi) in param_grads.iter_mut().zip(&g[1..]) {
        if gi.defined() {
            *acc = &*acc + gi;
        }
    }
    Ok(g[0].shallow_clone())
}

/// Backpropagation of `Σ_k ⟨y_k, c_k⟩` through states `ys` built with a graph from `x`: returns
/// `∂/∂x` and adds `∂/∂θ` to the parameters' `.grad`.
pub(crate) fn backprop_cotangents(
    ys: &[Tensor],
    cots: &[Tensor],
    x: &Tensor,
    params: &[Tensor],
) -> Result<Tensor> {
    let total =
        tch::with_grad(|| ys.iter().zip(cots).map(|(y, c)| (y * c).sum(Kind::Double)).reduce(|a, b| a + b))
            .ok_or_else(|| invalid("ys", "[]", "need at least one save point"))?;
    let mut inputs: Vec<&Tensor> = vec![x];
    inputs.extend(params.iter());
    let grads = tch::with_grad(|| Tensor::f_run_backward(&[total], &inputs, false, false))?;
    accumulate(params, &grads[1..]);
    Ok(grads[0].shallow_clone())
}

/// Adds `grads` to the parameters' `.grad` ([`core_tensor::train::accumulate_grads`]).
pub(crate) fn accumulate(params: &[Tensor], grads: &[Tensor]) {
    core_tensor::train::accumulate_grads(params, grads)
}
