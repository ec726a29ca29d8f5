//! The single entry point: `solve(term, solver, (t0, t1), y0, control, saveat)`.

mod stepper;

use crate::controller::StepControl;
use crate::dense::DenseOutput;
use crate::error::{invalid, Result};
use crate::solver::{Solver, Stats, Step};
use crate::state::State;
use crate::term::OdeTerm;
use stepper::Stepper;

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
    /// Save the state after every accepted step (and the initial state), as diffrax's
    /// `SaveAt(steps=True)`: a save time that is also a step end is saved once.
    pub every_step: bool,
    /// Keep the dense output (the solution anywhere afterwards).
    pub dense: bool,
    /// Keep every accepted step (time, step size, local error estimate, stage data) for
    /// regularisers.
    pub steps: bool,
    /// Keep the start time and size of every accepted step (two numbers a step: what a replay
    /// needs, as checkpointed gradients do).
    pub step_sizes: bool,
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
    /// The initial state and the state after every accepted step.
    pub fn every_step() -> Self {
        SaveAt { every_step: true, ..Default::default() }
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

    /// Also keep `(t, h)` of every accepted step.
    pub fn with_step_sizes(mut self) -> Self {
        self.step_sizes = true;
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
    /// `(t, h)` of each accepted step, when asked.
    pub step_sizes: Vec<(f64, f64)>,
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

/// Refuses a constant step `dt` that needs `n` steps over `span`, more than [`MAX_CONSTANT_STEPS`].
pub(crate) fn check_step_budget(dt: f64, n: f64, (t0, t1): (f64, f64)) -> Result<()> {
    if !(n <= MAX_CONSTANT_STEPS as f64) {
        return Err(invalid(
            "dt",
            format!("{dt:e}"),
            &format!("needs {n:e} steps from t0 = {t0} to t1 = {t1}, more than {MAX_CONSTANT_STEPS}"),
        ));
    }
    Ok(())
}

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
    check_problem(span, y0, saveat)?;
    check_control(solver, span, control)?;
    Stepper::start(term, solver, span, y0, control, saveat, event)?.run()
}

/// A finite span of non-zero length, a finite `y0`, save times inside the span and sorted along it.
fn check_problem<S: State>((t0, t1): (f64, f64), y0: &S, saveat: &SaveAt) -> Result<()> {
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
    Ok(())
}

/// A constant step that points from `t0` to `t1` and reaches it within [`MAX_CONSTANT_STEPS`], or
/// valid adaptive settings for a solver with an error estimate.
fn check_control<S: State>(
    solver: &dyn Solver<S>,
    (t0, t1): (f64, f64),
    control: &StepControl,
) -> Result<()> {
    match control {
        StepControl::Constant { dt } => {
            if !(dt.is_finite() && *dt != 0.0) {
                return Err(invalid("dt", dt, "must be finite and non-zero"));
            }
            if dt.signum() != (t1 - t0).signum() {
                return Err(invalid(
                    "dt",
                    dt,
                    &format!("its sign must match the direction from t0 = {t0} to t1 = {t1}"),
                ));
            }
            check_step_budget(*dt, ((t1 - t0) / dt).abs().ceil(), (t0, t1))?;
        }
        StepControl::Adaptive(p) => {
            p.validate()?;
            if solver.error_order().is_none() {
                return Err(invalid("solver", solver.name(), "has no error estimate: use constant steps"));
            }
        }
    }
    Ok(())
}
