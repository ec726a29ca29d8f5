//! Gradients through solves of tensor ODEs: backpropagation through the solver steps, recomputation
//! from per-step checkpoints, binomial checkpointing with a bounded number of stored states, and
//! the continuous adjoint (backsolve) with the seminorm option.
//!
//! All four return `∂L/∂y0` and accumulate `∂L/∂θ` into the parameters' `.grad`, given the
//! cotangent `∂L/∂y(t1)`, so they can replace `loss.backward()` in a training step.

use crate::checkpoint::{self, Action};
use crate::controller::StepControl;
use crate::error::{invalid, Result};
use crate::solve::{solve, SaveAt, Solution};
use crate::solver::{Solver, Stats};
use crate::state::State;
use crate::term::OdeTerm;
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
    match gradient {
        Gradient::Backprop => {
            let y0r = y0.detach().set_requires_grad(true);
            let sol = tch::with_grad(|| solve(term, solver, span, &y0r, control, &SaveAt::t1()))?;
            let y1 = sol.ys.last().expect("t1 saved").shallow_clone();
            let cot = grad_y1(&y1.detach())?;
            let mut inputs: Vec<&Tensor> = vec![&y0r];
            inputs.extend(params.iter());
            let grads = Tensor::f_run_backward(&[(&y1 * &cot).sum(Kind::Double)], &inputs, false, false)?;
            accumulate(params, &grads[1..]);
            Ok((y1.detach(), grads[0].shallow_clone(), sol.stats, Stats::default()))
        }
        Gradient::Recompute => {
            let sol: Solution<Tensor> =
                tch::no_grad(|| solve(term, solver, span, y0, control, &SaveAt::t1().with_steps()))?;
            let y1 = sol.ys.last().expect("t1 saved").shallow_clone();
            let mut cot = grad_y1(&y1)?;
            let mut back = Stats::default();
            let mut param_grads: Vec<Tensor> = params.iter().map(|p| p.zeros_like()).collect();
            let mut y_start: Vec<Tensor> = vec![y0.shallow_clone()];
            for s in &sol.steps {
                y_start.push(s.step.y1.shallow_clone());
            }
            for (i, s) in sol.steps.iter().enumerate().rev() {
                cot =
                    replay(term, solver, params, (s.t, s.h), &y_start[i], &cot, &mut back, &mut param_grads)?;
            }
            accumulate(params, &param_grads);
            Ok((y1, cot, sol.stats, back))
        }
        Gradient::Checkpointed { checkpoints } => {
            let sol: Solution<Tensor> =
                tch::no_grad(|| solve(term, solver, span, y0, control, &SaveAt::t1().with_step_sizes()))?;
            let y1 = sol.ys.last().expect("t1 saved").shallow_clone();
            let mut cot = grad_y1(&y1)?;
            let steps = &sol.step_sizes;
            let mut back = Stats::default();
            let mut param_grads: Vec<Tensor> = params.iter().map(|p| p.zeros_like()).collect();
            // the stored states, the start at the bottom
            let mut stack: Vec<Tensor> = vec![y0.detach()];
            let advance = |from: usize, to: usize, y: &Tensor, back: &mut Stats| -> Result<Tensor> {
                let mut y = y.shallow_clone();
                for &(t, h) in &steps[from..to] {
                    y = tch::no_grad(|| solver.step(term, t, &y, None, h, false, back))?.y1;
                    back.steps += 1;
                }
                Ok(y)
            };
            for action in checkpoint::schedule(steps.len(), *checkpoints) {
                let top = stack
                    .last()
                    .ok_or_else(|| invalid("schedule", "empty stack", "a checkpoint was freed twice"))?;
                match action {
                    Action::Store { from, to } => {
                        let y = advance(from, to, top, &mut back)?;
                        stack.push(y);
                    }
                    Action::Free => {
                        stack.pop();
                    }
                    Action::Reverse { from, step } => {
                        let y = advance(from, step, top, &mut back)?;
                        cot =
                            replay(term, solver, params, steps[step], &y, &cot, &mut back, &mut param_grads)?;
                    }
                }
            }
            accumulate(params, &param_grads);
            Ok((y1, cot, sol.stats, back))
        }
        Gradient::Adjoint { rtol, atol, seminorm } => {
            let sol = tch::no_grad(|| solve(term, solver, span, y0, control, &SaveAt::t1()))?;
            let y1 = sol.ys.last().expect("t1 saved").shallow_clone();
            let a1 = grad_y1(&y1)?;
            let mut parts = vec![y1.shallow_clone(), a1];
            parts.extend(params.iter().map(|p| p.zeros_like()));
            let state = TensorTuple { parts, norm_parts: if *seminorm { 2 } else { 2 + params.len() } };
            let aug = |t: f64, s: &TensorTuple| -> Result<TensorTuple> {
                let y = s.parts[0].detach().set_requires_grad(true);
                let f = tch::with_grad(|| term.vf(t, &y))?;
                let mut inputs: Vec<&Tensor> = vec![&y];
                inputs.extend(params.iter());
                let g = tch::with_grad(|| {
                    Tensor::f_run_backward(&[(&f * &s.parts[1]).sum(Kind::Double)], &inputs, false, false)
                })?;
                let mut out = vec![f.detach(), -&g[0]];
                for (p, gi) in params.iter().zip(&g[1..]) {
                    out.push(if gi.defined() { -gi } else { p.zeros_like() });
                }
                Ok(TensorTuple { parts: out, norm_parts: s.norm_parts })
            };
            let back_control = match control {
                StepControl::Adaptive(p) => StepControl::Adaptive(crate::controller::PidController {
                    rtol: *rtol,
                    atol: *atol,
                    dt0: None,
                    jump_ts: vec![],
                    ..p.clone()
                }),
                StepControl::Constant { dt } => StepControl::Constant { dt: -dt },
            };
            let erk = solver_as_tuple(solver)?;
            let back =
                tch::no_grad(|| solve(&aug, &erk, (span.1, span.0), &state, &back_control, &SaveAt::t1()))?;
            let fin = back.ys.last().expect("t0 saved");
            accumulate(params, &fin.parts[2..]);
            Ok((y1, fin.parts[1].shallow_clone(), sol.stats, back.stats))
        }
    }
}

/// Replays the step `(t, h)` from `y` with a graph and pulls `cot` back through it: returns the
/// cotangent at the step's start and adds the parameters' share to `param_grads`.
fn replay(
    term: &dyn OdeTerm<Tensor>,
    solver: &dyn Solver<Tensor>,
    params: &[Tensor],
    (t, h): (f64, f64),
    y: &Tensor,
    cot: &Tensor,
    back: &mut Stats,
    param_grads: &mut [Tensor],
) -> Result<Tensor> {
    let yi = y.detach().set_requires_grad(true);
    let st = tch::with_grad(|| solver.step(term, t, &yi, None, h, false, back))?;
    back.steps += 1;
    let mut inputs: Vec<&Tensor> = vec![&yi];
    inputs.extend(params.iter());
    let g = Tensor::f_run_backward(&[(&st.y1 * cot).sum(Kind::Double)], &inputs, false, false)?;
    for (acc, gi) in param_grads.iter_mut().zip(&g[1..]) {
        if gi.defined() {
            *acc = &*acc + gi;
        }
    }
    Ok(g[0].shallow_clone())
}

/// The adjoint solve uses the same explicit tableau on the tuple state.
fn solver_as_tuple(solver: &dyn Solver<Tensor>) -> Result<crate::solver::ExplicitRk> {
    crate::solver::ExplicitRk::by_name(solver.name())
}

/// Adds `grads` to the parameters' `.grad` (creating it on first use); undefined entries are skipped.
pub(crate) fn accumulate(params: &[Tensor], grads: &[Tensor]) {
    for (p, g) in params.iter().zip(grads) {
        if !g.defined() {
            continue;
        }
        let mut pg = p.grad();
        if pg.defined() {
            tch::no_grad(|| {
                let _ = pg.g_add_(&g.to_kind(pg.kind()));
            });
        } else {
            // first gradient: let autograd create `.grad` (a backward of ⟨p, g⟩ sets it to g)
            tch::with_grad(|| (p * g.detach().to_kind(p.kind())).sum(Kind::Double).backward());
        }
    }
}
