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

pub(crate) fn invalid(name: &str, value: impl std::fmt::Display, reason: &str) -> Error {
    Error::Core(core_tensor::Error::invalid(name, value, reason))
}

impl From<tch::TchError> for Error {
    fn from(e: tch::TchError) -> Self {
        Error::Core(core_tensor::Error::Torch(e))
    }
}

/// Lets a result of this crate travel through `core-tensor` interfaces (a `Trainer` step closure,
/// a suite task) with `?`: a wrapped core error is unwrapped, any other becomes
/// [`core_tensor::Error::Other`].
impl From<Error> for core_tensor::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Core(c) => c,
            other => core_tensor::Error::other(other),
        }
    }
}
