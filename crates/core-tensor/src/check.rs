//! Up-front checks of tensor arguments (shape, dtype, device), so that a public function returns
//! an error naming the argument instead of panicking inside libtorch.
//!
//! ```
//! use core_tensor::check::{check_tensor, Dim};
//! use tch::{Device, Kind, Tensor};
//!
//! let x = Tensor::zeros([8, 3], (Kind::Float, Device::Cpu));
//! assert!(check_tensor("x", &x, Some(&[Dim::AtLeast(1), Dim::Is(3)]), Some(Kind::Float), None).is_ok());
//! let e = check_tensor("x", &x, Some(&[Dim::Any, Dim::Is(4)]), None, None).unwrap_err();
//! assert!(e.to_string().contains("`x`"));
//! ```

use crate::error::{Error, Result};
use tch::{Device, Kind, Tensor};

/// The expected size of one dimension in [`check_tensor`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dim {
    /// Any size, zero included.
    Any,
    /// Exactly this size.
    Is(i64),
    /// At least this size.
    AtLeast(i64),
}

impl std::fmt::Display for Dim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Dim::Any => write!(f, "_"),
            Dim::Is(n) => write!(f, "{n}"),
            Dim::AtLeast(n) => write!(f, "≥{n}"),
        }
    }
}

/// A string shown as is in a `Debug` position.
struct Raw(String);

impl std::fmt::Debug for Raw {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Checks the rank and sizes (`dims`), the dtype (`kind`) and the device of `t`; `None` skips a
/// check.
///
/// # Errors
/// [`Error::Shape`] for a wrong rank or size, [`Error::InvalidArgument`] for a wrong dtype or
/// device, each naming `name`.
pub fn check_tensor(
    name: &str,
    t: &Tensor,
    dims: Option<&[Dim]>,
    kind: Option<Kind>,
    device: Option<Device>,
) -> Result<()> {
    if let Some(dims) = dims {
        let size = t.size();
        let ok = size.len() == dims.len()
            && size.iter().zip(dims).all(|(&s, d)| match d {
                Dim::Any => true,
                Dim::Is(n) => s == *n,
                Dim::AtLeast(n) => s >= *n,
            });
        if !ok {
            let expected: Vec<String> = dims.iter().map(ToString::to_string).collect();
            return Err(Error::shape(name, Raw(format!("[{}]", expected.join(", "))), size));
        }
    }
    if let Some(k) = kind {
        if t.kind() != k {
            return Err(Error::invalid(name, format!("{:?}", t.kind()), format!("expected dtype {k:?}")));
        }
    }
    if let Some(d) = device {
        if t.device() != d {
            return Err(Error::invalid(name, format!("{:?}", t.device()), format!("expected device {d:?}")));
        }
    }
    Ok(())
}

/// Checks that `t` has the dtype and device of `like` (e.g. a weight of the model it goes into).
///
/// # Errors
/// As [`check_tensor`].
pub fn check_like(name: &str, t: &Tensor, like: &Tensor) -> Result<()> {
    check_tensor(name, t, None, Some(like.kind()), Some(like.device()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_dtypes_and_devices() {
        let x = Tensor::zeros([2, 3], (Kind::Float, Device::Cpu));
        check_tensor("x", &x, Some(&[Dim::Is(2), Dim::AtLeast(3)]), Some(Kind::Float), Some(Device::Cpu))
            .unwrap();
        let e = check_tensor("x", &x, Some(&[Dim::Any]), None, None).unwrap_err().to_string();
        assert!(e.contains("`x`") && e.contains("[_]"), "{e}");
        let e = check_tensor("x", &x, None, Some(Kind::Double), None).unwrap_err().to_string();
        assert!(e.contains("Double"), "{e}");
        let w = Tensor::zeros([3], (Kind::Double, Device::Cpu));
        assert!(check_like("x", &x, &w).is_err());
        assert!(check_like("w", &w, &w).is_ok());
    }
}
