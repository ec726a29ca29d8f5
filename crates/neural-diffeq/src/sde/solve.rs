//! The SDE entry point: `sdeint(term, solver, (t0, t1), y0, brownian, control, saveat)`, with the
//! same [`StepControl`] and [`SaveAt`] as ODE solves.

use super::brownian::{BrownianMotion, BrownianPath};
use super::solver::SdeSolver;
use super::term::{Noise, SdeTerm};
use crate::controller::{PidController, StepControl};
use crate::error::{invalid, Error, Result};
use crate::solve::{check_step_budget, SaveAt, Solution};
use crate::solver::Stats;
use std::cell::Cell;
use tch::{Kind, Tensor};

/// Solves `dy = f(t, y) dt + g(t, y) ∘ dW` (Itô or Stratonovich, as the solver converges to) from
/// `span.0` to `span.1 > span.0` on the Brownian motion `brownian`.
///
/// - [`StepControl::Constant`]`{ dt }`: steps at `t0 + k dt`. On a [`BrownianPath`] `dt` is a
///   whole multiple of the grid step (increments and Lévy areas of several grid steps are joined
///   exactly); the graph is kept, so `backward()` backpropagates through the solve.
/// - [`StepControl::Adaptive`]`(pid)`: step doubling on a [`VirtualBrownianTree`] (any time can be
///   queried, and a retried step sees the same path). Each attempt takes one step of size `h` and
///   two of `h/2`; the error is the RMS of `(y_half − y_full) / (atol + rtol · max(|y|, |y_half|))`;
///   an accepted step keeps the two-half-step value. The controller's factor uses the local-error
///   order `p + ½` of a strong-order-`p` method (`h^{p + ½}`), so the I-controller proposes
///   `h · clip(safety · err^{−1/(p + ½)}, factormin, factormax)`. Without `dt0` the first step is
///   1 % of the span.
///
/// Save points: `t0`, `t1`, `ts` (stepped onto exactly: an SDE solve has no interpolant) and
/// `every_step`; `dense` and step records (`SaveAt::steps`) are refused. `stats.nfe` counts drift
/// and diffusion evaluations together.
///
/// [`VirtualBrownianTree`]: super::VirtualBrownianTree
///
/// # Errors
/// Bad span, tolerances or save times; a `y0` that is not `[B, D]` or not finite; a Brownian
/// motion of the wrong shape or span, or a grid path under adaptive steps; a noise type the solver
/// does not support; [`Error::MaxSteps`], [`Error::StepSizeTooSmall`] or [`Error::NonFinite`].
pub fn sdeint<B: BrownianMotion + ?Sized>(
    term: &dyn SdeTerm,
    solver: &dyn SdeSolver,
    span: (f64, f64),
    y0: &Tensor,
    brownian: &B,
    control: &StepControl,
    saveat: &SaveAt,
) -> Result<Solution<Tensor>> {
    let (t0, t1) = span;
    check_span(span, brownian)?;
    check_saveat(saveat, span)?;
    check_brownian_shape(term.noise(), y0, &brownian.shape())?;
    solver.check_noise(term.noise())?;
    if tch::no_grad(|| y0.isfinite().all().int64_value(&[])) == 0 {
        return Err(invalid("y0", "non-finite", "the initial state must be finite"));
    }
    let counted = Counted { term, evals: Cell::new(0) };
    let mut out = Saved::new(saveat, t0, y0);
    let stops = |extra: &[f64]| {
        let mut s: Vec<f64> = saveat.ts.iter().chain(extra).copied().filter(|&t| t > t0).collect();
        s.push(t1);
        s.sort_by(f64::total_cmp);
        s.dedup();
        s
    };
    let stats = match control {
        StepControl::Constant { dt } => {
            constant(&counted, solver, span, y0, brownian, *dt, &stops(&[]), &mut out)?
        }
        StepControl::Adaptive(pid) => {
            pid.validate()?;
            if let Some(h) = brownian.grid() {
                return Err(invalid(
                    "brownian",
                    format!("a path on a grid of step {h}"),
                    "adaptive steps need a Brownian motion that answers any time (VirtualBrownianTree)",
                ));
            }
            adaptive(&counted, solver, span, y0, brownian, pid, &stops(&pid.jump_ts), &mut out)?
        }
    };
    Ok(out.finish(Stats { nfe: counted.evals.get(), ..stats }))
}

/// [`sdeint`] over the whole of `path` in steps of its grid, the usual fixed-step solve:
/// `sdeint(term, solver, path.span(), y0, path, &StepControl::constant(path.h()), saveat)`.
///
/// # Errors
/// As [`sdeint`].
pub fn sdeint_on_grid(
    term: &dyn SdeTerm,
    solver: &dyn SdeSolver,
    y0: &Tensor,
    path: &BrownianPath,
    saveat: &SaveAt,
) -> Result<Solution<Tensor>> {
    sdeint(term, solver, path.span(), y0, path, &StepControl::constant(path.h()), saveat)
}

/// The equation, counting drift and diffusion evaluations.
struct Counted<'a> {
    term: &'a dyn SdeTerm,
    evals: Cell<usize>,
}

impl SdeTerm for Counted<'_> {
    fn drift(&self, t: f64, y: &Tensor) -> Result<Tensor> {
        self.evals.set(self.evals.get() + 1);
        self.term.drift(t, y)
    }
    fn diffusion(&self, t: f64, y: &Tensor) -> Result<Tensor> {
        self.evals.set(self.evals.get() + 1);
        self.term.diffusion(t, y)
    }
    fn noise(&self) -> Noise {
        self.term.noise()
    }
}

/// The save points as the solve reaches them.
struct Saved<'a> {
    saveat: &'a SaveAt,
    next: usize,
    ts: Vec<f64>,
    ys: Vec<Tensor>,
    last: (f64, Tensor),
}

impl<'a> Saved<'a> {
    fn new(saveat: &'a SaveAt, t0: f64, y0: &Tensor) -> Self {
        let mut s = Saved { saveat, next: 0, ts: vec![], ys: vec![], last: (t0, y0.shallow_clone()) };
        if saveat.t0 || saveat.every_step {
            s.push(t0, y0);
        }
        while s.next < saveat.ts.len() && saveat.ts[s.next] <= t0 {
            s.push(t0, y0);
            s.next += 1;
        }
        s
    }
    fn push(&mut self, t: f64, y: &Tensor) {
        self.ts.push(t);
        self.ys.push(y.shallow_clone());
    }
    /// An accepted step ended at `t` with `y` (save times are stepped onto, never passed).
    fn reached(&mut self, t: f64, y: &Tensor) {
        let mut hit = false;
        while self.next < self.saveat.ts.len() && self.saveat.ts[self.next] <= t {
            self.push(t, y);
            hit = true;
            self.next += 1;
        }
        if self.saveat.every_step && !hit {
            self.push(t, y);
        }
        self.last = (t, y.shallow_clone());
    }
    fn finish(mut self, stats: Stats) -> Solution<Tensor> {
        if self.saveat.t1 && !self.saveat.every_step {
            let (t, y) = (self.last.0, self.last.1.shallow_clone());
            self.push(t, &y);
        }
        Solution {
            ts: self.ts,
            ys: self.ys,
            stats,
            dense: None,
            event_t: None,
            steps: vec![],
            step_sizes: vec![],
        }
    }
}

/// `span` is finite, forward, and inside the Brownian motion's span.
fn check_span<B: BrownianMotion + ?Sized>(span: (f64, f64), brownian: &B) -> Result<()> {
    let (t0, t1) = span;
    if !(t0.is_finite() && t1.is_finite() && t0 < t1) {
        return Err(invalid(
            "span",
            format!("({t0}, {t1})"),
            "need finite t0 < t1 (SDEs are solved forwards)",
        ));
    }
    let (a, b) = brownian.span();
    let slack = 1e-12 * a.abs().max(b.abs()).max(1.0);
    if t0 < a - slack || t1 > b + slack {
        return Err(invalid(
            "span",
            format!("({t0}, {t1})"),
            &format!("must lie inside the Brownian motion's span [{a}, {b}]"),
        ));
    }
    Ok(())
}

/// Save points an SDE solve can honour: sorted times inside the span, no dense output and no
/// step records.
fn check_saveat(saveat: &SaveAt, (t0, t1): (f64, f64)) -> Result<()> {
    if saveat.dense {
        return Err(invalid("saveat.dense", true, "an SDE solve has no dense output: save at ts instead"));
    }
    if saveat.steps {
        return Err(invalid(
            "saveat.steps",
            true,
            "step records are kept by ODE solves only: use every_step for the states",
        ));
    }
    for (i, &t) in saveat.ts.iter().enumerate() {
        if !(t >= t0 && t <= t1) {
            return Err(invalid(&format!("saveat.ts[{i}]"), t, &format!("outside [{t0}, {t1}]")));
        }
        if i > 0 && t < saveat.ts[i - 1] {
            return Err(invalid("saveat.ts", t, "times must be increasing"));
        }
    }
    Ok(())
}

/// Checks that `y0` is `[B, D]` and that the Brownian motion has the shape `[B, m]` the noise needs.
fn check_brownian_shape(noise: Noise, y0: &Tensor, shape: &[i64]) -> Result<()> {
    let (b, d) =
        y0.size2().map_err(|_| invalid("y0", format!("{:?}", y0.size()), "expected [batch, dim]"))?;
    let m = noise.brownian_dim(d);
    if shape != [b, m] {
        return Err(invalid(
            "brownian",
            format!("{shape:?}"),
            &format!("Brownian values must be [{b}, {m}]"),
        ));
    }
    Ok(())
}

/// The index of the first time in `stops` (sorted, `t1` last) after `t`, searching from `from`;
/// the last index when none is.
fn first_after(stops: &[f64], from: usize, t: f64) -> usize {
    let mut i = from;
    while i + 1 < stops.len() && stops[i] <= t {
        i += 1;
    }
    i
}

/// Constant steps at `t0 + k dt`, also stopping on the save times in `stops` (sorted, `t1` last).
#[allow(clippy::too_many_arguments)]
fn constant<B: BrownianMotion + ?Sized>(
    term: &dyn SdeTerm,
    solver: &dyn SdeSolver,
    (t0, t1): (f64, f64),
    y0: &Tensor,
    brownian: &B,
    dt: f64,
    stops: &[f64],
    out: &mut Saved<'_>,
) -> Result<Stats> {
    if !(dt.is_finite() && dt > 0.0) {
        return Err(invalid("dt", dt, "must be finite and > 0"));
    }
    if let Some(h) = brownian.grid() {
        let m = (dt / h).round();
        if !(m >= 1.0 && (dt / h - m).abs() <= 1e-9) {
            return Err(invalid(
                "dt",
                dt,
                &format!("must be a whole multiple of the Brownian path's step {h}"),
            ));
        }
    }
    let x = (t1 - t0) / dt;
    let exact = (x - x.round()).abs() <= 1e-9;
    let n = if exact { x.round() } else { x.ceil() };
    check_step_budget(dt, n, (t0, t1))?;
    let n = n as usize;
    let mut stats = Stats::default();
    let (mut t, mut y) = (t0, y0.shallow_clone());
    let mut start = brownian.point(t0)?;
    let (mut k, mut next_stop) = (0usize, 0usize);
    // each grid step may be split by save times: at most n + stops.len() steps
    while k < n {
        next_stop = first_after(stops, next_stop, t);
        let grid_t = if k + 1 == n { t1 } else { t0 + (k + 1) as f64 * dt };
        let (target, on_grid) =
            if stops[next_stop] < grid_t { (stops[next_stop], false) } else { (grid_t, true) };
        // a whole step is exactly dt (not the rounded difference of two times)
        let whole = on_grid && t == t0 + k as f64 * dt && (k + 1 < n || exact);
        let h = if whole { dt } else { target - t };
        if !(target > t) {
            return Err(Error::StepSizeTooSmall { t, dt: h });
        }
        let end = brownian.point(target)?;
        let (dw, levy) = brownian.increment(&start, &end)?;
        y = solver.step(term, t, &y, h, &dw, &levy)?;
        stats.steps += 1;
        stats.accepted += 1;
        t = target;
        start = end;
        if on_grid {
            k += 1;
        }
        out.reached(t, &y);
    }
    if tch::no_grad(|| y.isfinite().all().int64_value(&[])) == 0 {
        return Err(Error::NonFinite { t });
    }
    Ok(stats)
}

/// Adaptive steps by step doubling (see [`sdeint`]), landing exactly on the times in `stops`
/// (save times and the controller's jump times, sorted, `t1` last).
#[allow(clippy::too_many_arguments)]
fn adaptive<B: BrownianMotion + ?Sized>(
    term: &dyn SdeTerm,
    solver: &dyn SdeSolver,
    (t0, t1): (f64, f64),
    y0: &Tensor,
    brownian: &B,
    pid: &PidController,
    stops: &[f64],
    out: &mut Saved<'_>,
) -> Result<Stats> {
    let order = solver.strong_order() + 0.5;
    let first = pid.dt0.map_or(0.01 * (t1 - t0), f64::abs);
    let (mut t, mut h) = (t0, first.min(t1 - t0));
    let mut y = y0.shallow_clone();
    let mut stats = Stats::default();
    let mut inv_hist = [1.0f64, 1.0];
    let mut next_stop = 0;
    // the path at the current time, reused by every attempt from it
    let mut start = brownian.point(t0)?;
    while t < t1 {
        if stats.steps >= pid.max_steps {
            return Err(Error::MaxSteps { t, max_steps: pid.max_steps, hint: "" });
        }
        h = h.min(pid.dtmax);
        if h < pid.dtmin {
            return Err(Error::StepSizeTooSmall { t, dt: h });
        }
        next_stop = first_after(stops, next_stop, t);
        let stop = stops[next_stop];
        let clipped = stop - t <= h * (1.0 + 1e-12);
        let tn = if clipped { stop } else { t + h };
        if !(tn > t) {
            // h below the float spacing at t: the step would not advance
            return Err(Error::StepSizeTooSmall { t, dt: h });
        }
        let hs = tn - t;
        let tm = t + 0.5 * hs;
        let (mid, end) = (brownian.point(tm)?, brownian.point(tn)?);
        let (dw, lv) = brownian.increment(&start, &end)?;
        stats.steps += 1;
        let full = solver.step(term, t, &y, hs, &dw, &lv)?;
        let (dw1, lv1) = brownian.increment(&start, &mid)?;
        let (dw2, lv2) = brownian.increment(&mid, &end)?;
        let half = solver.step(term, t, &y, 0.5 * hs, &dw1, &lv1)?;
        let two = solver.step(term, tm, &half, 0.5 * hs, &dw2, &lv2)?;
        let err = tch::no_grad(|| {
            let scale = y.abs().maximum(&two.abs()) * pid.rtol + pid.atol;
            ((&two - &full) / scale).square().mean(Kind::Double).sqrt().double_value(&[])
        });
        if !err.is_finite() {
            return Err(Error::NonFinite { t });
        }
        let accepted = err <= 1.0;
        let inv = 1.0 / err;
        let factor = pid.factor([inv, inv_hist[0], inv_hist[1]], order, accepted);
        if accepted {
            stats.accepted += 1;
            inv_hist = [inv, inv_hist[0]];
            t = tn;
            y = two;
            start = end;
            out.reached(t, &y);
        } else {
            stats.rejected += 1;
        }
        // a step clipped onto a stop does not shrink the next proposal
        let base = if clipped && accepted { h.max(hs) } else { hs };
        h = base * factor;
    }
    Ok(stats)
}
