//! Errors of `neural-diffeq`. Solver failures are values naming where they happened.

/// Errors raised by `neural-diffeq`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An error from the shared base (bad argument, shape, libtorch, I/O).
    #[error(transparent)]
    Core(#[from] core_tensor::Error),
    /// The step budget ran out before reaching the end time.
    #[error("maximum number of steps ({max_steps}) reached at t = {t}{hint}")]
    MaxSteps {
        /// Time reached.
        t: f64,
        /// The budget.
        max_steps: usize,
        /// What to try next (empty, or [`STIFF_HINT`] after an adaptive explicit solve).
        hint: &'static str,
    },
    /// The controller asked for a step below `dtmin`.
    #[error("step size {dt:e} below the minimum at t = {t}")]
    StepSizeTooSmall {
        /// Time reached.
        t: f64,
        /// The rejected step size.
        dt: f64,
    },
    /// The solution or the vector field became NaN or infinite.
    #[error("non-finite state or vector field at t = {t}")]
    NonFinite {
        /// Time at which it happened.
        t: f64,
    },
    /// The Newton iteration of an implicit solver failed to converge even at the smallest step.
    #[error("Newton iteration did not converge at t = {t} (dt = {dt:e})")]
    NewtonFailed {
        /// Time reached.
        t: f64,
        /// Last step size.
        dt: f64,
    },
}

/// Appended to [`Error::MaxSteps`] when an adaptive explicit method ran out of steps: the usual
/// cause is stiffness, where stability, not accuracy, caps an explicit method's step.
pub const STIFF_HINT: &str = "; an adaptive explicit method that runs out of steps usually means \
     a stiff problem (stability, not accuracy, keeps its steps small): try the implicit Kvaerno3 or \
     Kvaerno5, or raise max_steps";

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

core_tensor::domain_error!(Error);
