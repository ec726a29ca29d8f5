//! Reversible Heun (Kidger et al. 2021): an algebraically reversible Stratonovich solver with an
//! exact O(1)-memory adjoint. It carries the auxiliary state `(ẑ, f(ẑ), g(ẑ))` from step to step,
//! so it runs through its own functions rather than the stateless [`SdeSolver`](super::SdeSolver)
//! steps of [`sdeint`](super::sdeint).

use super::brownian::BrownianPath;
use super::term::SdeTerm;
use crate::error::Result;
use tch::{Kind, Tensor};

/// Reversible Heun (Kidger et al. 2021): algebraically reversible, 1 evaluation of `f` and `g` per
/// step, strong order 0.5 (Stratonovich). State `(y, ẑ, f(ẑ), g(ẑ))`.
#[derive(Debug)]
pub struct ReversibleHeunState {
    /// Solution `y_n`.
    pub y: Tensor,
    /// Auxiliary `ẑ_n`.
    pub z: Tensor,
    /// `f(t_n, ẑ_n)`.
    pub f: Tensor,
    /// `g(t_n, ẑ_n)`.
    pub g: Tensor,
}

fn rh_forward(
    term: &dyn SdeTerm,
    s: &ReversibleHeunState,
    t: f64,
    h: f64,
    dw: &Tensor,
) -> Result<ReversibleHeunState> {
    let n = term.noise();
    let z1 = &s.y * 2.0 - &s.z + &s.f * h + n.prod(&s.g, dw)?;
    let f1 = term.drift(t + h, &z1)?;
    let g1 = term.diffusion(t + h, &z1)?;
    let y1 = &s.y + (&s.f + &f1) * (0.5 * h) + n.prod(&((&s.g + &g1) * 0.5), dw)?;
    Ok(ReversibleHeunState { y: y1, z: z1, f: f1, g: g1 })
}

fn rh_reverse(
    term: &dyn SdeTerm,
    s: &ReversibleHeunState,
    t_prev: f64,
    h: f64,
    dw: &Tensor,
) -> Result<ReversibleHeunState> {
    let n = term.noise();
    let z0 = &s.y * 2.0 - &s.z - &s.f * h - n.prod(&s.g, dw)?;
    let f0 = term.drift(t_prev, &z0)?;
    let g0 = term.diffusion(t_prev, &z0)?;
    let y0 = &s.y - (&f0 + &s.f) * (0.5 * h) - n.prod(&((&g0 + &s.g) * 0.5), dw)?;
    Ok(ReversibleHeunState { y: y0, z: z0, f: f0, g: g0 })
}

/// Solves with reversible Heun and returns the final state (from which the whole path can be
/// reconstructed backwards). With `keep_graph` the solve is differentiable by ordinary
/// backpropagation; without, use [`reversible_heun_backward`] for O(1)-memory gradients.
pub fn reversible_heun(
    term: &dyn SdeTerm,
    y0: &Tensor,
    path: &BrownianPath,
    keep_graph: bool,
) -> Result<ReversibleHeunState> {
    let run = || -> Result<ReversibleHeunState> {
        let t0 = path.t0();
        let mut s = ReversibleHeunState {
            y: y0.shallow_clone(),
            z: y0.shallow_clone(),
            f: term.drift(t0, y0)?,
            g: term.diffusion(t0, y0)?,
        };
        for k in 0..path.steps() {
            s = rh_forward(term, &s, t0 + k as f64 * path.h(), path.h(), &path.increment(k)?)?;
        }
        Ok(s)
    };
    if keep_graph {
        run()
    } else {
        tch::no_grad(run)
    }
}

/// Reconstructs the reversible-Heun path backwards from its final state: `[n + 1]` states of `y`,
/// `y0` first.
pub fn reversible_heun_reconstruct(
    term: &dyn SdeTerm,
    last: &ReversibleHeunState,
    path: &BrownianPath,
) -> Result<Vec<Tensor>> {
    tch::no_grad(|| {
        let mut out = vec![last.y.shallow_clone()];
        let mut s = ReversibleHeunState {
            y: last.y.shallow_clone(),
            z: last.z.shallow_clone(),
            f: last.f.shallow_clone(),
            g: last.g.shallow_clone(),
        };
        for k in (0..path.steps()).rev() {
            s = rh_reverse(term, &s, path.t0() + k as f64 * path.h(), path.h(), &path.increment(k)?)?;
            out.push(s.y.shallow_clone());
        }
        out.reverse();
        Ok(out)
    })
}

/// The exact adjoint of reversible Heun: walks the path backwards, reconstructing each state
/// algebraically and backpropagating one step at a time (O(1) memory in the number of steps).
/// Given `∂L/∂y_n`, returns `∂L/∂y0` and adds `∂L/∂θ` to the parameters' `.grad`.
pub fn reversible_heun_backward(
    term: &dyn SdeTerm,
    params: &[Tensor],
    last: &ReversibleHeunState,
    path: &BrownianPath,
    grad_y: &Tensor,
) -> Result<Tensor> {
    let h = path.h();
    let t0 = path.t0();
    let mut s = ReversibleHeunState {
        y: last.y.shallow_clone(),
        z: last.z.shallow_clone(),
        f: last.f.shallow_clone(),
        g: last.g.shallow_clone(),
    };
    // cotangents of (y, z); f and g are functions of z, so only (y, z) are carried
    let mut ay = grad_y.shallow_clone();
    let mut az = grad_y.zeros_like();
    let mut pg: Vec<Tensor> = params.iter().map(|p| p.zeros_like()).collect();
    for k in (0..path.steps()).rev() {
        let tp = t0 + k as f64 * h;
        let dw = path.increment(k)?;
        let prev = tch::no_grad(|| rh_reverse(term, &s, tp, h, &dw))?;
        // recompute step k → k+1 from (y_k, z_k) with a graph
        let yk = prev.y.detach().set_requires_grad(true);
        let zk = prev.z.detach().set_requires_grad(true);
        let out = tch::with_grad(|| -> Result<ReversibleHeunState> {
            let st = ReversibleHeunState {
                y: yk.shallow_clone(),
                z: zk.shallow_clone(),
                f: term.drift(tp, &zk)?,
                g: term.diffusion(tp, &zk)?,
            };
            rh_forward(term, &st, tp, h, &dw)
        })?;
        let mut inputs: Vec<&Tensor> = vec![&yk, &zk];
        inputs.extend(params.iter());
        // the objective and its backward in grad mode, whatever the caller's mode
        let g = tch::with_grad(|| {
            let obj = (&out.y * &ay).sum(Kind::Double) + (&out.z * &az).sum(Kind::Double);
            Tensor::f_run_backward(&[obj], &inputs, false, false)
        })?;
        ay = g[0].shallow_clone();
        az = g[1].shallow_clone();
        for (acc, gi) in pg.iter_mut().zip(&g[2..]) {
            if gi.defined() {
                *acc = &*acc + gi;
            }
        }
        s = prev;
    }
    // y0 and z0 are the same input
    crate::adjoint::accumulate(params, &pg);
    Ok(ay + az)
}
