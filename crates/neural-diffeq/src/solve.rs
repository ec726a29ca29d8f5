//! The single entry point: `solve(term, solver, (t0, t1), y0, control, saveat)`.

use crate::controller::StepControl;
use crate::dense::{DenseOutput, Segment};
use crate::error::{invalid, Error, Result};
use crate::solver::{Solver, Stats, Step};
use crate::state::State;
use crate::term::OdeTerm;

/// What to save.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SaveAt {
    /// Save the initial state.
    pub t0: bool,
    /// Save the final state.
    pub t1: bool,
    /// Save at these times (sorted along the direction of integration, inside the interval), by
    /// dense interpolation.
    pub ts: Vec<f64>,
    /// Keep the dense output (the solution anywhere afterwards).
    pub dense: bool,
    /// Keep every accepted step (time, step size, local error estimate, stage data) for
    /// regularisers.
    pub steps: bool,
}

impl SaveAt {
    /// Only the final state.
    pub fn t1() -> Self {
        SaveAt { t1: true, ..Default::default() }
    }
    /// States at `ts`.
    pub fn ts(ts: Vec<f64>) -> Self {
        SaveAt { ts, ..Default::default() }
    }
    /// The final state and the dense output.
    pub fn dense() -> Self {
        SaveAt { t1: true, dense: true, ..Default::default() }
    }
    /// Also keep the accepted steps.
    pub fn with_steps(mut self) -> Self {
        self.steps = true;
        self
    }
}

/// A terminal event: the solve stops at the first root of `g(t, y)` (a sign change between the
/// ends of a step, located on the dense interpolant by the Illinois method).
pub type EventFn<'a, S> = &'a dyn Fn(f64, &S) -> Result<f64>;

/// One accepted step, kept when [`SaveAt::steps`] is set.
#[derive(Debug)]
pub struct AcceptedStep<S> {
    /// Start time.
    pub t: f64,
    /// Step size.
    pub h: f64,
    /// The step's data (solution, error estimate, stages).
    pub step: Step<S>,
}

/// The result of a solve.
#[derive(Debug)]
pub struct Solution<S> {
    /// Times of the saved states.
    pub ts: Vec<f64>,
    /// Saved states.
    pub ys: Vec<S>,
    /// Counters.
    pub stats: Stats,
    /// Dense output, when asked.
    pub dense: Option<DenseOutput<S>>,
    /// Time of the terminal event, if one fired.
    pub event_t: Option<f64>,
    /// Accepted steps, when asked.
    pub steps: Vec<AcceptedStep<S>>,
}

impl<S: State> Solution<S> {
    /// The last saved state.
    pub fn last(&self) -> Option<&S> {
        self.ys.last()
    }
}

/// Hairer's initial step (Hairer, Nørsett & Wanner, *Solving ODEs I*, II.4).
fn initial_step<S: State>(
    term: &dyn OdeTerm<S>,
    t0: f64,
    y0: &S,
    f0: &S,
    order: u32,
    dir: f64,
    rtol: f64,
    atol: f64,
    stats: &mut Stats,
) -> Result<f64> {
    let d0 = S::scaled_rms(y0, y0, rtol, atol)?;
    let d1 = S::scaled_rms(f0, y0, rtol, atol)?;
    let h0 = if d0 < 1e-5 || d1 < 1e-5 { 1e-6 } else { 0.01 * d0 / d1 };
    let y1 = y0.lincomb(&[(dir * h0, f0)])?;
    stats.nfe += 1;
    let f1 = term.vf(t0 + dir * h0, &y1)?;
    let diff = S::combination(&[(1.0, &f1), (-1.0, f0)])?;
    let d2 = S::scaled_rms(&diff, y0, rtol, atol)? / h0;
    let h1 = if d1.max(d2) <= 1e-15 {
        (h0 * 1e-3).max(1e-6)
    } else {
        (0.01 / d1.max(d2)).powf(1.0 / (order as f64 + 1.0))
    };
    Ok((100.0 * h0).min(h1))
}

/// Solves `dy/dt = f(t, y)` from `t0` to `t1` (either direction).
pub fn solve<S: State>(
    term: &dyn OdeTerm<S>,
    solver: &dyn Solver<S>,
    span: (f64, f64),
    y0: &S,
    control: &StepControl,
    saveat: &SaveAt,
) -> Result<Solution<S>> {
    solve_with_event(term, solver, span, y0, control, saveat, None)
}

/// Most steps a constant-step solve may take (`|t1 − t0| / |dt|`); beyond it `dt` is rejected up
/// front rather than left to run for hours.
pub const MAX_CONSTANT_STEPS: usize = 1_000_000_000;

/// [`solve`] with an optional terminal event.
pub fn solve_with_event<S: State>(
    term: &dyn OdeTerm<S>,
    solver: &dyn Solver<S>,
    span: (f64, f64),
    y0: &S,
    control: &StepControl,
    saveat: &SaveAt,
    event: Option<EventFn<'_, S>>,
) -> Result<Solution<S>> {
    let (t0, t1) = span;
    if !(t0.is_finite() && t1.is_finite()) {
        return Err(invalid("span", format!("({t0}, {t1})"), "times must be finite"));
    }
    if t0 == t1 {
        return Err(invalid("span", format!("({t0}, {t1})"), "t1 must differ from t0"));
    }
    if !y0.is_finite()? {
        return Err(invalid("y0", "non-finite", "the initial state must be finite"));
    }
    let dir = (t1 - t0).signum();
    let within = |t: f64| if dir > 0.0 { t >= t0 && t <= t1 } else { t <= t0 && t >= t1 };
    for (i, &t) in saveat.ts.iter().enumerate() {
        if !within(t) {
            return Err(invalid(&format!("saveat.ts[{i}]"), t, &format!("outside [{t0}, {t1}]")));
        }
        if i > 0 && (t - saveat.ts[i - 1]) * dir < 0.0 {
            return Err(invalid("saveat.ts", t, "times must be sorted along the direction of integration"));
        }
    }
    let (adaptive, pid) = match control {
        StepControl::Constant { dt } => {
            if !(dt.is_finite() && *dt != 0.0) {
                return Err(invalid("dt", dt, "must be finite and non-zero"));
            }
            if dt.signum() != dir {
                return Err(invalid(
                    "dt",
                    dt,
                    &format!("its sign must match the direction from t0 = {t0} to t1 = {t1}"),
                ));
            }
            let n = ((t1 - t0) / dt).abs().ceil();
            if !(n <= MAX_CONSTANT_STEPS as f64) {
                return Err(invalid(
                    "dt",
                    dt,
                    &format!("needs {n:e} steps from t0 = {t0} to t1 = {t1}, more than {MAX_CONSTANT_STEPS}"),
                ));
            }
            (false, None)
        }
        StepControl::Adaptive(p) => {
            p.validate()?;
            if solver.error_order().is_none() {
                return Err(invalid("solver", solver.name(), "has no error estimate: use constant steps"));
            }
            (true, Some(p))
        }
    };
    let need_dense = saveat.dense || !saveat.ts.is_empty() || event.is_some();
    let mut stats = Stats::default();
    let mut sol = Solution { ts: vec![], ys: vec![], stats, dense: None, event_t: None, steps: vec![] };
    let mut segments: Vec<Segment<S>> = Vec::new();
    if saveat.t0 {
        sol.ts.push(t0);
        sol.ys.push(y0.dup());
    }
    let mut next_save = 0;
    // saves at t0 exactly
    while next_save < saveat.ts.len() && saveat.ts[next_save] == t0 {
        sol.ts.push(t0);
        sol.ys.push(y0.dup());
        next_save += 1;
    }
    stats.nfe += 1;
    let mut f = term.vf(t0, y0)?;
    // the vector field's output must match the state once; later steps reuse its layout
    f.check_like("vector field output f(t0, y0)", y0)?;
    if !f.is_finite()? {
        return Err(Error::NonFinite { t: t0 });
    }
    let mut h = match (control, pid) {
        (StepControl::Constant { dt }, _) => *dt,
        (_, Some(p)) => match p.dt0 {
            Some(d) => d.abs() * dir,
            None => dir * initial_step(term, t0, y0, &f, solver.order(), dir, p.rtol, p.atol, &mut stats)?,
        },
        _ => unreachable!(),
    };
    let mut jumps: Vec<f64> = pid
        .map(|p| p.jump_ts.iter().copied().filter(|&t| within(t) && t != t0).collect())
        .unwrap_or_default();
    // A method whose dense interpolant is more than one order below the method itself steps exactly
    // onto the save times instead of interpolating them.
    if adaptive && solver.dense_order() + 1 < solver.order() {
        jumps.extend(saveat.ts.iter().copied().filter(|&t| t != t0));
    }
    jumps.sort_by(|a, b| (a * dir).total_cmp(&(b * dir)));
    let mut next_jump = 0;
    let mut g_prev = match event {
        Some(g) => Some(g(t0, y0)?),
        None => None,
    };
    let mut t = t0;
    let mut y = y0.dup();
    let mut inv_hist = [1.0f64, 1.0, 1.0];
    // constant steps: the steps to t1 and one for rounding; adaptive: the controller's budget
    let max_steps = pid.map_or_else(|| ((t1 - t0) / h).abs().ceil() as usize + 2, |p| p.max_steps);
    let q = solver.error_order().unwrap_or(solver.order());
    loop {
        if (t1 - t) * dir <= 0.0 {
            break;
        }
        if stats.steps >= max_steps {
            return Err(Error::MaxSteps { t, max_steps });
        }
        if let Some(p) = pid {
            h = dir * h.abs().min(p.dtmax);
            if h.abs() < p.dtmin {
                return Err(Error::StepSizeTooSmall { t, dt: h.abs() });
            }
        }
        // land exactly on t1 and on jump times
        let mut target = t + h;
        let mut clipped = false;
        let mut on_jump = false;
        if (target - t1) * dir >= 0.0 || (t1 - target).abs() < 1e-12 * t1.abs().max(1.0) {
            target = t1;
            clipped = true;
        }
        while next_jump < jumps.len() && (jumps[next_jump] - t) * dir <= 0.0 {
            next_jump += 1;
        }
        if next_jump < jumps.len() && (target - jumps[next_jump]) * dir >= 0.0 {
            target = jumps[next_jump];
            clipped = true;
            on_jump = pid.is_some_and(|p| p.jump_ts.contains(&target));
        }
        if target == t {
            // dt below the float spacing at t: the step would not advance
            return Err(Error::StepSizeTooSmall { t, dt: h.abs() });
        }
        let h_used = target - t;
        // a step ending on a discontinuity stops just before it, so no stage sees the right side
        let h_eval = if on_jump {
            target - dir * 2.0 * f64::EPSILON * target.abs().max(f64::MIN_POSITIVE) - t
        } else {
            h_used
        };
        stats.steps += 1;
        let step = solver.step(term, t, &y, Some(&f), h_eval, saveat.steps, &mut stats)?;
        if step.newton_failed {
            stats.rejected += 1;
            h = h_used * 0.25;
            let floor = pid.map_or(0.0, |p| p.dtmin).max(1e-14 * t.abs().max(1.0));
            if !adaptive || h.abs() < floor {
                return Err(crate::solver::esdirk::newton_error(t, h_used.abs()));
            }
            continue;
        }
        let finite = step.y1.is_finite()?;
        let (accept, err_norm) = if adaptive {
            let p = pid.expect("adaptive");
            let n =
                if finite { solver.error_norm(&step, h_used, &y, p.rtol, p.atol)? } else { f64::INFINITY };
            (n.is_finite() && n <= 1.0, n)
        } else {
            if !finite {
                return Err(Error::NonFinite { t: target });
            }
            (true, 0.0)
        };
        if !accept {
            stats.rejected += 1;
            let p = pid.expect("adaptive");
            let inv = if err_norm.is_finite() { 1.0 / err_norm } else { 0.0 };
            let fac = p.factor([inv, inv_hist[0], inv_hist[1]], q, false);
            h = h_used * fac;
            if h.abs() < p.dtmin.max(1e-14 * t.abs().max(1.0)) {
                return if finite {
                    Err(Error::StepSizeTooSmall { t, dt: h.abs() })
                } else {
                    Err(Error::NonFinite { t })
                };
            }
            continue;
        }
        stats.accepted += 1;
        let f1 = match &step.f1 {
            // after a discontinuity the vector field is evaluated afresh on its right side
            Some(f1) if !on_jump => f1.dup(),
            _ => {
                stats.nfe += 1;
                term.vf(target, &step.y1)?
            }
        };
        if !f1.is_finite()? {
            return Err(Error::NonFinite { t: target });
        }
        let seg = if need_dense {
            Some(Segment { t0: t, h: h_used, interp: solver.interpolant(&step, &y, &f1, h_used)? })
        } else {
            None
        };
        // terminal event
        let mut seg = seg;
        if let (Some(g), Some(gp)) = (event, g_prev) {
            let g1 = g(target, &step.y1)?;
            if gp == 0.0 || gp.signum() != g1.signum() && g1 != 0.0 || g1 == 0.0 {
                let seg_ref = seg.as_ref().expect("dense kept for events");
                let te = locate_root(g, seg_ref, t, target, gp, g1)?;
                let ye = seg_ref.evaluate(te)?;
                while next_save < saveat.ts.len() && (saveat.ts[next_save] - te) * dir <= 0.0 {
                    sol.ts.push(saveat.ts[next_save]);
                    sol.ys.push(seg_ref.evaluate(saveat.ts[next_save])?);
                    next_save += 1;
                }
                if saveat.t1 {
                    sol.ts.push(te);
                    sol.ys.push(ye);
                }
                sol.event_t = Some(te);
                sol.stats = stats;
                if saveat.dense {
                    segments.extend(seg.take());
                    sol.dense = Some(DenseOutput { segments });
                }
                return Ok(sol);
            }
            g_prev = Some(g1);
        }
        if let Some(seg) = &seg {
            while next_save < saveat.ts.len() && (saveat.ts[next_save] - target) * dir <= 0.0 {
                let ts = saveat.ts[next_save];
                sol.ts.push(ts);
                sol.ys.push(if ts == target { step.y1.dup() } else { seg.evaluate(ts)? });
                next_save += 1;
            }
        }
        if let Some(p) = pid {
            let inv = if err_norm > 0.0 { 1.0 / err_norm } else { 1e10 };
            let fac = p.factor([inv, inv_hist[0], inv_hist[1]], q, true);
            inv_hist = [inv, inv_hist[0], inv_hist[1]];
            // a step clipped onto t1 or a jump does not shrink the next proposal
            let base = if clipped { h.abs().max(h_used.abs()) } else { h_used.abs() };
            h = dir * base * fac;
        }
        if saveat.steps {
            sol.steps.push(AcceptedStep { t, h: h_eval, step: step.dup() });
        }
        if saveat.dense {
            segments.push(seg.expect("dense"));
        }
        t = target;
        y = step.y1;
        f = f1;
    }
    if saveat.t1 {
        sol.ts.push(t);
        sol.ys.push(y);
    }
    sol.stats = stats;
    if saveat.dense {
        sol.dense = Some(DenseOutput { segments });
    }
    Ok(sol)
}

/// Illinois (modified regula falsi) root of `g` on the interpolant of one step.
fn locate_root<S: State>(
    g: EventFn<'_, S>,
    seg: &Segment<S>,
    ta: f64,
    tb: f64,
    ga: f64,
    gb: f64,
) -> Result<f64> {
    if ga == 0.0 {
        return Ok(ta);
    }
    if gb == 0.0 {
        return Ok(tb);
    }
    let (mut a, mut b, mut fa, mut fb) = (ta, tb, ga, gb);
    let mut side = 0i8;
    for _ in 0..100 {
        let c = (a * fb - b * fa) / (fb - fa);
        let fc = g(c, &seg.evaluate(c)?)?;
        if fc == 0.0 || (b - a).abs() < 1e-14 * a.abs().max(1.0) {
            return Ok(c);
        }
        if fc.signum() == fb.signum() {
            b = c;
            fb = fc;
            if side == -1 {
                fa /= 2.0;
            }
            side = -1;
        } else {
            a = c;
            fa = fc;
            if side == 1 {
                fb /= 2.0;
            }
            side = 1;
        }
    }
    Ok((a * fb - b * fa) / (fb - fa))
}
