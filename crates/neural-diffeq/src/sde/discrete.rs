//! The discrete gradient strategies for SDE solves on a Brownian path's grid: backpropagation
//! through the steps, recomputation from every step's start state, and binomial checkpointing
//! ([`crate::checkpoint`]) — the same [`Gradient`] values as for ODEs. A replayed step reads the
//! same increment and Lévy area from the path, so all three give the exact gradient of the
//! discrete solve (and agree to rounding); the continuous alternative is
//! [`stochastic_adjoint_at`](super::stochastic_adjoint_at).

use super::adjoint::check_save_steps;
use super::{BrownianMotion, BrownianPath, SdeSolver, SdeTerm};
use crate::adjoint::{accumulate, backprop_cotangents, one_cotangent_each, pull_back, Gradient};
use crate::checkpoint;
use crate::error::{invalid, Result};
use crate::solver::Stats;
use tch::Tensor;

/// Solves on every step of `path` with `solver` from `y0`, saves the states after the grid steps
/// `save_steps` (strictly increasing in `1..=n`, ending at `n = path.steps()`), and backpropagates
/// the cotangents `grad_ys(states)` with `gradient` (`Backprop`, `Recompute` or `Checkpointed`).
/// Returns the saved states (detached), `∂L/∂y0` and the backward counters (replayed and
/// recomputed steps); `∂L/∂θ` is added to the `.grad` of `params`.
///
/// # Errors
/// Bad `save_steps`; `Gradient::Adjoint` (use `stochastic_adjoint_at`); `grad_ys` returning the
/// wrong number of cotangents; the solver's errors.
#[allow(clippy::too_many_arguments)]
pub fn sde_solve_backward_at(
    term: &dyn SdeTerm,
    params: &[Tensor],
    solver: &dyn SdeSolver,
    y0: &Tensor,
    path: &BrownianPath,
    save_steps: &[usize],
    gradient: &Gradient,
    grad_ys: impl FnOnce(&[Tensor]) -> Result<Vec<Tensor>>,
) -> Result<(Vec<Tensor>, Tensor, Stats)> {
    let n = path.steps();
    check_save_steps(save_steps, n)?;
    let (t0, h) = (path.t0(), path.h());
    let step = |k: usize, y: &Tensor| -> Result<Tensor> {
        let (dw, levy) = BrownianMotion::increment(path, &k, &(k + 1))?;
        solver.step(term, t0 + k as f64 * h, y, h, &dw, &levy)
    };
    let cotangents = |saved: &[Tensor]| one_cotangent_each(saved, grad_ys);
    let mut back = Stats::default();
    match gradient {
        Gradient::Backprop => {
            let y0r = y0.detach().set_requires_grad(true);
            let mut y = y0r.shallow_clone();
            let mut saved = Vec::with_capacity(save_steps.len());
            tch::with_grad(|| -> Result<()> {
                for k in 0..n {
                    y = step(k, &y)?;
                    if save_steps.binary_search(&(k + 1)).is_ok() {
                        saved.push(y.shallow_clone());
                    }
                }
                Ok(())
            })?;
            let detached: Vec<Tensor> = saved.iter().map(Tensor::detach).collect();
            let cots = cotangents(&detached)?;
            let gy0 = backprop_cotangents(&saved, &cots, &y0r, params)?;
            Ok((detached, gy0, back))
        }
        Gradient::Recompute | Gradient::Checkpointed { .. } => {
            let recompute = matches!(gradient, Gradient::Recompute);
            // forward without a graph: every step's start (recompute) or the save points only
            let mut starts = Vec::with_capacity(if recompute { n + 1 } else { 0 });
            let mut saved = Vec::with_capacity(save_steps.len());
            let mut y = y0.detach();
            for k in 0..n {
                if recompute {
                    starts.push(y.shallow_clone());
                }
                y = tch::no_grad(|| step(k, &y))?;
                if save_steps.binary_search(&(k + 1)).is_ok() {
                    saved.push(y.shallow_clone());
                }
            }
            let cots = cotangents(&saved)?;
            // the cotangent each step's end receives besides the carried one
            let mut at_end: Vec<Option<&Tensor>> = vec![None; n];
            for (s, c) in save_steps.iter().zip(&cots).take(save_steps.len() - 1) {
                at_end[s - 1] = Some(c);
            }
            let mut cot = cots.last().expect("at least one save point").shallow_clone();
            let mut grads: Vec<Tensor> = params.iter().map(Tensor::zeros_like).collect();
            let mut replay = |k: usize, y: &Tensor, cot: &mut Tensor, back: &mut Stats| -> Result<()> {
                let c = match at_end[k] {
                    Some(extra) => &*cot + extra,
                    None => cot.shallow_clone(),
                };
                let yi = y.detach().set_requires_grad(true);
                let y1 = tch::with_grad(|| step(k, &yi))?;
                back.steps += 1;
                *cot = pull_back(&y1, &yi, &c, params, &mut grads)?;
                Ok(())
            };
            if recompute {
                for k in (0..n).rev() {
                    replay(k, &starts[k], &mut cot, &mut back)?;
                }
            } else {
                let Gradient::Checkpointed { checkpoints } = gradient else { unreachable!("matched above") };
                let back = std::cell::RefCell::new(&mut back);
                let cot = std::cell::RefCell::new(&mut cot);
                let advance = |from: usize, to: usize, y: &Tensor| -> Result<Tensor> {
                    let mut y = y.shallow_clone();
                    for k in from..to {
                        y = tch::no_grad(|| step(k, &y))?;
                        back.borrow_mut().steps += 1;
                    }
                    Ok(y)
                };
                let reverse =
                    |k: usize, y: &Tensor| replay(k, y, &mut cot.borrow_mut(), &mut back.borrow_mut());
                checkpoint::run_schedule(n, *checkpoints, y0.detach(), advance, reverse)?;
            }
            accumulate(params, &grads);
            Ok((saved, cot, back))
        }
        Gradient::Adjoint { .. } => Err(invalid(
            "gradient",
            "Adjoint",
            "the continuous adjoint of an SDE is sde::stochastic_adjoint_at",
        )),
    }
}
