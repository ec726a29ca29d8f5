//! SDE solvers: fixed steps on a [`BrownianPath`] grid, or adaptive steps on a
//! [`VirtualBrownianTree`].

use super::brownian::{BrownianPath, VirtualBrownianTree};
use super::term::{Noise, SdeTerm};
use crate::error::{invalid, Error, Result};
use tch::{Kind, Tensor};

/// A one-step SDE method.
pub trait SdeSolver {
    /// Name.
    fn name(&self) -> &str;
    /// Strong order of convergence (for the noise types the method supports).
    fn strong_order(&self) -> f64;
    /// Whether the method converges to the Stratonovich (true) or Itô (false) solution.
    fn stratonovich(&self) -> bool;
    /// Refuses a noise type the method does not support (every type by default).
    fn check_noise(&self, _noise: Noise) -> Result<()> {
        Ok(())
    }
    /// One step over `h` from `(t, y)` with the drift `f = f(t, y)` and diffusion `g = g(t, y)`
    /// already evaluated, increment `dw` and space-time Lévy area `levy`.
    fn advance(&self, step: StepInput<'_>, f: Tensor, g: Tensor) -> Result<Tensor>;
    /// One step from `(t, y)` over `h` with increment `dw` and space-time Lévy area `levy`: checks
    /// the noise type, evaluates `f(t, y)` then `g(t, y)`, and advances.
    fn step(
        &self,
        term: &dyn SdeTerm,
        t: f64,
        y: &Tensor,
        h: f64,
        dw: &Tensor,
        levy: &Tensor,
    ) -> Result<Tensor> {
        self.check_noise(term.noise())?;
        let (f, g) = drift_diffusion(term, t, y)?;
        self.advance(StepInput { term, t, y, h, dw, levy }, f, g)
    }
}

/// What one step of an [`SdeSolver`] works on.
#[derive(Clone, Copy)]
pub struct StepInput<'a> {
    /// The equation.
    pub term: &'a dyn SdeTerm,
    /// Time at the start of the step.
    pub t: f64,
    /// State `[B, D]` at `t`.
    pub y: &'a Tensor,
    /// Step size.
    pub h: f64,
    /// Brownian increment over the step.
    pub dw: &'a Tensor,
    /// Space-time Lévy area over the step.
    pub levy: &'a Tensor,
}

/// `(f(t, y), g(t, y))`, drift first.
pub(crate) fn drift_diffusion(term: &dyn SdeTerm, t: f64, y: &Tensor) -> Result<(Tensor, Tensor)> {
    Ok((term.drift(t, y)?, term.diffusion(t, y)?))
}

/// Euler–Maruyama (Itô, strong order 0.5; 1.0 for additive noise).
#[derive(Debug, Clone, Copy, Default)]
pub struct EulerMaruyama;

impl SdeSolver for EulerMaruyama {
    fn name(&self) -> &str {
        "euler_maruyama"
    }
    fn strong_order(&self) -> f64 {
        0.5
    }
    fn stratonovich(&self) -> bool {
        false
    }
    fn advance(&self, s: StepInput<'_>, f: Tensor, g: Tensor) -> Result<Tensor> {
        let StepInput { term, y, h, dw, .. } = s;
        Ok(y + f * h + term.noise().prod(&g, dw)?)
    }
}

/// Derivative-free Milstein for diagonal (or scalar) noise, strong order 1.0:
/// `y₁ = y + f h + g ΔW + (g(ŷ) − g(y)) (ΔW² − h) / (2√h)` with `ŷ = y + g √h` (Itô; the
/// Stratonovich version drops `− h`). The support point carries no drift: a drift term there would
/// add a bias `σ f h^{3/2}/2` per step that `ΔW²` does not average out in the Stratonovich form.
#[derive(Debug, Clone, Copy, Default)]
pub struct Milstein {
    /// Converge to the Stratonovich solution.
    pub stratonovich: bool,
}

impl SdeSolver for Milstein {
    fn name(&self) -> &str {
        if self.stratonovich {
            "milstein_stratonovich"
        } else {
            "milstein"
        }
    }
    fn strong_order(&self) -> f64 {
        1.0
    }
    fn stratonovich(&self) -> bool {
        self.stratonovich
    }
    fn check_noise(&self, noise: Noise) -> Result<()> {
        if let Noise::General { .. } = noise {
            return Err(invalid(
                "noise",
                "general",
                "Milstein is implemented for diagonal, scalar and additive noise",
            ));
        }
        Ok(())
    }
    fn advance(&self, s: StepInput<'_>, f: Tensor, g: Tensor) -> Result<Tensor> {
        let StepInput { term, t, y, h, dw, .. } = s;
        let sq = h.sqrt();
        let yh = y + &g * sq;
        let gh = term.diffusion(t, &yh)?;
        let dw2 = dw.square();
        let corr = if self.stratonovich { dw2 } else { dw2 - h };
        Ok(y + f * h + &g * dw + (gh - &g) * corr / (2.0 * sq))
    }
}

/// Heun's method for Stratonovich SDEs (strong order 0.5 in general, 1.0 for commutative noise):
/// predictor `ỹ = y + f h + g ΔW`, corrector averaging drift and diffusion.
#[derive(Debug, Clone, Copy, Default)]
pub struct Heun;

impl SdeSolver for Heun {
    fn name(&self) -> &str {
        "heun"
    }
    fn strong_order(&self) -> f64 {
        0.5
    }
    fn stratonovich(&self) -> bool {
        true
    }
    fn advance(&self, s: StepInput<'_>, f: Tensor, g: Tensor) -> Result<Tensor> {
        let StepInput { term, t, y, h, dw, .. } = s;
        let n = term.noise();
        let yt = y + &f * h + n.prod(&g, dw)?;
        let f2 = term.drift(t + h, &yt)?;
        let g2 = term.diffusion(t + h, &yt)?;
        Ok(y + (f + f2) * (0.5 * h) + n.prod(&((g + g2) * 0.5), dw)?)
    }
}

/// Euler–Heun (Stratonovich): Euler drift, Heun diffusion, `ỹ = y + g ΔW`.
#[derive(Debug, Clone, Copy, Default)]
pub struct EulerHeun;

impl SdeSolver for EulerHeun {
    fn name(&self) -> &str {
        "euler_heun"
    }
    fn strong_order(&self) -> f64 {
        0.5
    }
    fn stratonovich(&self) -> bool {
        true
    }
    fn advance(&self, s: StepInput<'_>, f: Tensor, g: Tensor) -> Result<Tensor> {
        let StepInput { term, t, y, h, dw, .. } = s;
        let n = term.noise();
        let yt = y + n.prod(&g, dw)?;
        let g2 = term.diffusion(t, &yt)?;
        Ok(y + f * h + n.prod(&((g + g2) * 0.5), dw)?)
    }
}

/// Rößler's SRA1 for additive noise (Rößler 2010), strong order 1.5: two drift stages with
/// `c = (0, 3/4)`, the second fed by `(3/2) g ΔZ/h`, and weights `α = (1/3, 2/3)`,
/// `β⁽¹⁾ = (1, 0)`, `β⁽²⁾ = (−1, 1)` (diffusion at `t + h` and `t`). `ΔZ = ∫(W_s − W_t) ds =
/// h(ΔW/2 + H)` comes from the space-time Lévy area `H` of the Brownian path.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sra1;

impl SdeSolver for Sra1 {
    fn name(&self) -> &str {
        "sra1"
    }
    fn strong_order(&self) -> f64 {
        1.5
    }
    fn stratonovich(&self) -> bool {
        // additive noise: Itô and Stratonovich coincide
        false
    }
    fn check_noise(&self, noise: Noise) -> Result<()> {
        if noise != Noise::Additive {
            return Err(invalid("noise", format!("{noise:?}"), "SRA1 needs additive noise"));
        }
        Ok(())
    }
    fn advance(&self, s: StepInput<'_>, f: Tensor, g: Tensor) -> Result<Tensor> {
        let StepInput { term, t, y, h, dw, levy } = s;
        let (f1, g_t) = (f, g);
        let zeta = dw * 0.5 + levy; // ΔZ / h
        let g_th = term.diffusion(t + h, y)?;
        let h2 = y + &f1 * (0.75 * h) + &g_t * &zeta * 1.5;
        let f2 = term.drift(t + 0.75 * h, &h2)?;
        // β⁽¹⁾ pairs with ΔW, β⁽²⁾ with ΔZ/h; stage 1 uses g(t + c₁₁h) = g(t + h), stage 2 g(t)
        Ok(y + (f1 * (1.0 / 3.0) + f2 * (2.0 / 3.0)) * h + &g_th * (dw - &zeta) + g_t * zeta)
    }
}

/// Checks that `y0` is `[B, D]` and that the Brownian motion `name` has the shape `[B, m]` the
/// term's noise needs.
fn check_brownian_shape(term: &dyn SdeTerm, y0: &Tensor, name: &str, shape: &[i64]) -> Result<()> {
    let (b, d) =
        y0.size2().map_err(|_| invalid("y0", format!("{:?}", y0.size()), "expected [batch, dim]"))?;
    let m = term.noise().brownian_dim(d);
    if shape != [b, m] {
        return Err(invalid(name, format!("{shape:?}"), &format!("Brownian values must be [{b}, {m}]")));
    }
    Ok(())
}

/// Solves on the grid of `path`, returning the state after every step (`[n + 1]` tensors, `y0`
/// first). The graph is kept, so `backward()` backpropagates through the solver.
pub fn sdeint(
    term: &dyn SdeTerm,
    solver: &dyn SdeSolver,
    y0: &Tensor,
    path: &BrownianPath,
) -> Result<Vec<Tensor>> {
    check_brownian_shape(term, y0, "path", &path.increment(0)?.size())?;
    let h = path.h();
    let mut ys = Vec::with_capacity(path.steps() + 1);
    ys.push(y0.shallow_clone());
    for k in 0..path.steps() {
        let t = path.t0() + k as f64 * h;
        let y = solver.step(
            term,
            t,
            ys.last().expect("non-empty"),
            h,
            &path.increment(k)?,
            &path.levy_area(k)?,
        )?;
        ys.push(y);
    }
    let last = ys.last().expect("non-empty");
    if tch::no_grad(|| last.isfinite().all().int64_value(&[])) == 0 {
        return Err(Error::NonFinite { t: path.t0() + path.steps() as f64 * h });
    }
    Ok(ys)
}

/// Settings of [`sdeint_adaptive`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SdeAdaptive {
    /// Relative tolerance.
    pub rtol: f64,
    /// Absolute tolerance.
    pub atol: f64,
    /// First step size.
    pub h0: f64,
    /// Smallest allowed step.
    pub hmin: f64,
    /// Most steps (accepted + rejected).
    pub max_steps: usize,
    /// Safety factor of the step-size update.
    pub safety: f64,
}

impl Default for SdeAdaptive {
    fn default() -> Self {
        SdeAdaptive { rtol: 1e-3, atol: 1e-3, h0: 1e-2, hmin: 1e-10, max_steps: 100_000, safety: 0.9 }
    }
}

/// Solution of [`sdeint_adaptive`].
#[derive(Debug)]
pub struct AdaptiveSdeSolution {
    /// Accepted times, `t0` first and `t1` last.
    pub ts: Vec<f64>,
    /// States at `ts`.
    pub ys: Vec<Tensor>,
    /// Rejected steps.
    pub rejected: usize,
}

/// Adaptive stepping by step doubling on a virtual Brownian tree, so that rejected steps and
/// retries see the same Brownian path: each attempt takes one step of size `h` and two of `h/2`
/// (increments and Lévy areas from `tree`), the error is the RMS of
/// `(y_half − y_full) / (atol + rtol · max(|y|, |y_half|))`, an accepted step keeps the two-half-step
/// value, and the next step is `h · clamp(safety · err^{−1/(p + ½)}, 0.2, 5)` for strong order `p`
/// (the local error of a strong-order-`p` method is `O(h^{p + ½})`). Solves from `tree.t0()` to
/// `t1`, landing exactly on `t1`.
///
/// # Errors
/// Bad tolerances, `t1` outside the tree, mismatched Brownian shape, [`Error::MaxSteps`],
/// [`Error::StepSizeTooSmall`] or [`Error::NonFinite`].
pub fn sdeint_adaptive(
    term: &dyn SdeTerm,
    solver: &dyn SdeSolver,
    y0: &Tensor,
    tree: &VirtualBrownianTree,
    t1: f64,
    cfg: &SdeAdaptive,
) -> Result<AdaptiveSdeSolution> {
    for (n, v) in [("rtol", cfg.rtol), ("atol", cfg.atol), ("h0", cfg.h0), ("hmin", cfg.hmin)] {
        if !(v.is_finite() && v >= 0.0) {
            return Err(invalid(n, v, "must be finite and >= 0"));
        }
    }
    if cfg.rtol <= 0.0 && cfg.atol <= 0.0 {
        return Err(invalid(
            "rtol, atol",
            format!("{}, {}", cfg.rtol, cfg.atol),
            "one tolerance must be > 0",
        ));
    }
    if !(cfg.h0 > 0.0) {
        return Err(invalid("h0", cfg.h0, "must be > 0"));
    }
    let t0 = tree.t0();
    if !(t1 > t0 && t1 <= tree.t1()) {
        return Err(invalid("t1", t1, &format!("must lie in ({t0}, {}]", tree.t1())));
    }
    check_brownian_shape(term, y0, "tree", tree.shape())?;
    let expo = -1.0 / (solver.strong_order() + 0.5);
    let (mut t, mut h) = (t0, cfg.h0.min(t1 - t0));
    let mut ts = vec![t0];
    let mut ys = vec![y0.shallow_clone()];
    let mut rejected = 0;
    // The path at the current time, reused by every attempt from it.
    let mut start = tree.state(t0)?;
    for _ in 0..cfg.max_steps {
        if t >= t1 {
            return Ok(AdaptiveSdeSolution { ts, ys, rejected });
        }
        let last = t1 - t <= h * (1.0 + 1e-12);
        let tn = if last { t1 } else { t + h };
        let hs = tn - t;
        let y = ys.last().expect("non-empty");
        let tm = t + 0.5 * hs;
        let (mid, end) = (tree.state(tm)?, tree.state(tn)?);
        let (dw, lv) = start.area_to(&end);
        let full = solver.step(term, t, y, hs, &dw, &lv)?;
        let (dw1, lv1) = start.area_to(&mid);
        let (dw2, lv2) = mid.area_to(&end);
        let half = solver.step(term, t, y, 0.5 * hs, &dw1, &lv1)?;
        let two = solver.step(term, tm, &half, 0.5 * hs, &dw2, &lv2)?;
        let err = tch::no_grad(|| {
            let scale = y.abs().maximum(&two.abs()) * cfg.rtol + cfg.atol;
            ((&two - &full) / scale).square().mean(Kind::Double).sqrt().double_value(&[])
        });
        if !err.is_finite() {
            return Err(Error::NonFinite { t });
        }
        let factor = if err == 0.0 { 5.0 } else { (cfg.safety * err.powf(expo)).clamp(0.2, 5.0) };
        if err <= 1.0 {
            t = tn;
            ts.push(t);
            ys.push(two);
            start = end;
        } else {
            rejected += 1;
        }
        h = hs * factor;
        if h < cfg.hmin && t < t1 {
            return Err(Error::StepSizeTooSmall { t, dt: h });
        }
    }
    if t >= t1 {
        return Ok(AdaptiveSdeSolution { ts, ys, rejected });
    }
    Err(Error::MaxSteps { t, max_steps: cfg.max_steps })
}

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
        let obj = (&out.y * &ay).sum(Kind::Double) + (&out.z * &az).sum(Kind::Double);
        let g = Tensor::f_run_backward(&[obj], &inputs, false, false)?;
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
    for (p, gi) in params.iter().zip(&pg) {
        let mut cur = p.grad();
        if cur.defined() {
            tch::no_grad(|| {
                let _ = cur.g_add_(gi);
            });
        } else {
            tch::with_grad(|| (p * gi.detach()).sum(Kind::Double).backward());
        }
    }
    Ok(ay + az)
}
