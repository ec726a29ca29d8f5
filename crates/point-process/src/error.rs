//! Errors of the `point-process` crate.

/// Errors raised by `point-process`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An error from the shared base (bad argument, shape, non-finite value, libtorch, I/O).
    #[error(transparent)]
    Core(#[from] core_tensor::Error),
    /// Event data that violates an invariant (unsorted times, marks out of range, …).
    #[error("invalid event data: {0}")]
    Data(String),
    /// A malformed input file; `line` counts from 1.
    #[error("{path}:{line}: {reason}")]
    Parse {
        /// File (or `<memory>`).
        path: String,
        /// Line number from 1 (0 when not line-based).
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// Simulating to infinity (or a long horizon) needs a subcritical process.
    #[error("the process is not stationary: branching ratio {ratio} >= 1")]
    NotStationary {
        /// Spectral radius of the branching matrix.
        ratio: f64,
    },
    /// A simulation produced, or on average would produce, more events than the given cap (an
    /// explosive process, or a window too long for the cap).
    #[error("simulation exceeds max_events = {max_events} (explosive parameters, or a window too long for this cap)")]
    TooManyEvents {
        /// The cap.
        max_events: usize,
    },
    /// An optimiser failed to make progress.
    #[error("optimisation failed: {0}")]
    Optimisation(String),
    /// I/O error.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// JSON error.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Checks that `v` is finite and > 0.
pub(crate) fn positive(name: &str, v: f64) -> Result<()> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(invalid(name, v, "must be finite and > 0"))
    }
}

/// Checks that `v` is finite and ≥ 0.
pub(crate) fn non_negative(name: &str, v: f64) -> Result<()> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(invalid(name, v, "must be finite and >= 0"))
    }
}

core_tensor::domain_error!(Error);
