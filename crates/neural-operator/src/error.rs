//! Errors of `neural-operator`.

/// Errors raised by `neural-operator`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An error from the shared base (bad argument, shape, libtorch, I/O).
    #[error(transparent)]
    Core(#[from] core_tensor::Error),
    /// A PDE solve produced non-finite values.
    #[error("{solver}: non-finite solution at t = {t}")]
    NonFinite {
        /// Which solver.
        solver: &'static str,
        /// Time reached.
        t: f64,
    },
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

core_tensor::domain_error!(Error);
