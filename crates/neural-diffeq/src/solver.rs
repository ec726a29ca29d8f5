//! Solvers: explicit Runge–Kutta methods from tableau data and an implicit ESDIRK method.

pub mod erk;
pub mod esdirk;
pub mod esdirk_tableaus;
pub mod tableau;
pub mod tableaus;

pub use erk::ExplicitRk;
pub use esdirk::Esdirk;
pub use tableau::Tableau;

use crate::dense::Interpolant;
use crate::error::Result;
use crate::state::State;
use crate::term::OdeTerm;

/// Counters of one solve.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Vector-field evaluations.
    pub nfe: usize,
    /// Steps attempted.
    pub steps: usize,
    /// Steps accepted.
    pub accepted: usize,
    /// Steps rejected.
    pub rejected: usize,
}

impl Stats {
    /// Adds `other`'s counters to these.
    pub fn merge(&mut self, other: &Stats) {
        self.nfe += other.nfe;
        self.steps += other.steps;
        self.accepted += other.accepted;
        self.rejected += other.rejected;
    }
}

/// The result of one step from `(t, y)` to `t + h`.
#[derive(Debug)]
pub struct Step<S> {
    /// Solution at `t + h`.
    pub y1: S,
    /// Local error estimate, when the method has one.
    pub err: Option<S>,
    /// `f(t, y)` (reused by the dense output).
    pub f0: S,
    /// `f(t + h, y1)` when the method computes it anyway (FSAL).
    pub f1: Option<S>,
    /// Stage derivatives `k_i` (kept for dense output and regularisers).
    pub ks: Vec<S>,
    /// Stage inputs `y + h Σ a_ij k_j` (kept only when asked, for stiffness estimates).
    pub stage_ys: Vec<S>,
    /// An implicit method's Newton iteration failed: the step must be retried smaller.
    pub newton_failed: bool,
}

/// What a one-step method is, apart from its step: the facts the stepping loop and the step-size
/// controller need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OdeMethod {
    /// Name (`"dopri5"`).
    pub name: &'static str,
    /// Order of the propagated solution.
    pub order: u32,
    /// Order of the embedded error estimate (`None`: constant steps only).
    pub error_order: Option<u32>,
    /// Whether `f1` of a step is `f0` of the next (first same as last).
    pub fsal: bool,
    /// Whether the stages solve implicit equations (Newton iterations; suited to stiff problems).
    pub implicit: bool,
}

/// A one-step method.
pub trait Solver<S: State> {
    /// Name, orders and FSAL property.
    fn method(&self) -> OdeMethod;
    /// Name.
    fn name(&self) -> &'static str {
        self.method().name
    }
    /// Order of the propagated solution.
    fn order(&self) -> u32 {
        self.method().order
    }
    /// Order of the embedded error estimate (`None`: constant steps only).
    fn error_order(&self) -> Option<u32> {
        self.method().error_order
    }
    /// Whether `f1` of a step is `f0` of the next (first same as last).
    fn fsal(&self) -> bool {
        self.method().fsal
    }
    /// Advances one step of size `h` (negative to integrate backwards). `f0` is `f(t, y)` if known.
    fn step(
        &self,
        term: &dyn OdeTerm<S>,
        t: f64,
        y: &S,
        f0: Option<&S>,
        h: f64,
        keep_stages: bool,
        stats: &mut Stats,
    ) -> Result<Step<S>>;
    /// Scaled RMS norm of the step's error estimate (0 without one).
    fn error_norm(&self, step: &Step<S>, _h: f64, y0: &S, rtol: f64, atol: f64) -> Result<f64> {
        match &step.err {
            Some(e) => S::error_norm(e, y0, &step.y1, rtol, atol),
            None => Ok(0.0),
        }
    }
    /// Order of the dense-output interpolant (3: cubic Hermite).
    fn dense_order(&self) -> u32 {
        3
    }
    /// Dense-output interpolant of an accepted step (cubic Hermite unless the method has its own).
    fn interpolant(&self, step: &Step<S>, y0: &S, f1: &S, _h: f64) -> Result<Interpolant<S>> {
        Ok(Interpolant::Hermite { y0: y0.dup(), y1: step.y1.dup(), f0: step.f0.dup(), f1: f1.dup() })
    }
}

impl<S: State> Step<S> {
    /// A copy of the step.
    pub fn dup(&self) -> Self {
        Step {
            y1: self.y1.dup(),
            err: self.err.as_ref().map(State::dup),
            f0: self.f0.dup(),
            f1: self.f1.as_ref().map(State::dup),
            ks: self.ks.iter().map(State::dup).collect(),
            stage_ys: self.stage_ys.iter().map(State::dup).collect(),
            newton_failed: self.newton_failed,
        }
    }
}
