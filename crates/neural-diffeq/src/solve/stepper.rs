//! The stepping loop of [`solve_with_event`](super::solve_with_event), one method a stage: where
//! the next step ends, whether it is accepted, what an accepted step saves, fires and proposes.

use super::{initial_step, AcceptedStep, EventFn, SaveAt, Solution};
use crate::controller::{PidController, StepControl};
use crate::dense::{DenseOutput, Segment};
use crate::error::{Error, Result};
use crate::solver::{Solver, Stats, Step};
use crate::state::State;
use crate::term::OdeTerm;

/// Where the next step ends.
struct Target {
    /// End time of the step.
    t: f64,
    /// The step was shortened onto `t1` or a jump time.
    clipped: bool,
    /// The step ends on a discontinuity of the vector field.
    on_jump: bool,
}

/// A solve in progress.
pub(super) struct Stepper<'a, S: State> {
    term: &'a dyn OdeTerm<S>,
    solver: &'a dyn Solver<S>,
    saveat: &'a SaveAt,
    event: Option<EventFn<'a, S>>,
    pid: Option<&'a PidController>,
    t1: f64,
    dir: f64,
    /// Current time, state and `f(t, y)`.
    t: f64,
    y: S,
    f: S,
    /// Proposed step.
    h: f64,
    jumps: Vec<f64>,
    next_jump: usize,
    next_save: usize,
    g_prev: Option<f64>,
    /// Inverse scaled errors of the last two accepted steps.
    inv_hist: [f64; 3],
    max_steps: usize,
    /// The local error scales as `h^k_err`.
    k_err: f64,
    need_dense: bool,
    stats: Stats,
    sol: Solution<S>,
    segments: Vec<Segment<S>>,
}

impl<'a, S: State> Stepper<'a, S> {
    /// Saves at `t0`, evaluates `f(t0, y0)` (checking its layout once), proposes the first step
    /// and gathers the times to step onto. `span`, `y0` and the control are already checked.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn start(
        term: &'a dyn OdeTerm<S>,
        solver: &'a dyn Solver<S>,
        (t0, t1): (f64, f64),
        y0: &S,
        control: &'a StepControl,
        saveat: &'a SaveAt,
        event: Option<EventFn<'a, S>>,
    ) -> Result<Self> {
        let dir = (t1 - t0).signum();
        let within = |t: f64| if dir > 0.0 { t >= t0 && t <= t1 } else { t <= t0 && t >= t1 };
        let pid = match control {
            StepControl::Adaptive(p) => Some(p),
            StepControl::Constant { .. } => None,
        };
        let mut stats = Stats::default();
        let mut sol = Solution {
            ts: vec![],
            ys: vec![],
            stats,
            dense: None,
            event_t: None,
            steps: vec![],
            step_sizes: vec![],
        };
        if saveat.t0 || saveat.every_step {
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
        let f = term.vf(t0, y0)?;
        // the vector field's output must match the state once; later steps reuse its layout
        f.check_like("vector field output f(t0, y0)", y0)?;
        if !f.is_finite()? {
            return Err(Error::NonFinite { t: t0 });
        }
        let h = match (control, pid) {
            (StepControl::Constant { dt }, _) => *dt,
            (_, Some(p)) => match p.dt0 {
                Some(d) => d.abs() * dir,
                None => {
                    dir * initial_step(term, t0, y0, &f, solver.order(), dir, p.rtol, p.atol, &mut stats)?
                }
            },
            _ => unreachable!("a control is constant or adaptive"),
        };
        let mut jumps: Vec<f64> = pid
            .map(|p| p.jump_ts.iter().copied().filter(|&t| within(t) && t != t0).collect())
            .unwrap_or_default();
        // A method whose dense interpolant is more than one order below the method itself steps
        // exactly onto the save times instead of interpolating them.
        if pid.is_some() && solver.dense_order() + 1 < solver.order() {
            jumps.extend(saveat.ts.iter().copied().filter(|&t| t != t0));
        }
        jumps.sort_by(|a, b| (a * dir).total_cmp(&(b * dir)));
        let g_prev = match event {
            Some(g) => Some(g(t0, y0)?),
            None => None,
        };
        // constant steps: the steps to t1 and one for rounding; adaptive: the controller's budget
        let max_steps = pid.map_or_else(|| ((t1 - t0) / h).abs().ceil() as usize + 2, |p| p.max_steps);
        // the local error of an estimate of order q scales as h^{q + 1}
        let k_err = (solver.error_order().unwrap_or(solver.order()) + 1) as f64;
        Ok(Stepper {
            term,
            solver,
            saveat,
            event,
            pid,
            t1,
            dir,
            t: t0,
            y: y0.dup(),
            f,
            h,
            jumps,
            next_jump: 0,
            next_save,
            g_prev,
            inv_hist: [1.0, 1.0, 1.0],
            max_steps,
            k_err,
            need_dense: saveat.dense || !saveat.ts.is_empty() || event.is_some(),
            stats,
            sol,
            segments: Vec::new(),
        })
    }

    /// Steps until `t1` or a terminal event.
    pub(super) fn run(mut self) -> Result<Solution<S>> {
        while (self.t1 - self.t) * self.dir > 0.0 {
            if self.stats.steps >= self.max_steps {
                let stiff = self.pid.is_some() && !self.solver.method().implicit;
                let hint = if stiff { crate::error::STIFF_HINT } else { "" };
                return Err(Error::MaxSteps { t: self.t, max_steps: self.max_steps, hint });
            }
            let target = self.target()?;
            let h_used = target.t - self.t;
            // a step ending on a discontinuity stops just before it, so no stage sees the right side
            let h_eval = if target.on_jump {
                target.t - self.dir * 2.0 * f64::EPSILON * target.t.abs().max(f64::MIN_POSITIVE) - self.t
            } else {
                h_used
            };
            self.stats.steps += 1;
            let step = self.solver.step(
                self.term,
                self.t,
                &self.y,
                Some(&self.f),
                h_eval,
                self.saveat.steps,
                &mut self.stats,
            )?;
            if step.newton_failed {
                self.newton_failed(h_used)?;
                continue;
            }
            let finite = step.y1.is_finite()?;
            let err_norm = self.error_norm(&step, target.t, h_used, finite)?;
            if !err_norm.is_finite() || err_norm > 1.0 {
                self.reject(h_used, err_norm, finite)?;
                continue;
            }
            if self.accept(step, &target, h_used, h_eval, err_norm)? {
                return Ok(self.sol);
            }
        }
        if self.saveat.t1 && !self.saveat.every_step {
            self.sol.ts.push(self.t);
            self.sol.ys.push(self.y);
        }
        self.sol.stats = self.stats;
        if self.saveat.dense {
            self.sol.dense = Some(DenseOutput { segments: self.segments });
        }
        Ok(self.sol)
    }

    /// Clamps the proposal to the controller's bounds and lands exactly on `t1` and jump times.
    fn target(&mut self) -> Result<Target> {
        let (t, dir) = (self.t, self.dir);
        if let Some(p) = self.pid {
            self.h = dir * self.h.abs().min(p.dtmax);
            if self.h.abs() < p.dtmin {
                return Err(Error::StepSizeTooSmall { t, dt: self.h.abs() });
            }
        }
        let mut target = Target { t: t + self.h, clipped: false, on_jump: false };
        if (target.t - self.t1) * dir >= 0.0 || (self.t1 - target.t).abs() < 1e-12 * self.t1.abs().max(1.0) {
            target.t = self.t1;
            target.clipped = true;
        }
        while self.next_jump < self.jumps.len() && (self.jumps[self.next_jump] - t) * dir <= 0.0 {
            self.next_jump += 1;
        }
        if self.next_jump < self.jumps.len() && (target.t - self.jumps[self.next_jump]) * dir >= 0.0 {
            target.t = self.jumps[self.next_jump];
            target.clipped = true;
            target.on_jump = self.pid.is_some_and(|p| p.jump_ts.contains(&target.t));
        }
        if target.t == t {
            // dt below the float spacing at t: the step would not advance
            return Err(Error::StepSizeTooSmall { t, dt: self.h.abs() });
        }
        Ok(target)
    }

    /// An implicit method's Newton iteration failed: retry a quarter of the step (adaptive only).
    fn newton_failed(&mut self, h_used: f64) -> Result<()> {
        self.stats.rejected += 1;
        self.h = h_used * 0.25;
        let floor = self.pid.map_or(0.0, |p| p.dtmin).max(1e-14 * self.t.abs().max(1.0));
        if self.pid.is_none() || self.h.abs() < floor {
            return Err(crate::solver::esdirk::newton_error(self.t, h_used.abs()));
        }
        Ok(())
    }

    /// The step's scaled error norm (infinite for a non-finite step); constant steps are always
    /// accepted, and a non-finite one is an error.
    fn error_norm(&self, step: &Step<S>, t_end: f64, h_used: f64, finite: bool) -> Result<f64> {
        match self.pid {
            Some(p) if finite => self.solver.error_norm(step, h_used, &self.y, p.rtol, p.atol),
            Some(_) => Ok(f64::INFINITY),
            None if finite => Ok(0.0),
            None => Err(Error::NonFinite { t: t_end }),
        }
    }

    /// Shrinks the step after a rejection.
    fn reject(&mut self, h_used: f64, err_norm: f64, finite: bool) -> Result<()> {
        self.stats.rejected += 1;
        let p = self.pid.expect("only adaptive steps are rejected");
        let inv = if err_norm.is_finite() { 1.0 / err_norm } else { 0.0 };
        let fac = p.factor([inv, self.inv_hist[0], self.inv_hist[1]], self.k_err, false);
        self.h = h_used * fac;
        let t = self.t;
        if self.h.abs() < p.dtmin.max(1e-14 * t.abs().max(1.0)) {
            return if finite {
                Err(Error::StepSizeTooSmall { t, dt: self.h.abs() })
            } else {
                Err(Error::NonFinite { t })
            };
        }
        Ok(())
    }

    /// Takes an accepted step: `f` at its end, its dense segment, the terminal event, the save
    /// points it passes, the next proposal. Returns `true` when the event ended the solve.
    fn accept(
        &mut self,
        step: Step<S>,
        target: &Target,
        h_used: f64,
        h_eval: f64,
        err_norm: f64,
    ) -> Result<bool> {
        self.stats.accepted += 1;
        let (t, dir) = (self.t, self.dir);
        let f1 = match &step.f1 {
            // after a discontinuity the vector field is evaluated afresh on its right side
            Some(f1) if !target.on_jump => f1.dup(),
            _ => {
                self.stats.nfe += 1;
                self.term.vf(target.t, &step.y1)?
            }
        };
        if !f1.is_finite()? {
            return Err(Error::NonFinite { t: target.t });
        }
        let seg = if self.need_dense {
            Some(Segment { t0: t, h: h_used, interp: self.solver.interpolant(&step, &self.y, &f1, h_used)? })
        } else {
            None
        };
        if let (Some(g), Some(gp)) = (self.event, self.g_prev) {
            let g1 = g(target.t, &step.y1)?;
            if gp == 0.0 || gp.signum() != g1.signum() && g1 != 0.0 || g1 == 0.0 {
                self.fire(g, seg.expect("dense kept for events"), target.t, gp, g1)?;
                return Ok(true);
            }
            self.g_prev = Some(g1);
        }
        let mut saved_target = false;
        if let Some(seg) = &seg {
            let ts = &self.saveat.ts;
            while self.next_save < ts.len() && (ts[self.next_save] - target.t) * dir <= 0.0 {
                let s = ts[self.next_save];
                self.sol.ts.push(s);
                self.sol.ys.push(if s == target.t { step.y1.dup() } else { seg.evaluate(s)? });
                saved_target |= s == target.t;
                self.next_save += 1;
            }
        }
        if self.saveat.every_step && !saved_target {
            self.sol.ts.push(target.t);
            self.sol.ys.push(step.y1.dup());
        }
        if let Some(p) = self.pid {
            let inv = if err_norm > 0.0 { 1.0 / err_norm } else { 1e10 };
            let fac = p.factor([inv, self.inv_hist[0], self.inv_hist[1]], self.k_err, true);
            self.inv_hist = [inv, self.inv_hist[0], self.inv_hist[1]];
            // a step clipped onto t1 or a jump does not shrink the next proposal
            let base = if target.clipped { self.h.abs().max(h_used.abs()) } else { h_used.abs() };
            self.h = dir * base * fac;
        }
        if self.saveat.steps {
            self.sol.steps.push(AcceptedStep { t, h: h_eval, step: step.dup() });
        }
        if self.saveat.step_sizes {
            self.sol.step_sizes.push((t, h_eval));
        }
        if self.saveat.dense {
            self.segments.push(seg.expect("dense"));
        }
        self.t = target.t;
        self.y = step.y1;
        self.f = f1;
        Ok(false)
    }

    /// The terminal event fired inside the step `[t, tb]` (`g` went from `ga` to `gb`): locates it
    /// on the step's interpolant and saves up to it.
    fn fire(&mut self, g: EventFn<'_, S>, seg: Segment<S>, tb: f64, ga: f64, gb: f64) -> Result<()> {
        let te = locate_root(g, &seg, self.t, tb, ga, gb)?;
        let ye = seg.evaluate(te)?;
        let ts = &self.saveat.ts;
        while self.next_save < ts.len() && (ts[self.next_save] - te) * self.dir <= 0.0 {
            self.sol.ts.push(ts[self.next_save]);
            self.sol.ys.push(seg.evaluate(ts[self.next_save])?);
            self.next_save += 1;
        }
        if self.saveat.t1 || self.saveat.every_step {
            self.sol.ts.push(te);
            self.sol.ys.push(ye);
        }
        self.sol.event_t = Some(te);
        self.sol.stats = self.stats;
        if self.saveat.dense {
            let mut segments = std::mem::take(&mut self.segments);
            segments.push(seg);
            self.sol.dense = Some(DenseOutput { segments });
        }
        Ok(())
    }
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
