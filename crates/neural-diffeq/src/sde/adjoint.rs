//! The continuous stochastic adjoint (Li et al. 2020) for Stratonovich SDEs with diagonal (or
//! scalar/additive) noise: the state, its adjoint `a` and the parameter gradient are integrated
//! backwards in time on the *same* Brownian sample path (reconstructed from the stored path),
//!
//! `dy = f dt + g ∘ dW`, `da = −aᵀ∂f/∂y dt − aᵀ∂(g ∘ dW)/∂y`, `dg_θ = −aᵀ∂f/∂θ dt − aᵀ∂(g ∘ dW)/∂θ`,
//!
//! with Heun's method (Stratonovich) backwards; the vector–Jacobian products come from autograd.
//! Memory does not grow with the number of steps; the gradient converges to the gradient of the
//! exact solution as the step shrinks (it is not the gradient of the discrete forward solve).

use super::brownian::BrownianPath;
use super::solve::sdeint_on_grid;
use super::solver::Heun;
use super::term::SdeTerm;
use crate::error::{invalid, Result};
use crate::solve::SaveAt;
use tch::{Kind, Tensor};

/// The backward increments of `(y, a, g_θ)` over one step of size `h` with increment `dw`, at the
/// state `(t, y, a)`: returns `(dy, da, dθ…)` for the *forward-time* equations.
fn aug_field(
    term: &dyn SdeTerm,
    params: &[Tensor],
    t: f64,
    y: &Tensor,
    a: &Tensor,
    h: f64,
    dw: &Tensor,
) -> Result<(Tensor, Tensor, Vec<Tensor>)> {
    let yr = y.detach().set_requires_grad(true);
    let inc = tch::with_grad(|| -> Result<Tensor> {
        let f = term.drift(t, &yr)?;
        let g = term.diffusion(t, &yr)?;
        Ok(f * h + term.noise().prod(&g, dw)?)
    })?;
    let mut inputs: Vec<&Tensor> = vec![&yr];
    inputs.extend(params.iter());
    let g =
        tch::with_grad(|| Tensor::f_run_backward(&[(&inc * a).sum(Kind::Double)], &inputs, false, false))?;
    let dp =
        params.iter().zip(&g[1..]).map(|(p, gi)| if gi.defined() { -gi } else { p.zeros_like() }).collect();
    Ok((inc.detach(), -&g[0], dp))
}

/// Grid points `save_steps` strictly increasing in `1..=n` and ending at `n`.
pub(crate) fn check_save_steps(save_steps: &[usize], n: usize) -> Result<()> {
    if save_steps.last() != Some(&n) || save_steps.windows(2).any(|w| w[0] >= w[1]) || save_steps[0] == 0 {
        return Err(invalid(
            "save_steps",
            format!("{save_steps:?}"),
            &format!("need strictly increasing grid points in 1..={n}, ending at {n}"),
        ));
    }
    Ok(())
}

/// Solves forward with Heun (Stratonovich) keeping no graph, then the adjoint backwards with Heun on
/// the same Brownian path. Given `∂L/∂y(T)` returns `y(T)` and `∂L/∂y0`, and adds `∂L/∂θ` to the
/// parameters' `.grad`.
pub fn stochastic_adjoint(
    term: &dyn SdeTerm,
    params: &[Tensor],
    y0: &Tensor,
    path: &BrownianPath,
    grad_y: impl FnOnce(&Tensor) -> Result<Tensor>,
) -> Result<(Tensor, Tensor)> {
    let (mut ys, gy0) =
        stochastic_adjoint_at(term, params, y0, path, &[path.steps()], |ys| Ok(vec![grad_y(&ys[0])?]))?;
    Ok((ys.pop().expect("one save point"), gy0))
}

/// [`stochastic_adjoint`] for a loss of the states at several grid points: `save_steps` are step
/// indices of the path's grid (strictly increasing, the last one `path.steps()`), `grad_ys` maps
/// the states there to their cotangents. The backward sweep adds each cotangent to the adjoint
/// when it reaches that grid point, and restarts the reconstructed state from the forward one
/// there. Returns the saved states and `∂L/∂y0`.
///
/// # Errors
/// `save_steps` empty, unsorted, beyond the grid or not ending at its last point; `grad_ys`
/// returning the wrong number of cotangents; and every error of the solves.
pub fn stochastic_adjoint_at(
    term: &dyn SdeTerm,
    params: &[Tensor],
    y0: &Tensor,
    path: &BrownianPath,
    save_steps: &[usize],
    grad_ys: impl FnOnce(&[Tensor]) -> Result<Vec<Tensor>>,
) -> Result<(Vec<Tensor>, Tensor)> {
    let n = path.steps();
    check_save_steps(save_steps, n)?;
    // the states at the save points only (grid times, stepped onto), so that memory does not grow
    // with the number of steps
    let h = path.h();
    let times: Vec<f64> =
        save_steps.iter().map(|&k| if k == n { path.t1() } else { path.t0() + k as f64 * h }).collect();
    let saveat = SaveAt { ts: times, ..Default::default() };
    let saved = tch::no_grad(|| sdeint_on_grid(term, &Heun, y0, path, &saveat))?.ys;
    if saved.len() != save_steps.len() {
        return Err(invalid("save_steps", saved.len(), "the solve did not stop at every save point"));
    }
    let cots = crate::adjoint::one_cotangent_each(&saved, grad_ys)?;
    let mut a = y0.zeros_like();
    let mut y = saved[saved.len() - 1].shallow_clone();
    let mut acc: Vec<Tensor> = params.iter().map(|p| p.zeros_like()).collect();
    let mut next_save = save_steps.len();
    for k in (0..n).rev() {
        // grid point k + 1: pick up its cotangent and restart from the forward state
        if next_save > 0 && save_steps[next_save - 1] == k + 1 {
            next_save -= 1;
            let picked = &a + &cots[next_save];
            a = picked;
            y = saved[next_save].shallow_clone();
        }
        let t1 = path.t0() + (k + 1) as f64 * h;
        let dw = path.increment(k)?;
        // reverse-time Heun: step of −h with increment −dW from (t1, y, a)
        let (dy1, da1, dp1) = aug_field(term, params, t1, &y, &a, -h, &-&dw)?;
        let (y_p, a_p) = (&y + &dy1, &a + &da1);
        let (dy2, da2, dp2) = aug_field(term, params, t1 - h, &y_p, &a_p, -h, &-&dw)?;
        y = &y + (dy1 + dy2) * 0.5;
        a = &a + (da1 + da2) * 0.5;
        for ((s, p1), p2) in acc.iter_mut().zip(&dp1).zip(&dp2) {
            // g_θ(t − h) = g_θ(t) + aᵀ∂(f h + g ∘ ΔW)/∂θ
            *s = &*s + (p1 + p2) * 0.5;
        }
    }
    crate::adjoint::accumulate(params, &acc);
    Ok((saved, a))
}
