//! The error type shared by every sciml-rs crate.
//!
//! Domain crates define their own `thiserror` enum with a `#[from] core_tensor::Error` variant, so
//! errors raised here (bad arguments, shapes, checkpoints, libtorch failures) travel up unchanged.

use std::path::PathBuf;

/// Errors raised by `core-tensor`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An argument had a value outside its domain (`name = value`: reason).
    #[error("invalid argument `{name}` = {value}: {reason}")]
    InvalidArgument {
        /// Name of the argument as it appears in the API.
        name: String,
        /// The offending value, formatted.
        value: String,
        /// What was expected.
        reason: String,
    },
    /// A tensor or slice had the wrong shape.
    #[error("shape mismatch for `{name}`: expected {expected}, got {got}")]
    Shape {
        /// Name of the argument.
        name: String,
        /// Expected shape, formatted (e.g. `[batch, 3]`).
        expected: String,
        /// Shape received.
        got: String,
    },
    /// A value that must be finite was NaN or infinite.
    #[error("non-finite value in `{name}` at index {index}")]
    NonFinite {
        /// Name of the argument or quantity.
        name: String,
        /// Flat index of the first non-finite element.
        index: usize,
    },
    /// A checkpoint could not be written or read back.
    #[error("checkpoint {path}: {reason}")]
    Checkpoint {
        /// The checkpoint file or directory.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// An error reported by libtorch. It displays as libtorch's message alone (see
    /// [`torch_message`]); the full error with the C++ stack stays reachable through `source()`.
    #[error("libtorch: {}", torch_message(.0))]
    Torch(#[from] tch::TchError),
    /// An I/O error.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// A JSON (de)serialisation error.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    /// A report that could not be built (a non-finite metric, an unknown profile).
    #[error(transparent)]
    Report(#[from] sciml_report::ReportError),
    /// An error of a domain crate, carried through a `core-tensor` interface (e.g. a suite task).
    #[error(transparent)]
    Other(Box<dyn std::error::Error + Send + Sync + 'static>),
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Builds [`Error::InvalidArgument`].
    pub fn invalid(
        name: impl Into<String>,
        value: impl std::fmt::Display,
        reason: impl Into<String>,
    ) -> Self {
        Error::InvalidArgument { name: name.into(), value: value.to_string(), reason: reason.into() }
    }

    /// Builds [`Error::Shape`] from two shape-like values formatted with `{:?}`.
    pub fn shape(name: impl Into<String>, expected: impl std::fmt::Debug, got: impl std::fmt::Debug) -> Self {
        Error::Shape { name: name.into(), expected: format!("{expected:?}"), got: format!("{got:?}") }
    }

    /// Wraps any error (typically a domain crate's) as [`Error::Other`].
    pub fn other(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Error::Other(Box::new(e))
    }

    /// Builds [`Error::Checkpoint`].
    pub fn checkpoint(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Error::Checkpoint { path: path.into(), reason: reason.into() }
    }
}

/// libtorch's message without the C++ stack that libtorch appends to it (`Exception raised from …`
/// and its `frame #n` lines): the sentence a user needs, on one line.
pub fn torch_message(e: &tch::TchError) -> String {
    let full = e.to_string();
    let body = full.strip_prefix("Internal torch error: ").unwrap_or(&full);
    let end =
        ["Exception raised from", "frame #0"].iter().filter_map(|m| body.find(m)).min().unwrap_or(body.len());
    body[..end].split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Checks that every value of `values` is finite; the error names `name` and the first bad index.
pub fn ensure_finite(name: &str, values: &[f64]) -> Result<()> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(Error::NonFinite { name: name.to_string(), index }),
        None => Ok(()),
    }
}

/// Checks that `value` is finite and strictly positive.
pub fn ensure_positive(name: &str, value: f64) -> Result<()> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(Error::invalid(name, value, "must be finite and > 0"))
    }
}

/// Checks that a tensor holds only finite values (any dtype, any device).
pub fn ensure_finite_tensor(name: &str, t: &tch::Tensor) -> Result<()> {
    if !t.is_floating_point() {
        return Ok(());
    }
    let bad = t.f_isfinite()?.f_logical_not()?;
    if bad.f_any()?.int64_value(&[]) != 0 {
        let flat = bad.f_flatten(0, -1)?.f_to_kind(tch::Kind::Uint8)?;
        let index = flat.f_argmax(0, false)?.int64_value(&[]) as usize;
        return Err(Error::NonFinite { name: name.to_string(), index });
    }
    Ok(())
}

/// The glue every domain crate's error enum needs, for an enum `$err` with a variant
/// `Core(core_tensor::Error)`: `From<tch::TchError>`, `From<$err> for core_tensor::Error` (a
/// wrapped core error is unwrapped, any other becomes [`Error::Other`], so a crate's results travel
/// through `core-tensor` interfaces such as a `Trainer` step closure or a suite task with `?`), and
/// a crate-private `invalid(name, value, reason)` shorthand for [`Error::InvalidArgument`].
///
/// ```
/// #[derive(Debug, thiserror::Error)]
/// pub enum Error {
///     #[error(transparent)]
///     Core(#[from] core_tensor::Error),
///     #[error("diverged")]
///     Diverged,
/// }
/// core_tensor::domain_error!(Error);
///
/// let e: core_tensor::Error = invalid("dt", -1.0, "must be > 0").into();
/// assert!(e.to_string().contains("dt"));
/// assert!(matches!(core_tensor::Error::from(Error::Diverged), core_tensor::Error::Other(_)));
/// ```
#[macro_export]
macro_rules! domain_error {
    ($err:ident) => {
        /// Invalid-argument error naming the argument and its value.
        #[allow(dead_code)]
        pub(crate) fn invalid(name: &str, value: impl ::std::fmt::Display, reason: &str) -> $err {
            $err::Core($crate::Error::invalid(name, value, reason))
        }

        impl ::std::convert::From<::tch::TchError> for $err {
            fn from(e: ::tch::TchError) -> Self {
                $err::Core($crate::Error::Torch(e))
            }
        }

        impl ::std::convert::From<$err> for $crate::Error {
            fn from(e: $err) -> Self {
                match e {
                    $err::Core(c) => c,
                    other => $crate::Error::other(other),
                }
            }
        }
    };
}

#[cfg(test)]
mod tests {
    /// A libtorch shape error reads as libtorch's sentence, without twenty frames of C++ stack.
    #[test]
    fn libtorch_errors_display_without_the_cpp_stack() {
        let a = tch::Tensor::zeros([2, 3], (tch::Kind::Float, tch::Device::Cpu));
        let raw = a.f_matmul(&a).unwrap_err();
        let e = super::Error::from(raw);
        let msg = e.to_string();
        assert!(msg.starts_with("libtorch: "), "{msg}");
        assert!(msg.contains("2x3") && !msg.contains('\n'), "{msg}");
        assert!(!msg.contains("frame #") && !msg.contains("Exception raised"), "{msg}");
        assert!(msg.len() < 200, "{} characters: {msg}", msg.len());
        let full = std::error::Error::source(&e).map(|s| s.to_string()).unwrap_or_default();
        assert!(full.contains("2x3"), "{full}");
    }

    use super::*;

    #[test]
    fn messages_name_argument_and_value() {
        let e = Error::invalid("decay", -1.0, "must be > 0");
        assert_eq!(e.to_string(), "invalid argument `decay` = -1: must be > 0");
        let e = Error::shape("x", [2, 3], [3]);
        assert_eq!(e.to_string(), "shape mismatch for `x`: expected [2, 3], got [3]");
    }

    #[test]
    fn finite_checks() {
        assert!(ensure_finite("a", &[1.0, 2.0]).is_ok());
        let e = ensure_finite("a", &[1.0, f64::NAN]).unwrap_err();
        assert!(matches!(e, Error::NonFinite { index: 1, .. }));
        assert!(ensure_positive("rate", 0.0).is_err());
        assert!(ensure_positive("rate", f64::INFINITY).is_err());
        assert!(ensure_positive("rate", 0.5).is_ok());
        let t = tch::Tensor::from_slice(&[1.0f32, 2.0, f32::INFINITY]);
        let e = ensure_finite_tensor("t", &t).unwrap_err();
        assert!(matches!(e, Error::NonFinite { index: 2, .. }));
    }
}
